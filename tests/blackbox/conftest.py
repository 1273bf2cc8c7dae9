# conftest.py - shared helpers for the black-box tests: start qund/qun, talk UDP, inspect /proc.
"""Helpers and fixtures for the black-box tests of qund and qun.

Everything here waits for a condition with a deadline instead of sleeping:
positive waits (a line, a datagram, a process exit) return as soon as the
condition holds, so their deadlines can be generous for the slow sanitizer
build.  The only fixed waits are short "nothing more arrives" windows, and
tests use them only after a positive control has shown the path works.

While a test that starts processes runs, this process is a child subreaper
(prctl PR_SET_CHILD_SUBREAPER): a qun or qund child whose parent died is
re-parented to us instead of init, so the tests can see orphans and zombies
that the programs leave behind, and reap them.
"""

import codecs
import ctypes
import io
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("QUN_BUILD") or os.path.join(REPO, "build")
QUND = os.path.join(BUILD, "qund")
QUN = os.path.join(BUILD, "qun")
LESSON_SERVER = os.path.join(HERE, "lesson_server.py")

# Deadline for things that must happen (returns early when they do).
WAIT = float(os.environ.get("QUN_TEST_WAIT", "5"))
# Deadline for a server to print its first line (sanitizer start-up is slow).
STARTUP = 10.0
# How long "nothing else arrives" is watched, after a positive control.
QUIET = 0.3

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "UndefinedBehaviorSanitizer")

# ---------------------------------------------------------------------------
# The texts of docs/PROTOCOL.md, per language.

EVENTS = {
    "zh": {
        "join": "{} 进入了聊天室",
        "say": "{} 说：{}",
        "leave": "{} 退出了聊天室",
        "timeout": "{} 退出了聊天室（超时）",
        "kick": "{} 被管理员请出了聊天室",
        "admin": "管理员 说：{}",
        "shutdown": "服务器即将关闭",
        "who_header": re.compile(r"^在线 (\d+) 人：$"),
    },
    "en": {
        "join": "{} joined the room",
        "say": "{}: {}",
        "leave": "{} left the room",
        "timeout": "{} left the room (timed out)",
        "kick": "{} was removed by the admin",
        "admin": "[admin] {}",
        "shutdown": "the server is shutting down",
        "who_header": re.compile(r"^(\d+) member\(s\) online:$"),
    },
}

REFUSALS = {
    "zh": {
        "taken": "名字已被占用",
        "name_empty": "名字不能为空",
        "name_long": "名字太长（最多 32 字节）",
        "name_utf8": "名字不是 UTF-8",
        "name_space": "名字不能含空格",
        "name_control": "名字含不可见字符",
        "reserved": "该名字已保留",
        "other_name": "此地址已用另一个名字登录",
        "full": "聊天室已满",
        "text_empty": "消息不能为空",
        "text_long": "消息太长（最多 1000 字节）",
        "text_utf8": "消息不是有效的 UTF-8",
        "text_control": "消息不能包含控制字符",
        "datagram_long": "数据报太长（最多 1200 字节）",
        "malformed": "无法识别的请求",
        "too_many": "此 IP 人数已满",
        "flood": "发言太快，请稍后再说",
        "banned": "你已被禁止进入聊天室",
    },
    "en": {
        "taken": "name already taken",
        "name_empty": "name is empty",
        "name_long": "name too long (at most 32 bytes)",
        "name_utf8": "name is not UTF-8",
        "name_space": "no spaces in names",
        "name_control": "hidden character in name",
        "reserved": "name is reserved",
        "other_name": "this address is already logged in under another name",
        "full": "room is full",
        "text_empty": "message is empty",
        "text_long": "message too long (at most 1000 bytes)",
        "text_utf8": "message is not valid UTF-8",
        "text_control": "message must not contain control characters",
        "datagram_long": "datagram too long (at most 1200 bytes)",
        "malformed": "malformed request",
        "too_many": "too many from this IP",
        "flood": "you are sending too fast; slow down",
        "banned": "you are banned from this room",
    },
}


