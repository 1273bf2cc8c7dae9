# test_v2_wire.py - black-box conformance of qund's protocol v2 wire format, checked by an independent Python client.
"""qund as docs/PROTOCOL-v2.md describes it on the wire, checked datagram by
datagram with tests/blackbox/v2client.py (written from the spec, not from
the C code): handshake sizes and statelessness, login idempotency, refusal
codes, CLOSE for unknown sessions, CHALLENGE/REBIND on address change,
acknowledgements (cumulative, selective, batched), the receive window,
long messages split and rejoined byte-exact, the 4000-byte limit, room
event ids, console events, and v1/v2 in one room.

Every test ends by asserting that no client received a malformed datagram
(the `v2` fixture).  All waits have deadlines; windows of silence follow a
positive control that proves the path works.  Runs in ~30 s (normal build).
"""

import os
import signal
import time

import pytest

from conftest import QUIET, WAIT, ev, refusal, wait_until
from v2client import (seal, ACK, CL_KICKED, CL_QUIT, CL_SHUTDOWN, CL_UNKNOWN, CLOSE, COOKIE, DATA,
                      E_NAME_INVALID, E_NAME_TAKEN, E_OTHER_NAME, E_ROOM_FULL, E_TEXT_INVALID,
                      E_TOO_LONG, EV_ADMIN, EV_JOIN, EV_KICK, EV_LEAVE, EV_SAY, EV_SHUTDOWN,
                      MAX_DATAGRAM, MAX_MESSAGE, PING, REFUSE, SAY_PIECE, WELCOME,
                      Raw, hello, login, new_nonce, parse, parse_payload, rebind, say_payload,
                      session)

FAST = ("--flood-burst", "100000", "--flood-rate", "100000")


def addr(q):
    return ("127.0.0.1", q.port)


@pytest.fixture
def raws():
    socks = []

    def make(server, bind=("127.0.0.1", 0)):
        r = Raw(server, bind=bind)
        socks.append(r)
        return r
    yield make
    for r in socks:
        r.close()


def room(procs, v2, *names, args=FAST, lang="zh"):
    """A qund and v2 clients logged in as names; the first has seen all the others join."""
    q = procs.qund(*args, lang=lang)
    cs = [v2.login(n, addr(q)) for n in names]
    for c in cs[1:]:
        cs[0].wait_event(EV_JOIN, c.name)
    return q, cs


def barrier(sender, observers, text):
    """sender says text; each observer gets exactly that as its next event(s)."""
    marks = [len(o.events) for o in observers]
    sender.say(text)
    for o, m in zip(observers, marks):
        o.wait_event(EV_SAY, sender.name, text, start=m)
        got = o.events[m:]
        assert [(e.event, e.name, e.text) for e in got] == \
            [(EV_SAY, sender.name, text.encode())], "%s got %r around the barrier" % (o.label, got)


# ---------------------------------------------------------------------------
# Handshake.

def test_cookie_reply_size_and_statelessness(procs, raws):
    """HELLO (11 bytes) is answered by one COOKIE of exactly 27 bytes (< 3x)
    that echoes the nonce; the cookie is a function of (address, nonce):
    the same HELLO again gets the same cookie (allowing one secret
    rotation), another nonce or another port gets another cookie."""
    q = procs.qund()
    r, r2 = raws(addr(q)), raws(addr(q))
    n1, n2 = new_nonce(), new_nonce()
    cookies = []
    for _ in range(3):
        r.send(hello(n1))
        d = r.recv(WAIT)
        assert d is not None, "no COOKIE for HELLO"
        assert len(d) == 27 + 4 and len(d) <= 3 * (11 + 4), "COOKIE is %d bytes" % len(d)
        c = parse(d)
        assert c.type == COOKIE and c.nonce == n1, c
        cookies.append(c.cookie)
    assert cookies[0] == cookies[1] or cookies[1] == cookies[2], \
        "the same HELLO got three different cookies: %r" % cookies
    r.send(hello(n2))
    other_nonce = r.recv_parsed(WAIT)
    r2.send(hello(n1))
    other_port = r2.recv_parsed(WAIT)
    assert other_nonce.cookie not in cookies, "cookie does not depend on the nonce"
    assert other_port.cookie not in cookies, "cookie does not depend on the port"
    assert r.silent(QUIET) == [], "more than one answer per HELLO"


