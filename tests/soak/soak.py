#!/usr/bin/python3
# soak.py - the soak test (THREATS.md R11): N clients x 1 message/s against a sanitizer build of qund; RSS, fds and delivery over time.
"""Usage: soak.py --qund PATH [--clients 100] [--seconds 3600] [--v1 20] [--report FILE]

Starts `qund --legacy` on 127.0.0.1 (a port the kernel picks) with ASan
and UBSan on, logs in N clients (the last --v1 of them speak protocol v1,
the rest v2; see tests/soak/v2lite.py), and has each say one numbered
message per second, spread evenly over the second, for --seconds.  Every
5 seconds it samples qund's resident set size (VmRSS), its open file
descriptors (/proc/PID/fd) and deliveries so far.  Then it stops sending,
waits for the last deliveries, has every client leave, stops qund with
SIGTERM and reads its stderr.

Pass (all of them):
- no sanitizer report: qund's stderr has no ASan/LSan/UBSan report (LSan
  checks for leaks when qund exits) and qund exits with status 0;
- RSS flat after warm-up: warm-up is the first quarter of the run (at
  least 20 s); of the rest, the maximum RSS of the last quarter is at
  most 1.2 x the maximum of the first quarter + 1 MiB;
- fds flat: after warm-up qund never has more open fds than at its end;
- 100% delivery: every message reached every other client exactly once,
  in the order its sender sent them.

ASan keeps freed memory in quarantine (256 MiB by default) to catch use
after free, which would read as steady growth over an hour; the soak caps
it at ASAN_QUARANTINE_MB (4 MiB) so RSS measures qund, not the detector.

The report (--report) has one line per sample; the summary is printed too.
Exit status 0 on pass, 1 on failure.
"""