def ev(lang, kind, *args):
    """The event text `kind` of docs/PROTOCOL.md in `lang`, filled with args."""
    return EVENTS[lang][kind].format(*args)


def refusal(lang, reason):
    """The refusal text for `reason` in `lang`."""
    return REFUSALS[lang][reason]


def all_refusals(lang):
    """Every refusal text of `lang`, plus the short form ERR."""
    return set(REFUSALS[lang].values()) | {"ERR"}


def padded(request, size=200):
    """An L request padded with trailing spaces, so the full reason fits in a reply."""
    data = request.encode() if isinstance(request, str) else request
    return data + b" " * max(0, size - len(data))


# ---------------------------------------------------------------------------
# Waiting and /proc.

def wait_until(pred, timeout=WAIT, interval=0.01):
    """Poll pred() until it is true or timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def children(pid):
    """Direct children of pid (zombies included, until reaped), from /proc."""
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


def descendants(pid):
    """All descendants of pid, depth first."""
    out = []
    for c in sorted(children(pid)):
        out.append(c)
        out.extend(descendants(c))
    return out


def _stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return fields  # fields[0] = state, fields[1] = ppid


def proc_state(pid):
    """The one-letter state of pid (R, S, Z, ...), or None if there is no such process."""
    st = _stat(pid)
    return st[0] if st else None


def proc_ppid(pid):
    """The parent pid of pid, or None."""
    st = _stat(pid)
    return int(st[1]) if st else None


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def udp_port_bound(port):
    """True if any UDP socket (IPv4 or IPv6) on this host is bound to port."""
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    if int(local.rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def port_owners(port):
    """Who holds UDP port: a list of "pid (command) addr" strings, for failure messages."""
    inodes = {}
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes["socket:[%s]" % fields[9]] = fields[1]
        except OSError:
            pass
    owners = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                if link in inodes:
                    with open("/proc/%s/cmdline" % pid, "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                    owners.append("%s (%s) ppid %s %s" % (pid, cmd, proc_ppid(int(pid)), inodes[link]))
        except OSError:
            pass
    return owners or ["no process (sockets %s)" % list(inodes.values())]


def port_free(port, host="127.0.0.1"):
    """True if a new UDP socket can bind host:port, i.e. nothing holds that address."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def assert_port_free(port, host="127.0.0.1", timeout=WAIT):
    """Assert that host:port (UDP) can be bound again within timeout.

    Binding is the test, not /proc/net/udp: other programs on a busy machine
    may hold the same port number on other addresses (127.0.0.2, ...)
    without being in the way.  On failure the message names every holder."""
    if not wait_until(lambda: port_free(port, host), timeout):
        pytest.fail("UDP %s:%d still bound %.0f s after the server exited, by: %s"
                    % (host, port, timeout, "; ".join(port_owners(port))))


def ipv6_loopback():
    """True if ::1 can be bound on this host."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


# Pids this process created itself (Popen, pexpect).  Any other child of ours
# is a process we adopted as subreaper: an orphan, or a zombie nobody reaped.
SPAWNED = set()

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on):
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def adopted(pid):
    """True if pid is a child of ours that we did not start: it was orphaned."""
    return proc_ppid(pid) == os.getpid() and pid not in SPAWNED


def reap_adopted(pid):
    """Reap pid if it is an adopted zombie.  Returns True if it was reaped."""
    if adopted(pid) and proc_state(pid) == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return True
    return False


class Gone:
    """How a process ended: whether it is gone and whether it was orphaned first."""

    def __init__(self, pid, gone, orphaned, state):
        self.pid, self.gone, self.orphaned, self.state = pid, gone, orphaned, state

    def __repr__(self):
        return "pid %d: gone=%s orphaned=%s last state=%s" % (
            self.pid, self.gone, self.orphaned, self.state)


def wait_gone(pid, timeout=WAIT):
    """Wait until pid has ended and been reaped.

    A process that was re-parented to us (its parent died first, or died
    without reaping it) is noted as orphaned and reaped here, since nobody
    else will.  Returns a Gone record.
    """
    orphaned = False
    deadline = time.monotonic() + timeout
    state = proc_state(pid)
    while True:
        if state is None:
            return Gone(pid, True, orphaned, None)
        if adopted(pid):
            orphaned = True
            if reap_adopted(pid):
                return Gone(pid, True, orphaned, "Z")
        if time.monotonic() >= deadline:
            return Gone(pid, False, orphaned, state)
        time.sleep(0.01)
        state = proc_state(pid)


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def sanitizer_report(text):
    """The first sanitizer report line in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line
    return None


