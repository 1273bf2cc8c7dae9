# test_exit_paths.py - every way qun ends: its output reaches EOF as it exits, and nothing of it runs on.
"""Issue 16, item 4: nothing of qun outlives it.

qun is two processes, the UI and the network process it forks.  Whoever
reads qun's output to its end (a script piping `qun bot`, a terminal)
must find that end there as soon as the qun it started has exited.  So
for every way out the test reads qun's stdout and stderr on threads and,
the moment the qun process has exited, checks from /proc that no process
still holds either of them, that both reach EOF at once, and that the
network process is gone, reaped by qun itself, not left to us (this
process is a child subreaper while these run: see conftest.py).

The ways out: /quit, the end of a stdin pipe, Ctrl-C (SIGINT to the
process group, as a terminal sends it; and the key itself on a
pseudo-terminal and in tmux), Ctrl-D on a terminal, kicked by the
operator, the server shutting down (console /quit and SIGTERM), SIGKILL
of the network process and SIGKILL of the UI.  Each runs for both
protocols: v2 against a default qund, v1 (qun --legacy) against qund
--legacy.  test_hygiene.py checks the same ends for zombies, orphans and
exit statuses; this file adds the output and the /proc view at the
instant qun exits.

SIGKILL of the UI is the one way out where the network process lives on:
it says goodbye to the server (v1 up to about a second, v2 up to 4 s).
The server is stopped (SIGSTOP) first, so that the goodbye takes that
long and a network process holding qun's output would be seen every time;
it must hold none of it, and end on its own.

Sanitizer reports (make check-asan): the UI writes its own to its stderr,
and shows the network process's there when it exits (netproc.c keeps them
in a file in memory, the network process's stderr).  The tests on pipes
scan qun's stderr when they end, those on a pseudo-terminal what it
showed (conftest.py), the tmux ones the sanitizer's log files
(tui_helpers.py).  After SIGKILL of the UI nobody shows them, so that
test reads the network process's stderr itself, through /proc.
"""

import os
import signal
import subprocess
import time

import pytest

from conftest import (QUN, SPAWNED, WAIT, LineReader, base_env, children, descendants, ev,
                      kill_quietly, pid_alive, proc_ppid, proc_state, pty_qun, sanitizer_report,
                      wait_until)
from tui_helpers import Member2, alive, session  # noqa: F401 (fixture)

# Once qun has exited, how long its output's EOF may take to reach our reader threads.
EOF_GRACE = 1.0
# How long the network process may say goodbye to a silent server after its UI was
# killed: v1 three Q 300 ms apart, v2 QUIT_GRACE_MS (4 s); with room for ASan.
GOODBYE = {"v1": 1.0 + WAIT, "v2": 4.0 + WAIT}


@pytest.fixture(params=["v2", "v1"])
def proto(request):
    return request.param


def pipe_link(f):
    """How /proc/PID/fd shows the pipe f is one end of."""
    return "pipe:[%d]" % os.fstat(f.fileno()).st_ino


def holders(links, exclude=(), parent=None):
    """Every process with a descriptor on one of links: {pid: command}.

    Not us, not the pids in exclude, and not the children of parent (a
    shell's own commands)."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid() or int(d) in exclude:
            continue
        if parent is not None and proc_ppid(int(d)) == parent:
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % d)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%s/fd/%s" % (d, fd))
            except OSError:
                continue
            if link in links:
                found.setdefault(int(d), []).append("fd %s = %s" % (fd, link))
    for pid, fds in found.items():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        found[pid] = "%s (%s)" % (cmd, ", ".join(fds))
    return found


class Qun:
    """qun on pipes (plain mode) in a session of its own."""

    def __init__(self, port, args, lang="zh"):
        if not os.access(QUN, os.X_OK):
            pytest.fail("qun not built: %s" % QUN)
        self.proc = subprocess.Popen([QUN, "-s", "127.0.0.1", "-p", str(port), "--lang", lang]
                                     + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=base_env(), start_new_session=True)
        self.pid = self.proc.pid
        SPAWNED.add(self.pid)
        self.outputs = {pipe_link(self.proc.stdout), pipe_link(self.proc.stderr)}
        self.out = LineReader(self.proc.stdout, "qun-stdout")
        self.err = LineReader(self.proc.stderr, "qun-stderr")
        self.net = None

    def send_line(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def cleanup(self):
        pids = set(descendants(self.pid)) | ({self.net} if self.net else set())
        for p in pids:
            if pid_alive(p):
                kill_quietly(p)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for p in pids:
            wait_until(lambda: not pid_alive(p), 2)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.out.wait_eof(2)
        self.err.wait_eof(2)
        rep = sanitizer_report(self.err.text())
        return ["sanitizer report on qun's stderr: %s" % rep] if rep else []


def join(procs, proto, lang="zh"):
    """A server for proto, bob in it, and qun (alice) on pipes, up and in its loops.

    Returns (server, bob, qun) with qun.net set to the network process's pid."""
    if proto == "v1":
        srv = procs.qund1(lang=lang)
        bob = procs.member(srv, "bob")
        args = ["--legacy", "alice"]
    else:
        srv = procs.qund(lang=lang)
        bob = Member2(srv.port, "bob", lang)
        procs.sockets.append(bob)
        args = ["alice"]
    q = procs.add(Qun(srv.port, args, lang))
    bob.wait_for(ev(lang, "join", "alice"))
    kids = wait_until(lambda: children(q.pid))
    assert len(kids) == 1, "qun has children %s, expected one: the network process" % kids
    q.net = next(iter(kids))
    # A line of bob's shown by qun: both processes are past the fork and in their loops.
    bob.send("C bob ready?")
    assert q.out.wait_for(ev(lang, "say", "bob", "ready?")), (q.out.lines, q.err.lines)
    return srv, bob, q


