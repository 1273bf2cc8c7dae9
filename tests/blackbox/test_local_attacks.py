# test_local_attacks.py - THREATS.md S22 and S23: a second local user against qund's files and control socket.
"""Attacks by another user of the machine, performed for real (issue 17,
items 1-3).  A user "mallory" is created for the module (useradd, removed
at the end); processes run as her, or as nobody, through setpriv.  Each
test works in its own directory under /tmp (root's, 0755, so every user
can reach into it), sets the modes the attack needs, and checks both that
qund or qunctl refuses with a reason and that the attack's target is
untouched: a root-only file ("secret") keeps its owner, mode and text;
an impostor's socket reads nothing.

S22: symbolic links and foreign directories at qund's file paths (the log,
its reopen on SIGHUP, the pid file, the runtime directory), and qunctl
talking to an impostor.  S23: a local process that may reach the control
socket through its mode but is not allowed to use it.

Everything here needs root (to create mallory and give files away); CI
runs as root.
"""

import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import read_line
from daemon_helpers import (QUND, WAIT, Daemon, alive, as_user, env, processes_mentioning, qunctl,
                            reap, reap_all_adopted, subreaper, wait_until,
                            zombie_children)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"),
    reason="the attacks need root, to create a second user (useradd) and run as her (setpriv)")

SECRET = "root only: never written by qund\n"
NOBODY = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else 65534


class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid

    def argv(self, argv, groups=()):
        return as_user(argv, self.uid, self.gid, groups)

    def run(self, *argv):
        """Run argv as her; it must succeed."""
        r = subprocess.run(self.argv(argv), capture_output=True, timeout=WAIT, env=env())
        assert r.returncode == 0, "as %s: %s: %r" % (self.name, argv, r)
        return r


@pytest.fixture(scope="module")
def mallory():
    """A second local user with her own group, made for these tests and removed after."""
    name = "qunmal%d" % (os.getpid() % 100000)
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--user-group",
                        "--shell", "/usr/sbin/nologin", name], capture_output=True, timeout=WAIT)
    if r.returncode != 0:
        pytest.skip("cannot create a second user: useradd: %s" % r.stderr.decode().strip())
    try:
        yield User(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=WAIT)
        subprocess.run(["groupdel", name], capture_output=True, timeout=WAIT)  # if still there


@pytest.fixture
def base():
    """A directory of root's under /tmp that every user can reach into, removed after."""
    d = tempfile.mkdtemp(prefix="qun-attack-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def run(base):
    """Daemons started by a test, in base; at the end each is stopped and reaped, and so is
    anything else naming base (an impostor, or a qund that should have refused to start)."""
    started = []

    def make(*args, **kw):
        d = Daemon(base, args=args, **kw)
        started.append(d)
        return d

    with subreaper():
        yield make
        for d in started:
            d.cleanup()
        for pid in processes_mentioning(base):
            os.kill(pid, signal.SIGKILL)
            reap(pid, timeout=1)
        assert wait_until(lambda: not processes_mentioning(base))
        assert reap_all_adopted(), "unreaped children: %s" % zombie_children()


def make_secret(base):
    """A file only root may read or write, that qund must never touch."""
    path = os.path.join(base, "secret")
    with open(path, "w") as f:
        f.write(SECRET)
    os.chmod(path, 0o600)
    return path


def assert_secret_untouched(path):
    st = os.stat(path)
    with open(path) as f:
        text = f.read()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), text) == (0, 0, 0o600, SECRET), \
        "the root-only file was touched: owner %d:%d, mode %o, now reads %r" % (
            st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), text)


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# A server mallory runs: it listens at a path (first moving qund's socket aside, if asked),
# keeps whatever a client sends in a file, and answers like qund would to `kick mallory`.
IMPOSTOR = r'''
import os, socket, sys
path, aside, record = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
if aside:
    os.rename(path, path + ".real")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    data = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    with open(record, "ab") as f:
        f.write(data)
    if data:
        c.sendall("0\n已请出 mallory\n".encode())
    c.close()
'''


