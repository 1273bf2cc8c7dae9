# test_v2_faults.py - black-box tests of protocol v2 over lossy, duplicating, reordering, corrupting and dead networks (THREATS.md R1-R10).
"""qund and qun (v2) over faulty networks, one test per row R1-R10 of
THREATS.md, plus the client's reconnection after a server restart.

Faults come from nftables in a network namespace of our own (R1 loss, R3
duplication; skipped with the reason when not root) and from the seeded
user-space relay tests/blackbox/relay.py (R2 bursty loss, R4 reordering,
R5 corruption and truncation, R6 blackholes, R8/R10 watching the wire).
Every seed is printed; QUN_SEED=N replays the relay's decisions.

Members are both the real `qun` on pipes (the C client) and the Python
client tests/blackbox/v2client.py (the server as the spec describes it, at
the datagram level), so a failure points at one side.

`make check` runs scaled-down sizes so the file stays near a minute on the
normal build; QUN_LONG=1 (`make check-long`) runs THREATS.md's numbers: R1
10,000 messages, R2 50 logins, R6 60 s of outages, R8 100 s idle with the
default keepalive."""

import os
import re
import signal
import struct
import threading
import time

import pytest

from conftest import QUIET, WAIT, wait_until
from netns import Netns, in_namespace
from relay import Faults, Relay
from relay import main as relay_main
from v2client import (ACK, CL_SLOW, DATA, EV_JOIN, EV_LEAVE, EV_SAY, EV_TIMEOUT, MAX_ACK_DELAY,
                      MAX_DATAGRAM, PING)

LONG = os.environ.get("QUN_LONG") == "1"
FAST = ("--flood-burst", "100000", "--flood-rate", "100000", "--max-per-address", "200")

SAY_RE = re.compile(r"^(?:\[\d\d:\d\d\] )?(\S+) 说：(.*)$")
RECONNECTING = "正在重新连接"
RECONNECTED = "已重新连接"


def addr(q):
    return ("127.0.0.1", q.port)


@pytest.fixture
def relays():
    """Relays for one test, stopped at the end (their seeds are printed when made)."""
    made = []

    def make(server, **kw):
        r = Relay(server, **kw).start()
        made.append(r)
        return r
    yield make
    for r in made:
        r.stop()
        print("relay seed %d stats %r" % (r.seed, r.stats))


@pytest.fixture
def ns(procs):
    n = Netns("flt")
    yield n
    n.close()


# ---------------------------------------------------------------------------
# qun on pipes.

def qun(procs, port, name, *extra, ns=None):
    """A real qun in plain mode (pipes) logging in as name via 127.0.0.1:port."""
    args = ["-s", "127.0.0.1", "-p", str(port), "--lang", "zh"] + list(extra) + [name]
    if ns is not None:
        q = in_namespace(ns, procs, "qun", *args)
    else:
        q = procs.qun_pipe(*args)
    q.name = name
    return q


def wait_joined(obs, quns, timeout=WAIT * 2):
    """Wait until obs saw every qun in quns join; on failure say what each missing qun printed."""
    want = {k.name.encode() for k in quns}
    if obs.wait(lambda: want <= {e.name for e in obs.events if e.event == EV_JOIN}, timeout):
        return
    seen = {e.name for e in obs.events if e.event == EV_JOIN}
    lost = [k for k in quns if k.name.encode() not in seen]
    raise AssertionError("%s never saw %s join within %ss: %s" % (
        obs.label, [k.name for k in lost], timeout, "; ".join(
            "%s (exit %r) out %r err %r" % (k.name, k.proc.poll(), qun_lines(k)[-3:],
                                             k.err.lines[-3:]) for k in lost)))


def qun_said(q, name):
    """The texts qun printed as said by name, in order."""
    out = []
    for line in q.out.wait_count(0, 0):
        m = SAY_RE.match(line)
        if m and m.group(1) == name:
            out.append(m.group(2))
    return out


def qun_lines(q):
    return q.out.wait_count(0, 0)


def no_reconnect(q):
    bad = [l for l in qun_lines(q) + q.err.lines if RECONNECTING in l]
    assert not bad, "%s reconnected: %r" % (q.name, bad)


def wait_lines(q, name, n, timeout):
    """Wait until qun printed at least n messages of name; return them."""
    wait_until(lambda: len(qun_said(q, name)) >= n, timeout, interval=0.05)
    return qun_said(q, name)


def qun_quit(q, timeout=WAIT * 2):
    """EOF on qun's stdin: it quits (confirmed by the server) and exits 0."""
    q.close_stdin()
    rc = q.wait(timeout)
    assert rc == 0, "%s exited %r after EOF; stderr %r" % (q.name, rc, q.err.lines[-5:])


def feed(q, lines, pace=0.0):
    """Write lines to qun's stdin on a thread (qun may read slower than we write)."""
    def run():
        for l in lines:
            q.send_line(l)
            if pace:
                time.sleep(pace)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# Senders never run more than this many messages ahead of the slowest
# receiver: with three senders that keeps qund's queue to each receiver
# (1024 messages, PROTOCOL-v2.md) from overflowing on a lossy link, which
# would rightly close the receiver as too slow.  Only the QUN_LONG sizes
# reach it.
MAX_BEHIND = 200


