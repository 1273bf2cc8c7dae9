# test_rooms.py - black-box tests of rooms and private messages on qund (docs/ROOMS.md), on the wire.
"""Rooms and private messages as the server carries them out, with clients
that speak the protocol by hand (v2client.py): who gets which line, marked
with which room; private lines reach one member; parts, leaves, kicks and
closes tell exactly the rooms concerned; limits refuse with the codes
ROOMS.md gives; an older v2 client and a v1 client stay in the default room
and never see another room's line.  The operator's side (console and
qunctl, text and JSON) against the same server.  Every wait has a deadline;
"nobody else sees it" is proved with a barrier line sent after it."""

import pytest

from daemon_helpers import Foreground, Peer, wait_until
from v2client import (EV_ADMIN, EV_JOIN, EV_KICK, EV_LEAVE, EV_SAY, F_ROOMS, LOBBY, ROOM_ALL,
                      ROOM_MINE, ROOM_PARTED, ClientSet)

FAST = ["--flood-burst", "100000", "--flood-rate", "100000", "--max-per-address", "100"]

# NOTICE codes (enum qerr, docs/ROOMS.md).
E_FLOOD, E_NO_SUCH_ROOM, E_ROOM_LIMIT, E_TOO_MANY_ROOMS, E_ROOM_NAME = 8, 13, 14, 15, 16
E_NOT_ONLINE, E_NO_PRIVATE, E_NOT_IN_ROOM, E_ROOM_CLOSED, E_LOBBY_STAYS = 17, 18, 19, 20, 21


@pytest.fixture
def net(tmp_path):
    """A foreground qund (--legacy, a control socket) and a set of v2 clients for it."""
    made = []

    def make(*args, lang="zh"):
        fg = Foreground(tmp_path, args=FAST + list(args), lang=lang)
        made.append(fg)
        cs = ClientSet(("127.0.0.1", fg.port))
        made.append(cs)
        return fg, cs
    yield make
    errors = []
    for m in made:
        if isinstance(m, ClientSet):
            errors += m.close_all()
        else:
            errors += m.cleanup()
    assert not errors, errors


def aware(cs, name):
    """A client logged in as name that has declared rooms (ROOMS) and seen its answer."""
    c = cs.login(name)
    assert c.welcome.features & F_ROOMS, "WELCOME without the rooms feature: %r" % c.welcome
    c.rooms()
    mine = c.wait_rooms(ROOM_MINE)
    assert [r[0] for r in mine] == [LOBBY], mine
    return c


def lines(c, room=None, start=0):
    """(room, event, name, text) of c's events, as str, from start on."""
    return [(e.room, e.event, e.name.decode(), e.text.decode()) for e in c.events[start:]
            if room is None or e.room == room]


def barrier(sender, observers, text):
    """sender says text in the default room; each observer has it (so all before it, too)."""
    sender.say(text)
    for o in observers:
        o.wait_event(EV_SAY, sender.name, text, room=LOBBY)


def test_three_members_two_rooms_one_private(net):
    """How we will check (issue 20): alice and bob in #dev (joined as #Dev and
    #dev: one room), carol in #技术部 with alice; each line reaches exactly
    the members of its room, marked with it; a private line reaches only its
    addressee, with the sender's name; the default room reaches everyone."""
    fg, cs = net()
    alice, bob, carol = aware(cs, "alice"), aware(cs, "bob"), aware(cs, "carol")
    dev, members, name = alice.join("#Dev")
    assert (members, name) == (1, "#Dev")
    assert bob.join("#dev")[:2] == (dev, 2), "#dev and #Dev are not one room"
    alice.wait_event(EV_JOIN, "bob", room=dev)
    tech = carol.join("#技术部")[0]
    alice.join("#技术部")
    carol.wait_event(EV_JOIN, "alice", room=tech)
    assert len({LOBBY, dev, tech}) == 3

    marks = {c.label: len(c.events) for c in (alice, bob, carol)}
    alice.say_in(dev, "代码评审")
    carol.say_in(tech, "部门会议")
    bob.tell("carol", "悄悄话")
    alice.say("大家好")
    barrier(alice, [bob, carol], "barrier")
    alice.wait_event(EV_SAY, "carol", "部门会议", room=tech)  # carol's line is out, too
    assert carol.wait(lambda: carol.privates), "carol got no private line"
    assert [(n.decode(), t.decode()) for _, n, t in carol.privates] == [("bob", "悄悄话")]
    assert alice.privates == [] and bob.privates == []
    assert (dev, EV_SAY, "alice", "代码评审") in lines(bob, start=marks["bob"])
    assert (LOBBY, EV_SAY, "alice", "大家好") in lines(bob, start=marks["bob"])
    assert [l for l in lines(bob, start=marks["bob"]) if l[0] == tech] == []
    got = lines(carol, start=marks["carol"])
    assert [l for l in got if l[0] == dev] == [], "carol saw #dev: %r" % got
    assert (LOBBY, EV_SAY, "alice", "大家好") in got
    assert (tech, EV_SAY, "carol", "部门会议") in lines(alice, start=marks["alice"])
    assert [l for l in lines(alice, start=marks["alice"]) if l[3] in ("代码评审", "悄悄话")] == []


