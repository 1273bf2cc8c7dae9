/* steer.h - the kernel sorts qund's input: ACKs to a socket of their own, the rest ahead of them.
 */
#ifndef QUN_STEER_H
#define QUN_STEER_H

#include <stddef.h>

/* Indexes in the SO_REUSEPORT group: the order in which its sockets were bound. */
enum steer_socket {
	STEER_REST = 0, /* chat, logins, v1, junk: everything that is not a v2 ACK */
	STEER_ACKS = 1, /* v2 ACK datagrams (their first and third bytes say so) */
	STEER_SOCKETS
};

/*
 * Attach the sorting program to the SO_REUSEPORT group that fd belongs to
 * (net_udp_bind_group with STEER_SOCKETS sockets, STEER_REST bound first).
 * Why: in a busy v2 room ACKs outnumber chat lines by the room's size, and
 * in one socket a chat line waits behind every ACK that came first; in two
 * the loop can read the line first (loop.c).  The program only looks at
 * bytes: a short or odd datagram goes to STEER_REST, and whoever sends a
 * fake ACK gets the ACK's queue, no more.  Returns 0, or -1 with a reason
 * in err; without the program the kernel spreads datagrams over the group
 * by their addresses, which the loop reads just as well, only without the
 * order.
 */
int steer_acks(int fd, char *err, size_t errlen);

#endif