class Impostor:
    """Mallory's server at path, for the length of a with block."""

    def __init__(self, user, path, aside=False):
        self.record = os.path.join(os.path.dirname(path), "captured")
        user.run("touch", self.record)
        self.proc = subprocess.Popen(
            user.argv(["/usr/bin/python3", "-c", IMPOSTOR, path, "1" if aside else "0",
                       self.record]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env())
        try:
            line = read_line(self.proc.stdout, WAIT, "the impostor's ready line")
        except BaseException:
            self.close()
            raise
        assert line.strip() == b"ready", (line, self.proc.stderr.read())

    def captured(self):
        with open(self.record, "rb") as f:
            return f.read()

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def rundir_paths(base):
    """pidfile, control and log in places that are root's: only the path under test is not."""
    return dict(pidfile=os.path.join(base, "qund.pid"), control=os.path.join(base, "qund.sock"),
                log=os.path.join(base, "qund.log"))


# ---------------------------------------------------------------------------
# S22: the log file

@pytest.mark.parametrize("kind", ["hers", "world-writable", "sticky"])
def test_s22_log_symlink_is_not_followed(run, base, mallory, kind):
    """qund -u nobody --log PATH, where mallory put a symbolic link to a root-only file at
    PATH, in a directory she may write: hers, world-writable, or world-writable and sticky
    as /tmp is (there the kernel's fs.protected_symlinks, when on, already stops root from
    following her link).  qund refuses to start and says why; the file keeps its owner,
    mode and text.  Before: qund appended its log to the file and gave it to nobody."""
    logdir = os.path.join(base, "log")
    os.mkdir(logdir)
    if kind == "hers":
        os.chown(logdir, mallory.uid, mallory.gid)
    else:
        os.chmod(logdir, 0o777 if kind == "world-writable" else 0o1777)
    secret = make_secret(base)
    log = os.path.join(logdir, "qund.log")
    mallory.run("ln", "-s", secret, log)
    paths = rundir_paths(base)
    paths["log"] = log
    d = run("-u", "nobody", **paths)
    r = d.start(expect_ok=False)
    assert_secret_untouched(secret)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    why = {
        "hers": "directory %s belongs to uid %d (%s), not to root or uid %d (nobody)" % (
            logdir, mallory.uid, mallory.name, NOBODY),
        "world-writable": "directory %s is writable by every user and has no sticky bit" %
                          logdir,
        "sticky": "%s is a symbolic link: refusing to follow it" % log,
    }[kind]
    assert err.startswith("qund: --log: ") and why in err, err
    assert not os.path.exists(d.control) and not os.path.exists(d.pidfile)


def test_s22_sighup_does_not_reopen_through_a_symlink(run, base, mallory):
    """Root's qund (no -u) logs into a directory mallory's group may write (as the adm or
    syslog group may write /var/log on some systems).  Once it runs, she moves the log aside
    as logrotate would and puts a link to a root-only file in its place; SIGHUP's reopen
    goes through the same checks as the start, refuses the link, and the log goes on in the
    old file, saying why.  Before: qund reopened through the link and appended to the file."""
    logdir = os.path.join(base, "log")
    os.mkdir(logdir)
    os.chown(logdir, 0, mallory.gid)
    os.chmod(logdir, 0o775)
    secret = make_secret(base)
    log = os.path.join(logdir, "qund.log")
    paths = rundir_paths(base)
    paths["log"] = log
    d = run(**paths)
    d.start()
    mallory.run("sh", "-c", 'mv "$1" "$1.1" && ln -s "$2" "$1"', "sh", log, secret)
    os.kill(d.pid, signal.SIGHUP)
    assert wait_until(lambda: "SIGHUP" in read(log + ".1") + read(secret)), read(log + ".1")
    assert_secret_untouched(secret)
    old = read(log + ".1")
    assert ("SIGHUP: cannot reopen the log, keeping the old file: %s is a symbolic link: "
            "refusing to follow it" % log) in old, old
    assert alive(d.pid)
    assert qunctl(d.control, "who").rc == 0
    assert d.stop() == 0


def test_s22_log_file_found_is_not_handed_over(run, base):
    """--log names a file that is already there, root's and 0600: qund -u nobody appends to
    it but leaves it root's (it may be anyone's file: qund hands over only a file it made).
    Before: qund gave whatever file --log named to nobody."""
    found = make_secret(base)
    paths = rundir_paths(base)
    paths["log"] = found
    d = run("-u", "nobody", **paths)
    d.start()
    st = os.stat(found)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600), \
        "qund gave a file it did not create to uid %d" % st.st_uid
    assert d.wait_log("listening on 127.0.0.1:")
    assert d.stop() == 0


# ---------------------------------------------------------------------------
# S22: the pid file and the runtime directory