def behind_ok(receivers, quns, senders, upto, budget):
    """Wait until every receiver (V2Client or qun) shows at least upto - MAX_BEHIND
    messages of every sender."""
    need = upto - MAX_BEHIND
    if need <= 0:
        return
    for r in receivers:
        for s in senders:
            assert r.wait(lambda: r.say_counts[s.encode()] >= need, budget), \
                "%s fell %d behind %s" % (r.label, upto - r.say_counts[s.encode()], s)
    for k in quns:
        for s in senders:
            assert wait_until(lambda: len(qun_said(k, s)) >= need, budget, interval=0.1), \
                "%s fell behind %s" % (k.name, s)


def feed_paced(quns_by_name, sent, receivers, quns, budget, chunk=50):
    """Feed each sender qun its lines in chunks, never more than MAX_BEHIND
    ahead of the receivers; runs on a thread, returns it."""
    def run():
        n = max(len(v) for v in sent.values())
        for c in range(0, n, chunk):
            behind_ok(receivers, quns, list(sent), c, budget)
            for name, lines in sent.items():
                if name in quns_by_name:
                    for l in lines[c:c + chunk]:
                        quns_by_name[name].send_line(l)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def check_stream(got, sent, who):
    """got must be exactly sent: all delivered, exactly once, in order."""
    dup = len(got) - len(set(got))
    missing = [s for s in sent if s not in set(got)]
    assert dup == 0, "%s: %d duplicates, e.g. %r" % (who, dup,
                                                       [g for g in got if got.count(g) > 1][:3])
    assert not missing, "%s: %d of %d missing, first %r" % (who, len(missing), len(sent),
                                                            missing[:3])
    assert got == sent, "%s: out of order near %r" % (
        who, next(g for g, s in zip(got, sent) if g != s))


def no_departures(clients):
    for c in clients:
        bad = [e for e in c.events if e.event in (EV_LEAVE, EV_TIMEOUT)]
        assert not bad, "%s saw departures: %r" % (c.label, bad)
        assert c.closed is None, "%s was closed (reason %s)" % (c.label, c.closed)


# ---------------------------------------------------------------------------
# R1: 10% random loss both ways.

def test_r1_loss_python_clients(procs, v2, ns):
    """R1 (server side): with 10% of datagrams dropped both ways (nftables
    input hook), 3 senders x 200 messages (QUN_LONG: 10,000 in all) reach 3
    receivers 100%, exactly once, in order per sender; nobody is
    disconnected; the loss really happened (rule counters)."""
    total = 10000 if LONG else 600
    q = in_namespace(ns, procs, "qund", *FAST)
    senders = [v2.new(addr(q), sock=ns.udp(), label="s%d" % i) for i in range(3)]
    receivers = [v2.new(addr(q), sock=ns.udp(), label="r%d" % i) for i in range(3)]
    for c in receivers + senders:
        c.login(c.label)
    for c in receivers[1:] + senders:
        receivers[0].wait_event(EV_JOIN, c.label)
    ns.loss(q.port, 10)
    per = total // 3
    sent = {s.label: ["%s-%d" % (s.label, i) for i in range(per)] for s in senders}
    t0 = time.monotonic()
    budget = 60 + total / 50
    for i in range(per):
        if i % 50 == 0:
            behind_ok(receivers, [], list(sent), i, budget)
        for s in senders:
            s.say(sent[s.label][i])
    for r in receivers:
        for s in senders:
            r.wait_event(EV_SAY, s.label, sent[s.label][-1], timeout=budget)
    dt = time.monotonic() - t0
    drops = ns.counters()
    print("R1: %d messages to 3 receivers in %.1f s; nft drops %r" % (total, dt, drops))
    assert sum(drops) > 0, "the loss rule dropped nothing"
    for r in receivers:
        for s in senders:
            check_stream(r.said(s.label), sent[s.label], "%s from %s" % (r.label, s.label))
    no_departures(senders + receivers)


def test_r1_loss_qun_clients(procs, v2, ns):
    """R1 (end to end, the C client): with 10% loss both ways, 3 qun
    senders x 50 lines (QUN_LONG: 3 x 1000) reach 3 qun receivers exactly
    once and in order; no qun prints a reconnection; each quits with exit 0."""
    per = 1000 if LONG else 50
    q = in_namespace(ns, procs, "qund", *FAST)
    obs = v2.new(addr(q), sock=ns.udp(), label="obs")
    obs.login("obs")
    names = ["qs%d" % i for i in range(3)] + ["qr%d" % i for i in range(3)]
    quns = {n: qun(procs, q.port, n, ns=ns) for n in names}
    wait_joined(obs, list(quns.values()))
    ns.loss(q.port, 10)
    sent = {n: ["%s-%d" % (n, i) for i in range(per)] for n in names[:3]}
    budget = 60 + per * 3 / 20
    feeders = [feed_paced(quns, sent, [obs], [quns[n] for n in names[3:]], budget)]
    for n in names[3:]:
        for s in names[:3]:
            wait_lines(quns[n], s, per, budget)
    for f in feeders:
        f.join(1)
    print("R1 qun: nft drops %r" % ns.counters())
    for n in names[3:]:
        for s in names[:3]:
            check_stream(qun_said(quns[n], s), sent[s], "%s from %s" % (n, s))
        no_reconnect(quns[n])
    for s in names[:3]:
        obs.wait_event(EV_SAY, s, sent[s][-1], timeout=budget)
        check_stream(obs.said(s), sent[s], "obs from %s" % s)
    ns.flush()
    for n in names:
        qun_quit(quns[n])


