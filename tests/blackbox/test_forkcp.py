# test_forkcp.py - black-box tests of forkcp: exact copies, holes, modes, refusals, real failures.
"""Black-box tests of forkcp(1).

Every run goes through a small wrapper process that makes itself a child
subreaper (prctl PR_SET_CHILD_SUBREAPER) before starting forkcp: a worker
that forkcp left running, or left as a zombie, is re-parented to the wrapper
instead of init, and the wrapper reports it (then kills and reaps it).  So
each run checks "no process left behind" from /proc without sleeping.

Failures are injected for real: RLIMIT_FSIZE (ulimit -f), a small tmpfs that
fills up, a file the user may not read (as nobody, since root reads
everything), a pipe that is cut off by a signal.  Tests that need root,
mount(2) or setpriv skip with the reason when they cannot have them.

The binary is $QUN_BUILD/forkcp, by default build/forkcp at the repository
root, so the same tests run against the normal and the sanitizer builds.
"""

import contextlib
import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("QUN_BUILD") or os.path.join(REPO, "build")
FORKCP = os.path.join(BUILD, "forkcp")
MAN = os.path.join(REPO, "man", "forkcp.1")

MiB = 1 << 20
GiB = 1 << 30
DEADLINE = 30.0  # for a run to finish: generous, the sanitizer build is slow
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")

# The subreaper wrapper: argv = [report path, program, args...].  Writes the
# program's pid to REPORT.pid once started, and to REPORT, after the program
# ended, its return code and the processes still parented to the wrapper.
WRAPPER = r"""
import ctypes, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
report = sys.argv[1]
p = subprocess.Popen(sys.argv[2:])
with open(report + ".pid", "w") as f:
    f.write(str(p.pid))
rc = p.wait()
me, left = os.getpid(), []
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % d) as f:
            st = f.read()
    except OSError:
        continue
    fields = st[st.rindex(")") + 2:].split()
    if int(fields[1]) == me:
        left.append([int(d), fields[0]])
for pid, _ in left:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass
with open(report, "w") as f:
    json.dump({"rc": rc, "left": left}, f)
"""


class Run:
    """The outcome of one forkcp run."""

    def __init__(self, rc, out, err, left):
        self.rc, self.out, self.err, self.left = rc, out, err, left

    def __repr__(self):
        return "rc=%r left=%r\nstdout: %s\nstderr: %s" % (self.rc, self.left, self.out, self.err)


def _wrapped(report, args, as_nobody=False):
    argv = [FORKCP] + [str(a) for a in args]
    if as_nobody:
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + argv
    return [sys.executable, "-S", "-c", WRAPPER, report] + argv


