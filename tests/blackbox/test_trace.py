# test_trace.py - qund's stage times (make TRACE=1) in qunctl stats, and none of it in a normal build.
"""`make TRACE=1` builds a qund that follows chat messages stage by stage
(src/qund/trace.h, docs/PERFORMANCE.md "Where a message's time goes");
`make check-blackbox` builds one into $(B)/trace and names it in
QUN_TRACE_BUILD.  The normal build must have none of it."""

import os

import pytest

import daemon_helpers as dh
import v2client
from daemon_helpers import Foreground, wait_until

TRACE_BUILD = os.environ.get("QUN_TRACE_BUILD")
MESSAGE_STAGES = ("wait", "read", "queue", "hand", "total")
LOOP_SPANS = ("tick", "flush")


def chat(srv, n):
    """alice says n lines to bob over v2; returns when bob has shown them all."""
    clients = []
    try:
        alice = v2client.V2Client(("127.0.0.1", srv.port), label="alice")
        clients.append(alice)
        bob = v2client.V2Client(("127.0.0.1", srv.port), label="bob")
        clients.append(bob)
        alice.login("alice")
        bob.login("bob")
        for i in range(n):
            alice.say("line %d" % i)
        assert bob.wait(lambda: bob.say_counts[b"alice"] >= n, dh.WAIT), bob.say_counts
    finally:
        for c in clients:
            c.close()


@pytest.mark.skipif(os.environ.get("QUN_TRACE") == "1",
                    reason="QUN_BUILD is itself a TRACE=1 build (make TRACE=1 check-blackbox)")
def test_normal_build_has_no_trace(tmp_path):
    srv = Foreground(tmp_path)
    try:
        chat(srv, 5)
        assert "trace" not in srv.ctl("-j", "stats").json()
        assert "trace" not in srv.ctl("stats").out
    finally:
        assert srv.cleanup() == []


@pytest.mark.skipif(not TRACE_BUILD, reason="needs a make TRACE=1 build named in "
                    "QUN_TRACE_BUILD (make check-blackbox builds one)")
def test_trace_build_times_each_stage(tmp_path, monkeypatch):
    monkeypatch.setattr(dh, "QUND", os.path.join(TRACE_BUILD, "qund"))
    srv = Foreground(tmp_path, args=["--flood-burst", "50", "--flood-rate", "50"])
    try:
        chat(srv, 20)
        # A tick runs every 50 ms: wait for one after the chat, not for a fixed time.
        assert wait_until(lambda: srv.ctl("-j", "stats").json()["trace"]["tick"]["n"] > 0)
        tr = srv.ctl("-j", "stats").json()["trace"]
        n = tr["total"]["n"]
        # One message at a time is followed, so some of the 20, at least one.
        assert 1 <= n <= 20, tr
        for k in MESSAGE_STAGES + LOOP_SPANS:
            h = tr[k]
            assert h["p50_us"] <= h["p99_us"] <= h["max_us"], (k, h)
        for k in MESSAGE_STAGES:
            assert tr[k]["n"] == n, (k, tr)
            # A message's total is the sum of its stages, so no stage outlasts it.
            assert tr[k]["max_us"] <= tr["total"]["max_us"], (k, tr)
        assert tr["flush"]["n"] >= n, tr  # every followed message ended with a flush
        assert tr["deferred"] == 0, tr    # two members: no window filled
        text = srv.ctl("stats").out
        assert "trace (us: n p50 p99 max):" in text, text
        for k in MESSAGE_STAGES + LOOP_SPANS:
            assert "  %s: " % k in text, text
    finally:
        assert srv.cleanup() == []
