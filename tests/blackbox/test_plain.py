# test_plain.py - qun on pipes (plain mode): one line in, one line out, no prompt, no escapes.
"""qun with standard input and output on pipes, as scripts and bots run it:
no prompt, no escape sequence, no time stamp, the room's lines as the room
says them, each flushed as it comes; commands work the same.  Every test
runs against the default server with qun speaking v2, and against a
--legacy server with qun --legacy (v1).  Server and qun speak English, so
the lines read the same in both protocols (v1 shows the server's own
lines; v2 phrases the room's events in qun's language)."""

import os
import select
import threading
import time

import pytest

from tui_helpers import WAIT, session, wait_until  # noqa: F401 (fixture)


@pytest.fixture(params=["v2", "v1"])
def proto(request):
    return request.param


class Lines:
    """Lines of a pipe, read on a thread so the test can wait for them."""

    def __init__(self, pipe):
        self.lines, self.raw, self.eof = [], b"", False
        self.lock = threading.Lock()
        threading.Thread(target=self.run, args=(pipe,), daemon=True).start()

    def run(self, pipe):
        for line in iter(pipe.readline, b""):
            with self.lock:
                self.raw += line
                self.lines.append(line.rstrip(b"\n").decode("utf-8", "backslashreplace"))
        self.eof = True

    def wait(self, text, timeout=WAIT):
        assert wait_until(lambda: text in self.lines, timeout), (text, self.lines)


def start(session, proto):
    """An English server (v2, or v1 as well), bob in it, and qun on pipes as alice."""
    srv = session.server("en", legacy=proto == "v1")
    bob = session.member(srv, "bob")
    q = session.qun_pipe(srv.port, *((["--legacy"] if proto == "v1" else []) + ["alice"]))
    out, err = Lines(q.stdout), Lines(q.stderr)
    bob.expect("alice joined the room")
    return srv, q, bob, out, err


def send(q, line):
    q.stdin.write(line.encode() + b"\n")
    q.stdin.flush()


def test_lines_in_and_out(session, proto):
    """The room's lines come out as they are; typed lines go in as they are;
    end of input leaves the room and exits 0; no escape, prompt or stamp."""
    srv, q, bob, out, err = start(session, proto)
    bob.send("C bob 你好 plain")
    out.wait("bob: 你好 plain")
    send(q, "from a pipe 管道")
    bob.expect("alice: from a pipe 管道")
    bob.send("A bob 挥手")
    out.wait("* bob 挥手")
    q.stdin.close()
    bob.wait_for("alice left the room")
    assert q.wait(WAIT) == 0
    assert wait_until(lambda: out.eof)
    assert b"\x1b" not in out.raw and b"\x1b" not in err.raw
    assert not any(l.startswith(">") or l.startswith("[") for l in out.lines), out.lines
    # Our own lines are not echoed on pipes: one line in, one line out.
    assert not any("from a pipe" in l for l in out.lines), out.lines


def test_commands(session, proto):
    """/who, /me and // work on pipes; an unknown command is refused on
    stderr and never sent; /help prints the help."""
    srv, q, bob, out, err = start(session, proto)
    carol = session.member(srv, "carol")
    bob.expect("carol joined the room")
    out.wait("carol joined the room")
    send(q, "/who")
    out.wait("3 online: alice, bob, carol")
    send(q, "/me waves")
    bob.expect("* alice waves")
    send(q, "/nope at all")
    err.wait("unknown command: /nope (type /help for help)")
    send(q, "//not a command")
    bob.expect("alice: /not a command")  # the next datagram: /nope was never sent
    send(q, "/me")
    err.wait("usage: /me ACTION")
    send(q, "/help")
    assert wait_until(lambda: any("/who lists who is online" in l for l in out.lines))
    send(q, "/quit")
    bob.wait_for("alice left the room")
    assert q.wait(WAIT) == 0
    assert wait_until(lambda: out.eof)
    assert out.lines[-1] == "you have left the room"


def test_who_of_a_big_room(session, proto):
    """/who lists everyone in a room whose names take several datagrams
    (v1: several parts, asked for one by one, each W padded)."""
    srv, q, bob, out, err = start(session, proto)
    names = ["m%02d" % i + "x" * 28 for i in range(60)]  # 31-byte names: 2 v1 parts
    for name in names:
        session.member(srv, name)
    for name in names:
        out.wait("%s joined the room" % name)
    send(q, "/who")
    want = "62 online: " + ", ".join(sorted(names + ["alice", "bob"]))
    assert wait_until(lambda: any(l.startswith("62 online: ") for l in out.lines)), out.lines
    line = [l for l in out.lines if l.startswith("62 online: ")][0]
    assert sorted(line[len("62 online: "):].split(", ")) == sorted(want[11:].split(", "))


def test_refusals_before_anything_later_is_sent(session, proto):
    """A line that breaks the text rules is refused at once, on stderr, and
    never sent; the lines after it still go."""
    srv, q, bob, out, err = start(session, proto)
    limit = 1000 if proto == "v1" else 4000
    q.stdin.write(b"x" * (limit + 1) + b"\n" + b"bad \xff utf8\n" + b"tab\there\n"
                  + b"fine\n")
    q.stdin.flush()
    bob.expect("alice: fine")  # the very next line: the others were never sent
    assert wait_until(lambda: len(err.lines) >= 3), err.lines
    assert any(str(limit + 1) in l and str(limit) in l for l in err.lines), err.lines


def test_a_burst_of_lines_loses_nothing(session):
    """600 lines written at once (more than the socketpair to the network
    process holds) all reach the room, in order, and end of input still
    leaves cleanly: the interface waits for room instead of dropping.
    v2 only: v1 has no retransmission, and such a burst overflows the
    server's receive buffer (the kernel counts the drops as RcvbufErrors),
    which no v1 client can repair."""
    srv, q, bob, out, err = start(session, "v2")
    n = 600
    q.stdin.write(b"".join(b"line %d of the burst\n" % i for i in range(n)))
    q.stdin.close()
    before = bob.wait_for("alice left the room", timeout=4 * WAIT)
    said = [l for l in before if l.startswith("alice: ")]
    assert said == ["alice: line %d of the burst" % i for i in range(n)], (len(said), said[-3:])
    assert q.wait(WAIT) == 0
    assert wait_until(lambda: err.eof)
    assert not err.lines, err.lines


def test_leaves_when_nobody_reads_its_output(session):
    """qun ... | head -1: once standard output is a closed pipe the room's
    lines would be lost, so qun leaves the room and exits instead of
    staying in it until its input ends."""
    srv = session.server("en")
    bob = session.member(srv, "bob")
    q = session.qun_pipe(srv.port, "alice")
    bob.expect("alice joined the room")
    bob.send("C bob first")
    # Read stdout here, not on a thread, so that closing it cannot wait for one.
    fd, got = q.stdout.fileno(), b""
    deadline = time.monotonic() + WAIT
    while b"bob: first\n" not in got and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            got += chunk
    assert b"bob: first\n" in got, got
    q.stdout.close()  # the reader goes away; stdin stays open
    bob.send("C bob second")
    bob.send("C bob third")
    bob.wait_for("alice left the room")
    assert q.wait(WAIT) == 0