BAD_HANDSHAKE = [
    # Well sealed (a correct CRC-32), so they reach the parser's own checks.
    ("short HELLO", seal(b"\xfe\x02\x01" + b"n" * 7)),
    ("long HELLO", seal(b"\xfe\x02\x01" + b"n" * 9)),
    ("version 1", seal(b"\xfe\x01\x01" + b"n" * 8)),
    ("version 3", seal(b"\xfe\x03\x01" + b"n" * 8)),
    ("unknown type", seal(b"\xfe\x02\x7f" + b"n" * 8)),
    ("COOKIE to server", seal(b"\xfe\x02\x02" + b"n" * 24)),
    ("header only", seal(b"\xfe\x02")),
    ("LOGIN short", seal(b"\xfe\x02\x03" + b"n" * 24)),
    ("LOGIN name past end", seal(b"\xfe\x02\x03" + b"n" * 24 + b"\x05abc")),
    ("LOGIN trailing", seal(b"\xfe\x02\x03" + b"n" * 24 + b"\x03abcdef")),
    # Damaged on the way: a HELLO without its CRC, or with a wrong one.
    ("HELLO without CRC", b"\xfe\x02\x01" + b"n" * 8),
    ("HELLO bad CRC", b"\xfe\x02\x01" + b"n" * 8 + b"\0\0\0\0"),
    ("magic only", b"\xfe"),
    ("v1 login", b"L alice"),
    ("v1 chat", b"C alice hi"),
    ("over 1200", seal(b"\xfe\x02\x01" + b"n" * 1300)),
]


@pytest.mark.parametrize("name, data", BAD_HANDSHAKE, ids=[b[0] for b in BAD_HANDSHAKE])
def test_malformed_handshake_dropped(procs, raws, name, data):
    """A malformed or foreign datagram from a stranger is dropped without a
    reply (v1 too: qund without --legacy speaks only v2); a good HELLO
    right after it is answered (positive control)."""
    q = procs.qund()
    r = raws(addr(q))
    r.send(data)
    n = new_nonce()
    r.send(hello(n))
    d = r.recv(WAIT)
    assert d is not None, "no COOKIE after %s" % name
    p = parse(d)
    assert p.type == COOKIE and p.nonce == n, "%s was answered: %r" % (name, p)
    assert r.silent(QUIET) == []
    assert q.running()


def test_welcome_fields(procs, raws):
    """LOGIN with the cookie is answered by WELCOME: 23 bytes, our nonce, a
    non-zero 8-byte session id (another for another client), keepalive 25 s
    with the default --keepalive-timeout (90 s), max message 4000 bytes."""
    q = procs.qund()
    sids = set()
    for name in ("alice", "bob"):
        r = raws(addr(q))
        n = new_nonce()
        _, w = r.handshake(name, n)
        assert w is not None and w.type == WELCOME, "%s: expected WELCOME, got %r" % (name, w)
        assert len(w.raw) == 23 and w.nonce == n
        assert w.sid != bytes(8)
        assert w.keepalive == 25, "default keepalive %d s, spec: 25" % w.keepalive
        assert w.max_message == MAX_MESSAGE, "max message %d" % w.max_message
        sids.add(w.sid)
    assert len(sids) == 2


@pytest.mark.parametrize("timeout", [6, 30])
def test_welcome_keepalive_fits_eviction(procs, raws, timeout):
    """With --keepalive-timeout T, the keepalive interval WELCOME tells the
    client is under T/2, so a client that pings as told is heard at least
    twice per T and an idle member is never evicted (R8 as the spec's client
    sees it; default: 25 s for 90 s)."""
    q = procs.qund("--keepalive-timeout", str(timeout))
    _, w = raws(addr(q)).handshake("idle")
    assert w.type == WELCOME
    assert 0 < w.keepalive < timeout / 2, \
        "WELCOME says keepalive %d s but qund evicts after %d s" % (w.keepalive, timeout)


