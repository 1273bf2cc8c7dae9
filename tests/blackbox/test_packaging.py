# test_packaging.py - `make install DESTDIR=...` installs exactly the expected files; the unit verifies.
"""What an operator or a packager gets from `make install`: the programs,
their man pages and a hardened systemd unit, and nothing else."""

import os
import shutil
import stat
import subprocess

import pytest

from daemon_helpers import BUILD, QUNCTL, QUND, REPO, WAIT

# DESTDIR-relative path -> mode, for PREFIX=/usr.
EXPECTED = {
    "usr/bin/qun": 0o755,
    "usr/bin/forkcp": 0o755,
    "usr/sbin/qund": 0o755,
    "usr/sbin/qunctl": 0o755,
    "usr/share/man/man1/qun.1": 0o644,
    "usr/share/man/man5/qund.conf.5": 0o644,
    "usr/share/man/man8/qund.8": 0o644,
    "usr/share/man/man8/qunctl.8": 0o644,
    "usr/lib/systemd/system/qund.service": 0o644,
}
if os.path.exists(os.path.join(REPO, "man", "forkcp.1")):
    EXPECTED["usr/share/man/man1/forkcp.1"] = 0o644


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    """One install into a fresh DESTDIR, from the build under test (nothing is rebuilt)."""
    d = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["make", "-s", "-C", REPO, "install", "DESTDIR=%s" % d, "PREFIX=/usr",
                        "B=%s" % BUILD],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return str(d)


def installed(destdir):
    out = {}
    for root, dirs, files in os.walk(destdir):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, destdir)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def test_install_exactly_the_expected_files(destdir):
    assert installed(destdir) == EXPECTED


def test_installed_binaries_are_the_built_ones(destdir):
    for name, built in (("usr/sbin/qund", QUND), ("usr/sbin/qunctl", QUNCTL)):
        with open(os.path.join(destdir, name), "rb") as a, open(built, "rb") as b:
            assert a.read() == b.read(), name


def test_unit_runs_the_installed_server_hardened(destdir):
    with open(os.path.join(destdir, "usr/lib/systemd/system/qund.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/sbin/qund\n" in unit
    for line in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "RuntimeDirectory=qun", "CapabilityBoundingSet=\n", "PrivateTmp=yes",
                 "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
        assert line in unit, line
    assert "@" not in unit.replace("@system-service", "").replace("@privileged", "") \
        .replace("@resources", ""), "a placeholder was not filled in"


def test_unit_passes_systemd_analyze_verify(destdir, tmp_path):
    """systemd-analyze verify, on a copy pointing at the DESTDIR binary (it checks that
    ExecStart exists) with MANPATH at the DESTDIR pages (it checks Documentation=)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd); "
                    "the unit file is not verified")
    with open(os.path.join(destdir, "usr/lib/systemd/system/qund.service")) as f:
        unit = f.read().replace("ExecStart=/usr/sbin/qund",
                                "ExecStart=%s/usr/sbin/qund" % destdir)
    copy = tmp_path / "qund.service"
    copy.write_text(unit)
    env = dict(os.environ, MANPATH=os.path.join(destdir, "usr/share/man"))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()


@pytest.mark.parametrize("page", ["man8/qund.8", "man8/qunctl.8", "man5/qund.conf.5"])
def test_man_pages_render_cleanly(destdir, page):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed; man pages not rendered")
    path = os.path.join(destdir, "usr/share/man", page)
    r = subprocess.run(["groff", "-k", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                       timeout=WAIT)
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()


def test_uninstall_removes_everything(tmp_path):
    d = str(tmp_path)
    for target in ("install", "uninstall"):
        r = subprocess.run(["make", "-s", "-C", REPO, target, "DESTDIR=%s" % d, "PREFIX=/usr",
                            "B=%s" % BUILD], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()
    assert installed(d) == {}