def base_env(lang="C.UTF-8", **extra):
    """The environment for a program under test: ours without locale variables, plus LANG."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("LC_") or k in ("LANG", "LANGUAGE"))}
    if lang is not None:
        env["LANG"] = lang
    env.update(extra)
    return env


# ---------------------------------------------------------------------------
# Reading a program's output.

def read_line(pipe, timeout, what):
    """One line (bytes, newline included) from a child's pipe within timeout seconds.

    For a first line (a server's "listening on ..."), before anything else
    reads the pipe: it takes a byte at a time from the file descriptor, so
    nothing after the newline leaves the pipe and a buffered reader or a
    LineReader started later gets all of it.  At EOF it returns what came,
    as readline() does; past the deadline the test fails, naming `what` and
    showing what had come."""
    fd = pipe.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    line = bytearray()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("%s: no complete line within %g s; got %r"
                        % (what, timeout, bytes(line)))
        if poller.poll(left * 1000):
            b = os.read(fd, 1)
            if not b:
                break
            line += b
    return bytes(line)


class LineReader:
    """Reads lines from a binary pipe on a thread, so tests can wait for them with deadlines."""

    def __init__(self, pipe, name):
        self.pipe = pipe
        self.name = name
        self.raw = bytearray()
        self.lines = []  # decoded, without the newline
        self.eof = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self):
        dec = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        partial = ""
        while True:
            try:
                chunk = os.read(self.pipe.fileno(), 65536)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    if partial:
                        self.lines.append(partial)
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.raw += chunk
                partial += dec.decode(chunk)
                *done, partial = partial.split("\n")
                self.lines.extend(done)
                self.cond.notify_all()

    def mark(self):
        """The number of complete lines so far: pass it as `start` to wait for newer ones."""
        with self.cond:
            return len(self.lines)

    def text(self):
        with self.cond:
            return bytes(self.raw).decode("utf-8", "backslashreplace")

    def wait_for(self, pred, timeout=WAIT, start=0):
        """Wait for a line (at index >= start) satisfying pred; return (index, line) or None."""
        if isinstance(pred, str):
            want = pred
            pred = lambda l: l == want  # noqa: E731
        elif isinstance(pred, re.Pattern):
            rx = pred
            pred = lambda l: rx.search(l) is not None  # noqa: E731
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    if pred(self.lines[i]):
                        return i, self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(left)

    def wait_count(self, n, timeout=WAIT):
        """Wait until at least n lines have been read; return a copy of the lines."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.lines) < n and not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.lines)

    def wait_eof(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


# ---------------------------------------------------------------------------
# The server.

LISTEN_RE = re.compile(r"^listening on (.+):(\d+)$")


# The v1 tests (test_server, test_security, test_client, test_hygiene) start
# qund through Procs.qund1: protocol v1 needs --legacy, and since all their
# clients share one IP address (loopback) and some send faster than a person
# types, the per-address cap, flood control and v1's containment (THREATS.md
# S5, S6, S7, tested elsewhere) are opened wide unless a test asks for the
# defaults.
LEGACY = ["--legacy"]
WIDE_LIMITS = ["--max-per-address", "1000", "--flood-burst", "1000", "--flood-rate", "1000",
               "--max-v1", "1000", "--v1-login-burst", "1000", "--v1-login-rate", "1000"]


class Qund:
    """A running qund with its console (stdin) and its stdout/stderr read on threads."""

    def __init__(self, args=(), lang="zh", bind="127.0.0.1", env=None):
        if not os.access(QUND, os.X_OK):
            pytest.fail("qund not built: %s (set QUN_BUILD or run make)" % QUND)
        argv = [QUND]
        if bind is not None:
            argv += ["-b", bind]
        argv += ["-p", "0"]
        if lang is not None:
            argv += ["--lang", lang]
        argv += list(args)
        self.argv = argv
        self.lang = lang or "en"
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=env if env is not None else base_env())
        self.pid = self.proc.pid
        SPAWNED.add(self.pid)
        self.out = LineReader(self.proc.stdout, "qund-stdout")
        self.err = LineReader(self.proc.stderr, "qund-stderr")
        self.console_pid = None
        first = self.out.wait_count(1, timeout=STARTUP)
        if not first:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("qund %s printed no first line within %ss; stderr: %r"
                        % (" ".join(argv), STARTUP, self.err.text()))
        m = LISTEN_RE.match(first[0])
        assert m, "qund's first line is %r, expected 'listening on HOST:PORT'" % first[0]
        self.host, self.port = m.group(1), int(m.group(2))
        assert self.port != 0, "qund reports port 0"

    # The operator console.
    def say(self, line):
        """Type one line on the operator console."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def console_child(self):
        """The pid of the console child: qund's only child while stdin is open."""
        kids = wait_until(lambda: children(self.pid))
        assert len(kids) == 1, "qund has children %s, expected exactly one (the console)" % kids
        self.console_pid = next(iter(kids))
        return self.console_pid

    def who(self):
        """Run /who; return the member lines as a list of (name, address)."""
        header = EVENTS[self.lang]["who_header"]
        mark = self.out.mark()
        self.say("/who")
        got = self.out.wait_for(header, start=mark)
        assert got, "no /who header on qund's stdout; got %r" % self.out.lines[mark:]
        idx, line = got
        n = int(header.match(line).group(1))
        lines = self.out.wait_count(idx + 1 + n)[idx + 1:idx + 1 + n]
        assert len(lines) == n, "/who announced %d members but printed %r" % (n, lines)
        rows = []
        for l in lines:
            m = re.match(r"^  (\S+) (\S+)$", l)
            assert m, "/who line %r is not '  NAME ADDR'" % l
            rows.append((m.group(1), m.group(2)))
        return rows

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=WAIT):
        """Wait for qund to exit; return its exit status (None if it did not)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self):
        """Stop qund if it still runs (SIGTERM, then SIGKILL); return a list of problems."""
        problems = []
        kids = descendants(self.pid) if self.running() else []
        if self.console_pid:
            kids = list(set(kids) | {self.console_pid})
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait(WAIT)
            if rc is None:
                problems.append("qund did not exit within %ss of SIGTERM" % WAIT)
                for k in kids:
                    kill_quietly(k)
                self.proc.kill()
                self.proc.wait()
            elif rc != 0:
                problems.append("qund exited %s after SIGTERM, expected 0" % rc)
        for k in kids:
            g = wait_gone(k, timeout=2)
            if not g.gone:
                kill_quietly(k)
                wait_gone(k, timeout=2)
                problems.append("qund's child %d outlived it" % k)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.out.wait_eof(2)
        self.err.wait_eof(2)
        rep = sanitizer_report(self.err.text())
        if rep:
            problems.append("sanitizer report on qund's stderr: %s" % rep)
        return problems


# ---------------------------------------------------------------------------
# A UDP client that speaks the protocol by hand.

def _text(data):
    """A datagram as text: UTF-8 decoded (bad bytes as \\xNN), one trailing newline dropped."""
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    return data.decode("utf-8", "backslashreplace")


class Udp:
    """A UDP socket on loopback that talks to one server and records what it receives."""

    def __init__(self, port, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.sock.bind((host, 0))
        self.server = (host, port)
        self.port = self.sock.getsockname()[1]
        self.addr = ("[%s]:%d" if fam == socket.AF_INET6 else "%s:%d") % (host, self.port)
        self.received = []  # every datagram, raw
        self.name = None     # set by login()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, self.server)

    def recv(self, timeout=WAIT):
        """The next datagram (raw bytes), or None if none comes within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                continue
            if src[1] != self.server[1]:
                continue  # not from our server
            self.received.append(data)
            return data

    def recv_text(self, timeout=WAIT):
        data = self.recv(timeout)
        return None if data is None else _text(data)

    def expect(self, text, timeout=WAIT):
        """Assert that the very next datagram is `text`."""
        got = self.recv_text(timeout)
        assert got == text, "%s expected %r next, got %r" % (self.addr, text, got)

    def wait_for(self, text, timeout=WAIT):
        """Receive until a datagram equals `text`; return the texts received before it."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv_text(max(0.0, deadline - time.monotonic()))
            if got is None:
                pytest.fail("%s never got %r; got before it: %r" % (self.addr, text, before))
            if got == text:
                return before
            before.append(got)

    def drain(self, seconds=QUIET):
        """Everything that arrives within `seconds`, as texts."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            got = self.recv_text(max(0.0, deadline - time.monotonic()))
            if got is None:
                return out
            out.append(got)

    def assert_silent(self, seconds=QUIET):
        """Assert that nothing arrives within `seconds`."""
        got = self.recv(seconds)
        assert got is None, "%s expected nothing, got %r" % (self.addr, got)

    def login(self, name):
        """Log in as name and assert the reply is OK."""
        self.send("L " + name)
        self.expect("OK")
        self.name = name
        return self

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------
# qun, on pipes or on a pseudo-terminal.

