/* proto2.c - qund's protocol v2 layer: cookie handshake, sessions, reliable delivery, rebinding. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bucket.h"
#include "common/log.h"
#include "common/text.h"
#include "proto/cookie.h"
#include "proto/rel.h"
#include "proto/wire2.h"
#include "history.h"
#include "nonceset.h"
#include "proto2.h"
#include "rooms.h"
#include "sanction.h"
#include "server.h"
#include "session.h"

#define SID_BUCKETS_MIN 64
/*
 * Sessions per session-id bucket before the table doubles: chains of two
 * on average cost a comparison more per lookup, and half the table (about
 * 5 bytes per idle member of a large room).
 */
#define SID_LOAD 2
/*
 * Answers to unvalidated sources (COOKIE, CLOSE, CHALLENGE), each at most
 * 3x what came, are rate-limited three ways (may_answer): per source
 * address (IP and port), per IP, and in all.  The per-address bucket is
 * the tight one; the per-IP one only keeps one IP from taking the whole
 * budget, and is wide enough that HELLOs forged from a victim's IP with
 * other ports (PROTOCOL-v2.md, "Abuse limits") leave the victim's own
 * address its answers.
 */
#define LIMIT_SLOTS        4096 /* per-address buckets, by keyed hash of IP and port */
#define LIMIT_BURST        20   /* per source address slot */
#define LIMIT_RATE         10   /* per second */
#define LIMIT_IP_SLOTS     1024 /* per-IP buckets, by keyed hash of the IP */
#define LIMIT_IP_BURST     2500 /* a quarter of the global budget */
#define LIMIT_IP_RATE      2500
#define LIMIT_GLOBAL_BURST 10000
#define LIMIT_GLOBAL_RATE  10000 /* bounds what forged sources can make us send: ~300 kB/s */

/* A list of sessions as a growable array: what the dirty and busy lists are. */
struct session_list {
	struct session **v;
	size_t n, cap;
};

struct proto2 {
	struct server *srv;
	struct cookie_jar jar;
	struct session **by_sid;
	size_t nbuckets, count;
	struct session_list dirty; /* sessions to flush after this batch */
	/*
	 * Sessions that had traffic lately or still have data in flight: the
	 * only ones the timer visits (for retransmissions, and to give back
	 * the windows of those gone idle), so a tick costs what is going on,
	 * not the size of the room.
	 */
	struct session_list busy;
	size_t walk_at;   /* the tick's place in busy while it walks it in slices (p2_tick) */
	size_t walk_left; /* visits left in this walk: at most the sessions busy at its start */
	int walking;
	size_t ndoomed; /* sessions marked doomed and not yet evicted */
	size_t
	    aware; /* sessions that declared rooms (ROOMS): the default room's events as REVENT */
	struct bucket limit[LIMIT_SLOTS], limit_ip[LIMIT_IP_SLOTS], limit_all;
	unsigned char limit_key[crypto_shorthash_KEYBYTES];
	/* The nonces of ended sessions, while a replayed LOGIN could carry them (nonceset.h). */
	struct nonceset retired;
	/*
	 * The ids of sessions ended lately (rotated with the cookie secrets,
	 * two to four minutes): an ACK of one is not answered (p2_handle).
	 */
	struct nonceset ended;
	uint64_t rotated_at; /* the cookie jar's, when the retired nonces last rotated with it */
};

struct proto2 *p2_new(struct server *s)
{
	uint64_t now = server_now(s);
	struct proto2 *p = xcalloc(1, sizeof *p);
	unsigned char key[16];

	p->srv = s;
	cookie_init(&p->jar, now);
	p->nbuckets = SID_BUCKETS_MIN;
	p->by_sid = xcalloc(p->nbuckets, sizeof *p->by_sid);
	randombytes_buf(p->limit_key, sizeof p->limit_key);
	randombytes_buf(key, sizeof key);
	nonceset_init(&p->retired, key);
	randombytes_buf(key, sizeof key);
	nonceset_init(&p->ended, key);
	p->rotated_at = p->jar.rotated_at;
	return p;
}

/* Forget a long message being put together, and that it overflowed (or the next is refused). */
static void drop_reassembly(struct session *ss)
{
	free(ss->asm_text);
	ss->asm_text = NULL;
	ss->asm_overflow = 0;
}

/* Only at the end (p2_free): a session that leaves the server leaves its rooms first (rooms.c). */
static void session_free(struct session *ss)
{
	rel_free(&ss->rel);
	free(ss->asm_text);
	if (ss->rooms != NULL)
		free(ss->rooms->seats.v);
	free(ss->rooms);
	free(ss);
}

/*
 * The sessions are the room's v2 members' data: walk them through the
 * room's dense member array, from index *i on.  Returns NULL after the
 * last.  Safe while sessions are only marked, not while members leave.
 */
static struct session *next_session(const struct proto2 *p, size_t *i)
{
	const struct room *r = p->srv->room;

	while (*i < room_count(r)) {
		const struct member *m = room_member(r, (*i)++);

		if (m->proto == 2 && m->data != NULL)
			return m->data;
	}
	return NULL;
}

void p2_free(struct proto2 *p)
{
	struct session *ss;
	size_t i = 0;

	if (p == NULL)
		return;
	while ((ss = next_session(p, &i)) != NULL)
		session_free(ss);
	free(p->dirty.v);
	free(p->busy.v);
	free(p->by_sid);
	nonceset_free(&p->retired);
	nonceset_free(&p->ended);
	free(p);
}

static void list_push(struct session_list *l, struct session *ss)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = ss;
}

/*
 * Give back most of a list's array once it is at most a quarter full.  A
 * broadcast puts every session of the room on the dirty and the busy list,
 * and arrays sized for that would stay with the room: 16 bytes per member
 * and more as the doubling rounds up (21 at 100,001 members), which the
 * budget of an idle member (docs/PERFORMANCE.md) has no room for.  Called
 * from the timer, so a room that broadcasts all the time regrows them at
 * most once a tick; halving only at a quarter full keeps a list that
 * hovers around one size from reallocating every tick.
 */
static void list_shrink(struct session_list *l)
{
	size_t cap = l->cap;

	while (cap > 64 && l->n <= cap / 4)
		cap /= 2;
	if (cap == l->cap)
		return;
	l->v = xrealloc(l->v, cap * sizeof *l->v);
	l->cap = cap;
}

