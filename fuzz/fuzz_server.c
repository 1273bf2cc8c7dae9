/* fuzz_server.c - libFuzzer harness for qund's whole datagram handler (proto1.c, proto2.c,
 * server.c, room.c) with invariants. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "common/text.h"
#include "proto/wire1.h"
#include "proto/wire2.h"
#include "qund/channel.h"
#include "qund/history.h"
#include "qund/room.h"
#include "qund/rooms.h"
#include "qund/sanction.h"
#include "qund/proto1.h"
#include "qund/proto2.h"
#include "qund/server.h"
#include "common/log.h"
#include "fuzzlib.h"

/*
 * The input is a program for a crowd of fake clients at 72 addresses:
 * raw datagrams, v1 requests, v2 logins (HELLO, then LOGIN with a cookie
 * that is valid, echoed from the server's COOKIE, or forged), v2 session
 * datagrams with their own or another client's session id, REBIND, the
 * clock moving on (timers: expiry, retransmission, cookie rotation) and
 * the operator's /kick and speech.  Each datagram goes where qund's
 * the loop sends it (v2_is_v2 decides), followed by server_before_sleep()
 * unless the input batches several.
 *
 * How the harness stands in for the world, through the server's own
 * interfaces (no link tricks):
 *   - the server's io table (server.h, struct server_io) is the harness's:
 *     a clock that only the input moves (libsodium's randomness is seeded
 *     in fuzzlib.c), so every input replays exactly; and a send that
 *     captures every datagram in memory instead of reaching a socket, so
 *     that the harness checks each one: its size, its format, who gets it
 *     (only members, or the sender within the anti-amplification bound),
 *     and the fake clients learn their session ids and cookies from
 *     WELCOME, COOKIE and CHALLENGE as a real client does.
 *   - the log goes to a sink (log.h): info is dropped; a warning is a bug
 *     (the v1 layer warns only when an event does not fit in a datagram).
 *   - proto2.h's test interface gives valid cookies and checks the
 *     layer's invariants.
 * After every step the room and protocol v2's state are checked.
 */

#define NADDR   72
#define MAX_OUT 4096
#define T0      1000000 /* the fake clock starts here, as a monotonic clock would be after boot */

static const struct room_config cfg = {
    .max_members = 70, /* past 64, so the hash tables have to grow */
    .max_per_address = 3,
    .flood_burst = 5,
    .flood_rate = 2,
    .keepalive_timeout = 90000,
    .idle_timeout = 3600000,
    .prefix_v4 = 32,
    .prefix_v6 = 64, /* the four addresses of 2001:db8::/64 are one */
    .max_v1 = 40,    /* below max_members, so that it binds */
    .v1_login_burst = 20,
    .v1_login_rate = 5,
    .v1_login_timeout = 30000,
};

static const char *const names[] = {
    "alice",
    "Alice",
    "\xEF\xBC\xA1\xEF\xBC\xAC\xEF\xBC\xA9\xEF\xBC\xA3\xEF\xBC\xA5" /* ＡＬＩＣＥ */,
    "bob",
    "carol",
    "dave",
    "eve",
    "mallory",
    "\xE7\xAE\xA1\xE7\x90\x86\xE5\x91\x98" /* 管理员 */,
    "admin",
    "ADMIN",
    "al ice",
    "",
    "a\x1b[31m",
    "\xE4\xB8\xAD\xE6\x96\x87" /* 中文 */,
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "\xFF\xFE",
    /* A right-to-left override inside a name: on purpose, the rules must refuse it. */
    "a\xE2\x80\xAE\x62", /* NOLINT(misc-misleading-bidirectional) */
    "zo\xC3\xAB",
};
#define NNAMES (sizeof names / sizeof names[0])

/* Room names a client joins: one room in two forms, the default room, bad names. */
static const char *const rooms[] = {
    "#a",
    "#A",
    "#b",
    "#\xE6\x8A\x80\xE6\x9C\xAF" /* #技术 */,
    "#\xE5\xA4\xA7\xE5\x8E\x85" /* #大厅 */,
    "a",
    "#",
    "#c",
    "#xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
};
#define NROOMS (sizeof rooms / sizeof rooms[0])

/* The rooms' limits: small, so that the fuzzer reaches them. */
static const struct channel_config rooms_cfg = {
    .max_per_member = 2,
    .max_members = 70,
    .max_channels = 4,
};

struct out {
	int to; /* index of the fake address */
	size_t len;
	uint8_t buf[QUN_MAX_DATAGRAM];
};

/* One fake client per canonical address: what it has learnt from the server. */
struct client {
	uint64_t nonce, sid;
	uint8_t cookie[V2_COOKIE_LEN]; /* from the last COOKIE */
	uint64_t cookie_nonce;
	uint8_t challenge[V2_COOKIE_LEN]; /* from the last CHALLENGE */
	uint64_t challenge_sid;
	uint32_t next_seq; /* of its own DATA */
	struct rel rx;     /* the server's DATA to it */
	uint64_t last_event;
	int last_more;
	/* Rooms besides the default: each one's last event (a few; more are not checked). */
	struct {
		uint32_t room;
		uint64_t last;
		int more;
	} rev[8];
	uint64_t last_private;
	int private_more;
};

