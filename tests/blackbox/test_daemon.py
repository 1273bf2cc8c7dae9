# test_daemon.py - black-box tests of qund -d: double fork, readiness, pid file, signals, logs, -u, -c.
"""qund as a daemon, seen from outside: `qund -d` returns only once the
server listens (or says why it could not), a second instance with the same
pid file refuses, SIGTERM tells the room and removes the pid file and the
socket, SIGHUP reopens the log, -u drops root, -c reads a configuration
file.  After every path, no zombie and no orphan is left (checked in /proc).
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

from daemon_helpers import (QUND, WAIT, Daemon, Foreground, Peer, alive, children, env,
                            logged_pid, processes_mentioning, proc_stat, proc_status, qunctl,
                            reap, reap_all_adopted, subreaper, wait_until,
                            zombie_children)


@pytest.fixture
def run(tmp_path):
    """Daemons started by a test; each is stopped and reaped, then nothing may remain."""
    started = []
    tmp = str(tmp_path)

    def make(*args, **kw):
        d = Daemon(tmp, args=args, **kw)
        started.append(d)
        return d

    with subreaper():
        yield make
        for d in started:
            d.cleanup()
        # Nothing of ours may be left running: no process naming our directory.
        assert wait_until(lambda: not processes_mentioning(tmp)), \
            "processes left behind: %s" % processes_mentioning(tmp)
        # Daemons that ended were adopted by us (init's job outside the tests): reap them.
        assert reap_all_adopted(), "unreaped children: %s" % zombie_children()


def assert_failed_daemon_reaped(d, needle):
    """A daemon that failed during start-up ended with status 1, and it alone was left
    for its adopter to reap: qund -d reaped its own first child."""
    pid = logged_pid(d.log_text(), needle)
    assert pid is not None, "no log line %r: %r" % (needle, d.log_text())
    assert reap(pid) == 1
    assert zombie_children() == [], \
        "qund -d left its first child unreaped: %s" % zombie_children()


def assert_gone(d):
    """The daemon ended cleanly and took its pid file and socket with it."""
    assert not os.path.exists(d.pidfile), "pid file left behind"
    assert not os.path.exists(d.control), "control socket left behind"


# ---------------------------------------------------------------------------
# Starting.

def test_daemon_starts_detached_and_reachable(run):
    """qund -d exits 0 printing where it listens; the daemon is detached
    (not a session leader, no terminal, cwd /, streams on /dev/null) and serves."""
    d = run()
    d.start()
    assert d.result.stderr == b""
    assert alive(d.pid)
    state, ppid, pgrp, sid, tty = proc_stat(d.pid)
    assert ppid == os.getpid(), "the daemon's parent is %d: double fork not done?" % ppid
    assert sid != d.pid, "the daemon is a session leader (it could acquire a terminal)"
    assert pgrp != d.pid
    assert tty == 0, "the daemon has a controlling terminal"
    assert os.readlink("/proc/%d/cwd" % d.pid) == "/"
    for fd in (0, 1, 2):
        assert os.readlink("/proc/%d/fd/%d" % (d.pid, fd)) == "/dev/null"
    # No console child in daemon mode, and the first child was reaped by qund -d.
    assert children(d.pid) == set()
    assert zombie_children() == []
    alice = Peer(d.port)
    assert alice.login("alice") == "OK"
    r = qunctl(d.control, "who")
    assert r.rc == 0 and "  alice 127.0.0.1:" in r.out, r
    alice.close()


def test_daemon_closes_inherited_descriptors(run, tmp_path):
    """A descriptor the caller leaves open (a pipe a script waits on) is not held by the daemon."""
    d = run()
    rfd, wfd = os.pipe()
    os.set_inheritable(wfd, True)
    try:
        r = subprocess.run(d.argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT,
                           env=d.env, pass_fds=(wfd,))
    finally:
        os.close(wfd)
    assert r.returncode == 0, r
    with open(d.pidfile) as f:
        d.pid = int(f.read())
    # The only writer left would be the daemon: EOF proves it let go.
    os.set_blocking(rfd, False)
    assert wait_until(lambda: _eof(rfd)), "the daemon holds the caller's pipe open"
    os.close(rfd)
    assert d.stop() == 0


def _eof(fd):
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False


def test_sigterm_tells_room_and_cleans_up(run):
    """SIGTERM: members get the shutdown notice and EXIT; exit status 0; pid file and socket gone."""
    d = run()
    d.start()
    alice = Peer(d.port)
    assert alice.login("alice") == "OK"
    assert d.stop(signal.SIGTERM) == 0
    alice.wait_for("服务器即将关闭")
    alice.expect("EXIT")
    assert_gone(d)
    assert "shutting down" in d.log_text()
    alice.close()


def test_shutdown_by_qunctl(run):
    """qunctl shutdown stops a daemon just as SIGTERM does."""
    d = run()
    d.start()
    r = qunctl(d.control, "shutdown")
    assert r.rc == 0, r
    assert reap(d.pid) == 0
    assert_gone(d)


def test_second_instance_refuses(run):
    """A second qund -d with the same pid file exits non-zero saying who runs; the first goes on."""
    first = run()
    first.start()
    second = run(control=os.path.join(first.tmp, "other.sock"), pidfile=first.pidfile,
                 log=os.path.join(first.tmp, "other.log"))
    r = second.start(expect_ok=False)
    assert r.returncode == 1
    assert "already running as pid %d" % first.pid in r.stderr.decode(), r
    assert r.stdout == b""
    assert alive(first.pid)
    with open(first.pidfile) as f:
        assert int(f.read()) == first.pid, "the refused instance overwrote the pid file"
    assert not os.path.exists(second.control)
    assert_failed_daemon_reaped(second, "already running")
    assert first.stop() == 0
    assert_gone(first)


def test_second_instance_on_same_socket_refuses(run):
    """A live control socket is never taken over by another server."""
    first = run()
    first.start()
    second = run(control=first.control, pidfile=os.path.join(first.tmp, "b.pid"),
                 log=os.path.join(first.tmp, "b.log"))
    r = second.start(expect_ok=False)
    assert r.returncode == 1
    assert "another server is listening on %s" % first.control in r.stderr.decode(), r
    assert qunctl(first.control, "who").rc == 0
    assert_failed_daemon_reaped(second, "another server is listening")


def test_startup_failure_is_reported(run):
    """A port in use: qund -d exits 1 with the reason, and nothing is left running."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    d = run("-p", str(port))
    r = d.start(expect_ok=False)
    taken.close()
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "cannot listen" in err and "Address already in use" in err, err
    assert not os.path.exists(d.control)
    assert_failed_daemon_reaped(d, "cannot listen")