def test_a_list_of_my_rooms_never_waits_for_a_who(net):
    """A WHO's answer in flight holds up the next WHO and ROOMS ALL, not a
    member's own rooms: the declaration that starts every session, sent
    right after a WHO, is answered."""
    fg, cs = net()
    alice = cs.login("alice")
    alice.who()
    alice.rooms()
    assert [r[0] for r in alice.wait_rooms(ROOM_MINE)] == [LOBBY]
    alice.wait_who()
    assert not [x for x in alice.notices if x.code == E_FLOOD], alice.notices


def test_room_events_have_one_order_per_room(net):
    """Each room numbers its own events from 1 up, one order for all its
    members (what history will page by), independent of the default room."""
    fg, cs = net()
    alice, bob = aware(cs, "alice"), aware(cs, "bob")
    dev = alice.join("#dev")[0]
    bob.join("#dev")
    for i in range(5):
        alice.say_in(dev, "line %d" % i)
        alice.say("lobby %d" % i)
    bob.wait_event(EV_SAY, "alice", "line 4", room=dev)
    ids = [e.id for e in bob.events if e.room == dev]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    assert ids == list(range(ids[0], ids[0] + len(ids))), "gaps in #dev's order: %r" % ids
    alice.wait_event(EV_JOIN, "bob", room=dev)
    mine = [e.id for e in alice.events if e.room == dev]
    assert mine[0] == 2, "alice's join was #dev's event 1, bob's is 2: %r" % mine


def test_part_leave_and_quit_tell_exactly_the_rooms(net):
    """PART: the room hears LEAVE, the parter gets ROOM PARTED and may not
    speak there; quitting the server is LEAVE in every room the member was
    in; the default room cannot be parted; the room closes with its last
    member and its id is never given again."""
    fg, cs = net()
    alice, bob, carol = aware(cs, "alice"), aware(cs, "bob"), aware(cs, "carol")
    dev = alice.join("#dev")[0]
    bob.join("#dev")
    ops = carol.join("#ops")[0]
    bob.join("#ops")
    mark = len(bob.room_answers)
    bob.part(dev)
    assert bob.wait_rooms(ROOM_PARTED, start=mark)[0][0] == dev
    alice.wait_event(EV_LEAVE, "bob", room=dev)
    n = len(bob.notices)
    bob.say_in(dev, "still here?")
    assert bob.wait(lambda: len(bob.notices) > n)
    assert bob.notices[n].code == E_NOT_IN_ROOM
    bob.part(LOBBY)
    assert bob.wait(lambda: len(bob.notices) > n + 1)
    assert bob.notices[n + 1].code == E_LOBBY_STAYS
    bob.quit()
    carol.wait_event(EV_LEAVE, "bob", room=ops)
    carol.wait_event(EV_LEAVE, "bob", room=LOBBY)
    barrier(carol, [alice], "after bob")
    assert [l for l in lines(alice) if l[0] == ops] == [], "alice was never in #ops"
    assert len([l for l in lines(alice) if l[1] == EV_LEAVE and l[2] == "bob"]) == 2
    # The last member parts: the room is gone; made again it is a new room.
    carol.part(ops)
    carol.wait_rooms(ROOM_PARTED)
    again = carol.join("#ops")[0]
    assert again not in (LOBBY, dev, ops), "room id %d given again" % again


def test_limits_and_bad_names_are_refused_with_reasons(net):
    """Rooms per member (the default room counts), rooms in all, the name
    rules: each refusal is a NOTICE with its code, and changes nothing."""
    fg, cs = net("--max-rooms-per-member", "3", "--max-rooms", "4")
    alice, bob = aware(cs, "alice"), aware(cs, "bob")
    alice.join("#a")
    alice.join("#b")
    n = len(alice.notices)
    alice.send_payload(__import__("v2client").join_payload("#c"))
    assert alice.wait(lambda: len(alice.notices) > n)
    assert alice.notices[n].code == E_ROOM_LIMIT
    bob.join("#c")  # the lobby and #a #b #c: four rooms
    n = len(bob.notices)
    for bad in ("#d", "dev", "#" + "x" * 33, "#a b", "#管理员"):
        bob.send_payload(__import__("v2client").join_payload(bad))
    assert bob.wait(lambda: len(bob.notices) >= n + 5), bob.notices
    codes = [x.code for x in bob.notices[n:n + 5]]
    assert codes == [E_TOO_MANY_ROOMS] + [E_ROOM_NAME] * 4, codes
    bob.rooms(all_rooms=True)
    every = bob.wait_rooms(ROOM_ALL)
    assert sorted(r[2] for r in every) == sorted(["#大厅", "#a", "#b", "#c"]), every
    assert dict((r[2], r[1]) for r in every)["#a"] == 1


