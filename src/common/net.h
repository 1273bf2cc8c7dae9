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
 * group, in order (a program attached to the group, as
 * SO_ATTACH_REUSEPORT_CBPF, names them by that order); host and port as
 * net_udp_bind.  Port "0": the first takes a port the kernel chooses.
 * Another port: a plain bind goes first and is closed, so that a port in
 * use is refused as usual.  SO_REUSEPORT lets sockets of one user share a
 * port, so a socket of another process of the same user that binds the
 * same port with it (in the instant after the plain bind, or by the
 * kernel's choice of port) would share the group: the caller's user must
 * be its own.  Fills fds[0..n) and returns 0, or -1 with a reason in err
 * and nothing open.
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
