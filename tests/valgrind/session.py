#!/usr/bin/python3
# session.py - valgrind memcheck of qund through a scripted v1 + v2 session: zero errors, zero leaks, or it fails.
"""Usage: session.py PATH/TO/qund [LOGDIR]

Runs `qund --legacy` (built without sanitizers: valgrind and ASan do not
mix) under valgrind memcheck and drives a representative part of the
black-box behaviour through it from this one script:
- v1: logins (accepted, taken, reserved, invalid UTF-8, empty), chat,
  refusals for bad text, the malformed and oversized datagrams of
  THREATS.md S8 from a member and from a stranger, forged C and Q,
  keepalive P, a padded L for the full refusal;
- v2: the cookie handshake (with a bad cookie first), chat both ways with
  acks, a long message in pieces, a forged session id, the other-address
  CHALLENGE and REBIND, flood control, QUIT;
- the operator console: speech, /who, /kick;
- shutdown with members of both protocols still in the room (SIGTERM).
Each step checks the reply it must cause, so the session really reaches
the code it means to.  Memcheck runs with --leak-check=full and
--error-exitcode; the pass criteria are read from its log: for every
process, "ERROR SUMMARY: 0 errors" and no definitely, indirectly or
possibly lost bytes; for qund itself, also nothing still reachable ("All
heap blocks were freed").  The forked console child inherits qund's heap
at fork() and leaves with _exit() or a signal, so reachable blocks are
expected there and only the lost kinds count.
"""

import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import v2lite  # noqa: E402

WAIT = 20.0  # valgrind is slow: generous deadlines, returning as soon as the condition holds
STARTUP = 60.0  # for qund under valgrind to print "listening on ..."


class Udp:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = port

    def send(self, data):
        self.s.sendto(data.encode() if isinstance(data, str) else data, ("127.0.0.1", self.port))

    def recv(self, timeout=WAIT):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(2048).decode("utf-8", "replace")
        except socket.timeout:
            return None

    def expect(self, want, timeout=WAIT):
        """Read lines until want arrives; return the lines before it."""
        seen = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.recv(end - time.monotonic())
            if got is None:
                break
            if got == want:
                return seen
            seen.append(got)
        raise AssertionError("expected %r, got %r" % (want, seen))


