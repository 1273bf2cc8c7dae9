# test_server_flood.py - qund under input that never stops still sends what it reads: no starved output.
"""qund reads its socket in batches and sends what each batch caused (v1
lines, v2 DATA and acks) after that batch, not once the socket is empty:
under a flood faster than it reads, the socket is never empty.  The flood
comes from recvflood.so (tests/blackbox/recvflood.c) preloaded into qund:
while a file exists, every recvmmsg is topped up with junk datagrams, after
what really came."""

import os

import pytest

from conftest import BUILD, WIDE_LIMITS, LEGACY, Qund, base_env

SHIM = os.path.join(BUILD, "recvflood.so")


def flooded_qund(procs, flood):
    if not os.path.exists(SHIM):
        pytest.fail("%s not built (make %s)" % (SHIM, os.path.relpath(SHIM)))
    env = base_env(LD_PRELOAD=SHIM, QUND_FLOOD_FILE=flood)
    # ASan wants to be the first library; the shim only wraps receiving.
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return procs.add(Qund(tuple(LEGACY + WIDE_LIMITS), lang="en", env=env))


def test_lines_still_go_out_under_a_flood(procs, tmp_path):
    """With the socket never empty, a member's line still reaches the others,
    and a new member still gets OK and is announced."""
    flood = str(tmp_path / "flood")
    srv = flooded_qund(procs, flood)
    alice = procs.member(srv, "alice")
    bob = procs.member(srv, "bob")
    alice.wait_for("bob joined the room")
    open(flood, "w").close()
    try:
        alice.send("C alice hello under the flood")
        bob.wait_for("alice: hello under the flood")
        carol = procs.member(srv, "carol")
        bob.wait_for("carol joined the room")
        carol.send("C carol me too")
        alice.wait_for("carol: me too")
    finally:
        os.unlink(flood)
    alice.send("C alice after")
    bob.wait_for("alice: after")
