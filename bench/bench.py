#!/usr/bin/env python3
# bench.py - `make bench` for qund: kernel ceiling, Python baseline, qund v1 and v2, memory run; medians, ratios, one table.
"""Run the whole benchmark of issue 8 and print its table.

For each room size it measures, in this order and in the same run:
  * the kernel's ceiling: build/kernel_ceiling, a sendto loop and a sendmmsg
    loop from one core to that many member sockets;
  * bench/baseline_server.py (Python, v1) under build/loadgen -P 1;
  * qund --legacy under build/loadgen -P 1;
  * qund (v2) under build/loadgen -P 2;
and then a memory run: qund --legacy with 100,000 idle v1 members (20,000
with --quick), datagrams to them elided by build/dropsend.so (see
bench/dropsend.c for why), members counted with the console's /who.

Servers and the kernel ceiling's sender run pinned to CPU 0, the load
generator (and the ceiling's receivers) to CPU 1, when there are two CPUs.
Every figure is the median of --runs searches (loadgen does the runs on one
room, so one login storm serves them all).  Results: a table on stdout, the
raw JSON in build/bench.json (or --json FILE).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


NICE = os.environ.get("BENCH_NICE")  # e.g. -10 (root): less noise from a busy machine


def pin(cpu):
    """taskset (and nice, with BENCH_NICE) prefix for one CPU; no pinning on one CPU."""
    pre = ["nice", "-n", NICE] if NICE else []
    if os.cpu_count() and os.cpu_count() >= 2 and shutil.which("taskset"):
        return pre + ["taskset", "-c", str(cpu)]
    return pre


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


class Server:
    """A server process whose first stdout line is 'listening on HOST:PORT'."""

    def __init__(self, argv, env=None, control=None):
        self.control = control  # qund's control socket, for its heap in use; None: none
        self.proc = subprocess.Popen(pin(0) + argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("%s did not start: %r" % (argv[0], line))
        self.port = int(line.rsplit(":", 1)[1])
        self.pid = self.proc.pid  # nice and taskset exec the server: same pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.control:
            shutil.rmtree(os.path.dirname(self.control), ignore_errors=True)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def qund_argv(build, legacy, members, control):
    argv = [os.path.join(build, "qund"), "-b", "127.0.0.1", "-p", "0", "--lang", "en",
            "--max-members", str(members + 100), "--max-per-address", str(members + 100),
            "--flood-burst", "1000000", "--flood-rate", "1000000", "--control", control,
            # v1's containment (--legacy): the load generators are v1 logins en masse,
            # and the memory run's members never speak (the idle timeout still holds).
            "--max-v1", str(members + 100), "--v1-login-burst", "1000000",
            "--v1-login-rate", "1000000", "--v1-login-timeout", "86400"]
    if legacy:
        argv.append("--legacy")
    return argv


def qund(build, legacy, members, env=None):
    """A qund with a control socket of its own (a fresh directory: no clash between runs)."""
    control = os.path.join(tempfile.mkdtemp(prefix="qb"), "ctl")
    return Server(qund_argv(build, legacy, members, control), env=env, control=control)


def heap(build, server):
    """The server's heap in use (qunctl stats: malloc'd and not freed), in bytes."""
    out = subprocess.run([os.path.join(build, "qunctl"), "-s", server.control, "-j", "stats"],
                         stdout=subprocess.PIPE, text=True, check=True, timeout=60)
    return json.loads(out.stdout)["heap_bytes"]


def run_loadgen(build, server, proto, sizes, runs, trial, guess, senders, timeout, at=()):
    """loadgen's JSON per size; AT is a list of (size, msgs/s) extra fixed-rate trials."""
    argv = pin(1) + [os.path.join(build, "loadgen"), "-s", "127.0.0.1:%d" % server.port,
                     "-P", str(proto), "--pid", str(server.pid), "--senders", str(senders),
                     "--sizes", ",".join(map(str, sizes)), "--runs", str(runs),
                     "--trial", str(trial), "--guess", str(guess)]
    if server.control:
        argv += ["--control", server.control]
    if at:
        argv += ["--at", ",".join("%d:%.3f" % (n, r) for n, r in at)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=timeout)
    if out.returncode != 0:
        log("loadgen failed (%d); keeping the sizes it finished" % out.returncode)
    results = []
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            try:
                results.append(json.loads(line))
            except ValueError:
                log("loadgen left half a line (it died printing a size); dropping it")
    return results