static struct {
	struct server s;
	struct peer_addr addr[NADDR];
	int canon[NADDR]; /* first index with an equal address */
	struct client cl[NADDR];
	struct out out[MAX_OUT];
	size_t nout;
	uint64_t now;
	/*
	 * Addresses that were members at some point since the send queue was
	 * last flushed: what the server queued for them then may leave during
	 * a later step of the batch, after they have gone (server_send
	 * flushes the queue first), and is no reply to that step.
	 */
	int queued_member[NADDR];
} H;

/* ---- what the harness puts in place of the world ------------------------------------------ */

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return H.now;
}

static void capture(const void *buf, size_t len, const struct sockaddr *to, socklen_t tolen)
{
	struct peer_addr a;
	int i;

	FZ_CHECK(len <= QUN_MAX_DATAGRAM, "the server sent %zu bytes", len);
	FZ_CHECK(len > 0, "the server sent an empty datagram");
	FZ_CHECK(tolen <= sizeof a.sa, "address of %u bytes", (unsigned)tolen);
	memset(&a, 0, sizeof a);
	memcpy(&a.sa, to, tolen);
	a.len = tolen;
	for (i = 0; i < NADDR; i++)
		if (addr_equal(&a, &H.addr[i]))
			break;
	FZ_CHECK(i < NADDR, "the server sent to an address nobody used");
	if (H.nout == MAX_OUT)
		return;
	H.out[H.nout].to = H.canon[i];
	H.out[H.nout].len = len;
	memcpy(H.out[H.nout].buf, buf, len); /* reads every byte sent: ASan checks them */
	H.nout++;
}

static int fake_send(void *ctx, struct mmsghdr *msgs, unsigned count)
{
	unsigned i;

	(void)ctx;
	for (i = 0; i < count; i++) {
		const struct msghdr *h = &msgs[i].msg_hdr;

		FZ_CHECK(h->msg_iovlen == 1, "a datagram of %zu iovecs", (size_t)h->msg_iovlen);
		capture(h->msg_iov[0].iov_base, h->msg_iov[0].iov_len, h->msg_name, h->msg_namelen);
		msgs[i].msg_len = (unsigned int)h->msg_iov[0].iov_len;
	}
	return (int)count;
}

static const struct server_io fake_io = {.now_ms = fake_now, .send = fake_send};

static void log_sink(int prio, const char *msg)
{
	if (prio != LOG_INFO)
		fz_fail("qund warned: %s", msg);
}

/* ---- the fake addresses --------------------------------------------------------------------- */

static void set_v4(struct peer_addr *a, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&a->sa;

	memset(a, 0, sizeof *a);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s->sin_addr);
	a->len = sizeof *s;
}

static void set_v6(struct peer_addr *a, const char *ip, uint16_t port, uint32_t scope)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a->sa;

	memset(a, 0, sizeof *a);
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	s->sin6_scope_id = scope;
	inet_pton(AF_INET6, ip, &s->sin6_addr);
	a->len = sizeof *s;
}

/*
 * Four ports on one IP (one more than the per-IP cap of 3), the first
 * address again as IPv4-mapped IPv6 (the same peer: canonical keys), IPv6
 * loopback, one link-local address under two scope ids, then 60 more IPs,
 * enough for the room's and the session table's hash tables to grow, and
 * four addresses of one IPv6 /64 (one more than the cap again).
 */
static void setup_addrs(void)
{
	static int done;
	char ip[INET6_ADDRSTRLEN];
	int i, j;

	if (done)
		return;
	done = 1;
	set_v4(&H.addr[0], "127.0.0.1", 40001);
	set_v4(&H.addr[1], "127.0.0.1", 40002);
	set_v4(&H.addr[2], "127.0.0.1", 40003);
	set_v4(&H.addr[3], "127.0.0.1", 40004);
	set_v6(&H.addr[4], "::ffff:127.0.0.1", 40001, 0);
	set_v6(&H.addr[5], "::1", 40001, 0);
	set_v6(&H.addr[6], "fe80::1", 40001, 1);
	set_v6(&H.addr[7], "fe80::1", 40001, 2);
	for (i = 8; i < NADDR - 4; i++) {
		snprintf(ip, sizeof ip, "127.1.0.%d", i - 7);
		set_v4(&H.addr[i], ip, 40001);
	}
	for (i = NADDR - 4; i < NADDR; i++) {
		snprintf(ip, sizeof ip, "2001:db8::%x:%x", (i * 7919) & 0xffff, i);
		set_v6(&H.addr[i], ip, 40001, 0);
	}
	for (i = 0; i < NADDR; i++) {
		for (j = 0; j < i && !addr_equal(&H.addr[i], &H.addr[j]); j++)
			;
		H.canon[i] = j;
	}
}

/* ---- invariants ----------------------------------------------------------------------------- */

