# test_client.py - black-box tests of the qun client: on a terminal (pexpect), on pipes, against fake servers.
"""qun as a user sees it, against a real qund, against the lesson's own
server, and against fake servers written here that send what a real qund
never would (raw terminal escapes, ERR, silence)."""

import re
import signal
import socket
import time

import pytest

from conftest import WAIT, Udp, ev, pty_qun, wait_gone, wait_until


# ---------------------------------------------------------------------------
# Helpers.

class FakeServer:
    """A UDP socket playing the server, so a test can send qun anything."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.client = None
        self.requests = []  # (time, datagram)

    def recv(self, timeout=WAIT):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, addr = self.sock.recvfrom(65536)
        except socket.timeout:
            return None
        self.requests.append((time.monotonic(), data))
        self.client = addr
        return data

    def wait_request(self, pred, timeout=WAIT):
        """The first datagram satisfying pred; fails the test if none comes."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            d = self.recv(deadline - time.monotonic())
            if d is None:
                break
            if pred(d):
                return d
            seen.append(d)
        pytest.fail("fake server never got the expected request; got %r" % seen)

    def accept_login(self, name):
        self.wait_request(lambda d: d.rstrip(b" \n") == b"L " + name.encode())
        self.send(b"OK")

    def send(self, data):
        self.sock.sendto(data, self.client)

    def close(self):
        self.sock.close()


@pytest.fixture
def fake():
    f = FakeServer()
    yield f
    f.close()


def _login(procs, srv, name, proto):
    """qun NAME on a terminal logged in to srv; bob (UDP) is already there and saw the join."""
    bob = procs.member(srv, "bob")
    # In v2 qun formats events in its own language: make it the server's.
    q = pty_qun(procs, srv.port, "--lang", srv.lang, *proto, name)
    q.expect_exact(name)
    bob.expect(ev(srv.lang, "join", name))
    return q, bob


# ---------------------------------------------------------------------------
# Logging in.

def test_login_with_name_argument(qund, procs, proto):
    """`qun alice` logs in, prints a welcome naming alice, and the room sees the join."""
    q, bob = _login(procs, qund, "alice", proto)
    assert [n for n, _ in qund.who() if n == "alice"] == ["alice"]


def test_prompt_for_name(qund, procs, proto):
    """Without NAME qun asks `Your name: ` (English locale) and logs in with the answer."""
    bob = procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, *proto)
    q.expect_exact("Your name: ")
    q.sendline("小明")
    bob.expect(ev("zh", "join", "小明"))


def test_prompt_for_name_zh(qund, procs, proto):
    """With --lang zh the name prompt is `请输入姓名：`."""
    bob = procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, "--lang", "zh", *proto)
    q.expect_exact("请输入姓名：")
    q.sendline("alice")
    bob.expect(ev("zh", "join", "alice"))


def test_refusal_shows_reason_and_reprompts(qund, procs, proto):
    """A taken name: qun shows the server's reason (名字已被占用; in v1 that
    needs a padded retry after ERR) and asks again; the second name gets in."""
    bob = procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, *proto, "bob")
    q.expect_exact("名字已被占用")
    q.expect_exact("Your name: ")
    q.sendline("alice")
    bob.expect(ev("zh", "join", "alice"))


def test_refusal_then_eof_exits_1(qund, procs, proto):
    """After a refusal, end of input at the name prompt ends qun with status 1."""
    procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, *proto, "bob")
    q.expect_exact("名字已被占用")
    q.expect_exact("Your name: ")
    q.sendeof()
    assert q.exit_status() == 1


def test_reserved_name_reason_shown(qund, procs, proto):
    """A reserved name is refused with the reason 该名字已保留 (whether qun
    checks it itself or the server does) and qun asks for another name."""
    bob = procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, "--lang", "zh", *proto, "admin")
    q.expect_exact("该名字已保留")
    q.expect_exact("请输入姓名：")
    q.sendline("alice")
    bob.expect(ev("zh", "join", "alice"))


