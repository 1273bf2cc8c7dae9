# test_plain.py - qun on pipes (plain mode): one line in, one line out, no prompt, no escapes.
"""qun with standard input and output on pipes, as scripts and bots run it:
no prompt, no escape sequence, no time stamp, the room's lines exactly as
the room says them, each flushed as it comes; commands work the same."""

import threading

from tui_helpers import WAIT, session, wait_until  # noqa: F401 (fixture)


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


def start(session, srv, *args):
    bob = session.member(srv, "bob")
    q = session.qun_pipe(srv.port, *(list(args) + ["alice"]))
    out, err = Lines(q.stdout), Lines(q.stderr)
    bob.expect("alice 进入了聊天室")
    return q, bob, out, err


def send(q, line):
    q.stdin.write(line.encode() + b"\n")
    q.stdin.flush()


def test_lines_in_and_out(session):
    """The room's lines come out as they are; typed lines go in as they are;
    end of input leaves the room and exits 0; no escape, prompt or stamp."""
    srv = session.server()
    q, bob, out, err = start(session, srv)
    bob.send("C bob 你好 plain")
    out.wait("bob 说：你好 plain")
    send(q, "from a pipe 管道")
    bob.expect("alice 说：from a pipe 管道")
    bob.send("A bob 挥手")
    out.wait("* bob 挥手")
    q.stdin.close()
    bob.wait_for("alice 退出了聊天室")
    assert q.wait(WAIT) == 0
    assert wait_until(lambda: out.eof)
    assert b"\x1b" not in out.raw and b"\x1b" not in err.raw
    assert not any(l.startswith(">") or l.startswith("[") for l in out.lines), out.lines
    # Our own lines are not echoed on pipes: one line in, one line out.
    assert not any("from a pipe" in l for l in out.lines), out.lines


def test_commands(session):
    """/who, /me and // work on pipes; an unknown command is refused on
    stderr and never sent; /help prints the help."""
    srv = session.server()
    q, bob, out, err = start(session, srv)
    carol = session.member(srv, "carol")
    bob.expect("carol 进入了聊天室")
    out.wait("carol 进入了聊天室")
    send(q, "/who")
    out.wait("3 online: alice, bob, carol")
    send(q, "/me waves")
    bob.expect("* alice waves")
    send(q, "/nope at all")
    err.wait("unknown command: /nope (type /help for help)")
    send(q, "//not a command")
    bob.expect("alice 说：/not a command")  # the next datagram: /nope was never sent
    send(q, "/me")
    err.wait("usage: /me ACTION")
    send(q, "/help")
    assert wait_until(lambda: any("/who lists who is online" in l for l in out.lines))
    send(q, "/quit")
    bob.wait_for("alice 退出了聊天室")
    assert q.wait(WAIT) == 0
    assert wait_until(lambda: out.eof)
    assert out.lines[-1] == "you have left the room"


def test_refusals_before_anything_later_is_sent(session):
    """A line that breaks the text rules is refused at once, on stderr, and
    never sent; the lines after it still go."""
    srv = session.server()
    q, bob, out, err = start(session, srv)
    q.stdin.write(b"x" * 1001 + b"\n" + b"bad \xff utf8\n" + b"tab\there\n" + b"fine\n")
    q.stdin.flush()
    bob.expect("alice 说：fine")  # the very next datagram: the others were never sent
    assert wait_until(lambda: len(err.lines) >= 3), err.lines
    assert any("1001" in l and "1000" in l for l in err.lines), err.lines
