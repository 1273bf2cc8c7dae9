/* recvflood.c - LD_PRELOAD shim for the flood tests: qun's sockets never run dry. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
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
