# v2client.py - a small Python client of qun protocol v2, written from docs/PROTOCOL-v2.md, with knobs to misbehave.
"""An independent implementation of the client side of protocol v2, for the
black-box tests: it cross-checks the C code, so it is written from the spec
(docs/PROTOCOL-v2.md) and nothing else.

Two layers:

* Pure functions that build and parse datagrams (`hello`, `login`,
  `session`, `parse`, `parse_payload`, `split_text`).  `parse` is strict:
  anything the spec does not allow raises `Malformed`, so a client that
  records what the server sent can assert the server never sent anything
  malformed.
* `V2Client`: a live client on one UDP socket, driven by a thread of its
  own, so that it acknowledges, retransmits, reassembles long messages and
  answers CHALLENGE while the test waits for conditions.  Knobs make it
  misbehave on purpose: `auto_ack=False` (never acknowledge: a recipient
  that vanished), `ack_delay=S` (acknowledge S seconds after the first
  unacknowledged DATA, as a client in a big room may; unlike qun, every ACK,
  even one for a gap or a repeat), `stamps=True` (record each datagram's
  arrival as the kernel's receive time, not the time this thread read it),
  `retransmit=False`, `auto_rebind=False`, a chosen nonce
  (reuse it), `send_raw` and `send_session` (any bytes, any session id),
  `move_to` (change source port: NAT rebinding).

Every datagram in and out is recorded with its time, so tests can measure
sizes, counts, intervals and back-off on the wire.
"""

import collections
import os
import select
import socket
import struct
import threading
import time
import zlib

MAGIC = 0xFE
VERSION = 0x02
MAX_DATAGRAM = 1200
MAX_MESSAGE = 4000

# Datagram types.
HELLO, COOKIE, LOGIN, WELCOME, REFUSE = 0x01, 0x02, 0x03, 0x04, 0x05
DATA, ACK, PING = 0x10, 0x11, 0x12
CLOSE, CHALLENGE, REBIND = 0x13, 0x14, 0x15
TYPE_NAMES = {HELLO: "HELLO", COOKIE: "COOKIE", LOGIN: "LOGIN", WELCOME: "WELCOME",
              REFUSE: "REFUSE", DATA: "DATA", ACK: "ACK", PING: "PING", CLOSE: "CLOSE",
              CHALLENGE: "CHALLENGE", REBIND: "REBIND"}

# Sizes of the fixed parts (of the body: every datagram also ends in a 4-byte CRC-32).
CHECK = 4
HDR = 3
SESSION_HDR = 23          # header, sid, seq, ack, ack bits
SIZE = {HELLO: 11, COOKIE: 27, WELCOME: 23, CLOSE: 12, CHALLENGE: 27, REBIND: 27}
LOGIN_FIXED = 28
REFUSE_FIXED = 13

# Payload kinds of DATA.
SAY, QUIT, ME, WHO, EVENT, NOTICE, MEMBERS = 0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83
MORE = 0x01
ID = 0x02                 # SAY/ME flag: a 4-byte message id follows the flags
ROOMF = 0x04              # SAY/ME flag: a 4-byte room id follows (docs/ROOMS.md)
F_MSG_ID = 0x1            # WELCOME feature: the server takes message ids
F_ROOMS = 0x2             # WELCOME feature: rooms and private messages

# Rooms and private messages (docs/ROOMS.md).
JOIN, PART, ROOMS, TELL = 0x05, 0x06, 0x07, 0x08
REVENT, ROOM, PRIVATE = 0x84, 0x85, 0x86
# History (docs/HISTORY.md).
HISTORY, SEARCH, HLINE, HEND = 0x09, 0x0A, 0x87, 0x88
F_HISTORY = 0x4
HIST_LATEST, HIST_BEFORE, HIST_AFTER = range(3)
HEND_START, HEND_UNAVAILABLE = 0x01, 0x02
STORED = 0x02             # PRIVATE flag: kept while we were away; its time follows
LOBBY = 1                 # the default room's id
ROOM_MINE, ROOM_ALL, ROOM_JOINED, ROOM_PARTED = range(4)

# Room events (v1's enum v1_event).
EV_JOIN, EV_SAY, EV_LEAVE, EV_TIMEOUT, EV_KICK, EV_ADMIN, EV_SHUTDOWN, EV_ACTION = range(8)
EVENT_NAMES = ["join", "say", "leave", "timeout", "kick", "admin", "shutdown", "action"]

# CLOSE reasons.
CL_UNKNOWN, CL_QUIT, CL_KICKED, CL_TIMEOUT, CL_SHUTDOWN, CL_SLOW = range(6)

# REFUSE / NOTICE codes (enum qerr).
E_NAME_TAKEN, E_NAME_INVALID, E_OTHER_NAME, E_ROOM_FULL, E_TEXT_INVALID = 1, 2, 3, 4, 5
E_TOO_LONG, E_MALFORMED, E_FLOOD, E_TOO_MANY = 6, 7, 8, 9

# Largest text in one SAY: datagram less session header, kind and flags.
SAY_PIECE = MAX_DATAGRAM - CHECK - SESSION_HDR - 2
WINDOW = 64               # DATA held beyond ack by the receiver
SEND_WINDOW = 33          # seqs in flight: the gap after ack plus the 32 of the ack bits
MAX_ACK_DELAY = 0.2       # the longest a peer may hold an ACK back
SO_TIMESTAMPNS = 35       # Linux (asm-generic/socket.h); the socket module does not name it
RTO_INIT, RTO_MIN, RTO_MAX = 0.5, MAX_ACK_DELAY + 0.1, 4.0


