/* loadgen.c - qun load generator: N members, one epoll process, v1 or v2; rate, latency. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/crc32.h"
#include "common/net.h"
#include "proto/rel.h"

/*
 * What this program does, in order: log N members into a running server
 * (v1: "L name" / "OK"; v2: HELLO, COOKIE, LOGIN, WELCOME), measuring
 * logins per second and the server's RSS (and, with --control, its heap
 * in use) before and after; then, for each run, search for the highest
 * rate of SAY messages (from S senders among the members) at which at
 * most --max-loss of the deliveries go missing, and report the
 * deliveries per second, the delivery latency percentiles
 * and the server's CPU time per delivery at that rate; finally one trial at
 * half the median rate, and one at each rate --at names for that size (so
 * that servers can be compared at one rate).  Members are grown in steps (--sizes 10,100,...),
 * so one login storm serves every size.  One JSON object per size goes to
 * stdout; progress goes to stderr.
 *
 * Each SAY's text carries the sender's CLOCK_MONOTONIC send time and the
 * trial number, so a receiver knows its latency and ignores stragglers of
 * an earlier trial.  The latency ends when the datagram reached the
 * receiver's socket (SO_TIMESTAMPNS), not when this process read it: one
 * process reads a thousand members' sockets in turn, and acknowledges for
 * them (v2), so its own queueing is not the server's, where each real
 * client reads on its own (docs/PERFORMANCE.md).  The latency to our read
 * is reported too (p50_read_us, ...).  v2 members acknowledge DATA once per receive batch, as
 * the protocol asks; v2 senders keep at most 33 SAYs in flight (the
 * protocol's send window) and retransmit after 300 ms.  Every v2 datagram
 * carries the protocol's CRC-32 trailer, appended by msend() and checked
 * by v2_in(); this costs the generator, not the server, so it does not
 * bias the server's numbers.  Every member has its own socket, bound to its
 * own loopback address 127.2.x.y (one IP per member, so per-IP limits and
 * per-IP rate limits see many sources), connected to the server.
 */

#define MAX_DGRAM    1500
#define RECV_BATCH   32
#define LOGIN_WINDOW 128 /* handshakes in progress at once */
/*
 * Growing a v2 room past PACE_ABOVE members, logins are paced so that the
 * join events they cause stay under FILL_BUDGET deliveries per second (a
 * login into a room of k costs k of them).  This process reads every
 * member's socket from one loop, so with thousands of members its round
 * trip reaches 200 ms; a member then drains at most 33 DATA (its window)
 * per round trip, and logins as fast as qund takes them overflowed every
 * member's queue of 1,024: qund evicted them as too slow.  A real room
 * fills far slower, and its members do not share one core.
 */
#define PACE_ABOVE     1000
#define FILL_BUDGET    100000.0
#define LOGIN_RETRY_NS 500000000ull
#define V2_WINDOW      33 /* REL_SEND_WINDOW: what the ack bits can report */
#define V2_CHECK_LEN   4  /* the CRC-32 trailer of every v2 datagram */
#define V2_RETX_NS     300000000ull
#define V2_PING_NS     20000000000ull
#define HIST_BUCKETS   2048
#define TEXT_LEN       32 /* SAY text: "t" ts(16) " " trial(4) " " pad */

enum { M_NEW, M_HELLO, M_LOGIN, M_IN, M_DEAD };

struct inflight {
	uint64_t sent_at; /* 0: slot free */
	uint32_t seq;
	uint8_t len;
	uint8_t payload[2 + TEXT_LEN];
};

struct member {
	int fd;
	int state;
	int idx;
	uint64_t t_sent; /* last handshake or any datagram sent, ns */
	uint64_t nonce, sid;
	uint8_t cookie[16];
	/* v2 receiving */
	uint32_t recv_next;
	uint64_t held;       /* bit i: seq recv_next + 1 + i has arrived */
	int ack_now;         /* a DATA out of order or again: acknowledge without delay */
	unsigned unacked;    /* DATA since our last ACK */
	uint64_t ack_since;  /* ns: the first of them arrived */
	uint64_t wait_since; /* ns: when it joined the wait list */
	/* Links of the two ACK lists (see flush_acks), as indices into G.m, which add_member may
	 * move; -1 ends a list. */
	uint8_t on_wait, on_due;
	int next_wait, next_due;
	/* v2 sending (senders only) */
	uint32_t next_seq, base;
	struct inflight *fl; /* V2_WINDOW slots */
	char name[24];
};

struct hist {
	uint64_t n[HIST_BUCKETS];
	uint64_t count;
};

struct trial {
	double rate, secs;
	uint64_t sent, blocked, expected, received, dups, evicted, notices;
	double loss, deliveries_per_s, achieved_rate;
	double drain_secs; /* from the last SAY sent to the last delivery */
	double cpu_ns_per_delivery, cpu_busy;
	double p50_us, p99_us, p999_us; /* send -> arrival in the receiver's socket */
	double p50_read_us, p99_read_us, p999_read_us; /* send -> read by this process */
};

static struct {
	int proto;
	struct sockaddr_in server;
	int server_pid;
	const char *control; /* the server's control socket, for its heap in use; NULL: none */
	int senders;
	double trial_secs, max_loss, grace_secs, max_drain;
	int runs;
	size_t *sizes, nsizes;
	size_t *at_size, nat; /* --at: extra fixed-rate trials, at_size[i] members at at_rate[i] */
	double *at_rate;
	int ep;
	struct member *m;
	size_t nm, cap;
	size_t joined;
	int wait_head, wait_tail, due_head; /* the ACK lists, -1 when empty */
	unsigned ack_every, ack_delay_ms;   /* delayed acknowledgements (see flush_acks) */
	/* current trial */
	uint32_t trial_id;
	uint64_t t_start, t_end;
	struct hist h, h_read; /* latency to arrival (the kernel's stamp) and to our read */
	uint64_t arrived;      /* ns: when the datagram being handled reached its socket */
	uint64_t received, dups, evicted, notices;
	uint64_t last_rx; /* ns: the latest delivery of this trial */
	uint64_t other_in;
} G;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the server, seen from /proc ---------------------------------------- */