# ---------------------------------------------------------------------------
# R2: 30% bursty loss during login.

@pytest.mark.parametrize("option, value, shape", [
    ("--burst", "30", "FRACTION_PERCENT:MEAN_BAD_MS[:FIRST_GOOD_MS]"),
    ("--burst", "30:200:300:9", "FRACTION_PERCENT:MEAN_BAD_MS[:FIRST_GOOD_MS]"),
    ("--burst", "thirty:200", "FRACTION_PERCENT:MEAN_BAD_MS[:FIRST_GOOD_MS]"),
    ("--blackhole", "7", "PERIOD_S:DURATION_S"),
    ("--blackhole", "7:2s", "PERIOD_S:DURATION_S"),
])
def test_relay_schedule_options_refuse_other_shapes(option, value, shape, capsys):
    """The relay's --burst takes two or three numbers and --blackhole two;
    anything else is a usage error naming the shape, not a traceback or a
    silently different schedule."""
    with pytest.raises(SystemExit) as e:
        relay_main(["--server", "127.0.0.1:9", option, value])
    assert e.value.code == 2
    assert "%s: expected %s" % (option, shape) in capsys.readouterr().err


def test_r2_bursty_loss_during_login(procs, v2, relays):
    """R2: 20 qun clients (QUN_LONG: 50) log in at once through a link that
    is down 30% of the time in bursts (mean 200 ms); all logins complete
    within 60 s and each join is announced exactly once (to an observer
    connected directly)."""
    n = 50 if LONG else 20
    q = procs.qund(*FAST)
    obs = v2.login("obs", addr(q))
    # The first bad period starts 300 ms in, during the logins: left to
    # chance, the schedule can put none inside them and the test proves
    # nothing (it failed that way once in CI).
    r = relays(addr(q), burst=(0.30, 200.0, 300.0))
    t0 = time.monotonic()
    names = ["b%02d" % i for i in range(n)]
    for name in names:
        # Staggered over 2-5 s, so that logins meet good and bad periods alike.
        qun(procs, r.port, name)
        time.sleep(0.1)
    ok = obs.wait(lambda: {e.name for e in obs.events if e.event == EV_JOIN}
                  >= {x.encode() for x in names}, 60)
    dt = time.monotonic() - t0
    joined = [e.name.decode() for e in obs.events if e.event == EV_JOIN]
    print("R2: %d of %d joined in %.1f s; relay %r" % (len(set(joined)), n, dt, r.stats))
    assert ok, "not logged in within 60 s: %r" % sorted(set(names) - set(joined))
    assert r.stats["c2s"]["burst_lost"] + r.stats["s2c"]["burst_lost"] > 0, "no burst happened"
    time.sleep(QUIET)
    joined = [e.name.decode() for e in obs.events if e.event == EV_JOIN]
    assert sorted(joined) == sorted(names), "joins announced more than once: %r" % [
        x for x in set(joined) if joined.count(x) > 1]
    assert not [e for e in obs.events if e.event in (EV_LEAVE, EV_TIMEOUT)]


# ---------------------------------------------------------------------------
# R3: 5% duplication.

def test_r3_duplication(procs, v2, ns):
    """R3: with 5% of datagrams duplicated both ways (nftables dup), 2
    senders (a qun and a Python client) x 150 messages reach a qun and a
    Python receiver each exactly once: no line shown twice, each message
    relayed once; the duplication really happened (rule counters)."""
    per = 1500 if LONG else 150
    q = in_namespace(ns, procs, "qund", *FAST)
    ps = v2.new(addr(q), sock=ns.udp(), label="ps")
    pr = v2.new(addr(q), sock=ns.udp(), label="pr")
    pr.login("pr")
    ps.login("ps")
    qs = qun(procs, q.port, "qs", ns=ns)
    qr = qun(procs, q.port, "qr", ns=ns)
    for name in ("ps", "qs", "qr"):
        pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
    ns.dup(q.port, 5)
    sent = {n: ["%s-%d" % (n, i) for i in range(per)] for n in ("ps", "qs")}
    feed_paced({"qs": qs}, {"qs": sent["qs"]}, [pr], [qr], 60)
    for i, t in enumerate(sent["ps"]):
        if i % 50 == 0:
            behind_ok([pr], [qr], ["ps"], i, 60)
        ps.say(t)
    for s in ("ps", "qs"):
        pr.wait_event(EV_SAY, s, sent[s][-1], timeout=60)
        wait_lines(qr, s, per, 60)
    time.sleep(QUIET)
    dups = ns.counters()
    print("R3: nft duplicates %r" % dups)
    assert sum(dups) > 0, "the dup rule duplicated nothing"
    for s in ("ps", "qs"):
        check_stream(pr.said(s), sent[s], "pr from %s" % s)
        check_stream(qun_said(qr, s), sent[s], "qr from %s" % s)
    lines = [l for l in qun_lines(qr) if SAY_RE.match(l)]
    assert len(lines) == len(set(lines)), "qr showed a line twice"
    no_reconnect(qr)
    no_departures([ps, pr])


# ---------------------------------------------------------------------------
# R4: reordering.

