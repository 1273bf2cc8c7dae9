# test_client_integrity.py - black-box tests that qun shows what was said once, in order, and nothing else.
"""What was said arrives once, and nothing else appears (issue 16).

- A UI process that stalls while lines pour in loses none of them: the
  network process queues them and hands them over in order (or says at
  once, in their place, exactly how many it had to drop).
- A line whose acknowledgement alone was lost, followed by a reconnection,
  is shown once to every receiver: qun re-sends it with its message id and
  qund drops the repeat (PROTOCOL-v2.md, "Message ids").
- Two lines typed at once, the second a /who, never earn the flooding
  notice: qun holds a WHO until the previous answer is in.
- The lesson's server frames its lines with newlines; qun --legacy shows
  the line, not a visible ^J.
"""

import os
import signal
import socket
import struct
import threading
import time


from conftest import WAIT, wait_until
from relay import Relay
from v2client import (ACK, EV_JOIN, EV_SAY, F_MSG_ID, WELCOME, hello, login, parse,
                      say_payload)

FAST = ("--flood-burst", "100000", "--flood-rate", "100000", "--max-per-address", "200")
RECONNECTING = "正在重新连接"
RECONNECTED = "已重新连接"
TOO_FAST = "太快"


def qun(procs, port, name, *extra):
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(port), "--lang", "zh", *extra, name)
    q.name = name
    return q


def said(q, name):
    """What qun printed as said by name, in order (plain mode: "NAME 说：TEXT")."""
    prefix = name + " 说："
    return [l[len(prefix):] for l in q.out.wait_count(0, 0) if l.startswith(prefix)]


def wait_said(q, name, n, timeout):
    wait_until(lambda: len(said(q, name)) >= n, timeout, interval=0.05)
    return said(q, name)


# ---------------------------------------------------------------------------
# 1. A stalled UI.

def udp_rx_queue(pid):
    """Bytes waiting in the receive queues of pid's UDP sockets (/proc/net/udp*)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[9] in inodes:
                    total += int(cols[4].split(":")[1], 16)
    return total


def _stall_and_flood(q, n, send, delivered, chunk=None):
    """Stop qun's UI process, send n lines, wait until the server has
    delivered them all, keep the UI stopped 2 s in all, go on.
    delivered(k) is true once the server has delivered k lines.  With
    chunk (v1, which has no flow control: a datagram that finds qun's
    socket buffer full is lost, whatever qun does), each chunk must be
    delivered and read by qun's network process before the next goes."""
    child = q.child()  # logged in and forked: the network process runs on its own
    chunk = chunk or n
    t0 = time.monotonic()
    q.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(n):
            send("line %d" % i)
            if (i + 1) % chunk == 0:
                assert wait_until(lambda: delivered(i + 1), 30, interval=0.01), \
                    "the server did not deliver %d lines" % (i + 1)
                assert wait_until(lambda: udp_rx_queue(child) == 0, 30, interval=0.01), \
                    "qun's network process does not read its socket"
        assert wait_until(lambda: delivered(n), 30, interval=0.05), \
            "the server did not deliver the burst"
        left = 2.0 - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)  # the stall itself is the fault: the UI reads nothing for 2 s
    finally:
        q.proc.send_signal(signal.SIGCONT)


def _check_all_in_order(q, sender, n):
    got = wait_said(q, sender, n, 60)
    notes = [l for l in q.out.wait_count(0, 0) if "来得太快" in l]
    assert not notes, "qun dropped lines: %r" % notes
    assert got == ["line %d" % i for i in range(n)], \
        "qun showed %d of %d lines, or out of order (first wrong: %r)" % (
            len(got), n, next((g for i, g in enumerate(got) if g != "line %d" % i), None))


def test_stalled_ui_shows_every_line_in_order_v2(procs, v2):
    """The UI stops for 2 s while 1,000 lines arrive (v2): all 1,000 appear, in order."""
    q = procs.qund(*FAST)
    ps = v2.new(("127.0.0.1", q.port), label="ps")
    pr = v2.new(("127.0.0.1", q.port), label="pr")
    pr.login("pr")
    qr = qun(procs, q.port, "qr")
    pr.wait_event(EV_JOIN, "qr", timeout=WAIT * 2)
    ps.login("ps")
    _stall_and_flood(qr, 1000, ps.say, lambda k: pr.say_counts[b"ps"] >= k)
    _check_all_in_order(qr, "ps", 1000)