/*
 * CPU time of every thread of the server, in ns: the sum over
 * /proc/PID/task/TID/schedstat (first field: time on CPU), which is exact,
 * where /proc/PID/stat's utime+stime count 10 ms ticks.  Returns 0 if
 * the server is unknown or gone.
 */
static uint64_t server_cpu_ns(void)
{
	char path[64], buf[128];
	uint64_t total = 0;
	struct dirent *d;
	DIR *dir;

	if (G.server_pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/task", G.server_pid);
	dir = opendir(path);
	if (dir == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.16s/schedstat", G.server_pid,
		         d->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof buf, f) != NULL)
			total += strtoull(buf, NULL, 10);
		fclose(f);
	}
	closedir(dir);
	return total;
}

/* The server's resident set size in bytes (VmRSS), or 0. */
static uint64_t server_rss(void)
{
	char path[64], line[256];
	uint64_t kb = 0;
	FILE *f;

	if (G.server_pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/status", G.server_pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtoull(line + 6, NULL, 10);
	fclose(f);
	return kb * 1024;
}

/*
 * The server's heap in use (qunctl stats' heap_bytes: what malloc handed out
 * and did not get back), asked on its control socket; 0 without --control
 * or on any failure.  RSS also counts memory freed and kept by malloc, so
 * after a fill's bursts it overstates what idle members cost.
 */
static uint64_t server_heap(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	static const char key[] = "\"heap_bytes\":";
	char reply[4096];
	const char *p;
	size_t have = 0;
	ssize_t n;
	int fd;

	if (G.control == NULL || strlen(G.control) >= sizeof a.sun_path)
		return 0;
	memcpy(a.sun_path, G.control, strlen(G.control) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    write(fd, "--json stats\n", 13) != 13) {
		close(fd);
		return 0;
	}
	while (have < sizeof reply - 1 && (n = read(fd, reply + have, sizeof reply - 1 - have)) > 0)
		have += (size_t)n;
	close(fd);
	reply[have] = '\0';
	p = strstr(reply, key);
	return p != NULL ? strtoull(p + sizeof key - 1, NULL, 10) : 0;
}

/* ---- latency histogram: 32 sub-buckets per power of two (<= 3% error) ---- */

static int hist_index(uint64_t v)
{
	int e;

	if (v < 32)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	return (e - 4) * 32 + (int)((v >> (e - 5)) & 31);
}

static uint64_t hist_value(int i)
{
	int e;

	if (i < 32)
		return (uint64_t)i;
	e = i / 32 + 4;
	return ((uint64_t)(32 + i % 32) << (e - 5)) + ((1ull << (e - 5)) >> 1);
}

static void hist_add(struct hist *h, uint64_t v)
{
	int i = hist_index(v);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->n[i]++;
	h->count++;
}

static double hist_pct(const struct hist *h, double p)
{
	uint64_t want, seen = 0;
	int i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(p * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen > want)
			return (double)hist_value(i) / 1000.0; /* ns -> us */
	}
	return 0;
}

/* ---- wire helpers ------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/*
 * Send buf[0..len) from m.  For v2 the datagram is the body followed by
 * its CRC-32, big-endian (PROTOCOL-v2.md), so the body is copied into a
 * local buffer with room for the trailer.
 */
static void msend(struct member *m, const void *buf, size_t len)
{
	uint8_t sealed[MAX_DGRAM];

	if (G.proto == 2) {
		if (len + V2_CHECK_LEN > sizeof sealed)
			die("v2 datagram of %zu bytes", len);
		memcpy(sealed, buf, len);
		put32(sealed + len, crc32_ieee(buf, len));
		buf = sealed;
		len += V2_CHECK_LEN;
	}
	if (send(m->fd, buf, len, 0) < 0 && errno != EAGAIN && errno != ECONNREFUSED)
		note("send from %s: %s", m->name, strerror(errno));
	m->t_sent = now_ns();
}

/* The session header of a v2 datagram from m, with m's receive ack fields. */
static size_t v2_hdr(struct member *m, uint8_t *b, uint8_t type, uint32_t seq)
{
	b[0] = 0xFE;
	b[1] = 2;
	b[2] = type;
	put64(b + 3, m->sid);
	put32(b + 11, seq);
	put32(b + 15, m->recv_next - 1);
	put32(b + 19, (uint32_t)m->held);
	m->unacked = 0; /* these fields acknowledge everything so far */
	m->ack_now = 0;
	return 23;
}

static void send_hello(struct member *m)
{
	uint8_t b[11] = {0xFE, 2, 1};

	put64(b + 3, m->nonce);
	msend(m, b, sizeof b);
	m->state = M_HELLO;
}

static void send_login(struct member *m)
{
	uint8_t b[64] = {0xFE, 2, 3};
	size_t nl = strlen(m->name);

	put64(b + 3, m->nonce);
	memcpy(b + 11, m->cookie, 16);
	b[27] = (uint8_t)nl;
	memcpy(b + 28, m->name, nl);
	msend(m, b, 28 + nl);
	m->state = M_LOGIN;
}

static void start_login(struct member *m)
{
	char b[64];
	int n;

	if (G.proto == 1) {
		n = snprintf(b, sizeof b, "L %s", m->name);
		msend(m, b, (size_t)n);
		m->state = M_LOGIN;
	} else {
		m->nonce = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ now_ns();
		m->recv_next = 1;
		m->held = 0;
		m->next_seq = m->base = 1;
		if (m->fl != NULL)
			memset(m->fl, 0, V2_WINDOW * sizeof *m->fl);
		send_hello(m);
	}
}

