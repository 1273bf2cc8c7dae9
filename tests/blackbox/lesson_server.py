#!/usr/bin/env python3
# lesson_server.py - the classic lesson's UDP chat server, re-implemented small, to test qun against it.
"""The server of the classic systems-programming lesson, as its students
wrote it: a table of name -> address, no checks, no refusals.

    L name       -> OK to the sender; "name 进入了聊天室" to everyone else
    C name text  -> "name 说：text" to everyone but the sender
    Q name       -> "name 退出了聊天室" to everyone else; EXIT to the sender
    anything else (P keepalives included) is ignored

Usage: lesson_server.py [PORT]   (default 8888; 0 lets the kernel choose).
The first line on stdout is "listening on 127.0.0.1:PORT".
"""

import socket
import sys


def broadcast(sock, clients, text, skip):
    """Send text to every client whose address is not skip."""
    for addr in list(clients.values()):
        if addr != skip:
            sock.sendto(text.encode(), addr)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    print("listening on 127.0.0.1:%d" % sock.getsockname()[1], flush=True)
    clients = {}  # name -> address, as in the lesson's linked list
    while True:
        data, addr = sock.recvfrom(2048)
        msg = data.decode("utf-8", "replace").rstrip("\n")
        kind, _, rest = msg.partition(" ")
        if kind == "L":
            name = rest
            broadcast(sock, clients, "%s 进入了聊天室" % name, addr)
            clients[name] = addr
            sock.sendto(b"OK", addr)
        elif kind == "C":
            name, _, text = rest.partition(" ")
            broadcast(sock, clients, "%s 说：%s" % (name, text), addr)
        elif kind == "Q":
            name = rest
            clients.pop(name, None)
            broadcast(sock, clients, "%s 退出了聊天室" % name, addr)
            sock.sendto(b"EXIT", addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