def test_login_bad_cookie_gets_fresh_cookie(procs, v2, raws):
    """LOGIN with a wrong cookie, or a cookie made for another address,
    creates nothing (no join is announced) and is answered by a COOKIE of
    27 bytes (less than the LOGIN) carrying the right cookie, with which
    LOGIN then succeeds."""
    q, (obs,) = room(procs, v2, "obs")
    r, other = raws(addr(q)), raws(addr(q))
    n = new_nonce()
    r.send(hello(n))
    good = r.recv_parsed(WAIT).cookie
    other.send(hello(n))
    foreign = other.recv_parsed(WAIT).cookie
    for bad in (bytes(16), os.urandom(16), foreign):
        msg = login(n, bad, "mallory")
        r.send(msg)
        d = r.recv(WAIT)
        assert d is not None, "no answer to LOGIN with a bad cookie"
        p = parse(d)
        assert p.type == COOKIE, "LOGIN with a bad cookie got %r" % p
        assert len(d) == 27 + 4 < len(msg) and p.nonce == n and p.cookie == good
    mark = len(obs.events)
    r.send(login(n, good, "mallory"))
    w = r.recv_parsed(WAIT)
    assert w.type == WELCOME
    e = obs.wait_event(EV_JOIN, "mallory", start=mark)
    assert obs.events[mark:] == [e], "joins before the real one: %r" % obs.events[mark:]


def test_login_idempotent(procs, v2, raws):
    """A LOGIN repeated with the same nonce (its WELCOME was lost) gets the
    same WELCOME again, byte for byte, and the room sees one join only."""
    q, (obs,) = room(procs, v2, "obs")
    r = raws(addr(q))
    n = new_nonce()
    c, w1 = r.handshake("alice", n)
    r.send(login(n, c.cookie, "alice"))
    w2 = r.recv_parsed(WAIT)
    r.send(login(n, c.cookie, "alice"))
    w3 = r.recv_parsed(WAIT)
    assert w1.type == WELCOME and w2 is not None and w3 is not None
    assert w1.raw == w2.raw == w3.raw, "retried LOGIN got another WELCOME"
    # Barrier: alice speaks; obs has seen exactly one join before it.
    r.send(session(DATA, w1.sid, 1, 0, 0, say_payload("hi")))
    obs.wait_event(EV_SAY, "alice", "hi")
    joins = [e for e in obs.events if e.event == EV_JOIN and e.name == b"alice"]
    assert len(joins) == 1, "alice announced %d times" % len(joins)


def test_login_new_nonce_replaces_session(procs, v2):
    """LOGIN with a new nonce, the same name, from the same address (a client
    restarted on its port) replaces the session silently: a new session id,
    no leave and no join announced, the old id is unknown (CLOSE reason 0),
    the new one works."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    old = alice.sid
    mark = len(obs.events)
    alice.login("alice", nonce=new_nonce())
    assert alice.sid != old
    barrier(alice, [obs], "new session")
    assert [e.event for e in obs.events[mark:]] == [EV_SAY], obs.events[mark:]
    n = len(alice.closes)
    alice.send_session(PING, sid=old)
    assert alice.wait(lambda: len(alice.closes) > n, WAIT), "old session id not closed"
    cl = alice.closes[-1][1]
    assert cl.sid == old and cl.reason == CL_UNKNOWN


NAME_CASES = [
    # (name bytes, code, detail, v1 refusal key)
    (b"", E_NAME_INVALID, 1, "name_empty"),
    (b"n" * 33, E_NAME_INVALID, 2, "name_long"),
    (b"\xc0\xafx", E_NAME_INVALID, 3, "name_utf8"),
    (b"al ice", E_NAME_INVALID, 4, "name_space"),
    (b"al\x1bice", E_NAME_INVALID, 5, "name_control"),
    (b"ADMIN", E_NAME_INVALID, 6, "reserved"),
    ("管理员".encode(), E_NAME_INVALID, 6, "reserved"),
    (b"Taken", E_NAME_TAKEN, None, "taken"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name, code, detail, key", NAME_CASES,
                         ids=["empty", "long", "utf8", "space", "control", "reserved",
                              "reserved-zh", "taken"])
def test_refuse_name(procs, v2, raws, lang, name, code, detail, key):
    """A refused LOGIN gets REFUSE: our nonce, the code of enum qerr, the
    detail of the name rule, and v1's reason text in the server's language;
    13 + reason bytes.  Nobody is told anything (barrier)."""
    q, (obs, taken) = room(procs, v2, "obs", "taken", lang=lang)
    r = raws(addr(q))
    n = new_nonce()
    _, p = r.handshake(name, n)
    assert p is not None and p.type == REFUSE, "%r: expected REFUSE, got %r" % (name, p)
    assert p.nonce == n and p.code == code, p
    if detail is not None:
        assert p.detail == detail, p
    assert p.reason == refusal(lang, key), p
    assert len(p.raw) == 13 + len(p.reason.encode())
    barrier(taken, [obs], "after refusal")


def test_refuse_other_name_at_address(procs, v2):
    """From an address that has a session as alice, LOGIN as bob (new nonce)
    is refused with code 3 and v1's text; alice's session goes on."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    rf = alice.login("bob", expect="refuse")
    assert rf.code == E_OTHER_NAME and rf.reason == refusal("zh", "other_name"), rf


