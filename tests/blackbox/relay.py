# relay.py - a seeded user-space UDP relay that loses, bursts, duplicates, reorders, delays, corrupts, truncates and blackholes.
"""A fault-injecting UDP relay between clients and one server (THREATS.md:
reordering, delay, corruption, bursts and blackholes are done in user space,
the way KCP tests itself).

Clients send to the relay's front socket.  For each client source address
the relay opens one upstream socket of its own, so the server sees each
client at a distinct address, and replies arriving on that upstream socket
go back to that client from the front socket.

Faults are drawn from one `random.Random(seed)`; the seed is printed when
the relay starts (and can be forced with the environment variable
QUN_SEED), so a failure replays with the same decisions as far as timing
allows.  Each direction ("c2s", "s2c") has its own `Faults`; bursty loss and
the blackhole schedule are per link (both directions at once), as on a real
radio link.  The relay also records the largest datagram seen each way, so
a test can assert that nothing over 1200 bytes ever crossed it.

Run it in a thread (`Relay(...).start()`, `stop()`) or as a subprocess:

    python3 relay.py --server 127.0.0.1:PORT [--seed N] [--loss 10] [--dup 5]
        [--reorder 25] [--delay-ms 0] [--corrupt 2] [--truncate 1]
        [--burst 30:200[:300]] [--blackhole 7:2] [--max-seconds 60]

which prints `relay seed N`, then `relay listening on 127.0.0.1:PORT`, and
at the end a line `relay stats {...}` (JSON).  It always stops by itself
after max_seconds.
"""

import argparse
import heapq
import json
import math
import os
import random
import select
import signal
import socket
import sys
import threading
import time


class Faults:
    """What happens to datagrams going one way; percentages are 0-100.

    loss: drop at random.  dup: send twice (the copy 0-5 ms later).
    reorder: hold this share back by reorder_ms (a (lo, hi) range, uniform),
    so later datagrams overtake it.  delay_ms/jitter_ms: added to every
    datagram.  corrupt: flip 1-3 random bits (`corrupt_from`: only at or past
    this byte offset).  truncate: cut to a random shorter length."""

    def __init__(self, loss=0.0, dup=0.0, reorder=0.0, reorder_ms=(10, 50), delay_ms=0.0,
                 jitter_ms=0.0, corrupt=0.0, corrupt_from=0, truncate=0.0):
        self.loss, self.dup, self.reorder, self.reorder_ms = loss, dup, reorder, reorder_ms
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.corrupt, self.corrupt_from, self.truncate = corrupt, corrupt_from, truncate

    def __repr__(self):
        return "Faults(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))