def _drop(report):
    for path in (report, report + ".pid"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _finish(report, out, err):
    with open(report) as f:
        rep = json.load(f)
    os.unlink(report)
    os.unlink(report + ".pid")
    r = Run(rep["rc"], out.decode("utf-8", "backslashreplace"),
            err.decode("utf-8", "backslashreplace"), rep["left"])
    assert not any(m in r.err for m in SANITIZER_MARKS), r
    assert r.left == [], "forkcp left processes behind (pid, state): %r" % (r,)
    return r


def _report_path():
    fd, path = tempfile.mkstemp(prefix="forkcp-test-report-")
    os.close(fd)
    return path


def failwrite_env(at):
    """The environment that makes writes into forkcp's temporary fail from byte at
    on (tests/blackbox/failwrite.c, built next to forkcp)."""
    env = dict(os.environ, LD_PRELOAD=os.path.join(os.path.dirname(FORKCP), "failwrite.so"),
               FAILWRITE_AT=str(at))
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return env


def forkcp(*args, input=None, fsize=None, umask=None, as_nobody=False, cwd=None, env=None):
    """Run forkcp with args (in env, if given); returns a Run, having checked that no
    process was left."""
    def limits():
        if fsize is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if umask is not None:
            os.umask(umask)

    report = _report_path()
    # A session of its own, so that a run that hangs can be killed whole.
    p = subprocess.Popen(_wrapped(report, args, as_nobody),
                         stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limits,
                         cwd=cwd, env=env, start_new_session=True)
    try:
        out, err = p.communicate(input, timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        _drop(report)
        pytest.fail("forkcp %r did not finish within %g s" % (args, DEADLINE))
    assert p.returncode == 0, "wrapper failed: %r" % err
    return _finish(report, out, err)


def temps(d):
    """The forkcp temporaries in directory d."""
    return sorted(n for n in os.listdir(d) if n.startswith(".forkcp-"))


def assert_failed_cleanly(r, dst, old=None):
    """A failed run: exit 1, DST as it was before (absent, or old bytes), no temporary."""
    assert r.rc == 1, r
    if old is None:
        assert not os.path.lexists(dst), r
    else:
        with open(dst, "rb") as f:
            assert f.read() == old, "the existing DST was changed by a failed copy"
    assert temps(os.path.dirname(dst) or ".") == [], r


def make_file(path, size, mode=0o644):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    os.chmod(path, mode)
    return path


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(MiB), fb.read(MiB)
            if x != y:
                return False
            if not x:
                return True


def data_extents(path):
    """The (start, end) data regions of path according to SEEK_DATA/SEEK_HOLE."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size, pos = os.fstat(fd).st_size, 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            out.append((data, hole))
            pos = hole
    finally:
        os.close(fd)
    return out


def same_sparse(a, b):
    """Byte equality of two sparse files, reading only where either has data."""
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for start, end in data_extents(a) + data_extents(b):
            fa.seek(start)
            fb.seek(start)
            for off in range(start, end, MiB):
                n = min(MiB, end - off)
                if fa.read(n) != fb.read(n):
                    return False
    return True


def make_sparse(path, size, islands):
    """A file of size bytes, holes except random bytes at (offset, length) islands."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off, n in islands:
            f.seek(off)
            f.write(os.urandom(n))
    return path


def need_root(why):
    if os.geteuid() != 0:
        pytest.skip("needs root to " + why)


def need_nobody():
    need_root("switch to the user nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")


@pytest.fixture
def world_dir():
    """A temporary directory that the user nobody can enter (pytest's is 0700)."""
    d = tempfile.mkdtemp(prefix="forkcp-test-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs mounted for the test, unmounted after."""
    need_root("mount a tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "forkcp-test",
                        str(mnt)], capture_output=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % p.stderr.decode().strip())
    try:
        yield str(mnt)
    finally:
        if subprocess.run(["umount", str(mnt)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)])


# ---------------------------------------------------------------------------
# Command line.

def test_version():
    r = forkcp("-V")
    assert (r.rc, r.out, r.err) == (0, "forkcp 0.1.0\n", "")


def man_synopsis():
    """The SYNOPSIS lines of man/forkcp.1 (between .nf and .fi), as plain text."""
    with open(MAN) as f:
        man = f.read()
    block = man.split(".SH SYNOPSIS", 1)[1].split(".nf\n", 1)[1].split(".fi\n", 1)[0]
    plain = re.sub(r"\\f[BIRP]", "", block).replace("\\-", "-")
    return [l.strip() for l in plain.splitlines() if l.strip()]


@pytest.mark.parametrize("opt", ["-h", "--help"])
def test_help_matches_man_page_synopsis(opt):
    r = forkcp(opt)
    assert r.rc == 0 and r.err == "", r
    usage = [l.replace("usage:", "", 1).strip() for l in r.out.splitlines()[:2]]
    assert usage == ["forkcp [-j N] [-f] [-v] SRC DST", "forkcp -h | -V"], r
    assert usage == man_synopsis()


@pytest.mark.parametrize("args", [
    [], ["a"], ["a", "b", "c"], ["-j"], ["-j", "0", "a", "b"], ["-j", "x", "a", "b"],
    ["-j", "257", "a", "b"], ["-j", "2x", "a", "b"], ["-q", "a", "b"], ["", "b"], ["a", ""],
])
def test_usage_errors_exit_2(args, tmp_path):
    r = forkcp(*args, cwd=tmp_path)
    assert r.rc == 2, r
    assert "usage: forkcp" in r.err and r.out == "", r
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------
# Copies that must be exact.

SIZES = [0, 1, 2, 3, 7, 4096, 65537, 1000003, 5 * MiB + 7]


@pytest.mark.parametrize("size", SIZES)
def test_exact_copy_for_sizes_and_process_counts(size, tmp_path):
    src = make_file(tmp_path / "src", size, 0o640)
    for j in (1, 2, 3, 8):
        dst = tmp_path / ("dst%d" % j)
        r = forkcp("-j", j, src, dst)
        assert r.rc == 0 and r.out == "" and r.err == "", r
        assert os.path.getsize(dst) == size
        assert same_bytes(src, dst), "-j %d: contents differ" % j
        assert stat.S_IMODE(os.stat(dst).st_mode) == 0o640
    assert temps(tmp_path) == []


def test_default_is_parent_and_one_child(tmp_path):
    src = make_file(tmp_path / "src", 3 * MiB + 1)
    r = forkcp("-v", src, tmp_path / "dst")
    assert r.rc == 0, r
    workers = re.findall(r"worker (\d) of (\d) \(pid (\d+)(, parent)?\)", r.out)
    assert [(w, n, p) for w, n, _, p in workers] == [("1", "2", ", parent"), ("2", "2", "")], r
    assert workers[0][2] != workers[1][2], "both halves were copied by the same process"
    assert same_bytes(src, tmp_path / "dst")


# File systems whose copy_file_range() can share or offload data (forkcp's
# offloads_copies()), by the type stat -f prints in hex.
OFFLOADING_FS = {"9123683e", "58465342", "6969", "ff534d42", "fe534d42", "ca451a4e",
                 "c36400", "7461636f"}


def fs_type(path):
    out = subprocess.run(["stat", "-f", "-c", "%t", str(path)], check=True,
                         capture_output=True, text=True).stdout.strip()
    return out.lstrip("0") or "0"


def worker_methods(out):
    return re.findall(r"worker \d+ of \d+ \(pid \d+(?:, parent)?\): [^:]*: "
                      r"\d+ copied, \d+ skipped as holes, (.*)", out)


def test_one_worker_copies_like_cp(tmp_path):
    src = make_file(tmp_path / "src", 3 * MiB + 5)
    r = forkcp("-v", "-j", 1, src, tmp_path / "dst")
    assert r.rc == 0, r
    assert worker_methods(r.out) == ["copy_file_range"], r
    assert same_bytes(src, tmp_path / "dst")


def test_several_workers_read_in_parallel_where_copies_go_through_memory(tmp_path):
    if fs_type(tmp_path) in OFFLOADING_FS:
        pytest.skip("%s is on a file system that offloads copies: forkcp keeps "
                    "copy_file_range there" % tmp_path)
    src = make_file(tmp_path / "src", 5 * MiB + 3)
    r = forkcp("-v", "-j", 3, src, tmp_path / "dst")
    assert r.rc == 0, r
    assert worker_methods(r.out) == ["pread/pwrite"] * 3, r
    assert same_bytes(src, tmp_path / "dst")


def test_more_processes_than_bytes(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"abc")
    r = forkcp("-v", "-j", 16, src, tmp_path / "dst")
    assert r.rc == 0, r
    assert (tmp_path / "dst").read_bytes() == b"abc"
    assert "-j 16 lowered to 3" in r.out, r


def test_holes_stay_holes(tmp_path):
    islands = [(0, 5000), (3 * MiB + 17, 70000), (20 * MiB - 1, 2), (40 * MiB + 4095, 8193)]
    src = make_sparse(tmp_path / "src", 64 * MiB + 3, islands)
    src_blocks = os.stat(src).st_blocks
    if src_blocks * 512 >= 8 * MiB:
        pytest.skip("this file system does not keep holes (%d blocks)" % src_blocks)
    for j in (1, 2, 4):
        dst = tmp_path / ("dst%d" % j)
        r = forkcp("-v", "-j", j, src, dst)
        assert r.rc == 0, r
        assert same_bytes(src, dst)
        # Holes of SRC are holes of DST: no more blocks, and no data outside SRC's data.
        assert os.stat(dst).st_blocks <= src_blocks, (j, os.stat(dst).st_blocks, src_blocks)
        for start, end in data_extents(dst):
            assert any(s <= start and end <= e for s, e in data_extents(src)), (start, end)
        skipped = sum(int(n) for n in re.findall(r"(\d+) skipped as holes", r.out))
        assert skipped > 60 * MiB, r


@pytest.mark.parametrize("j", [1, 2, 3])
def test_over_4_gib_sparse(j, tmp_path):
    size = 5 * GiB + 3
    islands = [(0, 4096), (int(2.5 * GiB) - 3000, 6000), (4 * GiB - 1000, 3000),
               (size - 3, 3)]
    src = make_sparse(tmp_path / "src", size, islands)
    if os.stat(src).st_blocks * 512 >= 64 * MiB:
        pytest.skip("this file system does not keep holes; a 5 GiB file would cost too much")
    dst = tmp_path / "dst"
    r = forkcp("-j", j, src, dst)
    assert r.rc == 0, r
    assert os.path.getsize(dst) == size
    assert same_sparse(src, dst)
    assert os.stat(dst).st_blocks <= os.stat(src).st_blocks


@pytest.mark.parametrize("mode,want", [(0o600, 0o600), (0o640, 0o640), (0o755, 0o755),
                                       (0o444, 0o444), (0o000, 0o000), (0o4755, 0o755),
                                       (0o2750, 0o750), (0o1777, 0o777)])
def test_mode_copied_without_setid_bits(mode, want, tmp_path):
    src = make_file(tmp_path / "src", 1000)
    os.chmod(src, mode)
    r = forkcp(src, tmp_path / "dst", umask=0o077)
    assert r.rc == 0, r
    assert stat.S_IMODE(os.stat(tmp_path / "dst").st_mode) == want


def test_into_directory(tmp_path):
    src = make_file(tmp_path / "data.bin", 100000)
    d = tmp_path / "d"
    d.mkdir()
    for target in (str(d), str(d) + "/"):
        r = forkcp(src, target)
        assert r.rc == 0, r
        assert same_bytes(src, d / "data.bin")
    assert sorted(os.listdir(d)) == ["data.bin"]


def test_into_directory_holding_a_directory_of_that_name(tmp_path):
    src = make_file(tmp_path / "x", 10)
    (tmp_path / "d" / "x").mkdir(parents=True)
    r = forkcp(src, tmp_path / "d")
    assert r.rc == 1 and "directory" in r.err, r
    assert temps(tmp_path / "d") == []


def test_missing_destination_directory(tmp_path):
    src = make_file(tmp_path / "x", 10)
    for target in (tmp_path / "nodir" / "y", str(tmp_path / "nodir") + "/"):
        r = forkcp(src, target)
        assert r.rc == 1 and "nodir" in r.err, r
    assert sorted(os.listdir(tmp_path)) == ["x"]


def test_existing_dst_is_replaced_atomically(tmp_path):
    src = make_file(tmp_path / "src", 300000)
    dst = tmp_path / "dst"
    dst.write_bytes(b"old contents")
    os.link(dst, tmp_path / "old-link")
    old_ino = os.stat(dst).st_ino
    r = forkcp("-v", src, dst)
    assert r.rc == 0 and "(replaced)" in r.out, r
    assert same_bytes(src, dst)
    # A new inode was renamed over DST: other hard links keep the old bytes.
    assert os.stat(dst).st_ino != old_ino
    assert (tmp_path / "old-link").read_bytes() == b"old contents"


@pytest.mark.parametrize("j", [1, 2, 3])
def test_replacing_drops_only_the_old_dsts_cache(j, tmp_path):
    # Replacing drops the old DST's cached pages chunk by chunk (8 MiB) as the
    # workers copy: its contents, seen through another hard link, must not change.
    src = make_file(tmp_path / "src", 20 * MiB + 5)
    dst = make_file(tmp_path / "dst", 30 * MiB + 3)
    with open(dst, "rb") as f:
        old = f.read()
    os.link(dst, tmp_path / "old-link")
    r = forkcp("-v", "-j", j, src, dst)
    assert r.rc == 0 and "(replaced)" in r.out, r
    assert os.path.getsize(dst) == 20 * MiB + 5 and same_bytes(src, dst)
    with open(tmp_path / "old-link", "rb") as f:
        assert f.read() == old, "the old DST's contents changed"
    assert temps(tmp_path) == []


@pytest.mark.parametrize("j", [1, 2])
def test_replacement_failing_midway_keeps_every_old_byte(j, tmp_path):
    # Writes into the temporary fail from 28 MiB on (failwrite.so), after every
    # worker has copied at least one 8 MiB chunk and so dropped the old DST's
    # cached pages of it: DST must still read back whole, from the disk.
    src = make_file(tmp_path / "src", 40 * MiB)
    dst = make_file(tmp_path / "dst", 40 * MiB)
    with open(dst, "rb") as f:
        old = f.read()
    r = forkcp("-j", j, src, dst, env=failwrite_env(28 * MiB))
    assert_failed_cleanly(r, dst, old)
    assert "Input/output error" in r.err and "cannot size" not in r.err, r


def test_dst_that_cannot_be_read_is_still_replaced(world_dir):
    # Without read permission forkcp cannot open the old DST to drop its cache
    # (a hint): it replaces it all the same.
    need_nobody()
    src = make_file(os.path.join(world_dir, "src"), 10 * MiB + 1, 0o644)
    out = os.path.join(world_dir, "out")
    os.mkdir(out)
    os.chown(out, 65534, 65534)
    dst = os.path.join(out, "dst")
    make_file(dst, 3 * MiB, 0o200)
    os.chown(dst, 65534, 65534)
    r = forkcp("-j", 2, src, dst, as_nobody=True)
    assert r.rc == 0, r
    assert same_bytes(src, dst) and temps(out) == []


def test_dst_symlink_is_followed(tmp_path):
    src = make_file(tmp_path / "src", 5000)
    target = tmp_path / "target"
    target.write_bytes(b"old")
    os.symlink("target", tmp_path / "link")
    r = forkcp(src, tmp_path / "link")
    assert r.rc == 0, r
    assert os.path.islink(tmp_path / "link")
    assert same_bytes(src, target)


def test_dangling_dst_symlink_refused(tmp_path):
    src = make_file(tmp_path / "src", 10)
    os.symlink("nowhere", tmp_path / "link")
    r = forkcp(src, tmp_path / "link")
    assert r.rc == 1 and "symbolic link" in r.err, r
    assert not os.path.exists(tmp_path / "nowhere") and temps(tmp_path) == []


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink", "directory"])
def test_same_file_refused(how, tmp_path):
    src = make_file(tmp_path / "src", 123457)
    before = src.read_bytes()
    if how == "same path":
        dst = src
    elif how == "hard link":
        dst = tmp_path / "hard"
        os.link(src, dst)
    elif how == "symlink":
        dst = tmp_path / "soft"
        os.symlink("src", dst)
    else:
        dst = tmp_path
    r = forkcp(src, dst)
    assert r.rc == 1 and "same file" in r.err, r
    assert src.read_bytes() == before
    assert temps(tmp_path) == []


def test_non_regular_dst_refused(tmp_path):
    src = make_file(tmp_path / "src", 10)
    os.mkfifo(tmp_path / "fifo")
    r = forkcp(src, tmp_path / "fifo")
    assert r.rc == 1 and "pipe" in r.err, r
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode) and temps(tmp_path) == []


