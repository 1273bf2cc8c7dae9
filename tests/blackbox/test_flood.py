# test_flood.py - floods: qun still hears Ctrl-C under one, and qund holds a flooding v1 member to its rate.
"""A room that talks faster than qun can read must not hold up the
keyboard and signals until it stops: each process reads a batch of
messages per poll round, then serves its other descriptors.  The flood
comes from recvflood.so (built next to qun, see tests/blackbox/recvflood.c),
preloaded into qun: while a file exists, qun's UDP socket never runs dry,
in both its processes' loops (the network process reads it, the UI reads
what that sends on).  Both protocols, against a real server.

The other way round, a member who floods the room (THREATS.md S6) is held
by qund's flood control to --flood-burst lines at once, then --flood-rate
per second: the rest are refused to it and relayed to nobody."""

import os
import select
import signal
import subprocess
import time

import pytest

from conftest import refusal
from tui_helpers import BUILD, QUN, WAIT, session, wait_until  # noqa: F401 (fixture)

SHIM = os.path.join(BUILD, "recvflood.so")


@pytest.fixture(params=["v2", "v1"])
def proto(request):
    return request.param


def test_sigint_heard_during_flood(session, proto):
    """SIGINT while the room floods qun: qun leaves (the server confirms) and
    exits 0 within a couple of seconds, not when the flood stops."""
    if not os.path.exists(SHIM):
        pytest.fail("%s not built (make %s)" % (SHIM, os.path.relpath(SHIM)))
    flood = os.path.join(session.dir, "flood")
    env = session.env(LD_PRELOAD=SHIM, QUN_FLOOD_FILE=flood)
    # ASan wants to be the first library; the shim only wraps recv and poll.
    env["ASAN_OPTIONS"] += ":verify_asan_link_order=0"
    srv = session.server("en", legacy=proto == "v1")
    bob = session.member(srv, "bob")
    args = ["-s", "127.0.0.1", "-p", str(srv.port)] + (["--legacy"] if proto == "v1" else [])
    q = subprocess.Popen([QUN] + args + ["alice"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    session.items.append(q)
    bob.expect("alice joined the room")
    try:
        open(flood, "w").close()
        bob.send("C bob go")  # a real line wakes qun's poll into the flood
        time.sleep(0.5)  # both loops deep in it
        assert q.poll() is None, "qun ended during the flood: %s" % q.returncode
        t0 = time.monotonic()
        os.kill(q.pid, signal.SIGINT)
        assert wait_until(lambda: q.poll() is not None, 3.0), \
            "qun still running 3 s after SIGINT, the flood still on"
        took = time.monotonic() - t0
    finally:
        os.unlink(flood)
    assert q.returncode == 0, "qun exited %s" % q.returncode
    assert took < 3.0
    bob.wait_for("alice left the room")


def _receive_until(socks, done, timeout=WAIT):
    """Receive on socks (conftest.Udp, into their .received) until done() or the deadline.

    Returns the time at which done() held, or None."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([s.sock for s in socks], [], [], left)
        for s in socks:
            if s.sock in ready:
                s.recv(0.01)
    return time.monotonic()


def test_v1_chat_flood_held_to_burst_and_rate(procs):
    """A v1 member (raw `C name text`) sending 100 lines at once past
    --flood-burst 5, --flood-rate 2: every line is either relayed to each
    other member or refused to the sender with the flooding reason, never
    both; the others get at most burst + rate x elapsed time of them, the
    first five whole and in order; and once a token is back, the next line
    is relayed again."""
    burst, rate, count = 5, 2, 100
    lang = "en"
    srv = procs.qund1("--max-per-address", "100", "--flood-burst", str(burst),
                      "--flood-rate", str(rate), lang=lang, default_limits=True)
    bob = procs.member(srv, "bob")
    carol = procs.member(srv, "carol")
    alice = procs.member(srv, "alice")
    bob.wait_for("alice joined the room")
    carol.wait_for("alice joined the room")
    for s in (alice, bob, carol):
        s.received.clear()
    flood = refusal(lang, "flood")
    lines = ["alice: flood %d" % i for i in range(count)]

    def heard(s):
        return [d.decode() for d in s.received]

    def accounted():
        relayed, refused = heard(bob), heard(alice)
        return len(relayed) + len(refused) >= count and len(heard(carol)) == len(relayed)

    start = time.monotonic()
    for i in range(count):
        alice.send("C alice flood %d" % i)
    end = _receive_until([alice, bob, carol], accounted)
    assert end is not None, "after %ss: bob %d lines, alice %d refusals of %d" % (
        WAIT, len(bob.received), len(alice.received), count)
    relayed = heard(bob)
    allowed = burst + int(rate * (end - start))
    assert len(relayed) <= allowed, \
        "%d of %d lines relayed in %.2f s; flood control allows %d" % (
            len(relayed), count, end - start, allowed)
    assert heard(carol) == relayed
    assert set(heard(alice)) == {flood}, "alice got %r" % set(heard(alice))
    assert len(relayed) + len(heard(alice)) == count
    assert all(l in lines for l in relayed), relayed
    assert relayed == sorted(relayed, key=lines.index), "relayed out of order: %r" % relayed
    assert relayed[:burst] == lines[:burst], relayed
    # Nothing more trickles out afterwards: a barrier from bob reaches carol with
    # nothing before it, and alice hears of it with nothing before it either.
    bob.send("C bob barrier")
    assert carol.wait_for("bob: barrier") == []
    assert alice.wait_for("bob: barrier") == []
    # The bucket refills at the rate: 1/rate s after the flood was dealt with
    # alice has a token again (the server handled her last line before `end`).
    time.sleep(max(0.0, end + 1.0 / rate - time.monotonic()))
    alice.send("C alice later")
    assert bob.wait_for("alice: later") == []
    assert carol.wait_for("alice: later") == []
    bob.send("C bob barrier 2")
    assert alice.wait_for("bob: barrier 2") == [], "alice's later line was refused"