def _kernel_time(ancillary):
    """The kernel's receive time (SO_TIMESTAMPNS, the wall clock) of a
    datagram as a time.monotonic() value, or None."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return time.monotonic() - (time.time() - (sec + nsec / 1e9))
    return None


class Malformed(ValueError):
    """A datagram or payload that the spec does not allow."""


# ---------------------------------------------------------------------------
# Building datagrams.

def _h(t):
    return bytes((MAGIC, VERSION, t))


def seal(body):
    """A body as it goes on the wire: followed by its CRC-32, big-endian."""
    return body + struct.pack(">I", zlib.crc32(body))


def unseal(data):
    """The body of a datagram from the wire; raise Malformed if its CRC-32 is wrong."""
    if len(data) < HDR + CHECK:
        raise Malformed("shorter than a header and a CRC")
    body, (crc,) = data[:-CHECK], struct.unpack(">I", data[-CHECK:])
    if zlib.crc32(body) != crc:
        raise Malformed("bad CRC-32")
    return body


def hello(nonce):
    return seal(_h(HELLO) + nonce)


def login(nonce, cookie, name):
    name = name.encode() if isinstance(name, str) else name
    return seal(_h(LOGIN) + nonce + cookie + bytes((len(name) & 0xFF,)) + name)


def session(t, sid, seq=0, ack=0, bits=0, payload=b""):
    """Any session datagram (DATA, ACK, PING, or a wrong type on purpose)."""
    return seal(_h(t) + sid + struct.pack(">III", seq, ack, bits) + payload)


def rebind(sid, cookie):
    return seal(_h(REBIND) + sid + cookie)


def say_payload(text, more=False, msg_id=None):
    """A SAY payload; with msg_id, flagged ID and carrying the message id."""
    text = text.encode() if isinstance(text, str) else text
    if msg_id is None:
        return bytes((SAY, MORE if more else 0)) + text
    return bytes((SAY, (MORE if more else 0) | ID)) + struct.pack(">I", msg_id) + text


def quit_payload():
    return bytes((QUIT,))


def me_payload(text, more=False):
    text = text.encode() if isinstance(text, str) else text
    return bytes((ME, MORE if more else 0)) + text


def who_payload():
    return bytes((WHO,))


def members_payload(total, names, more=False):
    """A MEMBERS payload (what a server sends; for fake servers in the tests)."""
    body = b"".join(bytes((len(n),)) + n for n in
                    (x.encode() if isinstance(x, str) else x for x in names))
    return bytes((MEMBERS,)) + struct.pack(">IB", total, MORE if more else 0) + body


def event_payload(eid, event, name, text=b"", more=False):
    """An EVENT payload (what a server sends; for fake servers in the tests)."""
    name = name.encode() if isinstance(name, str) else name
    text = text.encode() if isinstance(text, str) else text
    return (bytes((EVENT,)) + struct.pack(">QBBB", eid, event, MORE if more else 0, len(name))
            + name + text)


def _b(x):
    return x.encode() if isinstance(x, str) else x


def join_payload(name):
    name = _b(name)
    return bytes((JOIN, len(name))) + name


def part_payload(room):
    return bytes((PART,)) + struct.pack(">I", room)


def rooms_payload(all_rooms=False, history=False):
    return bytes((ROOMS, (1 if all_rooms else 0) | (2 if history else 0)))


def say_in_payload(room, text, more=False, me=False):
    """A SAY (or ME) in a room: flagged ROOM, the room id after the flags."""
    return (bytes((ME if me else SAY, (MORE if more else 0) | ROOMF)) + struct.pack(">I", room)
            + _b(text))


def tell_payload(name, text, more=False):
    name = _b(name)
    return bytes((TELL, MORE if more else 0, len(name))) + name + _b(text)


def history_payload(room, what=HIST_LATEST, ref=0, count=50):
    return bytes((HISTORY,)) + struct.pack(">IBQH", room, what, ref, count)


def search_payload(words, count=50):
    return bytes((SEARCH,)) + struct.pack(">H", count) + _b(words)


def who_in_payload(room):
    return bytes((WHO,)) + struct.pack(">I", room)


def split_text(text, piece=SAY_PIECE):
    """Split bytes at UTF-8 character boundaries into pieces of at most `piece` bytes."""
    text = text.encode() if isinstance(text, str) else text
    out = []
    i = 0
    while i < len(text):
        j = min(len(text), i + piece)
        if j < len(text):
            # Never cut before a continuation byte (10xxxxxx).
            k = j
            while k > i and (text[k] & 0xC0) == 0x80:
                k -= 1
            if k > i:
                j = k
        out.append(text[i:j])
        i = j
    return out or [b""]


# ---------------------------------------------------------------------------
# Parsing datagrams.

class Dgram:
    """A parsed datagram: `type` plus the fields of its type as attributes."""

    def __init__(self, t, raw, **fields):
        self.type = t
        self.raw = raw
        self.__dict__.update(fields)

    def __repr__(self):
        f = {k: v for k, v in self.__dict__.items() if k not in ("type", "raw")}
        return "<%s %r>" % (TYPE_NAMES.get(self.type, hex(self.type)), f)


def parse(data, from_server=True):
    """Parse one datagram strictly; raise Malformed for anything the spec forbids.

    from_server selects which direction's types are legal."""
    if len(data) > MAX_DATAGRAM:
        raise Malformed("datagram of %d bytes, over %d" % (len(data), MAX_DATAGRAM))
    data = unseal(data)
    if len(data) < HDR:
        raise Malformed("shorter than the header")
    if data[0] != MAGIC or data[1] != VERSION:
        raise Malformed("bad magic/version %r" % data[:2])
    t = data[2]
    s2c = {COOKIE, WELCOME, REFUSE, DATA, ACK, CLOSE, CHALLENGE}
    c2s = {HELLO, LOGIN, DATA, ACK, PING, REBIND}
    if t not in (s2c if from_server else c2s):
        raise Malformed("type 0x%02x not allowed in this direction" % t)
    n = len(data)
    if t in SIZE:
        if n != SIZE[t]:
            raise Malformed("%s of %d bytes, expected %d" % (TYPE_NAMES[t], n, SIZE[t]))
    if t == HELLO:
        return Dgram(t, data, nonce=data[3:11])
    if t == COOKIE:
        return Dgram(t, data, nonce=data[3:11], cookie=data[11:27])
    if t == LOGIN:
        if n < LOGIN_FIXED:
            raise Malformed("LOGIN too short")
        ln = data[27]
        if n != LOGIN_FIXED + ln:
            raise Malformed("LOGIN name length %d but %d bytes follow" % (ln, n - LOGIN_FIXED))
        return Dgram(t, data, nonce=data[3:11], cookie=data[11:27], name=data[28:])
    if t == WELCOME:
        ka, mx = struct.unpack(">HH", data[19:23])
        return Dgram(t, data, nonce=data[3:11], sid=data[11:19], keepalive=ka,
                     max_message=mx & 0x0FFF, features=mx >> 12)
    if t == REFUSE:
        if n < REFUSE_FIXED:
            raise Malformed("REFUSE too short")
        try:
            reason = data[13:].decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed("REFUSE reason not UTF-8: %s" % e)
        return Dgram(t, data, nonce=data[3:11], code=data[11], detail=data[12], reason=reason)
    if t == CLOSE:
        return Dgram(t, data, sid=data[3:11], reason=data[11])
    if t in (CHALLENGE, REBIND):
        return Dgram(t, data, sid=data[3:11], cookie=data[11:27])
    # Session datagrams with reliability fields.
    if n < SESSION_HDR:
        raise Malformed("%s of %d bytes, shorter than 23" % (TYPE_NAMES[t], n))
    seq, ack, bits = struct.unpack(">III", data[11:23])
    payload = data[23:]
    if t == DATA:
        if seq < 1:
            raise Malformed("DATA with seq 0")
        if not payload:
            raise Malformed("DATA without payload")
    else:
        if payload:
            raise Malformed("%s with %d trailing bytes" % (TYPE_NAMES[t], len(payload)))
        if seq != 0:
            raise Malformed("%s with seq %d, expected 0" % (TYPE_NAMES[t], seq))
    return Dgram(t, data, sid=data[3:11], seq=seq, ack=ack, bits=bits, payload=payload)