@pytest.mark.parametrize("src,what", [(".", "directory"), ("/dev/null", "character device")])
def test_non_regular_src_refused(src, what, tmp_path):
    r = forkcp(src, tmp_path / "dst", cwd=tmp_path)
    assert r.rc == 1 and what in r.err, r
    assert os.listdir(tmp_path) == []


def test_missing_src(tmp_path):
    r = forkcp(tmp_path / "nothing", tmp_path / "dst")
    assert r.rc == 1 and "No such file or directory" in r.err, r
    assert os.listdir(tmp_path) == []


def test_hostile_name_is_escaped_in_messages(tmp_path):
    r = forkcp("bad\x1b[31mname\n", tmp_path / "dst", cwd=tmp_path)
    assert r.rc == 1, r
    assert "\x1b" not in r.err and "bad\\033[31mname\\012" in r.err, r


# ---------------------------------------------------------------------------
# Pipes: one process, a stream copy.

def test_stdin_pipe_is_stream_copied(tmp_path):
    data = os.urandom(3 * MiB + 5)
    r = forkcp("-v", "-j", 4, "/dev/stdin", tmp_path / "dst", input=data, umask=0o027)
    assert r.rc == 0, r
    assert (tmp_path / "dst").read_bytes() == data
    assert "from a pipe in 1 process" in r.out, r
    assert stat.S_IMODE(os.stat(tmp_path / "dst").st_mode) == 0o640