import argparse
import os
import re
import selectors
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import v2lite  # noqa: E402

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")
ASAN_QUARANTINE_MB = 4
SAMPLE_EVERY = 5.0
STARTUP = 30.0  # seconds for qund (ASan) to print "listening on ..."


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Soak:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.clients = []
        self.sent = {}          # sender name -> messages sent
        self.next_from = {}     # (receiver, sender) -> next message number expected
        self.delivered = 0
        self.errors = []
        self.samples = []

    def start_server(self):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ("detect_leaks=1:abort_on_error=0:quarantine_size_mb=%d"
                               % ASAN_QUARANTINE_MB)
        env["UBSAN_OPTIONS"] = "print_stacktrace=1"
        self.stderr_path = self.args.report + ".qund-stderr" if self.args.report else \
            "/tmp/soak-qund-stderr-%d" % os.getpid()
        self.stderr = open(self.stderr_path, "w+")
        self.qund = subprocess.Popen(
            [self.args.qund, "--legacy", "-b", "127.0.0.1", "-p", "0", "--lang", "en",
             "--max-per-address", str(self.args.clients + 10),
             "--flood-burst", "5", "--flood-rate", "2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        try:
            line = v2lite.read_line(self.qund.stdout, STARTUP).decode()
        except TimeoutError as e:
            line = str(e)
        m = re.search(r"listening on .*:(\d+)", line)
        if not m:
            self.qund.kill()
            self.qund.wait()
            raise SystemExit("soak: qund did not start: %r" % line)
        self.port = int(m.group(1))

    def login_all(self):
        server = ("127.0.0.1", self.port)
        n, nv1 = self.args.clients, self.args.v1
        for i in range(n):
            name = "s%03d" % i
            cls = v2lite.V1Client if i >= n - nv1 else v2lite.V2Client
            c = cls(server, name)
            self.clients.append(c)
            self.sel.register(c.sock, selectors.EVENT_READ, c)
            self.sent[name] = 0
        for c in self.clients:
            c.start(time.monotonic())
            self.pump(0.005)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.pump(0.05)
            if all(c.state == "online" for c in self.clients):
                break
        bad = [c.name for c in self.clients if c.state != "online"]
        if bad:
            raise SystemExit("soak: %d clients could not log in: %s" % (len(bad), bad[:5]))
        # Let the join events settle, then forget them: only chat is counted.
        self.pump(2.0)
        for c in self.clients:
            c.events.clear()

    def pump(self, timeout):
        """Read everything waiting, process it, and run every client's timers."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            for key, _ in self.sel.select(max(0.0, min(left, 0.02))):
                c = key.data
                now = time.monotonic()
                while True:
                    try:
                        data, _ = c.sock.recvfrom(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue
                    c.on_datagram(data, now)
                self.account(c)
            now = time.monotonic()
            for c in self.clients:
                c.poll(now)
            if time.monotonic() >= end:
                return

    def account(self, c):
        """Count c's new chat events; check exactly once and in order per sender."""
        for kind, name, text in c.events:
            if c.proto == 1:
                m = re.match(r"^(s\d{3}): m (\d+)$", text)
                if not m:
                    if not text.endswith(("joined the room", "left the room")):
                        self.errors.append("%s got %r" % (c.name, text))
                    continue
                sender, k = m.group(1), int(m.group(2))
            else:
                if kind != "say":
                    if kind not in ("join", "leave"):
                        self.errors.append("%s got %s %s %r" % (c.name, kind, name, text))
                    continue
                m = re.match(r"^m (\d+)$", text)
                if not m:
                    self.errors.append("%s got %r from %s" % (c.name, text, name))
                    continue
                sender, k = name, int(m.group(1))
            want = self.next_from.get((c.name, sender), 0)
            if k != want:
                self.errors.append("%s got message %d from %s, expected %d" %
                                   (c.name, k, sender, want))
            self.next_from[(c.name, sender)] = k + 1
            self.delivered += 1
        c.events.clear()
        for n in c.notices:
            self.errors.append("%s was refused: %s" % (c.name, n))
        c.notices.clear()

    def expected(self):
        total = sum(self.sent.values())
        return total * (len(self.clients) - 1)

    def sample(self, t):
        s = (t, rss_kib(self.qund.pid), fd_count(self.qund.pid), self.delivered, self.expected())
        self.samples.append(s)
        return s

    def run(self):
        a = self.args
        n = len(self.clients)
        t0 = time.monotonic()
        next_sample = t0
        next_print = t0
        tick = 0
        self.sample(0.0)
        while True:
            now = time.monotonic()
            el = now - t0
            if el >= a.seconds:
                break
            # Client i speaks at i/n of each second.
            due = int(el * n)
            while tick < due:
                c = self.clients[tick % n]
                c.say("m %d" % self.sent[c.name])
                self.sent[c.name] += 1
                tick += 1
            if now >= next_sample:
                s = self.sample(el)
                next_sample += SAMPLE_EVERY
                if now >= next_print:
                    print("soak %5.0fs: rss %6d KiB, fds %3d, delivered %d of %d" %
                          (el, s[1], s[2], s[3], s[4]), flush=True)
                    next_print += a.print_every
            if self.qund.poll() is not None:
                self.errors.append("qund exited during the soak (status %s)" % self.qund.returncode)
                break
            self.pump(0.01)
        # Drain: the last messages must arrive.
        deadline = time.monotonic() + 30
        while self.delivered < self.expected() and time.monotonic() < deadline:
            self.pump(0.1)
        self.final = self.sample(time.monotonic() - t0)

    def finish(self):
        for c in self.clients:
            c.quit()
        self.pump(2.0)
        if self.qund.poll() is None:
            self.qund.send_signal(signal.SIGTERM)
        try:
            status = self.qund.wait(60)
        except subprocess.TimeoutExpired:
            self.qund.kill()
            status = self.qund.wait()
            self.errors.append("qund did not stop within 60 s of SIGTERM")
        for c in self.clients:
            c.sock.close()
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        return status, err

    def verdict(self, status, err):
        a = self.args
        ok = True
        lines = []
        total_rtx = sum(getattr(c, "retransmits", 0) for c in self.clients)
        warm = max(20.0, a.seconds / 4)
        after = [s for s in self.samples if s[0] >= warm]
        reports = [l for l in err.splitlines() if any(m in l for m in SANITIZER_MARKS)]
        if reports or status != 0:
            ok = False
            lines.append("FAIL sanitizer/exit: status %s, %d report lines: %s" %
                         (status, len(reports), reports[:3]))
        else:
            lines.append("ok   no sanitizer report, qund exited 0 (LSan found no leak)")
        if len(after) >= 4:
            span = after[-1][0] - warm
            first = [s for s in after if s[0] <= warm + span / 4]
            last = [s for s in after if s[0] >= warm + 3 * span / 4]
            f_max, l_max = max(s[1] for s in first), max(s[1] for s in last)
            limit = f_max * 1.2 + 1024
            good = l_max <= limit
            ok &= good
            lines.append("%s RSS flat: last-quarter max %d KiB <= first-quarter max %d KiB x 1.2 "
                         "+ 1 MiB = %d KiB" % ("ok  " if good else "FAIL", l_max, f_max, limit))
            fd_warm = after[0][2]
            fd_max = max(s[2] for s in after)
            good = fd_max <= fd_warm
            ok &= good
            lines.append("%s fds flat: %d at the end of warm-up, at most %d after" %
                         ("ok  " if good else "FAIL", fd_warm, fd_max))
        else:
            ok = False
            lines.append("FAIL too few samples after warm-up (%d)" % len(after))
        exp = self.expected()
        good = self.delivered == exp and not self.errors
        ok &= good
        lines.append("%s delivery: %d of %d (%.4f%%), %d errors%s; %d v2 retransmissions" % (
            "ok  " if good else "FAIL", self.delivered, exp,
            100.0 * self.delivered / exp if exp else 100.0, len(self.errors),
            (": " + "; ".join(self.errors[:5])) if self.errors else "", total_rtx))
        return ok, lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--qund", required=True)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--v1", type=int, default=None, help="how many speak v1 (default: a fifth)")
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--report")
    p.add_argument("--print-every", type=float, default=None)
    a = p.parse_args()
    if a.v1 is None:
        a.v1 = a.clients // 5
    if a.print_every is None:
        a.print_every = 60.0 if a.seconds > 600 else 15.0
    soak = Soak(a)
    soak.start_server()
    try:
        soak.login_all()
        print("soak: qund pid %d, %d clients (%d v2, %d v1), %ds at 1 message/s each" %
              (soak.qund.pid, a.clients, a.clients - a.v1, a.v1, a.seconds), flush=True)
        soak.run()
    finally:
        status, err = soak.finish()
    ok, lines = soak.verdict(status, err)
    out = ["soak: %d clients, %ds, qund %s" % (a.clients, a.seconds, a.qund),
           "time_s rss_kib fds delivered expected"]
    out += ["%.0f %d %d %d %d" % s for s in soak.samples]
    out += lines
    if a.report:
        os.makedirs(os.path.dirname(os.path.abspath(a.report)), exist_ok=True)
        with open(a.report, "w") as f:
            f.write("\n".join(out) + "\n")
    for l in lines:
        print("soak: " + l)
    print("soak: %s%s" % ("PASS" if ok else "FAIL",
                         " (report: %s)" % a.report if a.report else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
