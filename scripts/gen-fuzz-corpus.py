#!/usr/bin/python3
# gen-fuzz-corpus.py - (re)writes the seed inputs fuzz/corpus/HARNESS/seed-* from the cases the tests know and valid v2 traffic.
"""Seed corpus for the fuzz harnesses of fuzz/.

Run from the repository root: python3 scripts/gen-fuzz-corpus.py
It rewrites every fuzz/corpus/*/seed-* file (and leaves the others alone:
inputs found by fuzzing, and regress-* inputs that once crashed a harness).

Where the seeds come from:
- wire1, text: every C string literal in tests/unit/test_wire1.c and
  tests/unit/test_text.c (the unit tests' good and bad cases), and the
  malformed, bad-UTF-8, framing and name-trick cases of
  tests/blackbox/test_security.py (imported, so they stay in step).
- wire2: valid datagrams of every type and every message kind, built here
  from docs/PROTOCOL-v2.md, and for each one the classic malformations
  (cut short, one byte too many, wrong version, unknown type, seq 0, ...).
- rel, client2, server: programs in each harness's input language (see the
  comment at the top of each harness) that log in, chat, send long text in
  pieces, rebind, time out, flood, fill the room, overflow a slow
  recipient's queue, and send every malformed datagram above into a room.
"""

import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]
    with open(os.path.join(d, "seed-" + safe), "wb") as f:
        f.write(data)


def clear_seeds():
    for h in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        for n in os.listdir(os.path.join(CORPUS, h)):
            if n.startswith("seed-"):
                os.unlink(os.path.join(CORPUS, h, n))


# ---------------------------------------------------------------------------
# Cases from the tests.

C_STRING = re.compile(rb'"((?:[^"\\\n]|\\.)*)"')


