# test_flood.py - qun under a flood of incoming lines still hears Ctrl-C: no loop starves the others.
"""A room that talks faster than qun can read must not hold up the
keyboard and signals until it stops: each process reads a batch of
messages per poll round, then serves its other descriptors.  The flood
comes from recvflood.so (built next to qun, see tests/blackbox/recvflood.c),
preloaded into qun: while a file exists, qun's UDP socket never runs dry,
in both its processes' loops (the network process reads it, the UI reads
what that sends on).  Both protocols, against a real server."""

import os
import signal
import subprocess
import time

import pytest

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
