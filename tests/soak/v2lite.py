# v2lite.py - a small, single-threaded client of qun protocol v2 (and v1) for the soak and valgrind drivers: many per process.
"""Event-driven clients of docs/PROTOCOL.md (v1) and docs/PROTOCOL-v2.md (v2).

Written from the protocol documents for tests/soak/soak.py and
tests/valgrind/session.py, which run many clients in one thread: no
threads, no blocking.  The owner reads each client's socket and calls
on_datagram(), and calls poll() often (every few tens of milliseconds);
both return nothing and record what arrived in `events` (room events as
(kind, name, text) tuples, v2 pieces already rejoined), `notices`
(refusals) and `closed`.  tests/blackbox/v2client.py is the full-featured
threaded client of the black-box tests; this one only does what a
long-running load needs, with the same reliability rules: sequence
numbers, cumulative and selective acks, in-order exactly-once delivery,
retransmission with back-off, keepalive.

read_line() is the drivers' one wait on a pipe: qund's first line, with a
deadline, so a qund that never starts fails the run instead of hanging it.
"""

import os
import select
import socket
import struct
import time
import zlib

MAGIC, VERSION = 0xFE, 0x02
HELLO, COOKIE, LOGIN, WELCOME, REFUSE = 1, 2, 3, 4, 5
DATA, ACK, PING, CLOSE, CHALLENGE, REBIND = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
SAY, QUIT, EVENT, NOTICE = 0x01, 0x02, 0x81, 0x82
MORE = 0x01
EV_NAMES = ["join", "say", "leave", "timeout", "kick", "admin", "shutdown"]
WINDOW = 64
SAY_PIECE = 1200 - 4 - 23 - 2  # less the CRC-32 trailer, the session header, kind and flags
RTO, RTO_MAX = 0.5, 4.0
KEEPALIVE = 20.0


def hdr(t):
    return bytes((MAGIC, VERSION, t))


def seal(body):
    """A v2 body as it goes on the wire: followed by its CRC-32 (docs/PROTOCOL-v2.md)."""
    return body + struct.pack(">I", zlib.crc32(body))


def unseal(data):
    """The body of a v2 datagram, or None if its CRC-32 is wrong."""
    if len(data) < 7 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        return None
    return data[:-4]


def read_line(pipe, timeout):
    """One line (bytes, newline included; at EOF what came) from a child's pipe.

    Reads the descriptor a byte at a time, so nothing after the line leaves
    the pipe.  Raises TimeoutError, saying what had come, after timeout seconds."""
    fd = pipe.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    line = bytearray()
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete line within %g s; got %r" % (timeout, bytes(line)))
        if poller.poll(left * 1000):
            b = os.read(fd, 1)
            if not b:
                break
            line += b
    return bytes(line)