def test_stalled_ui_shows_every_line_in_order_v1(procs):
    """The same for protocol v1 (qund --legacy, qun --legacy, a raw v1 sender)."""
    q = procs.qund1(*FAST)
    pr = procs.member(q, "pr")
    qr = qun(procs, q.port, "qr", "--legacy")
    pr.wait_for("qr 进入了聊天室", timeout=WAIT * 2)
    ps = procs.member(q, "ps")
    got = []

    def delivered(k):
        line = pr.recv_text(timeout=0.001)
        while line is not None:
            if line.startswith("ps 说："):
                got.append(line)
            line = pr.recv_text(timeout=0.001)
        return len(got) >= k
    _stall_and_flood(qr, 1000, lambda t: ps.send(("C ps " + t).encode()), delivered, chunk=50)
    _check_all_in_order(qr, "ps", 1000)


# ---------------------------------------------------------------------------
# 2. A line whose ACK alone was lost, then a reconnection.

def test_line_whose_ack_was_lost_is_shown_once_after_reconnection(procs, v2):
    """qs says a line; the relay drops every ACK from qund to qs, so qs
    hears nothing, gives the session up after three keepalives (1 s each)
    and logs in again, re-sending the line it never saw acknowledged.
    qund relayed it the first time: every receiver must show it once."""
    q = procs.qund(*FAST)
    dropping = threading.Event()
    dropped = []

    def hook(direction, client, data):
        if dropping.is_set() and direction == "s2c" and len(data) > 2 and data[2] == ACK:
            dropped.append(len(data))
            return None
        return data
    r = Relay(("127.0.0.1", q.port), hook=hook).start()
    try:
        pr = v2.new(("127.0.0.1", q.port), label="pr")
        pr.login("pr")
        qr = qun(procs, q.port, "qr")
        qs = qun(procs, r.port, "qs", "--keepalive", "1")
        for name in ("qr", "qs"):
            pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
        qs.child()
        dropping.set()
        qs.send_line("once")
        pr.wait_event(EV_SAY, "qs", "once", timeout=WAIT)
        assert qs.out.wait_for(lambda l: RECONNECTING in l, timeout=20), \
            "qs never gave up the session: %r" % qs.out.wait_count(0, 0)[-5:]
        dropping.clear()
        assert qs.out.wait_for(lambda l: RECONNECTED in l, timeout=20), \
            "qs never came back: %r" % qs.out.wait_count(0, 0)[-5:]
        qs.send_line("after")
        pr.wait_event(EV_SAY, "qs", "after", timeout=WAIT * 2)
        wait_said(qr, "qs", 2, WAIT * 2)
        assert dropped, "the relay dropped no ACK: the test tested nothing"
        assert pr.said("qs") == ["once", "after"], "pr: %r" % pr.said("qs")
        assert said(qr, "qs") == ["once", "after"], "qr: %r" % said(qr, "qs")
        joins = [e for e in pr.events if e.event == EV_JOIN and e.name == b"qs"]
        assert len(joins) == 1, "the reconnection was shown as a new join"
    finally:
        r.stop()


def test_server_drops_a_repeated_message_id_across_sessions(procs, v2):
    """The server side of message ids, with a raw client: a message whose id
    is the last taken, or up to 64 behind it, is not relayed again after a
    re-login from the same address; a new id is, and so is one far behind
    (a client that restarted with a fresh random id); a message without an
    id always is."""
    q = procs.qund(*FAST)
    pr = v2.new(("127.0.0.1", q.port), label="pr")
    pr.login("pr")
    ps = v2.new(("127.0.0.1", q.port), label="ps")
    ps.login("ps")
    pr.wait_event(EV_JOIN, "ps")
    base = 0xFFFFFFF0  # the ids wrap past 2^32 on the way

    def say(text, msg_id):
        ps.send_payload(say_payload(text, msg_id=msg_id))
    say("one", base)
    say("two", base + 1 & 0xFFFFFFFF)
    say("three", base + 20 & 0xFFFFFFFF)
    pr.wait_event(EV_SAY, "ps", "three")
    ps.login("ps")  # a reconnection: new nonce, same name, same address
    say("two again", base + 1 & 0xFFFFFFFF)
    say("three again", base + 20 & 0xFFFFFFFF)
    say("one again", base)
    say("four", base + 21 & 0xFFFFFFFF)
    say("far behind", base + 20 - 64 & 0xFFFFFFFF)
    ps.send_payload(say_payload("no id"))
    pr.wait_event(EV_SAY, "ps", "no id")
    assert pr.said("ps") == ["one", "two", "three", "four", "far behind", "no id"], \
        pr.said("ps")
    joins = [e for e in pr.events if e.event == EV_JOIN and e.name == b"ps"]
    assert len(joins) == 1