class Payload:
    def __init__(self, kind, **fields):
        self.kind = kind
        self.__dict__.update(fields)

    def __repr__(self):
        return "<payload %r>" % self.__dict__


def parse_payload(p, from_server=True):
    """Parse a DATA payload strictly (EVENT/NOTICE from the server, SAY/QUIT to it)."""
    k = p[0]
    if from_server:
        if k == EVENT:
            if len(p) < 12:
                raise Malformed("EVENT too short")
            eid = struct.unpack(">Q", p[1:9])[0]
            ev, flags, ln = p[9], p[10], p[11]
            if len(p) < 12 + ln:
                raise Malformed("EVENT name length %d past the end" % ln)
            if ev > EV_ACTION:
                raise Malformed("unknown event %d" % ev)
            if flags & ~MORE:
                raise Malformed("EVENT flags 0x%02x" % flags)
            return Payload(k, id=eid, event=ev, more=bool(flags & MORE),
                           name=p[12:12 + ln], text=p[12 + ln:])
        if k == NOTICE:
            if len(p) < 3:
                raise Malformed("NOTICE too short")
            try:
                text = p[3:].decode("utf-8")
            except UnicodeDecodeError as e:
                raise Malformed("NOTICE text not UTF-8: %s" % e)
            return Payload(k, code=p[1], detail=p[2], text=text)
        if k == MEMBERS:
            if len(p) < 6:
                raise Malformed("MEMBERS too short")
            total, flags = struct.unpack(">IB", p[1:6])
            if flags & ~MORE:
                raise Malformed("MEMBERS flags 0x%02x" % flags)
            names, i = [], 6
            while i < len(p):
                ln = p[i]
                if ln == 0 or i + 1 + ln > len(p):
                    raise Malformed("MEMBERS name length %d at %d" % (ln, i))
                names.append(p[i + 1:i + 1 + ln])
                i += 1 + ln
            return Payload(k, total=total, more=bool(flags & MORE), names=names)
        if k == REVENT:
            if len(p) < 16:
                raise Malformed("REVENT too short")
            room, eid = struct.unpack(">IQ", p[1:13])
            ev, flags, ln = p[13], p[14], p[15]
            if len(p) < 16 + ln or room == 0 or ev > EV_ACTION or flags & ~MORE:
                raise Malformed("REVENT fields")
            return Payload(k, room=room, id=eid, event=ev, more=bool(flags & MORE),
                           name=p[16:16 + ln], text=p[16 + ln:])
        if k == PRIVATE:
            if len(p) < 11:
                raise Malformed("PRIVATE too short")
            num, flags = struct.unpack(">QB", p[1:10])
            at, i = None, 10
            if flags & STORED:
                if len(p) < 19:
                    raise Malformed("PRIVATE STORED too short")
                at, i = struct.unpack(">Q", p[10:18])[0], 18
            ln = p[i]
            if len(p) < i + 1 + ln or ln == 0 or flags & ~(MORE | STORED):
                raise Malformed("PRIVATE fields")
            return Payload(k, id=num, more=bool(flags & MORE), name=p[i + 1:i + 1 + ln],
                           text=p[i + 1 + ln:], at=at)
        if k == HLINE:
            if len(p) < 24:
                raise Malformed("HLINE too short")
            room, eid, at = struct.unpack(">IQQ", p[1:21])
            ev, flags, ln = p[21], p[22], p[23]
            if len(p) < 24 + ln or room == 0 or flags & ~MORE:
                raise Malformed("HLINE fields")
            return Payload(k, room=room, id=eid, at=at, event=ev, more=bool(flags & MORE),
                           name=p[24:24 + ln], text=p[24 + ln:])
        if k == HEND:
            if len(p) != 8:
                raise Malformed("HEND length %d" % len(p))
            room, count, flags = struct.unpack(">IHB", p[1:8])
            if flags & ~(HEND_START | HEND_UNAVAILABLE):
                raise Malformed("HEND fields")
            return Payload(k, room=room, count=count, flags=flags)
        if k == ROOM:
            if len(p) < 3:
                raise Malformed("ROOM too short")
            flags, what = p[1], p[2]
            if flags & ~MORE or what > ROOM_PARTED:
                raise Malformed("ROOM flags 0x%02x what %d" % (flags, what))
            rooms, i = [], 3
            while i < len(p):
                if i + 9 > len(p):
                    raise Malformed("ROOM entry cut short at %d" % i)
                rid, members, ln = struct.unpack(">IIB", p[i:i + 9])
                if ln == 0 or i + 9 + ln > len(p):
                    raise Malformed("ROOM name length %d at %d" % (ln, i))
                rooms.append((rid, members, p[i + 9:i + 9 + ln].decode("utf-8")))
                i += 9 + ln
            if what in (ROOM_JOINED, ROOM_PARTED) and len(rooms) != 1:
                raise Malformed("ROOM %d with %d rooms" % (what, len(rooms)))
            return Payload(k, more=bool(flags & MORE), what=what, rooms=rooms)
        raise Malformed("payload kind 0x%02x from the server" % k)
    if k == SAY:
        if len(p) < 2:
            raise Malformed("SAY too short")
        return Payload(k, more=bool(p[1] & MORE), text=p[2:])
    if k == ME:
        if len(p) < 2:
            raise Malformed("ME too short")
        return Payload(k, more=bool(p[1] & MORE), text=p[2:])
    if k in (QUIT, WHO):
        if len(p) != 1:
            raise Malformed("QUIT or WHO with trailing bytes")
        return Payload(k)
    raise Malformed("payload kind 0x%02x from a client" % k)