def assert_clean_exit(q, rc_expected, timeout=WAIT):
    """qun exits within timeout with rc_expected, and at that instant nothing holds its output.

    Right after waitpid() returns, the UI's own descriptors are closed (the
    kernel closes them before it reports the exit), so any holder found
    then is another process: the network process, or something it left."""
    try:
        rc = q.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("qun still running %.0f s later; stdout %r, stderr %r"
                    % (timeout, q.out.lines[-5:], q.err.lines[-5:]))
    held = holders(q.outputs)
    net_state = proc_state(q.net)
    assert not held, "qun exited but its stdout/stderr are still held by %s" % held
    assert q.out.wait_eof(EOF_GRACE) and q.err.wait_eof(EOF_GRACE), \
        "no EOF on qun's output %.1f s after it exited" % EOF_GRACE
    assert rc == rc_expected, "qun exited %s, expected %s; stderr %r" % (rc, rc_expected,
                                                                       q.err.lines)
    # Reaped by qun before it exited: not running, not a zombie left to us.
    assert net_state is None, "the network process %d is %s after qun exited" % (q.net,
                                                                                 net_state)
    return rc


@pytest.mark.parametrize("how", ["/quit", "stdin-eof", "ctrl-c", "kicked", "console-quit",
                                 "server-sigterm", "kill-net"])
def test_output_ends_with_qun(procs, proto, how):
    """Each way out on pipes: qun's stdout and stderr are at EOF as soon as
    it has exited, and its network process is gone, reaped by qun."""
    srv, bob, q = join(procs, proto)
    rc = 0
    if how == "/quit":
        q.send_line("/quit")
    elif how == "stdin-eof":
        q.proc.stdin.close()
    elif how == "ctrl-c":
        os.killpg(q.pid, signal.SIGINT)  # what a terminal does: the whole process group
    elif how == "kicked":
        srv.say("/kick alice")
    elif how == "console-quit":
        srv.say("/quit")
    elif how == "server-sigterm":
        srv.signal(signal.SIGTERM)
    else:
        os.kill(q.net, signal.SIGKILL)
        rc = 1
    assert_clean_exit(q, rc)
    if how in ("console-quit", "server-sigterm"):
        assert srv.wait() == 0