@contextlib.contextmanager
def started(args, stderr=subprocess.PIPE):
    """Start forkcp under the wrapper without waiting for it; yields (popen, report, pid).

    Whatever happens in the with block, the wrapper's session is killed on the
    way out if it is still running, so a failed test leaves no process behind.
    """
    report = _report_path()
    p = subprocess.Popen(_wrapped(report, args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                with open(report + ".pid") as f:
                    pid = int(f.read())
                break
            except (OSError, ValueError):
                pass
            assert time.monotonic() < deadline and p.poll() is None, "wrapper did not start"
            time.sleep(0.01)
        yield p, report, pid
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            _drop(report)


def _wait_for(cond, what):
    deadline = time.monotonic() + DEADLINE
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_copy_removes_temporary(sig, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    out.mkdir()
    dst = out / "dst"

    def copying():
        t = temps(out)
        return t and os.path.getsize(out / t[0]) == 100000

    with started([fifo, dst]) as (p, report, pid):
        w = os.open(fifo, os.O_WRONLY)  # returns once forkcp has opened the pipe
        try:
            os.write(w, b"x" * 100000)
            _wait_for(copying, "forkcp to write the first bytes to its temporary")
            os.kill(pid, sig)
            stdout, stderr = p.communicate(timeout=DEADLINE)
        finally:
            os.close(w)
    r = _finish(report, stdout, stderr)
    assert r.rc == -sig, r  # it dies of the same signal, after cleaning up
    assert "interrupted" in r.err, r
    assert not os.path.lexists(dst) and temps(out) == []


def test_progress_bar_on_a_terminal(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    master, slave = pty.openpty()
    try:
        with started(["-v", fifo, tmp_path / "dst"], stderr=slave) as (p, report, _):
            os.close(slave)
            slave = -1
            w = os.open(fifo, os.O_WRONLY)
            seen, sent = b"", 0
            deadline = time.monotonic() + DEADLINE
            try:
                # Keep data flowing until the bar shows up (after about a second).
                while b"copied, " not in seen:
                    assert time.monotonic() < deadline, "no progress bar: %r" % seen
                    sent += os.write(w, b"y" * 4096)
                    if select.select([master], [], [], 0.05)[0]:
                        seen += os.read(master, 4096)
            finally:
                os.close(w)
            stdout, _ = p.communicate(timeout=DEADLINE)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    r = _finish(report, stdout, b"")
    assert r.rc == 0, r
    assert b"\r" in seen and seen.endswith(b"\r\n"), seen[-200:]
    assert os.path.getsize(tmp_path / "dst") == sent


def test_no_progress_bar_when_not_a_terminal(tmp_path):
    src = make_file(tmp_path / "src", 2 * MiB)
    r = forkcp("-v", src, tmp_path / "dst")
    assert r.rc == 0 and r.err == "", r
    assert r.out.startswith("'%s' -> '%s'\n" % (src, tmp_path / "dst")), r


# ---------------------------------------------------------------------------
# Failures injected for real.  After each: exit 1, no DST (or the old one
# untouched), no temporary, no process left (checked by forkcp()).

@pytest.mark.parametrize("old", [None, b"previous"])
def test_file_size_limit(old, tmp_path):
    src = make_file(tmp_path / "src", 3 * MiB)
    dst = tmp_path / "dst"
    if old is not None:
        dst.write_bytes(old)
    r = forkcp("-j", 2, src, dst, fsize=MiB)
    assert r.rc != -signal.SIGXFSZ, "killed by SIGXFSZ instead of reporting EFBIG"
    assert_failed_cleanly(r, dst, old)
    assert "File too large" in r.err and "dst" in r.err, r


def test_file_size_limit_during_a_stream(tmp_path):
    dst = tmp_path / "dst"
    r = forkcp("/dev/stdin", dst, input=os.urandom(3 * MiB), fsize=MiB)
    assert r.rc != -signal.SIGXFSZ, "killed by SIGXFSZ instead of reporting EFBIG"
    assert_failed_cleanly(r, dst)
    assert "File too large" in r.err and "writing '%s' at byte" % dst in r.err, r


@pytest.mark.parametrize("j", [1, 2, 4])
def test_full_file_system(j, small_tmpfs, tmp_path):
    src = make_file(tmp_path / "src", 4 * MiB)
    dst = os.path.join(small_tmpfs, "dst")
    r = forkcp("-j", j, src, dst)
    assert_failed_cleanly(r, dst)
    assert "No space left on device" in r.err, r
    assert re.search(r"worker \d of %d \((bytes \d+-\d+)\): writing '%s' at byte \d+" % (j, dst),
                     r.err), r


def test_full_file_system_keeps_old_dst(small_tmpfs, tmp_path):
    src = make_file(tmp_path / "src", 4 * MiB)
    dst = os.path.join(small_tmpfs, "dst")
    with open(dst, "wb") as f:
        f.write(b"keep me")
    r = forkcp("-j", 4, src, dst)
    assert_failed_cleanly(r, dst, b"keep me")
    assert "'%s' left unchanged" % dst in r.err, r


def test_copy_across_file_systems_falls_back(small_tmpfs, tmp_path):
    src = make_file(tmp_path / "src", 600000)
    r = forkcp("-v", "-j", 1, src, small_tmpfs)
    assert r.rc == 0, r
    assert same_bytes(src, os.path.join(small_tmpfs, "src"))
    assert "pread/pwrite" in r.out, r


def test_unreadable_src(world_dir):
    need_nobody()
    src = make_file(os.path.join(world_dir, "secret"), 10000, 0o600)
    out = os.path.join(world_dir, "out")
    os.mkdir(out)
    os.chown(out, 65534, 65534)
    dst = os.path.join(out, "copy")
    r = forkcp(src, dst, as_nobody=True)
    assert_failed_cleanly(r, dst)
    assert "Permission denied" in r.err and src in r.err, r


def test_unwritable_dst_needs_f(world_dir):
    need_nobody()
    src = make_file(os.path.join(world_dir, "src"), 10000, 0o644)
    out = os.path.join(world_dir, "out")
    os.mkdir(out)
    os.chown(out, 65534, 65534)
    dst = os.path.join(out, "dst")
    with open(dst, "wb") as f:
        f.write(b"read-only")
    os.chown(dst, 65534, 65534)
    os.chmod(dst, 0o444)
    r = forkcp(src, dst, as_nobody=True)
    assert_failed_cleanly(r, dst, b"read-only")
    assert "use -f" in r.err, r
    r = forkcp("-f", src, dst, as_nobody=True)
    assert r.rc == 0, r
    assert same_bytes(src, dst) and temps(out) == []


def test_unwritable_dst_directory(world_dir):
    need_nobody()
    src = make_file(os.path.join(world_dir, "src"), 10000, 0o644)
    dst = os.path.join(world_dir, "dst")  # world_dir belongs to root, mode 0755
    r = forkcp(src, dst, as_nobody=True)
    assert_failed_cleanly(r, dst)
    assert "temporary file" in r.err and "Permission denied" in r.err, r