def test_r4_reordering(procs, v2, relays):
    """R4: with 25% of datagrams held back 10-50 ms (both ways, relay),
    every receiver (qun and Python) sees each sender's messages in the order
    sent, each once: 3 senders x 100 messages."""
    per = 1000 if LONG else 100
    q = procs.qund(*FAST)
    f = Faults(reorder=25, reorder_ms=(10, 50))
    r = relays(addr(q), c2s=f, s2c=f)
    rp = ("127.0.0.1", r.port)
    ps = v2.new(rp, label="ps")
    pr = v2.new(rp, label="pr")
    pr.login("pr")
    ps.login("ps")
    qs1, qs2 = qun(procs, r.port, "qs1"), qun(procs, r.port, "qs2")
    qr = qun(procs, r.port, "qr")
    for name in ("ps", "qs1", "qs2", "qr"):
        pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
    senders = ["ps", "qs1", "qs2"]
    sent = {n: ["%s-%d" % (n, i) for i in range(per)] for n in senders}
    feed_paced({"qs1": qs1, "qs2": qs2}, {k: sent[k] for k in ("qs1", "qs2")}, [pr], [qr], 60)
    for i, t in enumerate(sent["ps"]):
        if i % 50 == 0:
            behind_ok([pr], [qr], ["ps"], i, 60)
        ps.say(t)
    for s in senders:
        pr.wait_event(EV_SAY, s, sent[s][-1], timeout=60)
        wait_lines(qr, s, per, 60)
    assert r.stats["c2s"]["reordered"] + r.stats["s2c"]["reordered"] > 0
    for s in senders:
        check_stream(pr.said(s), sent[s], "pr from %s" % s)
        check_stream(qun_said(qr, s), sent[s], "qr from %s" % s)
    no_reconnect(qr)
    no_departures([ps, pr])


# ---------------------------------------------------------------------------
# R5: corruption and truncation.

def test_r5_corruption_and_truncation(procs, v2, relays):
    """R5 (survival): with 2% of datagrams given 1-3 bit flips and 1%
    truncated (both ways, relay), 2 senders (qun and Python) x 150 messages:
    qund and both qun keep running (sanitizers quiet, checked at clean-up),
    no session is dropped and no qun reconnects, and once the faults stop a
    message goes everywhere cleanly.  (What the Python client received while
    the relay corrupted is not held against qund; after, it must be clean.)
    Known to fail at random until the two deterministic R5 tests below pass:
    a corrupted event id mutes qun, a corrupted ack silences a session."""
    per = 1500 if LONG else 150
    q = procs.qund(*FAST)
    f = Faults(corrupt=2, truncate=1)
    r = relays(addr(q))
    rp = ("127.0.0.1", r.port)
    ps = v2.new(rp, label="ps")
    pr = v2.new(rp, label="pr")
    pr.login("pr")
    ps.login("ps")
    qs, qr = qun(procs, r.port, "qs"), qun(procs, r.port, "qr")
    for name in ("ps", "qs", "qr"):
        pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
    r.set_faults(f, f)
    sent = {n: ["%s-%d" % (n, i) for i in range(per)] for n in ("ps", "qs")}
    feed_paced({"qs": qs}, {"qs": sent["qs"]}, [pr], [qr], 30)
    for i, t in enumerate(sent["ps"]):
        if i % 50 == 0:
            behind_ok([pr], [qr], ["ps"], i, 30)
        ps.say(t)
    # A corrupted ack may acknowledge what never arrived, so the last
    # message may be lost: wait for it, but only so long.
    for s_ in ("ps", "qs"):
        pr.wait(lambda: sent[s_][-1] in pr.said(s_), 5)
        wait_until(lambda: sent[s_][-1] in qun_said(qr, s_), 5, interval=0.05)
    st = r.stats
    print("R5: corrupted %d/%d, truncated %d/%d; pr shows %d+%d, qr %d+%d" % (
        st["c2s"]["corrupted"], st["s2c"]["corrupted"], st["c2s"]["truncated"],
        st["s2c"]["truncated"], len(pr.said("ps")), len(pr.said("qs")),
        len(qun_said(qr, "ps")), len(qun_said(qr, "qs"))))
    assert st["c2s"]["corrupted"] + st["s2c"]["corrupted"] > 0
    r.set_faults(Faults(), Faults())
    time.sleep(0.5)  # let what the relay holds drain
    for c in (ps, pr):
        c.errors.clear()  # the relay's doing, not qund's
    assert q.running(), "qund died"
    assert qs.proc.poll() is None and qr.proc.poll() is None, "a qun died"
    ps.say("clean after")
    pr.wait_event(EV_SAY, "ps", "clean after", timeout=WAIT)
    assert wait_until(lambda: "clean after" in qun_said(qr, "ps"), WAIT), \
        "qr shows nothing after the faults stopped"
    qs.send_line("clean from qun")
    pr.wait_event(EV_SAY, "qs", "clean from qun", timeout=WAIT)
    no_reconnect(qr)
    no_reconnect(qs)
    no_departures([ps, pr])


def test_r5_no_corrupted_text_shown(procs, v2, relays):
    """R5 (integrity): one bit flipped inside the text of one DATA from
    alice (the relay does it deterministically: 'alice-5' becomes 'alice-4')
    must not be shown as text alice never sent; THREATS.md R5 says "no
    corrupted text shown".  The CRC-32 trailer catches it: the damaged DATA
    is dropped and the retransmission shows the right text."""
    q = procs.qund(*FAST)
    done = []

    def hook(direction, client, data):
        if direction == "c2s" and not done and data[2:3] == bytes((DATA,)) and \
                data[:-4].endswith(b"alice-5"):
            done.append(1)
            return data[:-5] + b"4" + data[-4:]  # the text changed, the CRC-32 not
        return data
    r = relays(addr(q), hook=hook)
    obs = v2.login("obs", addr(q))
    alice = v2.new(("127.0.0.1", r.port), label="alice")
    alice.login("alice")
    obs.wait_event(EV_JOIN, "alice")
    sent = ["alice-%d" % i for i in range(10)]
    for t in sent:
        alice.say(t)
    obs.wait_event(EV_SAY, "alice", sent[-1])
    assert done, "the relay never saw alice-5"
    shown = obs.said("alice")
    assert shown == sent, "shown %r for sent %r" % (shown, sent)