def ceiling(build, n, secs, runs, cores=1):
    """The kernel's own sending loops (medians of RUNS); with CORES > 1 also "split":
    CORES senders on CORES cores, each to its slice of the members (PERFORMANCE.md,
    "Past one core")."""
    res = []
    for _ in range(runs):
        argv = pin(1) + [os.path.join(build, "kernel_ceiling"), "--members", str(n),
                         "--secs", str(secs), "--cpu", "0"]
        if cores > 1:
            argv += ["--split", str(min(cores, n))]
        out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True, timeout=120)
        res.append(json.loads(out.stdout))
    med = {}
    for mode in ("sendto", "sendmmsg", "split") if cores > 1 else ("sendto", "sendmmsg"):
        med[mode] = {k: statistics.median(r[mode][k] for r in res)
                     for k in ("dgrams_per_s", "cpu_ns_per_dgram", "loss")}
    return med


def summarise(size_result):
    """Medians over the runs of one size's searches."""
    best = [r["best"] for r in size_result["runs"] if r["best"]["rate"] > 0]
    if not best:
        return None
    med = lambda k: statistics.median(b[k] for b in best)
    return {
        "rate": med("rate"), "deliveries_per_s": med("deliveries_per_s"),
        "loss": med("loss"), "p50_us": med("p50_us"), "p99_us": med("p99_us"),
        "p999_us": med("p999_us"), "cpu_ns": med("cpu_ns_per_delivery"),
        "runs": len(best), "half": size_result["half"],
        "logins_per_s": size_result["logins_per_s"],
        "rss_per_member": size_result["rss_per_member"],
        "heap_per_member": size_result.get("heap_per_member", 0),
        "at": [t["trial"] for t in size_result.get("at", [])],
    }