def c_unescape(b):
    """Decode the escapes of a C string literal body (bytes, as in the source)."""
    out = bytearray()
    i = 0
    simple = {b"n": 10, b"r": 13, b"t": 9, b"\\": 92, b'"': 34, b"'": 39, b"a": 7,
              b"b": 8, b"f": 12, b"v": 11, b"?": 63, b"e": 27}
    while i < len(b):
        c = b[i:i + 1]
        if c != b"\\":
            out += c
            i += 1
            continue
        n = b[i + 1:i + 2]
        if n == b"x":
            m = re.match(rb"[0-9A-Fa-f]+", b[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif n in simple:
            out.append(simple[n])
            i += 2
        elif n.isdigit():
            m = re.match(rb"[0-7]{1,3}", b[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out += n
            i += 2
    return bytes(out)


def c_literals(path):
    with open(path, "rb") as f:
        src = f.read()
    # Drop #include lines and comments' apostrophes do not matter: only "..." counts.
    src = b"\n".join(l for l in src.split(b"\n") if not l.lstrip().startswith(b"#include"))
    return sorted({c_unescape(m.group(1)) for m in C_STRING.finditer(src)})


def security_cases():
    sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))
    import test_security as ts  # noqa: E402  (the cases live there)
    req = [p for _, p in ts.MALFORMED]
    bad = [b for _, b in ts.BAD_UTF8]
    framing = [t.encode() for _, t in ts.FRAMING]
    names = [n.encode() for n, *_ in [(t[1],) for t in ts.NAME_TRICKS]]
    amp = [r for r, _ in ts.AMP_CASES]
    return req, bad, framing, names, amp


# ---------------------------------------------------------------------------
# Protocol v2 (docs/PROTOCOL-v2.md).

HELLO, COOKIE, LOGIN, WELCOME, REFUSE = 1, 2, 3, 4, 5
DATA, ACK, PING, CLOSE, CHALLENGE, REBIND = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
SAY, QUIT, ME, WHO, EVENT, NOTICE, MEMBERS = 0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83


def hdr(t, version=2):
    return bytes((0xFE, version, t))


def v2_datagrams():
    nonce, sid, cookie = b"N" * 8, struct.pack(">Q", 0x1122334455667788), bytes(range(16))
    sess = lambda t, seq=0, ack=0, bits=0, p=b"": hdr(t) + sid + struct.pack(">III", seq, ack, bits) + p
    say = bytes((SAY, 0)) + "你好 hello".encode()
    event = bytes((EVENT,)) + struct.pack(">Q", 7) + bytes((1, 0, 5)) + b"alice" + b"hi"
    return {
        "hello": hdr(HELLO) + nonce,
        "cookie": hdr(COOKIE) + nonce + cookie,
        "login": hdr(LOGIN) + nonce + cookie + bytes((5,)) + b"alice",
        "login-cjk": hdr(LOGIN) + nonce + cookie + bytes((6,)) + "李白".encode(),
        "welcome": hdr(WELCOME) + nonce + sid + struct.pack(">HH", 25, 4000),
        "refuse": hdr(REFUSE) + nonce + bytes((1, 0)) + "名字已被占用".encode(),
        "data-say": sess(DATA, 1, 0, 0, say),
        "data-say-more": sess(DATA, 2, 5, 0b101, bytes((SAY, 1)) + b"x" * 1175),
        "data-quit": sess(DATA, 3, 0, 0, bytes((QUIT,))),
        "data-event": sess(DATA, 1, 0, 0, event),
        "data-notice": sess(DATA, 1, 0, 0, bytes((NOTICE, 8, 0)) + b"flood"),
        "data-me": sess(DATA, 4, 0, 0, bytes((ME, 0)) + "挥手 waves".encode()),
        "data-who": sess(DATA, 5, 0, 0, bytes((WHO,))),
        "data-members": sess(DATA, 2, 0, 0, bytes((MEMBERS,)) + struct.pack(">IB", 3, 0) +
                             b"\x05alice\x03bob\x06" + "李白".encode()),
        "data-event-action": sess(DATA, 3, 0, 0, bytes((EVENT,)) + struct.pack(">Q", 8) +
                                  bytes((7, 0, 3)) + b"bob" + b"waves"),
        "ack": sess(ACK, 0, 9, 0xFFFFFFFF),
        "ping": sess(PING),
        "close": hdr(CLOSE) + sid + bytes((1,)),
        "challenge": hdr(CHALLENGE) + sid + cookie,
        "rebind": hdr(REBIND) + sid + cookie,
    }


def v2_malformed(good):
    out = {}
    for name, d in good.items():
        out[name + "-cut"] = d[:-1]
        out[name + "-extra"] = d + b"\0"
        out[name + "-v1"] = d[:1] + b"\x01" + d[2:]
    out["header-only"] = hdr(DATA)
    out["magic-only"] = b"\xfe"
    out["two-bytes"] = b"\xfe\x02"
    out["unknown-type"] = hdr(0x77) + b"\0" * 20
    out["data-seq0"] = good["data-say"][:11] + b"\0\0\0\0" + good["data-say"][15:]
    out["data-empty"] = good["data-say"][:23]
    out["ack-seq"] = good["ack"][:11] + b"\0\0\0\1" + good["ack"][15:]
    out["login-namelen-long"] = hdr(LOGIN) + b"N" * 8 + bytes(16) + bytes((200,)) + b"abc"
    out["over-1200"] = good["data-say"][:23] + bytes((SAY, 0)) + b"y" * 1200
    return out


def payloads():
    return {
        "say": bytes((SAY, 0)) + b"hello",
        "say-more": bytes((SAY, 1)) + "中".encode() * 10,
        "quit": bytes((QUIT,)),
        "quit-extra": bytes((QUIT, 0)),
        "event-join": bytes((EVENT,)) + struct.pack(">Q", 1) + bytes((0, 0, 3)) + b"bob",
        "event-admin": bytes((EVENT,)) + struct.pack(">Q", 2) + bytes((5, 0, 0)) + b"restart",
        "event-namelen-past-end": bytes((EVENT,)) + struct.pack(">Q", 2) + bytes((1, 0, 50)) + b"x",
        "notice": bytes((NOTICE, 5, 4)) + b"text has control characters",
        "me": bytes((ME, 0)) + "挥手".encode(),
        "me-more": bytes((ME, 1)) + b"x" * 100,
        "who": bytes((WHO,)),
        "who-extra": bytes((WHO, 0)),
        "members": bytes((MEMBERS,)) + struct.pack(">IB", 2, 1) + b"\x05alice\x03bob",
        "members-empty": bytes((MEMBERS,)) + struct.pack(">IB", 0, 0),
        "members-cut": bytes((MEMBERS,)) + struct.pack(">IB", 2, 0) + b"\x05ali",
        "members-zero-len": bytes((MEMBERS,)) + struct.pack(">IB", 1, 0) + b"\x00",
        "event-action": bytes((EVENT,)) + struct.pack(">Q", 3) + bytes((7, 0, 3)) + b"bob" + b"bows",
        "kind-unknown": b"\x55abc",
        # Rooms and private messages (docs/ROOMS.md).
        "join": bytes((0x05, 4)) + b"#dev",
        "join-empty": bytes((0x05, 0)),
        "join-cut": bytes((0x05, 9)) + b"#de",
        "part": bytes((0x06,)) + struct.pack(">I", 2),
        "part-zero": bytes((0x06,)) + struct.pack(">I", 0),
        "rooms-all": bytes((0x07, 1)),
        "rooms-extra": bytes((0x07, 1, 0)),
        "tell": bytes((0x08, 2)) + struct.pack(">I", 7) + bytes((3,)) + b"bob" + "你好".encode(),
        "tell-no-name": bytes((0x08, 0, 0)) + b"hi",
        "say-in-room": bytes((SAY, 6)) + struct.pack(">II", 1, 2) + b"hi",
        "say-room-zero": bytes((SAY, 4)) + struct.pack(">I", 0) + b"hi",
        "who-room": bytes((WHO,)) + struct.pack(">I", 3),
        "revent": bytes((0x84,)) + struct.pack(">IQ", 2, 5) + bytes((1, 0, 3)) + b"bob" + b"hi",
        "revent-room-zero": bytes((0x84,)) + struct.pack(">IQ", 0, 5) + bytes((1, 0, 0)),
        "room-list": bytes((0x85, 1, 1)) + struct.pack(">IIB", 1, 3, 7) + "#大厅".encode() +
        struct.pack(">IIB", 2, 1, 4) + b"#dev",
        "room-joined-two": bytes((0x85, 0, 2)) + struct.pack(">IIB", 1, 3, 2) + b"#a" +
        struct.pack(">IIB", 2, 1, 2) + b"#b",
        "room-what-bad": bytes((0x85, 0, 9)),
        "room-cut": bytes((0x85, 0, 0)) + struct.pack(">II", 1, 3),
        "private": bytes((0x86,)) + struct.pack(">QBB", 1, 0, 5) + b"alice" + "悄悄话".encode(),
        "private-more": bytes((0x86,)) + struct.pack(">QBB", 2, 1, 1) + b"a" + b"x" * 200,
        # History and kept private lines (docs/HISTORY.md).
        "history-latest": bytes((0x09,)) + struct.pack(">IBQH", 1, 0, 0, 50),
        "history-before": bytes((0x09,)) + struct.pack(">IBQH", 2, 1, 1000, 200),
        "history-too-many": bytes((0x09,)) + struct.pack(">IBQH", 2, 2, 5, 201),
        "hline": bytes((0x87,)) + struct.pack(">IQQBBB", 1, 7, 1765000000000, 1, 0, 3) +
        b"bob" + "历史".encode(),
        "hend": bytes((0x88,)) + struct.pack(">IHB", 1, 3, 1),
        "hend-extra": bytes((0x88,)) + struct.pack(">IHBB", 1, 3, 1, 0),
        "private-stored": bytes((0x86,)) + struct.pack(">QBQB", 3, 2, 1765000000000, 5) +
        b"alice" + b"kept",
        "rooms-history": bytes((0x07, 2)),
        "search": bytes((0x0A,)) + struct.pack(">H", 20) + "代码 评审".encode(),
        "search-empty": bytes((0x0A,)) + struct.pack(">H", 20),
        "empty-say": bytes((SAY,)),
    }


# ---------------------------------------------------------------------------
# Programs for the stateful harnesses.  Each helper returns the bytes of one step.

class Server:
    """fuzz/fuzz_server.c's input language."""
    NAMES = ["alice", "Alice", "ＡＬＩＣＥ", "bob", "carol", "dave", "eve", "mallory", "管理员",
             "admin", "ADMIN", "al ice", "", "a\x1b[31m", "中文", "x" * 32, "x" * 33, None,
             "a\u202eb", "zoë"]

    @staticmethod
    def name(n):
        if isinstance(n, str) and n in Server.NAMES:
            return bytes((Server.NAMES.index(n),))
        b = n.encode() if isinstance(n, str) else n
        return bytes((200, len(b))) + b

    @staticmethod
    def op(code, who=0, flush=True):
        return bytes((code, who | (0 if flush else 0x80)))

    @classmethod
    def raw(cls, who, data, flush=True, oversize=0):
        if oversize:
            # Claimed length (L & 0x7fff) + 1201, of which L % 1201 bytes are in the buffer.
            L = 0x8000 | min(oversize, 0x7FFF)
            have = L % 1201
            return cls.op(0, who, flush) + struct.pack(">H", L) + data[:have].ljust(have, b"x")
        return cls.op(0, who, flush) + struct.pack(">H", len(data)) + data

    @classmethod
    def v1(cls, who, cmd, name, text=None, ending=0):
        how = "LCQP".index(cmd) | ending
        out = cls.op(1, who) + cls.name(name) + bytes((how,))
        if cmd == "C":
            t = text.encode() if isinstance(text, str) else text
            out += struct.pack(">H", len(t)) + t
        return out

    @classmethod
    def login(cls, who, name, nonce=0, cookie="valid", hello=True):
        mode = {"valid": 0, "echo": 2, "forged": 3}[cookie]
        out = cls.op(3, who) + bytes(((1 if hello else 0) | mode << 1, nonce)) + cls.name(name)
        if cookie == "forged":
            out += b"F" * 16
        return out

    @classmethod
    def say(cls, who, text, more=False):
        t = text.encode() if isinstance(text, str) else text
        return cls.op(5, who) + bytes((0,)) + bytes((1 if more else 0,)) + \
            struct.pack(">H", len(t) - 1) + t

    @classmethod
    def me(cls, who, text, more=False):
        t = text.encode() if isinstance(text, str) else text
        return cls.op(5, who) + bytes((1 << 4,)) + bytes((1 if more else 0,)) + \
            struct.pack(">H", len(t) - 1) + t

    @classmethod
    def who(cls, who):
        """A raw WHO payload (the harness's fourth payload mode: any bytes)."""
        return cls.op(5, who) + bytes((3 << 4, 0)) + bytes((WHO,))

    @classmethod
    def quit(cls, who):
        return cls.op(5, who) + bytes((2 << 4,))

    @classmethod
    def ack(cls, who):
        return cls.op(7, who) + b"\0"

    @classmethod
    def ping(cls, who):
        return cls.op(8, who) + b"\0"

    @classmethod
    def foreign_session(cls, who, owner):
        """A PING from `who` carrying `owner`'s session id: the server challenges."""
        return cls.op(8, who) + bytes((1, owner))

    @classmethod
    def rebind(cls, who):
        return cls.op(9, who) + bytes((0b011,))

    @classmethod
    def tick(cls, ms=0, hundreds=0, tens_of_s=0):
        if tens_of_s:
            return cls.op(10) + bytes((255,)) + struct.pack(">H", tens_of_s)
        if hundreds:
            return cls.op(10) + bytes((200,)) + struct.pack(">H", hundreds)
        return cls.op(10) + bytes((0,)) + struct.pack(">H", ms)

    @classmethod
    def admin(cls, text):
        t = text.encode()
        return cls.op(11) + bytes((0,)) + struct.pack(">H", len(t)) + t

    @classmethod
    def kick(cls, name):
        return cls.op(11) + bytes((1,)) + cls.name(name)

    # Rooms (docs/ROOMS.md): a DATA whose mode byte has its two top bits set, then what.
    ROOMS = ["#a", "#A", "#b", "#技术", "#大厅", "a", "#", "#c", "#" + "x" * 33]

    @classmethod
    def rooms_op(cls, who, sub, rest=b""):
        return cls.op(5, who) + bytes((0xC0, sub)) + rest

    @classmethod
    def join(cls, who, room):
        return cls.rooms_op(who, 0, bytes((cls.ROOMS.index(room),)))

    @classmethod
    def part(cls, who, room_id):
        return cls.rooms_op(who, 1, bytes((room_id,)))

    @classmethod
    def rooms(cls, who, all_rooms=False):
        return cls.rooms_op(who, 2, bytes((1 if all_rooms else 0,)))

    @classmethod
    def say_in(cls, who, room_id, text, more=False):
        t = text.encode()
        return cls.rooms_op(who, 3, bytes((1 if more else 0, room_id)) +
                            struct.pack(">H", len(t) - 1) + t)

    @classmethod
    def tell(cls, who, name, text, more=False):
        t = text.encode()
        return cls.rooms_op(who, 4, bytes((1 if more else 0,)) + cls.name(name) +
                            struct.pack(">H", len(t) - 1) + t)

    @classmethod
    def who_in(cls, who, room_id):
        return cls.rooms_op(who, 5, bytes((room_id,)))

    @classmethod
    def history(cls, who, room_id, what=0, ref=0, count=50):
        return cls.rooms_op(who, 6, bytes((room_id, what, ref, count)))

    @classmethod
    def search(cls, who, words, count=20):
        w = words.encode()
        return cls.rooms_op(who, 7, bytes((count, len(w))) + w)

    @classmethod
    def console_room(cls, kind, room, name=None):
        """The operator in a room: 0 speaks, 1 kicks name, 2 makes it permanent, 3 closes it."""
        out = cls.op(11) + bytes((2 | kind << 2, cls.ROOMS.index(room)))
        return out + (cls.name(name) if kind == 1 else b"")


def server_programs(malformed):
    S = Server
    out = {}
    out["v1-room"] = b"\0" + S.v1(0, "L", "alice") + S.v1(1, "L", "bob") + \
        S.v1(0, "C", "alice", "hi bob") + S.v1(1, "C", "bob", "hi alice", ending=0x10) + \
        S.v1(1, "P", "bob") + S.v1(1, "Q", "bob")
    out["v2-room"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        S.say(0, "hello bob") + S.ack(1) + S.say(1, "hello alice") + S.ack(0) + \
        S.ping(0) + S.tick(300) + S.quit(1) + S.quit(0)
    out["v2-echoed-cookie"] = b"\0" + S.login(0, "alice", cookie="echo") + \
        S.login(1, "bob", cookie="forged") + S.login(1, "bob", cookie="echo")
    out["mixed-long-text"] = b"\2" + S.v1(3, "L", "carol") + S.login(0, "alice") + \
        S.say(0, "长" * 391, more=True) + S.say(0, "文" * 391, more=True) + S.say(0, "end") + \
        S.v1(3, "C", "carol", "c" * 1000) + S.admin("server restarts at 18:00") + \
        S.kick("carol") + S.ack(0)
    out["rebind"] = b"\0" + S.login(0, "alice") + S.login(3, "bob", nonce=1) + \
        S.foreign_session(1, 0) + S.rebind(1) + S.say(1, "from my new address") + S.ack(3)
    out["timeouts"] = b"\0" + S.login(0, "alice") + S.v1(1, "L", "bob") + \
        S.v1(2, "L", "carol") + S.v1(2, "P", "carol") + S.tick(hundreds=1000) + \
        S.tick(tens_of_s=400)
    out["flood"] = b"\0" + S.v1(0, "L", "alice") + S.v1(1, "L", "bob") + \
        b"".join(S.v1(0, "C", "alice", "spam %d" % i) for i in range(10)) + \
        S.tick(hundreds=20) + S.v1(0, "C", "alice", "after")
    out["full-room"] = b"\0" + b"".join(S.v1(i, "L", n) for i, n in enumerate(
        ["alice", "bob", "carol", "dave", "eve", "mallory", "zoë", "中文"]))
    out["restart"] = b"\0" + S.login(0, "alice") + S.login(0, "alice", nonce=0) + \
        S.login(0, "alice", nonce=1) + S.login(0, "bob", nonce=2) + S.v1(0, "L", "alice")
    out["slow-recipient"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        S.v1(2, "L", "carol") + b"".join(S.admin("m") for _ in range(1100)) + S.tick(100)
    out["per-ip-cap"] = b"\0" + b"".join(S.v1(i, "L", n) for i, n in enumerate(
        ["alice", "bob", "carol", "dave", "eve"])) + S.login(3, "dave", nonce=2)
    # 70 members, all v2: both hash tables grow past 64 buckets; the 71st is refused (room full).
    out["many-members"] = b"\0" + b"".join(
        S.login(i, "n%d" % i, nonce=i % 3) for i in [1, 2, 3, 5, 6, 7] + list(range(8, 72))) + \
        S.v1(0, "L", "alice") + S.say(50, "hello all") + S.ack(9) + S.quit(9) + \
        S.v1(0, "L", "alice") + S.tick(hundreds=1000)
    # HELLOs and bad cookies from one IP past its answer budget (burst 20).
    out["hello-flood"] = b"\0" + b"".join(S.login(i % 4, "x%d" % i, nonce=i % 3, cookie="forged")
                                           for i in range(30)) + S.login(0, "alice")
    # v2 refusals arrive as NOTICEs: flooding, a message over 4000 bytes, an unparseable payload.
    out["v2-notices"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        b"".join(S.say(0, "flood %d" % i) for i in range(8)) + \
        b"".join(S.say(1, "x" * 1175, more=True) for _ in range(4)) + S.say(1, "end") + \
        S.op(5, 1) + bytes((0x30, 0)) + b"\x01" + S.op(5, 1) + bytes((0x30, 0)) + b"\x81" + \
        S.op(5, 1) + bytes((0x30, 2)) + b"\x82\x00\x00" + \
        S.tick(600) + S.ack(0) + S.ack(1)
    # A long message over 4000 bytes cut short by a restart (same name, new nonce), then a
    # legitimate long one: it must not inherit the first one's overflow.
    out["restart-mid-long-message"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        b"".join(S.say(0, "x" * 1175, more=True) for _ in range(4)) + \
        S.login(0, "alice", nonce=2) + S.say(0, "y" * 1175, more=True) + S.say(0, "end") + S.ack(1)
    # /who and /me in both protocols, by members of both: WHO past the flood burst is refused.
    out["who-me"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        S.v1(2, "L", "carol") + S.who(0) + S.me(1, "waves 挥手") + S.ack(0) + S.ack(1) + \
        S.raw(2, b"W carol") + S.raw(2, b"A carol bows") + S.raw(2, b"W alice") + \
        S.raw(2, b"A alice forged") + S.me(0, "长" * 391, more=True) + S.me(0, "end") + \
        S.say(1, "x", more=True) + S.me(1, "mixed kinds") + \
        b"".join(S.who(0) for _ in range(8)) + S.tick(300) + S.ack(0) + S.ack(1)
    # Rooms: declare, join (one room in two forms), say in it, a private line, a room's /who,
    # part, bad names, the per-member and server limits, the operator's room commands, and a
    # quit that leaves every room.  Room ids: the default room 1, then 2, 3...
    out["rooms"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + \
        S.login(2, "carol", nonce=2) + S.v1(3, "L", "dave") + S.rooms(0) + S.rooms(1) + \
        S.join(0, "#a") + S.join(1, "#A") + S.say_in(0, 2, "hi #a") + \
        S.say_in(2, 2, "not a member") + S.tell(1, "alice", "psst") + \
        S.tell(0, "dave", "to v1") + S.tell(0, "carol", "to an undeclared client") + \
        S.tell(0, "eve", "to nobody") + S.who_in(0, 2) + S.say(0, "lobby line") + \
        S.ack(0) + S.ack(1) + S.ack(2) + S.part(1, 2) + S.part(1, 1) + S.part(1, 9) + \
        b"".join(S.join(2, r) for r in ["a", "#", "#" + "x" * 33, "#技术", "#b", "#c"]) + \
        S.join(0, "#b") + S.join(0, "#c") + S.rooms(2, all_rooms=True) + \
        S.console_room(0, "#a") + S.console_room(1, "#b", "alice") + \
        S.console_room(2, "#c") + S.console_room(3, "#技术") + S.console_room(3, "#大厅") + \
        S.say_in(0, 2, "长" * 391, more=True) + S.say_in(0, 3, "other room") + \
        S.tell(1, "alice", "x" * 1100, more=True) + S.tell(1, "bob", "other name") + \
        S.tick(300) + S.ack(0) + S.ack(1) + S.ack(2) + S.quit(0) + S.tick(300)
    # History on the harness's in-memory store: pages of the default room and of a room,
    # one in flight (the second is refused), a search, a line kept for someone away.
    out["history"] = b"\0" + S.login(0, "alice") + S.login(1, "bob", nonce=1) + S.rooms(0) + \
        b"".join(S.say(0, "line %d 代码评审" % i) for i in range(5)) + S.join(0, "#a") + \
        S.say_in(0, 2, "in #a") + S.history(1, 1, 0, 0, 3) + S.history(1, 1, 1, 4, 50) + \
        S.ack(1) + S.tick(300) + S.ack(1) + S.history(0, 2, 2, 0, 10) + S.ack(0) + \
        S.tick(300) + S.search(0, "代码评审") + S.history(1, 2) + S.tell(0, "carol", "kept") + \
        S.ack(0) + S.ack(1) + S.login(2, "carol", nonce=2) + S.rooms(2) + S.tick(300)
    out["goodbye"] = b"\0" + S.v1(0, "L", "alice") + S.login(1, "bob") + S.say(1, "bye") + \
        bytes((13, 0))
    out["names"] = b"\0" + b"".join(S.v1(i % 8, "L", n) for i, n in enumerate(S.NAMES) if n) + \
        b"".join(S.login(i % 8, n, nonce=i % 3) for i, n in enumerate(S.NAMES) if n)
    room = S.v1(0, "L", "alice") + S.login(1, "bob")
    for i, d in enumerate(malformed):
        if len(d) <= 1200:
            out["malformed-%02d" % i] = b"\0" + room + S.raw(0, d) + S.raw(5, d) + S.raw(1, d)
        else:
            out["malformed-%02d" % i] = b"\0" + room + S.raw(0, d[:1200], oversize=len(d) - 1201)
    return out


class Client:
    """fuzz/fuzz_client2.c's input language (after the 3-byte header)."""

    @staticmethod
    def poll(ms=0, secs=0):
        if secs:
            return bytes((1, 255)) + struct.pack(">H", secs)
        return bytes((1, 0)) + struct.pack(">H", ms)

    @staticmethod
    def cookie(right=True):
        return bytes((3, 0 if right else 200)) + b"C" * 16

    @staticmethod
    def welcome(sid=0):
        return bytes((4, 0, sid)) + struct.pack(">HH", 25, 4000)

    @staticmethod
    def refuse():
        r = "名字已被占用".encode()
        return bytes((5, 0, 1, 0, len(r))) + r

    @staticmethod
    def event(ev, name, text, more=False, seq="next"):
        t = text.encode() if isinstance(text, str) else text
        n = name.encode()
        how = {"next": 0, "dup": 170, "early": 210}[seq]
        extra = bytes((1,)) if seq in ("dup", "early") else b""
        return bytes((6, how, 0, 0, 0)) + extra + bytes((0, ev, 1 if more else 0, len(n))) + n + \
            struct.pack(">H", len(t)) + t

    @staticmethod
    def notice():
        t = "发言太快".encode()
        return bytes((6, 0, 210, 0, 0, 8, 0, len(t))) + t

    @staticmethod
    def members(total, names, more=False):
        out = bytes((6, 0, 235, 0, 0, len(names))) + struct.pack(">I", total) + \
            bytes((1 if more else 0,))
        for n in names:
            b = n.encode()
            out += bytes((len(b) - 1,)) + b
        return out

    @staticmethod
    def who():
        return bytes((16,))

    @staticmethod
    def me(text):
        t = text.encode()
        return bytes((17,)) + struct.pack(">H", len(t)) + t

    @staticmethod
    def ack():
        return bytes((8, 0, 0))

    @staticmethod
    def close(reason):
        return bytes((9, 0, reason))

    @staticmethod
    def challenge():
        return bytes((10, 0)) + b"K" * 16

    @staticmethod
    def say(text):
        t = text.encode()
        return bytes((12,)) + struct.pack(">H", len(t)) + t

    @staticmethod
    def say_many(n8):
        return bytes((13, n8))


def client_programs():
    C = Client
    head = struct.pack(">H", 0) + bytes((24,))  # now offset, keepalive 25 s
    online = C.poll() + C.cookie() + C.welcome()
    out = {}
    out["login-chat-quit"] = head + online + C.event(0, "bob", "") + C.event(1, "bob", "hi") + \
        C.say("hello") + C.poll(10) + C.ack() + C.notice() + bytes((14,)) + C.poll(10) + \
        C.close(1)
    out["long-event"] = head + online + C.event(1, "bob", "长" * 390, more=True) + \
        C.event(1, "bob", "x" * 1100, more=True) + C.event(1, "bob", "end")
    out["reorder-dup"] = head + online + C.event(1, "bob", "a", seq="early") + \
        C.event(1, "bob", "b") + C.event(1, "bob", "c", seq="dup") + C.poll(30)
    out["reconnect"] = head + online + C.say("typed") + C.poll(secs=200) + C.poll(1000) + \
        C.cookie() + C.welcome(1) + C.poll(10)
    out["server-forgot-us"] = head + online + C.close(0) + C.poll(0) + C.cookie() + C.welcome(2)
    out["refused"] = head + C.poll() + C.cookie() + C.refuse() + C.poll(2000)
    out["unreachable"] = head + b"".join(C.poll(1000) for _ in range(7))
    out["challenge"] = head + online + C.challenge() + C.poll(10)
    out["queue-full-reconnect"] = head + online + C.say_many(140) + C.poll(10) + \
        C.say_many(140) + C.close(3) + C.poll(10) + C.cookie() + C.welcome(3)
    out["who-me"] = head + online + C.who() + C.me("waves 挥手") + C.poll(10) + C.ack() + \
        C.members(3, ["alice", "bob"], more=True) + C.members(3, ["李白", "a\x1bb", "*"]) + \
        C.event(7, "bob", "bows") + C.members(0, []) + C.poll(10)
    out["who-across-reconnect"] = head + online + C.who() + C.members(2, ["alice"], more=True) + \
        C.poll(secs=200) + C.poll(1000) + C.cookie() + C.welcome(1) + C.members(1, ["bob"])
    out["long-say"] = head + online + C.say("é" * 1999) + C.poll(10) + C.ack()
    return out


def rel_programs():
    now = bytes((0,)) + struct.pack(">I", 123456)
    q = lambda e, extra=0: bytes((0 << 1 | e, extra))
    poll = lambda e: bytes((2 << 1 | e,))
    deliver = lambda k=0, dup=False: bytes((3 << 1, 230 if dup else k))
    drop = lambda k=0: bytes((4 << 1, k))
    adv = lambda ms: bytes((5 << 1,)) + struct.pack(">H", ms)
    out = {}
    out["ping-pong"] = now + q(0) + q(0, 10) + q(1) + poll(0) + poll(1) + deliver() * 3 + \
        poll(0) + poll(1) + deliver() * 3
    out["loss-and-retransmit"] = now + q(0) * 5 + poll(0) + drop(1) + drop(2) + deliver() * 3 + \
        poll(1) + adv(600) + poll(0) + deliver() * 4 + poll(1) + deliver() * 2
    out["dup-reorder"] = now + q(0) * 8 + poll(0) + deliver(5, True) + deliver(3) + deliver(7) + \
        deliver(0, True) + deliver(1) + poll(1) + deliver(9)
    out["window-full"] = now + q(0) * 200 + poll(0) + adv(5000) + poll(0) + deliver(200) * 70
    out["forged"] = now + q(0) * 4 + poll(0) + bytes((6 << 1, 3)) + struct.pack(">I", 5) + \
        bytes((7 << 1 | 1, 4, 3)) + b"abc" + deliver() * 4
    return out


def main():
    clear_seeds()
    wire1_lits = c_literals(os.path.join(ROOT, "tests", "unit", "test_wire1.c"))
    text_lits = c_literals(os.path.join(ROOT, "tests", "unit", "test_text.c"))
    req, bad, framing, names, amp = security_cases()

    # wire1: requests as they come off the wire.
    cases = set(wire1_lits) | set(req) | set(amp)
    cases |= {b"L a" + b + b"b" for b in bad} | {b"C alice " + t for t in framing}
    cases |= {b"L " + n for n in names} | {b"L alice\n", b"C alice hi\r\n", b"P alice   "}
    for i, c in enumerate(sorted(cases)):
        write("wire1", "%03d" % i, c[:1300])

    # text: a size byte, then the text.
    texts = set(text_lits) | set(bad) | set(framing) | set(names)
    for i, t in enumerate(sorted(texts)):
        write("text", "%03d" % i, bytes((0x40,)) + t)
        write("text", "%03d-small" % i, bytes((7,)) + t)

    good = v2_datagrams()
    for name, d in {**good, **v2_malformed(good)}.items():
        write("wire2", name, d)
    for name, p in payloads().items():
        write("wire2", "payload-" + name, p)

    malformed = list(req) + [b"L a" + b + b"b" for b in bad] + \
        [b"C alice " + t for t in framing] + list(v2_malformed(good).values())
    for name, prog in server_programs(malformed).items():
        write("server", name, prog)
    for name, prog in client_programs().items():
        write("client2", name, prog)
    for name, prog in rel_programs().items():
        write("rel", name, prog)
    for h in sorted(os.listdir(CORPUS)):
        print("%s: %d files" % (h, len(os.listdir(os.path.join(CORPUS, h)))))


if __name__ == "__main__":
    main()