/* ---- members ------------------------------------------------------------ */

static void add_member(void)
{
	struct member *m;
	struct sockaddr_in a;
	struct epoll_event ev;
	size_t i = G.nm;
	int buf = 4 << 20, one = 1;

	if (G.nm == G.cap) {
		G.cap = G.cap ? G.cap * 2 : 64;
		G.m = realloc(G.m, G.cap * sizeof *G.m);
		if (G.m == NULL)
			die("out of memory");
	}
	m = &G.m[G.nm++];
	memset(m, 0, sizeof *m);
	m->idx = (int)i;
	if ((int)i < G.senders) {
		snprintf(m->name, sizeof m->name, "s%zu", i);
		m->fl = calloc(V2_WINDOW, sizeof *m->fl);
		if (m->fl == NULL)
			die("out of memory");
	} else {
		snprintf(m->name, sizeof m->name, "m%zu", i);
	}
	m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		die("socket: %s (raise ulimit -n)", strerror(errno));
	/* Big receive buffers (SO_RCVBUFFORCE as root, else up to rmem_max): bursts must not drop
	 * here. */
	if (setsockopt(m->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) < 0)
		setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	/* Latency is to the datagram's arrival, not to our read of it (see the top). */
	if (setsockopt(m->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0)
		die("SO_TIMESTAMPNS: %s", strerror(errno));
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(0x7F020000u | (uint32_t)((i + 1) & 0xFFFF));
	a.sin_port = htons((uint16_t)(i < 65535 ? 0 : 20000 + i / 65535));
	if (bind(m->fd, (struct sockaddr *)&a, sizeof a) < 0)
		die("bind 127.2.x.y: %s", strerror(errno));
	if (connect(m->fd, (struct sockaddr *)&G.server, sizeof G.server) < 0)
		die("connect: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(G.ep, EPOLL_CTL_ADD, m->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* ---- receiving ---------------------------------------------------------- */

/* A SAY's text: "t<16 hex ns> <4 hex trial> ...". Account one delivery. */
static void on_say_text(const char *t, size_t len, uint64_t now)
{
	uint64_t arrived = G.arrived < now ? G.arrived : now;
	char hex[17];
	uint64_t ts;
	unsigned long trial;

	if (len < 22 || t[0] != 't')
		return;
	memcpy(hex, t + 1, 16);
	hex[16] = '\0';
	ts = strtoull(hex, NULL, 16);
	memcpy(hex, t + 18, 4);
	hex[4] = '\0';
	trial = strtoul(hex, NULL, 16);
	if (trial != (G.trial_id & 0xFFFF) || ts < G.t_start)
		return;
	G.received++;
	G.last_rx = now;
	hist_add(&G.h, arrived > ts ? arrived - ts : 0);
	hist_add(&G.h_read, now > ts ? now - ts : 0);
}

static void v1_in(struct member *m, const char *b, size_t n, uint64_t now)
{
	const char *p;

	if (m->state == M_LOGIN && n == 2 && memcmp(b, "OK", 2) == 0) {
		m->state = M_IN;
		G.joined++;
		return;
	}
	if (n == 4 && memcmp(b, "EXIT", 4) == 0) {
		if (m->state == M_IN) {
			G.joined--;
			G.evicted++;
		}
		m->state = M_DEAD;
		return;
	}
	p = memmem(b, n, ": t", 3);
	if (p != NULL && b[0] == 's')
		on_say_text(p + 2, n - (size_t)(p + 2 - b), now);
	else
		G.other_in++;
}

/* Put m at the back of the ACK wait list, as owing since its ack_since (see flush_acks). */
static void wait_append(struct member *m)
{
	m->wait_since = m->ack_since;
	m->next_wait = -1;
	if (G.wait_tail < 0)
		G.wait_head = m->idx;
	else
		G.m[G.wait_tail].next_wait = m->idx;
	G.wait_tail = m->idx;
}

/* m got a DATA (in order or not, out_of_order says): an ACK is owed (see flush_acks). */
static void mark_ack(struct member *m, int out_of_order, uint64_t now)
{
	if (m->unacked++ == 0)
		m->ack_since = now;
	if (out_of_order)
		m->ack_now = 1;
	if ((m->ack_now || m->unacked >= G.ack_every) && !m->on_due) {
		m->on_due = 1;
		m->next_due = G.due_head;
		G.due_head = m->idx;
	}
	if (m->on_wait)
		return;
	m->on_wait = 1;
	wait_append(m);
}

/* A reliable message for m, seen for the first time. */
static void v2_message(const uint8_t *p, size_t n, uint64_t now)
{
	size_t nl;

	if (n >= 1 && p[0] == 0x82) {
		G.notices++;
		return;
	}
	if (n < 12 || p[0] != 0x81)
		return;
	nl = p[11];
	if (12 + nl > n)
		return;
	if (p[9] == 1 && nl > 0 && p[12] == 's')
		on_say_text((const char *)p + 12 + nl, n - 12 - nl, now);
	else
		G.other_in++;
}

/* Release the sender's in-flight SAYs that the server's ack fields cover. */
static void v2_acked(struct member *m, uint32_t ack, uint32_t bits)
{
	uint32_t s;
	int i;

	if (m->fl == NULL)
		return;
	for (s = m->base; s < m->next_seq && s <= ack; s++)
		m->fl[s % V2_WINDOW].sent_at = 0;
	for (i = 0; i < 32; i++)
		if ((bits >> i) & 1u) {
			s = ack + 2 + (uint32_t)i;
			if (s >= m->base && s < m->next_seq)
				m->fl[s % V2_WINDOW].sent_at = 0;
		}
	while (m->base < m->next_seq && m->fl[m->base % V2_WINDOW].sent_at == 0)
		m->base++;
}

static void v2_data(struct member *m, uint32_t seq, const uint8_t *p, size_t n, uint64_t now)
{
	mark_ack(m, seq != m->recv_next, now);
	if (seq < m->recv_next) {
		G.dups++;
		return;
	}
	if (seq > m->recv_next) {
		uint32_t d = seq - m->recv_next - 1;

		if (d >= 64)
			return; /* beyond what we can hold: the server will send it again */
		if (m->held & (1ull << d)) {
			G.dups++;
			return;
		}
		m->held |= 1ull << d;
		v2_message(p, n, now);
		return;
	}
	v2_message(p, n, now);
	for (;;) {
		int b0 = (int)(m->held & 1);

		m->held >>= 1;
		m->recv_next++;
		if (!b0)
			break;
	}
}

/* A datagram from the server to m: checked and stripped of its CRC-32, then handled by type. */
static void v2_in(struct member *m, const uint8_t *b, size_t n, uint64_t now)
{
	if (n < 3 + V2_CHECK_LEN ||
	    get32(b + n - V2_CHECK_LEN) != crc32_ieee(b, n - V2_CHECK_LEN)) {
		G.other_in++; /* damaged: loopback does not damage, so a server bug */
		return;
	}
	n -= V2_CHECK_LEN;
	if (b[0] != 0xFE || b[1] != 2)
		return;
	switch (b[2]) {
	case 0x02: /* COOKIE */
		if (n == 27 && m->state == M_HELLO && get64(b + 3) == m->nonce) {
			memcpy(m->cookie, b + 11, 16);
			send_login(m);
		}
		return;
	case 0x04: /* WELCOME */
		if (n == 23 && m->state == M_LOGIN && get64(b + 3) == m->nonce) {
			m->sid = get64(b + 11);
			m->state = M_IN;
			G.joined++;
		}
		return;
	case 0x05: /* REFUSE */
		if (n >= 13)
			die("%s refused: %.*s", m->name, (int)(n - 13), (const char *)b + 13);
		return;
	case 0x13: /* CLOSE */
		if (n == 12 && m->state == M_IN && get64(b + 3) == m->sid) {
			m->state = M_DEAD;
			G.joined--;
			G.evicted++;
		}
		return;
	case 0x10: /* DATA */
	case 0x11: /* ACK */
		if (n < 23 || m->state != M_IN || get64(b + 3) != m->sid)
			return;
		v2_acked(m, get32(b + 15), get32(b + 19));
		if (b[2] == 0x10 && n > 23)
			v2_data(m, get32(b + 11), b + 23, n - 23, now);
		return;
	default:
		return;
	}
}

/*
 * Send the ACKs that are due, the way qun's client does
 * (client2.h, C2_ACK_EVERY and C2_ACK_DELAY; PROTOCOL-v2.md): a member
 * acknowledges once it holds --ack-every unacknowledged DATA (default 8),
 * at once after one out of order or repeated, and otherwise --ack-delay
 * ms (default 200, the protocol's most) after the first.  --ack-every 1
 * is the protocol's earlier rule, one ACK per member that got DATA in a
 * receive batch; --ack-delay 80 was the delay before 2026-11-26.
 *
 * With thousands of members most of them owe an ACK at any moment, so
 * this must not walk them all on every poll round: the members whose ACK
 * is due at once are on the due list, and every member that owes one is
 * on the wait list in the order its debt began, so only the due head of
 * that list is looked at.  A member whose ACK went out with something
 * else (v2_hdr) stays on the lists and is dropped when reached; one whose
 * debt began again since it joined the wait list goes to its back.
 */
static void send_ack(struct member *m)
{
	uint8_t b[23];

	if (m->state == M_IN && m->unacked > 0)
		msend(m, b, v2_hdr(m, b, 0x11, 0));
}

static void flush_acks(uint64_t now)
{
	uint64_t delay = (uint64_t)G.ack_delay_ms * 1000000ull;
	struct member *m;

	while (G.due_head >= 0) {
		m = &G.m[G.due_head];
		G.due_head = m->next_due;
		m->on_due = 0;
		send_ack(m);
	}
	while (G.wait_head >= 0) {
		m = &G.m[G.wait_head];
		if (m->state == M_IN && m->unacked > 0 && now - m->ack_since < delay) {
			if (m->ack_since == m->wait_since || G.wait_head == G.wait_tail)
				break; /* in order: everyone behind it began owing later */
			G.wait_head = m->next_wait;
			wait_append(m); /* began owing again since it joined: to the back */
			continue;
		}
		G.wait_head = m->next_wait;
		if (G.wait_head < 0)
			G.wait_tail = -1;
		m->on_wait = 0;
		send_ack(m);
	}
}

static uint8_t rbufs[RECV_BATCH][MAX_DGRAM];
static char rcmsgs[RECV_BATCH][CMSG_SPACE(sizeof(struct timespec))];

static void drain_fd(struct member *m)
{
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct timespec real;
	uint64_t now;
	int i, n;

	for (i = 0; i < RECV_BATCH; i++) {
		iov[i].iov_base = rbufs[i];
		iov[i].iov_len = MAX_DGRAM;
		memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = rcmsgs[i];
		msgs[i].msg_hdr.msg_controllen = sizeof rcmsgs[i];
	}
	n = recvmmsg(m->fd, msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	now = now_ns();
	clock_gettime(CLOCK_REALTIME, &real);
	for (i = 0; i < n; i++) {
		G.arrived = net_arrival_ns(&msgs[i].msg_hdr, now, &real);
		if (G.arrived == 0)
			G.arrived = now; /* no stamp: the read is the best we know */
		if (G.proto == 1)
			v1_in(m, (const char *)rbufs[i], msgs[i].msg_len, now);
		else
			v2_in(m, rbufs[i], msgs[i].msg_len, now);
	}
}

/* Wait at most timeout_ns for datagrams and handle every one that is there. Returns how many fds
 * were ready. */
static int poll_once(uint64_t timeout_ns)
{
	static struct epoll_event evs[1024];
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000ull),
	                      .tv_nsec = (long)(timeout_ns % 1000000000ull)};
	int i, n;

	n = epoll_pwait2(G.ep, evs, 1024, &ts, NULL);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		die("epoll_pwait2: %s", strerror(errno));
	}
	for (i = 0; i < n; i++)
		drain_fd(&G.m[evs[i].data.u32]);
	if (G.proto == 2)
		flush_acks(now_ns());
	return n;
}

/* Read until nothing arrives for quiet_ns (at most max_ns). */
static void drain_quiet(uint64_t quiet_ns, uint64_t max_ns)
{
	uint64_t start = now_ns(), last = start, now;

	for (;;) {
		if (poll_once(quiet_ns / 4) > 0)
			last = now_ns();
		now = now_ns();
		if (now - last >= quiet_ns || now - start >= max_ns)
			return;
	}
}

/* ---- sending SAYs ------------------------------------------------------- */

static int v2_window_full(const struct member *m)
{
	return m->next_seq - m->base >= V2_WINDOW;
}

/* Send one SAY from sender m now; returns 0 if its window is full (v2). */
static int send_say(struct member *m, uint64_t now, uint64_t k)
{
	char text[TEXT_LEN + 1];
	uint8_t b[64];
	struct inflight *f;
	size_t h;
	int n;

	n = snprintf(text, sizeof text, "t%016" PRIx64 " %04x %08x.", now, G.trial_id & 0xFFFF,
	             (unsigned)(k & 0xFFFFFFFFu));
	if (n > TEXT_LEN)
		n = TEXT_LEN;
	if (G.proto == 1) {
		char line[64];
		int l = snprintf(line, sizeof line, "C %s %.*s", m->name, n, text);

		msend(m, line, (size_t)l);
		return 1;
	}
	if (v2_window_full(m))
		return 0;
	f = &m->fl[m->next_seq % V2_WINDOW];
	f->seq = m->next_seq++;
	f->sent_at = now;
	f->payload[0] = 0x01; /* SAY */
	f->payload[1] = 0;    /* flags */
	memcpy(f->payload + 2, text, (size_t)n);
	f->len = (uint8_t)(2 + n);
	h = v2_hdr(m, b, 0x10, f->seq);
	memcpy(b + h, f->payload, f->len);
	msend(m, b, h + f->len);
	return 1;
}

/* v2 timers: retransmit SAYs unacknowledged for V2_RETX_NS; PING members idle for V2_PING_NS. */
static void v2_timers(uint64_t now)
{
	uint8_t b[64];
	size_t i;

	for (i = 0; i < G.nm; i++) {
		struct member *m = &G.m[i];
		uint32_t s;

		if (m->state != M_IN)
			continue;
		if (m->fl != NULL)
			for (s = m->base; s < m->next_seq; s++) {
				struct inflight *f = &m->fl[s % V2_WINDOW];
				size_t h;

				if (f->sent_at == 0 || now - f->sent_at < V2_RETX_NS)
					continue;
				f->sent_at = now;
				h = v2_hdr(m, b, 0x10, f->seq);
				memcpy(b + h, f->payload, f->len);
				msend(m, b, h + f->len);
			}
		if (now - m->t_sent > V2_PING_NS)
			msend(m, b, v2_hdr(m, b, 0x12, 0));
	}
}

/* ---- logging in --------------------------------------------------------- */

/* Log members in until there are `want` of them; returns logins per second. */
static double grow_to(size_t want)
{
	uint64_t start = now_ns(), last_timers = start, paced_since = 0;
	size_t first = G.nm, i, next;
	double committed = 0; /* join deliveries the paced logins cause */

	while (G.nm < want)
		add_member();
	next = first;
	while (G.joined < want) {
		uint64_t now = now_ns();
		size_t pending = 0;

		/* Every handshake in progress is retried, re-logins of evicted members too. */
		for (i = 0; i < G.nm; i++)
			if (G.m[i].state == M_HELLO || G.m[i].state == M_LOGIN) {
				pending++;
				if (now - G.m[i].t_sent > LOGIN_RETRY_NS)
					start_login(&G.m[i]);
			}
		while (pending < LOGIN_WINDOW && next < G.nm) {
			if (G.proto == 2 && G.joined >= PACE_ABOVE) {
				if (paced_since == 0)
					paced_since = now;
				if (committed > (double)(now - paced_since) / 1e9 * FILL_BUDGET)
					break;
				committed += (double)G.joined;
			}
			start_login(&G.m[next++]);
			pending++;
		}
		/* Anyone evicted (v2, too slow during the storm) logs in again. */
		for (i = 0; i < next; i++)
			if (G.m[i].state == M_DEAD)
				start_login(&G.m[i]);
		poll_once(1000000);
		if (G.proto == 2 && now - last_timers > 50000000ull) {
			v2_timers(now);
			last_timers = now;
		}
		if (now - start > 1800000000000ull)
			die("logging in %zu members took over 30 minutes (%zu in)", want, G.joined);
	}
	return (double)(want - first) / ((double)(now_ns() - start) / 1e9);
}

/* Bring back members evicted during a trial, and settle everything in flight. */
static void settle(void)
{
	size_t i, dead = 0;

	for (i = 0; i < G.nm; i++)
		if (G.m[i].state == M_DEAD) {
			dead++;
			start_login(&G.m[i]);
		}
	if (dead > 0) {
		note("%zu members were evicted; logging them in again", dead);
		grow_to(G.nm);
	}
	drain_quiet(200000000ull, 5000000000ull);
	if (G.proto == 2) {
		uint64_t until = now_ns() + 3000000000ull;
		int busy = 1;

		while (busy && now_ns() < until) {
			busy = 0;
			for (i = 0; i < (size_t)G.senders; i++)
				if (G.m[i].base != G.m[i].next_seq)
					busy = 1;
			v2_timers(now_ns());
			poll_once(10000000);
		}
	}
}

/* ---- one trial ---------------------------------------------------------- */

static void run_trial(double rate, double secs, struct trial *t)
{
	uint64_t cpu0, cpu1, start, end, now, k = 0, last_timers, dt;
	size_t members_in;
	int s = 0;

	memset(t, 0, sizeof *t);
	t->rate = rate;
	t->secs = secs;
	G.trial_id++;
	memset(&G.h, 0, sizeof G.h);
	memset(&G.h_read, 0, sizeof G.h_read);
	G.received = G.dups = G.evicted = G.notices = 0;
	G.last_rx = 0;
	members_in = G.joined;
	start = now_ns();
	G.t_start = start;
	end = start + (uint64_t)(secs * 1e9);
	cpu0 = server_cpu_ns();
	last_timers = start;
	for (;;) {
		uint64_t due_at;

		now = now_ns();
		if (now >= end)
			break;
		/* Send every SAY that is due by now, round-robin over the senders. */
		while ((due_at = start + (uint64_t)((double)k * 1e9 / rate)) <= now &&
		       due_at < end) {
			struct member *m = &G.m[s];

			s = (s + 1) % G.senders;
			if (m->state == M_IN && send_say(m, now, k))
				t->sent++;
			else
				t->blocked++;
			k++;
		}
		if (G.proto == 2 && now - last_timers > 50000000ull) {
			v2_timers(now);
			last_timers = now;
		}
		due_at = start + (uint64_t)((double)k * 1e9 / rate);
		dt = due_at > now ? due_at - now : 0;
		if (dt > 1000000)
			dt = 1000000;
		poll_once(dt);
	}
	/* Stop sending; deliveries still in the pipes count until the grace period ends. */
	{
		uint64_t grace_end = end + (uint64_t)(G.grace_secs * 1e9);

		while ((now = now_ns()) < grace_end) {
			if (G.proto == 2 && now - last_timers > 50000000ull) {
				v2_timers(now);
				last_timers = now;
			}
			if (G.received >= t->sent * (members_in - 1) && t->sent > 0)
				break;
			poll_once(1000000);
		}
	}
	cpu1 = server_cpu_ns();
	t->received = G.received;
	t->expected = t->sent * (members_in - 1);
	t->dups = G.dups;
	t->evicted = G.evicted;
	t->notices = G.notices;
	t->loss = t->expected ? 1.0 - (double)t->received / (double)t->expected : 1.0;
	if (t->loss < 0)
		t->loss = 0;
	/*
	 * Deliveries per second over the time they really took: what was still
	 * queued when the senders stopped counts against the rate, so a rate
	 * the server only absorbs into socket buffers is not reported as
	 * throughput (and trial_ok refuses it).
	 */
	t->drain_secs = G.last_rx > end ? (double)(G.last_rx - end) / 1e9 : 0;
	t->deliveries_per_s = (double)t->received / (secs + t->drain_secs);
	t->achieved_rate = (double)t->sent / secs;
	t->cpu_ns_per_delivery = t->received ? (double)(cpu1 - cpu0) / (double)t->received : 0;
	t->cpu_busy = (double)(cpu1 - cpu0) / ((double)(now_ns() - start));
	t->p50_us = hist_pct(&G.h, 0.50);
	t->p99_us = hist_pct(&G.h, 0.99);
	t->p999_us = hist_pct(&G.h, 0.999);
	t->p50_read_us = hist_pct(&G.h_read, 0.50);
	t->p99_read_us = hist_pct(&G.h_read, 0.99);
	t->p999_read_us = hist_pct(&G.h_read, 0.999);
	note("  rate %9.0f/s: sent %" PRIu64 " blocked %" PRIu64 " loss %.4f%% drain %.0fms "
	     "deliveries %.0f/s p50 %.0fus p99 %.0fus cpu %.0fns/delivery (%.0f%% busy)%s",
	     rate, t->sent, t->blocked, 100 * t->loss, t->drain_secs * 1e3, t->deliveries_per_s,
	     t->p50_us, t->p99_us, t->cpu_ns_per_delivery, 100 * t->cpu_busy,
	     t->evicted ? " EVICTIONS" : "");
	settle();
}

/* The geometric mean: rates are searched on a log scale. */
static double sqrt_mid(double lo, double hi)
{
	return sqrt(lo * hi);
}

/*
 * A rate is sustained if at most --max-loss of the deliveries are missing,
 * nobody was evicted, the senders kept to the rate (v2: their windows did
 * not fill), and the server kept up: what was queued when the senders
 * stopped was delivered within --max-drain (a server that falls behind
 * would otherwise pass by draining its socket buffer in the grace period,
 * and "half the maximum rate" would be a saturated server).
 */
static int trial_ok(const struct trial *t)
{
	return t->loss <= G.max_loss && t->evicted == 0 && t->sent >= 0.97 * t->rate * t->secs &&
	       t->drain_secs <= G.max_drain;
}

/*
 * Highest rate with an ok trial: from `guess`, double (or halve) until the
 * answer is bracketed, then bisect on a log scale `steps` times.  *best
 * gets the trial at the best rate.
 */
static void search(double guess, int steps, struct trial *best)
{
	struct trial t;
	double lo = 0, hi = 0, r = guess;
	int i, have = 0;

	for (i = 0; i < 12; i++) {
		run_trial(r, G.trial_secs, &t);
		if (trial_ok(&t)) {
			lo = r;
			*best = t;
			have = 1;
			if (hi > 0)
				break;
			r *= 2;
		} else {
			hi = r;
			if (lo > 0)
				break;
			r /= 2;
			if (r < 1)
				break;
		}
	}
	if (!have) {
		memset(best, 0, sizeof *best);
		return;
	}
	for (i = 0; i < steps && hi > 0; i++) {
		r = sqrt_mid(lo, hi);
		run_trial(r, G.trial_secs, &t);
		if (trial_ok(&t)) {
			lo = r;
			*best = t;
		} else {
			hi = r;
		}
	}
}

/* ---- output ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void print_trial(const char *key, const struct trial *t, int comma)
{
	printf("\"%s\": {\"rate\": %.1f, \"sent\": %" PRIu64 ", \"expected\": %" PRIu64
	       ", \"received\": %" PRIu64 ", \"loss\": %.6f, \"deliveries_per_s\": %.1f, "
	       "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
	       "\"p50_read_us\": %.1f, \"p99_read_us\": %.1f, \"p999_read_us\": %.1f, "
	       "\"drain_s\": %.4f, \"cpu_ns_per_delivery\": %.1f, \"cpu_busy\": %.3f, \"dups\": "
	       "%" PRIu64 ", \"evicted\": %" PRIu64 "}%s",
	       key, t->rate, t->sent, t->expected, t->received, t->loss, t->deliveries_per_s,
	       t->p50_us, t->p99_us, t->p999_us, t->p50_read_us, t->p99_read_us, t->p999_read_us,
	       t->drain_secs, t->cpu_ns_per_delivery, t->cpu_busy, t->dups, t->evicted,
	       comma ? ", " : "");
}

/* The usage text: to stdout and exit 0 for --help, else to stderr and exit 2. */
static void usage(int status)
{
	fputs("usage: loadgen -s HOST:PORT [-P 1|2] [--pid PID] [--sizes N,N,...] [--senders S]\n"
	      "               [--runs R] [--trial SECS] [--grace SECS] [--max-loss FRACTION]\n"
	      "               [--guess DELIVERIES_PER_S] [--fixed DELIVERIES_PER_S]\n"
	      "               [--max-drain SECS] [--ack-every N] [--ack-delay MS]\n"
	      "               [--control PATH] [--at SIZE:MSGS_PER_S,...]\n"
	      "See the comment at the top of bench/loadgen.c and docs/PERFORMANCE.md.\n",
	      status == 0 ? stdout : stderr);
	exit(status);
}

/* --at SIZE:RATE,SIZE:RATE,...: RATE in messages per second, as a trial's rate. */
static void parse_at(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL, *colon, *end;

	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		colon = strchr(tok, ':');
		if (colon == NULL || atof(colon + 1) <= 0)
			die("--at: need SIZE:RATE, got %s", tok);
		G.at_size = realloc(G.at_size, (G.nat + 1) * sizeof *G.at_size);
		G.at_rate = realloc(G.at_rate, (G.nat + 1) * sizeof *G.at_rate);
		if (G.at_size == NULL || G.at_rate == NULL)
			die("out of memory");
		G.at_size[G.nat] = strtoul(tok, &end, 10);
		if (end != colon || G.at_size[G.nat] == 0)
			die("--at: need SIZE:RATE, got %s", tok);
		G.at_rate[G.nat++] = atof(colon + 1);
	}
	free(copy);
}