def test_stale_files_after_sigkill_are_taken_over(run):
    """After SIGKILL the pid file and socket remain; a new daemon takes both over."""
    d = run()
    d.start()
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL
    assert os.path.exists(d.pidfile) and os.path.exists(d.control)
    again = run(pidfile=d.pidfile, control=d.control)
    again.start()
    assert again.pid != d.pid
    assert qunctl(again.control, "who").rc == 0
    assert again.stop() == 0
    assert_gone(again)


def test_relative_paths_are_made_absolute(run, tmp_path):
    """The daemon works from /, so relative paths given on the command line are resolved first."""
    d = run(pidfile="rel.pid", control="rel.sock", log="rel.log")
    r = subprocess.run(d.argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT,
                       env=d.env, cwd=str(tmp_path))
    assert r.returncode == 0, r
    for name in ("rel.pid", "rel.sock", "rel.log"):
        assert (tmp_path / name).exists(), name
    d.pid = int((tmp_path / "rel.pid").read_text())
    d.pidfile, d.control = str(tmp_path / "rel.pid"), str(tmp_path / "rel.sock")
    assert d.stop() == 0
    assert_gone(d)


def test_daemon_without_log_option_uses_syslog(run):
    """Without --log a daemon logs to syslog, never to the (closed) terminal."""
    d = run()
    d.argv = [a for a in d.argv]
    i = d.argv.index("--log")
    del d.argv[i:i + 2]
    d.start()
    assert d.result.stderr == b""
    assert d.stop() == 0


