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


def test_loadgen_extra_trials_at_given_rates(procs, tmp_path):
    """--at SIZE:RATE runs one more fixed-rate trial per pair after the search,
    reported in order under "at"; latency to arrival never exceeds latency to
    loadgen's own read of the same deliveries."""
    control = str(tmp_path / "ctl")
    srv = procs.add(Qund(("--control", control) + tuple(WIDE_LIMITS), lang="en"))
    j = loadgen(srv, 2, control, "--at", "10:50,10:100")
    assert [round(t["trial"]["rate"]) for t in j["at"]] == [50, 100], j["at"]
    for t in [j["runs"][0]["best"], j["half"]] + [a["trial"] for a in j["at"]]:
        assert (t["received"], t["dups"]) == (t["expected"], 0), t
        assert t["expected"] > 0, t
        for q in ("p50", "p99", "p999"):
            assert t[q + "_us"] <= t[q + "_read_us"], (q, t)


@pytest.mark.parametrize("bad, why", [
    ("10", "need SIZE:RATE"), ("10:0", "need SIZE:RATE"), ("x:5", "need SIZE:RATE"),
    ("100:5", "size 100 is not in --sizes"),
])
def test_loadgen_refuses_a_bad_at(bad, why):
    """A bad --at is refused before anything runs (no server is needed), with why."""
    r = subprocess.run([LOADGEN, "-s", "127.0.0.1:9", "--sizes", "10", "--at", bad],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == "" and why in r.stderr, r


KERNEL_CEILING = os.path.join(BUILD, "kernel_ceiling")


def test_kernel_ceiling_split():
    """--split 2 adds a run of two senders, each to its half of the members,
    all of whose datagrams arrive; the fan-out time is members / rate."""
    r = subprocess.run([KERNEL_CEILING, "--members", "20", "--secs", "0.2", "--split", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert (j["sendmmsg"]["senders"], j["split"]["senders"]) == (1, 2), j
    for mode in ("sendto", "sendmmsg", "split"):
        m = j[mode]
        assert m["sent"] > 0 and m["received"] == m["sent"] and m["loss"] == 0, (mode, m)
        assert abs(m["fanout_us"] - 20 * 1e6 / m["dgrams_per_s"]) < 0.01 * m["fanout_us"], m


@pytest.mark.parametrize("split", ["0", "21", "65"])
def test_kernel_ceiling_refuses_a_bad_split(split):
    r = subprocess.run([KERNEL_CEILING, "--members", "20", "--split", split],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == "" and "--split must be" in r.stderr, r