def test_err_reply_retried_padded(fake, procs):
    """On ERR qun asks again with its L padded by trailing spaces, shows the
    reason that then comes back, and asks for another name."""
    q = pty_qun(procs, fake.port, "--legacy", "bob")
    first = fake.wait_request(lambda d: d.startswith(b"L "))
    assert first == b"L bob"
    fake.send(b"ERR")
    again = fake.wait_request(lambda d: len(d) > len(first))
    assert again.rstrip(b" ") == b"L bob" and len(again) <= 1200, again[:40]
    fake.send("名字已被占用".encode())
    q.expect_exact("名字已被占用")
    q.expect_exact("Your name: ")
    q.sendline("carol")
    fake.accept_login("carol")
    q.sendline("hi")
    fake.wait_request(lambda d: d == b"C carol hi")


def test_blackhole_login_retries_then_fails(fake, procs):
    """A server that never answers: qun sends L about once a second, five
    times, then exits 1 with an error naming the host and port."""
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(fake.port), "--legacy", "alice")
    start = time.monotonic()
    while q.proc.poll() is None and time.monotonic() - start < 10:
        fake.recv(0.05)  # time-stamps each request as it arrives
    rc = q.wait(0.1)
    took = time.monotonic() - start
    assert rc == 1, "qun exited %s (after %.1f s)" % (rc, took)
    while fake.recv(0.05) is not None:
        pass
    logins = [t for t, d in fake.requests if d.startswith(b"L alice")]
    assert 4 <= len(logins) <= 6, "qun sent %d login requests" % len(logins)
    gaps = [b - a for a, b in zip(logins, logins[1:])]
    assert min(gaps) >= 0.5, "login retries %r s apart: too fast" % gaps
    assert 3.0 <= took <= 9.0, "gave up after %.1f s" % took
    err = q.err.text()
    assert "127.0.0.1" in err and str(fake.port) in err, err


def test_no_server_exits_1(procs, proto):
    """Nothing listens on the port: qun exits 1 within about 8 s with an
    error naming 127.0.0.1 and the port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(port), *proto, "alice")
    rc = q.wait(9)
    assert rc == 1, "qun exited %s" % rc
    err = q.err.text()
    assert "127.0.0.1" in err and str(port) in err, err


# ---------------------------------------------------------------------------
# Chatting.

def test_chat_both_ways(qund, procs, proto):
    """Lines typed in qun reach the room byte-exact (Chinese, emoji), and the
    room's lines are shown in qun."""
    q, bob = _login(procs, qund, "alice", proto)
    q.sendline("你好，世界 🌏 ok")
    bob.expect(ev("zh", "say", "alice", "你好，世界 🌏 ok"))
    bob.send("C bob 中文测试：一二三")
    q.expect_exact(ev("zh", "say", "bob", "中文测试：一二三"))
    qund.say("管理员来了")
    q.expect_exact(ev("zh", "admin", "管理员来了"))