def ack_bits_set(ack, bits):
    """The seqs that an (ack, ack bits) pair says have arrived beyond ack."""
    return {ack + 2 + i for i in range(32) if bits >> i & 1}


# ---------------------------------------------------------------------------
# Reliability: the receiving and the sending half of one direction.

class RecvWindow:
    """In-order, exactly-once delivery of DATA by seq, holding up to WINDOW beyond ack."""

    def __init__(self):
        self.ack = 0
        self.held = {}
        self.duplicates = 0
        self.beyond = 0

    def on_data(self, seq, payload):
        """Returns the payloads now deliverable, in order."""
        if seq <= self.ack or seq in self.held:
            self.duplicates += 1
            return []
        if seq > self.ack + WINDOW:
            self.beyond += 1
            return []
        self.held[seq] = payload
        out = []
        while self.ack + 1 in self.held:
            self.ack += 1
            out.append(self.held.pop(self.ack))
        return out

    def fields(self):
        bits = 0
        for s in self.held:
            i = s - self.ack - 2
            if 0 <= i < 32:
                bits |= 1 << i
        return self.ack, bits


class SendWindow:
    """Sequence numbers, at most SEND_WINDOW in flight, RTO per RFC 6298 as the spec says."""

    def __init__(self):
        self.next_seq = 1
        self.inflight = collections.OrderedDict()  # seq -> [payload, first, last, sends, rto]
        self.queue = collections.deque()
        self.srtt = None
        self.rttvar = None
        self.rto = RTO_INIT
        self.acked = 0

    def push(self, payload):
        self.queue.append(payload)

    def sendable(self, now):
        """Move queued payloads into flight; returns [(seq, payload)] to send now."""
        out = []
        # The window is counted from the oldest unacknowledged seq, not by the
        # number in flight: DATA acknowledged by ack bits does not let the sender
        # run past what the receiver holds (ack + 64), or it would be dropped.
        while self.queue and \
                self.next_seq - next(iter(self.inflight), self.next_seq) < SEND_WINDOW:
            p = self.queue.popleft()
            seq = self.next_seq
            self.next_seq += 1
            self.inflight[seq] = [p, now, now, 1, self.rto]
            out.append((seq, p))
        return out

    def _sample(self, r):
        if self.srtt is None:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.rto = min(RTO_MAX, max(RTO_MIN, self.srtt + 4 * self.rttvar))

    def on_ack(self, ack, bits, now):
        if ack >= self.next_seq:
            return  # acks something never sent: ignore it
        done = [s for s in self.inflight if s <= ack] + \
               [s for s in ack_bits_set(ack, bits) if s in self.inflight]
        for s in done:
            p, first, last, sends, rto = self.inflight.pop(s)
            self.acked += 1
            if sends == 1:
                self._sample(now - first)

    def due(self, now):
        out = []
        for seq, st in self.inflight.items():
            if now - st[2] >= st[4]:
                st[2] = now
                st[3] += 1
                st[4] = min(RTO_MAX, st[4] * 2)
                out.append((seq, st[0]))
        return out

    def next_deadline(self):
        if not self.inflight:
            return None
        return min(st[2] + st[4] for st in self.inflight.values())

    def idle(self):
        return not self.inflight and not self.queue


# ---------------------------------------------------------------------------
# The live client.

class Event:
    """One room event as shown to the user: pieces joined, text as bytes."""

    def __init__(self, ids, event, name, text, t, room=LOBBY):
        self.ids, self.event, self.name, self.text, self.t = ids, event, name, text, t
        self.room = room

    @property
    def id(self):
        return self.ids[0]

    def __repr__(self):
        return "<event %s %s %r %r>" % (self.ids if len(self.ids) > 1 else self.ids[0],
                                        EVENT_NAMES[self.event], self.name, self.text[:60])


class Timeout(AssertionError):
    pass


def new_nonce():
    return os.urandom(8)


