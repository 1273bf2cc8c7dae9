# test_history.py - black-box tests of qund's store (issue 21, first steps): what survives kill -9.
"""qund --store PATH keeps what a restart must not lose: every line any member
saw (R12: after kill -9, each once and in order, the room's order going on
after it), the rooms' ids, permanent rooms, bans and mutes.  A file that is
not qund's store is refused and left untouched (R14).  Read through qunctl
history, since history on join is not on the wire yet (docs/HISTORY.md)."""

import errno
import json
import os
import signal
import sqlite3
import subprocess

import pytest

from daemon_helpers import QUND, Foreground, Peer, env, wait_until
from v2client import (EV_JOIN, EV_SAY, F_HISTORY, HEND_START, HIST_AFTER, HIST_BEFORE,
                      HIST_LATEST, LOBBY, ROOM_MINE, ClientSet, history_payload)

FAST = ["--flood-burst", "1000", "--flood-rate", "1000"]


def start(tmp_path, run, store, *args, lang="zh"):
    d = tmp_path / ("run%d" % run)
    d.mkdir()
    return Foreground(d, args=FAST + ["--store", str(store)] + list(args), lang=lang)


def history(fg, room="#大厅", n=50):
    r = fg.ctl("--json", "history", room, str(n))
    assert r.rc == 0, r
    return [(x["id"], x["kind"], x["name"], x["text"]) for x in r.json()["lines"]]


def history_all(store, room=1):
    """Every line of a room, read from the store's file (a second reader: WAL allows it)."""
    con = sqlite3.connect("file:%s?mode=ro" % store, uri=True)
    try:
        return con.execute("SELECT event, kind, name, text FROM lines WHERE room = ?"
                           " ORDER BY event", (room,)).fetchall()
    finally:
        con.close()


def kill9(fg):
    fg.proc.send_signal(signal.SIGKILL)
    assert fg.wait() == -signal.SIGKILL


def test_every_line_seen_survives_kill_9_once_in_order(tmp_path):
    """R12: three senders in a burst, killed (-9) in the middle of it: a
    restart on the same store has every line a member saw, once, in the
    order the member saw it, ids strictly increasing, and the room's order
    goes on from there."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        a, b, c = cs.login("alice"), cs.login("bob"), cs.login("carol")
        watcher = cs.login("watch")
        for i in range(300):
            for who in (a, b, c):
                who.say("%s %d" % (who.label, i))
        assert watcher.wait(lambda: sum(e.event == EV_SAY for e in watcher.events) >= 60,
                            10), "the burst did not start"
        kill9(fg)  # in the middle of the burst: 900 lines were queued
        with watcher.cond:
            seen = [(e.id, e.name.decode(), e.text.decode()) for e in watcher.events
                    if e.event == EV_SAY]
        assert 60 <= len(seen) < 900, len(seen)
    finally:
        assert cs.close_all() == []
    fg.cleanup()

    fg2 = start(tmp_path, 2, store)
    try:
        every = history_all(store)  # more than qunctl's 200: the file itself
        assert [(x[0], x[2], x[3]) for x in history(fg2, n=200)] == \
            [(x[0], x[2], x[3]) for x in every[-200:]]
        kept = [(i, name, text) for i, kind, name, text in every if kind == EV_SAY]
        missing = [x for x in seen if x not in kept]
        assert missing == [], "seen but not kept: %r" % missing[:5]
        order = [x for x in kept if x in seen]
        assert order == seen, "history's order is not the order the watcher saw"
        ids = [x[0] for x in every]
        assert ids == sorted(set(ids)), "ids repeat or go back"
        cs2 = ClientSet(("127.0.0.1", fg2.port))
        try:
            d = cs2.login("dave")
            cs2.login("erin")
            joined = d.wait_event(EV_JOIN, "erin")
            assert joined.id > ids[-1], "the room's order did not go on after the restart"
        finally:
            assert cs2.close_all() == []
    finally:
        assert fg2.cleanup() == []


def test_rooms_bans_and_mutes_survive_a_restart(tmp_path):
    """A permanent room is there again with its id and its history; a ban
    and a mute hold after a restart; a room's id stays its own."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        assert fg.ctl("room", "create", "#公告").rc == 0
        alice = cs.login("alice")
        alice.rooms()
        alice.wait_rooms(ROOM_MINE)
        news = alice.join("#公告")[0]
        dev = alice.join("#dev")[0]
        alice.say_in(news, "明天放假")
        alice.say_in(dev, "dev line")
        assert fg.ctl("ban", "mallory").rc == 0
        assert fg.ctl("mute", "bob", "1h").rc == 0
        assert fg.ctl("ban", "203.0.113.0/24", "1d").rc == 0
        assert [x[3] for x in history(fg, "#公告")][-1:] == ["明天放假"]
    finally:
        assert cs.close_all() == []
    assert fg.cleanup() == []

    fg2 = start(tmp_path, 2, store)
    cs2 = ClientSet(("127.0.0.1", fg2.port))
    try:
        rooms = {x["name"]: x for x in fg2.ctl("--json", "rooms").json()["rooms"]}
        assert rooms["#公告"]["permanent"] and rooms["#公告"]["id"] == news
        assert "#dev" not in rooms  # it closed with its last member
        assert [x[3] for x in history(fg2, "#公告") if x[1] == "say"] == ["明天放假"]
        bans = fg2.ctl("--json", "bans").json()
        text = str(bans)
        assert "mallory" in text and "203.0.113.0/24" in text and "bob" in text, bans
        m = cs2.new(label="mallory")
        m.start_login("mallory")
        assert m.wait(lambda: m.refuse is not None), "a banned name got in after a restart"
        carol = cs2.login("carol")
        carol.rooms()
        carol.wait_rooms(ROOM_MINE)
        assert carol.join("#dev")[0] == dev, "#dev is not the room it was"
    finally:
        assert cs2.close_all() == []
        assert fg2.cleanup() == []