def test_r5_corrupted_event_id_does_not_mute_qun(procs, v2, relays):
    """R5 (the C client): one EVENT whose room event id had bit 32 flipped
    on the way (relay, deterministic) may be shown or dropped, but the
    messages after it must still be shown: the session survives only if
    the user still sees the room.  (qun that drops every id at or below the
    highest it has seen would go mute for good.)"""
    q = procs.qund(*FAST)
    done = []

    def hook(direction, client, data):
        if direction == "s2c" and not done and data[2:3] == bytes((DATA,)) and \
                data[:-4].endswith(b"ps-3"):
            done.append(1)
            b = bytearray(data)
            b[23 + 1 + 3] ^= 0x01  # the id's byte worth 2**32
            return bytes(b)
        return data
    r = relays(addr(q), hook=hook)
    ps = v2.login("ps", addr(q))
    qr = qun(procs, r.port, "qr")
    ps.wait_event(EV_JOIN, "qr", timeout=WAIT * 2)
    sent = ["ps-%d" % i for i in range(8)]
    for t in sent:
        ps.say(t)
    assert wait_until(lambda: done, WAIT), "the relay never saw ps-3"
    got = wait_lines(qr, "ps", 7, WAIT)
    assert [t for t in got if t != "ps-3"] == [t for t in sent if t != "ps-3"], \
        "qun showed %r after one corrupted event id" % got
    no_reconnect(qr)


def test_r5_corrupted_ack_does_not_kill_session(procs, v2, relays):
    """R5 (acks): the relay loses the DATA carrying "ps-12" to pr once, and
    raises the ack field of pr's next ACK by 2, so it claims that DATA too
    (deterministic; a corruption the UDP checksum missed).  pr must still
    get every message, in order: THREATS.md R5 says the session survives.
    The CRC-32 trailer catches the damaged ACK, so it is dropped."""
    q = procs.qund(*FAST)
    st = {"seq": None, "done": False}

    def hook(direction, client, data):
        if direction == "s2c" and st["seq"] is None and data[2:3] == bytes((DATA,)) and \
                data[:-4].endswith(b"ps-12"):
            st["seq"] = struct.unpack(">I", data[11:15])[0]
            return None
        if direction == "c2s" and st["seq"] is not None and not st["done"] and \
                data[2:3] == bytes((ACK,)) and \
                struct.unpack(">I", data[15:19])[0] == st["seq"] - 1:
            st["done"] = True
            return data[:15] + struct.pack(">I", st["seq"] + 1) + data[19:]
        return data
    r = relays(addr(q), hook=hook)
    ps = v2.login("ps", addr(q))
    pr = v2.new(("127.0.0.1", r.port), label="pr")
    pr.login("pr")
    ps.wait_event(EV_JOIN, "pr")
    sent = ["ps-%d" % i for i in range(30)]
    for t in sent:
        ps.say(t)
    assert wait_until(lambda: st["done"], WAIT), "the relay never saw the ACK to raise"
    pr.wait_event(EV_SAY, "ps", sent[-1], timeout=WAIT)
    check_stream(pr.said("ps"), sent, "pr")


# ---------------------------------------------------------------------------
# R6: blackholes.

def test_r6_blackholes(procs, v2, relays):
    """R6: the link goes dark for 2 s in every 7 s (relay, both ways) while
    a qun and a Python client each send 4 messages/s for 10 s (QUN_LONG:
    60 s); everything sent during the outages arrives afterwards, in order,
    once, at a qun and a Python receiver; no session is dropped and no qun
    reconnects."""
    seconds = 60 if LONG else 10
    q = procs.qund(*FAST)
    r = relays(addr(q), blackhole=(7.0, 2.0))
    rp = ("127.0.0.1", r.port)
    ps = v2.new(rp, label="ps")
    pr = v2.new(rp, label="pr")
    pr.login("pr")
    ps.login("ps")
    qs, qr = qun(procs, r.port, "qs"), qun(procs, r.port, "qr")
    for name in ("ps", "qs", "qr"):
        pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
    n = seconds * 4
    sent = {x: ["%s-%d" % (x, i) for i in range(n)] for x in ("ps", "qs")}
    # Outages at [1, 3) and [8, 10) s from here.
    r.armed_at = time.monotonic() + 1.0
    feed(qs, sent["qs"], pace=0.25)
    for t in sent["ps"]:
        ps.say(t)
        time.sleep(0.25)
    for s in ("ps", "qs"):
        pr.wait_event(EV_SAY, s, sent[s][-1], timeout=20)
        wait_lines(qr, s, n, 20)
    dark = r.stats["c2s"]["blackholed"] + r.stats["s2c"]["blackholed"]
    print("R6: %d datagrams blackholed" % dark)
    assert dark > 0
    for s in ("ps", "qs"):
        check_stream(pr.said(s), sent[s], "pr from %s" % s)
        check_stream(qun_said(qr, s), sent[s], "qr from %s" % s)
    no_reconnect(qr)
    no_reconnect(qs)
    no_departures([ps, pr])


