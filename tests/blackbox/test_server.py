# test_server.py - black-box tests of qund's room behaviour, console, signals, timeouts and options.
"""qund as a lesson client sees it: logins, events in both languages, the
operator console, shutdown, ghost eviction, command-line options."""

import signal
import subprocess
import time

import pytest

from conftest import (QUND, WAIT, base_env, children, ev, ipv6_loopback, padded,
                      refusal, assert_port_free, wait_until)


# ---------------------------------------------------------------------------
# Logging in.

def test_login_ok(qund, procs):
    """L NAME from a new address is answered with exactly OK."""
    procs.udp(qund.port).login("alice")


def test_duplicate_name_refused(qund, procs):
    """A second address asking for a taken name is refused with the reason
    when it fits in 3 times the request (`L alice`, 7 bytes, or padded),
    else with ERR (`L bob`: 15 bytes for an 18-byte reason), and nobody sees
    a join."""
    alice = procs.member(qund, "alice")
    bob = procs.member(qund, "bob")
    assert alice.wait_for(ev("zh", "join", "bob")) == []
    mallory = procs.udp(qund.port)
    mallory.send(padded("L alice"))
    mallory.expect(refusal("zh", "taken"))
    mallory.send("L alice")
    mallory.expect(refusal("zh", "taken"))
    mallory.send("L bob")
    mallory.expect("ERR")
    # Barrier: bob talks; alice must see that and nothing before it.
    bob.send("C bob hi")
    assert alice.wait_for(ev("zh", "say", "bob", "hi")) == []