static void check_room(void)
{
	const struct room *r = H.s.room;
	size_t n = room_count(r), i, j, same_net, v1 = 0;

	FZ_CHECK(n <= cfg.max_members, "%zu members, at most %zu", n, cfg.max_members);
	FZ_CHECK(room_count_v1(r) <= cfg.max_v1, "%zu v1 members, at most %zu", room_count_v1(r),
	         cfg.max_v1);
	for (i = 0; i < n; i++) {
		const struct member *m = room_member(r, i);
		uint8_t ki[ADDR_NET_MAX], kj[ADDR_NET_MAX];
		size_t li;

		FZ_CHECK(m != NULL, "member %zu is NULL", i);
		FZ_CHECK(name_check(m->name, strlen(m->name)) == NAME_OK, "member name %s",
		         m->name);
		FZ_CHECK(room_find_name(r, m->name, strlen(m->name)) == m, "%s not found by name",
		         m->name);
		FZ_CHECK(room_find_addr(r, &m->addr) == m, "%s not found by address", m->name);
		v1 += m->proto == 1;
		FZ_CHECK(!m->unproven || (m->proto == 1 && !m->keepalive),
		         "%s is unproven but no silent v1 member", m->name);
		li = addr_net_key(&m->addr, cfg.prefix_v4, cfg.prefix_v6, ki);
		same_net = 0;
		for (j = 0; j < n; j++) {
			const struct member *o = room_member(r, j);
			size_t lj = addr_net_key(&o->addr, cfg.prefix_v4, cfg.prefix_v6, kj);

			if (j != i) {
				FZ_CHECK(strcmp(member_key(m), member_key(o)) != 0,
				         "%s and %s share a name", m->name, o->name);
				FZ_CHECK(!addr_equal(&m->addr, &o->addr),
				         "%s and %s share an address", m->name, o->name);
			}
			/* The per-address cap: per network, v1 and the rest counted apart. */
			if (li == lj && memcmp(ki, kj, li) == 0 &&
			    (m->proto == 1) == (o->proto == 1))
				same_net++;
		}
		FZ_CHECK(same_net <= cfg.max_per_address, "%zu members from one network", same_net);
	}
	FZ_CHECK(v1 == room_count_v1(r), "%zu v1 members, the room counts %zu", v1,
	         room_count_v1(r));
}

static int member_at(int k)
{
	return room_find_addr(H.s.room, &H.addr[k]) != NULL;
}

/* A /who answer (MEMBERS) names members only: every name passes the name rules. */
static void check_members(const struct v2_msg *m)
{
	const char *name;
	size_t pos = 0, len;

	FZ_CHECK(m->total <= cfg.max_members, "MEMBERS counts %u members", (unsigned)m->total);
	while (v2_members_next(m, &pos, &name, &len))
		FZ_CHECK(name_check(name, len) == NAME_OK, "MEMBERS names an invalid name");
}

/* A ROOM answer names rooms by their rules, each no bigger than the server. */
static void check_rooms(const struct v2_msg *m)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;
	const char *name;
	uint32_t id, members;
	size_t pos = 0, len;

	FZ_CHECK(m->what < V2_ROOM_WHAT_COUNT, "ROOM what %d", m->what);
	while (v2_rooms_next(m, &pos, &id, &members, &name, &len)) {
		FZ_CHECK(id != 0 && members <= cfg.max_members, "ROOM %u of %u members", id,
		         members);
		FZ_CHECK(channel_name_check(name, len, key, &why) == CHANNEL_OK,
		         "ROOM names an invalid room");
	}
}

/* The last event a client saw in a room (the default room: last_event), to keep each in order. */
static int order_of(struct client *c, uint32_t room, uint64_t **last, int **more)
{
	size_t i;

	if (room == V2_LOBBY) {
		*last = &c->last_event;
		*more = &c->last_more;
		return 1;
	}
	for (i = 0; i < sizeof c->rev / sizeof c->rev[0]; i++) {
		if (c->rev[i].room == room || c->rev[i].room == 0) {
			c->rev[i].room = room;
			*last = &c->rev[i].last;
			*more = &c->rev[i].more;
			return 1;
		}
	}
	return 0;
}

/* An event (EVENT, REVENT) is well-formed and comes in its room's order. */
static void check_event(struct client *c, const struct v2_msg *m)
{
	uint64_t *last;
	int *more;

	FZ_CHECK(m->event <= EV_ACTION, "event %d", m->event);
	if (m->event == EV_ADMIN || m->event == EV_SHUTDOWN)
		FZ_CHECK(m->name_len == 0, "the operator's event carries a name");
	else
		FZ_CHECK(name_check(m->name, m->name_len) == NAME_OK,
		         "event about an invalid name");
	if (!order_of(c, m->kind == V2_K_REVENT ? m->room : V2_LOBBY, &last, &more))
		return;
	FZ_CHECK(m->event_id > *last || (m->event_id == *last && *more),
	         "event %llu after %llu in room %u", (unsigned long long)m->event_id,
	         (unsigned long long)*last, (unsigned)m->room);
	*last = m->event_id;
	*more = m->flags & V2_MORE;
}

