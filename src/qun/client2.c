/* client2.c - protocol v2, client side: cookie login, reliable chat, keepalive, reconnection. No
 * I/O of its own. */
#include "client2.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"

#define DEAD_AFTER(c) (3 * (c)->keepalive) /* silence that means the server is gone */

/* One message of ours, kept until the server has acknowledged all of it. */
struct c2_out {
	enum v2_kind kind; /* SAY, ME, WHO or QUIT */
	uint32_t id;       /* SAY, ME: the message id */
	uint32_t last_seq; /* the seq of its last piece in the current session */
	size_t pieces;     /* DATA it takes at most (counted with the id: say_chunk's smaller) */
	size_t len;
	char text[];
};

static void send_packet(struct c2 *c, const struct v2_packet *pk, uint64_t now)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(pk, buf, sizeof buf), sizeof buf);

	if (n > 0 && c->cb.send != NULL)
		c->cb.send(c->cb.ctx, buf, n);
	c->last_sent = now;
}

static void send_hello(struct c2 *c, uint64_t now)
{
	struct v2_packet pk = {.type = V2_HELLO, .nonce = c->nonce};

	send_packet(c, &pk, now);
}

static void send_login(struct c2 *c, uint64_t now)
{
	struct v2_packet pk = {
	    .type = V2_LOGIN, .nonce = c->nonce, .name = c->name, .name_len = strlen(c->name)};

	memcpy(pk.cookie, c->cookie, V2_COOKIE_LEN);
	send_packet(c, &pk, now);
}

static void send_session(struct c2 *c, enum v2_type type, uint32_t seq, const struct blob *b,
                         uint64_t now)
{
	struct v2_packet pk = {.type = type, .sid = c->sid, .seq = seq};

	rel_ack_fields(&c->rel, &pk.ack, &pk.ack_bits);
	if (b != NULL) {
		pk.payload = b->data;
		pk.payload_len = b->len;
	}
	send_packet(c, &pk, now);
	c->rel.ack_pending = 0;
	c->unacked = 0;
	c->ack_now = 0;
}

void c2_init(struct c2 *c, const char *name, unsigned keepalive, const struct c2_callbacks *cb)
{
	memset(c, 0, sizeof *c);
	c->cb = *cb;
	snprintf(c->name, sizeof c->name, "%s", name);
	c->keepalive = (uint64_t)keepalive * 1000;
	randombytes_buf(&c->next_id, sizeof c->next_id);
	rel_init(&c->rel);
}

static struct c2_out *out_at(const struct c2 *c, size_t i)
{
	return c->out[(c->out_head + i) % c->out_cap];
}

/* Forget the oldest message of out. */
static void out_pop(struct c2 *c)
{
	struct c2_out *o = out_at(c, 0);

	c->out_pieces -= o->pieces;
	free(o);
	c->out_head = (c->out_head + 1) % c->out_cap;
	c->out_len--;
}

void c2_free(struct c2 *c)
{
	while (c->out_len > 0)
		out_pop(c);
	free(c->out);
	c->out = NULL;
	c->out_cap = 0;
	rel_free(&c->rel);
}

/* Start a series of handshake attempts with a fresh nonce. */
static void begin_handshake(struct c2 *c, uint64_t now)
{
	randombytes_buf(&c->nonce, sizeof c->nonce);
	c->state = C2_HELLO;
	c->tries = 0;
	c->next_try = now;
	c->backoff = 1000;
	c->asm_active = 0;
	c->asm_len = 0;
	c->who_used = 0;
	c->who_count = 0;
}

static void who_answer(struct c2 *c, int answered, uint32_t total, const char *const *names,
                       size_t count);

void c2_start(struct c2 *c, const char *name, uint64_t now)
{
	snprintf(c->name, sizeof c->name, "%s", name);
	/* A new stay: nothing said or asked under an earlier one goes under this name. */
	c->quitting = 0;
	c->quit_waits = 0;
	if (c->who_asks > 0)
		who_answer(c, 0, 0, NULL, 0);
	while (c->out_len > 0)
		out_pop(c);
	rel_free(&c->rel);
	rel_init(&c->rel);
	begin_handshake(c, now);
}

/* The server is gone or forgot us: tell the owner and log in again, keeping what is unsent. */
static void lose_link(struct c2 *c, uint64_t now)
{
	begin_handshake(c, now);
	if (c->cb.link != NULL)
		c->cb.link(c->cb.ctx, 1);
}