/* Session ids are random, so their low bits are a fine hash nobody can aim at. */
static struct session **sid_slot(struct proto2 *p, uint64_t sid)
{
	return &p->by_sid[sid & (p->nbuckets - 1)];
}

static struct session *find_sid(struct proto2 *p, uint64_t sid)
{
	struct session *ss;

	for (ss = *sid_slot(p, sid); ss != NULL; ss = ss->next_sid)
		if (ss->sid == sid)
			return ss;
	return NULL;
}

static void sid_link(struct proto2 *p, struct session *ss)
{
	struct session **slot = sid_slot(p, ss->sid);

	ss->next_sid = *slot;
	*slot = ss;
}

static void sid_unlink(struct proto2 *p, struct session *ss)
{
	struct session **pp;

	for (pp = sid_slot(p, ss->sid); *pp != NULL; pp = &(*pp)->next_sid) {
		if (*pp == ss) {
			*pp = ss->next_sid;
			return;
		}
	}
}

/* Keep at most SID_LOAD sessions per bucket on average. */
static void grow_sids(struct proto2 *p)
{
	struct session *ss;
	size_t i = 0;

	free(p->by_sid);
	p->nbuckets *= 2;
	p->by_sid = xcalloc(p->nbuckets, sizeof *p->by_sid);
	while ((ss = next_session(p, &i)) != NULL)
		sid_link(p, ss);
}

/* A fresh random session id, never 0 and never in use. */
static uint64_t new_sid(struct proto2 *p)
{
	uint64_t sid;

	do
		randombytes_buf(&sid, sizeof sid);
	while (sid == 0 || find_sid(p, sid) != NULL);
	return sid;
}

static struct session *session_new(struct proto2 *p, const struct member *m, uint64_t nonce)
{
	struct session *ss = xcalloc(1, sizeof *ss);

	ss->sid = new_sid(p);
	ss->nonce = nonce;
	ss->m = m;
	rel_init(&ss->rel);
	p->count++;
	if (p->count > SID_LOAD * p->nbuckets)
		grow_sids(p); /* the attached sessions: ss is not, yet */
	sid_link(p, ss);
	return ss;
}

static void busy_link(struct proto2 *p, struct session *ss)
{
	if (ss->busy)
		return;
	ss->busy = 1;
	ss->busy_at = (uint32_t)p->busy.n;
	list_push(&p->busy, ss);
}

/* O(1): the last busy session takes its place. */
static void busy_unlink(struct proto2 *p, struct session *ss)
{
	struct session *last;

	if (!ss->busy)
		return;
	last = p->busy.v[--p->busy.n];
	p->busy.v[ss->busy_at] = last;
	last->busy_at = ss->busy_at;
	ss->busy = 0;
}

/* A walk, but the dirty list only holds what this batch touched. */
static void dirty_unlink(struct proto2 *p, struct session *ss)
{
	size_t i;

	if (!ss->dirty)
		return;
	for (i = 0; i < p->dirty.n; i++) {
		if (p->dirty.v[i] == ss) {
			p->dirty.v[i] = p->dirty.v[--p->dirty.n];
			break;
		}
	}
	ss->dirty = 0;
}

/*
 * A session's nonce is spent: a LOGIN replayed with it while its cookie is
 * good must not start the session again.  If the set is full (a million
 * sessions ended within one cookie rotation), every cookie out there is
 * made invalid instead, which keeps the promise at the price of one more
 * round trip for whoever is logging in.
 */
static void retire_nonce(struct proto2 *p, uint64_t nonce, uint64_t now)
{
	if (nonceset_retire(&p->retired, nonce) == 0)
		return;
	log_warnx("too many sessions ended within two minutes: all login cookies renewed");
	cookie_init(&p->jar, now);
	p->rotated_at = p->jar.rotated_at;
	nonceset_clear(&p->retired);
	(void)nonceset_retire(&p->retired, nonce);
}

/* Forget a session whose member has left the room. */
static void session_destroy(struct proto2 *p, struct session *ss)
{
	retire_nonce(p, ss->nonce, server_now(p->srv));
	if (nonceset_retire(&p->ended, ss->sid) < 0) { /* full: forgetting costs a CLOSE */
		nonceset_clear(&p->ended);
		(void)nonceset_retire(&p->ended, ss->sid);
	}
	sid_unlink(p, ss);
	dirty_unlink(p, ss);
	busy_unlink(p, ss);
	if (ss->doomed)
		p->ndoomed--;
	if (ss->aware)
		p->aware--;
	p->count--;
	session_free(ss);
}

static void mark_dirty(struct proto2 *p, struct session *ss)
{
	busy_link(p, ss);
	if (ss->dirty)
		return;
	ss->dirty = 1;
	list_push(&p->dirty, ss);
}

/*
 * May we answer this unvalidated source?  A token bucket per hash slot of
 * its IP address, and one for everyone, bound what a flood of forged
 * sources can make us send.
 */
static int may_answer(struct proto2 *p, const struct peer_addr *from, uint64_t now)
{
	uint8_t key[ADDR_KEY_MAX], h[crypto_shorthash_BYTES], hip[crypto_shorthash_BYTES];
	size_t len = addr_key(from, key), slot, ipslot;

	if (len < 3)
		return 0;
	/*
	 * The whole address (family, port, IP), and the IP alone (addr_key:
	 * the port is bytes 1-2), an IPv6 one by its /64: one host's share.
	 */
	crypto_shorthash(h, key, len, p->limit_key);
	crypto_shorthash(hip, key + 3, key[0] == 6 ? 8 : len - 3, p->limit_key);
	slot = ((size_t)h[0] << 8 | h[1]) % LIMIT_SLOTS;
	ipslot = ((size_t)hip[0] << 8 | hip[1]) % LIMIT_IP_SLOTS;
	if (!bucket_take(&p->limit[slot], now, LIMIT_BURST, LIMIT_RATE) ||
	    !bucket_take(&p->limit_ip[ipslot], now, LIMIT_IP_BURST, LIMIT_IP_RATE) ||
	    !bucket_take(&p->limit_all, now, LIMIT_GLOBAL_BURST, LIMIT_GLOBAL_RATE)) {
		p->srv->st.sdrops[SDROP_RATE_LIMITED]++;
		return 0;
	}
	return 1;
}

