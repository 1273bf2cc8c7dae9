# test_extensions.py - qund's v1 extensions for /who and /me (W and A), over UDP by hand.
"""The requests of docs/PROTOCOL.md, "Extensions", tried on a real qund with
plain UDP sockets: who may ask, what comes back, and that nothing of it
reaches anyone else."""

import re

from tui_helpers import Member, session  # noqa: F401 (fixture)

WHO = re.compile(r"^WHO (\d+)/(\d+) (\d+)((?: \S+)*)$")


def who(member, name=None):
    """Ask W; return (parts, total, names) once every part came."""
    member.send("W " + (name or member.name))
    got, parts, total = {}, None, None
    while parts is None or len(got) < parts:
        data = member.recv()
        assert data is not None, "WHO parts missing: %r of %r" % (sorted(got), parts)
        assert len(data) <= 1200, len(data)
        m = WHO.match(data.decode())
        assert m, data[:80]
        part, parts, total = int(m.group(1)), int(m.group(2)), int(m.group(3))
        got[part] = m.group(4).split()
    names = [n for p in sorted(got) for n in got[p]]
    return parts, total, names


def test_who_lists_the_room(session):
    srv = session.server()
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
    srv = session.server()
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
    srv = session.server()
    alice = session.member(srv, "alice")
    others = ["m%02d" % i + "x" * 28 for i in range(60)]  # 31-byte names
    for n in others:
        session.member(srv, n)
    for n in others:
        alice.wait_for("%s 进入了聊天室" % n)
    parts, total, names = who(alice)
    assert parts >= 2 and total == 61
    assert sorted(names) == sorted(others + ["alice"])


def test_action_relayed(session):
    """A is checked like C and relayed as "* NAME TEXT" to everyone else."""
    srv = session.server("en")
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
    srv = session.server("en")
    m = Member(srv.port)
    session.items.append(m)
    m.send("L *" + " " * 40)
    m.expect("name is reserved")
    m.send("L ＊" + " " * 40)
    m.expect("name is reserved")