# ---------------------------------------------------------------------------
# R7: a client killed with SIGKILL.

def test_r7_client_killed(procs, v2):
    """R7: qun (keepalive 1 s) killed with SIGKILL is announced as timed out
    within --keepalive-timeout (4 s) plus one keepalive (+1 s slack for
    the check interval), not before the timeout, and its name is free at once."""
    q = procs.qund("--keepalive-timeout", "4", *FAST)
    obs = v2.login("obs", addr(q), keepalive=1)
    k = qun(procs, q.port, "victim", "--keepalive", "1")
    obs.wait_event(EV_JOIN, "victim", timeout=WAIT * 2)
    t = time.monotonic()
    os.killpg(k.proc.pid, signal.SIGKILL)
    e = obs.wait_event(EV_TIMEOUT, "victim", timeout=10)
    dt = e.t - t
    print("R7: timeout announced %.2f s after SIGKILL" % dt)
    assert dt <= 4 + 1 + 1, "announced after %.2f s" % dt
    assert dt >= 4 - 1 - 0.3, "announced after only %.2f s" % dt
    assert not [x for x in obs.events if x.event == EV_LEAVE]
    v2.login("victim", addr(q), label="victim2")


# ---------------------------------------------------------------------------
# R8: an idle client.

def test_r8_idle_client_kept(procs, v2, relays):
    """R8: an idle qun is never evicted: with --keepalive-timeout 6 and
    qun --keepalive 2, 9 s of silence (QUN_LONG: defaults, 100 s) end with
    the member still in the room, no timeout announced, no reconnection;
    its PINGs (seen on the relay) come no more often than its keepalive."""
    if LONG:
        q = procs.qund(*FAST)
        extra, ka, idle = (), 15.0, 100.0
    else:
        q = procs.qund("--keepalive-timeout", "6", *FAST)
        extra, ka, idle = ("--keepalive", "2"), 2.0, 9.0
    obs = v2.login("obs", addr(q), keepalive=1)
    pings = []

    def hook(direction, client, data):
        if direction == "c2s" and len(data) >= 3 and data[2] == PING:
            pings.append(time.monotonic())
        return data
    r = relays(addr(q), hook=hook)
    k = qun(procs, r.port, "idler", *extra)
    obs.wait_event(EV_JOIN, "idler", timeout=WAIT * 2)
    time.sleep(idle)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    print("R8: %d pings, gaps %r" % (len(pings), [round(g, 2) for g in gaps]))
    assert not [e for e in obs.events if e.event in (EV_TIMEOUT, EV_LEAVE)]
    assert "idler" in [n for n, _ in q.who()]
    no_reconnect(k)
    assert pings, "qun sent no PING in %.0f s idle" % idle
    assert all(g >= ka * 0.9 for g in gaps), "PINGs closer than %.0f s: %r" % (ka, gaps)
    k.send_line("still here")
    obs.wait_event(EV_SAY, "idler", "still here")


# ---------------------------------------------------------------------------
# R9: a recipient that vanished.

def _data_times(client):
    """seq -> arrival times of DATA for client."""
    out = {}
    for t, d in client.dgrams_in:
        if len(d) >= 23 and d[2] == DATA:
            out.setdefault(struct.unpack(">I", d[11:15])[0], []).append(t)
    return out


def test_r9_vanished_recipient(procs, v2):
    """R9: a member that stops acknowledging and pinging gets each DATA
    retransmitted with the timer doubling (x2, +-30%) up to 4 s; the bytes
    sent to it until eviction stay bounded (at most 7 copies of each
    message in 9 s); it is evicted after --keepalive-timeout (8 s) and the
    room told it timed out; nothing more is sent to it after that; the
    others' messages keep arriving within 0.5 s."""
    q = procs.qund("--keepalive-timeout", "8", *FAST)
    obs = v2.login("obs", addr(q), keepalive=1)
    talker = v2.login("talker", addr(q), keepalive=1)
    dead = v2.login("dead", addr(q), auto_ack=False, retransmit=False)
    obs.wait_event(EV_JOIN, "dead")
    t_dead = time.monotonic()
    lat = []
    for i in range(6):
        t = time.monotonic()
        talker.say("m%d" % i)
        e = obs.wait_event(EV_SAY, "talker", "m%d" % i)
        lat.append(e.t - t)
        time.sleep(0.2)
    e = obs.wait_event(EV_TIMEOUT, "dead", timeout=15)
    evicted = e.t
    print("R9: evicted %.2f s after going silent; latencies %r" % (
        evicted - t_dead, [round(x, 3) for x in lat]))
    assert 8 - 0.5 <= evicted - t_dead <= 8 + 2
    assert max(lat) < 0.5, "others' latency %r" % lat
    # Back-off: per message, the gaps between copies double up to 4 s.
    times = _data_times(dead)
    msgs = {s: ts for s, ts in times.items() if len(ts) >= 3}
    assert msgs, "no message was retransmitted to the dead member: %r" % times
    for s, ts in msgs.items():
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        for g1, g2 in zip(gaps, gaps[1:]):
            if g1 < 3.0:
                assert 1.4 * g1 <= g2 <= 2.6 * g1 + 0.05, "seq %d gaps %r" % (s, gaps)
            else:
                assert g2 <= 4.4, "seq %d gaps over the 4 s cap: %r" % (s, gaps)
        assert len(ts) <= 7, "seq %d sent %d times in %.1f s" % (s, len(ts), ts[-1] - ts[0])
    total = sum(len(d) for _, d in dead.dgrams_in)
    bound = len(times) * 7 * MAX_DATAGRAM + 100
    assert total <= bound, "%d bytes to the dead member" % total
    # After eviction nothing more (a CLOSE at most).
    n = len(dead.dgrams_in)
    time.sleep(1.5)
    later = [d for _, d in dead.dgrams_in[n:] if d[2] == DATA]
    assert not later, "%d DATA after eviction" % len(later)