def test_incoming_escapes_sanitised(fake, procs):
    """Hostile bytes from the network (ESC sequences, BEL, C1, bidi, invalid
    UTF-8) never reach the terminal raw; they are shown as visible escapes."""
    q = pty_qun(procs, fake.port, "--legacy", "alice", raw=True)
    fake.accept_login("alice")
    q.expect_exact(b"alice")
    hostile = b"evil \x1b]0;pwned\x07 \x1b[2J \xc2\x9b31m \xe2\x80\xaeabc \xff end"
    fake.send(hostile)
    fake.send(b"BARRIER")
    q.expect_exact(b"BARRIER")
    # qun may erase its own prompt line (CR, ESC [ K) before printing a line;
    # that is qun's control, not the network's.  Every other ESC would be.
    out = q.log.getvalue().replace(b"\r\x1b[K", b"\r")
    for raw in (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae", b"\xff"):
        assert raw not in out, "raw %r reached the terminal: %r" % (raw, out)
    assert b"^[" in out, out
    assert re.search(rb"\\u\{0*202e\}", out, re.I), out
    assert re.search(rb"\\u\{0*9b\}", out, re.I), out
    assert re.search(rb"\\xff", out, re.I), out
    assert any(b"evil" in l and b"end" in l for l in out.splitlines()), \
        "the hostile line was split: %r" % out


def test_dumb_terminal_gets_no_escapes(fake, procs):
    """With TERM=dumb qun writes no escape sequence at all (a dumb terminal
    cannot interpret one), neither for the prompt nor around incoming lines."""
    q = pty_qun(procs, fake.port, "--legacy", "alice", raw=True)
    fake.accept_login("alice")
    q.expect_exact(b"alice")
    fake.send(b"first line")
    q.expect_exact(b"first line")
    q.sendline(b"typed")
    fake.wait_request(lambda d: d == b"C alice typed")
    fake.send(b"BARRIER")
    q.expect_exact(b"BARRIER")
    out = q.log.getvalue()
    assert b"\x1b" not in out, "qun wrote ESC on TERM=dumb: %r" % out


def test_plain_mode_on_pipes(qund, procs, proto):
    """With stdin and stdout on pipes there is no prompt and no escape
    sequence: incoming lines are printed exactly, one per line."""
    bob = procs.member(qund, "bob")
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(qund.port), "--lang", "zh", *proto, "alice")
    bob.expect(ev("zh", "join", "alice"))
    bob.send("C bob hello plain")
    assert q.out.wait_for(ev("zh", "say", "bob", "hello plain")), q.out.lines
    q.send_line("from a pipe")
    bob.expect(ev("zh", "say", "alice", "from a pipe"))
    qund.say("op")
    assert q.out.wait_for(ev("zh", "admin", "op")), q.out.lines
    q.close_stdin()
    assert bob.wait_for(ev("zh", "leave", "alice")) == [ev("zh", "admin", "op")]
    assert q.wait() == 0
    out = bytes(q.out.raw)
    assert b"\x1b" not in out, out
    assert not any(l.startswith("> ") or l == ">" for l in q.out.lines), q.out.lines
    assert any("alice" in l for l in q.out.lines), "no welcome line: %r" % q.out.lines


def test_plain_mode_sanitises(fake, procs):
    """On pipes too, a hostile incoming line is printed as one safe line."""
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(fake.port), "--legacy", "alice")
    fake.accept_login("alice")
    fake.send(b"x\x1b[31my\rz\x00w\xe2\x80\xae!")
    fake.send(b"BARRIER")
    got = q.out.wait_for("BARRIER")
    assert got, q.out.lines
    out = bytes(q.out.raw)
    for raw in (b"\x1b", b"\r", b"\x00", b"\xe2\x80\xae"):
        assert raw not in out, "raw %r in %r" % (raw, out)
    line = q.out.lines[got[0] - 1]
    assert line.startswith("x^[[31my") and line.endswith("!"), q.out.lines


def test_local_refusal_of_bad_input(fake, procs):
    """A typed line over 1000 bytes or with invalid UTF-8 is refused locally
    with a message and never sent; a 1000-byte line is sent whole."""
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(fake.port), "--legacy", "alice")
    fake.accept_login("alice")
    q.child()
    mark_out, mark_err = q.out.mark(), q.err.mark()
    q.send_line(b"a" * 1001)
    q.send_line(b"bad \xff\xfe utf8")
    q.send_line(b"\xe4\xb8")
    q.send_line(b"b" * 1000)
    q.send_line(b"ok")
    chats = []
    while not chats or chats[-1] != b"C alice ok":
        chats.append(fake.wait_request(lambda d: d.startswith(b"C ")))
    assert chats == [b"C alice " + b"b" * 1000, b"C alice ok"], [c[:30] for c in chats]
    # The messages were written before "ok" was sent; our reader threads may lag.
    assert wait_until(lambda: q.out.mark() - mark_out + q.err.mark() - mark_err >= 3), \
        "no refusal messages: %r %r" % (q.out.lines, q.err.lines)


