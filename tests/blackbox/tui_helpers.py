# tui_helpers.py - helpers for the terminal-interface tests: qund, UDP members, a fake server, tmux.
"""Helpers for test_tui.py, test_plain.py and test_extensions.py.

The server is qund's default, protocol v2 (with the flood limits widened,
so a test may send 50 messages at once); `session.server(legacy=True)`
adds v1 (--legacy).  Members speak the server's protocol: v1 by hand on a
v1 server, v2 through v2client.py otherwise, behind one interface that
takes v1 requests ("C bob text") and gives back the room's lines as v1
would phrase them, so one test reads the same for both.

Every wait here polls a condition with a deadline and returns as soon as
it holds: nothing sleeps and hopes.  The deadlines are generous because
the same tests run under AddressSanitizer, which starts programs slowly.

qun runs in a tmux server of its own (tmux -L, one per test), in a
100x30 window; the tests type with send-keys and read the screen with
capture-pane.  Sanitizer reports go to files (ASAN_OPTIONS log_path),
because a report written to a tmux pane would scroll away unseen; every
fixture checks those files when its test ends.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unicodedata

import pytest

import v2client
from conftest import read_line  # the one deadline-bound read of a pipe

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("QUN_BUILD") or os.path.join(REPO, "build")
QUND = os.path.join(BUILD, "qund")
QUN = os.path.join(BUILD, "qun")

WAIT = float(os.environ.get("QUN_TEST_WAIT", "8"))  # deadline for what must happen
QUIET = 0.3  # how long "nothing else arrives" is watched, after a positive control
COLS, ROWS = 100, 30

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def wait_until(pred, timeout=WAIT, interval=0.02):
    """Poll pred() until it is true or timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def sanitizer_env(logdir, **extra):
    """Our environment with a UTF-8 locale and sanitizer reports logged to files in logdir."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("LC_") or k in ("LANG", "LANGUAGE", "NO_COLOR", "TMUX"))}
    env["LANG"] = "C.UTF-8"
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        opts = env.get(var, "")
        env[var] = (opts + ":" if opts else "") + "log_path=" + os.path.join(logdir, "san")
    env.update(extra)
    return env


def sanitizer_reports(logdir):
    """Sanitizer reports logged in logdir, as one string ('' if none)."""
    out = []
    for name in sorted(os.listdir(logdir)):
        if name.startswith("san"):
            with open(os.path.join(logdir, name), errors="replace") as f:
                text = f.read()
            if any(m in text for m in SANITIZER_MARKS):
                out.append(text)
    return "\n".join(out)


# ---------------------------------------------------------------------------
# The server, and members that speak v1 by hand.

WIDE_LIMITS = ["--max-per-address", "1000", "--flood-burst", "1000", "--flood-rate", "1000",
               "--max-v1", "1000", "--v1-login-burst", "1000", "--v1-login-rate", "1000"]


class Server:
    """qund on 127.0.0.1, a kernel-chosen port, its console on a pipe.

    Protocol v2 only, qund's default; with legacy, v1 as well (--legacy)."""

    def __init__(self, logdir, lang="zh", args=(), legacy=False):
        if not os.access(QUND, os.X_OK):
            pytest.fail("qund not built: %s (set QUN_BUILD or run make)" % QUND)
        self.legacy = legacy
        extra = WIDE_LIMITS + (["--legacy"] if legacy else [])
        self.proc = subprocess.Popen([QUND, "-b", "127.0.0.1", "-p", "0", "--lang", lang]
                                     + extra + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=sanitizer_env(logdir))
        try:
            line = read_line(self.proc.stdout, WAIT, "qund's first line").decode()
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        m = re.match(r"^listening on (.+):(\d+)$", line.strip())
        assert m, "qund's first line: %r" % line
        self.port = int(m.group(2))
        self.lang = lang

    def say(self, line):
        """A line on the operator console."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class Member:
    """A UDP socket logged in (or not) to a server, recording what it receives."""

    def __init__(self, port, name=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = ("127.0.0.1", port)
        self.name = name
        if name is not None:
            self.send("L " + name)
            self.expect("OK")

    def send(self, data):
        self.sock.sendto(data.encode() if isinstance(data, str) else data, self.server)

    def recv(self, timeout=WAIT):
        """The next datagram as bytes, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            return self.sock.recvfrom(65536)[0]
        except (socket.timeout, ConnectionRefusedError):
            return None

    def recv_text(self, timeout=WAIT):
        d = self.recv(timeout)
        return None if d is None else d.decode("utf-8", "backslashreplace")

    def expect(self, text, timeout=WAIT):
        got = self.recv_text(timeout)
        assert got == text, "expected %r next, got %r" % (text, got)

    def wait_for(self, text, timeout=WAIT):
        """Receive until a datagram equals text; return what came before it."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv_text(max(0.0, deadline - time.monotonic()))
            if got is None:
                pytest.fail("never got %r; got %r" % (text, before))
            if got == text:
                return before
            before.append(got)

    def silent(self, seconds=QUIET):
        got = self.recv(seconds)
        assert got is None, "expected nothing, got %r" % got

    def close(self):
        self.sock.close()


# How v1 phrases each event (docs/PROTOCOL.md), for v2 members' lines: [zh, en].
PHRASES = {
    v2client.EV_JOIN: ("{n} 进入了聊天室", "{n} joined the room"),
    v2client.EV_SAY: ("{n} 说：{t}", "{n}: {t}"),
    v2client.EV_LEAVE: ("{n} 退出了聊天室", "{n} left the room"),
    v2client.EV_TIMEOUT: ("{n} 退出了聊天室（超时）", "{n} left the room (timed out)"),
    v2client.EV_KICK: ("{n} 被管理员请出了聊天室", "{n} was removed by the admin"),
    v2client.EV_ADMIN: ("管理员 说：{t}", "[admin] {t}"),
    v2client.EV_SHUTDOWN: ("服务器即将关闭", "the server is shutting down"),
    v2client.EV_ACTION: ("* {n} {t}", "* {n} {t}"),
}


class Member2:
    """A v2 member (v2client.V2Client) with Member's interface.

    send() takes the v1 requests C, A, Q and W and does the same in v2;
    what the room says comes back as the lines a v1 member would get (in
    the server's language), NOTICEs as their text."""

    def __init__(self, port, name, lang="zh"):
        self.name = name
        self.lang = 0 if lang == "zh" else 1
        self.c = v2client.V2Client(("127.0.0.1", port), label="member-" + name, keepalive=1.0)
        self.c.login(name, timeout=WAIT)
        self.seen = 0     # lines handed out so far
        self.notices = 0  # NOTICEs turned into lines so far
        self.lines = []

    def send(self, data):
        data = data.decode() if isinstance(data, bytes) else data
        cmd, _, rest = data.partition(" ")
        name, _, text = rest.partition(" ")
        assert name == self.name, "a v2 member speaks only for itself: %r" % data
        if cmd == "C":
            self.c.say(text)
        elif cmd == "A":
            self.c.me(text)
        elif cmd == "W":
            self.c.who()
        elif cmd == "Q":
            self.c.send_payload(v2client.quit_payload())
        else:
            raise AssertionError("no v2 equivalent of %r" % data)

    def _collect(self):
        """Turn new events and notices into lines (under the client's lock)."""
        with self.c.cond:
            for e in self.c.events[len(self.lines) - self.notices:]:
                self.lines.append(PHRASES[e.event][self.lang].format(
                    n=e.name.decode("utf-8", "backslashreplace"),
                    t=e.text.decode("utf-8", "backslashreplace")))
            while self.notices < len(self.c.notices):
                self.lines.append(self.c.notices[self.notices].text)
                self.notices += 1

    def recv_text(self, timeout=WAIT):
        """The next line, or None."""
        def more():
            self._collect()
            return len(self.lines) > self.seen
        if not wait_until(more, timeout):
            return None
        self.seen += 1
        return self.lines[self.seen - 1]

    def expect(self, text, timeout=WAIT):
        got = self.recv_text(timeout)
        assert got == text, "expected %r next, got %r" % (text, got)

    def wait_for(self, text, timeout=WAIT):
        before = []
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv_text(max(0.0, deadline - time.monotonic()))
            if got is None:
                pytest.fail("never got %r; got %r" % (text, before))
            if got == text:
                return before
            before.append(got)

    def silent(self, seconds=QUIET):
        got = self.recv_text(seconds)
        assert got is None, "expected nothing, got %r" % got
        assert not self.c.errors, self.c.errors

    def close(self):
        self.c.close()


class FakeServer:
    """A UDP socket playing the server: answers L with OK, sends anything, records requests."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.client = None

    def accept_login(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                break
            if data.startswith(b"L "):
                self.client = addr
                self.send(b"OK")
                return
        pytest.fail("the fake server got no login")

    def send(self, data):
        self.sock.sendto(data, self.client)

    def close(self):
        self.sock.close()


class FakeServer2:
    """A UDP socket playing a v2 server: lets one client in, then sends it any room events.

    A thread answers HELLO with COOKIE and LOGIN with WELCOME, and
    acknowledges the client's DATA; event() sends one EVENT (reliably
    numbered, so the client takes it) with any name and text bytes, which
    no real server would ever relay."""

    SID = b"\x00\x11\x22\x33\x44\x55\x66\x77"

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.client = None
        self.seq = 0
        self.eid = 0
        self.up = False
        self.stopping = False
        import threading
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import struct
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            try:
                body = v2client.unseal(data)
            except v2client.Malformed:
                continue
            t = body[2]
            if t == v2client.HELLO:
                self.sock.sendto(v2client.seal(bytes((0xFE, 2, v2client.COOKIE)) + body[3:11]
                                               + b"c" * 16), addr)
            elif t == v2client.LOGIN:
                self.client = addr
                self.sock.sendto(v2client.seal(bytes((0xFE, 2, v2client.WELCOME)) + body[3:11]
                                               + self.SID + struct.pack(">HH", 25, 4000)),
                                 addr)
                self.up = True
            elif t == v2client.DATA and body[3:11] == self.SID:
                seq = struct.unpack(">I", body[11:15])[0]
                self.sock.sendto(v2client.session(v2client.ACK, self.SID, 0, seq, 0), addr)

    def accept_login(self, timeout=WAIT):
        if not wait_until(lambda: self.up, timeout):
            pytest.fail("the fake v2 server got no login")

    def event(self, event, name=b"", text=b""):
        """Send one room event (v2client.EV_*) with raw name and text bytes."""
        self.seq += 1
        self.eid += 1
        self.sock.sendto(v2client.session(v2client.DATA, self.SID, self.seq, 0, 0,
                                          v2client.event_payload(self.eid, event, name, text)),
                         self.client)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


# ---------------------------------------------------------------------------
# qun in tmux.

class Tmux:
    """A tmux server of our own with one 100x30 window running a shell command."""

    def __init__(self, command, env):
        # A socket of our own, in a short private directory (socket paths are short).
        self.dir = tempfile.mkdtemp(prefix="qt")
        self.sock = os.path.join(self.dir, "s")
        self.env = env
        # -f /dev/null: no user configuration; the window's TERM is tmux's default.
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", str(COLS), "-y", str(ROWS),
                  "-s", "t", command)
        self.tmux("set-option", "-g", "history-limit", "2000")

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", self.sock] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT)
        if check and r.returncode != 0:
            raise AssertionError("tmux %s: %s" % (" ".join(args), r.stderr.decode()))
        return r.stdout.decode("utf-8", "replace")

    def keys(self, *keys):
        """Press keys by tmux name (Enter, BSpace, Up, C-c, ...)."""
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text):
        """Type text literally."""
        self.tmux("send-keys", "-t", "t", "-l", text)

    def screen(self, history=False, joined=False, escapes=False):
        """The window's text, a list of lines (trailing blanks cut)."""
        args = ["capture-pane", "-p", "-t", "t"]
        if history:
            args += ["-S", "-"]
        if joined:
            args.append("-J")
        if escapes:
            args.append("-e")
        return [l.rstrip() for l in self.tmux(*args).split("\n")]

    def text(self, **kw):
        return "\n".join(self.screen(**kw))

    def cursor(self):
        x, y = self.tmux("display-message", "-p", "-t", "t", "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def resize(self, cols, rows=ROWS):
        """Resize the window, and wait until the terminal's size (the kernel's) follows.

        tmux reflows its screen at once but tells the pty (TIOCSWINSZ, hence
        SIGWINCH) a moment later; a program that draws in between measures
        the old width against the new screen, as it would in any terminal
        racing its own resize.  The test waits for the kernel's size.
        """
        self.tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))
        tty = self.tmux("display-message", "-p", "-t", "t", "#{pane_tty}").strip()

        def size():
            r = subprocess.run(["stty", "-F", tty, "size"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=WAIT)
            return r.stdout.decode().split() == [str(rows), str(cols)]

        assert wait_until(size), "the terminal never became %dx%d" % (cols, rows)

    def pane_pid(self):
        return int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def wait_screen(self, pred, timeout=WAIT, **kw):
        """Wait until pred(list of lines) holds; fail with the screen if it never does."""
        last = []

        def check():
            last[:] = self.screen(**kw)
            return pred(last)

        if not wait_until(check, timeout):
            pytest.fail("screen never matched; it shows:\n" + "\n".join(last))
        return last

    def wait_text(self, text, timeout=WAIT, **kw):
        """Wait until text appears anywhere on the screen."""
        return self.wait_screen(lambda lines: text in "\n".join(lines), timeout, **kw)

    def input_line(self):
        """The input line: the rows from the last one starting with the prompt, joined.

        Rows are joined by hand rather than with capture-pane -J, because
        where a wide character does not fit at the end of a row libedit
        pads the row and tmux no longer counts the next as its wrap.
        """
        rows = [l for l in self.screen() if l]
        for i in range(len(rows) - 1, -1, -1):
            if rows[i].startswith(">"):
                return "".join(rows[i:])
        return ""

    def wait_input(self, want, timeout=WAIT, at_end=True):
        """Wait until the input line reads "> " + want (with at_end, the cursor at its end).

        capture-pane drops trailing blanks, so on a line that fits one row
        the cursor's column tells trailing spaces apart.
        """
        got = []
        line = "> " + want
        cols = int(self.tmux("display-message", "-p", "-t", "t", "#{window_width}"))

        def check():
            got[:] = [self.input_line()]
            if got[0] != line.rstrip():
                return False
            return not at_end or width(line) >= cols or self.cursor()[0] == width(line)

        if not wait_until(check, timeout):
            pytest.fail("input line is %r, expected %r; screen:\n%s"
                        % (got[0], "> " + want, self.text()))

    def programs(self):
        """The processes started in the window (the shell's descendants), deepest last."""
        try:
            todo, out = [self.pane_pid()], []
        except (AssertionError, ValueError):
            return []
        while todo:
            kids = sorted(children(todo.pop()))
            out += kids
            todo += kids
        return out

    def kill(self):
        """Stop what runs in the window, then tmux.  Returns the pids that would not stop.

        qun is asked to leave (SIGTERM) and given time before tmux goes: a
        hang-up that kills the window's shell while qun is still exiting
        leaves qun in an orphaned process group, and the kernel's
        SIGHUP+SIGCONT to such a group can wedge LeakSanitizer's exit check.
        """
        stuck = []
        progs = [p for p in self.programs() if alive(p)]
        for p in progs:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if not wait_until(lambda: not any(alive(p) for p in progs)):
            stuck = [p for p in progs if alive(p)]
        self.tmux("kill-server", check=False)
        for p in stuck:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        return stuck


def width(s):
    """Terminal columns of s: two for wide (East Asian W/F) characters."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def children(pid):
    """Direct children of pid, from /proc."""
    out = set()
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.update(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return False
    return s[s.rindex(")") + 2] not in "ZX"


class Session:
    """What one test uses: a log directory, servers, members, fake servers, tmux windows."""

    def __init__(self, tmpdir):
        self.dir = str(tmpdir)
        self.items = []

    def server(self, lang="zh", args=(), legacy=False):
        s = Server(self.dir, lang, args, legacy)
        self.items.append(s)
        return s

    def member(self, server, name):
        """A member logged in as name: v1 by hand on a legacy server, else v2."""
        m = Member(server.port, name) if server.legacy else Member2(server.port, name,
                                                                      server.lang)
        self.items.append(m)
        return m

    def fake2(self):
        f = FakeServer2()
        self.items.append(f)
        return f

    def fake(self):
        f = FakeServer()
        self.items.append(f)
        return f

    def env(self, **extra):
        extra.setdefault("HOME", self.dir)
        extra.setdefault("XDG_STATE_HOME", os.path.join(self.dir, "state"))
        return sanitizer_env(self.dir, **extra)

    def qun_tmux(self, port, *args, env=None):
        """qun in a tmux window, between two snapshots of the terminal settings.

        The shell in the window writes `stty -g` to stty.before and
        stty.after around qun, then prints QUN-EXIT=<status> and waits.
        """
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed (scripts/deps.sh check installs it)")
        env = env or self.env()
        argv = " ".join(shlex.quote(a) for a in [QUN, "-s", "127.0.0.1", "-p", str(port)]
                        + list(args))
        d = shlex.quote(self.dir)
        cmd = ("stty -g > %s/stty.before; %s; echo QUN-EXIT=$?; stty -g > %s/stty.after; "
               "exec sleep 600" % (d, argv, d))
        t = Tmux(cmd, env)
        self.items.append(t)
        return t

    def qun_pipe(self, port, *args, env=None):
        """qun on pipes (plain mode), in a session of its own."""
        p = subprocess.Popen([QUN, "-s", "127.0.0.1", "-p", str(port)] + list(args),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env or self.env(),
                             start_new_session=True)
        self.items.append(p)
        return p

    def stty(self, which):
        with open(os.path.join(self.dir, "stty." + which)) as f:
            return f.read().strip()

    def cleanup(self):
        """Stop everything; return a list of problems (sanitizer reports included)."""
        problems = []
        for item in reversed(self.items):
            if isinstance(item, subprocess.Popen):
                if item.poll() is None:
                    item.kill()
                item.wait()
                for f in (item.stdin, item.stdout, item.stderr):
                    if f is not None:
                        f.close()
            elif isinstance(item, Tmux):
                stuck = item.kill()
                if stuck:
                    problems.append("processes in the tmux window would not stop: %r" % stuck)
            elif isinstance(item, Server):
                item.stop()
            else:
                item.close()
        reports = sanitizer_reports(self.dir)
        if reports:
            problems.append("sanitizer report:\n" + reports)
        return problems


@pytest.fixture
def session(tmp_path):
    """Everything a test starts, stopped when it ends; fails on any sanitizer report.

    A test that puts qun in tmux is skipped, with the reason, where tmux is
    missing; the others (pipes, UDP) run anyway."""
    s = Session(tmp_path)
    try:
        yield s
    finally:
        problems = s.cleanup()
        assert not problems, "\n".join(problems)