def _ack_times(client):
    """seq -> when client first told the server it had seq (ack field of
    anything it sent)."""
    out, top = {}, 0
    for t, d in client.dgrams_out:
        if len(d) >= 23 and d[2] in (DATA, ACK, PING):
            ack = struct.unpack(">I", d[15:19])[0]
            for s in range(top + 1, ack + 1):
                out[s] = t
            top = max(top, ack)
    return out


def test_acks_delayed_to_the_protocol_maximum_cost_no_retransmission(procs, v2):
    """A member that holds every ACK back for the protocol's maximum
    (MAX_ACK_DELAY, 200 ms after the first DATA it owes one for) is never
    sent a DATA twice: the server's smallest RTO stays 100 ms above that
    delay.  The member first acknowledges a burst at once, which brings the
    server's RTO down to its floor, then delays: the first DATA after a
    quiet spell waits the whole delay for its ACK.  A copy is excused only
    where the test client itself was late (its ACK left more than 250 ms
    after the kernel received the DATA: a stalled machine), and most ACKs
    must be on time.  (It fails with the floor at 150 ms; the unit test
    delayed_ack_meets_no_retransmission pins the floor to the delay.)"""
    q = procs.qund(*FAST)
    talker = v2.login("talker", addr(q))
    lazy = v2.login("lazy", addr(q), stamps=True)
    talker.wait_event(EV_JOIN, "lazy")
    for i in range(30):
        talker.say("burst%d" % i)
    lazy.wait_event(EV_SAY, "talker", "burst29")
    top = max(_data_times(lazy))
    assert wait_until(lambda: top in _ack_times(lazy)), "lazy never acknowledged %d" % top
    lazy.ack_delay = MAX_ACK_DELAY  # only now, so that no burst DATA starts the delay
    gaps = [0.3, 0.0, 0.05, 0.3, 0.12, 0.3, 0.02, 0.3]
    for i in range(24):
        talker.say("m%d" % i)
        time.sleep(gaps[i % len(gaps)])
    lazy.wait_event(EV_SAY, "talker", "m23")
    top = max(_data_times(lazy))
    assert wait_until(lambda: top in _ack_times(lazy)), "lazy never acknowledged seq %d" % top
    # A copy would come one RTO after its DATA, and the RTO here stays under
    # 1 s (no sample is much over 0.2 s): 1 s of quiet shows there is none.
    time.sleep(1.0)
    arrived, acked = _data_times(lazy), _ack_times(lazy)
    late = {s for s, ts in arrived.items() if acked.get(s, float("inf")) - ts[0] > 0.25}
    copies = {s: len(ts) for s, ts in arrived.items() if len(ts) > 1}
    print("delayed acks: %d DATA, %d acked late by the test client, copies %r" % (
        len(arrived), len(late), copies))
    assert len(arrived) >= 54
    assert len(late) <= len(arrived) // 4, "the test client was late too often: %r" % late
    assert set(copies) <= late, "DATA sent twice to a member that acked in time: %r" % copies


def test_r9_send_queue_overflow(procs, v2):
    """R9 (queue bound): a member that keeps pinging but never acknowledges
    DATA has at most 33 in flight and 1024 queued; when 1100 messages pile
    up it is closed with reason 5 and the room is told it timed out; the
    sender and the others are unaffected."""
    q = procs.qund(*FAST)
    obs = v2.login("obs", addr(q))
    talker = v2.login("talker", addr(q))
    slow = v2.login("slow", addr(q), auto_ack=False, keepalive=0.5)
    obs.wait_event(EV_JOIN, "slow")
    for i in range(1100):
        talker.say("q%d" % i)
    obs.wait_event(EV_SAY, "talker", "q1099", timeout=30)
    e = obs.wait_event(EV_TIMEOUT, "slow", timeout=10)
    assert slow.wait(lambda: slow.closed is not None, WAIT), "slow got no CLOSE"
    assert slow.closed == CL_SLOW, "CLOSE reason %d" % slow.closed
    seqs = set(_data_times(slow))
    assert max(seqs) <= 33, "more than 33 DATA in flight to a member that never acks: %d" % (
        max(seqs))
    check_stream(obs.said("talker"), ["q%d" % i for i in range(1100)], "obs")
    assert e


# ---------------------------------------------------------------------------
# R10: text longer than a datagram.