/* The events and notices a client gets are well-formed and in their room's order. */
static void client_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct client *c = ctx;
	struct v2_msg m;

	FZ_CHECK(v2_msg_parse(data, len, &m) == V2_OK, "malformed message to a client");
	FZ_CHECK(m.kind == V2_K_EVENT || m.kind == V2_K_NOTICE || m.kind == V2_K_MEMBERS ||
	             m.kind == V2_K_REVENT || m.kind == V2_K_ROOM || m.kind == V2_K_PRIVATE ||
	             m.kind == V2_K_HLINE || m.kind == V2_K_HEND,
	         "message kind 0x%02x", m.kind);
	if (m.kind == V2_K_HEND)
		return;
	if (m.kind == V2_K_HLINE) { /* history: any order (a page), but names and text as live */
		FZ_CHECK(m.event <= EV_ACTION && m.room != 0, "history line %d in room %u", m.event,
		         (unsigned)m.room);
		if (m.name_len > 0)
			FZ_CHECK(name_check(m.name, m.name_len) == NAME_OK,
			         "history of a bad name");
		if (m.text_len > 0)
			FZ_CHECK(text_check_max(m.text, m.text_len, QUN_MAX_DATAGRAM) == TEXT_OK,
			         "history text that breaks the text rules");
		return;
	}
	if (m.kind == V2_K_MEMBERS) {
		check_members(&m);
		return;
	}
	if (m.kind == V2_K_ROOM) {
		check_rooms(&m);
		return;
	}
	if (m.text_len > 0)
		FZ_CHECK(text_check_max(m.text, m.text_len, QUN_MAX_DATAGRAM) == TEXT_OK,
		         "a client got text that breaks the text rules");
	if (m.kind == V2_K_NOTICE) {
		FZ_CHECK(m.code > QERR_NONE && m.code < QERR_COUNT, "notice code %d", m.code);
		return;
	}
	if (m.kind == V2_K_PRIVATE) {
		FZ_CHECK(name_check(m.name, m.name_len) == NAME_OK, "a private line from no one");
		FZ_CHECK(m.event_id > c->last_private ||
		             (m.event_id == c->last_private && c->private_more),
		         "private %llu after %llu", (unsigned long long)m.event_id,
		         (unsigned long long)c->last_private);
		c->last_private = m.event_id;
		c->private_more = m.flags & V2_MORE;
		return;
	}
	check_event(c, &m);
}

static void new_session(struct client *c, uint64_t sid)
{
	c->sid = sid;
	c->next_seq = 1;
	c->last_event = 0;
	c->last_more = 0;
	rel_free(&c->rx);
	rel_init(&c->rx);
}

/* What the server sent to client k, read as the client would. */
static void client_reads(int k, const uint8_t *buf, size_t len)
{
	struct client *c = &H.cl[k];
	struct v2_packet p;

	if (!v2_is_v2(buf, len)) {
		FZ_CHECK(text_check_max((const char *)buf, len, QUN_MAX_DATAGRAM) == TEXT_OK,
		         "a v1 line that breaks the text rules: %.*s", (int)len, (const char *)buf);
		return;
	}
	FZ_CHECK(v2_parse(buf, v2_unseal(buf, len), &p) == V2_OK,
	         "the server sent a malformed v2 datagram (or a bad CRC-32)");
	switch (p.type) {
	case V2_COOKIE:
		memcpy(c->cookie, p.cookie, V2_COOKIE_LEN);
		c->cookie_nonce = p.nonce;
		break;
	case V2_WELCOME:
		if (p.sid != c->sid)
			new_session(c, p.sid);
		break;
	case V2_REFUSE:
		FZ_CHECK(utf8_valid(p.reason, p.reason_len), "REFUSE reason not UTF-8");
		break;
	case V2_CHALLENGE:
		memcpy(c->challenge, p.cookie, V2_COOKIE_LEN);
		c->challenge_sid = p.sid;
		break;
	case V2_CLOSE:
		if (p.sid == c->sid)
			c->sid = 0;
		break;
	case V2_DATA:
	case V2_ACK:
		FZ_CHECK(p.sid == c->sid, "session datagram for %llx to a client of session %llx",
		         (unsigned long long)p.sid, (unsigned long long)c->sid);
		if (p.type == V2_DATA)
			rel_on_data(&c->rx, p.seq, p.payload, p.payload_len, client_deliver, c);
		break;
	default:
		fz_fail("the server sent type 0x%02x", p.type);
	}
}

/*
 * A session that moved (REBIND) takes its fake client's state along, so
 * the client at the new address keeps reading the same stream.
 */
static void follow_rebinds(const uint64_t before[NADDR])
{
	int i, j;

	for (j = 0; j < NADDR; j++) {
		const struct member *m;
		uint64_t sid;

		if (H.canon[j] != j || (m = room_find_addr(H.s.room, &H.addr[j])) == NULL)
			continue;
		sid = p2_session_id(m);
		if (sid == 0 || sid == before[j] || sid == H.cl[j].sid)
			continue;
		for (i = 0; i < NADDR; i++) {
			if (i != j && H.canon[i] == i && before[i] == sid && H.cl[i].sid == sid) {
				rel_free(&H.cl[j].rx);
				H.cl[j] = H.cl[i];
				memset(&H.cl[i], 0, sizeof H.cl[i]);
				rel_init(&H.cl[i].rx);
				break;
			}
		}
	}
}

static void session_ids(uint64_t sid[NADDR])
{
	int k;

	for (k = 0; k < NADDR; k++) {
		const struct member *m = room_find_addr(H.s.room, &H.addr[k]);

		sid[k] = m != NULL ? p2_session_id(m) : 0;
	}
}