static void finish(struct c2 *c, int reason)
{
	c->state = C2_CLOSED;
	if (c->cb.closed != NULL)
		c->cb.closed(c->cb.ctx, reason);
}

/* Append a message to out, growing the ring by doubling. */
static void out_push(struct c2 *c, struct c2_out *o)
{
	if (c->out_len == c->out_cap) {
		size_t cap = c->out_cap > 0 ? 2 * c->out_cap : 16, i;
		struct c2_out **v = xcalloc(cap, sizeof *v);

		for (i = 0; i < c->out_len; i++)
			v[i] = out_at(c, i);
		free(c->out);
		c->out = v;
		c->out_cap = cap;
		c->out_head = 0;
	}
	c->out[(c->out_head + c->out_len) % c->out_cap] = o;
	c->out_len++;
	c->out_pieces += o->pieces;
}

/* The longest piece of text one DATA takes, with or without an id. */
static size_t say_chunk(const struct c2 *c)
{
	return (c->features & V2_F_MSG_ID) ? V2_SAY_ID_CHUNK : V2_SAY_CHUNK;
}

/* DATA that text takes in pieces of at most chunk bytes (0: not UTF-8 that can be cut). */
static size_t count_pieces(const char *text, size_t len, size_t chunk)
{
	size_t off = 0, n = 0, k;

	while (off < len) {
		k = utf8_prefix(text + off, len - off, chunk);
		if (k == 0)
			return 0;
		off += k;
		n++;
	}
	return n;
}

/*
 * Queue o into the current session's channel, in pieces of say_chunk()
 * (no more than o->pieces of them), and note the seq of its last.
 */
static void send_out(struct c2 *c, struct c2_out *o)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t off = 0, n, chunk = say_chunk(c);
	struct blob *b;

	if (o->kind == V2_K_WHO || o->kind == V2_K_QUIT) {
		uint8_t kind = (uint8_t)o->kind;

		b = blob_new(&kind, 1);
		rel_queue(&c->rel, b);
		blob_unref(b);
	}
	while (off < o->len) {
		size_t k = utf8_prefix(o->text + off, o->len - off, chunk);
		struct v2_msg m = {.kind = o->kind, .text = o->text + off, .text_len = k};

		m.flags = off + k < o->len ? V2_MORE : 0;
		if (c->features & V2_F_MSG_ID) {
			m.flags |= V2_ID;
			m.id = o->id;
		}
		n = v2_msg_encode(&m, buf, sizeof buf);
		b = blob_new(buf, n);
		rel_queue(&c->rel, b);
		blob_unref(b);
		off += k;
	}
	o->last_seq = rel_last_seq(&c->rel);
}

/* Forget the messages at the front of out that the server has acknowledged whole. */
static void out_prune(struct c2 *c)
{
	while (c->out_len > 0 && out_at(c, 0)->last_seq < c->rel.base)
		out_pop(c);
}

static void send_who(struct c2 *c);

/*
 * A new session: a fresh reliable channel, into which every message not
 * acknowledged whole goes again, whole and in order (cut for the new
 * server's features, in at most o->pieces DATA), so nothing the user
 * typed during an outage is lost and nothing is cut in two; the server
 * drops by id what it had taken.  WHO asks not yet answered are asked
 * again with one WHO.
 */
static void restart_channel(struct c2 *c)
{
	size_t i, n = c->out_len;

	rel_free(&c->rel);
	rel_init(&c->rel);
	c->out_pieces = 0;
	for (i = 0; i < n; i++) {
		struct c2_out *o = out_at(c, 0);

		c->out[c->out_head] = NULL;
		c->out_head = (c->out_head + 1) % c->out_cap;
		c->out_len--;
		if (o->kind == V2_K_WHO) {
			free(o);
			continue;
		}
		out_push(c, o);
		send_out(c, o);
	}
	c->who_count = 0;
	c->who_used = 0;
	if (c->who_asks > 0)
		send_who(c);
}

static void on_welcome(struct c2 *c, const struct v2_packet *pk, uint64_t now)
{
	int again = c->ever_online;

	c->sid = pk->sid;
	c->state = C2_ONLINE;
	c->features = pk->features;
	/*
	 * Event ids are the room's count since its server started: a new
	 * session (perhaps with a restarted server) starts them afresh, and no
	 * server replays old events into a new session.
	 */
	c->last_event_id = 0;
	/* The server's timeout wins: ping at least as often as it asks. */
	if (pk->keepalive > 0 && (uint64_t)pk->keepalive * 1000 < c->keepalive)
		c->keepalive = (uint64_t)pk->keepalive * 1000;
	c->ever_online = 1;
	c->last_heard = now;
	restart_channel(c);
	if (again && c->cb.link != NULL)
		c->cb.link(c->cb.ctx, 0);
}

