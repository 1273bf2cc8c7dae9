# test_bench.py - the load generator behind `make bench` against qund: every delivery counted, acks batched, heap read.
"""A small run of build/loadgen (bench/loadgen.c) against a real qund, for
both protocols: what the benchmark's numbers rest on.  Each delivery the
generator expects must arrive once, nothing may be evicted, the v2 members
must acknowledge the way qun's client does (several DATA per ACK, so qund
reads far fewer datagrams than it sends), and the server's heap in use,
read on its control socket, must be reported.  Performance itself is
measured by `make bench`, never here."""

import json
import os
import subprocess

import pytest

from conftest import BUILD, LEGACY, WIDE_LIMITS, Qund, base_env

LOADGEN = os.path.join(BUILD, "loadgen")
QUNCTL = os.path.join(BUILD, "qunctl")


def loadgen(srv, proto, control, *extra):
    if not os.access(LOADGEN, os.X_OK):
        pytest.fail("%s not built (make %s)" % (LOADGEN, os.path.relpath(LOADGEN)))
    argv = [LOADGEN, "-s", "127.0.0.1:%d" % srv.port, "-P", str(proto), "--pid", str(srv.pid),
            "--sizes", "10", "--fixed", "2000", "--runs", "1", "--trial", "0.5",
            "--control", control] + list(extra)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120, env=base_env())
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def stats(control):
    r = subprocess.run([QUNCTL, "-s", control, "-j", "stats"], stdout=subprocess.PIPE,
                       text=True, timeout=30, check=True)
    return json.loads(r.stdout)


@pytest.mark.parametrize("proto", [1, 2])
def test_loadgen_counts_every_delivery(procs, tmp_path, proto):
    control = str(tmp_path / "ctl")
    args = ["--control", control] + WIDE_LIMITS + (LEGACY if proto == 1 else [])
    srv = procs.add(Qund(tuple(args), lang="en"))
    j = loadgen(srv, proto, control)
    assert j["proto"] == proto and j["members"] == 10
    for t in (j["runs"][0]["best"], j["half"]):
        assert t["expected"] >= 9 * 100, t  # 0.5 s at 2,000 deliveries/s: ~100 SAYs
        assert (t["received"], t["dups"], t["evicted"]) == (t["expected"], 0, 0), t
    # Ten members cost at least their structures (104 bytes and a name each), and far
    # less than a megabyte: the heap figure is read, and it is the heap, not RSS.
    assert 100 <= j["heap_per_member"] < 100000, j
    st = stats(control)
    assert st["members"] == 10
    if proto == 2:
        # Delayed acknowledgements: each member gets ~200 DATA/s, an ACK per 8 of them.
        assert st["retransmissions"] == 0, st
        assert st["datagrams_out"] >= 3 * st["datagrams_in"], st


def test_loadgen_help():
    if not os.access(LOADGEN, os.X_OK):
        pytest.fail("%s not built" % LOADGEN)
    r = subprocess.run([LOADGEN, "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("usage: loadgen") and r.stderr == ""
    r = subprocess.run([LOADGEN, "--no-such-option"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "" and "usage: loadgen" in r.stderr