/* Protocol v2's invariants (proto2.h, p2_check), and each session's reliability state. */
static void check_p2(int flushed)
{
	char err[256];
	size_t i, n = room_count(H.s.room);

	FZ_CHECK(p2_check(H.s.p2, flushed, err, sizeof err) == 0, "protocol v2: %s", err);
	for (i = 0; i < n; i++) {
		const struct member *m = room_member(H.s.room, i);
		const struct rel *r = p2_session_rel(m);

		if (r != NULL)
			fz_check_rel(r, m->name);
	}
}

/*
 * Right after a tick: the dirty and busy lists' arrays were given back
 * down to 64 entries or a quarter full (a broadcast fills them with the
 * whole room; an idle room must not keep that).
 */
static void check_lists_shrunk(void)
{
	struct p2_counts c;

	p2_counts(H.s.p2, &c);
	FZ_CHECK(c.dirty_cap <= 64 || c.dirty > c.dirty_cap / 4,
	         "dirty list kept %zu slots for %zu entries", c.dirty_cap, c.dirty);
	FZ_CHECK(c.busy_cap <= 64 || c.busy > c.busy_cap / 4,
	         "busy list kept %zu slots for %zu entries", c.busy_cap, c.busy);
}

/*
 * Run one step and check what it sent.  from: the client whose datagram
 * it is (-1 for timers and the console); limit: at most this many bytes
 * may go back to from if it is a stranger before and after (the
 * anti-amplification rule; SIZE_MAX for none).
 */
struct step {
	int from;
	size_t limit;
	int before[NADDR];
	uint64_t sid[NADDR];
};

static void step_begin(struct step *st, int from, size_t limit)
{
	int k;

	st->from = from >= 0 ? H.canon[from] : -1;
	st->limit = limit;
	for (k = 0; k < NADDR; k++)
		st->before[k] = member_at(k) || H.queued_member[k];
	session_ids(st->sid);
	H.nout = 0;
}

static void step_end(struct step *st, int flushed)
{
	size_t i, back = 0;

	follow_rebinds(st->sid);
	for (i = 0; i < H.nout; i++) {
		const struct out *o = &H.out[i];
		int member = st->before[o->to] || member_at(o->to);

		if (o->to == st->from && !member)
			back += o->len;
		else
			FZ_CHECK(member, "%zu bytes to address %d, which is no member", o->len,
			         o->to);
		client_reads(o->to, o->buf, o->len);
	}
	FZ_CHECK(back <= st->limit, "%zu bytes back to a stranger, at most %zu allowed", back,
	         st->limit);
	H.nout = 0;
	for (i = 0; i < NADDR; i++)
		H.queued_member[i] = !flushed && (st->before[i] || member_at((int)i));
	check_room();
	check_p2(flushed);
}

/* ---- the steps ------------------------------------------------------------------------------ */

/*
 * One datagram of claimed length len from address k, as on_udp() hands
 * it over.  have <= len bytes are real; a claimed length over the buffer
 * (MSG_TRUNC) gets a buffer of exactly QUN_MAX_DATAGRAM + 1 bytes, as
 * on_udp's, so ASan sees any read past what recvfrom could have filled.
 */
static void datagram(int k, const uint8_t *data, size_t have, size_t len, int flush)
{
	struct step st;
	size_t limit, bufsz = len > have ? QUN_MAX_DATAGRAM + 1 : have;
	uint8_t *buf = malloc(bufsz == 0 ? 1 : bufsz);
	struct v2_packet p;

	FZ_CHECK(buf != NULL, "out of memory");
	memset(buf, 0, bufsz);
	memcpy(buf, data, have < bufsz ? have : bufsz);
	if (v2_is_v2(buf, len)) {
		limit = 3 * len;
		/* A LOGIN with a valid cookie proves the address: its answer may be larger. */
		if (len <= QUN_MAX_DATAGRAM && v2_parse(buf, v2_unseal(buf, len), &p) == V2_OK &&
		    p.type == V2_LOGIN && p2_cookie_valid(H.s.p2, &H.addr[k], p.nonce, p.cookie))
			limit = SIZE_MAX;
	} else {
		limit = 3 * len; /* v1: a refusal to a stranger (proto1.c, reply_budget) */
	}
	step_begin(&st, k, limit);
	H.s.st.datagrams_in++;
	if (H.s.proto[v2_is_v2(buf, len) ? 2 : 1] != NULL)
		H.s.proto[v2_is_v2(buf, len) ? 2 : 1]->handle(&H.s, &H.addr[k], buf, len);
	else
		H.s.st.sdrops[SDROP_V1_DISABLED]++;
	if (flush)
		server_before_sleep(&H.s);
	step_end(&st, flush);
	free(buf);
}

/* A name: from the table, or bytes of the input. */
static size_t pick_name(struct fz *f, const char **out)
{
	uint8_t how = fz_u8(f);
	const uint8_t *b;

	if (how < 200) {
		*out = names[how % NNAMES];
		return strlen(*out);
	}
	{
		size_t n = fz_bytes(f, fz_u8(f) % 48, &b);

		*out = (const char *)b;
		return n;
	}
}

