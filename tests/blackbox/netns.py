# netns.py - network namespaces with nftables loss and duplication, and raw-socket forging of UDP, for the fault and attack tests.
"""Helpers for the tests of THREATS.md that need the kernel's help:

* `Netns`: a network namespace of our own with loopback up, torn down at
  the end.  Programs run inside it with `ip netns exec` (`argv()`); sockets
  of this test process are made inside it by a short-lived thread that
  enters the namespace with setns(2) (`socket()`): a socket stays in the
  namespace it was made in, so the test keeps using it from any thread.
* nftables faults (the only kind of loss the kernel offers here; tc netem
  is not available): `loss(port, percent)` drops on the *input* hook (a drop
  on output makes sendto fail, which is not loss), both ways;
  `dup(port, percent)` duplicates on prerouting (each copy is marked so it
  is not duplicated again).  Every rule has a counter, so a test can prove
  the fault really happened (`counters()`).
* `Forger`: a raw IPv4 socket (IP_HDRINCL) that sends UDP datagrams with any
  source address and port, checksums computed.  Used inside a namespace so
  that forged traffic stays in our sandbox.

`skip_reason()` says why these can't run (not root, no `ip`, no `nft`, no
namespaces); tests call `require()` which skips with that reason.  CI runs
as root, so there they run.
"""

import ctypes
import itertools
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()
_reason = None
_checked = False
# Deadline for one `ip` or `nft` command; they take milliseconds when the kernel answers.
CMD_WAIT = 30.0


def _cmd(argv, input=None):
    """Run argv (output captured, text) within CMD_WAIT; a command that hangs is an error."""
    try:
        return subprocess.run(argv, input=input, capture_output=True, text=True,
                              timeout=CMD_WAIT)
    except subprocess.TimeoutExpired:
        raise RuntimeError("%s did not finish within %.0f s" % (" ".join(argv), CMD_WAIT))


def skip_reason():
    """None if namespaces, nftables and raw sockets can be used here; else why not."""
    global _reason, _checked
    if _checked:
        return _reason
    _checked = True
    if os.geteuid() != 0:
        _reason = "needs root (network namespaces, nftables, raw sockets); CI runs as root"
    elif not shutil.which("ip"):
        _reason = "`ip` (iproute2) is not installed: apt-get install iproute2"
    elif not shutil.which("nft"):
        _reason = "`nft` is not installed: apt-get install nftables"
    else:
        name = "qun-probe-%d" % os.getpid()
        r = _cmd(["ip", "netns", "add", name])
        if r.returncode != 0:
            _reason = "cannot create a network namespace: %s" % r.stderr.strip()
        else:
            r = _cmd(["ip", "netns", "exec", name, "nft", "list", "ruleset"])
            if r.returncode != 0:
                _reason = "nft does not work in a namespace: %s" % r.stderr.strip()
            _cmd(["ip", "netns", "del", name])
    return _reason


def require():
    """Skip the calling test, saying why, if namespaces can't be used here."""
    r = skip_reason()
    if r:
        pytest.skip(r)