def test_output_ends_when_the_ui_is_killed(procs, proto):
    """SIGKILL of the UI while the server is silent: the network process
    lives on to say goodbye (v1 about a second, v2 up to 4 s), but holds
    none of qun's output, so the reader sees EOF at once; then it ends on
    its own, by exiting, not killed, and having written nothing."""
    srv, bob, q = join(procs, proto)
    net = q.net
    # Its stderr, which nobody shows once the UI is gone: read it here when it has ended.
    net_stderr = open("/proc/%d/fd/2" % net, "rb")
    procs.sockets.append(net_stderr)
    os.kill(srv.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        os.kill(q.pid, signal.SIGKILL)
        assert q.proc.wait(WAIT) == -signal.SIGKILL
        held = holders(q.outputs)
        running = pid_alive(net)
        assert not held, "the UI was killed and its output is still held by %s" % held
        assert q.out.wait_eof(EOF_GRACE) and q.err.wait_eof(EOF_GRACE), \
            "no EOF on qun's output %.1f s after the UI was killed" % EOF_GRACE
        # The goodbye takes a while against a stopped server: the check above raced nothing.
        assert running, "the network process %d ended with its UI: the test proves nothing" % net
        # It is ours now (subreaper): it must end by itself, and exit rather than be killed.
        assert wait_until(lambda: proc_state(net) == "Z", GOODBYE[proto]), \
            "the network process %d still %s %.1f s after its UI was killed" % (
                net, proc_state(net), time.monotonic() - t0)
        _, status = os.waitpid(net, 0)
        wrote = net_stderr.read().decode("utf-8", "replace")
        assert os.WIFEXITED(status), \
            "the network process ended by signal %d: %r" % (os.WTERMSIG(status), wrote)
        assert wrote == "", "the network process wrote on its stderr: %r" % wrote
    finally:
        os.kill(srv.pid, signal.SIGCONT)


def test_network_process_stderr_shown_by_qun(procs, proto):
    """The network process's stdin and stdout are /dev/null and its stderr is
    none of qun's; what it writes there (a sanitizer report, libc's last
    words) is shown on qun's stderr when qun exits.  The test writes such a
    line into the network process's stderr itself, through /proc."""
    srv, bob, q = join(procs, proto)
    fds = {fd: os.readlink("/proc/%d/fd/%d" % (q.net, fd)) for fd in (0, 1, 2)}
    assert fds[0] == "/dev/null" and fds[1] == "/dev/null", fds
    assert fds[2] not in q.outputs, fds
    note = "last words of the network process %d" % q.net
    with open("/proc/%d/fd/2" % q.net, "w") as f:
        f.write(note + "\n")
    q.send_line("/quit")
    assert_clean_exit(q, 0)
    assert note in q.err.lines, q.err.lines


# ---------------------------------------------------------------------------
# On a terminal: the pseudo-terminal's EOF (every slave descriptor closed).

@pytest.mark.parametrize("key", ["ctrl-c", "ctrl-d"])
def test_terminal_ends_with_qun(procs, proto, key):
    """Ctrl-C and Ctrl-D typed on qun's terminal: once qun has exited, no
    process holds the terminal and the reader sees its end at once."""
    import pexpect
    legacy = proto == "v1"
    srv = procs.qund1(lang="zh") if legacy else procs.qund(lang="zh")
    if legacy:
        bob = procs.member(srv, "bob")
    else:
        bob = Member2(srv.port, "bob", "zh")
        procs.sockets.append(bob)
    q = pty_qun(procs, srv.port, "--lang", "zh", *(["--legacy"] if legacy else []), "alice")
    bob.wait_for(ev("zh", "join", "alice"))
    net = wait_until(lambda: children(q.pid))
    assert len(net) == 1, net
    net = next(iter(net))
    tty = os.readlink("/proc/%d/fd/1" % q.pid)
    assert tty.startswith("/dev/pts/"), tty
    bob.send("C bob ready?")
    q.expect_exact(ev("zh", "say", "bob", "ready?"))
    if key == "ctrl-c":
        q.sendintr()
    else:
        q.sendeof()
    assert wait_until(lambda: proc_state(q.pid) in ("Z", None)), "qun still running"
    held = holders({tty})
    net_state = proc_state(net)
    assert not held, "qun exited but its terminal is still held by %s" % held
    q.expect(pexpect.EOF, timeout=EOF_GRACE)
    assert q.exit_status() == 0
    assert net_state is None, "the network process %d is %s after qun exited" % (net, net_state)


def test_tmux_ctrl_c_leaves_nothing(session, proto):
    """Ctrl-C in tmux: when qun has exited, only the window's shell (and the
    commands it runs next) has the terminal open, and neither of qun's
    processes runs."""
    legacy = proto == "v1"
    srv = session.server("zh", legacy=legacy)
    bob = session.member(srv, "bob")
    t = session.qun_tmux(srv.port, "--lang", "zh", *(["--legacy"] if legacy else []), "alice")
    bob.wait_for("alice 进入了聊天室")
    shell = t.pane_pid()
    ui = wait_until(lambda: children(shell))
    assert len(ui) == 1, ui
    ui = next(iter(ui))
    net = wait_until(lambda: children(ui))
    assert len(net) == 1, net
    net = next(iter(net))
    tty = t.tmux("display-message", "-p", "-t", "t", "#{pane_tty}").strip()
    bob.send("C bob ready?")
    t.wait_text("bob 说：ready?")
    t.keys("C-c")
    assert wait_until(lambda: not alive(ui)), "qun still running after Ctrl-C"
    held = holders({tty}, exclude={shell}, parent=shell)
    net_state = proc_state(net)
    assert not held, "qun exited but its terminal is still held by %s" % held
    assert net_state is None, "the network process %d is %s after qun exited" % (net, net_state)
    t.wait_text("QUN-EXIT=0")
    bob.wait_for("alice 退出了聊天室")