def test_keepalive_option(fake, procs):
    """--keepalive 1 sends `P NAME` about every second after login."""
    procs.qun_pipe("-s", "127.0.0.1", "-p", str(fake.port), "--legacy", "--keepalive", "1",
                   "alice")
    fake.accept_login("alice")
    t0 = time.monotonic()
    fake.wait_request(lambda d: d.rstrip(b" \n") == b"P alice", timeout=3)
    fake.wait_request(lambda d: d.rstrip(b" \n") == b"P alice", timeout=3)
    took = time.monotonic() - t0
    assert 0.8 <= took <= 4.0, "two keepalives took %.1f s" % took


# ---------------------------------------------------------------------------
# Leaving.

@pytest.mark.parametrize("how", ["/quit", "quit", "ctrl-d", "ctrl-c"])
def test_quit(qund, procs, proto, how):
    """/quit, quit, Ctrl-D and Ctrl-C each send Q: the room sees the leave
    and qun exits 0 once the server has confirmed."""
    q, bob = _login(procs, qund, "alice", proto)
    q.sendline("still typing")
    bob.expect(ev("zh", "say", "alice", "still typing"))
    if how == "ctrl-d":
        q.sendeof()
    elif how == "ctrl-c":
        q.sendintr()
    else:
        q.sendline(how)
    bob.expect(ev("zh", "leave", "alice"))
    assert q.exit_status() == 0
    assert qund.who() == [("bob", bob.addr)]


def test_quit_unconfirmed_exits_1(fake, procs):
    """If the server never confirms the quit, qun asks again, gives up after a
    few seconds with a message and exits 1."""
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(fake.port), "--legacy", "alice")
    fake.accept_login("alice")
    q.child()
    q.send_line("/quit")
    start = time.monotonic()
    while q.proc.poll() is None and time.monotonic() - start < 10:
        fake.recv(0.05)
    rc = q.wait(0.1)
    took = time.monotonic() - start
    assert rc == 1, "qun exited %s" % rc
    while fake.recv(0.05) is not None:
        pass
    quits = [d for _, d in fake.requests if d.rstrip(b" \n") == b"Q alice"]
    assert len(quits) >= 2, "Q sent %d times" % len(quits)
    assert 1.5 <= took <= 9.0, "gave up after %.1f s" % took
    assert (q.out.lines + q.err.lines), "no message"


def test_kicked_exits_0(qund, procs, proto):
    """Kicked by the operator (EXIT unasked): qun exits 0."""
    q, bob = _login(procs, qund, "alice", proto)
    qund.say("/kick alice")
    bob.expect(ev("zh", "kick", "alice"))
    assert q.exit_status() == 0


def test_server_shutdown_exits_0(qund, procs, proto):
    """The server shuts down: qun shows the notice and exits 0."""
    q, bob = _login(procs, qund, "alice", proto)
    qund.signal(signal.SIGTERM)
    q.expect_exact("服务器即将关闭")
    assert q.exit_status() == 0
    assert qund.wait() == 0


# ---------------------------------------------------------------------------
# The lesson's own server.

def test_lesson_server(procs):
    """qun works with the lesson's server: login, chat both ways, quit."""
    srv = procs.lesson()
    bob = Udp(srv.port)
    procs.sockets.append(bob)
    bob.login("bob")
    q = pty_qun(procs, srv.port, "--legacy", "alice")
    q.expect_exact("alice")
    bob.expect("alice 进入了聊天室")
    q.sendline("hello lesson 你好")
    bob.expect("alice 说：hello lesson 你好")
    bob.send("C bob 收到")
    q.expect_exact("bob 说：收到")
    q.sendline("/quit")
    bob.expect("alice 退出了聊天室")
    assert q.exit_status() == 0
    assert wait_gone(q.pid).gone