def test_refuse_room_full(procs, v2):
    """With --max-members 2 the third LOGIN is refused with code 4."""
    q, _ = room(procs, v2, "a1", "a2", args=FAST + ("--max-members", "2"))
    c = v2.new(addr(q), label="a3")
    rf = c.login("a3", expect="refuse")
    assert rf.code == E_ROOM_FULL and rf.reason == refusal("zh", "full"), rf


# ---------------------------------------------------------------------------
# Session datagrams.

def test_close_for_unknown_session(procs, v2, raws):
    """DATA, ACK and PING with a session id nobody has are each answered by
    exactly one CLOSE: 12 bytes (less than the 23+ received), reason 0,
    carrying that id; nothing reaches the room."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    r = raws(addr(q))
    for t, payload in ((DATA, say_payload("ghost")), (ACK, b""), (PING, b"")):
        sid = os.urandom(8)
        r.send(session(t, sid, 1 if t == DATA else 0, 0, 0, payload))
        d = r.recv(WAIT)
        assert d is not None, "no CLOSE for unknown sid"
        p = parse(d)
        assert p.type == CLOSE and len(d) == 12 + 4 and p.sid == sid and p.reason == CL_UNKNOWN, p
        assert r.silent(QUIET) == []
    barrier(alice, [obs], "nothing else")


def test_ack_of_an_ended_session_is_not_answered(procs, v2, raws):
    """An ACK that a client sent before its QUIT can reach qund after it
    (ACKs have a socket of their own there): the client has its CLOSE with
    the real reason, so an ACK of a session that has just ended gets no
    CLOSE of "unknown session" to contradict it.  Any other datagram of
    that session, and an ACK of a session that never was, still gets one."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    sid = alice.sid
    assert alice.quit() == CL_QUIT
    r = raws(addr(q))
    r.send(session(ACK, sid, 0, 0, 0, b""))
    assert r.silent(QUIET) == []
    for t, s in ((PING, sid), (ACK, os.urandom(8))):
        r.send(session(t, s, 0, 0, 0, b""))
        d = r.recv(WAIT)
        assert d is not None, "no CLOSE"
        p = parse(d)
        assert p.type == CLOSE and p.sid == s and p.reason == CL_UNKNOWN, p


def test_ping_answered_by_ack(procs, v2):
    """PING is answered at once by an ACK of 23 bytes for our session, seq 0."""
    q, (alice,) = room(procs, v2, "alice")
    t0 = time.monotonic()
    alice.ping()
    got = alice.wait(lambda: [d for t, d in alice.parsed_in if t >= t0 and d.type == ACK], WAIT)
    assert got, "no ACK for PING"
    a = got[0]
    assert len(a.raw) == 23 and a.sid == alice.sid and a.seq == 0


