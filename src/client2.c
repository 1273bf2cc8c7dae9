/* client2.c - protocol v2, client side: cookie login, reliable chat, keepalive, reconnection. No
 * I/O of its own. */
#include "client2.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define DEAD_AFTER(c) (3 * (c)->keepalive) /* silence that means the server is gone */

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
	rel_init(&c->rel);
}

void c2_free(struct c2 *c)
{
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

void c2_start(struct c2 *c, const char *name, uint64_t now)
{
	snprintf(c->name, sizeof c->name, "%s", name);
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

/*
 * A new session: start a fresh reliable channel, carrying over (in their
 * order) whatever the old one had not got acknowledged, so nothing the
 * user typed during an outage is lost.
 */
static void restart_channel(struct c2 *c)
{
	struct rel old = c->rel;
	uint32_t seq;
	size_t i;

	rel_init(&c->rel);
	for (seq = old.base; seq < old.next_seq; seq++)
		if (old.win[seq % REL_WINDOW].b != NULL)
			rel_queue(&c->rel, old.win[seq % REL_WINDOW].b);
	for (i = 0; i < rel_queued(&old); i++)
		rel_queue(&c->rel, rel_queued_at(&old, (uint32_t)i));
	rel_free(&old);
}

static void on_welcome(struct c2 *c, const struct v2_packet *pk, uint64_t now)
{
	int again = c->ever_online;

	c->sid = pk->sid;
	c->state = C2_ONLINE;
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
	if (c->cb.event != NULL && m->event <= V1_EV_ACTION)
		c->cb.event(c->cb.ctx, (enum v1_event)m->event, name, text, len);
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
	if (c->cb.who != NULL)
		c->cb.who(c->cb.ctx, m->total, names, c->who_count);
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
}

/* Queue text as kind (SAY or ME), in pieces of at most V2_SAY_CHUNK bytes. */
static int queue_text(struct c2 *c, enum v2_kind kind, const char *text, size_t len)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t off = 0;

	/*
	 * Count what is in flight as well as what is queued, and keep one
	 * place for QUIT: a new session re-queues all of it (restart_channel)
	 * into a queue of REL_QUEUE_MAX, and nothing the user typed may be
	 * dropped there.
	 */
	if (len == 0 || len > V2_MAX_TEXT ||
	    rel_pending(&c->rel) + len / V2_SAY_CHUNK + 1 > REL_QUEUE_MAX - 1)
		return -1;
	while (off < len) {
		size_t chunk = utf8_prefix(text + off, len - off, V2_SAY_CHUNK);
		struct v2_msg m = {.kind = kind, .text = text + off, .text_len = chunk};
		struct blob *b;
		size_t n;

		if (chunk == 0)
			return -1; /* not UTF-8: the caller checks text first */
		m.flags = off + chunk < len ? V2_MORE : 0;
		n = v2_msg_encode(&m, buf, sizeof buf);
		b = blob_new(buf, n);
		rel_queue(&c->rel, b);
		blob_unref(b);
		off += chunk;
	}
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

int c2_who(struct c2 *c)
{
	uint8_t kind = V2_K_WHO;
	struct blob *b;

	/* Keep the last place for QUIT, as c2_say does. */
	if (rel_pending(&c->rel) + 1 > REL_QUEUE_MAX - 1)
		return -1;
	b = blob_new(&kind, 1);
	rel_queue(&c->rel, b);
	blob_unref(b);
	return 0;
}

void c2_on_unreachable(struct c2 *c)
{
	c->unreachable = 1;
}

void c2_quit(struct c2 *c)
{
	uint8_t kind = V2_K_QUIT;
	struct blob *b;

	if (c->state != C2_ONLINE) {
		finish(c, V2_CLOSE_QUIT);
		return;
	}
	if (c->quitting)
		return; /* one QUIT is on its way (reliably); another would only take a place */
	c->quitting = 1;
	b = blob_new(&kind, 1);
	rel_queue(&c->rel, b);
	blob_unref(b);
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

uint64_t c2_poll(struct c2 *c, uint64_t now)
{
	struct emit_ctx e = {c, now};
	uint64_t next;

	switch (c->state) {
	case C2_HELLO:
	case C2_LOGIN:
		return poll_handshake(c, now);
	case C2_ONLINE:
		break;
	default:
		return UINT64_MAX;
	}
	if (now - c->last_heard >= DEAD_AFTER(c)) {
		lose_link(c, now);
		return poll_handshake(c, now);
	}
	next = rel_poll(&c->rel, now, emit_data, &e);
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
