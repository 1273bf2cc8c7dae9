/* net.c - UDP socket helpers (bind, connect, name, receive stamps) for IPv4 and IPv6, after
 * Redis's anet.c. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

uint64_t net_arrival_ns(const struct msghdr *msg, uint64_t read_mono_ns,
                        const struct timespec *read_real)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)(uintptr_t)msg, c)) {
		struct timespec k;
		int64_t age;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&k, CMSG_DATA(c), sizeof k);
		age = (int64_t)(read_real->tv_sec - k.tv_sec) * 1000000000 +
		      (read_real->tv_nsec - k.tv_nsec);
		return age > 0 && (uint64_t)age < read_mono_ns ? read_mono_ns - (uint64_t)age
		                                               : read_mono_ns;
	}
	return 0;
}

static int bind_one(int family, const struct sockaddr *sa, socklen_t len, int dual, int reuse,
                    char *err, size_t errlen)
{
	int fd, off = 0, on = 1;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0) {
		snprintf(err, errlen, "IPV6_V6ONLY: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
		snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, sa, len) < 0) {
		snprintf(err, errlen, "bind: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int bind_any(const char *port, int reuse, char *err, size_t errlen)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct addrinfo hints, *res;
	int fd, rc;
	uint16_t p;

	/* Resolve the port alone, so service names work as well as numbers. */
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "port %s: %s", port, gai_strerror(rc));
		return -1;
	}
	p = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_port;
	freeaddrinfo(res);

	memset(&s6, 0, sizeof s6);
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = in6addr_any;
	s6.sin6_port = p;
	fd = bind_one(AF_INET6, (struct sockaddr *)&s6, sizeof s6, 1, reuse, err, errlen);
	if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
		return fd;
	memset(&s4, 0, sizeof s4);
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(INADDR_ANY);
	s4.sin_port = p;
	return bind_one(AF_INET, (struct sockaddr *)&s4, sizeof s4, 0, reuse, err, errlen);
}

/* net_udp_bind, with SO_REUSEPORT set before the bind if reuse. */
static int udp_bind(const char *host, const char *port, int reuse, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	if (host == NULL)
		return bind_any(port, reuse, err, errlen);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s port %s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = bind_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, 0, reuse, err, errlen);
	freeaddrinfo(res);
	return fd;
}

int net_udp_bind(const char *host, const char *port, char *err, size_t errlen)
{
	return udp_bind(host, port, 0, err, errlen);
}

/* Where fd is bound, and whether an IPv6 socket also takes IPv4; -1 with a reason. */
static int bound_at(int fd, struct peer_addr *a, int *dual, char *err, size_t errlen)
{
	int v6only = 0;
	socklen_t optlen = sizeof v6only;

	memset(a, 0, sizeof *a);
	a->len = sizeof a->sa;
	if (getsockname(fd, (struct sockaddr *)&a->sa, &a->len) < 0) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		return -1;
	}
	if (a->sa.ss_family == AF_INET6 &&
	    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) < 0) {
		snprintf(err, errlen, "IPV6_V6ONLY: %s", strerror(errno));
		return -1;
	}
	*dual = a->sa.ss_family == AF_INET6 && !v6only;
	return 0;
}

int net_udp_bind_group(const char *host, const char *port, int *fds, int n, char *err,
                       size_t errlen)
{
	struct peer_addr a;
	int first, dual, i;

	if (strcmp(port, "0") == 0) {
		/* The kernel chooses a port nobody uses: the group's first socket can take it. */
		fds[0] = udp_bind(host, port, 1, err, errlen);
		if (fds[0] < 0)
			return -1;
		if (bound_at(fds[0], &a, &dual, err, errlen) < 0) {
			close(fds[0]);
			return -1;
		}
		first = 1;
	} else {
		/* A plain bind first, so that a port in use is refused as usual. */
		int probe = udp_bind(host, port, 0, err, errlen);

		if (probe < 0)
			return -1;
		i = bound_at(probe, &a, &dual, err, errlen);
		close(probe);
		if (i < 0)
			return -1;
		first = 0;
	}
	for (i = first; i < n; i++) {
		fds[i] =
		    bind_one(a.sa.ss_family, (struct sockaddr *)&a.sa, a.len, dual, 1, err, errlen);
		if (fds[i] < 0) {
			while (i-- > 0)
				close(fds[i]);
			return -1;
		}
	}
	return 0;
}

int net_udp_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s port %s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "connect to %s port %s: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

char *net_local_name(int fd, char *buf, size_t size)
{
	struct peer_addr a;

	memset(&a, 0, sizeof a);
	a.len = sizeof a.sa;
	if (getsockname(fd, (struct sockaddr *)&a.sa, &a.len) < 0) {
		snprintf(buf, size, "?");
		return buf;
	}
	return addr_format(&a, buf, size);
}
