/* addr.h - peer addresses as values: compare, hash input, print. Pure, no sockets. */
#ifndef QUN_ADDR_H
#define QUN_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/*
 * A peer's address as recvfrom() filled it in.  Room for IPv4 and IPv6
 * only (28 bytes, not sockaddr_storage's 128): every member holds one, and
 * at 100,000 members the difference is 10 MB.  `ss_family` aliases the
 * family field of every member of the union, so code written for a
 * sockaddr_storage (a.sa.ss_family, (struct sockaddr *)&a.sa) still works.
 */
union peer_sa {
	sa_family_t ss_family;
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct peer_addr {
	union peer_sa sa;
	socklen_t len;
};

/* Longest canonical key: family (1) + port (2) + address (16) + scope id (4). */
#define ADDR_KEY_MAX 23

/*
 * Write the canonical key of a: the family, port and address bytes (and the
 * IPv6 scope id) and nothing else, so that two datagrams from the same
 * socket always give the same key whatever else the kernel put in the
 * sockaddr.  An IPv4-mapped IPv6 address gives the same key as the plain
 * IPv4 address.  Returns the key length, or 0 for an unsupported family.
 */
size_t addr_key(const struct peer_addr *a, uint8_t key[ADDR_KEY_MAX]);

/* Longest network key: family (1) + address (16) + scope id (4). */
#define ADDR_NET_MAX 21

/*
 * Write the key of the network a is in: the family, then the address with
 * every bit after the first v4_bits (IPv4, IPv4-mapped included) or
 * v6_bits (IPv6) cleared, then the IPv6 scope id; never the port.  Two
 * peers are in the same network exactly when their keys are equal.  Bits
 * past the address's width count as all of it (so 32 and 128 mean "this
 * address").  It is how limits meant for one party count addresses that
 * party gets in bulk: an IPv6 host typically has a whole /64 to itself
 * (RFC 4291, RFC 8981), so counting IPv6 addresses one by one counts
 * nothing.  Returns the key length, or 0 for an unsupported family.
 */
size_t addr_net_key(const struct peer_addr *a, unsigned v4_bits, unsigned v6_bits,
                    uint8_t key[ADDR_NET_MAX]);

/* Returns 1 if a and b are the same peer (same canonical key), else 0. */
int addr_equal(const struct peer_addr *a, const struct peer_addr *b);

/*
 * Print a as "1.2.3.4:5678" or "[::1]:5678" (IPv4-mapped addresses print as
 * IPv4) into buf, NUL-terminated.  Returns buf; prints "?" for an
 * unsupported family.  ADDR_STRLEN is always enough.
 */
#define ADDR_STRLEN 64
char *addr_format(const struct peer_addr *a, char *buf, size_t size);

#endif