class QunPipe:
    """qun with stdin/stdout/stderr on pipes, in a session of its own."""

    def __init__(self, args, lang="C.UTF-8"):
        if not os.access(QUN, os.X_OK):
            pytest.fail("qun not built: %s" % QUN)
        self.proc = subprocess.Popen([QUN] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=base_env(lang), start_new_session=True)
        self.pid = self.proc.pid
        SPAWNED.add(self.pid)
        self.out = LineReader(self.proc.stdout, "qun-stdout")
        self.err = LineReader(self.proc.stderr, "qun-stderr")
        self.child_pid = None

    def send_line(self, line):
        data = line.encode() if isinstance(line, str) else line
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def child(self):
        """The receiver child's pid (qun forks it after login)."""
        kids = wait_until(lambda: children(self.pid))
        assert len(kids) == 1, "qun has children %s, expected exactly one" % kids
        self.child_pid = next(iter(kids))
        return self.child_pid

    def wait(self, timeout=WAIT):
        """Wait for qun to exit; return its status (None if it did not).

        Once it has exited, also wait (briefly) until everything it wrote has
        been read, so that a test may inspect its output in full."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.out.wait_eof(2)
        self.err.wait_eof(2)
        return rc

    def cleanup(self):
        problems = []
        pids = [self.pid] + descendants(self.pid)
        if self.child_pid:
            pids.append(self.child_pid)
        for p in set(pids):
            if p != self.pid and pid_alive(p):
                kill_quietly(p)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for p in set(pids) - {self.pid}:
            wait_gone(p, 2)
        for f in (self.proc.stdin,):
            try:
                f.close()
            except OSError:
                pass
        self.out.wait_eof(2)
        self.err.wait_eof(2)
        rep = sanitizer_report(self.err.text())
        if rep:
            problems.append("sanitizer report on qun's stderr: %s" % rep)
        return problems


class PtyQun:
    """qun on a pseudo-terminal (pexpect), registered for clean-up."""

    def __init__(self, args, lang="C.UTF-8", raw=False):
        if not os.access(QUN, os.X_OK):
            pytest.fail("qun not built: %s" % QUN)
        env = base_env(lang, TERM="dumb")
        self.log = io.BytesIO() if raw else io.StringIO()
        import pexpect  # only the client tests need it
        self.p = pexpect.spawn(QUN, list(args), env=env, timeout=WAIT, dimensions=(40, 200),
                               encoding=None if raw else "utf-8", codec_errors="replace")
        self.p.logfile_read = self.log
        self.pid = self.p.pid
        SPAWNED.add(self.pid)

    def __getattr__(self, name):
        return getattr(self.p, name)

    def exit_status(self, timeout=WAIT):
        """Wait for the terminal to close (both qun processes gone) and return the exit status."""
        import pexpect
        self.p.expect(pexpect.EOF, timeout=timeout)
        self.p.close()
        assert self.p.signalstatus is None, "qun killed by signal %s" % self.p.signalstatus
        return self.p.exitstatus

    def cleanup(self):
        for k in descendants(self.pid):
            kill_quietly(k)
        if self.p.isalive():
            kill_quietly(self.pid)
        try:
            self.p.close(force=True)
        except Exception:
            pass
        log = self.log.getvalue()
        if isinstance(log, bytes):
            log = log.decode("utf-8", "replace")
        rep = sanitizer_report(log)
        return ["sanitizer report from qun: %s" % rep] if rep else []


def pty_qun(procs, port, *args, **kw):
    """Start qun on a terminal against 127.0.0.1:port."""
    return procs.add(PtyQun(["-s", "127.0.0.1", "-p", str(port)] + list(args), **kw))


class Lesson:
    """tests/blackbox/lesson_server.py, the lesson's own server, on a kernel-chosen port."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, LESSON_SERVER, "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=base_env())
        SPAWNED.add(self.proc.pid)
        self.out = LineReader(self.proc.stdout, "lesson-stdout")
        first = self.out.wait_count(1, timeout=STARTUP)
        assert first, "lesson server printed nothing"
        m = LISTEN_RE.match(first[0])
        assert m, first[0]
        self.port = int(m.group(2))

    def cleanup(self):
        self.proc.kill()
        self.proc.wait()
        return []