def test_s22_pid_file_in_a_world_writable_directory_is_refused(run, base, mallory):
    """The pid file's directory is world-writable without the sticky bit: qund refuses it and
    says why.  Before: it started, and mallory could replace the pid file with one naming any
    process, for the next `kill $(cat qund.pid)` to hit."""
    piddir = os.path.join(base, "pid")
    os.mkdir(piddir)
    os.chmod(piddir, 0o777)
    paths = rundir_paths(base)
    paths["pidfile"] = os.path.join(piddir, "qund.pid")
    d = run(**paths)
    r = d.start(expect_ok=False)
    if r.returncode == 0:
        # The attack: her own pid file in its place, naming init.
        mallory.run("sh", "-c", 'rm -f "$1" && echo 1 >"$1"', "sh", paths["pidfile"])
        pytest.fail("qund kept its pid file in a world-writable directory; mallory replaced "
                    "it, and it now names pid %s" % read(paths["pidfile"]).strip())
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert ("qund: %s: directory %s is writable by every user and has no sticky bit"
            % (paths["pidfile"], piddir)) in err, err


def test_s22_runtime_directory_made_by_another_user_is_refused(run, base, mallory):
    """Mallory makes qund's runtime directory before qund starts, as anyone can where its
    parent is world-writable and sticky (/tmp; here base).  qund refuses to use it and says
    whose it is.  Before: qund put its socket there; she moved it aside, listened in its
    place, read root's `qunctl kick mallory` and answered it with a success that never
    happened."""
    os.chmod(base, 0o1777)
    rundir = os.path.join(base, "run")
    mallory.run("mkdir", "-m", "0755", rundir)
    paths = rundir_paths(base)
    paths["control"] = os.path.join(rundir, "qund.sock")
    d = run(**paths)
    r = d.start(expect_ok=False)
    if r.returncode == 0:
        with Impostor(mallory, d.control, aside=True) as fake:
            reply = qunctl(d.control, "kick", "mallory")
            got = fake.captured()
        pytest.fail("qund used a runtime directory mallory made; she took its socket's place, "
                    "read %r and qunctl printed %r" % (got, reply))
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert ("qund: control socket: %s: directory %s belongs to uid %d (%s), not to root" % (
        d.control, rundir, mallory.uid, mallory.name)) in err, err
    assert os.listdir(rundir) == []


def test_s22_runtime_directory_made_by_qund(run, base):
    """qund makes a missing runtime directory itself: 0755, and the -u user's so that it can
    remove its socket and pid file at the end; started again, it takes the directory it made
    as it is."""
    rundir = os.path.join(base, "run")
    paths = dict(pidfile=os.path.join(rundir, "qund.pid"),
                 control=os.path.join(rundir, "qund.sock"), log=os.path.join(base, "qund.log"))
    for _ in range(2):
        d = run("-u", "nobody", **paths)
        d.start()
        st = os.stat(rundir)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o755)
        assert d.stop() == 0
        assert os.listdir(rundir) == []


# ---------------------------------------------------------------------------
# S22: qunctl and an impostor

def test_s22_qunctl_talks_only_to_a_trusted_server(base, mallory):
    """A server of mallory's answers at the path root gives qunctl.  qunctl asks the kernel
    who listens there (SO_PEERCRED) and refuses before sending anything: exit 3 with the
    reason; the impostor reads nothing.  Told that qund runs as mallory (--server-user), it
    talks to her.  Before: root's `kick mallory` went to her, and her fake success was
    printed."""
    herdir = os.path.join(base, "hers")
    os.mkdir(herdir)
    os.chown(herdir, mallory.uid, mallory.gid)
    sock = os.path.join(herdir, "qund.sock")
    with Impostor(mallory, sock) as fake:
        r = qunctl(sock, "kick", "mallory")
        got = fake.captured()
        assert got == b"", "the impostor read %r; qunctl printed %r" % (got, r)
        assert (r.rc, r.out) == (3, ""), r
        assert r.err.startswith("qunctl: refusing to talk to %s: the server there (pid " % sock)
        assert ("runs as uid %d (%s), not as root or you; nothing was sent" % (
            mallory.uid, mallory.name)) in r.err, r
        r = qunctl(sock, "--server-user", mallory.name, "kick", "mallory")
        assert (r.rc, r.out) == (0, "已请出 mallory\n"), r
        assert fake.captured() == b"kick mallory\n"


# ---------------------------------------------------------------------------
# S23: the control socket's peers

