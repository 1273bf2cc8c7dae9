# test_flood_interrupt.py - Ctrl-C while a member floods the room at 2,000 lines/s: qun leaves within 1 s.
"""Issue 16, item 5: Ctrl-C under a flood.

A real flood, not a simulated one (test_flood.py preloads a shim that makes
qun's sockets never run dry): qund with its flood limits opened wide, carol
saying 2,000 lines a second (v2 through v2client.py against a default
qund; v1 datagrams by hand against qund --legacy, with qun --legacy), bob
watching, and qun (alice) receiving all of it.  Then Ctrl-C: SIGINT to
qun's process group on pipes (plain mode), the key itself in tmux.  bob
must see alice leave within 1 s of the signal, and qun must exit 0 soon
after; the times are printed (pytest -s shows them).

On pipes the reader of qun's output either keeps up, or is slow (a bot's
consumer, 10 KB/s, well under the flood, on a pipe of one page), so that
qun falls behind and blocks writing its output while lines keep coming: a
receive loop in the UI that does not yield after a batch never gets back
to the signal.  A slow reader either reads at full speed once bob has
seen the leave, or stays slow: then qun shows what the room said before
alice left, at the reader's pace, and still exits 0 saying it left (while
the network process empties its queue into the UI it is not hung, and
the UI waits for it rather than kill it and call the quit unconfirmed).
"""

import fcntl
import os
import signal
import socket
import threading
import time

import pytest

import v2client
from tui_helpers import WAIT, alive, children, session, wait_until  # noqa: F401 (fixture)

RATE = 2000              # lines a second from carol
LEAVE_WITHIN = 1.0       # s from the signal to bob seeing the leave
EXIT_WITHIN = 3.0        # s from the signal to qun's exit, when its output is read
SLOW_EXIT_WITHIN = 30.0  # ... when its output is read slowly to the end (some 4,000 lines)
FLOOD_ARGS = ("--flood-burst", "100000", "--flood-rate", "100000")
SLOW_CHUNK, SLOW_GAP = 1024, 0.1  # the slow reader: 10 KB/s, some 400 of these lines a second
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, which Python names only from 3.10


@pytest.fixture(params=["v2", "v1"])
def proto(request):
    return request.param


class Watcher:
    """bob: a member who records when each of carol's lines and alice's leave arrive."""

    def __init__(self, port, legacy):
        self.legacy = legacy
        self.flood = []   # arrival times of carol's lines
        self.leave = None  # arrival time of "alice left the room"
        self.joined = threading.Event()
        self.stop = False
        self.taken = 0  # v2: events looked at so far
        if legacy:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.connect(("127.0.0.1", port))
            self.sock.send(b"L bob")
            self.sock.settimeout(WAIT)
            assert self.sock.recv(2000) == b"OK"
            self.sock.settimeout(0.05)
            self.thread = threading.Thread(target=self._run_v1, daemon=True)
            self.thread.start()
        else:
            self.c = v2client.V2Client(("127.0.0.1", port), label="bob", keepalive=1.0)
            self.c.login("bob", timeout=WAIT)

    def _seen(self, t, text):
        if text.startswith("carol: "):
            self.flood.append(t)
        elif text == "alice joined the room":
            self.joined.set()
        elif text == "alice left the room" and self.leave is None:
            self.leave = t

    def _run_v1(self):
        while not self.stop:
            try:
                data = self.sock.recv(2000)
            except (socket.timeout, ConnectionRefusedError):
                continue
            except OSError:
                return
            self._seen(time.monotonic(), data.decode("utf-8", "replace"))

    def poll(self):
        """v2: take the events the client has gathered (v1's thread records as it reads)."""
        if self.legacy:
            return
        with self.c.cond:
            new = self.c.events[self.taken:]
            self.taken = len(self.c.events)
        for e in new:
            if e.event == v2client.EV_SAY and e.name == b"carol":
                self.flood.append(e.t)
            elif e.event == v2client.EV_JOIN and e.name == b"alice":
                self.joined.set()
            elif e.event == v2client.EV_LEAVE and e.name == b"alice" and self.leave is None:
                self.leave = e.t

    def wait_join(self):
        assert wait_until(lambda: self.poll() or self.joined.is_set()), "bob never saw alice join"

    def wait_leave(self, timeout):
        wait_until(lambda: self.poll() or self.leave is not None, timeout, interval=0.005)
        return self.leave

    def rate(self, before):
        """carol's lines that reached bob in the second before `before`."""
        self.poll()
        return sum(1 for t in self.flood if before - 1.0 <= t < before)

    def close(self):
        self.stop = True
        if self.legacy:
            self.thread.join(2)
            self.sock.close()
        else:
            self.c.close()