def make_socket(rcvbuf=1 << 20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:  # as root, past net.core.rmem_max: a burst must not overflow a client
        s.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    return s


def split_utf8(b, piece):
    """Cut bytes into pieces of at most `piece` bytes, never inside a UTF-8 sequence."""
    out, i = [], 0
    while i < len(b):
        j = min(len(b), i + piece)
        while j < len(b) and j > i and (b[j] & 0xC0) == 0x80:
            j -= 1
        out.append(b[i:j])
        i = j
    return out


class V1Client:
    """A v1 member: one request per datagram, text lines back."""

    proto = 1

    def __init__(self, server, name, sock=None):
        self.server, self.name = server, name
        self.sock = sock or make_socket()
        self.events, self.notices, self.lines = [], [], []
        self.state, self.closed = "new", None

    def send(self, data):
        try:
            self.sock.sendto(data, self.server)
        except (BlockingIOError, ConnectionRefusedError):
            pass

    def start(self, now=None):
        self.state = "login"
        self.send(b"L " + self.name.encode())

    def say(self, text):
        self.send(b"C " + self.name.encode() + b" " + text.encode())

    def quit(self):
        self.send(b"Q " + self.name.encode())

    def on_datagram(self, data, now=None):
        line = data.decode("utf-8", "replace")
        self.lines.append(line)
        if line == "OK":
            self.state = "online"
        elif line == "EXIT":
            self.closed = "exit"
        elif self.state == "login":
            self.notices.append(line)
            self.state = "refused"
        else:
            self.events.append(("line", None, line))

    def poll(self, now):
        pass


class V2Client:
    """A v2 member: cookie handshake, then a reliable session."""

    proto = 2

    def __init__(self, server, name, sock=None):
        self.server, self.name = server, name
        self.sock = sock or make_socket()
        self.nonce = os.urandom(8)
        self.state, self.closed, self.sid = "new", None, None
        self.events, self.notices = [], []
        self.next_seq, self.inflight, self.queue = 1, {}, []
        self.recv_next, self.held, self.ack_due = 1, {}, False
        self.pending = None  # an event arriving in pieces: [kind, name, text]
        self.last_sent = self.last_hs = 0.0
        self.last_event_id = 0
        self.retransmits = 0

    def send(self, data, now=None):
        try:
            self.sock.sendto(seal(data), self.server)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        self.last_sent = now if now is not None else time.monotonic()

    def ack_fields(self):
        bits = 0
        for s in self.held:
            i = s - self.recv_next - 1
            if 0 <= i < 32:
                bits |= 1 << i
        return self.recv_next - 1, bits

    def session(self, t, seq=0, payload=b""):
        ack, bits = self.ack_fields()
        return hdr(t) + self.sid + struct.pack(">III", seq, ack, bits) + payload

    def start(self, now=None):
        self.state = "hello"
        self.last_hs = now or time.monotonic()
        self.send(hdr(HELLO) + self.nonce, now)

    def say(self, text):
        pieces = split_utf8(text.encode(), SAY_PIECE)
        for i, p in enumerate(pieces):
            self.queue.append(bytes((SAY, MORE if i < len(pieces) - 1 else 0)) + p)

    def quit(self):
        self.queue.append(bytes((QUIT,)))

    def on_datagram(self, data, now):
        data = unseal(data)
        if data is None or len(data) < 3 or data[0] != MAGIC or data[1] != VERSION:
            return
        t = data[2]
        if t == COOKIE and self.state in ("hello", "login") and data[3:11] == self.nonce:
            self.state, self.last_hs = "login", now
            name = self.name.encode()
            self.cookie = data[11:27]
            self.send(hdr(LOGIN) + self.nonce + self.cookie + bytes((len(name),)) + name, now)
        elif t == WELCOME and data[3:11] == self.nonce and self.state == "login":
            self.sid, self.state = data[11:19], "online"
        elif t == REFUSE and data[3:11] == self.nonce:
            self.state = "refused"
            self.notices.append(data[13:].decode("utf-8", "replace"))
        elif t == CLOSE and data[3:11] == self.sid:
            self.closed = data[11]
        elif t == CHALLENGE and data[3:11] == self.sid:
            self.send(hdr(REBIND) + self.sid + data[11:27], now)
        elif t in (DATA, ACK) and self.sid is not None and data[3:11] == self.sid:
            seq, ack, bits = struct.unpack(">III", data[11:23])
            self.on_ack(ack, bits)
            if t == DATA:
                self.on_data(seq, data[23:])

    def on_ack(self, ack, bits):
        done = [s for s in self.inflight if s <= ack or (s >= ack + 2 and bits >> (s - ack - 2) & 1)]
        for s in done:
            del self.inflight[s]

    def on_data(self, seq, payload):
        self.ack_due = True
        if seq < self.recv_next or seq > self.recv_next + WINDOW or seq in self.held:
            return
        self.held[seq] = payload
        while self.recv_next in self.held:
            self.deliver(self.held.pop(self.recv_next))
            self.recv_next += 1

    def deliver(self, p):
        if p[0] == NOTICE:
            self.notices.append(p[3:].decode("utf-8", "replace"))
            return
        if p[0] != EVENT or len(p) < 12:
            return
        eid = struct.unpack(">Q", p[1:9])[0]
        ev, flags, ln = p[9], p[10], p[11]
        name, text = p[12:12 + ln].decode(), p[12 + ln:]
        if self.pending is None:
            if eid <= self.last_event_id:
                self.events.append(("replayed-event-id", name, str(eid)))
            self.last_event_id = eid
            self.pending = [EV_NAMES[ev] if ev < len(EV_NAMES) else str(ev), name, b""]
        self.pending[2] += text
        if not flags & MORE:
            kind, name, text = self.pending
            self.pending = None
            self.events.append((kind, name, text.decode("utf-8", "replace")))

    def poll(self, now):
        if self.state in ("hello", "login"):
            if now - self.last_hs >= 0.5:  # a lost HELLO or LOGIN: start over
                self.start(now)
            return
        if self.state != "online" or self.closed is not None:
            return
        sent_data = False
        while self.queue and len(self.inflight) < WINDOW:
            p = self.queue.pop(0)
            seq = self.next_seq
            self.next_seq += 1
            self.inflight[seq] = [p, now, RTO]
            self.send(self.session(DATA, seq, p), now)
            sent_data = True
        for seq, slot in self.inflight.items():
            if now - slot[1] >= slot[2]:
                slot[1], slot[2] = now, min(RTO_MAX, slot[2] * 2)
                self.retransmits += 1
                self.send(self.session(DATA, seq, slot[0]), now)
                sent_data = True
        if self.ack_due and not sent_data:
            self.send(self.session(ACK), now)
        self.ack_due = False
        if now - self.last_sent >= KEEPALIVE:
            self.send(self.session(PING), now)

    def idle(self):
        return not self.inflight and not self.queue