class Relay:
    """The relay; see the module docstring.

    server: (host, port) of the real server.  c2s/s2c: Faults.  burst:
    (fraction, mean_bad_ms[, first_good_ms]): a two-state link that is "bad"
    (everything lost) for exponentially distributed periods averaging
    mean_bad_ms, a `fraction` of the time in all; with first_good_ms the first
    good period has that length instead of a random one, so that a test can
    be sure a bad period falls inside its traffic.  blackhole: (period_s,
    duration_s): everything lost for duration_s at the start of every
    period_s, counted from `arm()` (or from start if armed=True).
    hook(direction, client, data) -> data or None may change or drop a
    datagram before the random faults (targeted tests)."""

    def __init__(self, server, c2s=None, s2c=None, seed=None, burst=None, blackhole=None,
                 armed=False, listen=("127.0.0.1", 0), upstream_ip="127.0.0.1",
                 max_seconds=120.0, hook=None, front_sock=None, sock_factory=None, quiet=False):
        if seed is None:
            env = os.environ.get("QUN_SEED")
            seed = int(env) if env else int.from_bytes(os.urandom(4), "big")
        self.seed = seed
        self.rng = random.Random(seed)
        self.server = tuple(server)
        self.c2s = c2s or Faults()
        self.s2c = s2c or Faults()
        self.burst = burst
        self.blackhole = blackhole
        self.hook = hook
        self.max_seconds = max_seconds
        self.upstream_ip = upstream_ip
        self.sock_factory = sock_factory or (lambda: socket.socket(socket.AF_INET,
                                                                   socket.SOCK_DGRAM))
        self.front = front_sock or self.sock_factory()
        if self.front.getsockname()[1] == 0:
            self.front.bind(listen)
        self.front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.front.setblocking(False)
        self.addr = self.front.getsockname()
        self.port = self.addr[1]
        self.up = {}        # client address -> upstream socket
        self.down = {}      # upstream socket fileno -> (socket, client address)
        self.heap = []      # (due, n, sock, data, dest)
        self.n = 0
        self.lock = threading.Lock()
        self.stop_flag = False
        self.thread = None
        self.t0 = time.monotonic()
        self.armed_at = self.t0 if armed else None
        self.bad_until = 0.0
        self.good_until = 0.0
        self.stats = {d: {"in": 0, "out": 0, "lost": 0, "burst_lost": 0, "blackholed": 0,
                          "dup": 0, "reordered": 0, "corrupted": 0, "truncated": 0,
                          "max_size": 0, "bytes": 0} for d in ("c2s", "s2c")}
        self.log = []       # (t, direction, client, size) of every datagram that came in
        if not quiet:
            print("relay seed %d (replay with QUN_SEED=%d); c2s %r; s2c %r; burst %r; "
                  "blackhole %r" % (seed, seed, self.c2s, self.s2c, burst, blackhole),
                  flush=True)

    # -- control ------------------------------------------------------------

    def start(self):
        self.thread = threading.Thread(target=self.run, name="relay", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag = True
        if self.thread:
            self.thread.join(3)
        for s in list(self.up.values()) + [self.front]:
            try:
                s.close()
            except OSError:
                pass

    def arm(self):
        """Start the blackhole schedule now."""
        self.armed_at = time.monotonic()

    def set_faults(self, c2s=None, s2c=None):
        """Change the faults while running (for example: none during login)."""
        with self.lock:
            if c2s is not None:
                self.c2s = c2s
            if s2c is not None:
                self.s2c = s2c

    def upstream_addr(self, client):
        """The address the server sees for client (None until it sent something)."""
        s = self.up.get(tuple(client))
        return s.getsockname() if s else None

    def max_size(self, direction):
        return self.stats[direction]["max_size"]

    # -- decisions ----------------------------------------------------------

    def dark(self, now):
        """True while the link is blackholed by the schedule."""
        if not self.blackhole or self.armed_at is None:
            return False
        period, duration = self.blackhole
        return (now - self.armed_at) % period < duration

    def in_burst(self, now):
        """The two-state bursty link: True while in a bad period."""
        if not self.burst:
            return False
        frac, mean_bad = self.burst[:2]
        first_good = self.burst[2] / 1000.0 if len(self.burst) > 2 else None
        mean_bad /= 1000.0
        mean_good = mean_bad * (1 - frac) / frac if frac > 0 else math.inf
        while now >= self.bad_until and now >= self.good_until:
            # Draw the next good period, then the bad one after it.
            start = max(self.bad_until, self.good_until, self.t0)
            if start == self.t0 and first_good is not None:
                self.good_until = start + first_good
            else:
                self.good_until = start + self.rng.expovariate(1 / mean_good)
            self.bad_until = self.good_until + self.rng.expovariate(1 / mean_bad)
        return self.good_until <= now < self.bad_until

    def pct(self, p):
        return p > 0 and self.rng.random() * 100 < p

    def _mangle(self, f, st, data):
        if self.pct(f.corrupt) and len(data) > f.corrupt_from:
            b = bytearray(data)
            for _ in range(self.rng.randint(1, 3)):
                i = self.rng.randrange(f.corrupt_from, len(b))
                b[i] ^= 1 << self.rng.randrange(8)
            data = bytes(b)
            st["corrupted"] += 1
        if self.pct(f.truncate) and len(data) > 1:
            data = data[:self.rng.randrange(0, len(data))]
            st["truncated"] += 1
        return data

    def _route(self, direction, client, data, sock, dest, now):
        """Apply the faults of direction to one datagram and schedule what survives."""
        st = self.stats[direction]
        st["in"] += 1
        st["bytes"] += len(data)
        st["max_size"] = max(st["max_size"], len(data))
        if len(self.log) < 200000:
            self.log.append((now, direction, client, len(data)))
        if self.hook is not None:
            data = self.hook(direction, client, data)
            if data is None:
                st["lost"] += 1
                return
        with self.lock:
            f = self.c2s if direction == "c2s" else self.s2c
        if self.dark(now):
            st["blackholed"] += 1
            return
        if self.in_burst(now):
            st["burst_lost"] += 1
            return
        if self.pct(f.loss):
            st["lost"] += 1
            return
        data = self._mangle(f, st, data)
        delay = f.delay_ms / 1000.0
        if f.jitter_ms:
            delay += self.rng.uniform(0, f.jitter_ms / 1000.0)
        if self.pct(f.reorder):
            lo, hi = f.reorder_ms
            delay += self.rng.uniform(lo, hi) / 1000.0
            st["reordered"] += 1
        self._schedule(now + delay, sock, data, dest)
        if self.pct(f.dup):
            st["dup"] += 1
            self._schedule(now + delay + self.rng.uniform(0, 0.005), sock, data, dest)

    def _schedule(self, due, sock, data, dest):
        self.n += 1
        heapq.heappush(self.heap, (due, self.n, sock, data, dest))

    def _upstream(self, client):
        s = self.up.get(client)
        if s is None:
            s = self.sock_factory()
            s.bind((self.upstream_ip, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            s.setblocking(False)
            self.up[client] = s
            self.down[s.fileno()] = (s, client)
        return s

    # -- the loop -----------------------------------------------------------

    def run(self):
        end = self.t0 + self.max_seconds
        while not self.stop_flag:
            now = time.monotonic()
            if now >= end:
                break
            timeout = 0.05
            if self.heap:
                timeout = max(0.0, min(timeout, self.heap[0][0] - now))
            socks = [self.front] + [s for s, _ in self.down.values()]
            try:
                r, _, _ = select.select(socks, [], [], timeout)
            except (OSError, ValueError):
                break
            now = time.monotonic()
            for s in r:
                while True:
                    try:
                        data, src = s.recvfrom(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue
                    except OSError:
                        break
                    if s is self.front:
                        up = self._upstream(src)
                        self._route("c2s", src, data, up, self.server, now)
                    else:
                        if src[:2] != self.server[:2]:
                            continue
                        client = self.down[s.fileno()][1]
                        self._route("s2c", client, data, self.front, client, now)
            now = time.monotonic()
            while self.heap and self.heap[0][0] <= now:
                _, _, sock, data, dest = heapq.heappop(self.heap)
                try:
                    sock.sendto(data, dest)
                    self.stats["c2s" if sock is not self.front else "s2c"]["out"] += 1
                except OSError:
                    pass


def _addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def _numbers(ap, option, text, counts, shape):
    """text as colon-separated numbers, as many as one of counts; anything
    else is a usage error that names the expected shape."""
    parts = text.split(":")
    try:
        if len(parts) in counts:
            return [float(x) for x in parts]
    except ValueError:
        pass
    ap.error("%s: expected %s, got %r" % (option, shape, text))


def main(argv=None):
    ap = argparse.ArgumentParser(description="seeded fault-injecting UDP relay")
    ap.add_argument("--server", required=True, type=_addr)
    ap.add_argument("--listen", default="127.0.0.1:0", type=_addr)
    ap.add_argument("--seed", type=int)
    for k in ("loss", "dup", "reorder", "corrupt", "truncate", "delay-ms", "jitter-ms"):
        ap.add_argument("--" + k, type=float, default=0.0)
    ap.add_argument("--burst", help="FRACTION_PERCENT:MEAN_BAD_MS[:FIRST_GOOD_MS]")
    ap.add_argument("--blackhole", help="PERIOD_S:DURATION_S")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    a = ap.parse_args(argv)
    f = dict(loss=a.loss, dup=a.dup, reorder=a.reorder, corrupt=a.corrupt,
             truncate=a.truncate, delay_ms=a.delay_ms, jitter_ms=a.jitter_ms)
    burst = bh = None
    if a.burst:
        v = _numbers(ap, "--burst", a.burst, (2, 3), "FRACTION_PERCENT:MEAN_BAD_MS[:FIRST_GOOD_MS]")
        burst = (v[0] / 100, *v[1:])
    if a.blackhole:
        bh = tuple(_numbers(ap, "--blackhole", a.blackhole, (2,), "PERIOD_S:DURATION_S"))
    r = Relay(a.server, Faults(**f), Faults(**f), seed=a.seed, burst=burst, blackhole=bh,
              armed=True, listen=a.listen, max_seconds=a.max_seconds)
    print("relay listening on %s:%d" % r.addr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: setattr(r, "stop_flag", True))
    try:
        r.run()
    except KeyboardInterrupt:
        pass
    print("relay stats " + json.dumps(r.stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
