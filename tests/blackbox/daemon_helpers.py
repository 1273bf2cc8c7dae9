# daemon_helpers.py - helpers for the tests of qund as a daemon and of qunctl: start, signal, inspect /proc.
"""Helpers for test_daemon.py, test_qunctl.py and test_packaging.py.

Kept apart from conftest.py so that the two can change independently.
Every wait has a deadline and returns as soon as its condition holds; the
only fixed waits are short "nothing more arrives" windows after a positive
control.

A daemon started with `qund -d` double-forks: its parent is gone by the
time `qund -d` returns, so it would be re-parented to init, where the tests
could neither see its exit status nor tell a zombie from an orphan.  While
a test runs, this process is therefore a child subreaper
(PR_SET_CHILD_SUBREAPER): the daemon becomes our child, we reap it with
waitpid and check its status, and anything left behind shows up as our
child too.
"""

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from conftest import read_line  # the one deadline-bound read of a pipe

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("QUN_BUILD") or os.path.join(REPO, "build"))
QUND = os.path.join(BUILD, "qund")
QUNCTL = os.path.join(BUILD, "qunctl")

# Deadline for things that must happen (sanitizer builds start slowly).
WAIT = float(os.environ.get("QUN_TEST_WAIT", "10"))
# How long "nothing else arrives" is watched, after a positive control.
QUIET = 0.3

LISTEN_RE = re.compile(r"^listening on (.+):(\d+)$")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def env(lang="C.UTF-8", **extra):
    """A clean environment: no RUNTIME_DIRECTORY unless asked, a fixed locale."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("RUNTIME_DIRECTORY", "LANG", "LC_ALL", "LC_MESSAGES")}
    e["LC_ALL"] = lang
    e.update(extra)
    return e


def wait_until(pred, timeout=WAIT, interval=0.01):
    """Poll pred() until it is true or timeout passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------
# /proc

def proc_stat(pid):
    """(state, ppid, pgrp, session, tty_nr) of pid, or None if there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])


def proc_state(pid):
    st = proc_stat(pid)
    return st[0] if st else None


def alive(pid):
    return proc_state(pid) not in (None, "Z", "X")


def children(pid):
    """Direct children of pid (zombies included until reaped)."""
    out = set()
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.update(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def processes_mentioning(text):
    """Pids of live processes whose command line contains text (our unique temp dir)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if text.encode() in cmd:
            out.append(int(name))
    return out


def proc_status(pid):
    """/proc/PID/status as a dict of field -> value string."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


@contextlib.contextmanager
def subreaper():
    """Make this process a child subreaper for the duration (see the module's doc)."""
    libc = ctypes.CDLL(None, use_errno=True)
    was = ctypes.c_int(0)
    libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(was), 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, was.value, 0, 0, 0)