def test_a_file_that_is_not_the_store_is_refused_untouched(tmp_path):
    """R14: a text file and another program's SQLite file: qund refuses to
    start, says why, and leaves each as it was."""
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my notes, not a database\n")
    other = tmp_path / "other.db"
    con = sqlite3.connect(str(other))
    con.execute("CREATE TABLE t(x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    for path, why in ((notes, "not an SQLite file"), (other, "another program")):
        before = path.read_bytes()
        d = tmp_path / ("ctl-" + path.name)
        d.mkdir()
        r = subprocess.run([QUND, "-b", "127.0.0.1", "-p", "0", "--store", str(path),
                            "--control", str(d / "s.sock")], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10, env=env())
        assert r.returncode != 0, r
        assert why in r.stderr.decode(), r.stderr
        assert path.read_bytes() == before, "%s was changed" % path
        assert not os.path.exists(str(path) + "-wal"), "a WAL file was made beside it"


def test_v1_line_is_history_too(tmp_path):
    """The lesson's client's lines are the room's history like any other."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    p = Peer(fg.port)
    try:
        p.login("lesson")
        p.send("C lesson 你好")
        assert wait_until(lambda: ("say", "lesson", "你好") in
                          [x[1:] for x in history(fg)]), history(fg)
    finally:
        p.sock.close()
        assert fg.cleanup() == []


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MB tmpfs of our own (root only), unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    d = tmp_path / "small"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.decode().strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def stats(fg):
    r = fg.ctl("--json", "stats")
    assert r.rc == 0, r
    return r.json()


def test_a_full_or_read_only_store_costs_history_not_the_room(tmp_path, small_fs):
    """R13: the store's file system fills: chat goes on live, the failure is
    logged once (not per line), stats says failing; when space comes back,
    history resumes by itself (tried every 5 s).  Then the file system is
    read-only when qund starts: qund says so, and serves without history.
    The file passes integrity_check at the end."""
    store = small_fs / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice, bob = cs.login("alice"), cs.login("bob")
        alice.say("before")
        bob.wait_event(EV_SAY, "alice", "before")
        filler = small_fs / "filler"
        with open(filler, "wb") as f:  # every byte of the file system
            full = None
            while full is None:
                try:
                    f.write(b"\0" * 65536)
                    f.flush()
                except OSError as e:
                    full = e.errno
            assert full == errno.ENOSPC, os.strerror(full)
        for i in range(200):  # pages fill up: SQLite needs room for the WAL
            alice.say("while full %d %s" % (i, "x" * 900))
        bob.wait_event(EV_SAY, "alice", "while full 199 " + "x" * 900, timeout=10)
        assert wait_until(lambda: stats(fg)["store"] == "failing", 10), stats(fg)
        assert fg.wait_stderr("history: "), fg.stderr()
        assert fg.stderr().count("history: ") == 1, "one report, not one per line"
        os.unlink(filler)

        def kept_after():
            alice.say("after")
            return "after" in [x[3] for x in history(fg)]
        assert wait_until(kept_after, 15, interval=1.0), "history did not resume"
        assert stats(fg)["store"] == "ok"
        assert "the store works again" in fg.stderr()
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    fg = start(tmp_path, 2, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        assert fg.wait_stderr("the room goes on without history"), fg.stderr()
        assert stats(fg)["store"] == "failing"
        alice, bob = cs.login("alice"), cs.login("bob")
        alice.say("read-only")
        bob.wait_event(EV_SAY, "alice", "read-only")
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []
    # The file system is read-only still: read the file as it lies (immutable).
    con = sqlite3.connect("file:%s?immutable=1" % store, uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def test_history_on_the_wire_pages_like_chathistory(tmp_path):
    """HISTORY (docs/HISTORY.md): LATEST, BEFORE and AFTER by event id, an
    empty page with START at the beginning; only of a room one is in; and
    after kill -9 a new member asks and gets the lines, in order, once."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice = cs.login("alice")
        assert alice.welcome.features & F_HISTORY, alice.welcome
        for i in range(5):
            alice.say("line %d" % i)
        bob = cs.login("bob")
        lines, n, flags = bob.history(LOBBY, HIST_LATEST, count=4)  # bob's own join last
        assert [(ev, t.decode()) for _, _, _, ev, _, t in lines] == \
            [(EV_SAY, "line 2"), (EV_SAY, "line 3"), (EV_SAY, "line 4"), (EV_JOIN, "")]
        assert n == 4 and not flags & HEND_START
        first = lines[0][1]
        older, n, flags = bob.history(LOBBY, HIST_BEFORE, first, count=50)
        assert [t.decode() for _, _, _, ev, _, t in older if ev == EV_SAY] == \
            ["line 0", "line 1"]
        assert flags & HEND_START, "the beginning was not marked"
        newer, n, flags = bob.history(LOBBY, HIST_AFTER, first, count=2)
        assert [t.decode() for *_, t in newer] == ["line 3", "line 4"]
        assert all(at > 0 for _, _, at, _, _, _ in lines)
        dev = alice.join("#dev")[0]
        n0 = len(bob.notices)
        bob.send_payload(history_payload(dev))
        assert bob.wait(lambda: len(bob.notices) > n0)
        assert bob.notices[n0].code == 19, "history of a room one is not in"
        kill9(fg)
    finally:
        assert cs.close_all() == []
    fg.cleanup()
    fg2 = start(tmp_path, 2, store)
    cs2 = ClientSet(("127.0.0.1", fg2.port))
    try:
        carol = cs2.login("carol")
        lines, n, _ = carol.history(LOBBY, HIST_LATEST, count=50)
        says = [t.decode() for _, _, _, ev, _, t in lines if ev == EV_SAY]
        assert says == ["line %d" % i for i in range(5)], says
    finally:
        assert cs2.close_all() == []
        assert fg2.cleanup() == []


def test_a_private_line_waits_for_its_reader(tmp_path):
    """/msg to a name that is away: kept, the sender told so (NOTICE 23);
    delivered once when someone logs in under the name and declares rooms,
    marked as kept with the time it was said; not again at the next login.
    Until names are owned (issue 22) whoever takes the name gets it."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice = cs.login("alice")
        alice.rooms()
        alice.wait_rooms(ROOM_MINE)
        alice.tell("bob", "晚上聚餐？")
        assert alice.wait(lambda: any(x.code == 23 for x in alice.notices)), alice.notices
        old = cs.login("bob")  # a client from before history: the line waits
        old.rooms()
        old.wait_rooms(ROOM_MINE)
        alice.say("barrier 1")
        old.wait_event(EV_SAY, "alice", "barrier 1")
        assert old.privates == [], "a kept line went to a client that cannot read it"
        old.quit()
        bob = cs.login("bob")
        bob.rooms(history=True)
        assert bob.wait(lambda: bob.privates), "the kept line never came"
        (number, name, text), = bob.privates
        assert (name, text.decode()) == (b"alice", "晚上聚餐？")
        assert number in bob.stored and bob.stored[number] > 0
        bob.quit()
        bob2 = cs.login("bob")
        bob2.rooms(history=True)
        bob2.wait_rooms(ROOM_MINE)
        alice.say("barrier")
        bob2.wait_event(EV_SAY, "alice", "barrier")
        assert bob2.privates == [], "delivered twice"
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []


def test_search_finds_chinese_in_my_rooms_only(tmp_path):
    """SEARCH: every word, Chinese with no dictionary (three characters or
    more through the trigram index, shorter words too), newest first, only
    in the rooms the asker is in."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice, bob = cs.login("alice"), cs.login("bob")
        alice.rooms()
        alice.wait_rooms(ROOM_MINE)
        dev = alice.join("#dev")[0]
        alice.say_in(dev, "代码评审在周五")
        alice.say("明天去吃饭")
        alice.say("代码评审改到下周")
        lines, n, flags = alice.history(0, words="代码评审")
        assert [(r, t.decode()) for r, _, _, _, _, t in lines] == \
            [(LOBBY, "代码评审改到下周"), (dev, "代码评审在周五")], lines
        lines, n, _ = alice.history(0, words="饭")  # one character: no trigram
        assert [t.decode() for *_, t in lines] == ["明天去吃饭"]
        lines, n, _ = bob.history(0, words="代码评审")
        assert [t.decode() for *_, t in lines] == ["代码评审改到下周"], "bob is not in #dev"
        lines, n, _ = alice.history(0, words="代码 下周")
        assert [t.decode() for *_, t in lines] == ["代码评审改到下周"]
        # Nine words, or only blanks: malformed (NOTICE 7), an empty answer, the store fine.
        for bad in (" ".join("w%d" % i for i in range(9)), "   "):
            k = len(alice.notices)
            lines, n, flags = alice.history(0, words=bad)
            assert (lines, n, flags) == ([], 0, 0), (bad, lines, n, flags)
            assert alice.wait(lambda: len(alice.notices) > k)
            assert alice.notices[k].code == 7
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []


def test_retention_keeps_the_newest_lines_of_each_room(tmp_path):
    """--history-max N: a room keeps its newest N lines; the rest go in
    batches from the tick (the first right after start); the room's order
    and its newest lines are untouched."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store, "--history-max", "0")
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice = cs.login("alice")
        for i in range(12):
            alice.say("line %d" % i)
        assert wait_until(lambda: len(history(fg)) >= 13), history(fg)
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []
    before = history_all(store)
    fg = start(tmp_path, 2, store, "--history-max", "5")
    try:
        assert wait_until(lambda: len(history_all(store)) == 5), history_all(store)
        assert history_all(store) == before[-5:]
    finally:
        assert fg.cleanup() == []


def test_export_and_purge(tmp_path):
    """qunctl export #room > file.jsonl gives every line (more than history's
    200), one JSON object each; purge NAME forgets what a member said, purge
    #room a room's lines."""
    store = tmp_path / "qund.db"
    fg = start(tmp_path, 1, store)
    cs = ClientSet(("127.0.0.1", fg.port))
    try:
        alice, bob = cs.login("alice"), cs.login("bob")
        for i in range(150):
            alice.say("a%d" % i)
            bob.say("b%d" % i)
        assert wait_until(lambda: len(history_all(store)) >= 302)
        r = fg.ctl("export", "#大厅")
        assert r.rc == 0, r
        rows = [json.loads(x) for x in r.out.splitlines()]
        assert [(x["id"], x["name"], x["text"]) for x in rows] == \
            [(i, n, t) for i, _, n, t in history_all(store)]
        assert rows[0]["room"] == "#大厅" and rows[-1]["kind"] == "say"
        r = fg.ctl("--json", "purge", "alice")
        assert r.rc == 0 and r.json()["deleted"] >= 150, r
        assert not any(n == "alice" for _, _, n, _ in history_all(store))
        assert any(n == "bob" for _, _, n, _ in history_all(store))
        assert fg.ctl("purge", "#大厅").rc == 0
        assert history_all(store) == []
        assert fg.ctl("purge", "管理员").rc == 1  # no member can have that name
        assert fg.ctl("purge", "al ice").rc == 2
        assert fg.ctl("export", "nohash").rc == 2
    finally:
        assert cs.close_all() == []
        assert fg.cleanup() == []
