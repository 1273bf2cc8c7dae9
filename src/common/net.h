/* net.h - UDP socket helpers for IPv4 and IPv6; they fill an error message and return -1, never
 * exit. */
#ifndef QUN_NET_H
#define QUN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"

/*
 * Bind a non-blocking UDP socket to host:port.  host NULL means every
 * interface: one IPv6 socket that also takes IPv4 (IPV6_V6ONLY off),
 * falling back to IPv4 alone where IPv6 is unavailable.  port "0" lets the
 * kernel choose.  Returns the fd, or -1 with a reason in err.
 */
int net_udp_bind(const char *host, const char *port, char *err, size_t errlen);

/*
 * Bind n non-blocking UDP sockets to one address in one SO_REUSEPORT
 * group, so that a program attached to the group (SO_ATTACH_REUSEPORT_CBPF)
 * can sort datagrams between them; host and port as net_udp_bind, whose
 * plain bind goes first so that a port already in use is refused and port
 * "0" is chosen once.  (The port is free between that bind and the group's:
 * another process of the same user could take it in that instant, and
 * the group's bind then fails.)  Fills fds[0..n) and returns 0, or -1
 * with a reason in err and nothing open.
 */
int net_udp_bind_group(const char *host, const char *port, int *fds, int n, char *err,
                       size_t errlen);

/*
 * Create a UDP socket connected to host:port (each address getaddrinfo
 * gives is tried in turn), so that datagrams from anyone else are
 * discarded by the kernel.  Returns the fd, or -1 with a reason in err.
 */
int net_udp_connect(const char *host, const char *port, char *err, size_t errlen);

/* Format the local address of fd as "HOST:PORT" ("[::1]:PORT" for IPv6). Returns buf. */
char *net_local_name(int fd, char *buf, size_t size);

/*
 * When a datagram received with SO_TIMESTAMPNS reached its socket, on the
 * monotonic clock, in ns: the kernel's stamp (CLOCK_REALTIME) in msg's
 * control data, moved by the age it had when it was read at read_mono_ns
 * (CLOCK_MONOTONIC) and read_real.  0 if msg carries no stamp.
 */
uint64_t net_arrival_ns(const struct msghdr *msg, uint64_t read_mono_ns,
                        const struct timespec *read_real);

#endif