def memory_run(build, n):
    """qund --legacy with n idle v1 members on 127.1.0.0/16 (sends to them elided)."""
    env = dict(os.environ, LD_PRELOAD=os.path.join(build, "dropsend.so"))
    srv = qund(build, True, n, env=env)
    try:
        time.sleep(0.2)
        rss0 = rss(srv.pid)
        heap0 = heap(build, srv)
        cpu0 = cpu_ns(srv.pid)
        server = ("127.0.0.1", srv.port)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        probe.settimeout(10)
        probe.sendto(b"L probe", server)
        probe.recvfrom(100)
        t0 = time.monotonic()
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # One member per (address, port): 127.1.x.y, a fixed port per pass of 65,534.
            ip = "127.1.%d.%d" % (((i % 65534) + 1) >> 8, ((i % 65534) + 1) & 255)
            s.bind((ip, 20000 + i // 65534))
            s.sendto(b"L i%d" % i, server)
            s.close()
            if i % 200 == 199 or i == n - 1:
                # "L probe" again is answered OK after everything before it: pace on it.
                probe.sendto(b"L probe", server)
                while probe.recvfrom(100)[0] != b"OK":
                    pass
        secs = time.monotonic() - t0
        cpu = cpu_ns(srv.pid) - cpu0
        # Before /who: its answer (a line per member) is not an idle member's memory.
        after = rss(srv.pid)
        heap1 = heap(build, srv)
        srv.proc.stdin.write("/who\n")
        srv.proc.stdin.flush()
        count = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = srv.proc.stdout.readline()
            if "member(s) online" in line:
                count = int(line.split()[0])
                break
        return {"members": count, "requested": n + 1, "rss0": rss0, "rss": after,
                "rss_per_member": (after - rss0) / max(count or 1, 1),
                "heap0": heap0, "heap": heap1,
                "heap_per_member": (heap1 - heap0) / max(count or 1, 1),
                "logins_per_s": n / secs, "server_cpu_s": cpu / 1e9}
    finally:
        srv.stop()


def cpu_ns(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def fmt_rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.0fk" % (x / 1e3)
    return "%.0f" % x


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def lat(x):
    """p50 / p99 / p999 of a trial (or a summary), in microseconds."""
    return "%.0f / %.0f / %.0f" % (x["p50_us"], x["p99_us"], x["p999_us"]) if x else "-"


def same_rate_row(r, ref):
    """(rate, [python, v1, v2 trial or None]) for the servers run at REF's half rate."""
    base = r.get(ref)
    if not base or not base.get("half"):
        return None
    names = ("python", "qund_v1", "qund_v2")
    cells = [r[x]["half"] if x == ref else (r.get(x) or {}).get("at", {}).get(ref)
             for x in names]
    if not any(c for x, c in zip(names, cells) if x != ref):
        return None
    return base["half"]["rate"], cells


def same_rate_verdicts(n, ref, cells):
    """At one rate: v2's p99 no higher than v1's; at the common rate qund's the lowest."""
    py, v1, v2 = cells
    out = []
    p99 = lambda x: x["p99_us"]
    if v1 and v2:
        out.append("%d members at %s's half rate: v2 p99 %.0f us %s v1 p99 %.0f us: %s" % (
            n, ref.replace("_", " "), p99(v2), "<=" if p99(v2) <= p99(v1) else ">", p99(v1),
            "met" if p99(v2) <= p99(v1) else "MISSED"))
    if ref == "python" and py and (v1 or v2):
        worst = max(p99(x) for x in (v1, v2) if x)
        out.append("%d members at the common rate: qund's p99 (worst %.0f us) below python's "
                   "%.0f us: %s" % (n, worst, p99(py), "met" if worst < p99(py) else "MISSED"))
    return out


def floor_verdict(n, r):
    """At 1,000 members: v2's p99 at its half rate <= 1.5x one fan-out on one core."""
    v2 = r.get("qund_v2")
    if n != 1000 or not v2 or not v2.get("half"):
        return []
    floor = (n - 1) * r["kernel"]["sendmmsg"]["cpu_ns_per_dgram"] / 1000.0
    p99 = v2["half"]["p99_us"]
    return ["%d members: v2 p99 at half its max %.0f us <= 1.5x the one-core floor (%.0f us "
            "= %d x the kernel's sendmmsg CPU per datagram): %s" % (
                n, p99, floor, n - 1, "met" if p99 <= 1.5 * floor else "MISSED")]


def split_table(results, args, add):
    """One message's fan-out on one core and split over K (BENCH_CORES), from the kernel's loops."""
    rows = [(n, results["sizes"][str(n)]["kernel"]) for n in args.sizes
            if "split" in results["sizes"][str(n)]["kernel"]]
    if not rows:
        return
    k = results.get("cores", "K")
    add("One message's fan-out, kernel only: one sendmmsg sender against %s senders on %s "
        "cores (SO_REUSEPORT sockets, a slice of the members each); the fan-out time is "
        "members / datagrams per second" % (k, k))
    add("")
    add("| members | 1 core dgrams/s | %s cores dgrams/s | speed-up | 1 core fan-out us "
        "| %s cores fan-out us | CPU ns/dgram 1 core | %s cores |" % (k, k, k))
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, kern in rows:
        one, split = kern["sendmmsg"], kern["split"]
        add("| %d | %s | %s | %s | %.0f | %.0f | %.0f | %.0f |" % (
            n, fmt_rate(one["dgrams_per_s"]), fmt_rate(split["dgrams_per_s"]),
            ratio(split["dgrams_per_s"], one["dgrams_per_s"]),
            n * 1e6 / one["dgrams_per_s"], n * 1e6 / split["dgrams_per_s"],
            one["cpu_ns_per_dgram"], split["cpu_ns_per_dgram"]))
    add("")


def table(results, machine, args):
    lines = []
    add = lines.append
    add("machine: %s" % machine)
    add("command: %s%s" % ("BENCH_NICE=%s " % results["nice"] if results.get("nice") else "",
                           args.command))
    add("senders: %s of the members speak; servers on CPU 0, load generator on CPU 1"
        % results.get("senders", "?"))
    add("")
    add("Throughput: deliveries/s at the highest rate with <= 0.1%% loss (median of %d runs)"
        % args.runs)
    add("")
    add("| members | kernel sendto | kernel sendmmsg | python v1 | qund v1 | qund v2 "
        "| v1/python | v2/python | v2/v1 | qund v1/kernel sendmmsg |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = results["sizes"][str(n)]
        k = r["kernel"]
        py, v1, v2 = r.get("python"), r.get("qund_v1"), r.get("qund_v2")
        d = lambda x: x["deliveries_per_s"] if x else None
        add("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, fmt_rate(k["sendto"]["dgrams_per_s"]), fmt_rate(k["sendmmsg"]["dgrams_per_s"]),
            fmt_rate(d(py)), fmt_rate(d(v1)), fmt_rate(d(v2)),
            ratio(d(v1), d(py)), ratio(d(v2), d(py)), ratio(d(v2), d(v1)),
            ratio(d(v1), k["sendmmsg"]["dgrams_per_s"])))
    add("")
    add("CPU time per delivery (server, ns) beside the kernel's CPU per datagram")
    add("")
    add("| members | kernel sendto | kernel sendmmsg | python v1 | qund v1 | qund v2 "
        "| qund v1/sendmmsg | qund v2/sendmmsg |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = results["sizes"][str(n)]
        k = r["kernel"]
        c = lambda x: x["cpu_ns"] if x else None
        f = lambda x: "%.0f" % x if x else "-"
        km = k["sendmmsg"]["cpu_ns_per_dgram"]
        add("| %d | %.0f | %.0f | %s | %s | %s | %s | %s |" % (
            n, k["sendto"]["cpu_ns_per_dgram"], km, f(c(r.get("python"))),
            f(c(r.get("qund_v1"))), f(c(r.get("qund_v2"))),
            ratio(c(r.get("qund_v1")), km), ratio(c(r.get("qund_v2")), km)))
    add("")
    add("Capacity per core: deliveries per CPU-second of the server (1e9 / CPU ns per "
        "delivery), the rate a whole core would reach; on a shared machine this is steadier "
        "than the throughput above, which also measures how much CPU the server was given")
    add("")
    add("| members | kernel sendmmsg | python v1 | qund v1 | qund v2 | v1/python | v2/python "
        "| v2/v1 |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = results["sizes"][str(n)]
        cap = lambda x: 1e9 / x["cpu_ns"] if x and x["cpu_ns"] else None
        py, v1, v2 = cap(r.get("python")), cap(r.get("qund_v1")), cap(r.get("qund_v2"))
        add("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
            n, fmt_rate(1e9 / r["kernel"]["sendmmsg"]["cpu_ns_per_dgram"]), fmt_rate(py),
            fmt_rate(v1), fmt_rate(v2), ratio(v1, py), ratio(v2, py), ratio(v2, v1)))
    add("")
    split_table(results, args, add)
    add("Delivery latency p50 / p99 / p999 (us): at the max rate, and at half of it")
    add("")
    add("| members | python v1 max | qund v1 max | qund v2 max | python v1 half | qund v1 half "
        "| qund v2 half |")
    add("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = results["sizes"][str(n)]
        half = lambda x: lat(x["half"]) if x else "-"
        add("| %d | %s | %s | %s | %s | %s | %s |" % (
            n, lat(r.get("python")), lat(r.get("qund_v1")), lat(r.get("qund_v2")),
            half(r.get("python")), half(r.get("qund_v1")), half(r.get("qund_v2"))))
    add("")
    add("Delivery latency p50 / p99 / p999 (us) at the same rates: python's half rate (the "
        "common rate) and qund v1's half rate")
    add("")
    add("| members | rate | msg/s | python v1 | qund v1 | qund v2 |")
    add("|---:|---|---:|---:|---:|---:|")
    verdicts = []
    for n in args.sizes:
        r = results["sizes"][str(n)]
        for ref in ("python", "qund_v1"):
            row = same_rate_row(r, ref)
            if row is None:
                continue
            rate, cells = row
            add("| %d | %s's half | %.0f | %s |" % (n, ref.replace("_", " "), rate, " | ".join(
                lat(c) for c in cells)))
            verdicts += same_rate_verdicts(n, ref, cells)
        verdicts += floor_verdict(n, r)
    if verdicts:
        add("")
        add("Targets (issue 19):")
        add("")
        lines.extend("- " + v for v in verdicts)
    add("")
    add("Logins/s (growing the room to this size), server RSS per member and qund's heap in "
        "use per member (bytes; RSS also counts memory freed during the fill and kept by malloc)")
    add("")
    add("| members | python v1 logins/s | qund v1 logins/s | qund v2 logins/s "
        "| python v1 RSS B/member | qund v1 RSS B/member | qund v2 RSS B/member "
        "| qund v1 heap B/member | qund v2 heap B/member |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = results["sizes"][str(n)]
        g = lambda x, k: "%.0f" % x[k] if x and x.get(k) else "-"
        add("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, g(r.get("python"), "logins_per_s"), g(r.get("qund_v1"), "logins_per_s"),
            g(r.get("qund_v2"), "logins_per_s"), g(r.get("python"), "rss_per_member"),
            g(r.get("qund_v1"), "rss_per_member"), g(r.get("qund_v2"), "rss_per_member"),
            g(r.get("qund_v1"), "heap_per_member"), g(r.get("qund_v2"), "heap_per_member")))
    m = results.get("memory")
    if m:
        add("")
        add("Memory run (qund --legacy, v1 idle members, sends to them elided): %s members, "
            "RSS %.1f MB -> %.1f MB, %.0f bytes per member; heap in use %s; %.0f logins/s"
            % (m["members"], m["rss0"] / 1e6, m["rss"] / 1e6, m["rss_per_member"],
               "%.1f MB -> %.1f MB, %.0f bytes per member" % (
                   m["heap0"] / 1e6, m["heap"] / 1e6, m["heap_per_member"])
               if "heap" in m else "-", m["logins_per_s"]))
    add("")
    add("load average before / after: %s / %s" % (results["load_before"], results["load_after"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--quick", action="store_true", help="~2 minutes: sizes up to 1,000, one run")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--trial", type=float, default=None)
    ap.add_argument("--memory", type=int, default=None, help="idle members in the memory run")
    ap.add_argument("--servers", default="python,qund_v1,qund_v2")
    ap.add_argument("--python-max", type=int, default=1000,
                    help="largest room for the Python baseline (filling it is O(N^2))")
    ap.add_argument("--senders", type=int, default=4,
                    help="members that speak (v2: each has its own window of 33)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--table-from", default=None, help="print the table of an earlier JSON")
    ap.add_argument("--cores", type=int, default=int(os.environ.get("BENCH_CORES") or 1),
                    help="also measure one fan-out split over this many cores (kernel_ceiling "
                    "--split; docs/PERFORMANCE.md, 'Past one core')")
    args = ap.parse_args()
    args.command = " ".join(["bench/bench.py"] + sys.argv[1:])
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    args.sizes = [int(x) for x in (args.sizes or ("10,100,1000" if quick else
                                                  "10,100,1000,10000")).split(",")]
    args.runs = args.runs or (1 if quick else 3)
    args.trial = args.trial or (0.5 if quick else 1.0)
    if args.memory is None:
        args.memory = 20000 if quick else 100000
    servers = args.servers.split(",")
    if args.table_from:
        with open(args.table_from) as f:
            results = json.load(f)
        args.command = results.get("command", "?")
        args.sizes = [int(n) for n in results["sizes"]]
        args.runs = results.get("runs", args.runs)
        print(table(results, results["machine"], args))
        return

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.sizes) + 200
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
        if hard < need:
            log("ulimit -n is %d; sizes above %d will fail" % (hard, hard - 200))

    machine = "%d CPUs, %s, Linux %s, Python %s" % (
        os.cpu_count(), platform.processor() or platform.machine(), platform.release(),
        platform.python_version())
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    machine = machine.replace(platform.processor() or platform.machine(),
                                              line.split(":", 1)[1].strip(), 1)
                    break
    except OSError:
        pass
    log(machine)
    results = {"machine": machine, "sizes": {str(n): {} for n in args.sizes},
               "load_before": loadavg(), "command": args.command, "runs": args.runs,
               "senders": args.senders, "nice": NICE, "cores": args.cores}

    log("kernel ceiling")
    for n in args.sizes:
        results["sizes"][str(n)]["kernel"] = ceiling(args.build, n, args.trial, 3, args.cores)
        log("  %d members: sendto %.0f/s %.0f ns, sendmmsg %.0f/s %.0f ns" % (
            n, results["sizes"][str(n)]["kernel"]["sendto"]["dgrams_per_s"],
            results["sizes"][str(n)]["kernel"]["sendto"]["cpu_ns_per_dgram"],
            results["sizes"][str(n)]["kernel"]["sendmmsg"]["dgrams_per_s"],
            results["sizes"][str(n)]["kernel"]["sendmmsg"]["cpu_ns_per_dgram"]))

    plan = {
        "python": (lambda: Server([sys.executable, os.path.join(HERE, "baseline_server.py")]),
                   1, 50000),
        "qund_v1": (lambda: qund(args.build, True, max(args.sizes)), 1, 200000),
        "qund_v2": (lambda: qund(args.build, False, max(args.sizes)), 2, 200000),
    }
    for name in servers:
        start, proto, guess = plan[name]
        sizes = args.sizes
        if name == "python":
            # Filling a room announces every join to everyone: N^2/2 sendto calls, which
            # at 10,000 members is 5 * 10^7 calls, over half an hour from Python.
            sizes = [n for n in sizes if n <= args.python_max]
        log("%s: sizes %s" % (name, sizes))
        if not sizes:
            continue  # loadgen would take an empty --sizes for its default
        # The same rates for everyone: python's half rate (the common rate) for both
        # qund, and qund v1's half rate for v2 (v2 against v1 at v1's own load).
        at, labels = [], {}
        for n in sizes:
            for ref in ("python", "qund_v1"):
                half = (results["sizes"][str(n)].get(ref) or {}).get("half")
                if name.startswith("qund") and name != ref and half and half["rate"] > 0:
                    at.append((n, half["rate"]))
                    labels.setdefault(n, []).append(ref)
        srv = start()
        try:
            for res in run_loadgen(args.build, srv, proto, sizes, args.runs, args.trial,
                                   guess, args.senders, timeout=3600, at=at):
                summary = summarise(res)
                if summary:
                    summary["at"] = dict(zip(labels.get(res["members"], []), summary["at"]))
                results["sizes"][str(res["members"])][name] = summary
                results["sizes"][str(res["members"])][name + "_raw"] = res
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log("%s: %s" % (name, e))
        finally:
            srv.stop()

    if args.memory > 0:
        log("memory run: %d idle v1 members" % args.memory)
        try:
            results["memory"] = memory_run(args.build, args.memory)
        except (RuntimeError, OSError) as e:
            log("memory run failed: %s" % e)
    results["load_after"] = loadavg()

    out = args.json or os.path.join(args.build, "bench.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(table(results, machine, args))
    log("raw results in %s" % out)


if __name__ == "__main__":
    main()