def _long(n):
    """A str of exactly n UTF-8 bytes mixing CJK, ASCII and emoji."""
    unit = "长文本abc😀".encode()
    out = (unit * (n // len(unit) + 1))[:n]
    while True:
        try:
            return out.decode()
        except UnicodeDecodeError:
            k = len(out) - 1
            while out[k] & 0xC0 == 0x80:
                k -= 1
            out = out[:k] + b"y" * (n - k)


def test_r10_long_text(procs, v2, relays):
    """R10: a 3999-byte line typed into qun crosses the wire in datagrams of
    at most 1200 bytes both ways (relay monitor) and is shown byte-exact by
    another qun and by the Python client; a 4001-byte line is refused (qun
    says so) and nothing of it is relayed."""
    q = procs.qund(*FAST)
    r = relays(addr(q))
    rp = ("127.0.0.1", r.port)
    pr = v2.new(rp, label="pr")
    pr.login("pr")
    qs, qr = qun(procs, r.port, "qs"), qun(procs, r.port, "qr")
    for name in ("qs", "qr"):
        pr.wait_event(EV_JOIN, name, timeout=WAIT * 2)
    text = _long(3999)
    qs.send_line(text)
    e = pr.wait_event(EV_SAY, "qs", text, timeout=WAIT * 2)
    assert e.text == text.encode()
    assert wait_until(lambda: text in qun_said(qr, "qs"), WAIT * 2), "qr did not show it exactly"
    mark = len(pr.events)
    err_mark = len(qs.err.lines) + len(qs.out.lines)
    qs.send_line(_long(4001))
    qs.send_line("after the long one")
    pr.wait_event(EV_SAY, "qs", "after the long one", start=mark)
    assert [x.text for x in pr.events[mark:]] == [b"after the long one"]
    told = qs.err.lines + qs.out.lines
    assert len(told) > err_mark, "qun said nothing about the 4001-byte line"
    print("R10: max datagram c2s %d, s2c %d" % (r.max_size("c2s"), r.max_size("s2c")))
    assert r.max_size("c2s") <= MAX_DATAGRAM and r.max_size("s2c") <= MAX_DATAGRAM
    assert r.max_size("c2s") > 1000, "the long line did not need big datagrams?"


# ---------------------------------------------------------------------------
# The client notices a dead server and reconnects.

def _notice(k, text, timeout):
    """Wait until qun printed a line containing text (stdout or stderr)."""
    return wait_until(lambda: any(text in l for l in qun_lines(k) + k.err.lines), timeout,
                      interval=0.05)


def test_client_reconnects_after_outage(procs, v2, relays):
    """qun (keepalive 1 s) behind a link that goes dark for 6 s says it is
    reconnecting (it heard nothing for 3 keepalives), then that it is back;
    the line typed during the outage arrives once afterwards; the room saw
    no leave and no second join (same name, same address: replaced
    silently)."""
    q = procs.qund(*FAST)
    obs = v2.login("obs", addr(q))
    r = relays(addr(q))
    k = qun(procs, r.port, "phoenix", "--keepalive", "1")
    obs.wait_event(EV_JOIN, "phoenix", timeout=WAIT * 2)
    # The room hears of the join in the same flush as qun's WELCOME, which
    # still has to pass the relay: dark before it does, and qun is still
    # logging in, not reconnecting (a loaded machine did that in CI).
    assert _notice(k, "欢迎 phoenix", WAIT), "never welcomed: %r" % qun_lines(k)[-5:]
    r.blackhole = (1000.0, 6.0)
    r.arm()
    assert _notice(k, RECONNECTING, 6), "no reconnecting notice: %r" % qun_lines(k)[-5:]
    k.send_line("typed while away")
    assert _notice(k, RECONNECTED, 15), "no reconnected notice: %r" % qun_lines(k)[-5:]
    obs.wait_event(EV_SAY, "phoenix", "typed while away", timeout=WAIT * 2)
    time.sleep(QUIET)
    assert obs.said("phoenix") == ["typed while away"]
    assert [e.event for e in obs.events if e.name == b"phoenix"] == [EV_JOIN, EV_SAY], \
        obs.events


def test_client_reconnects_after_server_restart(procs, v2):
    """qun (keepalive 1 s) whose server is killed says it is reconnecting;
    when a new qund comes up on the same port it says it is back, is
    announced there under the same name, the line typed meanwhile is
    delivered, and it shows what the new room says (the new server counts
    its room event ids from the start again: a client that kept the old
    server's highest id would drop them all as replays)."""
    q = procs.qund(*FAST)
    port = q.port
    obs = v2.login("obs", addr(q))  # first, so that it sees phoenix join
    k = qun(procs, port, "phoenix", "--keepalive", "1")
    obs.wait_event(EV_JOIN, "phoenix", timeout=WAIT * 2)
    for i in range(10):
        obs.say("old room %d" % i)
    assert wait_lines(k, "obs", 10, WAIT) == ["old room %d" % i for i in range(10)]
    console = q.console_child()
    q.signal(signal.SIGKILL)
    q.wait(WAIT)
    os.kill(console, signal.SIGKILL)
    assert _notice(k, RECONNECTING, 10), "no reconnecting notice: %r" % qun_lines(k)[-5:]
    k.send_line("typed while away")
    q2 = procs.qund("-p", str(port), *FAST)
    assert q2.port == port
    obs2 = v2.login("obs2", addr(q2))
    obs2.wait_event(EV_JOIN, "phoenix", timeout=20)
    obs2.wait_event(EV_SAY, "phoenix", "typed while away", timeout=WAIT)
    assert _notice(k, RECONNECTED, WAIT)
    obs2.say("new room")
    assert wait_until(lambda: "new room" in qun_said(k, "obs2"), WAIT), \
        "qun shows nothing from the restarted server: %r" % qun_lines(k)[-5:]
