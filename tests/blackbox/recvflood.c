/* recvflood.c - LD_PRELOAD shim for the flood tests: qun's and qund's sockets never run dry. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Why this exists: a flood that qun cannot keep up with is hard to make
 * on loopback, since no sender is much faster than qun's reader.  So the
 * flood tests preload this into qun instead: while the file named by
 * $QUN_FLOOD_FILE exists, qun's UDP socket and the UI's end of its
 * socketpair always have one more message.  poll() reports them readable
 * at once, and a recv() that would find nothing gets a message made up
 * here: a line of chat from the server, or a LINE event (ipc.h) from the
 * network process.  (Not the network process's end: it reads that end
 * dry before it ends, which a flood of made-up requests would never let
 * it do.  The UI is the process the shim was loaded into; the network
 * process is its child.)  What
 * really comes is still read (on every 16th call), so the session itself
 * goes on.  Other descriptors (the signalfd, stdin) are left alone.
 *
 * The flood must come faster than qun reads, so the file is looked at
 * only every few milliseconds and which descriptors flood is remembered.
 */

static const char fake_udp[] = "bob: flood";
/* LINE: kind CHAT, no flags, name_at IPC_NO_NAME_AT, name "", text "bob: flood" */
static const char fake_ipc[] = "L\0\0\xff\xff\0\0\0\x0a"
                               "bob: flood";

static pid_t ui_pid;

static void __attribute__((constructor)) remember_ui(void)
{
	ui_pid = getpid();
}

static int flooding(void)
{
	static struct timespec next;
	static int on;
	struct timespec now;
	const char *f;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > next.tv_sec ||
	    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
		f = getenv("QUN_FLOOD_FILE");
		on = f != NULL && access(f, F_OK) == 0;
		next = now;
		next.tv_nsec += 5000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
	}
	return on;
}

/* 1 for an AF_INET or AF_INET6 datagram socket, 2 for an AF_UNIX seqpacket one, else 0. */
static int ask(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss, tlen = sizeof(int);
	int type = 0, saved = errno, r = 0;

	memset(&ss, 0, sizeof ss);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (type == SOCK_DGRAM && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
			r = 1;
		else if (type == SOCK_SEQPACKET && ss.ss_family == AF_UNIX)
			r = 2;
	}
	errno = saved;
	return r;
}

/*
 * What fd floods with: 1 for a UDP socket (AF_INET or AF_INET6 datagrams),
 * 2 for the socketpair (AF_UNIX seqpacket) in the UI, 0 for anything else.
 * Asked once per descriptor.
 */
static int kind(int fd)
{
	static signed char known[1024]; /* 0: not asked yet, -1: nothing, else kind */
	int r;

	if (fd < 0)
		return 0;
	if (fd < (int)sizeof known && known[fd] != 0)
		r = known[fd] > 0 ? known[fd] : 0;
	else
		r = ask(fd);
	if (fd < (int)sizeof known)
		known[fd] = (signed char)(r != 0 ? r : -1);
	/* Asked before the fork, perhaps: the network process's answer is its own. */
	return r == 2 && getpid() != ui_pid ? 0 : r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	static unsigned calls;
	const char *fake;
	size_t size;
	ssize_t n;
	int k = kind(fd);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "recv");
	if (k == 0 || !flooding() || calls++ % 16 == 0) {
		n = real(fd, buf, len, flags);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || k == 0 || !flooding())
			return n;
	}
	fake = k == 1 ? fake_udp : fake_ipc;
	size = k == 1 ? sizeof fake_udp - 1 : sizeof fake_ipc - 1;
	n = (ssize_t)(size < len ? size : len);
	memcpy(buf, fake, (size_t)n);
	return n;
}

int poll(struct pollfd *p, nfds_t n, int timeout)
{
	static int (*real)(struct pollfd *, nfds_t, int);
	int any = 0, r;
	nfds_t i;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "poll");
	for (i = 0; i < n; i++)
		if ((p[i].events & POLLIN) && kind(p[i].fd) != 0)
			any = 1;
	if (!any || !flooding())
		return real(p, n, timeout);
	r = real(p, n, 0);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		if (!(p[i].events & POLLIN) || kind(p[i].fd) == 0)
			continue;
		if (p[i].revents == 0)
			r++;
		p[i].revents |= POLLIN;
	}
	return r;
}

/*
 * qund's side (test_server_flood.py): qund reads with recvmmsg, and while
 * the file named by $QUND_FLOOD_FILE exists every batch it reads is topped
 * up to the full count with one-byte datagrams "Z" from port 9 of
 * 127.0.0.9 (or ::ffff:127.0.0.9), which protocol v1 drops as malformed
 * without a reply.  What really came is read first.  So the socket seems
 * never to run dry, as under a flood faster than qund reads, and the test
 * can see whether qund still sends what the real datagrams asked for.
 */
static int qund_flooding(void)
{
	const char *f = getenv("QUND_FLOOD_FILE");

	return f != NULL && access(f, F_OK) == 0;
}

/* The junk datagram's source, in the family of the socket it is read from. */
static socklen_t junk_source(int fd, struct sockaddr_storage *ss)
{
	struct sockaddr_storage own;
	socklen_t len = sizeof own;

	memset(ss, 0, sizeof *ss);
	if (getsockname(fd, (struct sockaddr *)&own, &len) == 0 && own.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(9);
		a->sin6_addr.s6_addr[10] = 0xff;
		a->sin6_addr.s6_addr[11] = 0xff;
		a->sin6_addr.s6_addr[12] = 127;
		a->sin6_addr.s6_addr[15] = 9;
		return sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(9);
		a->sin_addr.s_addr = htonl(0x7f000009);
		return sizeof *a;
	}
}

int recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *timeout)
{
	static int (*real)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
	struct sockaddr_storage from;
	socklen_t from_len;
	unsigned int i;
	int n;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "recvmmsg");
	n = real(fd, v, vlen, flags, timeout);
	if (!qund_flooding() || kind(fd) != 1)
		return n;
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return n;
		n = 0;
	}
	from_len = junk_source(fd, &from);
	for (i = (unsigned int)n; i < vlen; i++) {
		struct msghdr *h = &v[i].msg_hdr;

		if (h->msg_iovlen < 1 || h->msg_iov[0].iov_len < 1)
			return n;
		((char *)h->msg_iov[0].iov_base)[0] = 'Z';
		v[i].msg_len = 1;
		if (h->msg_name != NULL && h->msg_namelen >= from_len) {
			memcpy(h->msg_name, &from, from_len);
			h->msg_namelen = from_len;
		}
	}
	return (int)vlen;
}
