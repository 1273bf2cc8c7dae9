# test_extensions.py - qund's /who and /me: v1's W and A over UDP by hand, v2's WHO, MEMBERS, ME.
"""The requests of docs/PROTOCOL.md, "Extensions" (v1, on a --legacy qund,
with plain UDP sockets) and their v2 counterparts of docs/PROTOCOL-v2.md
(through v2client.py, written from the spec): who may ask, what comes back,
and that nothing of it reaches anyone else."""

import re

import v2client
from tui_helpers import WAIT, Member, session, wait_until  # noqa: F401 (fixture)

FLOOD_EN = "you are sending too fast; slow down"
WHO = re.compile(r"^WHO (\d+)/(\d+) (\d+)((?: \S+)*)$")


def padded_w(name, part):
    """W asking for one part, padded to a full datagram, as qun sends it."""
    return ("W %s %d" % (name, part)).encode().ljust(1200, b" ")


def who(member, name=None):
    """Ask W part by part, padded; return (parts, total, names) once every part came."""
    got, parts, total = {}, None, None
    while parts is None or len(got) < parts:
        want = min(set(range(1, (parts or 1) + 1)) - set(got))
        member.send(padded_w(name or member.name, want))
        data = member.recv()
        assert data is not None, "WHO parts missing: %r of %r" % (sorted(got), parts)
        assert len(data) <= 1200, len(data)
        m = WHO.match(data.decode())
        assert m, data[:80]
        part, parts, total = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert part == want
        got[part] = m.group(4).split()
    names = [n for p in sorted(got) for n in got[p]]
    return parts, total, names


def replies(member, quiet=0.5):
    """Every datagram that comes until quiet seconds pass without one."""
    out = []
    while True:
        data = member.recv(quiet)
        if data is None:
            return out
        out.append(data)


def long_named_room(session, srv, asker, n=60):
    """Fill the room with n members of 31-byte names; return the names."""
    others = ["m%02d" % i + "x" * 28 for i in range(n)]
    for name in others:
        session.member(srv, name)
    for name in others:
        asker.wait_for("%s 进入了聊天室" % name)
    return others


def test_who_lists_the_room(session):
    srv = session.server(legacy=True)
    alice = session.member(srv, "alice")
    bob = session.member(srv, "bob")
    ming = session.member(srv, "小明")
    alice.wait_for("小明 进入了聊天室")
    bob.expect("小明 进入了聊天室")
    parts, total, names = who(alice)
    assert (parts, total, sorted(names)) == (1, 3, sorted(["alice", "bob", "小明"]))
    bob.silent()
    ming.silent()


def test_who_only_from_the_owner(session):
    """W from a stranger, or naming someone else, is dropped without a reply."""
    srv = session.server(legacy=True)
    alice = session.member(srv, "alice")
    session.member(srv, "bob")
    stranger = Member(srv.port)
    session.items.append(stranger)
    stranger.send("W alice")
    alice.send("W bob")
    stranger.silent()
    alice.wait_for("bob 进入了聊天室")
    alice.silent()
    assert who(alice)[1] == 2  # the positive control: the owner is answered


def test_who_many_parts(session):
    """A room whose names do not fit one datagram answers in several, each
    at most 1200 bytes, together naming everyone once."""
    srv = session.server(legacy=True)
    alice = session.member(srv, "alice")
    others = long_named_room(session, srv, alice)
    parts, total, names = who(alice)
    assert parts >= 2 and total == 61
    assert sorted(names) == sorted(others + ["alice"])


def test_who_is_no_amplifier(session):
    """v1 addresses are spoofable, so the answer to one W is never more
    than three times its bytes (THREATS.md S3): a short W into a room of
    long names gets one datagram, part 1 cut short, and nothing more; a W
    padded to 400 bytes gets its whole part; a refusal to a short W is ERR."""
    srv = session.server("en", legacy=True, args=("--flood-burst", "4", "--flood-rate", "1"))
    alice = session.member(srv, "alice")
    for name in ["m%02d" % i + "x" * 28 for i in range(60)]:  # 31-byte names: 2 parts
        session.member(srv, name)
        alice.wait_for("%s joined the room" % name)
    for req in (b"W alice", b"W alice 2", b"W alice\n", b"W alice 1" + b" " * 30):
        alice.send(req)
        got = replies(alice)
        assert len(got) == 1, (req, got)
        assert len(got[0]) <= 3 * len(req), (req, len(got[0]))
        assert WHO.match(got[0].decode()), got[0][:80]
    alice.send(b"W alice 2".ljust(400, b" "))
    got = replies(alice)
    assert len(got) == 1 and 400 < len(got[0]) <= 1200 and got[0].startswith(b"WHO 2/2 61 ")
    # Past the flood burst: ERR to a short W, the reason to a padded one.
    for _ in range(4):
        alice.send(b"W alice")
    alice.send(b"W alice".ljust(400, b" "))
    got = replies(alice)
    assert got[-2:] == [b"ERR", FLOOD_EN.encode()], got
    assert all(len(d) <= 21 for d in got[:-1]), got


def test_action_relayed(session):
    """A is checked like C and relayed as "* NAME TEXT" to everyone else."""
    srv = session.server("en", legacy=True)
    alice = session.member(srv, "alice")
    bob = session.member(srv, "bob")
    alice.expect("bob joined the room")
    alice.send("A alice waves 挥手")
    bob.expect("* alice waves 挥手")
    alice.send("A alice bad\x1b[2Jtext")
    alice.expect("message must not contain control characters")
    alice.send("A bob pretends")  # another's name from alice's address: dropped
    alice.send("A alice again")
    bob.expect("* alice again")  # the next one: nothing came from the forgery