def reap(pid, timeout=WAIT):
    """Wait for our child pid to end; its exit status (or -signal), or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def zombie_children():
    """Our children that are zombies nobody reaped."""
    return [c for c in children(os.getpid()) if proc_state(c) == "Z"]


def reap_adopted():
    """Reap the zombies we adopted as subreaper (init's job otherwise); {pid: status}."""
    out = {}
    for pid in zombie_children():
        status = reap(pid, timeout=0)
        if status is not None:
            out[pid] = status
    return out


def exiting(pid):
    """Whether pid is on its way out: not a zombie yet, but its memory already gone (its
    command line reads empty), which under ASan, unmapping the shadow, takes a while."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read() == b"" and alive(pid)
    except OSError:
        return False


def reap_all_adopted(timeout=WAIT):
    """reap_adopted until none of our children is a zombie or still exiting (a process
    that no longer names our directory may not be a zombie yet).  True if so in time."""
    def settled():
        reap_adopted()
        return not any(exiting(c) or proc_state(c) == "Z" for c in children(os.getpid()))
    return wait_until(settled, timeout)


def logged_pid(log_text, needle):
    """The pid in "qund[PID]: ..." of the last log line containing needle, or None."""
    pid = None
    for line in log_text.splitlines():
        m = re.search(r" qund\[(\d+)\]: ", line)
        if m and needle in line:
            pid = int(m.group(1))
    return pid


def sanitizer_report(text):
    return any(m in text for m in SANITIZER_MARKS)


# ---------------------------------------------------------------------------
# qund as a daemon

class Daemon:
    """One `qund -d` run, with its files in a private directory."""

    def __init__(self, tmp, args=(), pidfile=None, control=None, log=None, lang="zh",
                 extra_env=None):
        self.tmp = str(tmp)
        self.pidfile = pidfile or os.path.join(self.tmp, "qund.pid")
        self.control = control or os.path.join(self.tmp, "qund.sock")
        self.log = log or os.path.join(self.tmp, "qund.log")
        self.argv = [QUND, "-d", "-b", "127.0.0.1", "-p", "0", "--legacy", "--lang", lang,
                     "--pidfile", self.pidfile, "--control", self.control, "--log", self.log]
        self.argv += list(args)
        self.env = env(**(extra_env or {}))
        self.pid = None
        self.port = None
        self.result = None

    def start(self, expect_ok=True):
        """Run `qund -d`; it must return promptly (the readiness pipe)."""
        self.result = subprocess.run(self.argv, stdin=subprocess.DEVNULL,
                                     capture_output=True, timeout=WAIT, env=self.env)
        out = self.result.stdout.decode()
        err = self.result.stderr.decode()
        assert not sanitizer_report(err), err
        if not expect_ok:
            return self.result
        assert self.result.returncode == 0, "qund -d failed: %r %r" % (out, err)
        m = LISTEN_RE.match(out.strip())
        assert m, "qund -d printed %r, expected 'listening on HOST:PORT'" % out
        self.port = int(m.group(2))
        with open(self.pidfile) as f:
            self.pid = int(f.read().strip())
        return self.result

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, needle, timeout=WAIT):
        return wait_until(lambda: needle in self.log_text(), timeout)

    def stop(self, sig=signal.SIGTERM):
        """Signal the daemon and reap it (it is our child: subreaper); return its status."""
        os.kill(self.pid, sig)
        return reap(self.pid)

    def cleanup(self):
        if self.pid is not None and alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            reap(self.pid)
        elif self.pid is not None:
            reap(self.pid, timeout=0)


class Foreground:
    """A foreground qund with a console on stdin and a control socket in tmp."""

    def __init__(self, tmp, args=(), lang="zh", control=None, extra_env=None):
        self.tmp = str(tmp)
        self.control = control or os.path.join(self.tmp, "qund.sock")
        argv = [QUND, "-b", "127.0.0.1", "-p", "0", "--legacy", "--lang", lang,
                "--control", self.control] + list(args)
        self.lang = lang
        self.errfile = open(os.path.join(self.tmp, "qund.stderr"), "w+b")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errfile, env=env(**(extra_env or {})))
        self.pid = self.proc.pid
        try:
            first = read_line(self.proc.stdout, WAIT, "qund's first line").decode()
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        m = LISTEN_RE.match(first.strip())
        assert m, "qund printed %r first; stderr %r" % (first, self.stderr())
        self.port = int(m.group(2))
        assert wait_until(lambda: os.path.exists(self.control)), "no control socket"
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._out = b""

    def stderr(self):
        self.errfile.flush()
        with open(self.errfile.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_stderr(self, needle, timeout=WAIT):
        return wait_until(lambda: needle in self.stderr(), timeout)

    def console(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def stdout(self):
        try:
            chunk = self.proc.stdout.read()
        except (BlockingIOError, ValueError):
            chunk = None
        if chunk:
            self._out += chunk
        return self._out.decode("utf-8", "replace")

    def wait_stdout(self, needle, timeout=WAIT):
        return wait_until(lambda: needle in self.stdout(), timeout)

    def ctl(self, *args, **kw):
        return qunctl(self.control, *args, **kw)

    def wait(self, timeout=WAIT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self):
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait() is None:
                problems.append("qund did not stop on SIGTERM")
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        err = self.stderr()
        self.errfile.close()
        if sanitizer_report(err):
            problems.append("sanitizer report: %s" % err)
        return problems


# ---------------------------------------------------------------------------
# qunctl

class Reply:
    def __init__(self, r):
        self.rc = r.returncode
        self.out = r.stdout.decode("utf-8", "replace")
        self.err = r.stderr.decode("utf-8", "replace")
        assert not sanitizer_report(self.err), self.err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "Reply(rc=%r, out=%r, err=%r)" % (self.rc, self.out, self.err)


def as_user(argv, uid, gid, groups=()):
    """argv run as uid:gid with exactly the supplementary groups given (setpriv; needs root)."""
    ids = ["--reuid=%s" % uid, "--regid=%s" % gid]
    ids += ["--groups=%s" % ",".join(str(g) for g in groups)] if groups else ["--clear-groups"]
    return ["setpriv"] + ids + list(argv)


def qunctl(sock, *args, as_nobody=False, user=None, timeout=WAIT):
    """Run qunctl -s SOCK ARGS...; optionally as the unprivileged user nobody, or as
    user = (uid, gid, supplementary groups)."""
    argv = [QUNCTL, "-s", sock] + list(args)
    if as_nobody:
        argv = as_user(argv, "nobody", "nogroup")
    elif user is not None:
        argv = as_user(argv, *user)
    return Reply(subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout, env=env()))


def can_setpriv():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


# ---------------------------------------------------------------------------
# A protocol v1 peer (the server runs with --legacy)

class Peer:
    """A UDP socket speaking v1 to qund, bound to a chosen loopback address."""

    def __init__(self, port, bind="127.0.0.1"):
        self.server = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, 0))

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, self.server)

    def recv(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(2048)
        except socket.timeout:
            return None
        return data.decode("utf-8", "replace")

    def expect(self, text, timeout=WAIT):
        got = self.recv(timeout)
        assert got == text, "expected %r, got %r" % (text, got)

    def wait_for(self, text, timeout=WAIT):
        """Receive until text arrives; return what came before it."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            got = self.recv(max(left, 0.001)) if left > 0 else None
            if got is None:
                raise AssertionError("%r never came; got %r" % (text, before))
            if got == text:
                return before
            before.append(got)

    def silent(self, seconds=QUIET):
        got = self.recv(seconds)
        assert got is None, "expected nothing, got %r" % got

    def login(self, name, padded=True):
        """L name, padded so that a full refusal fits (a refusal is never larger than its request)."""
        req = ("L " + name).encode()
        if padded:
            req += b" " * max(0, 200 - len(req))
        self.send(req)
        return self.recv()

    def close(self):
        self.sock.close()