static void show_event(struct c2 *c, const struct v2_msg *m, const char *text, size_t len)
{
	char name[QUN_MAX_NAME + 1];
	size_t n = m->name_len < QUN_MAX_NAME ? m->name_len : QUN_MAX_NAME;

	/* The room's order is the event ids' order: an id seen before is a replay. */
	if (m->event_id != 0 && m->event_id <= c->last_event_id)
		return;
	c->last_event_id = m->event_id;
	memcpy(name, m->name, n);
	name[n] = '\0';
	if (c->cb.event != NULL && m->event <= EV_ACTION)
		c->cb.event(c->cb.ctx, (enum room_event)m->event, name, text, len);
}

static void send_quit(struct c2 *c);

/*
 * The WHO in flight is over (answered, or given up): tell the owner once
 * per ask it covered; a quit that waited for it goes now.
 */
static void who_answer(struct c2 *c, int answered, uint32_t total, const char *const *names,
                       size_t count)
{
	unsigned n = c->who_asks;

	c->who_asks = 0;
	c->who_by = 0;
	while (n-- > 0)
		if (c->cb.who != NULL)
			c->cb.who(c->cb.ctx, answered, total, names, count);
	if (c->quit_waits) {
		c->quit_waits = 0;
		send_quit(c);
	}
}

/*
 * One MEMBERS piece: keep the names that pass the name rules (a server
 * is not trusted to send only names); when MORE is clear, hand the whole
 * list to the owner and start afresh.
 */
static void on_members(struct c2 *c, const struct v2_msg *m)
{
	const char *names[V2_WHO_MAX_NAMES], *name;
	size_t pos = 0, len, i, at = 0;

	while (v2_members_next(m, &pos, &name, &len)) {
		if (name_check(name, len) != NAME_OK || c->who_count >= V2_WHO_MAX_NAMES ||
		    c->who_used + len + 1 > sizeof c->who_store)
			continue;
		memcpy(c->who_store + c->who_used, name, len);
		c->who_store[c->who_used + len] = '\0';
		c->who_used += len + 1;
		c->who_count++;
	}
	if (m->flags & V2_MORE)
		return;
	for (i = 0; i < c->who_count; i++) {
		names[i] = c->who_store + at;
		at += strlen(names[i]) + 1;
	}
	who_answer(c, 1, m->total, names, c->who_count);
	c->who_used = 0;
	c->who_count = 0;
}

/* One in-order reliable message from the server. */
static void on_message(void *ctx, const uint8_t *data, size_t len)
{
	struct c2 *c = ctx;
	struct v2_msg m;

	if (v2_msg_parse(data, len, &m) != V2_OK)
		return;
	if (m.kind == V2_K_NOTICE) {
		if (c->cb.notice != NULL)
			c->cb.notice(c->cb.ctx, m.code, m.detail, m.text, m.text_len);
		return;
	}
	if (m.kind == V2_K_MEMBERS) {
		on_members(c, &m);
		return;
	}
	if (m.kind != V2_K_EVENT)
		return;
	if (!c->asm_active && !(m.flags & V2_MORE)) {
		show_event(c, &m, m.text, m.text_len);
		return;
	}
	if (c->asm_len + m.text_len <= sizeof c->asm_text) {
		memcpy(c->asm_text + c->asm_len, m.text, m.text_len);
		c->asm_len += m.text_len;
	}
	c->asm_active = 1;
	if (m.flags & V2_MORE)
		return;
	show_event(c, &m, c->asm_text, c->asm_len);
	c->asm_active = 0;
	c->asm_len = 0;
}

static void on_close(struct c2 *c, int reason, uint64_t now)
{
	if (reason == V2_CLOSE_QUIT || reason == V2_CLOSE_KICKED || reason == V2_CLOSE_SHUTDOWN) {
		finish(c, reason);
		return;
	}
	/* Unknown session, timed out, too slow: the server forgot us. */
	if (c->quitting)
		finish(c, V2_CLOSE_QUIT); /* our QUIT's confirmation was lost; it did its work */
	else
		lose_link(c, now);
}