/* Every --at SIZE must be one of --sizes: a trial that never runs would go unnoticed. */
static void check_at(void)
{
	size_t i, k;

	for (i = 0; i < G.nat; i++) {
		for (k = 0; k < G.nsizes && G.sizes[k] != G.at_size[i]; k++)
			;
		if (k == G.nsizes)
			die("--at: size %zu is not in --sizes", G.at_size[i]);
	}
}

/*
 * Run the trials --at asks for at N members (at most AT_MAX), in the order
 * given, into t; returns how many.  Run before the size's line is printed,
 * so that a failure in them cannot leave half a line of JSON.
 */
#define AT_MAX 16
static size_t at_trials(size_t n, struct trial *t)
{
	size_t i, k = 0;

	for (i = 0; i < G.nat && k < AT_MAX; i++) {
		if (G.at_size[i] != n)
			continue;
		note("at %.1f msg/s, %zu members", G.at_rate[i], n);
		run_trial(G.at_rate[i], G.trial_secs * 2, &t[k++]);
	}
	return k;
}

/* The --at trials as a JSON member "at": an array, in the order given. */
static void print_at(const struct trial *t, size_t k)
{
	size_t i;

	printf(", \"at\": [");
	for (i = 0; i < k; i++) {
		printf("%s{", i ? ", " : "");
		print_trial("trial", &t[i], 0);
		printf("}");
	}
	printf("]");
}

