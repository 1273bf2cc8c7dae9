# test_qunctl.py - black-box tests of qunctl and the control socket: every command, text and JSON, access.
"""Every qunctl command end to end against a real qund (foreground, with
--legacy so that scripted v1 peers can be members), in text and --json;
bans and mutes against clients that reconnect; the socket's permissions
and peer check against an unprivileged user; the console running the same
commands.  The attacks of other local users are in test_local_attacks.py."""

import grp
import json
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time

import pytest

from daemon_helpers import (QUIET, QUNCTL, WAIT, Foreground, Peer, can_setpriv, qunctl,
                            wait_until)

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's value, for older Pythons


@pytest.fixture
def srv(tmp_path):
    fg = Foreground(tmp_path)
    yield fg
    assert fg.cleanup() == []


@pytest.fixture
def srv_en(tmp_path):
    fg = Foreground(tmp_path, lang="en")
    yield fg
    assert fg.cleanup() == []


@pytest.fixture
def peers():
    made = []

    def make(srv, name=None, bind="127.0.0.1"):
        p = Peer(srv.port, bind)
        made.append(p)
        if name is not None:
            assert p.login(name) == "OK"
        return p

    yield make
    for p in made:
        p.close()


def room(srv, peers, *names):
    """Members logged in, in order; each has seen the later ones join (a barrier)."""
    out = [peers(srv, n) for n in names]
    for i, p in enumerate(out):
        for later in names[i + 1:]:
            p.wait_for("%s 进入了聊天室" % later if srv.lang == "zh" else "%s joined the room"
                       % later)
    return out


# ---------------------------------------------------------------------------
# who

def test_who_text_empty_and_full(srv, peers):
    r = srv.ctl("who")
    assert (r.rc, r.out, r.err) == (0, "在线 0 人：\n", "")
    alice, bob = room(srv, peers, "alice", "bob")
    r = srv.ctl("who")
    lines = r.out.splitlines()
    assert lines[0] == "在线 2 人："
    names = sorted(l.split()[0] for l in lines[1:])
    assert names == ["alice", "bob"]
    assert all(l.startswith("  ") and " 127.0.0.1:" in l for l in lines[1:])


def test_who_json(srv, peers):
    alice, = room(srv, peers, "alice")
    r = srv.ctl("--json", "who")
    assert r.rc == 0
    j = r.json()
    assert j["ok"] is True and j["count"] == 1
    m = j["members"][0]
    assert m["name"] == "alice"
    assert m["addr"] == "127.0.0.1:%d" % alice.sock.getsockname()[1]
    assert m["muted"] is False and m["keepalive"] is False and m["idle_s"] >= 0


def test_who_english_header(srv_en):
    assert srv_en.ctl("who").out == "0 member(s) online:\n"


# ---------------------------------------------------------------------------
# say