static void on_session(struct c2 *c, const struct v2_packet *pk, uint64_t now)
{
	struct v2_packet rb = {.type = V2_REBIND, .sid = c->sid};

	switch (pk->type) {
	case V2_DATA:
		rel_on_ack(&c->rel, pk->ack, pk->ack_bits, now);
		if (c->unacked++ == 0)
			c->ack_since = now;
		/* A duplicate means our ack was lost; held data, that something was: say so at
		 * once. */
		if (!rel_on_data(&c->rel, pk->seq, pk->payload, pk->payload_len, on_message, c) ||
		    rel_nheld(&c->rel) > 0)
			c->ack_now = 1;
		break;
	case V2_ACK:
		rel_on_ack(&c->rel, pk->ack, pk->ack_bits, now);
		break;
	case V2_CLOSE:
		on_close(c, pk->code, now);
		break;
	case V2_CHALLENGE:
		/* Our address changed (NAT): prove the new one. */
		memcpy(rb.cookie, pk->cookie, V2_COOKIE_LEN);
		send_packet(c, &rb, now);
		break;
	default:
		break;
	}
}

void c2_on_datagram(struct c2 *c, const uint8_t *buf, size_t len, uint64_t now)
{
	struct v2_packet pk;

	len = v2_unseal(buf, len);
	if (len == 0 || v2_parse(buf, len, &pk) != V2_OK)
		return; /* damaged on the way: as good as lost */
	switch (pk.type) {
	case V2_COOKIE:
		if ((c->state != C2_HELLO && c->state != C2_LOGIN) || pk.nonce != c->nonce)
			return;
		memcpy(c->cookie, pk.cookie, V2_COOKIE_LEN);
		c->state = C2_LOGIN;
		c->unreachable = 0; /* someone answers after all */
		send_login(c, now);
		c->next_try = now + (c->ever_online ? c->backoff : 1000);
		return;
	case V2_WELCOME:
		if (c->state == C2_LOGIN && pk.nonce == c->nonce)
			on_welcome(c, &pk, now);
		return;
	case V2_REFUSE:
		if (c->state != C2_LOGIN || pk.nonce != c->nonce)
			return;
		c->state = C2_REFUSED;
		if (c->cb.refused != NULL)
			c->cb.refused(c->cb.ctx, pk.code, pk.detail, pk.reason, pk.reason_len);
		return;
	default:
		break;
	}
	if (c->state != C2_ONLINE || pk.sid != c->sid)
		return; /* not our session: stale, or someone else's forgery */
	c->last_heard = now;
	on_session(c, &pk, now);
	out_prune(c);
}

/* Keep o (taken over) until acknowledged, and send it; QUIT's place is kept (queue_text). */
static void add_out(struct c2 *c, struct c2_out *o)
{
	out_push(c, o);
	send_out(c, o);
}

static struct c2_out *new_out(enum v2_kind kind, const char *text, size_t len, size_t pieces)
{
	struct c2_out *o = xmalloc(sizeof *o + len);

	o->kind = kind;
	o->id = 0;
	o->last_seq = 0;
	o->pieces = pieces;
	o->len = len;
	if (len > 0)
		memcpy(o->text, text, len);
	return o;
}

/* Queue text as kind (SAY or ME), in pieces of at most say_chunk() bytes. */
static int queue_text(struct c2 *c, enum v2_kind kind, const char *text, size_t len)
{
	size_t pieces;
	struct c2_out *o;

	if (len == 0 || len > V2_MAX_TEXT)
		return -1;
	/* Counted for a server with ids, the smaller pieces: a later session's server may be one.
	 */
	pieces = count_pieces(text, len, V2_SAY_ID_CHUNK);
	/*
	 * Keep a place for QUIT and one for the WHO a new session may ask
	 * again: it sends all of out again (restart_channel) into a queue of
	 * REL_QUEUE_MAX, and nothing the user typed may be dropped there.
	 */
	if (pieces == 0 || c->out_pieces + pieces > REL_QUEUE_MAX - 2)
		return -1; /* not UTF-8 (the caller checks text first), or full */
	o = new_out(kind, text, len, pieces);
	o->id = c->next_id++;
	add_out(c, o);
	return 0;
}

int c2_say(struct c2 *c, const char *text, size_t len)
{
	return queue_text(c, V2_K_SAY, text, len);
}

int c2_me(struct c2 *c, const char *text, size_t len)
{
	return queue_text(c, V2_K_ME, text, len);
}