static void op_v1(struct fz *f, int k, int flush)
{
	static const char cmds[] = "LCQP";
	char buf[2 * QUN_MAX_DATAGRAM];
	const char *name;
	const uint8_t *text;
	size_t nlen = pick_name(f, &name), tlen, n = 0;
	uint8_t how = fz_u8(f);

	buf[n++] = cmds[how % 4];
	buf[n++] = ' ';
	memcpy(buf + n, name, nlen);
	n += nlen;
	if (buf[0] == 'C') {
		tlen = fz_bytes(f, fz_u16(f) % 1100, &text);
		buf[n++] = ' ';
		memcpy(buf + n, text, tlen);
		n += tlen;
	}
	if (how & 0x10)
		buf[n++] = '\n';
	else if (how & 0x20) {
		buf[n++] = '\r';
		buf[n++] = '\n';
	} else if ((how & 0x40) && n + 100 < sizeof buf) {
		memset(buf + n, ' ', 100); /* padding, as qun does after ERR */
		n += 100;
	}
	datagram(k, (const uint8_t *)buf, n, n, flush);
}

static void send_v2(int k, const struct v2_packet *p, int flush)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(p, buf, sizeof buf), sizeof buf);

	if (n > 0)
		datagram(k, buf, n, n, flush);
}

/*
 * HELLO (maybe), then LOGIN with a valid, echoed or forged cookie; its
 * nonce is the client's last one (a retry, or a replay once that session
 * has ended), one of a few fresh ones, or any.
 */
static void op_login(struct fz *f, int k, int flush)
{
	static const uint64_t nonces[] = {0x1111, 0x2222, 0x3333};
	struct client *c = &H.cl[H.canon[k]];
	struct v2_packet p;
	uint8_t how = fz_u8(f), nsel = fz_u8(f);
	const uint8_t *b;

	memset(&p, 0, sizeof p);
	if (nsel < 96 && c->nonce != 0)
		p.nonce = c->nonce;
	else if (nsel < 240)
		p.nonce = nonces[nsel % 3] + ((uint64_t)(nsel >> 2) << 16);
	else
		p.nonce = fz_u64(f);
	c->nonce = p.nonce;
	if (how & 1) {
		p.type = V2_HELLO;
		send_v2(k, &p, flush);
	}
	p.type = V2_LOGIN;
	p.name_len = pick_name(f, &p.name);
	switch ((how >> 1) % 4) {
	case 0:
	case 1:
		p2_cookie(H.s.p2, &H.addr[k], p.nonce, p.cookie);
		break;
	case 2:
		if (c->cookie_nonce == p.nonce)
			memcpy(p.cookie, c->cookie, V2_COOKIE_LEN);
		break;
	default:
		if (fz_bytes(f, V2_COOKIE_LEN, &b) == V2_COOKIE_LEN)
			memcpy(p.cookie, b, V2_COOKIE_LEN);
		break;
	}
	send_v2(k, &p, flush);
}

/* A session datagram from k: its own session's fields, or any. */
/* A room id: the default room, the first few made, or one never made. */
static uint32_t pick_room(struct fz *f)
{
	uint8_t r = fz_u8(f);

	return r == 0xFF ? fz_u32(f) : (uint32_t)(r % 8);
}

static size_t put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

/*
 * A rooms payload (docs/ROOMS.md), into payload; returns its length.
 * JOIN a room of the list, PART, ROOMS, SAY or ME in a room (maybe a
 * piece, maybe with an id), TELL a name (maybe a piece), WHO of a room.
 */
static size_t rooms_payload(struct fz *f, uint8_t *payload)
{
	uint8_t sub = fz_u8(f);
	const uint8_t *b;
	const char *name;
	size_t at = 0, n;

	switch (sub % 8) {
	case 0:
		name = rooms[fz_u8(f) % NROOMS];
		payload[at++] = V2_K_JOIN;
		payload[at++] = (uint8_t)strlen(name);
		memcpy(payload + at, name, strlen(name));
		return at + strlen(name);
	case 1:
		payload[at++] = V2_K_PART;
		return at + put_u32(payload + at, pick_room(f));
	case 2:
		payload[at++] = V2_K_ROOMS;
		payload[at++] = fz_u8(f);
		return at;
	case 3:
	case 4:
		payload[at++] = sub % 6 == 3 ? V2_K_SAY : V2_K_TELL;
		payload[at++] = (fz_u8(f) & (V2_MORE | V2_ID)) | (sub % 6 == 3 ? V2_ROOM : 0);
		if (payload[1] & V2_ID)
			at += put_u32(payload + at, fz_u8(f) & 0x7F);
		if (sub % 6 == 3) {
			at += put_u32(payload + at, pick_room(f));
		} else {
			n = pick_name(f, &name);
			payload[at++] = (uint8_t)n;
			memcpy(payload + at, name, n);
			at += n;
		}
		n = fz_bytes(f, fz_u16(f) % (V2_MAX_PAYLOAD - at - 40) + 1, &b);
		memcpy(payload + at, b, n);
		return at + n;
	case 5:
		payload[at++] = V2_K_WHO;
		return at + put_u32(payload + at, pick_room(f));
	case 6: /* HISTORY of a room, LATEST, BEFORE or AFTER an id, a count */
		payload[at++] = V2_K_HISTORY;
		at += put_u32(payload + at, pick_room(f));
		payload[at++] = fz_u8(f) % 4;
		at += put_u32(payload + at, 0);
		at += put_u32(payload + at, fz_u8(f));
		payload[at++] = 0;
		payload[at++] = fz_u8(f);
		return at;
	default: /* SEARCH for a few bytes of words */
		payload[at++] = V2_K_SEARCH;
		payload[at++] = 0;
		payload[at++] = fz_u8(f);
		n = fz_bytes(f, fz_u8(f) % 24, &b);
		memcpy(payload + at, b, n);
		return at + n;
	}
}