class V2Client:
    """One v2 client on one UDP socket, with a thread that runs its protocol.

    server: (host, port).  sock: an unbound or bound UDP socket to use (for
    instance one made inside a network namespace); otherwise a new one bound
    to `bind`.  Knobs: see the module docstring."""

    def __init__(self, server, sock=None, bind=("127.0.0.1", 0), auto_ack=True,
                 ack_delay=0.0, stamps=False, retransmit=True, auto_rebind=True, keepalive=None, hs_interval=0.25,
                 label=None):
        self.server = tuple(server)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(bind)
        elif sock.getsockname()[1] == 0:
            sock.bind(bind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        if stamps:
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.stamps = stamps
        sock.setblocking(False)
        self.sock = sock
        self.addr = sock.getsockname()
        self.label = label or "%s:%d" % self.addr
        self.auto_ack = auto_ack
        self.ack_delay = ack_delay
        self.ack_due = None         # when a delayed ACK must go out
        self.retransmit = retransmit
        self.auto_rebind = auto_rebind
        self.keepalive = keepalive
        self.hs_interval = hs_interval

        self.cond = threading.Condition()
        self.rd, self.wr = os.pipe()
        os.set_blocking(self.rd, False)
        os.set_blocking(self.wr, False)
        self.stopping = False

        # Handshake.
        self.nonce = None
        self.name = None
        self.hs_state = None        # None, "hello", "login", "up", "refused"
        self.hs_cookie = None
        self.hs_last = 0.0
        self.sid = None
        self.old_sids = set()
        self.stale = []
        self.welcome = None
        self.refuse = None

        # Session.
        self.rx = RecvWindow()
        self.tx = SendWindow()
        self.last_sent = time.monotonic()
        self.last_heard = time.monotonic()
        self.closed = None          # CLOSE reason once our session is closed

        # Records.
        self.dgrams_in = []         # (t, bytes) from the server
        self.dgrams_out = []        # (t, bytes) we sent
        self.foreign = []           # (t, bytes, src) from anyone else
        self.parsed_in = []         # (t, Dgram)
        self.errors = []            # malformed things the server sent
        self.events = []            # Event, in the order shown
        self.say_counts = collections.Counter()  # name -> say events shown
        self.event_ids = collections.Counter()
        self.notices = []           # Payload NOTICE
        self.closes = []            # (t, Dgram) every CLOSE, ours or not
        self.challenges = []        # (t, Dgram)
        self.cookies = []           # (t, Dgram)
        self.pending_event = None   # an EVENT with MORE still being joined
        self.whos = []              # (total, [names]) for each complete MEMBERS answer
        self.room_answers = []      # (what, [(id, members, name)]) for each complete ROOM answer
        self.pending_rooms = None   # a ROOM answer with MORE still coming
        self.privates = []          # (number, name, text) of each complete PRIVATE
        self.stored = {}            # number -> the time a kept PRIVATE was said (ms)
        self.hlines = []            # (room, id, at, event, name, text) of each complete HLINE
        self.pending_hline = None
        self.hends = []             # (room, count, flags) of each HEND
        self.pending_private = None
        self.room_event_ids = collections.Counter()  # (room, id) of REVENTs
        self.pending_who = None     # names of a MEMBERS answer with MORE still coming
        self.ping_times = []

        self.thread = threading.Thread(target=self._run, name="v2client-" + self.label,
                                       daemon=True)
        self.thread.start()

    # -- sending ------------------------------------------------------------

    def _send(self, data):
        """Send bytes to the server from the current socket, and record them."""
        now = time.monotonic()
        try:
            self.sock.sendto(data, self.server)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        with self.cond:
            self.dgrams_out.append((now, data))
            self.last_sent = now

    def send_raw(self, data):
        """Send any bytes to the server, as they are."""
        self._send(data)

    def send_session(self, t, sid=None, seq=0, ack=None, bits=None, payload=b""):
        """Send a session datagram; fields default to this session's (sid may be forged)."""
        with self.cond:
            a, b = self.rx.fields()
        self._send(session(t, self.sid if sid is None else sid, seq,
                           a if ack is None else ack, b if bits is None else bits, payload))

    def _wake(self):
        try:
            os.write(self.wr, b"x")
        except BlockingIOError:
            pass

    # -- handshake ----------------------------------------------------------

    def start_login(self, name, nonce=None):
        """Begin a login (HELLO, then LOGIN) without waiting; the thread retries."""
        with self.cond:
            self.name = name.encode() if isinstance(name, str) else name
            self.nonce = nonce or new_nonce()
            self.hs_state = "hello"
            self.hs_cookie = None
            self.welcome = None
            self.refuse = None
            self.hs_last = 0.0
        self._wake()

    def login(self, name, nonce=None, timeout=5.0, expect="welcome"):
        """Log in as name; returns the WELCOME (or REFUSE if expect='refuse')."""
        self.start_login(name, nonce)
        ok = self.wait(lambda: self.hs_state in ("up", "refused"), timeout)
        if not ok:
            raise Timeout("%s: login as %r got no WELCOME/REFUSE within %ss (state %s; "
                          "received %r)" % (self.label, name, timeout, self.hs_state,
                                            [d for _, d in self.parsed_in[-5:]]))
        if expect == "welcome":
            assert self.hs_state == "up", "%s: login as %r refused: %r" % (
                self.label, name, self.refuse)
            return self.welcome
        assert self.hs_state == "refused", "%s: login as %r was not refused: %r" % (
            self.label, name, self.welcome)
        return self.refuse

    def _handshake_tick(self, now):
        if self.hs_state == "hello" and now - self.hs_last >= self.hs_interval:
            self.hs_last = now
            self._send(hello(self.nonce))
        elif self.hs_state == "login" and now - self.hs_last >= self.hs_interval:
            self.hs_last = now
            self._send(login(self.nonce, self.hs_cookie, self.name))

    # -- session ------------------------------------------------------------

    def say(self, text):
        """Queue one message (split into MORE pieces if it is long)."""
        pieces = split_text(text)
        with self.cond:
            for i, p in enumerate(pieces):
                self.tx.push(say_payload(p, more=i < len(pieces) - 1))
        self._wake()
        return len(pieces)

    def me(self, text):
        """Queue one action (/me), split into MORE pieces if it is long."""
        pieces = split_text(text)
        with self.cond:
            for i, p in enumerate(pieces):
                self.tx.push(me_payload(p, more=i < len(pieces) - 1))
        self._wake()
        return len(pieces)

    def who(self):
        """Ask who is online; the answer lands in self.whos."""
        self.send_payload(who_payload())

    def wait_who(self, timeout=5.0, start=0):
        """Wait for the start-th complete WHO answer; return (total, [names as str])."""
        got = self.wait(lambda: len(self.whos) > start, timeout)
        if not got:
            raise Timeout("%s: no MEMBERS answer within %ss" % (self.label, timeout))
        total, names = self.whos[start]
        return total, [n.decode("utf-8", "backslashreplace") for n in names]

    # Rooms and private messages (docs/ROOMS.md).
    def rooms(self, all_rooms=False, history=False):
        """Ask for my rooms (or all); also declares that this client knows rooms (and,
        with history, that it takes kept private lines)."""
        self.send_payload(rooms_payload(all_rooms, history))

    def wait_rooms(self, what, timeout=5.0, start=0):
        """Wait for a ROOM answer of kind what after the start-th; return its rooms."""
        def find():
            for w, rooms in self.room_answers[start:]:
                if w == what:
                    return rooms
            return None
        got = self.wait(find, timeout)
        if got is None or got is False:
            raise Timeout("%s: no ROOM %d answer within %ss: %r" % (
                self.label, what, timeout, self.room_answers[-4:]))
        return got

    def join(self, name, timeout=5.0):
        """JOIN a room and wait for ROOM JOINED naming it; return (id, members, name)."""
        start = len(self.room_answers)
        self.send_payload(join_payload(name))
        return self.wait_rooms(ROOM_JOINED, timeout, start)[0]

    def part(self, room):
        self.send_payload(part_payload(room))

    def say_in(self, room, text, me=False):
        self.send_payload(say_in_payload(room, text, me=me))

    def tell(self, name, text):
        self.send_payload(tell_payload(name, text))

    def who_in(self, room):
        self.send_payload(who_in_payload(room))

    def history(self, room, what=HIST_LATEST, ref=0, count=50, timeout=5.0, words=None):
        """Ask for history (or, with words, search my rooms) and wait for its HEND;
        return (lines, count, flags)."""
        start, first = len(self.hends), len(self.hlines)
        self.send_payload(history_payload(room, what, ref, count) if words is None
                          else search_payload(words, count))
        if not self.wait(lambda: len(self.hends) > start, timeout):
            raise Timeout("%s: no HEND within %ss" % (self.label, timeout))
        _, n, flags = self.hends[start]
        return self.hlines[first:], n, flags

    def say_pieces(self, pieces):
        """Queue a message already cut in pieces: [(bytes, more), ...]."""
        with self.cond:
            for p, more in pieces:
                self.tx.push(say_payload(p, more))
        self._wake()

    def send_payload(self, payload):
        """Queue any DATA payload (reliably)."""
        with self.cond:
            self.tx.push(payload)
        self._wake()

    def quit(self, timeout=5.0):
        """Send QUIT and wait for CLOSE reason 1."""
        self.send_payload(quit_payload())
        assert self.wait(lambda: self.closed is not None, timeout), \
            "%s: no CLOSE after QUIT within %ss" % (self.label, timeout)
        return self.closed

    def ping(self):
        self.ping_times.append(time.monotonic())
        self.send_session(PING)

    def move_to(self, bind=("127.0.0.1", 0), sock=None):
        """Switch to a new socket (a new source address), as NAT rebinding does."""
        new = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if sock is None:
            new.bind(bind)
        new.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        new.setblocking(False)
        with self.cond:
            self.old_socks = getattr(self, "old_socks", []) + [self.sock]
            self.sock = new
            self.addr = new.getsockname()
        self._wake()
        return self.addr

    # -- the thread ---------------------------------------------------------

    def _run(self):
        while True:
            with self.cond:
                if self.stopping:
                    return
                socks = [self.sock] + getattr(self, "old_socks", [])
                deadline = self._next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                r, _, _ = select.select(socks + [self.rd], [], [], timeout)
            except (OSError, ValueError):
                return
            if self.rd in r:
                try:
                    os.read(self.rd, 4096)
                except BlockingIOError:
                    pass
            got_data = False
            for s in r:
                if s is self.rd:
                    continue
                while True:
                    try:
                        if self.stamps:
                            data, anc, _, src = s.recvmsg(65536, 64)
                        else:
                            (data, src), anc = s.recvfrom(65536), []
                    except (BlockingIOError, InterruptedError):
                        break
                    except ConnectionRefusedError:
                        continue
                    except OSError:
                        break
                    got_data |= self._on_datagram(data, src, s, _kernel_time(anc))
            self._tick(got_data)

    def _next_deadline(self):
        now = time.monotonic()
        ds = []
        if self.hs_state in ("hello", "login"):
            ds.append(self.hs_last + self.hs_interval)
        if self.retransmit and self.hs_state == "up" and self.closed is None:
            d = self.tx.next_deadline()
            if d is not None:
                ds.append(d)
        if self.keepalive and self.hs_state == "up" and self.closed is None:
            ds.append(self.last_sent + self.keepalive)
        if self.ack_due is not None:
            ds.append(self.ack_due)
        return min(ds) if ds else now + 0.5

    def _tick(self, got_data):
        now = time.monotonic()
        with self.cond:
            state = self.hs_state
            live = state == "up" and self.closed is None
            out = []
            if live:
                out = self.tx.sendable(now)
                if self.retransmit:
                    out += self.tx.due(now)
                a, b = self.rx.fields()
        if state in ("hello", "login"):
            self._handshake_tick(now)
        if not live:
            return
        for seq, p in out:
            self._send(session(DATA, self.sid, seq, a, b, p))
        if self._ack_owed(got_data, bool(out), now):
            self._send(session(ACK, self.sid, 0, a, b))
        if self.keepalive and now - self.last_sent >= self.keepalive:
            self.ping_times.append(now)
            self._send(session(PING, self.sid, 0, a, b))

    def _ack_owed(self, got_data, sending_data, now):
        """Whether an ACK must go out now.  DATA we send carries the ack
        fields, so it settles what we owe; otherwise we acknowledge at once,
        or ack_delay after the first DATA we have not acknowledged."""
        if not self.auto_ack or sending_data:
            self.ack_due = None
            return False
        if self.ack_delay <= 0:
            self.ack_due = None
            return got_data
        if got_data and self.ack_due is None:
            self.ack_due = now + self.ack_delay
        if self.ack_due is not None and now >= self.ack_due:
            self.ack_due = None
            return True
        return False

    def _on_datagram(self, data, src, sock, t=None):
        """Handle one datagram that arrived at t (default: now); returns True
        if it was DATA of our session."""
        now = t if t is not None else time.monotonic()
        if src[:2] != self.server[:2]:
            with self.cond:
                self.foreign.append((now, data, src))
            return False
        with self.cond:
            self.dgrams_in.append((now, data))
            try:
                d = parse(data)
            except Malformed as e:
                self.errors.append("malformed from server: %s: %r" % (e, data[:64]))
                self.cond.notify_all()
                return False
            self.parsed_in.append((now, d))
            self.last_heard = now
            got = self._handle(d, now)
            self.cond.notify_all()
            return got

    def _handle(self, d, now):
        t = d.type
        if t == COOKIE:
            self.cookies.append((now, d))
            if d.nonce == self.nonce and self.hs_state in ("hello", "login"):
                self.hs_cookie = d.cookie
                self.hs_state = "login"
                self.hs_last = now
                # Answer at once (from this thread).
                self._send_unlocked(login(self.nonce, self.hs_cookie, self.name))
            return False
        if t == WELCOME:
            if d.nonce != self.nonce:
                self.errors.append("WELCOME for another nonce: %r" % d)
                return False
            if self.hs_state in ("hello", "login"):
                if self.sid is not None and d.sid != self.sid:
                    # A new session (re-login): start both directions afresh.
                    self.old_sids.add(self.sid)
                    self.rx = RecvWindow()
                    self.tx = SendWindow()
                    self.closed = None
                self.sid = d.sid
                self.welcome = d
                self.hs_state = "up"
            elif self.welcome is not None and d.raw != self.welcome.raw:
                self.errors.append("a second WELCOME differs: %r vs %r" % (d, self.welcome))
            return False
        if t == REFUSE:
            if d.nonce == self.nonce and self.hs_state in ("hello", "login"):
                self.refuse = d
                self.hs_state = "refused"
            return False
        if t == CLOSE:
            self.closes.append((now, d))
            if self.sid is not None and d.sid == self.sid and self.closed is None:
                self.closed = d.reason
            return False
        if t == CHALLENGE:
            self.challenges.append((now, d))
            if self.auto_rebind and d.sid == self.sid:
                self._send_unlocked(rebind(self.sid, d.cookie))
            return False
        if t in (ACK, DATA):
            if d.sid in self.old_sids:
                self.stale.append((now, d))  # left over from a session we replaced
                return False
            if self.sid is None or d.sid != self.sid:
                self.errors.append("%s for sid %s, ours is %s" % (
                    TYPE_NAMES[t], d.sid.hex(), self.sid.hex() if self.sid else None))
                return False
            self.tx.on_ack(d.ack, d.bits, now)
            if t == ACK:
                return False
            for p in self.rx.on_data(d.seq, d.payload):
                self._deliver(p, now)
            return True
        self.errors.append("unexpected %r" % d)
        return False

    def _send_unlocked(self, data):
        """Send from the thread while holding the lock (records without re-locking)."""
        try:
            self.sock.sendto(data, self.server)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        self.dgrams_out.append((time.monotonic(), data))
        self.last_sent = time.monotonic()

    def _deliver(self, p, now):
        try:
            m = parse_payload(p)
        except Malformed as e:
            self.errors.append("malformed payload: %s: %r" % (e, p[:64]))
            return
        if m.kind == NOTICE:
            if self.pending_event is not None:
                self.errors.append("NOTICE between pieces of a long event")
            self.notices.append(m)
            return
        if m.kind == MEMBERS:
            if self.pending_event is not None:
                self.errors.append("MEMBERS between pieces of a long event")
            names = (self.pending_who or []) + m.names
            if m.more:
                self.pending_who = names
            else:
                self.pending_who = None
                self.whos.append((m.total, names))
            return
        if m.kind == ROOM:
            rooms = (self.pending_rooms or []) + m.rooms
            if m.more:
                self.pending_rooms = rooms
            else:
                self.pending_rooms = None
                self.room_answers.append((m.what, rooms))
            return
        if m.kind == HLINE:
            ph = self.pending_hline
            text = (ph[5] if ph else b"") + m.text
            ph = (m.room, m.id, m.at, m.event, m.name, text)
            if m.more:
                self.pending_hline = ph
            else:
                self.pending_hline = None
                self.hlines.append(ph)
            return
        if m.kind == HEND:
            self.hends.append((m.room, m.count, m.flags))
            return
        if m.kind == PRIVATE:
            if m.at is not None:
                self.stored[m.id] = m.at
            pp = self.pending_private
            if pp is not None and pp[1] != m.name:
                self.errors.append("piece of another private message inside a long one")
            pp = (m.id, m.name, (pp[2] if pp else b"") + m.text)
            if m.more:
                self.pending_private = pp
            else:
                self.pending_private = None
                self.privates.append(pp)
            return
        room = getattr(m, "room", LOBBY)
        counter, key = ((self.room_event_ids, (room, m.id)) if m.kind == REVENT
                        else (self.event_ids, m.id))
        counter[key] += 1
        if counter[key] > 1 and (self.pending_event is None
                                 or m.id not in self.pending_event.ids):
            self.errors.append("event id %r delivered twice" % (key,))
        pe = self.pending_event
        if pe is not None:
            if m.event != pe.event or m.name != pe.name or room != pe.room:
                self.errors.append("piece of another event inside a long one: %r" % m)
            pe.ids.append(m.id)
            pe.text += m.text
        else:
            pe = Event([m.id], m.event, m.name, m.text, now, room)
        if m.more:
            self.pending_event = pe
        else:
            self.pending_event = None
            pe.t = now
            self.events.append(pe)
            if pe.event == EV_SAY:
                self.say_counts[pe.name] += 1

    # -- waiting and inspecting ---------------------------------------------

    def wait(self, pred, timeout=5.0):
        """Wait until pred() (called under the lock) is true; return its value or False."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))

    def wait_event(self, event, name=None, text=None, timeout=5.0, start=0, room=None):
        """Wait for an event (by kind, and name/text/room if given); return it."""
        nb = name.encode() if isinstance(name, str) else name
        tb = text.encode() if isinstance(text, str) else text

        def find():
            for e in self.events[start:]:
                if e.event == event and (nb is None or e.name == nb) and \
                        (tb is None or e.text == tb) and (room is None or e.room == room):
                    return e
            return None
        e = self.wait(find, timeout)
        if not e:
            raise Timeout("%s: no %s event name=%r text=%r within %ss; events: %r" % (
                self.label, EVENT_NAMES[event], name, (text or "")[:60], timeout,
                self.events[-8:]))
        return e

    def wait_notice(self, code=None, timeout=5.0, start=0):
        def find():
            for n in self.notices[start:]:
                if code is None or n.code == code:
                    return n
            return None
        n = self.wait(find, timeout)
        if not n:
            raise Timeout("%s: no NOTICE code %s within %ss; notices %r" % (
                self.label, code, timeout, self.notices))
        return n

    def wait_idle(self, timeout=5.0):
        """Wait until everything sent has been acknowledged."""
        return self.wait(lambda: self.tx.idle(), timeout)

    def said(self, name):
        """The texts (str) of the say events from name, in order."""
        nb = name.encode() if isinstance(name, str) else name
        with self.cond:
            return [e.text.decode("utf-8", "backslashreplace") for e in self.events
                    if e.event == EV_SAY and e.name == nb]

    def received_types(self, since=0.0):
        with self.cond:
            return [d.type for t, d in self.parsed_in if t >= since]

    def max_in(self):
        with self.cond:
            return max((len(d) for _, d in self.dgrams_in), default=0)

    def bytes_in(self):
        with self.cond:
            return sum(len(d) for _, d in self.dgrams_in)

    def close(self):
        """Stop the thread and close the sockets (no QUIT: the server is not told)."""
        with self.cond:
            self.stopping = True
        self._wake()
        self.thread.join(2)
        for s in [self.sock] + getattr(self, "old_socks", []):
            s.close()
        os.close(self.rd)
        os.close(self.wr)


class ClientSet:
    """The V2Clients of one test: made through `new`, all closed by `close_all`."""

    def __init__(self, server=None):
        self.server = server
        self.clients = []

    def new(self, server=None, **kw):
        c = V2Client(server or self.server, **kw)
        self.clients.append(c)
        return c

    def login(self, name, server=None, **kw):
        """A new client logged in as name."""
        c = self.new(server, label=kw.pop("label", name), **kw)
        c.login(name)
        return c

    def errors(self):
        """Everything malformed any client received from the server."""
        return [c.label + ": " + e for c in self.clients for e in c.errors]

    def close_all(self):
        errs = self.errors()
        for c in self.clients:
            c.close()
        self.clients = []
        return errs


class Raw:
    """A bare UDP socket for wire checks: send bytes, receive what comes, no protocol."""

    def __init__(self, server, sock=None, bind=("127.0.0.1", 0)):
        self.server = tuple(server)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(bind)
        self.sock = sock
        self.addr = sock.getsockname()
        self.sent = 0       # bytes sent
        self.got = []       # every datagram received from the server

    def send(self, data):
        self.sent += len(data)
        self.sock.sendto(data, self.server)

    def recv(self, timeout=5.0):
        """The next datagram from the server (bytes), or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65536)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                continue
            if src[:2] == self.server[:2]:
                self.got.append(data)
                return data

    def recv_parsed(self, timeout=5.0, want=None):
        """The next datagram, parsed (skipping others than type `want` if given)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.recv(max(0.0, deadline - time.monotonic()))
            if d is None:
                return None
            p = parse(d)
            if want is None or p.type == want:
                return p

    def silent(self, seconds):
        """Everything that arrives within seconds (a list; empty if silent)."""
        out = []
        deadline = time.monotonic() + seconds
        while True:
            d = self.recv(max(0.0, deadline - time.monotonic()))
            if d is None:
                return out
            out.append(d)

    def handshake(self, name, nonce=None, timeout=5.0):
        """HELLO, COOKIE, LOGIN; returns (COOKIE, the parsed answer to LOGIN)."""
        nonce = nonce or new_nonce()
        self.send(hello(nonce))
        c = self.recv_parsed(timeout, want=COOKIE)
        assert c is not None, "%s: no COOKIE for HELLO" % (self.addr,)
        self.send(login(nonce, c.cookie, name))
        r = self.recv_parsed(timeout)
        return c, r

    def close(self):
        self.sock.close()