static void send_packet(struct server *s, const struct peer_addr *to, const struct v2_packet *pk)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(pk, buf, sizeof buf), sizeof buf);

	if (n > 0)
		server_send(s, to, buf, n);
}

static void send_cookie(struct proto2 *p, const struct peer_addr *to, uint64_t nonce)
{
	struct v2_packet pk = {.type = V2_COOKIE, .nonce = nonce};

	cookie_make(&p->jar, to, nonce, pk.cookie);
	send_packet(p->srv, to, &pk);
}

static void send_welcome(struct proto2 *p, const struct session *ss)
{
	struct v2_packet pk = {
	    .type = V2_WELCOME,
	    .nonce = ss->nonce,
	    .sid = ss->sid,
	    .keepalive = (uint16_t)p->srv->keepalive_hint,
	    .max_message = V2_MAX_TEXT,
	    .features = V2_F_MSG_ID,
	};

	if (p->srv->channels != NULL)
		pk.features |= V2_F_ROOMS;
	if (p->srv->channels != NULL && history_offered(p->srv))
		pk.features |= V2_F_HISTORY;

	send_packet(p->srv, &ss->m->addr, &pk);
}

static void send_refuse(struct proto2 *p, const struct peer_addr *to, uint64_t nonce, enum qerr err,
                        int detail)
{
	const char *why = qerr_text(p->srv->lang, err, detail);
	struct v2_packet pk = {
	    .type = V2_REFUSE,
	    .nonce = nonce,
	    .code = (uint8_t)err,
	    .detail = (uint8_t)detail,
	    .reason = why,
	    .reason_len = strlen(why),
	};

	send_packet(p->srv, to, &pk);
}

static void send_close(struct server *s, const struct peer_addr *to, uint64_t sid, int reason)
{
	struct v2_packet pk = {.type = V2_CLOSE, .sid = sid, .code = (uint8_t)reason};

	send_packet(s, to, &pk);
}

/* A session datagram (DATA or ACK) to ss, carrying our current ack fields, queued. */
static void send_session(struct proto2 *p, struct session *ss, enum v2_type type, uint32_t seq,
                         const struct blob *b)
{
	struct v2_packet pk = {.type = type, .sid = ss->sid, .seq = seq};
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n;

	rel_ack_fields(&ss->rel, &pk.ack, &pk.ack_bits);
	if (b != NULL) {
		pk.payload = b->data;
		pk.payload_len = b->len;
	}
	n = v2_seal(buf, v2_encode(&pk, buf, sizeof buf), sizeof buf);
	if (n > 0)
		server_queue(p->srv, &ss->m->addr, buf, n); /* sent in batches: see p2_flush */
	ss->rel.ack_pending = 0;
}

struct emit_ctx {
	struct proto2 *p;
	struct session *ss;
};

static void emit_data(void *ctx, uint32_t seq, const struct blob *b)
{
	struct emit_ctx *e = ctx;
	const struct rel_slot *slot = &e->ss->rel.win[seq % REL_WINDOW];

	if (slot->tries > 1)
		e->p->srv->st.retransmits++;
	send_session(e->p, e->ss, V2_DATA, seq, b);
}

/* Queue a reliable message to a session; an overflowing queue dooms it (evicted after). */
void p2_queue_blob(struct proto2 *p, struct session *ss, struct blob *b)
{
	if (ss->doomed)
		return;
	if (rel_queue(&ss->rel, b) < 0) {
		ss->doomed = 1;
		p->ndoomed++;
	}
	mark_dirty(p, ss);
}

int p2_queue_msg(struct proto2 *p, struct session *ss, const struct v2_msg *m)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_msg_encode(m, buf, V2_MAX_PAYLOAD);
	struct blob *b;

	if (n == 0)
		return -1;
	b = blob_new(buf, n);
	p2_queue_blob(p, ss, b);
	blob_unref(b);
	return 0;
}

void p2_notice(struct proto2 *p, struct session *ss, enum qerr err, int detail)
{
	const char *why = qerr_text(p->srv->lang, err, detail);
	struct v2_msg m = {.kind = V2_K_NOTICE,
	                   .code = (uint8_t)err,
	                   .detail = (uint8_t)detail,
	                   .text = why,
	                   .text_len = strlen(why)};

	(void)p2_queue_msg(p, ss, &m);
}

size_t p2_pieces(const struct v2_msg *head, size_t chunk, const char *text, size_t len,
                 struct blob **out, size_t max)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = 0;

	do {
		struct v2_msg m = *head;
		size_t k = text != NULL ? utf8_prefix(text, len, chunk) : 0, size;

		if (k == 0 && len > 0)
			break;
		m.text = text;
		m.text_len = k;
		m.flags = (uint8_t)((head->flags & ~V2_MORE) | (k < len ? V2_MORE : 0));
		size = v2_msg_encode(&m, buf, V2_MAX_PAYLOAD);
		if (size == 0)
			break;
		out[n++] = blob_new(buf, size);
		text = text != NULL ? text + k : NULL;
		len -= k;
	} while (len > 0 && n < max);
	return n;
}