def test_quit_confirmed_and_announced(procs, v2):
    """QUIT is confirmed by CLOSE reason 1; the others see `leave`; the name
    is free again at once."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    assert alice.quit() == CL_QUIT
    obs.wait_event(EV_LEAVE, "alice")
    v2.login("alice", addr(q), label="alice2")


def test_challenge_and_rebind(procs, v2):
    """A session datagram with a known id from a new address changes nothing
    and is answered there by CHALLENGE (27 bytes, < 3x the 23 received, a
    cookie for the new address); nothing of the room goes to the new address
    until it answers REBIND; after REBIND the session lives at the new
    address (its message is delivered, the room's events come there, none to
    the old one).  A REBIND with a wrong cookie moves nothing."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    alice.auto_rebind = False
    old = alice.addr
    new = alice.move_to()
    mark = len(obs.events)
    alice.say("from the new address")
    assert alice.wait(lambda: alice.challenges, WAIT), "no CHALLENGE at the new address"
    ch = alice.challenges[0][1]
    assert len(ch.raw) == 27 and ch.sid == alice.sid
    # Not delivered, and the room still writes to the old address.
    barrier(obs, [], "obs speaks")
    assert alice.wait(lambda: any(e.text == b"obs speaks" for e in alice.events), WAIT)
    assert obs.events[mark:] == [], "delivered before REBIND: %r" % obs.events[mark:]
    # A wrong cookie moves nothing.
    alice.send_raw(rebind(alice.sid, bytes(16)))
    time.sleep(QUIET)
    assert obs.events[mark:] == [], "delivered after a bad REBIND: %r" % obs.events[mark:]
    # The right one moves the session; the retransmitted message arrives.
    alice.send_raw(rebind(alice.sid, ch.cookie))
    obs.wait_event(EV_SAY, "alice", "from the new address", start=mark)
    alice.auto_rebind = True
    # Events now come to the new address only.
    n_in = len(alice.dgrams_in)
    old_sock = alice.old_socks[0]
    obs.say("to the new address")
    alice.wait_event(EV_SAY, "obs", "to the new address")
    old_sock.setblocking(False)
    try:
        stray = old_sock.recvfrom(2048)
    except BlockingIOError:
        stray = None
    assert stray is None, "the old address %r still gets %r" % (old, stray)
    assert len(alice.dgrams_in) > n_in and new == alice.addr


def test_ack_bits_and_in_order_delivery(procs, v2):
    """DATA 1, 3, 4 (2 missing) are acknowledged as ack=1 with bits 0b11
    (seq ack+2+i); 3 and 4 are held, not delivered; when 2 arrives all are
    delivered in order and ack becomes 4.  A duplicate of 3 is acknowledged
    (ack 4) and not delivered again."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    sid = alice.sid

    def last_ack(after):
        return alice.wait(lambda: [d for t, d in alice.parsed_in
                                   if t > after and d.type in (ACK, DATA)], WAIT)

    def send(seq, text):
        t = time.monotonic()
        alice.send_raw(session(DATA, sid, seq, alice.rx.ack, 0, say_payload(text)))
        return t

    send(1, "m1")
    obs.wait_event(EV_SAY, "alice", "m1")
    time.sleep(0.05)
    t = time.monotonic()
    send(3, "m3")
    send(4, "m4")
    assert wait_until(lambda: any(d.ack == 1 and d.bits == 0b11
                                  for d in (last_ack(t) or [])), WAIT), \
        "no ack=1 bits=0b11; got %r" % [(d.ack, d.bits) for d in last_ack(t) or []]
    time.sleep(QUIET)
    assert obs.said("alice") == ["m1"], "held DATA delivered"
    t = send(2, "m2")
    obs.wait_event(EV_SAY, "alice", "m4")
    assert obs.said("alice") == ["m1", "m2", "m3", "m4"]
    assert wait_until(lambda: any(d.ack == 4 for d in (last_ack(t) or [])), WAIT)
    t = send(3, "m3")
    assert wait_until(lambda: any(d.ack == 4 for d in (last_ack(t) or [])), WAIT), \
        "duplicate not acknowledged"
    alice.send_raw(session(DATA, sid, 5, alice.rx.ack, 0, say_payload("m5")))
    obs.wait_event(EV_SAY, "alice", "m5")
    assert obs.said("alice") == ["m1", "m2", "m3", "m4", "m5"], "duplicate delivered"


def test_data_beyond_window_dropped(procs, v2):
    """DATA more than 64 beyond ack is dropped unacknowledged, not held:
    with ack=0, seq 70 is neither acknowledged nor delivered when 1..69
    arrive (ack stops at 69); seq 10 (within the window) is held."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    sid = alice.sid

    def send(seq):
        alice.send_raw(session(DATA, sid, seq, alice.rx.ack, 0, say_payload("s%d" % seq)))

    t = time.monotonic()
    send(70)
    send(10)
    got = alice.wait(lambda: [d for tt, d in alice.parsed_in if tt > t and d.type == ACK
                              and d.bits], WAIT)
    assert got, "no ACK with bits for held seq 10"
    assert all(d.ack == 0 and d.bits == 1 << (10 - 2) for d in got), \
        [(d.ack, d.bits) for d in got]
    for s in range(1, 70):
        if s != 10:
            send(s)
    obs.wait_event(EV_SAY, "alice", "s69", timeout=WAIT)
    alice.ping()
    # ACKs of earlier batches may still be on their way to alice's reader: wait for the one
    # that covers 69, and make sure none ever went past it.
    acks = alice.wait(lambda: [d for _, d in alice.parsed_in if d.type == ACK and d.ack >= 69],
                      WAIT)
    assert acks, "no ACK up to 69"
    assert all(d.ack == 69 for d in acks), "seq 70 must not be held: %s" % [d.ack for d in acks]
    texts = obs.said("alice")
    assert texts == ["s%d" % s for s in range(1, 70)], texts[-5:]