def test_say_reaches_everyone(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    r = srv.ctl("say", "服务器", "18:00", "重启")
    assert r.rc == 0 and r.out == "已发送给 2 人\n", r
    alice.expect("管理员 说：服务器 18:00 重启")
    bob.expect("管理员 说：服务器 18:00 重启")


def test_say_json_and_english(srv_en, peers):
    alice, = room(srv_en, peers, "alice")
    r = srv_en.ctl("-j", "say", "hello")
    assert r.json() == {"ok": True, "recipients": 1}
    alice.expect("[admin] hello")


def test_say_refuses_control_characters(srv, peers):
    alice, = room(srv, peers, "alice")
    r = srv.ctl("say", "a\x1b[31mb")
    assert r.rc == 1 and "消息不能包含控制字符" in r.err, r
    srv.ctl("say", "barrier")
    alice.expect("管理员 说：barrier")


# ---------------------------------------------------------------------------
# kick

def test_kick_with_reason(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    r = srv.ctl("kick", "bob", "刷屏")
    assert (r.rc, r.out) == (0, "已请出 bob\n"), r
    bob.expect("EXIT")
    alice.expect("bob 被管理员请出了聊天室（刷屏）")
    assert [l.split()[0] for l in srv.ctl("who").out.splitlines()[1:]] == ["alice"]


def test_kick_json_english_plain(srv_en, peers):
    alice, bob = room(srv_en, peers, "alice", "bob")
    r = srv_en.ctl("--json", "kick", "BOB")
    assert r.json() == {"ok": True, "kicked": "bob"}
    bob.expect("EXIT")
    alice.expect("bob was removed by the admin")


def test_kick_unknown(srv):
    r = srv.ctl("kick", "nobody")
    assert (r.rc, r.out) == (1, "")
    assert r.err == "qunctl: 没有这个人：nobody\n"
    r = srv.ctl("-j", "kick", "nobody")
    assert r.rc == 1
    assert r.json() == {"ok": False, "error": "no such member: nobody"}


# ---------------------------------------------------------------------------
# ban / unban, against clients that reconnect

def test_ban_name_kicks_and_keeps_out(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    r = srv.ctl("ban", "Bob")
    assert r.rc == 0 and r.out == "已禁止 Bob，直到解除\n已请出：bob\n", r
    bob.expect("EXIT")
    alice.expect("bob 被管理员请出了聊天室")
    # bob reconnects from a new socket (new port): refused with the reason.
    again = peers(srv)
    assert again.login("bob") == "你已被禁止进入聊天室"
    assert again.login("BOB") == "你已被禁止进入聊天室"
    # A short request gets the short refusal, never a larger reply than it sent.
    again.send("L bob")
    assert again.recv() in ("ERR", None)
    # Others still get in.
    assert peers(srv).login("carol") == "OK"
    assert srv.ctl("unban", "bob").out == "已解除禁止：bob\n"
    assert again.login("bob") == "OK"


def test_ban_address_covers_every_port(srv, peers):
    """ban ADDR: members from it are removed; any port of it is refused; others unaffected."""
    alice = peers(srv, "alice")
    mallory = peers(srv, "mallory", bind="127.0.0.2")
    alice.wait_for("mallory 进入了聊天室")
    r = srv.ctl("--json", "ban", "127.0.0.2")
    assert r.json() == {"ok": True, "banned": "127.0.0.2", "kind": "address", "updated": False,
                        "expires_in_s": None, "kicked": ["mallory"]}
    mallory.expect("EXIT")
    alice.expect("mallory 被管理员请出了聊天室")
    fresh = peers(srv, bind="127.0.0.2")
    assert fresh.login("someone") == "你已被禁止进入聊天室"
    # Chat from a banned address is dropped and counted, even naming a member.
    fresh.send("C alice forged")
    srv.ctl("say", "barrier")
    assert alice.wait_for("管理员 说：barrier") == []
    assert srv.ctl("-j", "stats").json()["drops"]["banned"] >= 2
    assert peers(srv, "bob").recv(QUIET) is None  # 127.0.0.1 still welcome
    r = srv.ctl("unban", "127.0.0.2")
    assert r.rc == 0
    assert fresh.login("someone") == "OK"


def test_ban_prefix(srv, peers):
    peers(srv, "alice")
    assert srv.ctl("ban", "127.0.0.2/31").out == "已禁止 127.0.0.2/31，直到解除\n"
    assert peers(srv, bind="127.0.0.3").login("x") == "你已被禁止进入聊天室"
    assert peers(srv, bind="127.0.0.4").login("y") == "OK"
    assert srv.ctl("unban", "127.0.0.2/32").rc == 1  # not what was banned
    assert srv.ctl("unban", "127.0.0.2/31").rc == 0


def test_ban_with_duration_lapses(srv, peers):
    bob = peers(srv, "bob")
    r = srv.ctl("ban", "bob", "1s")
    assert r.out.startswith("已禁止 bob，时长 1s\n"), r
    bob.expect("EXIT")
    again = peers(srv)
    assert again.login("bob") == "你已被禁止进入聊天室"
    assert wait_until(lambda: again.login("bob") == "OK", timeout=WAIT), "ban did not lapse"


def test_bans_lists_and_unban_errors(srv):
    assert srv.ctl("ban", "alice", "2h").rc == 0
    assert srv.ctl("ban", "10.1.2.3/8").rc == 0
    assert srv.ctl("mute", "carol").rc == 0
    r = srv.ctl("bans")
    # The time left is read a moment after the ban: 2h, or a second or so less when slow.
    assert re.fullmatch("禁止：\n  alice \\(剩余 (2h|1h59m[0-9]+s)\\)\n  10.0.0.0/8 \\(直到解除\\)\n"
                        "禁言：\n  carol \\(直到解除\\)\n", r.out), r
    j = srv.ctl("-j", "bans").json()
    assert 7140 <= j["bans"][0].pop("expires_in_s") <= 7200
    assert j["bans"][0] == {"target": "alice", "kind": "name"}
    assert j["bans"][1] == {"target": "10.0.0.0/8", "kind": "address", "expires_in_s": None}
    assert j["mutes"] == [{"target": "carol", "kind": "name", "expires_in_s": None}]
    r = srv.ctl("unban", "dave")
    assert (r.rc, r.err) == (1, "qunctl: 没有被禁止：dave\n")
    j = srv.ctl("-j", "ban", "alice", "1h").json()
    assert j["updated"] is True and j["expires_in_s"] == 3600  # computed with the ban's clock


@pytest.mark.parametrize("args,why", [
    (["ban"], "用法：ban 名字|地址 [时长]"),
    (["ban", "alice", "soon"], "时长无效：soon"),
    (["ban", "alice", "1h", "extra"], "用法：ban 名字|地址 [时长]"),
    (["ban", "10.0.0.0/40"], "地址前缀无效：10.0.0.0/40"),
    (["ban", "管理员"], "不是有效的名字或地址：管理员"),
    (["mute"], "用法：mute 名字 [时长]"),
    (["kick"], "用法：kick 名字 [#聊天室] [理由]"),
    (["who", "extra"], "用法：who"),
    (["frobnicate"], "未知命令：frobnicate"),
])
def test_usage_errors(srv, args, why):
    r = srv.ctl(*args)
    assert r.rc == 2, r
    assert r.out == "" and r.err.startswith("qunctl: " + why), r


def test_usage_error_json(srv):
    r = srv.ctl("--json", "ban", "alice", "soon")
    assert r.rc == 2
    assert r.json() == {"ok": False,
                        "error": "bad duration: soon (e.g. 90, 90s, 15m, 2h, 7d, 2w)"}


# ---------------------------------------------------------------------------
# mute / unmute

def test_mute_survives_reconnect(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    assert srv.ctl("mute", "bob", "1h").out == "已禁言 bob，时长 1h\n"
    bob.send("C bob 你好")
    bob.expect("你已被禁言")
    # bob leaves and comes back from a new port: still muted.
    bob.send("Q bob")
    bob.expect("EXIT")
    alice.expect("bob 退出了聊天室")
    bob2 = peers(srv, "bob")
    alice.expect("bob 进入了聊天室")
    bob2.send("C bob 还是我")
    bob2.expect("你已被禁言")
    assert srv.ctl("-j", "who").json()["members"][1]["muted"] is True
    srv.ctl("say", "barrier")
    assert alice.wait_for("管理员 说：barrier") == [], "a muted message reached the room"
    assert srv.ctl("-j", "unmute", "bob").json() == {"ok": True, "unmuted": "bob"}
    bob2.send("C bob 终于")
    alice.expect("bob 说：终于")
    assert srv.ctl("unmute", "bob").rc == 1


def test_mute_json(srv):
    j = srv.ctl("--json", "mute", "carol", "90").json()
    assert j == {"ok": True, "muted": "carol", "updated": False, "expires_in_s": 90}


# ---------------------------------------------------------------------------
# stats

def test_stats(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    stranger = peers(srv)
    stranger.send("C alice not me")
    srv.ctl("mute", "bob")
    bob.send("C bob hi")
    bob.expect("你已被禁言")
    srv.ctl("say", "barrier")
    alice.wait_for("管理员 说：barrier")
    j = srv.ctl("--json", "stats").json()
    assert j["ok"] is True and j["members"] == 2
    assert j["datagrams_in"] >= 4 and j["datagrams_out"] >= 4
    assert j["retransmissions"] == 0 and j["send_errors"] == 0
    assert j["drops"]["not_member"] == 1
    assert j["drops"]["muted"] == 1
    assert j["bans"] == 0 and j["mutes"] == 1
    assert j["uptime_s"] >= 0
    assert 0 < j["heap_bytes"] < 1 << 30
    text = srv.ctl("stats").out
    for label in ("在线人数：2", "运行时间：", "收到数据报：", "发出数据报：", "重传：0", "已用内存：",
                  "丢弃（按原因）：", "  not_member: 1", "  muted: 1", "禁言条目：1"):
        assert label in text, (label, text)


def test_stats_heap_follows_the_members(srv, peers):
    """heap_bytes is memory in use, not the process's size: it rises by at
    least a member's structure for each of 60 members, and falls again when
    they leave (freed memory that malloc keeps is not counted; the tables
    that grew for them keep their size)."""
    def heap():
        return srv.ctl("-j", "stats").json()["heap_bytes"]

    def members():
        return srv.ctl("-j", "stats").json()["members"]

    before = heap()
    # One /24 each: a qund --legacy takes at most 32 v1 logins at once from one (v1-login-burst).
    made = [peers(srv, "m%02d" % i, bind="127.0.%d.1" % (i + 1)) for i in range(60)]
    full = heap()
    assert full - before >= 60 * 100, (before, full)  # struct member is 104 bytes and a name
    for i, p in enumerate(made):
        p.send("Q m%02d" % i)
    assert wait_until(lambda: members() == 0)
    after = heap()
    assert full - after >= 60 * 80, (before, full, after)


def trickle(port, rate, seconds, during=None, datagram=b"\xfe\x02", sock=None):
    """Send datagram (by default a v2-looking one too short to parse, which
    qund drops unanswered; a list: each in turn) rate times a second for
    seconds, one at a time, from sock or a new socket: time.sleep is too
    coarse for 10,000/s, so wait by spinning.  during() is called once,
    halfway.  Returns how many were sent."""
    cycle = datagram if isinstance(datagram, list) else [datagram]
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.perf_counter()
    sent = 0
    try:
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds:
                return sent
            if during is not None and now - t0 >= seconds / 2:
                during()
                during = None
            if sent < (now - t0) * rate:
                sock.sendto(cycle[sent % len(cycle)], ("127.0.0.1", port))
                sent += 1
    finally:
        if own:
            sock.close()


def moderated_trickle(srv, peers, coalesce_us, kind):
    """A 10,000/s trickle for 1.5 s of one kind of datagram: "acks" (pure v2
    ACKs of a logged-in member, carol), "junk" (datagrams qund cannot parse),
    "acks+junk" (nine ACKs, then one junk) or "chat" (alice's v1 lines,
    which the room relays: run qund with flood limits above the rate).
    Except with chat, alice says a line in the middle and bob must see it.
    Returns (sent, read, wake-ups, pauses, elapsed us, the stats' change)."""
    import v2client
    carol = v2client.V2Client(("127.0.0.1", srv.port), label="carol")
    try:
        alice, bob = room(srv, peers, "alice", "bob")
        datagram, sock, during = b"\xfe\x02", carol.sock, lambda: alice.send("C alice 在高负载下")
        if kind.startswith("acks"):
            carol.login("carol")
            datagram = v2client.session(v2client.ACK, carol.sid)
            if kind == "acks+junk":
                datagram = [datagram] * 9 + [b"\xfe\x02"]
        elif kind == "chat":
            datagram, sock, during = "C alice 刷屏".encode(), alice.sock, None
        t0 = time.monotonic()
        before = srv.ctl("-j", "stats").json()
        sent = trickle(srv.port, 10000, 1.5, during, datagram, sock)
        if during is not None:
            bob.wait_for("alice 说：在高负载下")
        after = srv.ctl("-j", "stats").json()
        if kind.startswith("acks"):
            assert carol.closed is None, carol.closed  # its session took every ACK
    finally:
        carol.close()
    elapsed_us = (time.monotonic() - t0) * 1e6
    got = after["datagrams_in"] - before["datagrams_in"]
    wakeups = after["udp_wakeups"] - before["udp_wakeups"]
    pauses = after["rx_pauses"] - before["rx_pauses"]
    print("coalesce %d, %s: sent %d, read %d in %d wake-ups, %d pauses" % (
        coalesce_us, kind, sent, got, wakeups, pauses))
    # Moderation turns on above 2,000 datagrams/s: the trickle must be well above.
    assert sent >= 4000 * 1.5, sent
    # 1 ms of the trickle is 10 datagrams; only a long stall of the whole
    # machine with a small net.core.rmem_max could drop some.
    assert got >= sent * 0.98, (got, sent)
    delta = {k: after[k] - before[k] for k in after if isinstance(after[k], int)}
    return sent, got, wakeups, pauses, elapsed_us, delta


@pytest.mark.parametrize("coalesce", [0, 1000])
def test_stats_receive_moderation(tmp_path, peers, coalesce):
    """A trickle of 10,000 pure ACKs/s wakes qund for about every one.  Once
    a 50 ms tick has read more than 100 datagrams, --coalesce 1000 makes it
    pause 1 ms after each wake-up that read fewer than 16 and made no event,
    so the trickle is read in batches: at least 2 datagrams per wake-up over
    the whole run.  --coalesce 0 never pauses.  The pauses are real:
    together they fit in the time that passed.  Either way a member's chat
    sent in the middle of it is relayed, (almost) nothing is lost, and the
    text reply shows the counters."""
    srv = Foreground(tmp_path, args=["--coalesce", str(coalesce)])
    try:
        sent, got, wakeups, pauses, elapsed_us, delta = moderated_trickle(srv, peers, coalesce,
                                                                          "acks")
        # The kernel put every ACK in the ACK socket (steer.h), and little else (carol's
        # client acknowledges the room's events on its own).
        assert sent * 0.98 <= delta["acks_apart"] <= sent + 10, (delta["acks_apart"], sent)
        if coalesce == 0:
            assert pauses == 0
        else:
            assert pauses > 0 and got >= 2 * wakeups, (got, wakeups, pauses)
            assert pauses * coalesce <= elapsed_us, (pauses, elapsed_us)
        text = srv.ctl("stats").out
        for label in ("接收唤醒：", "合并等待：", "被聊天提前结束的合并等待：", "确认包套接字读入："):
            assert label in text, (label, text)
    finally:
        assert srv.cleanup() == []


def test_junk_costs_a_wakeup_not_the_acks(tmp_path, peers):
    """A pause waits on the chat socket only, so a junk datagram (which
    lands there) ends it, as a chat line does: junk costs at most one
    wake-up per datagram, the price it has without moderation.  It cannot
    make the ACKs around it cost a wake-up each: in a trickle of nine ACKs
    to one junk datagram, the ACKs are still read in batches, and none of
    the junk is counted as read from the ACK socket."""
    srv = Foreground(tmp_path, args=["--coalesce", "1000"])
    try:
        sent, got, wakeups, pauses, _, delta = moderated_trickle(srv, peers, 1000, "acks+junk")
        assert pauses > 0 and got >= 2 * wakeups, (got, wakeups, pauses)
        # The ACKs, all of them, went to the ACK socket, and no junk did (carol's own ACKs too).
        assert sent * 9 // 10 * 0.98 <= delta["acks_apart"] <= sent * 9 // 10 + 10, (delta, sent)
    finally:
        assert srv.cleanup() == []


def test_a_chat_line_ends_a_pause(tmp_path, peers):
    """Under a trickle of ACKs heavy enough to moderate (10,000/s), qund
    spends most of its time in pauses of --coalesce 1000 us; a chat line
    arriving in one ends it at once instead of waiting it out (the pause
    waits on the chat socket, steer.h).  Of 20 lines sent 40 ms apart
    during the trickle, most must end a pause, and every one is relayed."""
    import v2client
    srv = Foreground(tmp_path, args=["--coalesce", "1000", "--flood-burst", "100",
                                     "--flood-rate", "100"])
    carol = v2client.V2Client(("127.0.0.1", srv.port), label="carol")
    try:
        alice, bob = room(srv, peers, "alice", "bob")
        carol.login("carol")
        ack = v2client.session(v2client.ACK, carol.sid)
        lines = []

        def speak():
            while len(lines) < 20:
                lines.append("第%d句" % len(lines))
                alice.send("C alice " + lines[-1])
                time.sleep(0.04)

        speaker = threading.Thread(target=speak)
        before = srv.ctl("-j", "stats").json()
        trickle(srv.port, 10000, 0.4, None, ack, carol.sock)  # moderation on
        speaker.start()
        trickle(srv.port, 10000, 1.2, None, ack, carol.sock)
        speaker.join()
        for line in lines:
            bob.wait_for("alice 说：" + line)
        after = srv.ctl("-j", "stats").json()
        cut = after["rx_pauses_cut"] - before["rx_pauses_cut"]
        # Only the lines (and a keepalive of carol's) reach the chat socket: an ACK never
        # ends a pause.
        assert 10 <= cut <= 20 + 5, (cut, after["rx_pauses"] - before["rx_pauses"])
    finally:
        carol.close()
        assert srv.cleanup() == []


def rx_queues(port):
    """The bytes waiting in each IPv4 UDP socket bound to port (/proc/net/udp), sorted."""
    out = []
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                out.append(int(fields[4].split(":")[1], 16))
    return sorted(out)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_a_line_is_read_ahead_of_queued_acks(tmp_path, peers):
    """With qund stopped, bob sends 200 ACKs for a session qund does not
    know, then alice says a line.  The kernel put the ACKs in their own
    socket (steer.h), so when qund runs again it reads the line first: bob
    gets it before the CLOSE that the first of his ACKs earns (one socket of
    bob's gets both, so their order is the order qund sent them in).  In one
    socket the line would wait behind all 200."""
    srv = Foreground(tmp_path)
    try:
        alice, bob = room(srv, peers, "alice", "bob")
        import v2client
        fake = v2client.session(v2client.ACK, b"\x5e\xc0\x1d\x00\x00\x00\x00\x01")
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            # Stopped, not still on its way there: a wake-up in between would see the first
            # ACKs alone.
            assert wait_until(lambda: proc_state(srv.pid) == "T"), proc_state(srv.pid)
            for _ in range(200):
                bob.sock.sendto(fake, ("127.0.0.1", srv.port))
            alice.send("C alice 插队")
            # In qund's sockets, both (the kernel may hand datagrams over a little later).
            assert wait_until(lambda: rx_queues(srv.port) and min(rx_queues(srv.port)) > 0), \
                rx_queues(srv.port)
        finally:
            os.kill(srv.pid, signal.SIGCONT)
        got = []
        while not any(d[:1] == b"\xfe" and d[2:3] == b"\x13" for d in got):
            bob.sock.settimeout(WAIT)
            got.append(bob.sock.recv(2048))
        assert "alice 说：插队".encode() in got, got
    finally:
        assert srv.cleanup() == []


def test_without_the_steering_qund_says_so_and_serves(tmp_path, peers):
    """Where the kernel refuses the program that sorts ACKs into their own
    socket (nosteer.so makes setsockopt fail), qund says so and why, and
    serves on: a v2 member's ACKs are taken, a line is relayed, and nothing
    pauses, since a line could then be waiting in the ACK socket."""
    shim = os.path.join(os.path.dirname(QUNCTL), "nosteer.so")
    if not os.path.exists(shim):
        pytest.fail("%s not built (make %s)" % (shim, os.path.relpath(shim)))
    extra = {"LD_PRELOAD": shim,
             # ASan wants to be the first library; the shim only wraps setsockopt.
             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    srv = Foreground(tmp_path, args=["--coalesce", "1000"], extra_env=extra)
    try:
        assert srv.wait_stderr("SO_ATTACH_REUSEPORT_CBPF"), srv.stderr()
        assert "ACK" in srv.stderr()
        sent, got, wakeups, pauses, _, _ = moderated_trickle(srv, peers, 1000, "acks")
        assert pauses == 0, pauses
    finally:
        assert srv.cleanup() == []


def test_no_moderation_pause_after_a_chat_line(tmp_path, peers):
    """The pause delays whatever arrives during it, so it never follows a
    wake-up that carried a chat line (issue 19): a trickle of v1 lines is
    read as it comes, with no pause, even with --coalesce 1000 and the input
    well past the threshold."""
    srv = Foreground(tmp_path, args=["--coalesce", "1000", "--flood-burst", "100000",
                                     "--flood-rate", "100000"])
    try:
        sent, got, wakeups, pauses, _, _ = moderated_trickle(srv, peers, 1000, "chat")
        assert pauses == 0, (pauses, wakeups)
    finally:
        assert srv.cleanup() == []


# ---------------------------------------------------------------------------
# shutdown

def test_shutdown_with_message(srv, peers):
    alice, = room(srv, peers, "alice")
    r = srv.ctl("shutdown", "再见")
    assert (r.rc, r.out) == (0, "正在关闭服务器\n")
    alice.expect("管理员 说：再见")
    alice.expect("服务器即将关闭")
    alice.expect("EXIT")
    assert srv.wait() == 0
    assert not os.path.exists(srv.control)


def test_shutdown_json(srv_en):
    assert srv_en.ctl("-j", "shutdown").json() == {"ok": True, "shutdown": True}
    assert srv_en.wait() == 0


# ---------------------------------------------------------------------------
# The socket: access, logging, robustness.

def test_socket_mode_and_peer_credentials_logged(srv):
    st = os.stat(srv.control)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert srv.ctl("who").rc == 0
    assert srv.wait_stderr("control: uid %d gid %d pid " % (os.getuid(), os.getgid()))
    assert srv.wait_stderr(": who: done")


@pytest.mark.skipif(not can_setpriv(), reason="needs root and setpriv to act as nobody")
def test_unprivileged_user_is_refused():
    """nobody cannot open the socket (mode 0660, root's).  Let through the file's mode (the
    socket's group made nogroup), it is still refused on its credentials (SO_PEERCRED):
    status 3 and the reason, and the refusal is logged.  With --control-group nogroup it may
    use the socket (THREATS.md S23)."""
    d = tempfile.mkdtemp(prefix="qun-test-")
    os.chmod(d, 0o755)  # every user may reach the socket; its mode and the peer check decide
    fg = Foreground(d)
    try:
        r = qunctl(fg.control, "who", as_nobody=True)
        assert r.rc == 3, r
        assert "Permission denied" in r.err, r
        assert fg.ctl("who").rc == 0  # the server is fine
        os.chown(fg.control, 0, grp.getgrnam("nogroup").gr_gid)
        r = qunctl(fg.control, "who", as_nobody=True)
        assert (r.rc, r.out) == (3, ""), r
        assert r.err == ("qunctl: 拒绝访问：uid 65534 无权使用 qund 的控制套接字（可以使用的：root；"
                         "见 qund(8) 的 --control-group）\n"), r
        assert fg.wait_stderr("control: refused uid 65534 gid 65534 pid ")
        assert fg.wait_stderr("(allowed: root): who")
        assert fg.ctl("who").rc == 0
    finally:
        assert fg.cleanup() == []
        shutil.rmtree(d, ignore_errors=True)
    d = tempfile.mkdtemp(prefix="qun-test-")
    os.chmod(d, 0o755)
    fg = Foreground(d, args=["--control-group", "nogroup"])
    try:
        st = os.stat(fg.control)
        assert (st.st_uid, st.st_gid) == (0, grp.getgrnam("nogroup").gr_gid)
        r = qunctl(fg.control, "who", as_nobody=True)
        assert r.rc == 0, r
        assert fg.wait_stderr("control: uid 65534 gid 65534 ")
    finally:
        assert fg.cleanup() == []
        shutil.rmtree(d, ignore_errors=True)


def test_no_server(tmp_path):
    r = qunctl(str(tmp_path / "nothing.sock"), "who")
    assert r.rc == 3
    assert "cannot connect to" in r.err and "is qund running?" in r.err


def test_qunctl_usage():
    import subprocess
    r = subprocess.run([QUNCTL], capture_output=True, timeout=WAIT)
    assert r.returncode == 2 and b"usage: qunctl" in r.stderr
    r = subprocess.run([QUNCTL, "-h"], capture_output=True, timeout=WAIT)
    assert r.returncode == 0 and b"ban NAME|ADDR [DURATION]" in r.stdout
    assert b"-u, --server-user USER" in r.stdout
    r = subprocess.run([QUNCTL, "-u", "no-such-user-qun", "who"], capture_output=True,
                       timeout=WAIT)
    assert r.returncode == 2 and b"--server-user: no such user: no-such-user-qun" in r.stderr
    r = subprocess.run([QUNCTL, "-s", "/nonexistent", "say", "a\nb"], capture_output=True,
                       timeout=WAIT)
    assert r.returncode == 2 and b"line break" in r.stderr


def test_silent_client_does_not_block_others(srv, peers):
    """A client that connects and says nothing holds up neither the room nor other operators."""
    alice, bob = room(srv, peers, "alice", "bob")
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.connect(srv.control)
    half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    half.connect(srv.control)
    half.sendall(b"wh")  # half a request, never finished
    try:
        assert srv.ctl("who").rc == 0
        bob.send("C bob still here")
        alice.expect("bob 说：still here")
    finally:
        idle.close()
        half.close()


def test_raw_protocol(srv):
    """One line in, a status line and the body out, then the server closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(srv.control)
    s.sendall(b"--json who\nignored second line\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    status, _, body = data.partition(b"\n")
    assert status == b"0"
    assert json.loads(body) == {"ok": True, "count": 0, "members": []}


def test_over_long_request(srv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(WAIT)
    s.connect(srv.control)
    s.sendall(b"say " + b"x" * 5000)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data == b"2\nrequest longer than 4096 bytes\n"


# ---------------------------------------------------------------------------
# The console runs the same commands.

def test_console_offers_the_same_commands(srv, peers):
    alice, bob = room(srv, peers, "alice", "bob")
    srv.console("/mute bob")
    assert srv.wait_stdout("已禁言 bob，直到解除")
    bob.send("C bob hi")
    bob.expect("你已被禁言")
    srv.console("/ban bob 10m")
    assert srv.wait_stdout("已禁止 bob，时长 10m")
    bob.expect("EXIT")
    srv.console("/stats")
    assert srv.wait_stdout("在线人数：1")
    srv.console("/kick nobody")
    assert srv.wait_stderr("没有这个人：nobody")
    srv.console("plain words")
    alice.wait_for("管理员 说：plain words")
    assert srv.ctl("bans").out.startswith("禁止：\n  bob (剩余 ")


# ---------------------------------------------------------------------------
# Protocol v2 members are held to the same bans and mutes.

QERR_BANNED, QERR_MUTED = 10, 11


def test_v2_mute_and_ban(srv):
    from v2client import CL_KICKED, EV_KICK, EV_SAY, V2Client
    server = ("127.0.0.1", srv.port)
    alice, bob = V2Client(server), V2Client(server)
    try:
        alice.login("alice")
        bob.login("bob")
        assert srv.ctl("mute", "bob").rc == 0
        bob.say("不该被听到")
        n = bob.wait_notice(code=QERR_MUTED)
        assert n.text == "你已被禁言"
        srv.ctl("unmute", "bob")
        bob.say("现在可以")
        alice.wait_event(EV_SAY, name="bob", text="现在可以")
        assert alice.said("bob") == ["现在可以"], "a muted message reached alice"

        assert srv.ctl("ban", "bob", "kicked").rc == 2  # "kicked" is no duration
        assert srv.ctl("ban", "bob").rc == 0
        assert bob.wait(lambda: bob.closed == CL_KICKED), "bob's session was not closed"
        alice.wait_event(EV_KICK, name="bob")
        again = V2Client(server)
        try:
            r = again.login("bob", expect="refuse")
            assert (r.code, r.reason) == (QERR_BANNED, "你已被禁止进入聊天室")
        finally:
            again.close()
        assert srv.ctl("-j", "stats").json()["drops"]["banned"] >= 1
        assert alice.errors == [] and bob.errors == []
    finally:
        alice.close()
        bob.close()