/* LOGIN with a valid cookie: the address is proven.  Create, resume or refuse. */
static void on_login(struct proto2 *p, const struct peer_addr *from, const struct v2_packet *pk,
                     size_t req_len, uint64_t now)
{
	struct server *s = p->srv;
	const struct member *m = room_find_addr(s->room, from);
	struct session *ss;
	struct outcome o;
	char key[QUN_MAX_NAME + 1];

	/* A replay of a LOGIN whose session has ended (nonceset.h): not taken again. */
	if (nonceset_retired(&p->retired, pk->nonce)) {
		s->st.sdrops[SDROP_V2_REPLAY]++;
		return;
	}
	/* The operator's bans (sanction.h): a banned name or address gets no session. */
	if (sanction_is_banned(s->sanctions, pk->name, pk->name_len, from, now)) {
		s->st.sdrops[SDROP_BANNED]++;
		send_refuse(p, from, pk->nonce, QERR_BANNED, 0);
		return;
	}
	if (m != NULL && m->proto == 2) {
		ss = m->data;
		if (ss->nonce == pk->nonce) {
			send_welcome(p, ss); /* a retry after a lost WELCOME */
			return;
		}
		if (name_normalize(pk->name, pk->name_len, key, sizeof key) >= 0 &&
		    strcmp(key, member_key(m)) == 0) {
			/*
			 * The same client back on the same address (restarted): a
			 * fresh session, in the default room only, like any new one.
			 */
			rooms_restart(s, ss);
			if (ss->aware)
				p->aware--;
			ss->aware = 0;
			ss->who_seq = 0; /* the old session's seqs mean nothing in the new one */
			retire_nonce(p, ss->nonce, now);
			sid_unlink(p, ss);
			dirty_unlink(p, ss);
			rel_free(&ss->rel);
			rel_init(&ss->rel);
			drop_reassembly(ss);
			ss->sid = new_sid(p);
			ss->nonce = pk->nonce;
			sid_link(p, ss);
			send_welcome(p, ss);
			return;
		}
	}
	if (m != NULL && m->proto != 2) {
		send_refuse(p, from, pk->nonce, QERR_OTHER_NAME, 0);
		return;
	}
	room_join(s->room, from, pk->name, pk->name_len, now, &o);
	if (o.reply != REPLY_OK || !o.has_event) {
		send_refuse(p, from, pk->nonce, o.reply == REPLY_ERR ? o.err : QERR_OTHER_NAME,
		            o.err_detail);
		return;
	}
	ss = session_new(p, o.exclude, pk->nonce);
	room_attach(s->room, o.exclude, 2, ss);
	send_welcome(p, ss);
	o.reply = REPLY_NONE; /* WELCOME was the reply */
	server_deliver(s, &o, req_len);
}

/*
 * A complete SAY, ME or TELL (kind) from ss (reassembled if it came in
 * pieces): into room (0: the default room), or to the member named to.
 */
static void say_text(struct proto2 *p, struct session *ss, enum v2_kind kind, uint32_t room,
                     const char *to, const char *text, size_t len)
{
	struct channel *c = NULL;
	struct outcome o;

	/* A muted member (sanction.h) is told so, and nobody hears it. */
	if (sanction_is_muted(p->srv->sanctions, ss->m->name, strlen(ss->m->name),
	                      server_now(p->srv))) {
		p->srv->st.sdrops[SDROP_MUTED]++;
		p2_notice(p, ss, QERR_MUTED, 0);
		return;
	}
	if (kind == V2_K_TELL) {
		rooms_tell(p->srv, ss, to, text, len);
		return;
	}
	if (room != 0 && rooms_where(p->srv, ss, room, &c) < 0)
		return;
	room_say(p->srv->room, &ss->m->addr, ss->m->name, strlen(ss->m->name), text, len,
	         server_now(p->srv), &o);
	if (o.has_event && kind == V2_K_ME)
		o.event = EV_ACTION; /* relayed like chat, shown as "* NAME TEXT" */
	o.chan = c;
	server_deliver(p->srv, &o, 0);
}

/*
 * Queue one MEMBERS piece: the names names[*next..] that fit, advancing
 * *next past them; MORE is set while names remain.  Returns -1 if nothing
 * could be encoded (never happens with names that passed the name rules).
 */
static int queue_members_piece(struct proto2 *p, struct session *ss, const char *const *names,
                               size_t count, size_t total, size_t *next)
{
	char list[V2_MEMBERS_CHUNK];
	uint8_t buf[QUN_MAX_DATAGRAM];
	struct v2_msg m = {.kind = V2_K_MEMBERS, .total = (uint32_t)total};
	size_t used = 0, n;
	struct blob *b;

	while (*next < count) {
		size_t k = strlen(names[*next]);

		if (k == 0 || k > 255 || used + 1 + k > sizeof list)
			break;
		list[used] = (char)k;
		memcpy(list + used + 1, names[*next], k);
		used += 1 + k;
		(*next)++;
	}
	m.flags = *next < count ? V2_MORE : 0;
	m.text = list;
	m.text_len = used;
	n = v2_msg_encode(&m, buf, V2_MAX_PAYLOAD);
	if (n == 0 || (used == 0 && *next < count))
		return -1;
	b = blob_new(buf, n);
	p2_queue_blob(p, ss, b);
	blob_unref(b);
	return 0;
}

int p2_list_busy(const struct session *ss)
{
	return ss->who_seq != 0 && !rel_acked_through(&ss->rel, ss->who_seq);
}

void p2_list_sent(struct session *ss)
{
	ss->who_seq = rel_last_seq(&ss->rel);
}

void p2_queue_members(struct proto2 *p, struct session *ss, const char *const *names, size_t count,
                      size_t total)
{
	size_t next = 0;

	do
		if (queue_members_piece(p, ss, names, count, total, &next) < 0)
			break;
	while (next < count);
	p2_list_sent(ss);
}

/*
 * A list (WHO, HISTORY, SEARCH) ss may have: none of its lists still
 * unacknowledged, and a flood-control token (room_who).  Returns 0, or
 * -1 with the refusal (NOTICE 8) on its way.
 */
static int list_refused(struct proto2 *p, struct session *ss)
{
	struct server *s = p->srv;
	struct outcome o;

	if (p2_list_busy(ss)) {
		p2_notice(p, ss, QERR_FLOOD, 0);
		return -1;
	}
	if (room_who(s->room, &ss->m->addr, ss->m->name, strlen(ss->m->name), 1, server_now(s),
	             &o) == NULL) {
		server_deliver(s, &o, 0);
		return -1;
	}
	return 0;
}

/*
 * WHO from ss: the members online, to ss alone, in as many MEMBERS pieces
 * as it takes (about 30 for a room of 1024).  The pieces are private to
 * the session, so they pin memory until acknowledged: at most one answer
 * (of WHO or ROOMS) is in flight per session, and a WHO that comes before
 * the client has acknowledged the last answer's last piece gets a NOTICE
 * (flooding) and costs nothing else.  Otherwise it costs a flood-control
 * token (room_who); one over the rate gets the same NOTICE instead.  A
 * WHO naming a room other than the default is rooms.c's.
 */
static void answer_who(struct proto2 *p, struct session *ss, const struct v2_msg *m)
{
	static const char *names[V2_WHO_MAX_NAMES];
	struct server *s = p->srv;
	size_t i, total, count = 0;

	if (list_refused(p, ss) < 0)
		return;
	if (m->room != 0 && m->room != V2_LOBBY && s->channels != NULL) {
		rooms_who(s, ss, m->room);
		return;
	}
	total = room_count(s->room);
	for (i = 0; i < total && count < V2_WHO_MAX_NAMES; i++)
		names[count++] = room_member(s->room, i)->name;
	p2_queue_members(p, ss, names, count, total);
}

