# test_v2_login_attacks.py - black-box tests of v2 logins under attack: replayed LOGINs (S19) and spoofed HELLOs (S20).
"""Two attacks on the v2 login that need no cryptography to stop
(docs/THREATS.md S19 and S20; issue 17, items 7 and 8).

- A LOGIN replayed from a member's address while its cookie is still
  good (2 to 4 minutes) must not bring back a member who has left, nor
  replace the live session of a member who logged in again.
- HELLOs forged from a victim's IP (1,000-2,000 a second, from other
  ports) must not keep the victim's real client from logging in within
  5 s: answers to unvalidated sources are limited per address, not only
  per IP.
"""

import os
import random
import threading
import time

import pytest

from netns import Forger, Netns, in_namespace
from v2client import EV_JOIN, EV_LEAVE, EV_SAY, LOGIN, hello, parse

SEED = int(os.environ.get("QUN_SEED") or int.from_bytes(os.urandom(4), "big"))


def addr(q):
    return ("127.0.0.1", q.port)


@pytest.fixture
def ns(procs):
    n = Netns("lgn")
    yield n
    n.close()


def sent_logins(c):
    """The LOGIN datagrams client c sent, as they went on the wire, oldest first."""
    out = []
    for _, data in list(c.dgrams_out):
        try:
            d = parse(data, from_server=False)
        except Exception:
            continue
        if d.type == LOGIN:
            out.append(data)
    return out


def test_s19_replayed_login_after_quit_brings_nobody_back(procs, v2):
    """alice logs in and quits; her LOGIN, replayed from her address within
    the cookie's lifetime, creates no session: the room sees no join and
    /who does not list her."""
    q = procs.qund()
    obs = v2.new(addr(q), label="obs")
    obs.login("obs")
    alice = v2.new(addr(q), label="alice")
    alice.login("alice")
    obs.wait_event(EV_JOIN, "alice")
    replay = sent_logins(alice)[-1]
    alice.quit()
    obs.wait_event(EV_LEAVE, "alice")
    mark = len(obs.events)
    for _ in range(3):
        alice.send_raw(replay)
    # A control: a new member joins after the replays, so the replays were processed.
    bob = v2.new(addr(q), label="bob")
    bob.login("bob")
    obs.wait_event(EV_JOIN, "bob", start=mark)
    joined = [e.name for e in obs.events[mark:] if e.event == EV_JOIN]
    assert joined == [b"bob"], "the replayed LOGIN brought back %r" % joined
    assert sorted(n for n, _ in q.who()) == ["bob", "obs"]


def test_s19_replayed_old_login_does_not_replace_the_new_session(procs, v2):
    """alice logs in again from the same address (a restarted client: new
    nonce); her first LOGIN, replayed, must not take her session back to
    the old nonce and a new session id: her next line is still relayed."""
    q = procs.qund()
    obs = v2.new(addr(q), label="obs")
    obs.login("obs")
    alice = v2.new(addr(q), label="alice")
    alice.login("alice")
    obs.wait_event(EV_JOIN, "alice")
    first = sent_logins(alice)[-1]
    alice.login("alice")  # the same address, a new nonce: a fresh session
    sid = alice.sid
    alice.send_raw(first)
    alice.send_raw(first)
    alice.say("still me")
    obs.wait_event(EV_SAY, "alice", "still me")
    assert alice.sid == sid
    assert alice.closed is None, "alice's session was closed: %r" % alice.closed
    joins = [e for e in obs.events if e.event == EV_JOIN and e.name == b"alice"]
    assert len(joins) == 1


def test_s20_spoofed_hellos_from_the_victims_ip_do_not_keep_it_out(procs, v2, ns):
    """1,500 HELLOs a second forged from the victim's IP (127.0.0.1, random
    other ports), on until the logins are over (at most 20 s); meanwhile
    the victim's real clients (qun, and the Python client) log in from that
    IP: each within 5 s."""
    q = in_namespace(ns, procs, "qund")
    obs = v2.new(addr(q), sock=ns.udp(), label="obs")
    obs.login("obs")
    f = Forger(ns)
    r = random.Random("s20-%d" % SEED)
    print("S20: seed %d (replay with QUN_SEED=%d)" % (SEED, SEED))
    pps, seconds = 1500, 20.0
    count = [0]
    stop = threading.Event()
    t0 = time.monotonic()

    def flood():
        while not stop.is_set() and time.monotonic() - t0 < seconds:
            f.send(("127.0.0.1", r.randrange(1024, 65535)), addr(q), hello(r.randbytes(8)))
            count[0] += 1
            ahead = count[0] / pps - (time.monotonic() - t0)
            if ahead > 0.0005:
                time.sleep(ahead)

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    try:
        time.sleep(0.5)  # the flood is on: the per-IP budget of the old rule is long gone
        t = time.monotonic()
        in_namespace(ns, procs, "qun", "-s", "127.0.0.1", "-p", str(q.port), "--lang", "zh",
                     "victim")
        e = obs.wait_event(EV_JOIN, "victim", timeout=15)
        took_qun = e.t - t
        c = v2.new(addr(q), sock=ns.udp(), label="victim2")
        t = time.monotonic()
        c.login("victim2", timeout=15.0)
        took_py = time.monotonic() - t
        flooding = th.is_alive()
    finally:
        stop.set()
        th.join(seconds + 5)
        f.close()
    rate = count[0] / (time.monotonic() - t0)
    print("S20: %d forged HELLOs (%.0f/s); qun in %.2f s, Python client in %.2f s"
          % (count[0], rate, took_qun, took_py))
    assert flooding, "the flood ended before the logins: the test tested nothing"
    assert rate >= 1000, "the flood was too weak: %.0f/s" % rate
    assert took_qun <= 5.0, "qun logged in %.2f s after it started" % took_qun
    assert took_py <= 5.0