def test_room_capacity_and_name_length_are_settings(net):
    """--max-room-members caps a room below the server's capacity (NOTICE 4,
    room full) and --max-room-name a new room's name (NOTICE 16); a room
    that exists is still found by a name of any length."""
    from v2client import join_payload
    fg, cs = net("--max-room-members", "2", "--max-room-name", "4")
    alice, bob, carol = aware(cs, "alice"), aware(cs, "bob"), aware(cs, "carol")
    alice.join("#dev")
    bob.join("#dev")
    n = len(carol.notices)
    carol.send_payload(join_payload("#dev"))
    carol.send_payload(join_payload("#devs!"))
    assert carol.wait(lambda: len(carol.notices) >= n + 2)
    assert [(x.code, x.detail) for x in carol.notices[n:n + 2]] == [(4, 0), (E_ROOM_NAME, 2)]
    assert carol.notices[n + 1].text == "聊天室名太长"
    assert carol.join("#devz")[2] == "#devz"
    r = fg.ctl("room", "create", "#long-name")
    assert r.rc == 1 and "聊天室名太长" in r.out + r.err, r


def test_private_to_nobody_or_to_an_old_client_is_refused(net):
    """A private message to a name nobody online has is refused (17); to an
    older client, which cannot show one, refused (18), and the older client
    gets nothing; a v1 member is the same."""
    fg, cs = net()
    alice = aware(cs, "alice")
    old = cs.login("old")
    n = len(alice.notices)
    alice.tell("nobody", "hello?")
    alice.tell("old", "hello?")
    assert alice.wait(lambda: len(alice.notices) >= n + 2)
    assert [x.code for x in alice.notices[n:n + 2]] == [E_NOT_ONLINE, E_NO_PRIVATE]
    barrier(alice, [old], "barrier")
    assert old.privates == [] and [e.text for e in old.events if e.text == b"hello?"] == []


def test_older_clients_stay_in_the_default_room(net):
    """An undeclared v2 client gets the default room's events as EVENT and
    nothing of another room; a v1 (lesson) client sees exactly the lesson's
    texts for the default room and nothing else."""
    fg, cs = net()
    alice, bob = aware(cs, "alice"), aware(cs, "bob")
    old = cs.login("old")
    v1 = Peer(fg.port)
    try:
        v1.login("lesson")
        alice.wait_event(EV_JOIN, "lesson", room=LOBBY)
        dev = alice.join("#dev")[0]
        bob.join("#dev")
        bob.tell("lesson", "psst")
        alice.say_in(dev, "room only")
        alice.say("everyone")
        old.wait_event(EV_SAY, "alice", "everyone")
        before = v1.wait_for("alice 说：everyone")
        assert all(e.room == LOBBY for e in old.events)
        assert [e for e in old.events if e.text == b"room only"] == []
        assert not any("room only" in t or "#dev" in t or "psst" in t for t in before), before
        assert bob.wait(lambda: any(x.code == E_NO_PRIVATE for x in bob.notices))
    finally:
        v1.sock.close()