# What the lesson's own client sends (never padded), and the refusal it must
# read in full: (request, members and options of the room, reason key).
LESSON_REFUSALS = [
    ("L alice", ["alice"], [], "taken"),
    ("L 小明", ["小明"], [], "taken"),
    ("L li si", [], [], "name_space"),
    ("L bob\u200b", [], [], "name_control"),
    (b"L \xd0\xa1\xc3\xf7", [], [], "name_utf8"),  # 小明 typed on a GBK terminal
    ("L admin", [], [], "reserved"),
    ("L 管理员", [], [], "reserved"),
    ("L alice", ["bob"], ["--max-members", "1"], "full"),
    ("L alice", ["bob"], ["--max-per-address", "1"], "too_many"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("request_, members, args, key", LESSON_REFUSALS,
                         ids=["%s-%s" % (c[3], i) for i, c in enumerate(LESSON_REFUSALS)])
def test_lesson_client_reads_why(procs, lang, request_, members, args, key):
    """The lesson's client asks `L alice` and never pads: a refusal reaches it
    in full (within 3 times its request), in either language, not as ERR."""
    data = request_.encode() if isinstance(request_, str) else request_
    reason = refusal(lang, key)
    assert len(reason.encode()) <= 3 * len(data), "the text itself is too long for %r" % data
    srv = procs.qund1(*args, lang=lang)
    for name in members:
        procs.member(srv, name)
    lesson = procs.udp(srv.port)
    lesson.send(data)
    lesson.expect(reason)


def test_duplicate_name_refused_en(qund_en, procs):
    """The name-taken refusal in English is exactly 'name already taken'."""
    procs.member(qund_en, "alice")
    mallory = procs.udp(qund_en.port)
    mallory.send(padded("L alice"))
    mallory.expect(refusal("en", "taken"))


@pytest.mark.parametrize("variant", ["ALICE", "Alice", "aLiCe", "ａｌｉｃｅ", "Ａｌｉｃｅ"])
def test_case_variant_is_same_name(qund, procs, variant):
    """Case and fullwidth variants of a taken name are the same name: refused as taken."""
    procs.member(qund, "alice")
    other = procs.udp(qund.port)
    other.send(padded("L " + variant))
    other.expect(refusal("zh", "taken"))


def test_name_free_again_after_quit(qund, procs):
    """After Q the name can be taken by another address."""
    alice = procs.member(qund, "alice")
    alice.send("Q alice")
    alice.expect("EXIT")
    procs.udp(qund.port).login("alice")


def test_idempotent_relogin(qund, procs):
    """The same address sending L alice twice gets OK twice; the others see
    exactly one join."""
    bob = procs.member(qund, "bob")
    alice = procs.udp(qund.port)
    alice.login("alice")
    alice.login("alice")
    alice.send("C alice after")
    assert bob.wait_for(ev("zh", "say", "alice", "after")) == [ev("zh", "join", "alice")]


def test_other_name_from_member_address_refused(qund, procs):
    """A member asking for another name is refused in full; nothing announced."""
    bob = procs.member(qund, "bob")
    alice = procs.member(qund, "alice")
    assert bob.wait_for(ev("zh", "join", "alice")) == []
    alice.send("L alice2")
    alice.expect(refusal("zh", "other_name"))
    alice.send("C alice still alice")
    assert bob.wait_for(ev("zh", "say", "alice", "still alice")) == []
    assert sorted(n for n, _ in qund.who()) == ["alice", "bob"]


# ---------------------------------------------------------------------------
# Events, in both languages.

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_join_say_leave_texts(procs, lang):
    """The join, chat and leave events are exactly the texts of PROTOCOL.md,
    and the quitter gets EXIT."""
    srv = procs.qund1(lang=lang)
    bob = procs.member(srv, "bob")
    alice = procs.member(srv, "alice")
    bob.expect(ev(lang, "join", "alice"))
    alice.send("C alice 你好，世界 hello")
    bob.expect(ev(lang, "say", "alice", "你好，世界 hello"))
    alice.send("Q alice")
    alice.expect("EXIT")
    bob.expect(ev(lang, "leave", "alice"))


def test_default_limits_serve_a_lesson_session(procs):
    """With the default per-address cap and flood control, a lesson-style
    session (three members on one IP, a few messages each) works as usual."""
    srv = procs.qund1(lang="zh", default_limits=True)
    a, b, c = (procs.member(srv, n) for n in ("a", "b", "c"))
    assert a.wait_for(ev("zh", "join", "c")) == [ev("zh", "join", "b")]
    b.wait_for(ev("zh", "join", "c"))
    for i in range(3):
        b.send("C b m%d" % i)
        a.expect(ev("zh", "say", "b", "m%d" % i))
        c.expect(ev("zh", "say", "b", "m%d" % i))
    c.send("Q c")
    c.expect("EXIT")
    a.expect(ev("zh", "leave", "c"))
    b.expect(ev("zh", "leave", "c"))


def test_text_kept_byte_for_byte(qund, procs):
    """Leading and inner spaces, emoji with ZWJ and a 1000-byte text are relayed unchanged."""
    bob = procs.member(qund, "bob")
    alice = procs.member(qund, "alice")
    bob.expect(ev("zh", "join", "alice"))
    for text in ["  two leading", "a  b   c", "👩‍👩‍👧 family", "中" * 333 + "x"]:
        alice.send("C alice " + text)
        bob.expect(ev("zh", "say", "alice", text))


def test_trailing_newline_ignored(qund, procs):
    """One trailing LF or CRLF (what nc -u sends) is not part of the request."""
    bob = procs.member(qund, "bob")
    alice = procs.udp(qund.port)
    alice.send("L alice\n")
    alice.expect("OK")
    bob.expect(ev("zh", "join", "alice"))
    alice.send("C alice hi\r\n")
    bob.expect(ev("zh", "say", "alice", "hi"))
    alice.send("C alice ho\n")
    bob.expect(ev("zh", "say", "alice", "ho"))


def test_sender_does_not_get_own_message(qund, procs):
    """A chat message goes to everyone but its sender."""
    alice = procs.member(qund, "alice")
    bob = procs.member(qund, "bob")
    carol = procs.member(qund, "carol")
    assert alice.wait_for(ev("zh", "join", "carol")) == [ev("zh", "join", "bob")]
    assert bob.wait_for(ev("zh", "join", "carol")) == []
    alice.send("C alice mine")
    bob.expect(ev("zh", "say", "alice", "mine"))
    carol.expect(ev("zh", "say", "alice", "mine"))
    # Barrier: bob speaks; alice's next datagram must be that, not her own.
    bob.send("C bob yours")
    alice.expect(ev("zh", "say", "bob", "yours"))


# ---------------------------------------------------------------------------
# The operator console.

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_operator_speech(procs, lang):
    """A plain console line reaches every member as the operator's speech."""
    srv = procs.qund1(lang=lang)
    alice = procs.member(srv, "alice")
    bob = procs.member(srv, "bob")
    alice.expect(ev(lang, "join", "bob"))
    srv.say("大家好 hello")
    alice.expect(ev(lang, "admin", "大家好 hello"))
    bob.expect(ev(lang, "admin", "大家好 hello"))


def test_who_lists_members_with_addresses(qund, procs):
    """/who prints the count and one '  NAME ADDR' line per member."""
    assert qund.who() == []
    alice = procs.member(qund, "alice")
    bob = procs.member(qund, "Bob")
    rows = qund.who()
    assert sorted(rows) == sorted([("alice", alice.addr), ("Bob", bob.addr)])
    bob.send("Q Bob")
    bob.expect("EXIT")
    assert qund.who() == [("alice", alice.addr)]


def test_who_header_en(qund_en, procs):
    """The English /who header is 'N member(s) online:'."""
    a = procs.member(qund_en, "alice")
    assert qund_en.who() == [("alice", a.addr)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_kick(procs, lang):
    """/kick NAME sends EXIT to NAME and the removal notice to the others;
    NAME is then no longer a member and the name is free."""
    srv = procs.qund1(lang=lang)
    alice = procs.member(srv, "alice")
    bob = procs.member(srv, "bob")
    alice.expect(ev(lang, "join", "bob"))
    srv.say("/kick bob")
    bob.expect("EXIT")
    alice.expect(ev(lang, "kick", "bob"))
    bob.send("C bob still here?")
    srv.say("barrier")
    alice.expect(ev(lang, "admin", "barrier"))
    assert srv.who() == [("alice", alice.addr)]
    procs.udp(srv.port).login("bob")


def test_kick_unknown_name(qund, procs):
    """/kick of a name nobody has prints an error on stderr and sends nothing."""
    alice = procs.member(qund, "alice")
    mark = qund.err.mark()
    qund.say("/kick nobody")
    assert qund.err.wait_for(lambda l: l.strip() != "", start=mark), \
        "no error on stderr for /kick nobody"
    qund.say("barrier")
    alice.expect(ev("zh", "admin", "barrier"))


def test_console_runs_in_one_child(qund):
    """While stdin is open qund has exactly one child, the console."""
    pid = qund.console_child()
    assert pid != qund.pid


def test_stdin_eof_reaps_console_and_keeps_serving(qund, procs):
    """Closing stdin ends the console child, which qund reaps; the room goes on."""
    console = qund.console_child()
    qund.close_stdin()
    assert wait_until(lambda: not children(qund.pid)), \
        "console child %d not reaped after stdin EOF; children: %s" % (console, children(qund.pid))
    assert qund.running()
    alice = procs.member(qund, "alice")
    bob = procs.member(qund, "bob")
    alice.expect(ev("zh", "join", "bob"))
    bob.send("C bob 还在")
    alice.expect(ev("zh", "say", "bob", "还在"))


# ---------------------------------------------------------------------------
# Shutdown.

@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "/quit"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_shutdown_notice(procs, how, lang):
    """On SIGTERM, SIGINT or /quit every member gets the shutdown notice then
    EXIT, qund exits 0 and its port is free."""
    srv = procs.qund1(lang=lang)
    alice = procs.member(srv, "alice")
    bob = procs.member(srv, "bob")
    alice.expect(ev(lang, "join", "bob"))
    if how == "/quit":
        srv.say("/quit")
    else:
        srv.signal(getattr(signal, how))
    for m in (alice, bob):
        m.expect(ev(lang, "shutdown"))
        m.expect("EXIT")
    assert srv.wait() == 0
    assert_port_free(srv.port)


# ---------------------------------------------------------------------------
# Ghosts.

def _pinging_wait(keeper, text, timeout):
    """Wait for `text` at keeper while keeper sends P every 0.25 s; return
    (seconds waited, texts before it), seconds None if it never came."""
    start = time.monotonic()
    before = []
    while time.monotonic() - start < timeout:
        keeper.send("P " + keeper.name)
        got = keeper.recv_text(0.25)
        if got == text:
            return time.monotonic() - start, before
        if got is not None:
            before.append(got)
    return None, before


def test_ghost_with_keepalive_evicted(procs):
    """A member that sent P and then fell silent is evicted after
    --keepalive-timeout (1 s), within about 2.5 s, and the room is told."""
    srv = procs.qund1("--keepalive-timeout", "1", "--idle-timeout", "3", lang="zh")
    bob = procs.member(srv, "bob")
    alice = procs.member(srv, "alice")
    bob.expect(ev("zh", "join", "alice"))
    alice.send("P alice")
    took, before = _pinging_wait(bob, ev("zh", "timeout", "alice"), 4.0)
    assert took is not None, "alice never evicted; bob got %r" % before
    assert before == []
    assert 0.8 <= took <= 3.0, "alice evicted after %.2f s, expected 1-2.5 s" % took
    # The name is free again and alice's old address is no longer a member.
    alice.send("C alice ghost speaks")
    procs.udp(srv.port).login("alice")
    took, before = _pinging_wait(bob, ev("zh", "join", "alice"), 2.0)
    assert before == [], "after eviction bob got %r" % before
    assert took is not None


def test_ghost_without_keepalive_evicted_after_idle(procs):
    """A member that never sent P survives 1.5 s of silence and is evicted
    after --idle-timeout (3 s)."""
    srv = procs.qund1("--keepalive-timeout", "1", "--idle-timeout", "3", lang="en")
    bob = procs.member(srv, "bob")
    alice = procs.member(srv, "alice")
    bob.expect(ev("en", "join", "alice"))
    start = time.monotonic()
    took, before = _pinging_wait(bob, ev("en", "timeout", "alice"), 1.5)
    assert took is None and before == [], "bob got %r within 1.5 s" % before
    took, before = _pinging_wait(bob, ev("en", "timeout", "alice"), 4.0)
    assert took is not None, "alice never evicted; bob got %r" % before
    assert before == []
    total = time.monotonic() - start
    assert 2.8 <= total <= 5.0, "evicted after %.2f s, expected about 3-4 s" % total
    alice.send("C alice late")
    procs.member(srv, "alice")
    assert bob.wait_for(ev("en", "join", "alice")) == []


def test_activity_keeps_member(procs):
    """A member that keeps chatting (no P) is never evicted by the idle timeout."""
    srv = procs.qund1("--keepalive-timeout", "1", "--idle-timeout", "2", lang="zh")
    bob = procs.member(srv, "bob")
    alice = procs.member(srv, "alice")
    bob.expect(ev("zh", "join", "alice"))
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < 3.5:
        alice.send("C alice tick%d" % i)
        bob.expect(ev("zh", "say", "alice", "tick%d" % i))
        bob.send("P bob")
        time.sleep(0.3)  # the pace of a typing user, not a synchronisation
        i += 1
    assert sorted(n for n, _ in srv.who()) == ["alice", "bob"]


# ---------------------------------------------------------------------------
# Options, languages, addresses.

def _run(args, env=None):
    return subprocess.run([QUND] + args, capture_output=True, timeout=WAIT,
                          env=env or base_env())


@pytest.mark.parametrize("opt", ["-h", "--help"])
def test_help(opt):
    """-h prints the usage on stdout and exits 0."""
    r = _run([opt])
    assert r.returncode == 0
    assert b"usage" in r.stdout.lower()
    assert b"--keepalive-timeout" in r.stdout and b"--max-members" in r.stdout


@pytest.mark.parametrize("opt", ["-V", "--version"])
def test_version(opt):
    """-V prints 'qund 0.1.0' and exits 0."""
    r = _run([opt])
    assert r.returncode == 0
    assert r.stdout.decode().splitlines()[0] == "qund 0.1.0"


@pytest.mark.parametrize("args", [["--bogus"], ["-z"], ["-p"], ["--lang"], ["extra"]])
def test_bad_option(args):
    """An unknown option, a missing argument or a stray operand exits 2
    with the usage on stderr and nothing on stdout."""
    r = _run(args)
    assert r.returncode == 2, "qund %s exited %s" % (args, r.returncode)
    assert b"usage" in r.stderr.lower()
    assert r.stdout == b""


def test_ipv6_loopback(procs):
    """-b ::1 listens on [::1]:PORT and serves IPv6 clients."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host")
    srv = procs.qund1(lang="en", bind="::1")
    assert srv.host == "[::1]"
    alice = procs.member(srv, "alice", host="::1")
    bob = procs.member(srv, "bob", host="::1")
    alice.expect(ev("en", "join", "bob"))
    assert sorted(srv.who()) == sorted([("alice", alice.addr), ("bob", bob.addr)])


def test_default_bind_serves_ipv4_and_ipv6(procs):
    """Without -b qund serves IPv4 and IPv6 clients in one room; an IPv4
    client is listed with its plain IPv4 address."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback on this host")
    srv = procs.qund1(lang="en", bind=None)
    v4 = procs.member(srv, "four")
    v6 = procs.member(srv, "six", host="::1")
    v4.expect(ev("en", "join", "six"))
    v6.send("C six hi")
    v4.expect(ev("en", "say", "six", "hi"))
    v4.send("C four ho")
    v6.expect(ev("en", "say", "four", "ho"))
    assert sorted(srv.who()) == sorted([("four", v4.addr), ("six", v6.addr)])


@pytest.mark.parametrize("env, args, lang", [
    ({"LANG": "zh_CN.UTF-8"}, [], "zh"),
    ({"LANG": "C"}, [], "en"),
    ({"LANG": "C", "LC_ALL": "zh_TW.UTF-8"}, [], "zh"),
    ({"LANG": "zh_CN.UTF-8"}, ["--lang", "en"], "en"),
    ({"LANG": "C.UTF-8"}, ["--lang", "zh"], "zh"),
])
def test_language_from_locale(procs, env, args, lang):
    """Without --lang the room speaks Chinese under a zh* locale and English
    otherwise; --lang overrides the locale."""
    e = base_env(None, **env)
    srv = procs.qund1(*args, lang=None, env=e)
    srv.lang = lang
    alice = procs.member(srv, "alice")
    procs.member(srv, "bob")
    alice.expect(ev(lang, "join", "bob"))
    other = procs.udp(srv.port)
    other.send(padded("L bob"))
    other.expect(refusal(lang, "taken"))


def test_max_members(procs):
    """--max-members 2: the third login is refused with 'room full'; after one
    quits there is room again."""
    srv = procs.qund1("--max-members", "2", lang="zh")
    a = procs.member(srv, "a1")
    procs.member(srv, "a2")
    third = procs.udp(srv.port)
    third.send(padded("L a3"))
    third.expect(refusal("zh", "full"))
    a.send("Q a1")
    assert a.wait_for("EXIT") == [ev("zh", "join", "a2")]
    third.login("a3")