static void op_session(struct fz *f, int k, int type, int flush)
{
	struct client *c = &H.cl[H.canon[k]];
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_packet p;
	uint8_t how = fz_u8(f);
	const uint8_t *b;
	size_t n;

	memset(&p, 0, sizeof p);
	p.type = (enum v2_type)type;
	p.sid = c->sid;
	if (how & 1)
		p.sid = H.cl[H.canon[fz_u8(f) % NADDR]].sid; /* someone else's */
	if (how & 2)
		p.sid = fz_u64(f);
	rel_ack_fields(&c->rx, &p.ack, &p.ack_bits);
	if (how & 4) {
		p.ack = fz_u32(f);
		p.ack_bits = fz_u32(f);
	}
	if (type != V2_DATA) {
		send_v2(k, &p, flush);
		return;
	}
	p.seq = c->next_seq++;
	if (how & 8)
		p.seq = fz_u32(f) % 100 + 1;
	if ((how & 0xC0) == 0xC0) {
		p.payload_len = rooms_payload(f, payload);
		p.payload = payload;
		send_v2(k, &p, flush);
		return;
	}
	switch ((how >> 4) % 4) {
	case 0:
	case 1: {
		/*
		 * SAY (or ME), maybe one piece of a long text, maybe with a
		 * message id: one of a few, so that repeats (a reconnected
		 * client's) and ids far behind the last are both tried.
		 */
		size_t at = 2;

		payload[0] = (how >> 4) % 4 == 0 ? V2_K_SAY : V2_K_ME;
		payload[1] = fz_u8(f) & (V2_MORE | V2_ID);
		if (payload[1] & V2_ID) {
			uint8_t id = fz_u8(f);

			payload[2] = id & 0x80 ? 0xFF : 0;
			payload[3] = payload[4] = 0;
			payload[5] = id & 0x7F;
			at = 6;
		}
		n = fz_bytes(f, fz_u16(f) % V2_SAY_ID_CHUNK + 1, &b);
		memcpy(payload + at, b, n);
		p.payload_len = n + at;
		break;
	}
	case 2:
		payload[0] = V2_K_QUIT;
		p.payload_len = 1;
		break;
	default:
		n = fz_bytes(f, fz_u8(f) % 64 + 1, &b);
		memcpy(payload, b, n);
		p.payload_len = n;
		if (n == 0)
			return;
		break;
	}
	p.payload = payload;
	send_v2(k, &p, flush);
}

static void op_rebind(struct fz *f, int k, int flush)
{
	struct client *c = &H.cl[H.canon[k]];
	struct v2_packet p;
	uint8_t how = fz_u8(f);
	const uint8_t *b;

	memset(&p, 0, sizeof p);
	p.type = V2_REBIND;
	p.sid = how & 1 ? c->challenge_sid : H.cl[H.canon[fz_u8(f) % NADDR]].sid;
	if (how & 2)
		memcpy(p.cookie, c->challenge, V2_COOKIE_LEN);
	else if (how & 4)
		p2_cookie(H.s.p2, &H.addr[k], p.sid, p.cookie);
	else if (fz_bytes(f, V2_COOKIE_LEN, &b) == V2_COOKIE_LEN)
		memcpy(p.cookie, b, V2_COOKIE_LEN);
	send_v2(k, &p, flush);
}

/* The clock moves on and the timers run, as qund's on_tick() does. */
static void op_tick(struct fz *f)
{
	struct step st;
	struct outcome o;
	uint8_t scale = fz_u8(f);
	uint64_t ms = fz_u16(f);

	H.now += scale < 128 ? ms : scale < 250 ? ms * 100 : ms * 10000;
	step_begin(&st, -1, 0);
	while (room_expire(H.s.room, H.now, &o))
		server_deliver(&H.s, &o, 0);
	/* A tick, and either the rest of its walk or only a slice: datagrams may come between. */
	if (server_tick(&H.s) == 0 || (fz_u8(f) & 1) == 0) {
		while (server_tick_more(&H.s))
			;
		check_lists_shrunk();
	}
	server_before_sleep(&H.s);
	step_end(&st, 1);
}