def test_asterisk_is_reserved(session):
    srv = session.server("en", legacy=True)
    m = Member(srv.port)
    session.items.append(m)
    m.send("L *" + " " * 40)
    m.expect("name is reserved")
    m.send("L ＊" + " " * 40)
    m.expect("name is reserved")


def test_who_costs_a_flood_token(session):
    """W costs a flood token: past the burst, the asker gets a refusal, not a list."""
    srv = session.server("en", legacy=True, args=("--flood-burst", "2", "--flood-rate", "1"))
    alice = session.member(srv, "alice")
    assert who(alice)[1] == 1
    assert who(alice)[1] == 1
    alice.send(padded_w("alice", 1))
    alice.expect(FLOOD_EN)


# ---------------------------------------------------------------------------
# v2: WHO / MEMBERS and ME.

def v2(session, srv, name):
    c = v2client.V2Client(("127.0.0.1", srv.port), label=name)
    session.items.append(c)
    c.login(name, timeout=WAIT)
    return c


def test_v2_who_lists_the_room(session):
    srv = session.server()
    alice, bob = v2(session, srv, "alice"), v2(session, srv, "bob")
    ming = v2(session, srv, "小明")
    alice.wait_event(v2client.EV_JOIN, "小明")
    alice.who()
    total, names = alice.wait_who()
    assert (total, sorted(names)) == (3, sorted(["alice", "bob", "小明"]))
    # Nobody else got a list.
    assert not bob.wait(lambda: bob.whos, 0.3) and not ming.whos
    assert not alice.errors and not bob.errors


def test_v2_who_many_pieces(session):
    """A room whose names do not fit one DATA answers in several MEMBERS,
    MORE on all but the last, each datagram at most 1200 bytes."""
    srv = session.server()
    others = ["m%02d" % i + "x" * 28 for i in range(60)]  # 31-byte names
    clients = [v2(session, srv, n) for n in others]
    alice = v2(session, srv, "alice")
    alice.who()
    total, names = alice.wait_who()
    assert total == 61 and sorted(names) == sorted(others + ["alice"])
    pieces = [p for _, d in alice.parsed_in if d.type == v2client.DATA
              for p in [d.payload] if p[0] == v2client.MEMBERS]
    assert len(pieces) >= 2
    assert alice.max_in() <= 1200
    assert not alice.errors and not any(c.errors for c in clients)


def test_v2_me_relayed_as_action(session):
    """ME is checked like SAY and relayed as the ACTION event, to everyone
    else in v2 and as "* NAME TEXT" to v1 members."""
    srv = session.server("en", legacy=True)
    alice, bob = v2(session, srv, "alice"), v2(session, srv, "bob")
    carol = session.member(srv, "carol")  # v1, by hand
    alice.me("waves 挥手")
    e = bob.wait_event(v2client.EV_ACTION, "alice")
    assert e.text == "waves 挥手".encode()
    carol.wait_for("* alice waves 挥手")
    carol.send("A carol bows")
    bob.wait_event(v2client.EV_ACTION, "carol", "bows")
    alice.me("bad\x1b[2Jtext")
    n = alice.wait_notice(v2client.E_TEXT_INVALID)
    assert "control" in n.text
    assert not any(e.event == v2client.EV_ACTION and b"bad" in e.text for e in bob.events)
    assert not any(ev.event == v2client.EV_ACTION and ev.name == b"alice"
                   for ev in alice.events)  # not echoed to the sender
    assert not alice.errors and not bob.errors


def test_v2_long_me_rejoined(session):
    """A long action goes in MORE pieces and arrives whole."""
    srv = session.server()
    alice, bob = v2(session, srv, "alice"), v2(session, srv, "bob")
    text = "动" * 1300  # 3900 bytes: several pieces
    assert alice.me(text) > 1
    e = bob.wait_event(v2client.EV_ACTION, "alice")
    assert e.text.decode() == text


def test_v2_who_costs_a_flood_token(session):
    """WHO past the flood burst is answered with a NOTICE, not a list."""
    srv = session.server(args=("--flood-burst", "2", "--flood-rate", "1"))
    alice = v2(session, srv, "alice")
    for i in range(2):  # each after the last answer: its DATA carries the ack
        alice.who()
        alice.wait_who(start=i)
    alice.who()
    alice.wait_notice(v2client.E_FLOOD)
    assert not alice.wait(lambda: len(alice.whos) > 2, 0.5)


def test_v2_who_one_answer_in_flight(session):
    """A WHO answer's MEMBERS are private to the session and held until
    acknowledged, so a WHO that comes before the last answer is
    acknowledged is refused (NOTICE flooding) and costs no flood token;
    once the client acknowledges, the next WHO is answered."""
    srv = session.server(args=("--flood-burst", "2", "--flood-rate", "1"))
    alice = v2client.V2Client(("127.0.0.1", srv.port), label="alice", auto_ack=False)
    session.items.append(alice)
    alice.login("alice", timeout=WAIT)
    who = v2client.who_payload()
    alice.send_session(v2client.DATA, seq=1, ack=0, bits=0, payload=who)
    assert alice.wait_who()[0] == 1
    for seq in (2, 3, 4):  # still acknowledging nothing
        alice.send_session(v2client.DATA, seq=seq, ack=0, bits=0, payload=who)
    assert alice.wait(lambda: len(alice.notices) == 3)
    assert all(n.code == v2client.E_FLOOD for n in alice.notices), alice.notices
    assert not alice.wait(lambda: len(alice.whos) > 1, 0.5)
    alice.send_session(v2client.ACK)  # acknowledges the MEMBERS and the NOTICEs
    alice.send_session(v2client.DATA, seq=5, payload=who)
    assert alice.wait_who(start=1)[0] == 1  # answered: the refusals took no token
    assert len(alice.notices) == 3 and not alice.errors