def test_acks_are_batched(procs, v2):
    """Ten DATA waiting on qund's socket at once (qund stopped with SIGSTOP
    while they are sent) are acknowledged by one ACK with ack=10, not one
    ACK each."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    sid = alice.sid
    q.signal(signal.SIGSTOP)
    try:
        t = time.monotonic()
        for s in range(1, 11):
            alice.send_raw(session(DATA, sid, s, alice.rx.ack, 0, say_payload("b%d" % s)))
    finally:
        q.signal(signal.SIGCONT)
    obs.wait_event(EV_SAY, "alice", "b10")
    time.sleep(QUIET)
    acks = [d for tt, d in alice.parsed_in if tt > t and d.type == ACK]
    data = [d for tt, d in alice.parsed_in if tt > t and d.type == DATA]
    assert any(d.ack == 10 for d in acks + data), "nothing acknowledged all ten"
    assert len(acks) <= 1, "%d ACKs for 10 DATA read at once: %r" % (
        len(acks), [(d.ack, d.bits) for d in acks])


# ---------------------------------------------------------------------------
# Long messages.

def _long_text(n):
    """Exactly n bytes of mixed ASCII, CJK (3 bytes) and emoji (4 bytes), valid UTF-8."""
    unit = "abc中文😀 ".encode()
    out = (unit * (n // len(unit) + 1))[:n]
    while True:
        try:
            out.decode()
            return out
        except UnicodeDecodeError:
            # Drop the character cut at the end and pad with ASCII.
            k = len(out) - 1
            while out[k] & 0xC0 == 0x80:
                k -= 1
            out = out[:k] + b"x" * (n - k)


@pytest.mark.parametrize("size", [SAY_PIECE + 1, 2500, MAX_MESSAGE])
def test_long_message_split_and_rejoined(procs, v2, size):
    """A message longer than one datagram, up to exactly 4000 bytes, sent in
    MORE pieces, reaches the others byte-exact as one event; every datagram
    qund sends is at most 1200 bytes and every EVENT piece is cut at a UTF-8
    character boundary."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    text = _long_text(size)
    assert alice.say(text) > 1
    e = obs.wait_event(EV_SAY, "alice", text)
    assert e.text == text
    assert obs.max_in() <= MAX_DATAGRAM, "qund sent %d bytes" % obs.max_in()
    for _, d in obs.parsed_in:
        if d.type == DATA:
            p = parse_payload(d.payload)
            if getattr(p, "event", None) == EV_SAY:
                p.text.decode("utf-8")  # raises if a piece was cut inside a character


def test_message_over_4000_refused(procs, v2):
    """A message of 4001 bytes (in MORE pieces) is refused with a NOTICE
    "message too long" to the sender only, and nothing of it is relayed."""
    q, (obs, alice) = room(procs, v2, "obs", "alice")
    mark = len(obs.events)
    alice.say(_long_text(MAX_MESSAGE + 1))
    n = alice.wait_notice()
    assert n.code in (E_TEXT_INVALID, E_TOO_LONG), n
    assert "消息太长" in n.text, n
    barrier(alice, [obs], "after the long one")
    assert len(obs.events) == mark + 1


def test_long_message_to_v1_member(procs, v2):
    """With --legacy, a v1 member receives a 3000-byte v2 message as several
    lines `alice 说：PART`, each part at most 1000 bytes, that join to the
    message byte-exact."""
    q = procs.qund("--legacy", *FAST)
    u = procs.member(q, "lesson")
    alice = v2.login("alice", addr(q))
    u.wait_for(ev("zh", "join", "alice"))
    text = _long_text(3000)
    alice.say(text)
    parts = []
    prefix = "alice 说："
    while len("".join(parts).encode()) < len(text):
        line = u.recv_text(WAIT)
        assert line is not None, "v1 member got %d of %d bytes" % (
            len("".join(parts).encode()), len(text))
        assert line.startswith(prefix), line[:80]
        part = line[len(prefix):]
        assert len(part.encode()) <= 1000, "a v1 line of %d bytes" % len(part.encode())
        parts.append(part)
    assert "".join(parts).encode() == text and len(parts) >= 3