# ---------------------------------------------------------------------------
# Logging.

def test_log_file_events_and_sighup_reopen(run):
    """Joins, kicks and control requests go to --log FILE; SIGHUP reopens it after a move."""
    d = run()
    d.start()
    alice, bob = Peer(d.port), Peer(d.port)
    assert alice.login("alice") == "OK"
    assert bob.login("bob") == "OK"
    assert qunctl(d.control, "kick", "bob", "spam").rc == 0
    assert d.wait_log("alice joined from 127.0.0.1:")
    assert d.wait_log("bob was kicked by the operator (spam)")
    assert d.wait_log("control: uid %d gid %d pid " % (os.getuid(), os.getgid()))
    os.rename(d.log, d.log + ".1")
    os.kill(d.pid, signal.SIGHUP)
    assert d.wait_log("SIGHUP: log reopened"), "no new log file after SIGHUP"
    carol = Peer(d.port)
    assert carol.login("carol") == "OK"
    assert d.wait_log("carol joined")
    with open(d.log + ".1") as f:
        old = f.read()
    assert "carol" not in old and "alice joined" in old
    assert alive(d.pid)
    for p in (alice, bob, carol):
        p.close()


def test_refusals_are_logged_by_reason_and_rate_limited(run):
    """Anyone can provoke refusals: they are logged with their reason, at most 5 per reason."""
    d = run()
    d.start()
    alice = Peer(d.port)
    assert alice.login("alice") == "OK"
    mallory = Peer(d.port)
    for _ in range(40):
        mallory.send("L alice" + " " * 100)
    mallory.send("L carol")
    assert mallory.wait_for("OK") is not None  # barrier: all forty were handled first
    assert d.wait_log("carol joined")
    lines = [l for l in d.log_text().splitlines() if "name already taken" in l]
    assert 1 <= len(lines) <= 5, lines
    assert all("refused 127.0.0.1:" in l for l in lines)
    alice.close()
    mallory.close()


# ---------------------------------------------------------------------------
# -u USER