/*
 * Whether a complete SAY or ME whose last piece is m was taken before (a
 * client re-sends what its old session had not seen acknowledged); if
 * not, its id becomes the last taken.  A message without an id is new.
 */
static int said_before(struct proto2 *p, struct session *ss, const struct v2_msg *m)
{
	if (!(m->flags & V2_ID))
		return 0;
	if (ss->said_valid && (uint32_t)(ss->said_id - m->id) < V2_ID_WINDOW) {
		p->srv->st.sdrops[SDROP_V2_REPEAT]++;
		return 1;
	}
	ss->said_id = m->id;
	ss->said_valid = 1;
	return 0;
}

/* A request about rooms (docs/ROOMS.md): any of them declares that the client knows rooms. */
static void on_rooms_request(struct proto2 *p, struct session *ss, const struct v2_msg *m)
{
	int declaring = !ss->aware;

	if (p->srv->channels == NULL) {
		p2_notice(p, ss, QERR_BAD_REQUEST, 0); /* as a server without rooms answers */
		return;
	}
	if (declaring) {
		ss->aware = 1;
		p->aware++;
	}
	rooms_request(p->srv, ss, m, declaring);
	if (m->kind == V2_K_ROOMS && (m->flags & V2_ROOMS_HISTORY))
		history_deliver_private(p->srv, ss); /* what was said to it while it was away */
}

/*
 * HISTORY and SEARCH: only from a server that offers them, of rooms the
 * session may read; one answer in flight (as WHO), and a flood-control
 * token.
 */
static void on_history(struct proto2 *p, struct session *ss, const struct v2_msg *m)
{
	struct server *s = p->srv;
	struct channel *c;

	if (s->channels == NULL || !history_offered(s)) {
		p2_notice(p, ss, QERR_BAD_REQUEST, 0); /* as a server without history answers */
		return;
	}
	if (m->kind == V2_K_SEARCH &&
	    text_check_max(m->text, m->text_len, V2_MAX_PAYLOAD) != TEXT_OK) {
		p2_notice(p, ss, QERR_TEXT_INVALID,
		          (int)text_check_max(m->text, m->text_len, V2_MAX_PAYLOAD));
		return;
	}
	if (m->kind == V2_K_HISTORY && rooms_where(s, ss, m->room, &c) < 0)
		return;
	if (list_refused(p, ss) < 0)
		return;
	if (m->kind == V2_K_SEARCH)
		history_search(s, ss, m);
	else
		history_answer(s, ss, m);
}

/*
 * Start putting a long message together, or take its next piece: every
 * piece is of one kind and names one room (or member); a mix is refused
 * whole, like an overflow.
 */
static struct reassembly *reassemble(struct session *ss, const struct v2_msg *m)
{
	struct reassembly *re = ss->asm_text;

	if (re == NULL) {
		re = ss->asm_text = xmalloc(sizeof *ss->asm_text);
		re->len = 0;
		re->room = m->room;
		snprintf(re->to, sizeof re->to, "%.*s", (int)m->name_len, m->name ? m->name : "");
		ss->asm_kind = (unsigned)m->kind & 0xffu;
	}
	if (ss->asm_overflow || re->len + m->text_len > V2_MAX_TEXT || m->kind != ss->asm_kind ||
	    m->room != re->room ||
	    (m->kind == V2_K_TELL &&
	     (m->name_len != strlen(re->to) || memcmp(m->name, re->to, m->name_len) != 0))) {
		ss->asm_overflow = 1;
	} else {
		memcpy(re->text + re->len, m->text, m->text_len);
		re->len += m->text_len;
	}
	return re;
}

/* One in-order reliable message from a client. */
static void on_message(void *ctx, const uint8_t *data, size_t len)
{
	struct emit_ctx *e = ctx;
	struct session *ss = e->ss;
	struct reassembly *re;
	struct v2_msg m;
	char to[QUN_MAX_NAME + 1];

	if (v2_msg_parse(data, len, &m) != V2_OK) {
		p2_notice(e->p, ss, QERR_BAD_REQUEST, 0);
		return;
	}
	switch (m.kind) {
	case V2_K_QUIT:
		ss->quit_requested = 1;
		return;
	case V2_K_WHO:
		answer_who(e->p, ss, &m);
		return;
	case V2_K_JOIN:
	case V2_K_PART:
	case V2_K_ROOMS:
		on_rooms_request(e->p, ss, &m);
		return;
	case V2_K_HISTORY:
	case V2_K_SEARCH:
		on_history(e->p, ss, &m);
		return;
	case V2_K_SAY:
	case V2_K_ME:
		break;
	case V2_K_TELL:
		if (e->p->srv->channels == NULL || m.name_len > QUN_MAX_NAME ||
		    memchr(m.name, '\0', m.name_len) != NULL) {
			/* A server without rooms, or a name no member can have. */
			p2_notice(e->p, ss, QERR_BAD_REQUEST, 0);
			return;
		}
		break;
	default:
		p2_notice(e->p, ss, QERR_BAD_REQUEST, 0);
		return;
	}
	if (ss->asm_text == NULL && !(m.flags & V2_MORE)) {
		/* The common case: one piece. */
		snprintf(to, sizeof to, "%.*s", (int)m.name_len, m.name ? m.name : "");
		if (!said_before(e->p, ss, &m))
			say_text(e->p, ss, m.kind, m.room, to, m.text, m.text_len);
		return;
	}
	re = reassemble(ss, &m);
	if (m.flags & V2_MORE)
		return;
	if (said_before(e->p, ss, &m))
		; /* a repeat: acknowledged, not relayed */
	else if (ss->asm_overflow)
		p2_notice(e->p, ss, QERR_TEXT_INVALID, TEXT_TOO_LONG);
	else
		say_text(e->p, ss, (enum v2_kind)ss->asm_kind, re->room, re->to, re->text, re->len);
	drop_reassembly(ss);
}

/*
 * A session datagram from the session's own address.  The session needs
 * p2_flush only if we owe it an ACK or its ack made room for queued DATA
 * (whatever it said queued its answers, which marks it too), because
 * most datagrams in a busy room are ACKs that free a slot with nothing
 * behind it (docs/PERFORMANCE.md).
 * Retransmissions do not need the mark: the session is on the busy list
 * while anything is in flight, and the timer polls it.
 */