def test_operator_rooms_text_json_and_console(net):
    """qunctl rooms / who #room / say #room / kick NAME #room / room
    create|close, in text and --json, and the console's /say #room."""
    fg, cs = net()
    alice, bob = aware(cs, "alice"), aware(cs, "bob")
    dev = alice.join("#dev")[0]
    bob.join("#dev")
    alice.wait_event(EV_JOIN, "bob", room=dev)

    r = fg.ctl("--json", "rooms")
    assert r.rc == 0, r
    rooms = {x["name"]: x for x in r.json()["rooms"]}
    assert rooms["#dev"]["members"] == 2 and rooms["#大厅"]["default"] is True
    assert rooms["#大厅"]["members"] == 2
    r = fg.ctl("who", "#dev")
    assert r.rc == 0 and r.out.splitlines()[0] == "#dev 有 2 人：", r
    assert sorted(l.split()[0] for l in r.out.splitlines()[1:]) == ["alice", "bob"]
    assert fg.ctl("who", "#nope").rc == 1

    r = fg.ctl("--json", "say", "#dev", "只给开发")
    assert r.rc == 0 and r.json()["recipients"] == 2, r
    bob.wait_event(EV_ADMIN, text="只给开发", room=dev)
    fg.console("/say #dev 控制台")
    alice.wait_event(EV_ADMIN, text="控制台", room=dev)
    fg.console("#dev 不是命令")  # plain speech is the default room's, whatever it starts with
    alice.wait_event(EV_ADMIN, text="#dev 不是命令", room=LOBBY)

    mark = len(bob.room_answers)
    r = fg.ctl("--json", "kick", "bob", "#dev", "跑题")
    assert r.rc == 0 and r.json() == {"ok": True, "kicked": "bob", "room": "#dev"}, r
    bob.wait_event(EV_KICK, "bob", "跑题", room=dev)
    alice.wait_event(EV_KICK, "bob", "跑题", room=dev)
    assert bob.wait_rooms(ROOM_PARTED, start=mark)[0][0] == dev
    assert bob.closed is None, "a kick from a room ended bob's session"
    assert fg.ctl("kick", "bob", "#dev").rc == 1, "bob is no longer in #dev"

    r = fg.ctl("room", "create", "#公告")
    assert r.rc == 0 and "#公告" in r.out, r
    r = fg.ctl("--json", "rooms")
    assert {x["name"]: x["permanent"] for x in r.json()["rooms"]}["#公告"] is True
    n = len(alice.notices)
    r = fg.ctl("--json", "room", "close", "#dev")
    assert r.rc == 0 and r.json() == {"ok": True, "closed": "#dev", "parted": 1}, r
    assert alice.wait(lambda: len(alice.notices) > n)
    assert alice.notices[n].code == E_ROOM_CLOSED
    alice.wait_rooms(ROOM_PARTED)
    assert "#dev" not in [x["name"] for x in fg.ctl("--json", "rooms").json()["rooms"]]
    assert fg.ctl("room", "close", "#大厅").rc == 1, "the default room was closed"
    assert fg.ctl("room", "create", "nohash").rc == 1
    # Kicking a room's last member closes the room, and the reply still names it.
    alice.join("#tmp")
    r = fg.ctl("kick", "alice", "#tmp")
    assert r.rc == 0 and r.out.strip() == "已把 alice 请出 #tmp", r
    assert "#tmp" not in fg.ctl("rooms").out
    alice.join("#tmp")
    r = fg.ctl("--json", "kick", "alice", "#tmp")
    assert r.rc == 0 and r.json()["room"] == "#tmp", r
    # The permanent room stays while empty; closing it makes it go.
    assert fg.ctl("room", "close", "#公告").rc == 0
    assert "#公告" not in fg.ctl("rooms").out


def test_flood_control_counts_every_room(net):
    """One bucket per member, whatever the room: a burst spread over a room
    and private lines is cut like one in a single room.  Joining and
    parting have a bucket of their own (a new session rejoins every room at
    once), and declaring rooms is free: neither spends chat's."""
    fg, cs = net("--flood-burst", "10", "--flood-rate", "1")
    alice, bob = aware(cs, "alice"), aware(cs, "bob")
    dev = alice.join("#dev")[0]
    bob.join("#dev")
    n = len(alice.notices)
    for i in range(10):
        alice.say_in(dev, "r%d" % i)
        alice.tell("bob", "p%d" % i)

    def heard():
        return len([e for e in bob.events if e.room == dev and e.event == EV_SAY]) + \
            len(bob.privates)

    def refused():
        return len([x for x in alice.notices[n:] if x.code == E_FLOOD])
    # Each of the twenty is either relayed to bob or refused to alice: wait for all twenty.
    assert wait_until(lambda: heard() + refused() == 20), (heard(), refused())
    # Ten tokens, and one a second since: far fewer than the twenty sent.
    assert 10 <= heard() <= 10 + 5, (heard(), refused())


def test_joins_and_parts_have_their_own_bucket(net):
    """A session joins as many rooms at once as a member may be in (what a
    reconnecting client does), more than chat's burst; past that,
    joins and parts are refused as flooding (each is an event for a whole
    room), one a second coming back."""
    fg, cs = net("--flood-burst", "3", "--flood-rate", "1", "--max-rooms-per-member", "6")
    alice = aware(cs, "alice")
    for i in range(5):
        alice.join("#r%d" % i)  # each waits for its ROOM JOINED: none refused
    n = len(alice.notices)  # in order: a refusal of those joins would be here by now
    alice.part(alice.join("#r0")[0])  # already in: free; the part takes the sixth token
    for i in range(4):
        alice.send_payload(__import__("v2client").join_payload("#x%d" % i))
    assert alice.wait(lambda: any(x.code == E_FLOOD for x in alice.notices[n:]))
    assert not [x for x in alice.notices[:n] if x.code == E_FLOOD], alice.notices[:n]