@pytest.fixture
def open_tmp():
    """A directory every user can traverse (pytest's own base directory is root's, 0700)."""
    d = tempfile.mkdtemp(prefix="qun-test-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_user_drops_privileges_after_binding(run, open_tmp):
    """-u nobody: every uid and gid is nobody's, one group; files it needs are handed over."""
    rundir = os.path.join(open_tmp, "run")  # qund makes it, owned by nobody
    logdir = os.path.join(open_tmp, "log")  # as logrotate would leave it: nobody's
    os.mkdir(logdir)
    os.chown(logdir, 65534, 65534)
    d = run("-u", "nobody", pidfile=os.path.join(rundir, "qund.pid"),
            control=os.path.join(rundir, "qund.sock"), log=os.path.join(logdir, "qund.log"))
    d.start()
    st = proc_status(d.pid)
    assert st["Uid"].split() == ["65534"] * 4, st["Uid"]
    assert st["Gid"].split() == ["65534"] * 4, st["Gid"]
    assert st["Groups"].split() == ["65534"], st["Groups"]
    assert st["CapEff"] == "0000000000000000"
    sock = os.stat(d.control)
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o660
    assert (sock.st_uid, sock.st_gid) == (65534, 65534)
    run_st = os.stat(rundir)
    # Made by qund, for nobody, exactly 0755 (not the daemon's umask 027): a --control-group
    # member must be able to reach the socket in it.
    assert (run_st.st_uid, stat.S_IMODE(run_st.st_mode)) == (65534, 0o755)
    assert os.stat(d.log).st_uid == 65534  # qund made it, so it hands it over
    # Root may still use the socket (and is logged as uid 0).
    assert qunctl(d.control, "who").rc == 0
    assert d.wait_log("control: uid 0 ")
    # The log can still be reopened as nobody.
    os.rename(d.log, d.log + ".1")
    os.kill(d.pid, signal.SIGHUP)
    assert d.wait_log("SIGHUP: log reopened")
    # And it can remove its own files at the end.
    assert d.stop() == 0
    assert_gone(d)


def test_user_unknown_is_refused(tmp_path):
    r = subprocess.run([QUND, "-p", "0", "--control", "none", "-u", "no-such-user-qun"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT, env=env())
    assert r.returncode == 1
    assert "no such user: no-such-user-qun" in r.stderr.decode()


# ---------------------------------------------------------------------------
# -c FILE

def _conf(tmp_path, text):
    p = tmp_path / "qund.conf"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_config_file_settings_and_flags_win(tmp_path):
    """Keys set what the flags set; a flag on the command line wins over the file."""
    sock = str(tmp_path / "c.sock")
    conf = _conf(tmp_path, "# test\nbind = 127.0.0.1\nport = 0\nlegacy = yes\nlang = zh\n"
                           "control = %s\n" % sock)
    fg = Foreground(tmp_path, args=["-c", conf, "--lang", "en"], control=sock)
    try:
        alice, bob = Peer(fg.port), Peer(fg.port)
        assert alice.login("alice") == "OK"
        assert bob.login("bob") == "OK"
        alice.expect("bob joined the room")  # --lang en won over lang = zh
        assert qunctl(sock, "who").rc == 0
        alice.close()
        bob.close()
    finally:
        assert fg.cleanup() == []


@pytest.mark.parametrize("text,line,why", [
    ("port = 0\n\nprot = 1\n", 3, 'unknown key "prot"'),
    ("port\n", 1, 'expected "key = value"'),
    ("legacy = maybe\n", 1, '"legacy" is a switch: expected yes or no, got "maybe"'),
    ("port = 0\nconfig = x\n", 2, 'unknown key "config"'),
    ("max-members = lots\n", 1, "--max-members: expected a number"),
    ("coalesce = 1001\n", 1, '--coalesce: expected a number from 0 to 1000, got "1001"'),
])
def test_config_file_errors_name_the_line(tmp_path, text, line, why):
    conf = _conf(tmp_path, text)
    r = subprocess.run([QUND, "-c", conf, "--control", "none"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=WAIT, env=env())
    assert r.returncode == 2
    assert "%s:%d: %s" % (conf, line, why) in r.stderr.decode(), r.stderr


def test_config_file_missing(tmp_path):
    r = subprocess.run([QUND, "-c", str(tmp_path / "none.conf")], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=WAIT, env=env())
    assert r.returncode == 2
    assert "none.conf: No such file or directory" in r.stderr.decode()


def test_config_file_can_daemonise(run, tmp_path):
    """daemon = yes in the file is -d."""
    d = run()
    conf = _conf(tmp_path, "daemon = yes\nlegacy = on\n")
    d.argv = [a for a in d.argv if a != "-d"] + ["-c", conf]
    d.start()
    assert proc_stat(d.pid)[1] == os.getpid()
    assert d.stop() == 0


# ---------------------------------------------------------------------------
# The default control socket.

def test_default_socket_in_runtime_directory(tmp_path):
    """With $RUNTIME_DIRECTORY set (systemd), the socket is created there by default."""
    p = subprocess.Popen([QUND, "-b", "127.0.0.1", "-p", "0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env(RUNTIME_DIRECTORY=str(tmp_path)))
    try:
        assert p.stdout.readline().startswith(b"listening on ")
        sock = str(tmp_path / "qund.sock")
        assert wait_until(lambda: os.path.exists(sock))
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
        assert qunctl(sock, "stats").rc == 0
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(WAIT) == 0
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
    assert not os.path.exists(str(tmp_path / "qund.sock"))


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0,
                    reason="needs root and setpriv to run qund unprivileged")
def test_default_socket_unwritable_is_a_warning_in_foreground(tmp_path):
    """A user who cannot create /run/qun still gets a foreground server, with a warning."""
    p = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          QUND, "-b", "127.0.0.1", "-p", "0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    try:
        assert p.stdout.readline().startswith(b"listening on ")
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(WAIT)
        err = p.stderr.read().decode()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
    assert rc == 0
    assert "no control socket" in err, err
