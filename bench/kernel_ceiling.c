/* kernel_ceiling.c - the kernel UDP ceiling: sendto and sendmmsg loops from one core. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The question this answers: what does one datagram to one member cost the
 * kernel, with no chat server in the way?  N receiving sockets are made the
 * way the load generator makes its members (each on its own 127.2.x.y
 * address, 4 MB receive buffer, read with recvmmsg from one epoll loop in
 * this process); a child process pinned to one core (--cpu) sends a
 * datagram of --len bytes to each in turn, as fast as it can, for --secs
 * seconds: first one sendto() per datagram, then sendmmsg() in batches of
 * --batch.  The child measures its own CPU time (CLOCK_PROCESS_CPUTIME_ID,
 * the same sum_exec_runtime the load generator reads for the server from
 * /proc/PID/task/TID/schedstat), so "CPU per datagram" here and "server CPU
 * per delivery" there are the same measure.
 *
 * --split K adds a third run, the multi-core design of docs/PERFORMANCE.md
 * ("Past one core"): K senders at once, each pinned to its own core (--cpu,
 * --cpu + 1, ...), each with its own socket on the same address and port
 * (SO_REUSEPORT, so members see one server), each sending with sendmmsg to
 * its own slice of the members.  It reports the datagrams per second of
 * all K together and the time one message's fan-out to every member would
 * take at that rate, against the single sender's.  Output: one JSON object.
 */

#define RECV_BATCH 64
#define MAX_SPLIT  64

struct result {
	uint64_t sent, cpu_ns, wall_ns;
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "kernel_ceiling: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The sending child: pinned, flat out, then its counts down the pipe. */
static void __attribute__((noreturn))
sender(int fd, const struct sockaddr_in *to, size_t n, int use_mmsg, int batch, size_t len,
       double secs, int cpu, int out)
{
	char payload[1500];
	struct mmsghdr *msgs = calloc((size_t)batch, sizeof *msgs);
	struct iovec iov = {.iov_base = payload, .iov_len = len};
	struct result r = {0, 0, 0};
	uint64_t start, end, cpu0;
	size_t next = 0;
	cpu_set_t set;
	int i;

	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0)
			fprintf(stderr, "kernel_ceiling: cannot pin a sender to CPU %d: %s\n", cpu,
			        strerror(errno));
	}
	memset(payload, 'x', sizeof payload);
	for (i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_namelen = sizeof *to;
	}
	cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	start = now_ns(CLOCK_MONOTONIC);
	end = start + (uint64_t)(secs * 1e9);
	while (now_ns(CLOCK_MONOTONIC) < end) {
		if (!use_mmsg) {
			/* 64 sendto() between clock reads, so the clock costs nothing. */
			for (i = 0; i < 64; i++) {
				if (sendto(fd, payload, len, 0, (const struct sockaddr *)&to[next],
				           sizeof to[next]) > 0)
					r.sent++;
				next = next + 1 == n ? 0 : next + 1;
			}
		} else {
			int k;

			for (i = 0; i < batch; i++) {
				msgs[i].msg_hdr.msg_name = (void *)(uintptr_t)&to[next];
				next = next + 1 == n ? 0 : next + 1;
			}
			k = sendmmsg(fd, msgs, (unsigned)batch, 0);
			if (k > 0)
				r.sent += (uint64_t)k;
		}
	}
	r.wall_ns = now_ns(CLOCK_MONOTONIC) - start;
	r.cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(1);
	_exit(0);
}

static uint8_t rbuf[RECV_BATCH][1500];