# ---------------------------------------------------------------------------
# Fixtures.

class Procs:
    """Everything a test started, cleaned up (and checked) when the test ends."""

    def __init__(self):
        self.items = []
        self.sockets = []

    def add(self, item):
        self.items.append(item)
        return item

    def qund(self, *args, **kw):
        return self.add(Qund(args, **kw))

    def qund1(self, *args, default_limits=False, **kw):
        """A qund speaking v1 (--legacy), with wide limits unless default_limits is true."""
        extra = LEGACY + ([] if default_limits else WIDE_LIMITS)
        return self.add(Qund(tuple(extra) + args, **kw))

    def qun_pipe(self, *args, **kw):
        return self.add(QunPipe(args, **kw))

    def lesson(self):
        return self.add(Lesson())

    def udp(self, port, host="127.0.0.1"):
        u = Udp(port, host)
        self.sockets.append(u)
        return u

    def member(self, server, name, host="127.0.0.1"):
        """A UDP client logged in to server as name."""
        return self.udp(server.port, host).login(name)

    def cleanup(self):
        problems = []
        for s in self.sockets:
            s.close()
        for item in reversed(self.items):
            problems.extend(item.cleanup())
        return problems


@pytest.fixture
def procs():
    """Start processes through this; at the end they are stopped, reaped and checked.

    Fails the test (as a teardown error) if a server does not stop cleanly on
    SIGTERM with status 0, if a child outlives its parent, or if a sanitizer
    reported anything.
    """
    _set_subreaper(True)
    p = Procs()
    try:
        yield p
    finally:
        problems = p.cleanup()
        # Whatever we adopted and is still around is an orphan: kill and reap it.
        for pid in children(os.getpid()) - SPAWNED:
            if proc_state(pid) != "Z":
                problems.append("orphan process %d left behind" % pid)
                kill_quietly(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        _set_subreaper(False)
        assert not problems, "; ".join(problems)


@pytest.fixture
def v2(procs):
    """V2Clients for one test; at the end, none may have received anything malformed."""
    from v2client import ClientSet
    cs = ClientSet()
    yield cs
    errs = cs.close_all()
    assert not errs, "malformed datagrams from qund: %r" % errs


@pytest.fixture(params=["v1", "v2"])
def proto(request):
    """qun's protocol option: v1 (--legacy) or the default, v2; qund --legacy speaks both."""
    return ["--legacy"] if request.param == "v1" else []


@pytest.fixture
def qund(procs):
    """A v1 (--legacy) qund speaking Chinese on 127.0.0.1, kernel-chosen port."""
    return procs.qund1(lang="zh")


@pytest.fixture
def qund_en(procs):
    """A v1 (--legacy) qund speaking English on 127.0.0.1, kernel-chosen port."""
    return procs.qund1(lang="en")