/* The operator's room commands (command.c): say in, kick from, create and close rooms. */
static void op_console_rooms(struct fz *f, uint8_t how)
{
	const char *rname = rooms[fz_u8(f) % NROOMS], *name;
	struct channel *c = channels_find(H.s.channels, rname, strlen(rname));
	const struct member *m;
	size_t n;

	switch (how % 4) {
	case 0:
		if (c != NULL)
			rooms_admin(&H.s, c, "notice", 6);
		break;
	case 1:
		n = pick_name(f, &name);
		m = n > 0 ? room_find_name(H.s.room, name, n) : NULL;
		if (c != NULL && m != NULL && c != channels_default(H.s.channels))
			(void)rooms_kick(&H.s, m, c, "off topic", 9);
		break;
	case 2:
		(void)channels_create(H.s.channels, rname, strlen(rname), &c);
		break;
	default:
		if (c != NULL && c != channels_default(H.s.channels))
			(void)rooms_close(&H.s, c);
		break;
	}
}

/* The operator's console: /kick NAME, or speech (as qund's cmd_kick and cmd_say), or rooms. */
static void op_console(struct fz *f)
{
	uint8_t how;
	struct step st;
	struct outcome o;
	const char *name;
	const uint8_t *text;
	size_t n;

	step_begin(&st, -1, 0);
	how = fz_u8(f);
	if (how & 2) {
		op_console_rooms(f, how >> 2);
	} else if (how & 1) {
		n = pick_name(f, &name);
		if (n > 0 && room_kick(H.s.room, name, n, &o) == 0)
			server_deliver(&H.s, &o, 0);
	} else {
		n = fz_bytes(f, fz_u16(f) % 1100, &text);
		if (text_check((const char *)text, n) == TEXT_OK) {
			room_admin(H.s.room, (const char *)text, n, &o);
			server_deliver(&H.s, &o, 0);
		}
	}
	server_before_sleep(&H.s);
	step_end(&st, 1);
}

/* SIGTERM: qund tells every member of both protocols and ends their sessions (say_goodbye). */
static void op_shutdown(void)
{
	struct step st;

	step_begin(&st, -1, 0);
	server_goodbye(&H.s);
	step_end(&st, 1);
}

static void op_flush(void)
{
	struct step st;

	step_begin(&st, -1, 0);
	server_before_sleep(&H.s);
	step_end(&st, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[16] = "qun-fuzz-hashkey";
	struct fz f;
	uint8_t flags;
	char err[256];
	int k;

	fz_seed(7);
	memset(&H.s, 0, sizeof H.s);
	memset(H.cl, 0, sizeof H.cl);
	setup_addrs();
	for (k = 0; k < NADDR; k++)
		rel_init(&H.cl[k].rx);
	H.now = T0;
	H.nout = 0;
	fz_init(&f, data, size);
	flags = fz_u8(&f);
	H.s.udp = H.s.udp_acks = H.s.sigfd = H.s.tickfd = H.s.epfd = H.s.console = -1;
	H.s.io = &fake_io;
	H.s.legacy = !(flags & 1);
	H.s.lang = flags & 2 ? LANG_EN : LANG_ZH;
	H.s.room = room_new(&cfg, key);
	H.s.p2 = p2_new(&H.s);
	H.s.channels = channels_new(&rooms_cfg, rooms[4]);
	H.s.sanctions = sanction_new(); /* empty: nobody banned or muted */
	/* A store in memory: history, searches, kept private lines, rooms' ids (history.h). */
	if (history_open(&H.s, ":memory:", STORE_SYNC_OFF, err, sizeof err) != 0)
		FZ_CHECK(0, "store: %s", err);
	H.s.proto[2] = &proto2_ops;
	H.s.proto[1] = H.s.legacy ? &proto1_ops : NULL;
	log_to_sink(log_sink);
	check_room();
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f), who = fz_u8(&f);
		int flush = !(who & 0x80);

		k = (who & 0x7f) % NADDR;
		switch (op % 15) {
		case 0: {
			const uint8_t *b;
			uint16_t len = fz_u16(&f);
			size_t have = fz_bytes(&f, len % (QUN_MAX_DATAGRAM + 1), &b);
			size_t claim =
			    len & 0x8000 ? (size_t)(len & 0x7fff) + QUN_MAX_DATAGRAM + 1 : have;

			datagram(k, b, have, claim, flush);
			break;
		}
		case 1:
		case 2:
			op_v1(&f, k, flush);
			break;
		case 3:
		case 4:
			op_login(&f, k, flush);
			break;
		case 5:
		case 6:
			op_session(&f, k, V2_DATA, flush);
			break;
		case 7:
			op_session(&f, k, V2_ACK, flush);
			break;
		case 8:
			op_session(&f, k, V2_PING, flush);
			break;
		case 9:
			op_rebind(&f, k, flush);
			break;
		case 10:
			op_tick(&f);
			break;
		case 11:
			op_console(&f);
			break;
		case 12:
			op_flush();
			break;
		case 13:
			op_shutdown();
			goto out; /* qund exits after saying goodbye */
		default: {
			/* A session datagram of a type only the server sends, or a CLOSE. */
			static const int types[] = {V2_CLOSE, V2_CHALLENGE, V2_WELCOME, V2_COOKIE};

			op_session(&f, k, types[fz_u8(&f) % 4], flush);
			break;
		}
		}
	}
out:
	history_close(&H.s);
	p2_free(H.s.p2);
	channels_free(H.s.channels);
	room_free(H.s.room);
	sanction_free(H.s.sanctions);
	H.s.sanctions = NULL;
	for (k = 0; k < NADDR; k++)
		rel_free(&H.cl[k].rx);
	return 0;
}