def test_s23_other_processes_of_qunds_user_are_refused(run, base):
    """qund -u nobody: any process running as nobody gets through the socket's mode (the
    file is nobody's, 0660) but not past the peer check: `qunctl shutdown` gets status 3 and
    the reason, in JSON too, qund runs on, and each refusal is logged with the caller's uid,
    gid, pid and request, at most five in ten seconds.  Before: the request was logged and
    run, and qund stopped."""
    d = run("-u", "nobody", **rundir_paths(base))
    d.start()
    st = os.stat(d.control)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o660)
    r = qunctl(d.control, "shutdown", as_nobody=True)
    assert (r.rc, r.out) == (3, ""), r
    assert r.err == ("qunctl: 拒绝访问：uid %d 无权使用 qund 的控制套接字（可以使用的：root；"
                     "见 qund(8) 的 --control-group）\n" % NOBODY), r
    assert alive(d.pid) and qunctl(d.control, "who").rc == 0
    assert d.wait_log("control: refused uid %d gid %d pid " % (NOBODY, NOBODY))
    assert d.wait_log("(allowed: root): shutdown")
    r = qunctl(d.control, "-j", "stats", as_nobody=True)
    assert r.rc == 3 and r.json() == {
        "ok": False,
        "error": "permission denied: uid %d may not use qund's control socket (allowed: root; "
                 "see --control-group in qund(8))" % NOBODY}, r
    for _ in range(10):
        assert qunctl(d.control, "who", as_nobody=True).rc == 3
    assert qunctl(d.control, "who").rc == 0  # a barrier: every refusal was handled
    refused = [l for l in d.log_text().splitlines() if "control: refused" in l]
    assert 2 <= len(refused) <= 5, refused
    assert d.stop() == 0


def test_s23_control_group_members_and_self_are_let_in(run, base, mallory):
    """--control-group GROUP (here mallory's own) lets the group's members in, by their
    primary group or a supplementary one, and the socket's group becomes GROUP so the
    file's mode lets them reach it; nobody, outside the group, is still refused.  The
    control-self key (or --control-self) lets processes running as qund's -u user in."""
    d = run("-u", "nobody", "--control-group", mallory.name, **rundir_paths(base))
    d.start()
    st = os.stat(d.control)
    assert (st.st_uid, st.st_gid) == (NOBODY, mallory.gid)
    r = qunctl(d.control, "who", user=(mallory.uid, mallory.gid, ()))
    assert r.rc == 0, r
    r = qunctl(d.control, "who", user=(NOBODY, NOBODY, (mallory.gid,)))
    assert r.rc == 0, r
    r = qunctl(d.control, "who", as_nobody=True)
    assert r.rc == 3 and "、%s 组的成员" % mallory.name in r.err, r
    assert d.wait_log("control: uid %d gid %d pid " % (mallory.uid, mallory.gid))
    assert d.stop() == 0

    conf = os.path.join(base, "qund.conf")
    with open(conf, "w") as f:
        f.write("control-self = yes\n")
    paths = {k: v + ".2" for k, v in rundir_paths(base).items()}
    d = run("-u", "nobody", "-c", conf, **paths)
    d.start()
    r = qunctl(d.control, "who", as_nobody=True)
    assert r.rc == 0, r
    r = qunctl(d.control, "who", user=(mallory.uid, mallory.gid, ()))
    assert r.rc == 3, r  # the socket is nobody's, 0660: the mode keeps her out first
    assert d.stop() == 0


def test_s23_without_user_whoever_started_qund_may_use_it(base):
    """qund started by an ordinary user (here nobody; no -u) is that user's: the same user
    may run qunctl, as the README's examples do.  Root's qunctl does not trust a server of
    nobody's unless told (--server-user)."""
    sock = os.path.join(base, "qund.sock")
    os.chown(base, NOBODY, NOBODY)
    p = subprocess.Popen(as_user([QUND, "-b", "127.0.0.1", "-p", "0", "--control", sock],
                                 "nobody", "nogroup"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env())
    try:
        assert read_line(p.stdout, WAIT, "qund's first line").startswith(b"listening on ")
        assert wait_until(lambda: os.path.exists(sock))
        r = qunctl(sock, "who", as_nobody=True)
        assert r.rc == 0, r
        r = qunctl(sock, "who")
        assert r.rc == 3 and "runs as uid %d (nobody), not as root or you" % NOBODY in r.err, r
        assert qunctl(sock, "--server-user", "nobody", "who").rc == 0
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(WAIT)
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()
    assert rc == 0


def test_group_names_and_numbers(run, base):
    """--control-group takes a name or a number; an unknown one stops qund with the reason."""
    d = run("--control-group", str(grp.getgrnam("nogroup").gr_gid), **rundir_paths(base))
    d.start()
    assert os.stat(d.control).st_gid == grp.getgrnam("nogroup").gr_gid
    assert d.stop() == 0
    paths = {k: v + ".2" for k, v in rundir_paths(base).items()}
    d = run("--control-group", "no-such-group-qun", **paths)
    r = d.start(expect_ok=False)
    assert r.returncode == 1
    assert "--control-group: no such group: no-such-group-qun" in r.stderr.decode()
