/* dropsend.c - LD_PRELOAD shim for the memory run: sends to 127.1/16 succeed, no syscall. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/*
 * Why this exists: every join is announced to everyone already in the room,
 * so filling a room with 100,000 members makes the server send
 * 100,000^2 / 2 = 5 * 10^9 datagrams, about an hour of kernel time on
 * loopback.  The memory run wants the server's state at 100,000 members,
 * not that hour, so its idle members live on 127.1.0.0/16 and this shim,
 * preloaded into the server only for that run, reports every datagram to
 * that range as sent (full length) without the system call.  The server's
 * own work -- parsing, the room, formatting, walking the members, building
 * the batches -- is unchanged; datagrams to any other address (the probe
 * that paces the run) go through the real calls.
 */

static int dropped(const void *name)
{
	const struct sockaddr_in *s4 = name;
	const struct sockaddr_in6 *s6 = name;
	const uint8_t *a;

	if (name == NULL)
		return 0;
	if (s4->sin_family == AF_INET) {
		a = (const uint8_t *)&s4->sin_addr;
		return a[0] == 127 && a[1] == 1;
	}
	if (s6->sin6_family == AF_INET6) {
		/* An IPv4-mapped address on a dual-stack socket: ::ffff:127.1.x.y */
		a = s6->sin6_addr.s6_addr;
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 && a[12] == 127 &&
		       a[13] == 1;
	}
	return 0;
}

static size_t iov_total(const struct iovec *iov, size_t n)
{
	size_t i, t = 0;

	for (i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* The next definition of a libc function (ISO C has no cast from void * to a function pointer). */
static void next_fn(const char *name, void *fnp, size_t size)
{
	void *p = dlsym(RTLD_NEXT, name);

	memcpy(fnp, &p, size);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG to,
               socklen_t tolen)
{
	static ssize_t (*real)(int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t);

	if (dropped(to.__sockaddr__))
		return (ssize_t)len;
	if (real == NULL)
		next_fn("sendto", &real, sizeof real);
	return real(fd, buf, len, flags, to, tolen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (dropped(msg->msg_name))
		return (ssize_t)iov_total(msg->msg_iov, msg->msg_iovlen);
	if (real == NULL)
		next_fn("sendmsg", &real, sizeof real);
	return real(fd, msg, flags);
}

/* In order, like the real call: stops at the first real failure. */
int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);

		if (r < 0)
			return i > 0 ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
	}
	return (int)n;
}