static void on_session(struct proto2 *p, struct session *ss, const struct v2_packet *pk,
                       uint64_t now)
{
	struct server *s = p->srv;
	struct emit_ctx e = {p, ss};
	struct outcome o;
	const struct member *m = ss->m;
	int freed;

	room_touch(s->room, m, now); /* a sign of life; m is known, no lookup */
	if (pk->type == V2_REBIND)
		return;
	freed = rel_on_ack(&ss->rel, pk->ack, pk->ack_bits, now);
	if (pk->type == V2_DATA)
		rel_on_data(&ss->rel, pk->seq, pk->payload, pk->payload_len, on_message, &e);
	else if (pk->type == V2_PING)
		ss->rel.ack_pending = 1;
	if (ss->rel.ack_pending || (freed > 0 && rel_queued(&ss->rel) > 0))
		mark_dirty(p, ss);
	if (ss->quit_requested) {
		room_quit(s->room, &m->addr, m->name, strlen(m->name), now, &o);
		server_deliver(s, &o, 0); /* destroys ss (p2_reply) */
	}
}

/*
 * A session id we know, from an address that is not the session's: never
 * act on it and never send the room there.  Answer with a CHALLENGE that
 * the real client can answer from its new address (REBIND).
 */
static void on_other_address(struct proto2 *p, struct session *ss, const struct peer_addr *from,
                             const struct v2_packet *pk, uint64_t now)
{
	struct v2_packet ch = {.type = V2_CHALLENGE, .sid = ss->sid};

	p->srv->st.sdrops[SDROP_V2_WRONG_ADDR]++;
	if (pk->type == V2_REBIND && cookie_check(&p->jar, from, ss->sid, pk->cookie)) {
		if (room_rebind(p->srv->room, ss->m, from) == 0) {
			log_info("%s moved to a new address", ss->m->name);
			mark_dirty(p, ss);
		}
		return;
	}
	if (!may_answer(p, from, now))
		return;
	cookie_make(&p->jar, from, ss->sid, ch.cookie);
	send_packet(p->srv, from, &ch);
}

static void p2_handle(struct server *s, const struct peer_addr *from, const uint8_t *buf,
                      size_t len)
{
	struct proto2 *p = s->p2;
	struct v2_packet pk;
	struct session *ss;
	uint64_t now = server_now(s);

	len = v2_unseal(buf, len);
	if (len == 0 || v2_parse(buf, len, &pk) != V2_OK) {
		s->st.sdrops[SDROP_V2_MALFORMED]++; /* damaged on the way, or never v2 */
		return;
	}
	switch (pk.type) {
	case V2_HELLO:
		if (may_answer(p, from, now))
			send_cookie(p, from, pk.nonce);
		return;
	case V2_LOGIN:
		if (cookie_check(&p->jar, from, pk.nonce, pk.cookie)) {
			on_login(p, from, &pk, len, now);
		} else {
			s->st.sdrops[SDROP_V2_BAD_COOKIE]++;
			if (may_answer(p, from, now))
				send_cookie(p, from, pk.nonce);
		}
		return;
	case V2_DATA:
	case V2_ACK:
	case V2_PING:
	case V2_REBIND:
		break;
	default:
		s->st.sdrops[SDROP_V2_MALFORMED]++; /* server-to-client types */
		return;
	}
	ss = find_sid(p, pk.sid);
	if (ss == NULL) {
		s->st.sdrops[SDROP_V2_UNKNOWN_SID]++;
		/*
		 * An ACK of a session that just ended was sent before its end
		 * reached the client (ACKs come in a socket of their own, so one
		 * sent before a QUIT may be read after it): the client has its
		 * CLOSE with the real reason, and a second one would contradict it.
		 */
		if (pk.type == V2_ACK && nonceset_retired(&p->ended, pk.sid))
			return;
		if (may_answer(p, from, now))
			send_close(s, from, pk.sid, V2_CLOSE_UNKNOWN);
		return;
	}
	if (!addr_equal(from, &ss->m->addr))
		on_other_address(p, ss, from, &pk, now);
	else
		on_session(p, ss, &pk, now);
}

/* The reply an outcome has for a v2 member: a NOTICE, or the end of its session. */
static void p2_reply(struct server *s, const struct outcome *o, size_t req_len)
{
	struct proto2 *p = s->p2;
	struct session *ss = o->reply_data;
	int reason;

	(void)req_len; /* v2 answers strangers itself: every reply here goes to a member */

	if (ss == NULL)
		return;
	switch (o->reply) {
	case REPLY_ERR:
		p2_notice(p, ss, o->err, o->err_detail);
		break;
	case REPLY_EXIT:
		/* The member is gone from the room: flush what we can, say why, forget it. */
		reason = o->event == EV_KICK    ? V2_CLOSE_KICKED
		         : o->event == EV_LEAVE ? V2_CLOSE_QUIT
		         : ss->doomed           ? V2_CLOSE_SLOW
		                                : V2_CLOSE_TIMEOUT;
		rooms_leave_all(s, ss, o); /* each of its rooms is told */
		send_close(s, &o->reply_to, ss->sid, reason);
		session_destroy(p, ss);
		break;
	default:
		break;
	}
}

/*
 * Encode the default room's event once, in as many pieces as its text
 * needs (as EVENT, and as REVENT if any session declared rooms), and
 * queue the same blobs to every v2 member but the excluded one.  Another
 * room's event is rooms.c's.
 */
#define MAX_PIECES (V2_MAX_TEXT / 64 + 2)