/* Send a WHO for the asks (who_asks > 0); c2_poll starts its clock. */
static void send_who(struct c2 *c)
{
	c->who_by = 0;
	add_out(c, new_out(V2_K_WHO, NULL, 0, 1));
}

int c2_who(struct c2 *c)
{
	if (c->who_asks > 0) {
		c->who_asks++; /* shares the answer of the WHO in flight */
		return 0;
	}
	/* Keep the last place for QUIT, as c2_say does (the place it keeps for a WHO is this one).
	 */
	if (c->out_pieces + 1 > REL_QUEUE_MAX - 1)
		return -1;
	c->who_asks = 1;
	send_who(c);
	return 0;
}

void c2_on_unreachable(struct c2 *c)
{
	c->unreachable = 1;
}

static void send_quit(struct c2 *c)
{
	add_out(c, new_out(V2_K_QUIT, NULL, 0, 1));
}

void c2_quit(struct c2 *c)
{
	if (c->state != C2_ONLINE) {
		finish(c, V2_CLOSE_QUIT);
		return;
	}
	if (c->quitting)
		return; /* one QUIT is on its way (reliably); another would only take a place */
	c->quitting = 1;
	if (c->who_asks > 0) {
		c->quit_waits = 1; /* who_answer sends it; poll_who shortens the wait */
		return;
	}
	send_quit(c);
}

struct emit_ctx {
	struct c2 *c;
	uint64_t now;
};

static void emit_data(void *ctx, uint32_t seq, const struct blob *b)
{
	struct emit_ctx *e = ctx;

	send_session(e->c, V2_DATA, seq, b, e->now);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Handshake timers: retry, give up (first login only), back off (reconnecting). */
static uint64_t poll_handshake(struct c2 *c, uint64_t now)
{
	if (now >= c->next_try) {
		if (!c->ever_online &&
		    c->tries >= (c->unreachable ? C2_TRIES_REFUSED : C2_TRIES_SILENT)) {
			c->state = C2_UNREACHABLE;
			return UINT64_MAX;
		}
		if (c->state == C2_HELLO)
			send_hello(c, now);
		else
			send_login(c, now);
		c->tries++;
		if (c->ever_online) {
			c->next_try = now + c->backoff;
			c->backoff = min64(c->backoff * 2, C2_MAX_BACKOFF);
		} else {
			c->next_try = now + 1000;
		}
	}
	return c->next_try;
}

/* The WHO in flight: its clock starts at the first poll after it was sent. */
static uint64_t poll_who(struct c2 *c, uint64_t now)
{
	if (c->who_asks == 0)
		return UINT64_MAX;
	if (c->who_by == 0)
		c->who_by = now + C2_WHO_WAIT;
	if (c->quit_waits && c->who_by > now + C2_QUIT_WHO_WAIT)
		c->who_by = now + C2_QUIT_WHO_WAIT;
	if (now < c->who_by)
		return c->who_by;
	who_answer(c, 0, 0, NULL, 0); /* a QUIT it queues goes in this c2_poll's rel_poll */
	return UINT64_MAX;
}

uint64_t c2_poll(struct c2 *c, uint64_t now)
{
	struct emit_ctx e = {c, now};
	uint64_t next, who;

	if (c->state != C2_HELLO && c->state != C2_LOGIN && c->state != C2_ONLINE)
		return UINT64_MAX;
	who = poll_who(c, now);
	switch (c->state) {
	case C2_HELLO:
	case C2_LOGIN:
		return min64(who, poll_handshake(c, now));
	case C2_ONLINE:
		break;
	default:
		return UINT64_MAX;
	}
	if (now - c->last_heard >= DEAD_AFTER(c)) {
		lose_link(c, now);
		return min64(who, poll_handshake(c, now));
	}
	next = min64(who, rel_poll(&c->rel, now, emit_data, &e));
	if (c->rel.ack_pending) {
		if (c->ack_now || c->unacked >= C2_ACK_EVERY || now - c->ack_since >= C2_ACK_DELAY)
			send_session(c, V2_ACK, 0, NULL, now);
		else
			next = min64(next, c->ack_since + C2_ACK_DELAY);
	}
	if (now - c->last_sent >= c->keepalive) {
		struct v2_packet pk = {.type = V2_PING, .sid = c->sid};

		rel_ack_fields(&c->rel, &pk.ack, &pk.ack_bits);
		send_packet(c, &pk, now);
	}
	next = min64(next, c->last_sent + c->keepalive);
	return min64(next, c->last_heard + DEAD_AFTER(c));
}