def pump(clients, until, timeout=WAIT):
    """Run v2lite clients until until() holds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        now = time.monotonic()
        for c in clients:
            c.sock.settimeout(0)
            while True:
                try:
                    data = c.sock.recv(2048)
                except (BlockingIOError, socket.timeout):
                    break
                c.on_datagram(data, now)
            c.poll(now)
        if until():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting in the v2 session")


def has_event(c, kind, name=None, text=None):
    return any(e[0] == kind and (name is None or e[1] == name) and (text is None or e[2] == text)
               for e in c.events)


def session(port, console):
    alice, bob, stranger = Udp(port), Udp(port), Udp(port)
    # v1 logins and refusals.
    alice.send("L alice")
    alice.expect("OK")
    bob.send("L bob\n")
    bob.expect("OK")
    alice.expect("bob joined the room")
    # A stranger's refusal is at most 3x its request: "name already taken" (18 bytes) fits
    # "L alice" (21), not "L bob" (15), which gets ERR; padded ones the full reason
    # (docs/PROTOCOL.md, "No amplification").
    stranger.send("L alice")
    assert stranger.recv() == "name already taken"
    stranger.send("L bob")
    assert stranger.recv() == "ERR"
    for bad, why in [(b"L alice", "taken"), (b"L admin", "reserved"), (b"L ", "empty"),
                     (b"L al ice", "spaces"), (b"L \xc0\xaf", "UTF-8"), (b"L " + b"x" * 40, "long")]:
        stranger.send(bad + b" " * 80)
        got = stranger.recv()
        assert got is not None and why in got, (bad, got)
    # Chat, bad text, forgeries, keepalive.
    alice.send("C alice hello bob")
    bob.expect("alice: hello bob")
    alice.send(b"C alice \x1b[31mred")
    assert "control" in alice.recv()
    alice.send(b"C alice \xe4\xb8")
    assert "UTF-8" in alice.recv()
    stranger.send("C alice forged")
    stranger.send("Q alice")
    bob.send("C alice forged by bob")
    alice.send("P alice")
    # S8: malformed and oversized, from a member and from a stranger.
    cases = [b"", b"L", b"C", b"Q ", b"C alice", b"LX y", bytes(range(256)), b"\xff" * 64,
             b"\x00" * 16, b"C alice " + b"x" * 1193, b"x" * 2000, b"C alice " + b"y" * 65499,
             (b"C alice " + "中".encode() * 339)[:1024], b"\r\n", b"\xfe", b"\xfe\x02",
             b"\xfe\x02\x10" + b"\0" * 8, b"\xfe\x02\x03" + b"\0" * 40]
    for c in cases:
        alice.send(c)
        stranger.send(c)
    alice.send("C alice barrier")
    bob.expect("alice: barrier")

    # v2: a bad cookie first (answered with a fresh COOKIE), then a real login.
    carol = v2lite.V2Client(("127.0.0.1", port), "carol")
    carol.sock.sendto(v2lite.seal(v2lite.hdr(v2lite.LOGIN) + carol.nonce + b"\0" * 16 + b"\x05carol"),
                      ("127.0.0.1", port))
    carol.start(time.monotonic())
    pump([carol], lambda: carol.state == "online")
    alice.expect("carol joined the room")
    carol.say("hi from v2")
    pump([carol], carol.idle)
    bob.expect("carol: hi from v2")
    alice.send("C alice hi carol")
    pump([carol], lambda: has_event(carol, "say", "alice", "hi carol"))
    carol.say("长" * 1500)  # 4500 bytes: over the limit, refused with a NOTICE
    carol.say("长" * 1300)  # 3900 bytes: four pieces, rejoined
    pump([carol], lambda: carol.idle() and carol.notices)
    while True:  # bob also has alice's "hi carol" waiting
        got = bob.recv()
        assert got is not None, "no long message from carol"
        if got.startswith("carol: "):
            break
    assert got == "carol: " + "长" * 333, got  # v1 gets it in lines of at most 1000 bytes
    # A forged session id, then the session moving to a new address.
    carol.sock.sendto(v2lite.seal(v2lite.hdr(v2lite.PING) + b"\1" * 8 + b"\0" * 12), ("127.0.0.1", port))
    old = carol.sock
    carol.sock = v2lite.make_socket()
    carol.sock.sendto(v2lite.seal(carol.session(v2lite.PING)), ("127.0.0.1", port))  # -> CHALLENGE -> REBIND
    pump([carol], lambda: False if not carol.last_sent else True, timeout=2)
    time.sleep(1.0)
    pump([carol], lambda: True)
    carol.say("from my new address")
    pump([carol], carol.idle)
    bob.expect("carol: from my new address")
    old.close()
    # Flood control: the sixth message at once is refused.
    for i in range(8):
        carol.say("flood %d" % i)
    pump([carol], lambda: carol.idle() and len(carol.notices) >= 2)
    # A second v2 member that stays until shutdown.
    dave = v2lite.V2Client(("127.0.0.1", port), "dave")
    dave.start(time.monotonic())
    pump([carol, dave], lambda: dave.state == "online")
    # The operator's console.
    console.write(b"server restarts at 18:00\n/who\n/kick bob\n")
    console.flush()
    alice.expect("[admin] server restarts at 18:00")
    bob.expect("EXIT")
    pump([carol, dave], lambda: has_event(dave, "kick", "bob"))
    # carol quits; alice (v1) and dave (v2) are still in when qund stops.
    carol.quit()
    pump([carol, dave], lambda: carol.closed == 1)
    alice.expect("carol left the room")
    for s in (alice, bob, stranger):
        s.s.close()
    return dave


def check_logs(logdir, qund_pid):
    ok = True
    for path in sorted(glob.glob(os.path.join(logdir, "memcheck.*.log"))):
        pid = int(re.search(r"memcheck\.(\d+)\.log", path).group(1))
        text = open(path).read()
        errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        lost = {k: int(v.replace(",", "")) for k, v in re.findall(
            r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes", text)}
        who = "qund" if pid == qund_pid else "child %d" % pid
        bad = []
        if errors is None:
            bad.append("no summary (killed?)" if pid != qund_pid else "no summary")
        elif int(errors.group(1)) != 0:
            bad.append("%s errors" % errors.group(1))
        if any(lost.values()):
            bad.append("lost: %r" % lost)
        if pid == qund_pid and "All heap blocks were freed" not in text:
            bad.append("heap blocks still in use at exit")
        if errors is None and pid != qund_pid:
            bad = []  # the console child is stopped with SIGTERM: no summary to read
        print("valgrind %s: %s (%s)" % (who, "clean" if not bad else "; ".join(bad), path))
        ok &= not bad
    return ok


def main():
    qund = sys.argv[1]
    logdir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(qund)), "valgrind")
    os.makedirs(logdir, exist_ok=True)
    for old in glob.glob(os.path.join(logdir, "memcheck.*.log")):
        os.unlink(old)
    cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=all",
           "--errors-for-leak-kinds=definite,indirect,possible", "--track-origins=yes",
           "--error-exitcode=99", "--log-file=" + os.path.join(logdir, "memcheck.%p.log"),
           qund, "--legacy", "-b", "127.0.0.1", "-p", "0", "--lang", "en"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line = v2lite.read_line(p.stdout, STARTUP).decode()
    except TimeoutError as e:
        line = str(e)
    m = re.search(r"listening on .*:(\d+)", line)
    if not m:
        p.kill()
        p.wait()
        raise SystemExit("valgrind-check: qund did not start under valgrind: %r" % line)
    port = int(m.group(1))
    t0 = time.monotonic()
    try:
        dave = session(port, p.stdin)
        dave.sock.close()
    except Exception:
        p.kill()
        p.wait()
        raise
    p.send_signal(signal.SIGTERM)
    try:
        status = p.wait(120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise SystemExit("valgrind-check: qund did not exit within 120 s of SIGTERM")
    ok = check_logs(logdir, p.pid) and status == 0
    print("valgrind-check: qund exited %d after a %.0f s session; %s" %
          (status, time.monotonic() - t0, "PASS: 0 errors, 0 leaks" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