static void parse_sizes(const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		G.sizes = realloc(G.sizes, (G.nsizes + 1) * sizeof *G.sizes);
		G.sizes[G.nsizes++] = strtoul(tok, NULL, 10);
	}
	free(copy);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"proto", required_argument, NULL, 'P'},
	    {"pid", required_argument, NULL, 'p'},
	    {"sizes", required_argument, NULL, 'n'},
	    {"senders", required_argument, NULL, 'S'},
	    {"runs", required_argument, NULL, 'r'},
	    {"trial", required_argument, NULL, 't'},
	    {"grace", required_argument, NULL, 'g'},
	    {"max-loss", required_argument, NULL, 'l'},
	    {"guess", required_argument, NULL, 'G'},
	    {"fixed", required_argument, NULL, 'F'},
	    {"ack-every", required_argument, NULL, 'A'},
	    {"ack-delay", required_argument, NULL, 'D'},
	    {"max-drain", required_argument, NULL, 'd'},
	    {"control", required_argument, NULL, 'C'},
	    {"at", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	double guess = 200000, fixed = 0;
	size_t si;
	int c;
	char *colon;
	uint64_t rss0, heap0;

	G.proto = 2;
	G.senders = 1;
	G.ack_every = 8; /* as client2.h's C2_ACK_EVERY and C2_ACK_DELAY */
	G.ack_delay_ms = REL_MAX_ACK_DELAY;
	G.wait_head = G.wait_tail = G.due_head = -1;
	G.runs = 3;
	G.trial_secs = 1.0;
	G.grace_secs = 0.5;
	G.max_drain = 0.05;
	G.max_loss = 0.001;
	memset(&G.server, 0, sizeof G.server);
	G.server.sin_family = AF_INET;
	while ((c = getopt_long(argc, argv, "s:P:p:n:S:r:t:g:l:G:F:A:D:d:C:a:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			colon = strrchr(optarg, ':');
			if (colon == NULL)
				usage(2);
			*colon = '\0';
			if (inet_pton(AF_INET, optarg, &G.server.sin_addr) != 1)
				die("-s: need an IPv4 address, got %s", optarg);
			G.server.sin_port = htons((uint16_t)atoi(colon + 1));
			break;
		case 'P':
			G.proto = atoi(optarg);
			break;
		case 'p':
			G.server_pid = atoi(optarg);
			break;
		case 'n':
			parse_sizes(optarg);
			break;
		case 'S':
			G.senders = atoi(optarg);
			break;
		case 'r':
			G.runs = atoi(optarg);
			break;
		case 't':
			G.trial_secs = atof(optarg);
			break;
		case 'g':
			G.grace_secs = atof(optarg);
			break;
		case 'l':
			G.max_loss = atof(optarg);
			break;
		case 'G':
			guess = atof(optarg);
			break;
		case 'F':
			fixed = atof(optarg);
			break;
		case 'd':
			G.max_drain = atof(optarg);
			break;
		case 'A':
			G.ack_every = (unsigned)atoi(optarg);
			break;
		case 'D':
			G.ack_delay_ms = (unsigned)atoi(optarg);
			break;
		case 'C':
			G.control = optarg;
			break;
		case 'a':
			parse_at(optarg);
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (G.server.sin_port == 0 || (G.proto != 1 && G.proto != 2) || G.senders < 1 || G.runs < 1)
		usage(2);
	if (G.nsizes == 0)
		parse_sizes("10,100");
	check_at();
	srand((unsigned)now_ns());
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	if (G.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	rss0 = server_rss();
	heap0 = server_heap();
	for (si = 0; si < G.nsizes; si++) {
		size_t n = G.sizes[si];
		struct trial best[16], half, at[AT_MAX];
		size_t nat;
		double rates[16], logins, rss_per, heap_per, rate;
		uint64_t rss, heap;
		int r;

		if (n < (size_t)G.senders + 1)
			die("size %zu: need more members than senders", n);
		note("proto v%d: logging in %zu members", G.proto, n);
		logins = grow_to(n);
		drain_quiet(300000000ull, 120000000000ull);
		rss = server_rss();
		rss_per = rss > rss0 ? (double)(rss - rss0) / (double)n : 0;
		heap = server_heap();
		heap_per = heap > heap0 ? (double)(heap - heap0) / (double)n : 0;
		note("%zu members in, %.0f logins/s, server RSS %.1f MB (%.0f B/member), heap %.1f "
		     "MB "
		     "(%.0f B/member)",
		     n, logins, (double)rss / 1e6, rss_per, (double)heap / 1e6, heap_per);
		rate = guess / (double)(n - 1);
		if (G.runs > 16)
			G.runs = 16;
		for (r = 0; r < G.runs; r++) {
			note("run %d of %d, %zu members", r + 1, G.runs, n);
			if (fixed > 0)
				run_trial(fixed / (double)(n - 1), G.trial_secs, &best[r]);
			else
				search(rate, r == 0 ? 5 : 4, &best[r]);
			rates[r] = best[r].rate;
			if (best[r].rate > 0)
				rate = best[r].rate; /* the next run starts from here */
		}
		qsort(rates, (size_t)G.runs, sizeof rates[0], cmp_double);
		note("half of the median rate, %.0f/s", rates[G.runs / 2] / 2);
		run_trial(rates[G.runs / 2] / 2 > 1 ? rates[G.runs / 2] / 2 : 1, G.trial_secs * 2,
		          &half);
		nat = at_trials(n, at);
		printf("{\"proto\": %d, \"members\": %zu, \"senders\": %d, \"logins_per_s\": %.1f, "
		       "\"rss_bytes\": %" PRIu64 ", \"rss0_bytes\": %" PRIu64
		       ", \"rss_per_member\": %.1f, \"heap_bytes\": %" PRIu64
		       ", \"heap0_bytes\": %" PRIu64 ", \"heap_per_member\": %.1f, \"runs\": [",
		       G.proto, n, G.senders, logins, rss, rss0, rss_per, heap, heap0, heap_per);
		for (r = 0; r < G.runs; r++) {
			printf("{");
			print_trial("best", &best[r], 0);
			printf("}%s", r + 1 < G.runs ? ", " : "");
		}
		printf("], ");
		print_trial("half", &half, 0);
		print_at(at, nat);
		printf("}\n");
		fflush(stdout);
		guess = rates[G.runs / 2] * (double)(n - 1);
	}
	return 0;
}