# ---------------------------------------------------------------------------
# The room.

def test_event_ids_one_order(procs, v2):
    """Events carry room event ids: each member sees strictly increasing ids,
    each at most once, and two members see the events they share under the
    same ids in the same order."""
    q, (a, b, c) = room(procs, v2, "a", "b", "c")
    b.wait_event(EV_JOIN, "c")
    for i in range(20):
        (a if i % 2 else c).say("x%d" % i)
    b.wait_event(EV_SAY, "a", "x19")
    b.wait_event(EV_SAY, "c", "x18")
    a.wait_event(EV_SAY, "c", "x18")
    for cl in (a, b, c):
        ids = [e.id for e in cl.events]
        assert ids == sorted(set(ids)), "%s: ids %r" % (cl.label, ids)
    ids_a = {(e.name, e.text): e.id for e in a.events if e.event == EV_SAY}
    ids_b = {(e.name, e.text): e.id for e in b.events if e.event == EV_SAY}
    common = set(ids_a) & set(ids_b)
    assert len(common) >= 10
    assert all(ids_a[k] == ids_b[k] for k in common), "one event, two ids"


def test_console_admin_kick_and_shutdown(procs, v2):
    """The operator's line reaches every v2 member as an admin event; /kick
    closes bob with reason 2 and tells the others `kick`; SIGTERM sends
    every member the shutdown event and then CLOSE reason 4; every one of
    these events has a room event id of its own."""
    q, (a, b) = room(procs, v2, "a", "b")
    q.say("大家好")
    for c in (a, b):
        e = c.wait_event(EV_ADMIN)
        assert e.text == "大家好".encode()
    q.say("/kick b")
    assert b.wait(lambda: b.closed is not None, WAIT), "kicked b got no CLOSE"
    assert b.closed == CL_KICKED
    a.wait_event(EV_KICK, "b")
    q.signal(signal.SIGTERM)
    a.wait_event(EV_SHUTDOWN)
    assert a.wait(lambda: a.closed is not None, WAIT) and a.closed == CL_SHUTDOWN
    assert q.wait(WAIT) == 0
    ids = [e.id for e in a.events]
    assert ids == sorted(set(ids)), "event ids not new for every event: %r" % a.events


def test_v1_and_v2_share_the_room(procs, v2):
    """With --legacy a v1 member and a v2 member see each other's joins and
    messages, each in its own protocol."""
    q = procs.qund("--legacy", *FAST)
    alice = v2.login("alice", addr(q))
    u = procs.member(q, "lesson")
    alice.wait_event(EV_JOIN, "lesson")
    u.send("C lesson 你好 v2")
    alice.wait_event(EV_SAY, "lesson", "你好 v2")
    alice.say("hello v1")
    u.wait_for(ev("zh", "say", "alice", "hello v1"))


def test_qun_shows_events_in_its_own_language(procs, v2):
    """qun formats v2 events in its own language whatever the server's: a
    zh qund, one qun in zh and one in en, see alice join, speak and leave
    as PROTOCOL.md's texts (a `[HH:MM] ` prefix allowed)."""
    q = procs.qund(*FAST, lang="zh")
    obs = v2.login("obs", addr(q))
    quns = {}
    for lang in ("zh", "en"):
        quns[lang] = procs.qun_pipe("-s", "127.0.0.1", "-p", str(q.port), "--lang", lang,
                                    "q" + lang)
        obs.wait_event(EV_JOIN, "q" + lang, timeout=WAIT * 2)
    alice = v2.login("alice", addr(q))
    alice.say("你好 hi")
    alice.quit()
    for lang, k in quns.items():
        for text in (ev(lang, "join", "alice"), ev(lang, "say", "alice", "你好 hi"),
                     ev(lang, "leave", "alice")):
            got = k.out.wait_for(lambda l, t=text: l == t or l.endswith("] " + t),
                                 timeout=WAIT)
            assert got, "qun --lang %s never showed %r; it showed %r" % (
                lang, text, k.out.lines[-6:])