class Netns:
    """A network namespace with loopback up; `close()` deletes it."""

    def __init__(self, tag="t"):
        require()
        self.name = "qun-%s-%d-%d" % (tag, os.getpid(), next(_counter))
        self._run(["ip", "netns", "add", self.name])
        self.open = True
        self._run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        self.rules = []
        self.tmpdir = None

    def _run(self, argv, input=None):
        r = _cmd(argv, input)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(argv), r.stderr.strip()))
        return r.stdout

    def argv(self, argv):
        """argv to run a program inside the namespace (ip netns exec execs it: same pid)."""
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv):
        return self._run(self.argv(argv))

    def in_ns(self, fn):
        """Call fn() on a thread that has entered the namespace; return its result."""
        out = {}

        def body():
            fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    out["err"] = OSError(e, "setns: " + os.strerror(e))
                    return
                out["val"] = fn()
            except Exception as e:  # noqa: BLE001 - handed to the caller
                out["err"] = e
            finally:
                os.close(fd)

        t = threading.Thread(target=body)
        t.start()
        t.join()
        if "err" in out:
            raise out["err"]
        return out["val"]

    def socket(self, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
        """A socket that lives in this namespace."""
        return self.in_ns(lambda: socket.socket(family, type, proto))

    def udp(self, bind=("127.0.0.1", 0)):
        s = self.socket()
        s.bind(bind)
        return s

    def udp6(self, bind=("::1", 0)):
        """An IPv6 UDP socket in this namespace, bound to bind (see add_addresses)."""
        s = self.socket(socket.AF_INET6)
        s.bind(bind)
        return s

    def add_addresses(self, addrs, dev="lo"):
        """Give dev these extra addresses (IPv6 as /128, no duplicate detection; IPv4
        as /32), so that sockets of this namespace can send from each of them: many
        addresses of one network, as a host that owns a whole IPv6 /64 has."""
        lines = ["address add %s/%d dev %s%s" % (a, 128 if ":" in a else 32, dev,
                                                   " nodad" if ":" in a else "")
                 for a in addrs]
        self._run(["ip", "-n", self.name, "-batch", "-"], input="\n".join(lines) + "\n")

    def nft(self, script):
        """Load an nftables script inside the namespace."""
        self._run(self.argv(["nft", "-f", "-"]), input=script)
        self.rules.append(script)

    def loss(self, port, percent, both=True):
        """Drop `percent`% of UDP datagrams to `port` (and from it if both), on input."""
        rules = ["udp dport %d numgen random mod 100 < %d counter drop" % (port, percent)]
        if both:
            rules.append("udp sport %d numgen random mod 100 < %d counter drop"
                         % (port, percent))
        self.nft("table inet qunloss {\n chain input {\n"
                 "  type filter hook input priority 0; policy accept;\n  %s\n }\n}\n"
                 % "\n  ".join(rules))

    def dup(self, port, percent, both=True):
        """Duplicate `percent`% of UDP datagrams to `port` (and from it if both)."""
        rules = []
        for d in (["dport"] + (["sport"] if both else [])):
            rules.append("udp %s %d meta mark != 0x51 numgen random mod 100 < %d "
                         "meta mark set 0x51 counter dup to 127.0.0.1 device \"lo\""
                         % (d, port, percent))
        self.nft("table ip qundup {\n chain pre {\n"
                 "  type filter hook prerouting priority -300; policy accept;\n  %s\n }\n}\n"
                 % "\n  ".join(rules))

    def flush(self):
        """Remove every fault rule."""
        self._run(self.argv(["nft", "flush", "ruleset"]))

    def counters(self):
        """The packet counts of our rules, in the order they were written."""
        out = self._run(self.argv(["nft", "list", "ruleset"]))
        return [int(m) for m in re.findall(r"counter packets (\d+)", out)]

    def wrapper(self, binary):
        """An executable script that runs binary inside this namespace, same pid.

        The black-box helpers of conftest.py start `QUND`/`QUN` by path; with
        this script put in their place the same helpers start the program in
        the namespace (sh execs ip, ip execs the program)."""
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="qun-ns-")
        path = os.path.join(self.tmpdir, os.path.basename(binary))
        if not os.path.exists(path):
            # Written once, atomically: a shell still reading an earlier copy
            # must never see it truncated (it would exit 0 having run nothing).
            tmp = path + ".tmp"
            with open(tmp, "w") as f:
                f.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (self.name, binary))
            os.chmod(tmp, 0o755)
            os.rename(tmp, path)
        return path

    def close(self):
        if self.open:
            _cmd(["ip", "netns", "del", self.name])
            self.open = False
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_patch_lock = threading.Lock()


def in_namespace(ns, procs, what, *args, **kw):
    """Start qund (what="qund") or qun on pipes (what="qun") inside ns through the
    helpers of conftest.py, so clean-up and checks are theirs; returns the object."""
    import conftest
    attr = "QUND" if what == "qund" else "QUN"
    with _patch_lock:
        real = getattr(conftest, attr)
        setattr(conftest, attr, ns.wrapper(real))
        try:
            if what == "qund":
                return procs.qund(*args, **kw)
            return procs.qun_pipe(*args, **kw)
        finally:
            setattr(conftest, attr, real)


# ---------------------------------------------------------------------------
# Forging.

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_packet(src, dst, payload):
    """An IPv4 packet carrying one UDP datagram from src (ip, port) to dst (ip, port)."""
    sip, dip = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    ulen = 8 + len(payload)
    pseudo = sip + dip + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    uh = struct.pack("!HHHH", src[1], dst[1], ulen, 0)
    c = _csum(pseudo + uh + payload) or 0xFFFF
    uh = struct.pack("!HHHH", src[1], dst[1], ulen, c)
    total = 20 + ulen
    ih = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
                     sip, dip)
    ih = ih[:10] + struct.pack("!H", _csum(ih)) + ih[12:]
    return ih + uh + payload


class Forger:
    """Sends UDP datagrams with forged source addresses from a raw socket.

    ns: a Netns (the raw socket is made inside it), or None for this
    namespace (only for tests that already run inside one)."""

    def __init__(self, ns=None):
        require()
        mk = (lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
        self.sock = ns.in_ns(mk) if ns is not None else mk()
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        self.sent = 0
        self.bytes = 0

    def send(self, src, dst, payload):
        """Send payload to dst as if from src; returns the UDP payload size."""
        pkt = udp_packet(src, dst, payload)
        deadline = time.monotonic() + CMD_WAIT
        while True:
            try:
                self.sock.sendto(pkt, (dst[0], 0))
                break
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno != 105:  # ENOBUFS: the queue is full; try again
                    raise
            if time.monotonic() >= deadline:
                raise RuntimeError("a forged datagram found no room to be sent for %.0f s"
                                   % CMD_WAIT)
        self.sent += 1
        self.bytes += len(payload)
        return len(payload)

    def close(self):
        self.sock.close()