static void p2_broadcast(struct server *s, const struct outcome *o)
{
	struct proto2 *p = s->p2;
	struct blob *pieces[MAX_PIECES], *rpieces[MAX_PIECES];
	size_t npieces, nr = 0, name_len = strlen(o->name), i = 0, k;
	struct v2_msg m = {.kind = V2_K_EVENT,
	                   .event_id = s->event_id,
	                   .event = (uint8_t)o->event,
	                   .name = o->name,
	                   .name_len = name_len};
	struct session *ss;

	if (o->chan != NULL) {
		rooms_broadcast(s, o);
		return;
	}
	if (p->count == 0)
		return;
	npieces = p2_pieces(&m, V2_EVENT_CHUNK(name_len), o->text, o->text_len, pieces, MAX_PIECES);
	if (p->aware > 0) {
		m.kind = V2_K_REVENT;
		m.room = V2_LOBBY;
		nr = p2_pieces(&m, V2_REVENT_CHUNK(name_len), o->text, o->text_len, rpieces,
		               MAX_PIECES);
	}
	while ((ss = next_session(p, &i)) != NULL) {
		if (ss->m == o->exclude)
			continue;
		if (ss->aware)
			for (k = 0; k < nr; k++)
				p2_queue_blob(p, ss, rpieces[k]);
		else
			for (k = 0; k < npieces; k++)
				p2_queue_blob(p, ss, pieces[k]);
	}
	for (k = 0; k < npieces; k++)
		blob_unref(pieces[k]);
	for (k = 0; k < nr; k++)
		blob_unref(rpieces[k]);
}

/*
 * Evict every session whose queue overflowed; each eviction is itself an
 * event (which may doom others), so loop.  The count makes the common
 * case, nobody doomed, O(1) instead of a walk of every session per batch.
 */
static void evict_doomed(struct proto2 *p)
{
	struct session *ss;
	struct outcome o;

	while (p->ndoomed > 0) {
		size_t i = 0;

		while ((ss = next_session(p, &i)) != NULL && !ss->doomed)
			;
		if (ss == NULL) {
			p->ndoomed = 0; /* cannot happen: the count is kept exact */
			return;
		}
		log_info("%s is too slow to keep up; evicted", ss->m->name);
		room_evict(p->srv->room, ss->m, &o);
		server_deliver(p->srv, &o, 0); /* destroys ss, and counts it off */
	}
}

static void p2_flush(struct server *s)
{
	struct proto2 *p = s->p2;
	uint64_t now = server_now(s);

	evict_doomed(p);
	while (p->dirty.n > 0) {
		struct session *ss = p->dirty.v[--p->dirty.n];
		struct emit_ctx e = {p, ss};

		ss->dirty = 0;
		rel_poll(&ss->rel, now, emit_data, &e);
		if (rel_queued(&ss->rel) > 0)
			TRACE(trace_deferred(&s->trace, 1));
		if (ss->rel.ack_pending)
			send_session(p, ss, V2_ACK, 0,
			             NULL); /* nothing carried it: one ACK per batch */
	}
	server_flush(s);
}

/*
 * Visit at most `slice` busy sessions from the walk's place: due
 * retransmissions, and the windows of those gone idle given back.  At a
 * thousand busy sessions a whole walk took up to 0.9 ms, which a chat line
 * arriving meanwhile waited for; in slices the loop reads between them
 * (docs/PERFORMANCE.md, "ACKs in a socket of their own, and the tick in
 * slices").  A walk visits at most the sessions that were busy when it
 * began (walk_left), so sessions that become busy meanwhile cannot keep it
 * going; they, and a session moved behind the walk's place (the last busy
 * one takes the place of one that ends), wait for the next walk, a tick
 * later.  Returns 1 while the walk is not over.
 */
#define TICK_SLICE 128

static int p2_walk(struct proto2 *p, uint64_t now, size_t slice)
{
	size_t i = p->walk_at;

	while (i < p->busy.n && p->walk_left > 0 && slice > 0) {
		struct session *ss = p->busy.v[i];

		p->walk_left--;
		slice--;
		if (rel_busy(&ss->rel)) {
			struct emit_ctx e = {p, ss};

			/* Most have DATA in flight and nothing due: skip their windows. */
			if (rel_due(&ss->rel, now))
				rel_poll(&ss->rel, now, emit_data, &e);
			i++;
			continue;
		}
		/* Idle: give back its windows, and leave the timer alone until it has traffic. */
		rel_trim(&ss->rel);
		if (rel_nheld(&ss->rel) == 0)
			busy_unlink(p, ss); /* the last busy session moves to i: look at it next */
		else
			i++;
	}
	p->walk_at = i;
	if (i < p->busy.n && p->walk_left > 0)
		return 1;
	p->walking = 0;
	list_shrink(&p->busy);
	list_shrink(&p->dirty);
	return 0;
}

/*
 * The tick (start) begins a walk; one still going when the next tick comes
 * (the loop fell behind) is finished at once first, so that no session
 * waits more than a walk for its retransmission.
 */
static int p2_tick(struct server *s, int start)
{
	struct proto2 *p = s->p2;
	uint64_t now = server_now(s);

	if (start) {
		cookie_rotate(&p->jar, now);
		if (p->jar.rotated_at != p->rotated_at) {
			nonceset_rotate(&p->retired); /* in step with the secrets: see nonceset.h */
			nonceset_rotate(&p->ended);
			p->rotated_at = p->jar.rotated_at;
		}
		if (p->walking)
			p2_walk(p, now, SIZE_MAX);
		p->walking = 1;
		p->walk_at = 0;
		p->walk_left = p->busy.n;
	}
	return p->walking ? p2_walk(p, now, TICK_SLICE) : 0;
}

static void p2_goodbye(struct server *s)
{
	struct proto2 *p = s->p2;
	struct session *ss;
	struct outcome o;
	int round;

	memset(&o, 0, sizeof o);
	o.has_event = 1;
	o.event = EV_SHUTDOWN;
	s->event_id++; /* a new event of the room, like any other */
	p2_broadcast(s, &o);
	p2_flush(s);
	/* No time to retransmit: CLOSE twice, so one loss does not leave a client guessing. */
	for (round = 0; round < 2; round++) {
		size_t i = 0;

		while ((ss = next_session(p, &i)) != NULL)
			send_close(s, &ss->m->addr, ss->sid, V2_CLOSE_SHUTDOWN);
	}
}

const struct proto_ops proto2_ops = {
    .handle = p2_handle,
    .reply = p2_reply,
    .broadcast = p2_broadcast,
    .flush = p2_flush,
    .tick = p2_tick,
    .goodbye = p2_goodbye,
};

/* ---- for tests and fuzzers (proto2.h) ---------------------------------------------------- */

void p2_cookie(const struct proto2 *p, const struct peer_addr *addr, uint64_t nonce,
               uint8_t out[V2_COOKIE_LEN])
{
	cookie_make(&p->jar, addr, nonce, out);
}