class Flooder:
    """carol, saying RATE lines a second on a thread until stopped."""

    def __init__(self, port, legacy):
        self.legacy = legacy
        self.sent = 0
        self.stop = False
        if legacy:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.connect(("127.0.0.1", port))
            self.sock.send(b"L carol")
            self.sock.settimeout(WAIT)
            assert self.sock.recv(2000) == b"OK"
            # The room's lines come back to carol too: a thread throws them away.
            self.sock.settimeout(0.05)
            threading.Thread(target=self._drain, daemon=True).start()
        else:
            self.c = v2client.V2Client(("127.0.0.1", port), label="carol", keepalive=1.0)
            self.c.login("carol", timeout=WAIT)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _drain(self):
        while not self.stop:
            try:
                self.sock.recv(2000)
            except (socket.timeout, ConnectionRefusedError):
                continue
            except OSError:
                return

    def _run(self):
        start = time.monotonic()
        while not self.stop:
            due = start + self.sent / RATE
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            text = "flood line %d" % self.sent
            if self.legacy:
                try:
                    self.sock.send(b"C carol " + text.encode())
                except OSError:
                    pass
            else:
                self.c.say(text)
            self.sent += 1

    def start(self):
        self.thread.start()

    def close(self):
        self.stop = True
        if self.thread.is_alive():
            self.thread.join(2)
        if self.legacy:
            self.sock.close()
        else:
            self.c.close()


class Closing:
    """Adapts a watcher or flooder to the session's clean-up (it calls close())."""

    def __init__(self, *items):
        self.items = items

    def close(self):
        for i in self.items:
            i.close()


def room(session, proto):
    """A server with wide flood limits, bob watching and carol ready to flood."""
    legacy = proto == "v1"
    srv = session.server("en", FLOOD_ARGS, legacy)
    bob = Watcher(srv.port, legacy)
    carol = Flooder(srv.port, legacy)
    session.items.append(Closing(carol, bob))
    return srv, bob, carol


class Reader:
    """qun's stdout read on a thread, slowly until told to hurry; counts the flood lines shown.

    A slow reader also shrinks the pipe to one page, so that qun blocks
    writing within milliseconds rather than after 64 KB."""

    def __init__(self, pipe, slow):
        self.fd = pipe.fileno()
        self.slow = slow
        if slow:
            fcntl.fcntl(self.fd, F_SETPIPE_SZ, 4096)
        self.shown = []  # times at which flood lines were read
        self.last = b""  # the last whole line
        self.eof = False
        self.partial = b""
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            chunk = os.read(self.fd, SLOW_CHUNK if self.slow else 65536)
            if not chunk:
                self.eof = True
                return
            now = time.monotonic()
            lines = (self.partial + chunk).split(b"\n")
            self.partial = lines.pop()
            self.shown.extend(now for l in lines if l.startswith(b"carol: "))
            self.last = lines[-1] if lines else self.last
            if self.slow:
                time.sleep(SLOW_GAP)