def test_welcome_announces_message_ids(procs):
    """qund's WELCOME says it takes message ids (the high bits of max message)."""
    q = procs.qund()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(WAIT)
    try:
        s.connect(("127.0.0.1", q.port))
        nonce = struct.pack(">Q", 0x1234)
        s.send(hello(nonce))
        cookie = parse(s.recv(2048)).cookie
        s.send(login(nonce, cookie, b"ids"))
        w = parse(s.recv(2048))
        assert w.type == WELCOME
        assert w.max_message == 4000
        assert w.features & F_MSG_ID
    finally:
        s.close()


# ---------------------------------------------------------------------------
# 3. /who right after the automatic one.

def test_two_lines_then_who_is_not_flooding(procs):
    """`printf 'hi\\n/who\\n' | qun bob` prints the member list and no refusal."""
    q = procs.qund()
    k = procs.qun_pipe("-s", "127.0.0.1", "-p", str(q.port), "--lang", "zh", "bob")
    k.proc.stdin.write("hi\n/who\n".encode())
    k.close_stdin()
    assert k.wait(WAIT * 2) == 0, "qun exited badly: %r" % k.err.lines[-3:]
    out = k.out.wait_count(0, 0) + k.err.lines
    assert any("在线" in l and "bob" in l for l in out), "no member list: %r" % out
    assert not [l for l in out if TOO_FAST in l], "told it floods: %r" % out


def test_ten_who_in_ten_seconds_all_answer(procs):
    """Ten /who, one a second (under the default flood limits), all answered."""
    q = procs.qund()
    k = qun(procs, q.port, "bob")
    k.child()
    for i in range(10):
        start = time.monotonic()
        k.send_line("/who")
        assert wait_until(lambda: len([l for l in k.out.wait_count(0, 0) if "在线" in l]) > i,
                          WAIT), "/who number %d got no answer: %r" % (
                              i + 1, k.out.wait_count(0, 0)[-3:])
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))  # the pace is the test's input
    out = k.out.wait_count(0, 0) + k.err.lines
    assert not [l for l in out if TOO_FAST in l], "told it floods: %r" % out


def test_who_asked_in_a_burst_all_answer(procs):
    """Ten /who at once: qun holds each until the previous answer is in, so
    none is refused as flooding and each gets its list."""
    q = procs.qund()
    k = qun(procs, q.port, "bob")
    k.child()
    for _ in range(10):
        k.send_line("/who")
    assert wait_until(lambda: len([l for l in k.out.wait_count(0, 0) if "在线" in l]) >= 10,
                      WAIT * 2), "not every /who answered: %r" % k.out.wait_count(0, 0)
    out = k.out.wait_count(0, 0) + k.err.lines
    assert not [l for l in out if TOO_FAST in l], "told it floods: %r" % out


# ---------------------------------------------------------------------------
# 4. The lesson's server frames lines with newlines.

def test_lesson_framing_newlines_are_not_shown(procs):
    """A server that sends "\\nOK" and "\\n欢迎bob进入聊天室\\n" (as the
    lesson's does): qun --legacy logs in and shows the line without ^J."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(WAIT)
    try:
        port = srv.getsockname()[1]
        k = qun(procs, port, "bob", "--legacy")
        data, client = srv.recvfrom(2048)
        assert data.startswith(b"L bob")
        srv.sendto(b"\nOK", client)
        k.child()
        srv.sendto("\n欢迎bob进入聊天室".encode(), client)
        srv.sendto("\r\nalice 说：hi\n".encode(), client)
        srv.sendto("\nx\x1by\n".encode(), client)  # inside the line: still escaped
        assert k.out.wait_for(lambda l: "x" in l and "y" in l, timeout=WAIT)
        lines = k.out.wait_count(0, 0)
        assert "欢迎bob进入聊天室" in lines, lines
        assert "alice 说：hi" in lines, lines
        assert not [l for l in lines if "^J" in l or "\\n" in l or "^M" in l], lines
        assert not [l for l in lines if "\x1b" in l], lines
    finally:
        srv.close()