int p2_cookie_valid(const struct proto2 *p, const struct peer_addr *addr, uint64_t nonce,
                    const uint8_t cookie[V2_COOKIE_LEN])
{
	return cookie_check(&p->jar, addr, nonce, cookie);
}

uint64_t p2_session_id(const struct member *m)
{
	const struct session *ss = m->proto == 2 ? m->data : NULL;

	return ss != NULL ? ss->sid : 0;
}

const struct rel *p2_session_rel(const struct member *m)
{
	const struct session *ss = m->proto == 2 ? m->data : NULL;

	return ss != NULL ? &ss->rel : NULL;
}

void p2_counts(const struct proto2 *p, struct p2_counts *c)
{
	c->sessions = p->count;
	c->sid_buckets = p->nbuckets;
	c->dirty = p->dirty.n;
	c->dirty_cap = p->dirty.cap;
	c->busy = p->busy.n;
	c->busy_cap = p->busy.cap;
	c->doomed = p->ndoomed;
	c->retired_nonces = nonceset_count(&p->retired);
}

static int is_member(const struct room *r, const struct member *m)
{
	size_t i, n = room_count(r);

	for (i = 0; i < n; i++)
		if (room_member(r, i) == m)
			return 1;
	return 0;
}

static int in_list(const struct session_list *l, const struct session *ss)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == ss)
			return 1;
	return 0;
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(err, errlen, __VA_ARGS__);                                        \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

/* Each session on a list is live and flagged, and a busy one knows its index. */
static int check_lists(const struct proto2 *p, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < p->dirty.n; i++)
		CHECK(p->dirty.v[i]->dirty && is_member(p->srv->room, p->dirty.v[i]->m),
		      "a dirty session that is not live");
	for (i = 0; i < p->busy.n; i++)
		CHECK(p->busy.v[i]->busy && p->busy.v[i]->busy_at == i &&
		          is_member(p->srv->room, p->busy.v[i]->m),
		      "busy list entry %zu broken", i);
	CHECK(p->dirty.n <= p->dirty.cap && p->busy.n <= p->busy.cap, "a list past its array");
	return 0;
}

/* One session's invariants (see p2_check). */
static int check_session(const struct proto2 *p, const struct session *ss, int flushed, char *err,
                         size_t errlen)
{
	CHECK(ss->sid != 0 && find_sid((struct proto2 *)(uintptr_t)p, ss->sid) == ss,
	      "session %llx not findable by its id", (unsigned long long)ss->sid);
	CHECK(ss->m->proto == 2 && ss->m->data == ss, "member and session disagree");
	CHECK(ss->asm_text == NULL || ss->asm_text->len <= V2_MAX_TEXT, "reassembly too long");
	CHECK(ss->asm_text != NULL || !ss->asm_overflow,
	      "an overflow flag left over from a reassembly that is gone");
	CHECK(!ss->dirty || in_list(&p->dirty, ss), "dirty but not on the list");
	CHECK(!ss->busy || in_list(&p->busy, ss), "busy but not on the list");
	CHECK(!flushed || !ss->dirty, "still dirty after a flush");
	CHECK(!flushed || !ss->doomed, "a doomed session survived a flush");
	/* An ACK that freed room must have let the queue in (it marks the session). */
	CHECK(!flushed || rel_queued(&ss->rel) == 0 ||
	          ss->rel.next_seq - ss->rel.base >= REL_SEND_WINDOW,
	      "%u queued with %u of %d window slots used after a flush", rel_queued(&ss->rel),
	      ss->rel.next_seq - ss->rel.base, REL_SEND_WINDOW);
	CHECK(rel_pending(&ss->rel) <= REL_WINDOW + REL_QUEUE_MAX, "%zu pending",
	      rel_pending(&ss->rel));
	return 0;
}

/* A session's rooms and the rooms' lists agree, both ways (channel.h's two sides). */
static int check_seats(const struct session *ss, char *err, size_t errlen)
{
	uint32_t i;

	const struct seats *seats = SESSION_SEATS(ss);

	for (i = 0; seats != NULL && i < seats->n; i++) {
		const struct seat *st = &seats->v[i];

		CHECK(st->at < channel_count(st->c) && channel_member(st->c, st->at) == ss->m,
		      "%s's seat %u is not in %s's list", ss->m->name, i, st->c->name);
	}
	return 0;
}

static int check_channels(const struct proto2 *p, char *err, size_t errlen)
{
	const struct channels *t = p->srv->channels;
	size_t i, k;

	for (i = 0; t != NULL && i < channels_count(t); i++) {
		const struct channel *c = channels_at(t, i);

		CHECK(c == channels_default(t) || c->permanent || channel_count(c) > 0,
		      "%s is empty and not permanent, but open", c->name);
		for (k = 0; k < channel_count(c); k++) {
			const struct member *m = channel_member(c, k);
			const struct session *ss = m->proto == 2 ? m->data : NULL;

			CHECK(is_member(p->srv->room, m) && ss != NULL && ss->rooms != NULL &&
			          channel_has(&ss->rooms->seats, c),
			      "%s lists a member that does not list it", c->name);
		}
	}
	return 0;
}

int p2_check(const struct proto2 *p, int flushed, char *err, size_t errlen)
{
	size_t aware = 0;
	const struct room *r = p->srv->room;
	size_t n = 0, i, members = room_count(r);

	for (i = 0; i < members; i++) {
		const struct member *m = room_member(r, i);

		if (m->proto != 2) {
			CHECK(m->proto == 1 && m->data == NULL, "member %s: proto %d", m->name,
			      m->proto);
			continue;
		}
		CHECK(m->data != NULL, "v2 member %s without a session", m->name);
		if (check_session(p, m->data, flushed, err, errlen) < 0 ||
		    check_seats(m->data, err, errlen) < 0)
			return -1;
		aware += ((const struct session *)m->data)->aware;
		n++;
	}
	CHECK(aware == p->aware, "%zu sessions know rooms, counted as %zu", aware, p->aware);
	if (check_channels(p, err, errlen) < 0)
		return -1;
	CHECK(n == p->count, "%zu sessions counted as %zu", n, p->count);
	CHECK(p->count <= SID_LOAD * p->nbuckets, "%zu sessions in %zu buckets", p->count,
	      p->nbuckets);
	return check_lists(p, err, errlen);
}