/* Read everything ready on the members' sockets; returns datagrams read. */
static uint64_t receive(int ep, const int *fds, int timeout_ms)
{
	struct epoll_event evs[256];
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	uint64_t got = 0;
	int i, n, k;

	for (i = 0; i < RECV_BATCH; i++) {
		iov[i].iov_base = rbuf[i];
		iov[i].iov_len = sizeof rbuf[i];
		memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	n = epoll_wait(ep, evs, 256, timeout_ms);
	for (i = 0; i < n; i++) {
		k = recvmmsg(fds[evs[i].data.u32], msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (k > 0)
			got += (uint64_t)k;
	}
	return got;
}

/*
 * The CPU for sender i of a run that starts at CPU first: the i-th CPU from
 * first on that this process (the receivers) may not run on, so that the
 * senders do not share the receivers' cores; when there are not enough of
 * those, the i-th from first whatever it is.
 */
static int sender_cpu(int first, int i)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t mine;
	int c, k, free_seen = 0;

	if (ncpu < 1)
		ncpu = 1;
	if (sched_getaffinity(0, sizeof mine, &mine) == 0)
		for (k = 0; k < ncpu; k++) {
			c = (int)((first + k) % ncpu);
			if (!CPU_ISSET(c, &mine) && free_seen++ == i)
				return c;
		}
	return (int)((first + i) % ncpu);
}

/*
 * One run: K sender children (K = 1 but for --split), child i on socks[i]
 * sending to its slice of the N members, pinned by sender_cpu() (if
 * cpu >= 0), while this process receives; then one JSON member NAME.
 */
static void run(const char *name, const int *socks, int k, const struct sockaddr_in *to,
                const int *fds, size_t n, int ep, int use_mmsg, int batch, size_t len, double secs,
                int cpu, int last)
{
	struct result r, sum = {0, 0, 0};
	uint64_t got = 0, quiet_since;
	int pfd[2], i, live = 0;

	if (pipe(pfd) < 0)
		die("pipe");
	fflush(stdout);
	for (i = 0; i < k; i++) {
		size_t lo = n * (size_t)i / (size_t)k, hi = n * (size_t)(i + 1) / (size_t)k;

		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(pfd[0]);
			sender(socks[i], to + lo, hi - lo, use_mmsg, batch, len, secs,
			       cpu < 0 ? -1 : sender_cpu(cpu, i), pfd[1]);
		default:
			live++;
		}
	}
	close(pfd[1]);
	/* Receive while the children send; then until the sockets are quiet for 200 ms. */
	while (live > 0) {
		int status;

		while (live > 0 && waitpid(-1, &status, WNOHANG) > 0)
			live--;
		got += receive(ep, fds, 10);
	}
	quiet_since = now_ns(CLOCK_MONOTONIC);
	while (now_ns(CLOCK_MONOTONIC) - quiet_since < 200000000ull) {
		uint64_t g = receive(ep, fds, 10);

		if (g > 0) {
			got += g;
			quiet_since = now_ns(CLOCK_MONOTONIC);
		}
	}
	for (i = 0; i < k; i++) {
		if (read(pfd[0], &r, sizeof r) != (ssize_t)sizeof r) {
			fprintf(stderr, "kernel_ceiling: a sender died\n");
			exit(1);
		}
		sum.sent += r.sent;
		sum.cpu_ns += r.cpu_ns;
		if (r.wall_ns > sum.wall_ns)
			sum.wall_ns = r.wall_ns; /* together they took as long as the slowest */
	}
	close(pfd[0]);
	printf("\"%s\": {\"senders\": %d, \"dgrams_per_s\": %.1f, \"cpu_ns_per_dgram\": %.1f, "
	       "\"fanout_us\": %.1f, \"sent\": %" PRIu64 ", \"received\": %" PRIu64
	       ", \"loss\": %.6f}%s",
	       name, k, (double)sum.sent / ((double)sum.wall_ns / 1e9),
	       sum.sent ? (double)sum.cpu_ns / (double)sum.sent : 0,
	       sum.sent ? (double)n * (double)sum.wall_ns / 1e3 / (double)sum.sent : 0, sum.sent,
	       got, sum.sent ? 1.0 - (double)got / (double)sum.sent : 0, last ? "" : ", ");
}

/* A UDP socket on *a (port 0: any; the chosen address is written back), shared by SO_REUSEPORT. */
static int sender_socket(struct sockaddr_in *a)
{
	socklen_t alen = sizeof *a;
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)a, sizeof *a) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &alen) < 0)
		die("sender socket");
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"members", required_argument, NULL, 'n'},
	    {"secs", required_argument, NULL, 't'},
	    {"len", required_argument, NULL, 'l'},
	    {"cpu", required_argument, NULL, 'c'},
	    {"batch", required_argument, NULL, 'b'},
	    {"split", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	size_t n = 100, len = 40, i;
	double secs = 1.0;
	int cpu = -1, batch = 64, split = 1, c, ep, buf = 4 << 20, socks[MAX_SPLIT];
	struct sockaddr_in *to, a;
	socklen_t alen;
	int *fds;

	while ((c = getopt_long(argc, argv, "n:t:l:c:b:s:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'l':
			len = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 's':
			split = atoi(optarg);
			break;
		default:
			fputs("usage: kernel_ceiling [--members N] [--secs S] [--len BYTES] [--cpu "
			      "C] "
			      "[--batch B] [--split K]\n",
			      stderr);
			return 2;
		}
	}
	if (n == 0 || len == 0 || len > 1200 || batch < 1 || batch > 1024) {
		fputs("kernel_ceiling: need --members > 0, --len 1..1200, --batch 1..1024\n",
		      stderr);
		return 2;
	}
	if (split < 1 || split > MAX_SPLIT || (size_t)split > n) {
		fprintf(stderr, "kernel_ceiling: --split must be 1..%d and at most --members\n",
		        MAX_SPLIT);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (c = 0; c < split; c++)
		socks[c] = sender_socket(&a); /* the first picks the port, the others share it */
	ep = epoll_create1(0);
	to = calloc(n, sizeof *to);
	fds = calloc(n, sizeof *fds);
	for (i = 0; i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0)
			die("socket (raise ulimit -n)");
		if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
			setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
		to[i].sin_family = AF_INET;
		to[i].sin_addr.s_addr = htonl(0x7F020000u | (uint32_t)((i + 1) & 0xFFFF));
		if (bind(fds[i], (struct sockaddr *)&to[i], sizeof to[i]) < 0)
			die("bind 127.2.x.y");
		alen = sizeof to[i];
		getsockname(fds[i], (struct sockaddr *)&to[i], &alen);
		/* Like a member's socket, it takes datagrams from "the server" only. */
		if (connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0)
			die("connect");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("epoll_ctl");
	}
	printf("{\"members\": %zu, \"len\": %zu, \"batch\": %d, ", n, len, batch);
	run("sendto", socks, 1, to, fds, n, ep, 0, batch, len, secs, cpu, 0);
	run("sendmmsg", socks, 1, to, fds, n, ep, 1, batch, len, secs, cpu, split == 1);
	if (split > 1)
		run("split", socks, split, to, fds, n, ep, 1, batch, len, secs, cpu, 1);
	printf("}\n");
	return 0;
}