def in_write(pid):
    """Whether pid is in write(2) now (x86-64 and arm64 number it 1 and 64); None if /proc
    does not say."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            first = f.read().split()[0]
    except (OSError, IndexError):
        return None
    return first == ("64" if os.uname().machine == "aarch64" else "1")


def report(what, proto, t0, leave, exited, bob_rate, extra=""):
    print("\n%s %s: bob got %d lines/s; Ctrl-C -> leave seen %.3f s, qun exited %.3f s%s"
          % (what, proto, bob_rate, leave - t0, exited - t0, extra))


@pytest.mark.parametrize("reader", ["keeps-up", "slow-then-fast", "slow"])
def test_ctrl_c_on_pipes(session, proto, reader):
    """SIGINT to qun's process group while 2,000 lines/s arrive: bob sees
    alice leave within 1 s, and qun exits 0 soon after (once it has shown
    what it holds, when its reader is slow)."""
    srv, bob, carol = room(session, proto)
    q = session.qun_pipe(srv.port, *(["--legacy"] if proto == "v1" else []), "alice")
    out = Reader(q.stdout, reader != "keeps-up")
    err = []
    threading.Thread(target=lambda: err.extend(q.stderr.read().splitlines()), daemon=True).start()
    bob.wait_join()
    carol.start()
    if reader != "keeps-up":
        # Two seconds of flood against a reader of some 400 lines/s: qun is far behind,
        # and (where /proc tells) seen blocked in write(2) on its stdout.
        assert wait_until(lambda: carol.sent >= 2 * RATE, 3 * WAIT)
        assert len(out.shown) < carol.sent / 2, (len(out.shown), carol.sent)
        assert wait_until(lambda: in_write(q.pid) is not False), "qun never blocked writing"
    else:
        # A second of the flood shown, at the flood's rate.
        assert wait_until(lambda: len(out.shown) >= RATE, 3 * WAIT), len(out.shown)
    assert q.poll() is None, "qun ended during the flood: %s %r" % (q.returncode, err)
    t0 = time.monotonic()
    os.killpg(q.pid, signal.SIGINT)
    leave = bob.wait_leave(LEAVE_WITHIN + WAIT)
    if reader == "slow-then-fast":
        out.slow = False
    limit = SLOW_EXIT_WITHIN if reader == "slow" else EXIT_WITHIN
    assert wait_until(lambda: q.poll() is not None, limit + WAIT, interval=0.005), \
        "qun still running %.0f s after SIGINT" % (limit + WAIT)
    exited = time.monotonic()
    carol.stop = True
    bob_rate = bob.rate(t0)
    assert wait_until(lambda: out.eof), "qun's stdout still open after it exited"
    report("pipes, reader %s" % reader, proto, t0, leave or float("nan"), exited, bob_rate,
           ", qun showed %d lines" % len(out.shown))
    assert bob_rate >= 0.8 * RATE, "the flood reached bob at %d lines/s only" % bob_rate
    assert leave is not None, "bob never saw alice leave"
    assert leave - t0 <= LEAVE_WITHIN, "bob saw alice leave %.2f s after SIGINT" % (leave - t0)
    assert exited - t0 <= limit, "qun exited %.2f s after SIGINT" % (exited - t0)
    assert q.returncode == 0, "qun exited %s: %r" % (q.returncode, err)
    assert out.last == b"you have left the room", out.last


def test_ctrl_c_in_tmux(session, proto):
    """The Ctrl-C key in tmux while 2,000 lines/s arrive: bob sees alice
    leave within 1 s of the key, and qun exits 0 soon after."""
    srv, bob, carol = room(session, proto)
    t = session.qun_tmux(srv.port, "--lang", "en", *(["--legacy"] if proto == "v1" else []),
                         "alice")
    bob.wait_join()
    ui = wait_until(lambda: children(t.pane_pid()))
    assert len(ui) == 1, ui
    ui = next(iter(ui))
    carol.start()
    assert wait_until(lambda: carol.sent >= RATE, 3 * WAIT)
    t.wait_text("carol: flood line")
    assert alive(ui), "qun ended during the flood:\n" + t.text()
    t0 = time.monotonic()
    t.keys("C-c")
    leave = bob.wait_leave(LEAVE_WITHIN + WAIT)
    assert wait_until(lambda: not alive(ui), EXIT_WITHIN + WAIT, interval=0.005), \
        "qun still running %.0f s after Ctrl-C" % (EXIT_WITHIN + WAIT)
    exited = time.monotonic()
    carol.stop = True
    bob_rate = bob.rate(t0)
    report("tmux", proto, t0, leave or float("nan"), exited, bob_rate)
    assert bob_rate >= 0.8 * RATE, "the flood reached bob at %d lines/s only" % bob_rate
    assert leave is not None, "bob never saw alice leave"
    assert leave - t0 <= LEAVE_WITHIN, "bob saw alice leave %.2f s after Ctrl-C" % (leave - t0)
    assert exited - t0 <= EXIT_WITHIN, "qun exited %.2f s after Ctrl-C" % (exited - t0)
    t.wait_text("QUN-EXIT=0")
