#!/usr/bin/env python3
# baseline_server.py - the chat room written the straightforward way (recvfrom, a dict, one sendto per recipient), serving v1, for the benchmark.
"""The baseline qund is measured against.

This is the lesson's server as most people would write it: one UDP socket,
recvfrom one datagram at a time, a dict from address to name, and one
sendto per recipient.  It speaks protocol v1 (docs/PROTOCOL.md) in English
(the benchmark's qund runs with --lang en, so both send the same lines):
L/C/Q/P, OK, EXIT, "NAME joined the room", "NAME: TEXT", "NAME left the
room".  It checks who owns a name, as v1 requires, and nothing else: no UTF-8
rules, no flood control, no timeouts.  That makes it a little cheaper per
message than qund, which is fair to the baseline.

Usage: baseline_server.py [--port PORT] [--bind ADDR]; prints
"listening on ADDR:PORT" first, like qund, and serves until SIGTERM/SIGINT.
"""

import argparse
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((args.bind, args.port))
    host, port = sock.getsockname()
    print("listening on %s:%d" % (host, port), flush=True)

    members = {}  # address -> name
    names = {}    # name -> address

    def broadcast(line, exclude):
        data = line.encode()
        for addr in list(members):
            if addr != exclude:
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass

    while True:
        try:
            data, addr = sock.recvfrom(2048)
        except KeyboardInterrupt:
            return
        try:
            text = data.decode().rstrip("\r\n")
        except UnicodeDecodeError:
            continue
        cmd, _, rest = text.partition(" ")
        if cmd == "L":
            name = rest.rstrip(" ")
            if not name or " " in name:
                sock.sendto(b"malformed request", addr)
            elif members.get(addr) == name:
                sock.sendto(b"OK", addr)
            elif name in names or addr in members:
                sock.sendto(b"name already taken", addr)
            else:
                members[addr] = name
                names[name] = addr
                sock.sendto(b"OK", addr)
                broadcast("%s joined the room" % name, addr)
        elif cmd == "C":
            name, _, msg = rest.partition(" ")
            if members.get(addr) == name and msg:
                broadcast("%s: %s" % (name, msg), addr)
        elif cmd == "Q":
            name = rest.rstrip(" ")
            if members.get(addr) == name:
                del members[addr]
                del names[name]
                sock.sendto(b"EXIT", addr)
                broadcast("%s left the room" % name, addr)
        # "P name" (keepalive) needs no answer.


if __name__ == "__main__":
    main()
