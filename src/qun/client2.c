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

#define HELD UINT32_MAX /* c2_out.last_seq of a message waiting for its room (never pruned) */

/* One message of ours, kept until the server has acknowledged all of it. */
struct c2_out {
	uint64_t ref;      /* HISTORY: the event id */
	enum v2_kind kind; /* SAY ME WHO QUIT JOIN PART ROOMS TELL HISTORY SEARCH */
	uint32_t id;       /* SAY ME TELL: the message id; HISTORY SEARCH: the count */
	uint32_t room;     /* SAY ME WHO PART: the room's id (V2_LOBBY: the default room) */
	uint8_t flags;     /* ROOMS: V2_ROOMS_ALL; HISTORY: the what */
	int held;          /* not sent yet: waiting for its room, or for one held before it */
	/* SAY ME WHO PART in a joined room: its name (room is looked up by it again), or "". */
	char room_name[C2_ROOM_NAME_MAX + 1];
	uint32_t last_seq; /* the seq of its last piece in the current session, or HELD */
	size_t pieces;     /* DATA it takes at most (counted with the id: say_chunk's smaller) */
	size_t name_len;   /* TELL: text holds the name, then the message */
	size_t len;        /* of text; JOIN: the room's name */
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
	c->list_active = 0;
	c->list_count = 0;
	c->priv_active = 0;
	c->priv_len = 0;
	c->hist_active = 0;
	c->hist_len = 0;
}

static void who_answer(struct c2 *c, int answered, uint32_t total, const char *const *names,
                       size_t count);
static void asks_drop(struct c2 *c);

void c2_start(struct c2 *c, const char *name, uint64_t now)
{
	snprintf(c->name, sizeof c->name, "%s", name);
	/* A new stay: nothing said or asked under an earlier one goes under this name. */
	c->quitting = 0;
	c->quit_waits = 0;
	asks_drop(c);
	if (c->who_asks > 0)
		who_answer(c, 0, 0, NULL, 0);
	while (c->out_len > 0)
		out_pop(c);
	/* A new stay is a new member: in the default room only. */
	c->njoined = 0;
	c->rejoin_by = 0;
	c->holding = 0;
	c->nseen = 0;
	c->who_room = 0;
	c->who_name[0] = '\0';
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

/*
 * The longest piece of o's text one DATA takes, with or without an id
 * (V2_SAY_ID_CHUNK, V2_SAY_ROOM_CHUNK, V2_TELL_CHUNK with one).
 */
static size_t piece_chunk(const struct c2_out *o, int with_id)
{
	size_t chunk = V2_SAY_CHUNK - (with_id ? 4 : 0);

	if (o->kind == V2_K_TELL)
		return V2_TELL_CHUNK(o->name_len) + (with_id ? 0 : 4);
	return o->room != V2_LOBBY ? chunk - 4 : chunk;
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

/* Queue one message into the current session's channel. */
static void queue_msg(struct c2 *c, const struct v2_msg *m)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_msg_encode(m, buf, sizeof buf);
	struct blob *b;

	if (n == 0)
		return; /* cannot happen: every message was measured when it was queued */
	b = blob_new(buf, n);
	rel_queue(&c->rel, b);
	blob_unref(b);
}

/*
 * Queue o into the current session's channel, in pieces of piece_chunk()
 * (no more than o->pieces of them), and note the seq of its last; a held
 * message waits (HELD).
 */
static void send_out(struct c2 *c, struct c2_out *o)
{
	const char *text = o->text + o->name_len;
	size_t off = 0, len = o->len - o->name_len, k;
	int with_id = (c->features & V2_F_MSG_ID) != 0;
	size_t chunk = piece_chunk(o, with_id);
	struct v2_msg m;

	if (o->held) {
		o->last_seq = HELD;
		return;
	}
	memset(&m, 0, sizeof m);
	m.kind = o->kind;
	switch (o->kind) {
	case V2_K_WHO:
		m.room = o->room == V2_LOBBY ? 0 : o->room; /* no room: as before rooms */
		queue_msg(c, &m);
		break;
	case V2_K_JOIN:
		m.name = o->text;
		m.name_len = o->len;
		queue_msg(c, &m);
		break;
	case V2_K_PART:
		m.room = o->room;
		queue_msg(c, &m);
		break;
	case V2_K_ROOMS:
		m.flags = o->flags;
		queue_msg(c, &m);
		break;
	case V2_K_QUIT:
		queue_msg(c, &m);
		break;
	case V2_K_HISTORY:
		m.room = o->room;
		m.what = o->flags;
		m.event_id = o->ref;
		m.count = (uint16_t)o->id;
		queue_msg(c, &m);
		break;
	case V2_K_SEARCH:
		m.count = (uint16_t)o->id;
		m.text = o->text;
		m.text_len = o->len;
		queue_msg(c, &m);
		break;
	default: /* SAY ME TELL: the text in pieces, each naming the same room or member */
		while (off < len) {
			k = utf8_prefix(text + off, len - off, chunk);
			m.text = text + off;
			m.text_len = k;
			m.flags = off + k < len ? V2_MORE : 0;
			if (with_id) {
				m.flags |= V2_ID;
				m.id = o->id;
			}
			if (o->kind == V2_K_TELL) {
				m.name = o->text;
				m.name_len = o->name_len;
			} else if (o->room != V2_LOBBY) {
				m.flags |= V2_ROOM;
				m.room = o->room;
			}
			queue_msg(c, &m);
			off += k;
		}
		break;
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
static int out_has_room(const struct c2 *c, size_t pieces, size_t spare);
static void asks_restart(struct c2 *c);
static void asks_pump(struct c2 *c);
static void ask_end(struct c2 *c, int answered, uint32_t room, unsigned count, unsigned flags);
static void on_hline(struct c2 *c, const struct v2_msg *m);
static void on_hend(struct c2 *c, const struct v2_msg *m);

int c2_room_name_check(const char *name, size_t len)
{
	if (len == 0 || name[0] != '#')
		return NAME_EMPTY;
	if (len > C2_ROOM_NAME_MAX)
		return NAME_TOO_LONG;
	return (int)name_check(name + 1, len - 1);
}

/* Whether name[0..len) is a room's name: '#' and a name that passes the name rules. */
static int room_name_ok(const char *name, size_t len)
{
	return c2_room_name_check(name, len) == NAME_OK;
}

/* Whether two valid room names are one room (compared on the member key, as the server does). */
static int same_room(const char *a, const char *b)
{
	char ka[C2_ROOM_NAME_MAX + 1], kb[C2_ROOM_NAME_MAX + 1];

	if (a[0] != '#' || b[0] != '#' || name_normalize(a + 1, strlen(a + 1), ka, sizeof ka) < 0 ||
	    name_normalize(b + 1, strlen(b + 1), kb, sizeof kb) < 0)
		return 0;
	return strcmp(ka, kb) == 0;
}

/* A room name's normalised form into key (C2_ROOM_NAME_MAX + 1 bytes); "" if it has none. */
static void room_key(const char *name, char *key)
{
	if (name[0] != '#' ||
	    name_normalize(name + 1, strlen(name + 1), key, C2_ROOM_NAME_MAX + 1) < 0)
		key[0] = '\0';
}

/* The joined room with this (valid) name, or -1. */
static int joined_by_name(const struct c2 *c, const char *name)
{
	char key[C2_ROOM_NAME_MAX + 1];
	size_t i;

	room_key(name, key);
	for (i = 0; i < c->njoined && key[0] != '\0'; i++)
		if (strcmp(c->joined[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Whether joined room i's id is not known in this session (see struct c2_joined). */
static int id_unknown(const struct c2 *c, size_t i)
{
	return c->joined[i].rejoining || c->joined[i].id == 0;
}

/* The joined room with this id (one being joined again keeps its old id), or -1. */
static int joined_by_id(const struct c2 *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->njoined && id != 0; i++)
		if (c->joined[i].id == id)
			return (int)i;
	return -1;
}

int c2_same_room(const char *a, const char *b)
{
	return same_room(a, b);
}

int c2_room_index(const struct c2 *c, const char *name)
{
	return joined_by_name(c, name);
}

static void tell_rooms(struct c2 *c, int what, const struct c2_room_info *r, size_t n, int again)
{
	if (c->cb.rooms != NULL)
		c->cb.rooms(c->cb.ctx, what, r, n, again);
}

/* Forget joined room i, telling the owner it is parted (again: the engine's own doing). */
static void forget_joined(struct c2 *c, size_t i)
{
	struct c2_room_info r = {.id = c->joined[i].id, .members = 0};

	snprintf(r.name, sizeof r.name, "%s", c->joined[i].name);
	c->joined[i] = c->joined[--c->njoined];
	tell_rooms(c, V2_ROOM_PARTED, &r, 1, 1);
}

/* Whether a message of ours only makes sense to a server with rooms. */
static int needs_rooms(const struct c2_out *o)
{
	return o->kind == V2_K_JOIN || o->kind == V2_K_PART || o->kind == V2_K_ROOMS ||
	       o->kind == V2_K_TELL || o->room != V2_LOBBY;
}

/*
 * What becomes of a kept message in a new session: 1 it goes again, 0 it
 * is dropped quietly, -1 it is given up (told to the owner as unsent).  A
 * message for another room than the default one waits for the room to be
 * joined again (held), since its id may not be the room's any more.
 */
static int carry_over(struct c2 *c, struct c2_out *o)
{
	if (o->kind == V2_K_WHO || o->kind == V2_K_HISTORY || o->kind == V2_K_SEARCH ||
	    (o->kind == V2_K_ROOMS && (o->flags & V2_ROOMS_ALL)))
		return 0; /* asked again below (asks_restart), or answered unanswered */
	if (!(c->features & V2_F_ROOMS) && needs_rooms(o))
		return o->kind == V2_K_SAY || o->kind == V2_K_ME || o->kind == V2_K_TELL ? -1 : 0;
	if (o->kind == V2_K_PART)
		return o->room == V2_LOBBY; /* the new session is in no other room to part */
	if ((o->kind == V2_K_SAY || o->kind == V2_K_ME) && o->room != V2_LOBBY) {
		if (o->room_name[0] == '\0' || joined_by_name(c, o->room_name) < 0)
			return -1;
		o->held = 1; /* every room is being joined again (rejoin) */
	}
	return 1;
}

/* Tell the owner one message for room (see the unsent callback) was given up. */
static void tell_unsent(struct c2 *c, const char *room, int why)
{
	if (c->cb.unsent != NULL)
		c->cb.unsent(c->cb.ctx, room, 1, why);
}

/* The same for message o: the room's name, or the member's for a private message. */
static void tell_unsent_out(struct c2 *c, const struct c2_out *o, int why)
{
	char to[QUN_MAX_NAME + 1];

	if (o->kind != V2_K_TELL) {
		tell_unsent(c, o->room_name, why);
		return;
	}
	snprintf(to, sizeof to, "%.*s", (int)o->name_len, o->text);
	tell_unsent(c, to, why);
}

/*
 * Keep o (taken over) until acknowledged, and send it, unless messages
 * are held (the server takes ids in order only: what follows a held
 * message waits for it), or it is for a room being joined again.  QUIT
 * waits too: the server would forget what follows it (c2_quit bounds the
 * wait).
 */
static void add_out(struct c2 *c, struct c2_out *o)
{
	if (c->holding)
		o->held = 1;
	if (o->held)
		c->holding = 1;
	out_push(c, o);
	send_out(c, o);
}

/*
 * Declare the new session rooms-aware and join again the rooms we were in
 * (the declaration first: a session that has not declared is in the
 * default room only).  A room being parted is forgotten instead.
 */
static void rejoin(struct c2 *c)
{
	struct v2_msg m = {.kind = V2_K_ROOMS, .flags = 0};
	size_t i;

	/* Only then are private lines kept for us while we were away sent (V2_STORED). */
	if (c->features & V2_F_HISTORY)
		m.flags = V2_ROOMS_HISTORY;

	for (i = c->njoined; i-- > 0;)
		if (c->joined[i].parting || !(c->features & V2_F_ROOMS))
			forget_joined(c, i);
	c->setup_sent = 0;
	c->rejoin_by = 0;
	c->declare_answer = 0;
	if (!(c->features & V2_F_ROOMS))
		return;
	queue_msg(c, &m);
	c->setup_sent++;
	c->declare_answer = 1;
	for (i = 0; i < c->njoined; i++) {
		struct v2_msg j = {.kind = V2_K_JOIN,
		                   .name = c->joined[i].name,
		                   .name_len = strlen(c->joined[i].name)};

		c->joined[i].rejoining = 1;
		queue_msg(c, &j);
		c->setup_sent++;
	}
}

/*
 * A new session: a fresh reliable channel, into which (after the rooms'
 * declaration and JOINs, rejoin) every message not acknowledged whole
 * goes again, whole and in order (cut for the new server's features, in
 * at most o->pieces DATA), so nothing the user typed during an outage is
 * lost and nothing is cut in two; the server drops by id what it had
 * taken.  WHO asks not yet answered are asked again with one WHO (a WHO
 * of another room is answered unanswered: that room's id may be stale).
 */
static void restart_channel(struct c2 *c)
{
	size_t i, n = c->out_len;

	rel_free(&c->rel);
	rel_init(&c->rel);
	c->out_pieces = 0;
	c->holding = 0;
	asks_restart(c);
	rejoin(c);
	for (i = 0; i < n; i++) {
		struct c2_out *o = out_at(c, 0);
		int keep;

		c->out[c->out_head] = NULL;
		c->out_head = (c->out_head + 1) % c->out_cap;
		c->out_len--;
		keep = carry_over(c, o);
		if (keep < 0)
			tell_unsent_out(c, o, C2_UNSENT_GONE);
		if (keep <= 0) {
			free(o);
			continue;
		}
		add_out(c, o);
	}
	c->who_count = 0;
	c->who_used = 0;
	/*
	 * A room's WHO goes by the room's name (held till it is joined
	 * again), never by a bare id; one whose room is not joined any more
	 * is answered unanswered.
	 */
	if (c->who_asks > 0 &&
	    ((c->who_name[0] == '\0' && c->who_room != 0 && c->who_room != V2_LOBBY) ||
	     (c->who_name[0] != '\0' && joined_by_name(c, c->who_name) < 0)))
		who_answer(c, 0, 0, NULL, 0);
	else if (c->who_asks > 0 && !c->who_waits)
		send_who(c);
	asks_pump(c);
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
	 * server replays old events into a new session.  So do rooms' ids.
	 */
	c->last_event_id = 0;
	c->nseen = 0;
	/* The server's timeout wins: ping at least as often as it asks. */
	if (pk->keepalive > 0 && (uint64_t)pk->keepalive * 1000 < c->keepalive)
		c->keepalive = (uint64_t)pk->keepalive * 1000;
	c->ever_online = 1;
	c->last_heard = now;
	restart_channel(c);
	if (again && c->cb.link != NULL)
		c->cb.link(c->cb.ctx, 0);
}

/*
 * The last event shown in room: a table of C2_MAX_ROOMS + 1 rooms (more
 * than a member may be in); a room past that takes the place of the one
 * least recently heard from, which only a server sending events of rooms
 * we are not in can make happen.
 */
static struct c2_seen *seen_in(struct c2 *c, uint32_t room)
{
	size_t i, old = 0;

	for (i = 0; i < c->nseen; i++)
		if (c->seen[i].room == room) {
			c->seen[i].used = ++c->seen_tick;
			return &c->seen[i];
		}
	if (c->nseen < sizeof c->seen / sizeof c->seen[0]) {
		i = c->nseen++;
	} else {
		for (i = 1; i < c->nseen; i++)
			if (c->seen[i].used < c->seen[old].used)
				old = i;
		i = old;
	}
	c->seen[i].room = room;
	c->seen[i].last_id = 0;
	c->seen[i].used = ++c->seen_tick;
	return &c->seen[i];
}

/* A whole EVENT (room 0) or REVENT: shown once, in its room's order. */
static void show_event(struct c2 *c, uint32_t room, const struct v2_msg *m, const char *text,
                       size_t len)
{
	char name[QUN_MAX_NAME + 1];
	size_t n = m->name_len < QUN_MAX_NAME ? m->name_len : QUN_MAX_NAME;
	struct c2_seen *seen = seen_in(c, room == 0 ? V2_LOBBY : room);

	/* A room's order is its event ids' order: an id seen before is a replay. */
	if (m->event_id != 0 && m->event_id <= seen->last_id)
		return;
	seen->last_id = m->event_id;
	if (seen->first_id == 0)
		seen->first_id = m->event_id;
	if (room == 0 || room == V2_LOBBY)
		c->last_event_id = m->event_id;
	memcpy(name, m->name, n);
	name[n] = '\0';
	if (m->event > EV_ACTION)
		return;
	if (room == 0 && c->cb.event != NULL)
		c->cb.event(c->cb.ctx, (enum room_event)m->event, name, text, len);
	else if (room != 0 && c->cb.room_event != NULL)
		c->cb.room_event(c->cb.ctx, room, (enum room_event)m->event, name, text, len);
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
	c->who_waits = 0;
	while (n-- > 0)
		if (c->cb.who != NULL)
			c->cb.who(c->cb.ctx, answered, total, names, count);
	if (c->quit_waits) {
		c->quit_waits = 0;
		send_quit(c);
	}
	asks_pump(c);
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

/* An EVENT (room 0) or REVENT piece: pieces of one event come one after another. */
static void on_event(struct c2 *c, uint32_t room, const struct v2_msg *m)
{
	if (c->asm_active && c->asm_room != room) {
		c->asm_active = 0; /* another room's piece: the half before it is lost */
		c->asm_len = 0;
	}
	if (!c->asm_active && !(m->flags & V2_MORE)) {
		show_event(c, room, m, m->text, m->text_len);
		return;
	}
	if (c->asm_len + m->text_len <= sizeof c->asm_text) {
		memcpy(c->asm_text + c->asm_len, m->text, m->text_len);
		c->asm_len += m->text_len;
	}
	c->asm_active = 1;
	c->asm_room = room;
	if (m->flags & V2_MORE)
		return;
	show_event(c, room, m, c->asm_text, c->asm_len);
	c->asm_active = 0;
	c->asm_len = 0;
}

/* Take message k out of out (it is the caller's to free). */
static void out_remove(struct c2 *c, size_t k)
{
	struct c2_out *o = out_at(c, k);
	size_t j;

	for (j = k; j + 1 < c->out_len; j++)
		c->out[(c->out_head + j) % c->out_cap] = out_at(c, j + 1);
	c->out_len--;
	c->out_pieces -= o->pieces;
}

/*
 * Send the held messages, in order, up to the first whose room is still
 * being joined again; one for a joined room goes under the room's id as
 * it is now, looked up by name (its id may have changed in a new
 * session).  One whose room is gone is given up: a SAY or ME told to the
 * owner as unsent (why), a WHO answered unanswered, a PART dropped (the
 * room is left already).
 */
static void flush_held(struct c2 *c, int why)
{
	size_t k = 0;
	int i;

	while (k < c->out_len) {
		struct c2_out *o = out_at(c, k);

		if (!o->held) {
			k++;
			continue;
		}
		if (o->room_name[0] != '\0' && o->kind != V2_K_TELL) {
			i = joined_by_name(c, o->room_name);
			if (i >= 0 && id_unknown(c, (size_t)i))
				return;
			if (i < 0) {
				out_remove(c, k);
				if (o->kind == V2_K_SAY || o->kind == V2_K_ME)
					tell_unsent(c, o->room_name, why);
				/* A QUIT the answer sends is held: it goes below, in its turn. */
				if (o->kind == V2_K_WHO)
					who_answer(c, 0, 0, NULL, 0);
				if (o->kind == V2_K_HISTORY)
					ask_end(c, 0, 0, 0, 0);
				free(o);
				continue;
			}
			o->room = c->joined[i].id;
		}
		if (o->kind == V2_K_WHO)
			c->who_by = 0; /* its answer's clock starts now (poll_who) */
		if (o->kind == V2_K_HISTORY)
			c->ask_by = 0; /* the same (poll_ask) */
		o->held = 0;
		send_out(c, o);
		k++;
	}
	c->holding = 0;
}

/* Queue a PART of a room the engine does not keep (no name: nothing waits for it). */
static void part_unkept(struct c2 *c, uint32_t id);

/*
 * ROOM JOINED: keep the room for a new session (the default room is
 * every session's anyway).  Returns 1 if it answers a JOIN of rejoin(),
 * 0 for any other, -1 if the room cannot be kept (no place in the table,
 * or in a new session's queue: out_has_room): it is parted again.
 */
static int room_joined(struct c2 *c, const struct c2_room_info *r)
{
	int i = joined_by_name(c, r->name), j = joined_by_id(c, r->id), again;

	if (r->id == V2_LOBBY)
		return 0;
	if (j >= 0 && j != i) {
		/* Its id is another room's now: a stale id from before a restart... */
		if (id_unknown(c, (size_t)j))
			c->joined[j].id = 0;
		else
			forget_joined(c, (size_t)j); /* ...or a server that gave one id twice */
		i = joined_by_name(c, r->name);
	}
	if (i >= 0) {
		again = c->joined[i].rejoining;
		c->joined[i].id = r->id;
		c->joined[i].rejoining = 0;
		snprintf(c->joined[i].name, sizeof c->joined[i].name, "%s", r->name);
		room_key(r->name, c->joined[i].key);
		flush_held(c, C2_UNSENT_GONE);
		return again;
	}
	if (c->njoined >= C2_MAX_ROOMS || !out_has_room(c, 1, 2)) {
		part_unkept(c, r->id);
		return -1;
	}
	memset(&c->joined[c->njoined], 0, sizeof c->joined[0]);
	c->joined[c->njoined].id = r->id;
	snprintf(c->joined[c->njoined].name, sizeof c->joined[0].name, "%s", r->name);
	room_key(r->name, c->joined[c->njoined].key);
	c->njoined++;
	return 0;
}

/* ROOM PARTED: not ours any more (messages held for it are given up). */
static void room_parted(struct c2 *c, const struct c2_room_info *r)
{
	int i = joined_by_name(c, r->name);

	if (i >= 0)
		c->joined[i] = c->joined[--c->njoined];
	if (c->holding)
		flush_held(c, C2_UNSENT_GONE);
}

/*
 * One ROOM piece: keep the entries whose names pass the room rules (and
 * whose ids are not 0); when MORE is clear, the whole answer goes to the
 * owner.  A piece of another `what` than the answer being put together
 * starts a new one.
 */
static void on_room(struct c2 *c, const struct v2_msg *m)
{
	const char *name;
	size_t pos = 0, len, n;
	uint32_t id, members;
	int again = 0;

	if (!c->list_active || c->list_what != m->what)
		c->list_count = 0;
	c->list_active = 1;
	c->list_what = m->what;
	while (v2_rooms_next(m, &pos, &id, &members, &name, &len)) {
		struct c2_room_info *r;

		if (id == 0 || !room_name_ok(name, len) || c->list_count >= C2_LIST_MAX)
			continue;
		r = &c->list[c->list_count++];
		r->id = id;
		r->members = members;
		memcpy(r->name, name, len);
		r->name[len] = '\0';
	}
	if (m->flags & V2_MORE)
		return;
	c->list_active = 0;
	n = c->list_count;
	c->list_count = 0;
	if (m->what == V2_ROOM_JOINED || m->what == V2_ROOM_PARTED) {
		if (n != 1)
			return; /* its one room's name broke the rules */
		if (m->what == V2_ROOM_JOINED)
			again = room_joined(c, &c->list[0]);
		else
			room_parted(c, &c->list[0]);
		if (again < 0)
			return; /* not kept: the owner must not think we are in it */
	} else if (m->what == V2_ROOM_MINE && c->declare_answer) {
		again = 1;
		c->declare_answer = 0;
	}
	tell_rooms(c, m->what, c->list, n, again);
	if (m->what == V2_ROOM_ALL && c->ask_kind == V2_K_ROOMS) {
		c->ask_kind = 0; /* the answer in flight is in */
		asks_pump(c);
	}
}

/* One PRIVATE piece: pieces of one message come one after another; the sender must be a name. */
static void on_private(struct c2 *c, const struct v2_msg *m)
{
	char from[QUN_MAX_NAME + 1];
	const char *text = m->text;
	size_t len = m->text_len;

	if (c->priv_active || (m->flags & V2_MORE)) {
		if (c->priv_len + m->text_len <= sizeof c->priv_text) {
			memcpy(c->priv_text + c->priv_len, m->text, m->text_len);
			c->priv_len += m->text_len;
		}
		c->priv_active = 1;
		if (m->flags & V2_MORE)
			return;
		text = c->priv_text;
		len = c->priv_len;
		c->priv_active = 0;
		c->priv_len = 0;
	}
	if (name_check(m->name, m->name_len) != NAME_OK)
		return;
	memcpy(from, m->name, m->name_len);
	from[m->name_len] = '\0';
	if (c->cb.private_msg != NULL)
		c->cb.private_msg(c->cb.ctx, m->event_id, (m->flags & V2_STORED) ? m->at : 0, from,
		                  text, len);
}

/* One in-order reliable message from the server. */
static void on_message(void *ctx, const uint8_t *data, size_t len)
{
	struct c2 *c = ctx;
	struct v2_msg m;

	if (v2_msg_parse(data, len, &m) != V2_OK)
		return;
	switch (m.kind) {
	case V2_K_NOTICE:
		if (c->cb.notice != NULL)
			c->cb.notice(c->cb.ctx, m.code, m.detail, m.text, m.text_len);
		break;
	case V2_K_MEMBERS:
		on_members(c, &m);
		break;
	case V2_K_EVENT:
		on_event(c, 0, &m);
		break;
	case V2_K_REVENT:
		on_event(c, m.room, &m);
		break;
	case V2_K_ROOM:
		on_room(c, &m);
		break;
	case V2_K_PRIVATE:
		on_private(c, &m);
		break;
	case V2_K_HLINE:
		on_hline(c, &m);
		break;
	case V2_K_HEND:
		on_hend(c, &m);
		break;
	default:
		break; /* a kind only clients send */
	}
}

/* The session ends with messages in out: each SAY ME TELL is told as unsent (C2_UNSENT_QUIT). */
static void tell_unsent_all(struct c2 *c)
{
	size_t k;

	for (k = 0; k < c->out_len; k++) {
		const struct c2_out *o = out_at(c, k);

		if (o->kind == V2_K_SAY || o->kind == V2_K_ME || o->kind == V2_K_TELL)
			tell_unsent_out(c, o, C2_UNSENT_QUIT);
	}
}

static void on_close(struct c2 *c, int reason, uint64_t now)
{
	if (reason == V2_CLOSE_QUIT || reason == V2_CLOSE_KICKED || reason == V2_CLOSE_SHUTDOWN) {
		finish(c, reason);
		return;
	}
	/* Unknown session, timed out, too slow: the server forgot us. */
	if (c->quitting) {
		/*
		 * Our QUIT's confirmation was lost and it did its work, or the
		 * server restarted and never had it: what it does not
		 * acknowledge may not have gone.
		 */
		tell_unsent_all(c);
		finish(c, V2_CLOSE_QUIT);
	} else {
		lose_link(c, now);
	}
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

static struct c2_out *new_out(enum v2_kind kind, const char *text, size_t len, size_t pieces)
{
	struct c2_out *o = xmalloc(sizeof *o + len);

	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->room = V2_LOBBY;
	o->pieces = pieces;
	o->len = len;
	if (len > 0)
		memcpy(o->text, text, len);
	return o;
}

/*
 * Whether pieces more DATA fit in out, keeping a place for QUIT and one
 * for the WHO a new session may ask again (with spare 2; c2_who, whose
 * place is the second, 1), and one for the new session's declaration and
 * one per joined room, for its JOINs: it sends all of out again
 * (restart_channel) into a queue of REL_QUEUE_MAX, and nothing the user
 * typed may be dropped there.  A JOIN's own place in out is the place its
 * room takes once joined (room_joined keeps a room only while it fits).
 */
static int out_has_room(const struct c2 *c, size_t pieces, size_t spare)
{
	return c->out_pieces + pieces + spare + 1 + c->njoined <= REL_QUEUE_MAX;
}

/*
 * The room of a SAY ME WHO PART: the default room (i < 0), or joined room
 * i, named in o so that it is looked up again when it goes (flush_held);
 * one whose id is not known yet holds o until it is.
 */
static void set_room_at(struct c2 *c, struct c2_out *o, int i)
{
	if (i < 0)
		return;
	o->room = c->joined[i].id;
	snprintf(o->room_name, sizeof o->room_name, "%s", c->joined[i].name);
	o->held = id_unknown(c, (size_t)i);
}

/*
 * The joined room that room (an id) names, for set_room_at: -1 for the
 * default room; -2 for an id not in c->joined (it goes as it is: the
 * server answers it).  A room being joined again keeps its old id until
 * another room's new id is the same (room_joined): ids in c->joined are
 * never two rooms'.
 */
static int index_of_id(const struct c2 *c, uint32_t room)
{
	int i;

	if (room == 0 || room == V2_LOBBY)
		return -1;
	i = joined_by_id(c, room);
	return i >= 0 ? i : -2;
}

/* The joined room that name names: -1 for the default room (NULL, ""), -2 for none. */
static int index_of_name(const struct c2 *c, const char *name)
{
	int i;

	if (name == NULL || name[0] == '\0')
		return -1;
	i = joined_by_name(c, name);
	return i >= 0 ? i : -2;
}

/*
 * Queue text as kind (SAY, ME or TELL to name), in pieces of at most
 * piece_chunk() bytes, in joined room at (-1: the default room; -2: room,
 * an id the engine does not know).
 */
static int queue_text(struct c2 *c, enum v2_kind kind, int at, uint32_t room, const char *name,
                      size_t name_len, const char *text, size_t len)
{
	size_t pieces;
	struct c2_out *o;

	if (len == 0 || len > V2_MAX_TEXT || (at != -1 && !c2_has_rooms(c)))
		return -1;
	o = new_out(kind, NULL, 0, 0);
	o->name_len = name_len;
	if (at == -2)
		o->room = room;
	set_room_at(c, o, at);
	/* Counted for a server with ids, the smaller pieces: a later session's server may be one.
	 */
	pieces = count_pieces(text, len, piece_chunk(o, 1));
	if (pieces == 0 || !out_has_room(c, pieces, 2)) {
		free(o);
		return -1; /* not UTF-8 (the caller checks text first), or full */
	}
	o = xrealloc(o, sizeof *o + name_len + len);
	if (name_len > 0)
		memcpy(o->text, name, name_len);
	memcpy(o->text + name_len, text, len);
	o->len = name_len + len;
	o->pieces = pieces;
	o->id = c->next_id++;
	add_out(c, o);
	return 0;
}

int c2_say(struct c2 *c, uint32_t room, const char *text, size_t len)
{
	return queue_text(c, V2_K_SAY, index_of_id(c, room), room, NULL, 0, text, len);
}

int c2_me(struct c2 *c, uint32_t room, const char *text, size_t len)
{
	return queue_text(c, V2_K_ME, index_of_id(c, room), room, NULL, 0, text, len);
}

int c2_say_in(struct c2 *c, const char *room, const char *text, size_t len)
{
	int at = index_of_name(c, room);

	return at == -2 ? -1 : queue_text(c, V2_K_SAY, at, 0, NULL, 0, text, len);
}

int c2_me_in(struct c2 *c, const char *room, const char *text, size_t len)
{
	int at = index_of_name(c, room);

	return at == -2 ? -1 : queue_text(c, V2_K_ME, at, 0, NULL, 0, text, len);
}

int c2_tell(struct c2 *c, const char *name, size_t name_len, const char *text, size_t len)
{
	if (!c2_has_rooms(c) || name_len == 0 || name_len > QUN_MAX_NAME)
		return -1;
	return queue_text(c, V2_K_TELL, -1, V2_LOBBY, name, name_len, text, len);
}

int c2_has_rooms(const struct c2 *c)
{
	return (c->features & V2_F_ROOMS) != 0;
}

/*
 * Send a WHO for the asks (who_asks > 0): of the joined room who_name if
 * it is one, else of who_room (0: the default room).  c2_poll starts its
 * clock once it goes (a held one waits for its room).
 */
static void send_who(struct c2 *c)
{
	struct c2_out *o = new_out(V2_K_WHO, NULL, 0, 1);

	c->who_by = 0;
	o->room = c->who_room == 0 ? V2_LOBBY : c->who_room;
	if (c->who_name[0] != '\0')
		set_room_at(c, o, joined_by_name(c, c->who_name));
	add_out(c, o);
}

/* c2_who of joined room at (-1: the default room; -2: room, an id the engine does not know). */
static int who_ask(struct c2 *c, int at, uint32_t room)
{
	const char *name = at >= 0 ? c->joined[at].name : "";

	if (at == -1)
		room = 0;
	else if (at >= 0)
		room = c->joined[at].id;
	if (at != -1 && !c2_has_rooms(c))
		return -1;
	if (c->who_asks > 0) {
		/* One WHO at a time: a second would be refused as flooding. */
		if (c->who_name[0] != '\0' ? !same_room(c->who_name, name)
		                           : (name[0] != '\0' || room != c->who_room))
			return -1;
		c->who_asks++; /* shares the answer of the WHO in flight */
		return 0;
	}
	if (!out_has_room(c, 1, 1))
		return -1;
	if (c->ask_kind != 0 || c->ask_len > 0) {
		/* Another answer is in flight: the WHO waits its turn (asks_pump sends it). */
		struct c2_ask a = {.kind = V2_K_WHO};

		if (c->ask_len == C2_ASKS_MAX)
			return -1;
		c->asks[(c->ask_head + c->ask_len++) % C2_ASKS_MAX] = a;
		c->who_waits = 1;
	}
	c->who_asks = 1;
	c->who_room = room;
	snprintf(c->who_name, sizeof c->who_name, "%s", name);
	if (!c->who_waits)
		send_who(c);
	return 0;
}

int c2_who(struct c2 *c, uint32_t room)
{
	return who_ask(c, index_of_id(c, room), room);
}

int c2_who_in(struct c2 *c, const char *room)
{
	int at = index_of_name(c, room);

	return at == -2 ? -1 : who_ask(c, at, 0);
}

/* Queue a one-DATA message of the rooms' kinds (JOIN PART ROOMS). */
static int queue_room_msg(struct c2 *c, struct c2_out *o)
{
	if (!c2_has_rooms(c) || !out_has_room(c, 1, 2)) {
		free(o);
		return -1;
	}
	add_out(c, o);
	return 0;
}

int c2_join(struct c2 *c, const char *name, size_t len)
{
	char room[C2_ROOM_NAME_MAX + 1];

	if (len == 0 || len > 255)
		return -1;
	if (c2_has_rooms(c) && c->njoined >= C2_MAX_ROOMS) {
		snprintf(room, sizeof room, "%.*s", (int)len, name);
		if (len > C2_ROOM_NAME_MAX || joined_by_name(c, room) < 0)
			return C2_ROOMS_FULL;
	}
	return queue_room_msg(c, new_out(V2_K_JOIN, name, len, 1));
}

/* c2_part of joined room at (-1: the default room; -2: room, an id the engine does not know). */
static int part_at(struct c2 *c, int at, uint32_t room)
{
	struct c2_out *o = new_out(V2_K_PART, NULL, 0, 1);

	o->room = at == -2 ? room : V2_LOBBY;
	if (c2_has_rooms(c) && at >= 0)
		set_room_at(c, o, at);
	if (queue_room_msg(c, o) < 0)
		return -1;
	if (at >= 0)
		c->joined[at].parting = 1;
	return 0;
}

int c2_part(struct c2 *c, uint32_t room)
{
	int at = joined_by_id(c, room);

	if (room == 0)
		return -1;
	return part_at(c, at >= 0 ? at : room == V2_LOBBY ? -1 : -2, room);
}

int c2_part_in(struct c2 *c, const char *room)
{
	int at = index_of_name(c, room);

	return at == -2 ? -1 : part_at(c, at, 0);
}

static void part_unkept(struct c2 *c, uint32_t id)
{
	struct c2_out *o = new_out(V2_K_PART, NULL, 0, 1);

	o->room = id;
	(void)queue_room_msg(c, o); /* no place in out either: the server keeps us there */
}

/* Whether an answer (WHO, ROOMS ALL, HISTORY, SEARCH) is in flight: the next waits. */
static int asks_busy(const struct c2 *c)
{
	return c->ask_kind != 0 || (c->who_asks > 0 && !c->who_waits);
}

/* Queue ask a behind the answer in flight (sent at once if none is). */
static int ask_push(struct c2 *c, const struct c2_ask *a)
{
	/*
	 * Refused here what asks_pump would give up at once: an answer is
	 * never told before the call that asked for it has returned.
	 */
	if (c->ask_len == C2_ASKS_MAX || !out_has_room(c, 1, 2))
		return -1;
	c->asks[(c->ask_head + c->ask_len++) % C2_ASKS_MAX] = *a;
	asks_pump(c);
	return 0;
}

int c2_rooms(struct c2 *c, int all)
{
	struct c2_out *o;
	struct c2_ask a = {.kind = V2_K_ROOMS};

	if (all)
		return c2_has_rooms(c) ? ask_push(c, &a) : -1;
	o = new_out(V2_K_ROOMS, NULL, 0, 1);
	return queue_room_msg(c, o);
}

int c2_has_history(const struct c2 *c)
{
	return (c->features & V2_F_HISTORY) != 0;
}

int c2_history(struct c2 *c, uint32_t room, int what, uint64_t ref, unsigned count)
{
	struct c2_ask a = {.kind = V2_K_HISTORY, .room = room, .ref = ref};
	int i = index_of_id(c, room);

	if (!c2_has_history(c) || count < 1 || count > V2_HISTORY_MAX || what < 0 ||
	    what >= V2_HIST_COUNT || room == 0)
		return -1;
	a.what = (uint8_t)what;
	a.count = (uint16_t)count;
	if (i >= 0)
		snprintf(a.room_name, sizeof a.room_name, "%s", c->joined[i].name);
	else if (i == -1)
		a.room = V2_LOBBY;
	return ask_push(c, &a);
}

int c2_history_in(struct c2 *c, const char *room, int what, uint64_t ref, unsigned count)
{
	int i = index_of_name(c, room);

	if (i == -2)
		return -1;
	return c2_history(c, i < 0 ? V2_LOBBY : c->joined[i].id, what, ref, count) < 0 ? -1 : 0;
}

int c2_search(struct c2 *c, const char *words, size_t len, unsigned count)
{
	struct c2_ask a = {.kind = V2_K_SEARCH};

	if (!c2_has_history(c) || count < 1 || count > V2_HISTORY_MAX || len == 0 ||
	    len > C2_SEARCH_MAX || memchr(words, '\0', len) != NULL)
		return -1;
	a.count = (uint16_t)count;
	memcpy(a.words, words, len);
	a.words[len] = '\0';
	return ask_push(c, &a);
}

uint64_t c2_oldest(struct c2 *c, const char *room)
{
	int i = index_of_name(c, room);
	uint32_t id = i == -1 ? V2_LOBBY : i >= 0 ? c->joined[i].id : 0;

	if (id == 0 || (i >= 0 && id_unknown(c, (size_t)i)))
		return 0;
	return seen_in(c, id)->first_id;
}

/*
 * The answer in flight (HISTORY, SEARCH) is over, or the ask never went:
 * tell the owner (history_end).  The next ask is the caller's to send.
 */
static void ask_over(struct c2 *c, int answered, uint32_t room, unsigned count, unsigned flags)
{
	struct c2_seen *seen;

	if (c->ask_kind == V2_K_HISTORY && c->hist_low != 0) {
		seen = seen_in(c, c->hist_low_room);
		if (seen->first_id == 0 || c->hist_low < seen->first_id)
			seen->first_id = c->hist_low;
	}
	c->hist_low = 0;
	c->ask_kind = 0;
	c->ask_by = 0;
	c->hist_active = 0;
	c->hist_len = 0;
	if (c->cb.history_end != NULL)
		c->cb.history_end(c->cb.ctx, room, count, flags, answered);
}

/* ask_over, then the next ask goes. */
static void ask_end(struct c2 *c, int answered, uint32_t room, unsigned count, unsigned flags)
{
	ask_over(c, answered, room, count, flags);
	asks_pump(c);
}

/* Take the oldest waiting ask out of asks. */
static struct c2_ask ask_pop(struct c2 *c)
{
	struct c2_ask a = c->asks[c->ask_head];

	c->ask_head = (c->ask_head + 1) % C2_ASKS_MAX;
	c->ask_len--;
	return a;
}

/*
 * While no answer is in flight, send the oldest waiting ask; one that
 * cannot go (no history any more, its room left, no place in out) is
 * answered unanswered, and the next tried.
 */
static void asks_pump(struct c2 *c)
{
	while (!asks_busy(c) && c->ask_len > 0) {
		struct c2_ask a = ask_pop(c);
		struct c2_out *o;
		int at = -1;

		if (a.kind == V2_K_WHO) {
			if (c->who_asks > 0 && c->who_waits) {
				c->who_waits = 0;
				send_who(c);
			}
			continue;
		}
		if (a.kind == V2_K_ROOMS) {
			o = new_out(V2_K_ROOMS, NULL, 0, 1);
			o->flags = V2_ROOMS_ALL;
			if (queue_room_msg(c, o) == 0) {
				c->ask_kind = V2_K_ROOMS;
				c->ask_by = 0;
			}
			continue;
		}
		c->ask_kind = a.kind; /* so that ask_end's callback cannot start another */
		if (a.room_name[0] != '\0')
			at = joined_by_name(c, a.room_name);
		else if (a.room != V2_LOBBY)
			at = -2;
		if (!c2_has_history(c) || !out_has_room(c, 1, 2) ||
		    (a.room_name[0] != '\0' && at < 0)) {
			ask_over(c, 0, 0, 0, 0);
			continue;
		}
		o = new_out(a.kind, a.words, a.kind == V2_K_SEARCH ? strlen(a.words) : 0, 1);
		o->id = a.count;
		if (a.kind == V2_K_HISTORY) {
			o->flags = a.what;
			o->ref = a.ref;
			o->room = a.room;
			set_room_at(c, o, at);
		}
		c->ask_by = 0;
		add_out(c, o);
	}
}

/* Tell the owner an ask of history is over unanswered, without sending the next (see callers). */
static void tell_unanswered(struct c2 *c)
{
	uint8_t kind = c->ask_kind;

	c->ask_kind = V2_K_HISTORY; /* busy: what the callback asks waits its turn */
	if (c->cb.history_end != NULL)
		c->cb.history_end(c->cb.ctx, 0, 0, 0, 0);
	c->ask_kind = kind;
}

/*
 * A new stay: the asks waiting and the one in flight are given up (those
 * of history answered unanswered), and a WHO waiting no longer waits
 * (c2_start answers it).
 */
static void asks_drop(struct c2 *c)
{
	size_t n = c->ask_len, k = 0;

	/* The one in flight may wait in out for its room: it goes nowhere now (flush_held). */
	while (k < c->out_len) {
		struct c2_out *o = out_at(c, k);

		if (o->held && (o->kind == V2_K_HISTORY || o->kind == V2_K_SEARCH)) {
			out_remove(c, k);
			free(o);
		} else {
			k++;
		}
	}

	if (c->ask_kind == V2_K_HISTORY || c->ask_kind == V2_K_SEARCH)
		tell_unanswered(c);
	while (n-- > 0 && c->ask_len > 0) {
		struct c2_ask a = ask_pop(c);

		if (a.kind == V2_K_HISTORY || a.kind == V2_K_SEARCH)
			tell_unanswered(c);
	}
	c->ask_kind = 0;
	c->ask_by = 0;
	c->who_waits = 0;
	c->hist_active = 0;
	c->hist_len = 0;
	c->hist_low = 0;
}

/*
 * A new session: the server forgot the answer in flight.  A HISTORY or
 * SEARCH is answered unanswered (the owner may ask again); a ROOMS ALL
 * is asked again first.  What waits goes once the session is set up
 * (restart_channel pumps).
 */
static void asks_restart(struct c2 *c)
{
	uint8_t kind = c->ask_kind;

	c->ask_by = 0;
	c->hist_active = 0;
	c->hist_len = 0;
	c->hist_low = 0;
	if (kind == V2_K_HISTORY || kind == V2_K_SEARCH)
		tell_unanswered(c);
	c->ask_kind = 0;
	if (kind == V2_K_ROOMS && c->ask_len < C2_ASKS_MAX) {
		c->ask_head = (c->ask_head + C2_ASKS_MAX - 1) % C2_ASKS_MAX;
		c->ask_len++;
		memset(&c->asks[c->ask_head], 0, sizeof c->asks[0]);
		c->asks[c->ask_head].kind = V2_K_ROOMS;
	}
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
		tell_unsent_all(c);
		finish(c, V2_CLOSE_QUIT);
		return;
	}
	if (c->quitting)
		return; /* one QUIT is on its way (reliably); another would only take a place */
	c->quitting = 1;
	if (c->who_asks > 0 && c->who_waits)
		who_answer(c, 0, 0, NULL, 0); /* never sent: nothing to wait for */
	asks_drop(c); /* the server forgets what it owes a session that quits */
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

/* Whether the WHO in flight waits in out, held (send_who), its clock not started. */
static int who_held(const struct c2 *c)
{
	size_t k;

	for (k = 0; k < c->out_len && c->holding; k++)
		if (out_at(c, k)->kind == V2_K_WHO && out_at(c, k)->held)
			return 1;
	return 0;
}

/* The WHO in flight: its clock starts at the first poll after it was sent. */
static uint64_t poll_who(struct c2 *c, uint64_t now)
{
	if (c->who_asks == 0 || who_held(c))
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

/*
 * The rooms a new session joins again: given up C2_REJOIN_WAIT ms after
 * the first poll of the session (C2_QUIT_WHO_WAIT ms at most once we are
 * leaving: a QUIT waits behind what is held), with the messages held for
 * them.
 */
static uint64_t poll_rejoin(struct c2 *c, uint64_t now)
{
	size_t i;

	for (i = 0; i < c->njoined && !c->joined[i].rejoining; i++)
		;
	if (i == c->njoined || c->state != C2_ONLINE) {
		c->rejoin_by = 0;
		return UINT64_MAX;
	}
	if (c->rejoin_by == 0)
		c->rejoin_by = now + C2_REJOIN_WAIT;
	if (c->quitting && c->rejoin_by > now + C2_QUIT_WHO_WAIT)
		c->rejoin_by = now + C2_QUIT_WHO_WAIT;
	if (now < c->rejoin_by)
		return c->rejoin_by;
	c->rejoin_by = 0;
	for (i = c->njoined; i-- > 0;)
		if (c->joined[i].rejoining)
			forget_joined(c, i);
	flush_held(c, C2_UNSENT_REJOIN); /* what was held for them is given up, the rest goes */
	return UINT64_MAX;
}

/*
 * One HLINE piece, of the answer in flight only; pieces of one line come
 * one after another.  A line of a HISTORY answer whose id this session
 * has shown is dropped (shown between the room's oldest and last); one
 * older than the oldest is the oldest now, and one newer than the last
 * is the last (its live copy, if it comes, is not shown again).
 */
static void on_hline(struct c2 *c, const struct v2_msg *m)
{
	char name[QUN_MAX_NAME + 1];
	size_t n = m->name_len < QUN_MAX_NAME ? m->name_len : QUN_MAX_NAME;
	const char *text = m->text;
	size_t len = m->text_len;
	struct c2_seen *seen;

	if (c->ask_kind != V2_K_HISTORY && c->ask_kind != V2_K_SEARCH)
		return; /* nobody asked */
	c->ask_by = 0;  /* it is coming: the clock starts again (poll_ask) */
	if (c->hist_active && c->hist_room != m->room) {
		c->hist_active = 0; /* another room's piece: the half before it is lost */
		c->hist_len = 0;
	}
	if (c->hist_active || (m->flags & V2_MORE)) {
		if (c->hist_len + m->text_len <= sizeof c->hist_text) {
			memcpy(c->hist_text + c->hist_len, m->text, m->text_len);
			c->hist_len += m->text_len;
		}
		c->hist_active = 1;
		c->hist_room = m->room;
		if (m->flags & V2_MORE)
			return;
		text = c->hist_text;
		len = c->hist_len;
		c->hist_active = 0;
		c->hist_len = 0;
	}
	if (m->event > EV_ACTION)
		return;
	if (c->ask_kind == V2_K_HISTORY && m->event_id != 0) {
		seen = seen_in(c, m->room);
		if (seen->first_id != 0 && m->event_id >= seen->first_id &&
		    m->event_id <= seen->last_id)
			return;
		/* The oldest shown moves once the answer is over (ask_end): lines come oldest
		 * first. */
		if (c->hist_low == 0 || m->event_id < c->hist_low) {
			c->hist_low = m->event_id;
			c->hist_low_room = m->room;
		}
		if (m->event_id > seen->last_id) {
			seen->last_id = m->event_id;
			if (m->room == V2_LOBBY)
				c->last_event_id = m->event_id;
		}
	}
	memcpy(name, m->name, n);
	name[n] = '\0';
	if (c->cb.history != NULL)
		c->cb.history(c->cb.ctx, m->room, m->event_id, m->at, (enum room_event)m->event,
		              name, text, len);
}

/* HEND: the answer in flight (HISTORY or SEARCH) is over. */
static void on_hend(struct c2 *c, const struct v2_msg *m)
{
	if (c->ask_kind != V2_K_HISTORY && c->ask_kind != V2_K_SEARCH)
		return;
	ask_end(c, 1, m->room, m->count, m->flags);
}

/* Whether the message of kind in flight waits in out, held (for its room): no clock yet. */
static int kind_held(const struct c2 *c, enum v2_kind kind)
{
	size_t k;

	for (k = 0; k < c->out_len && c->holding; k++)
		if (out_at(c, k)->kind == kind && out_at(c, k)->held)
			return 1;
	return 0;
}

/*
 * The answer in flight besides a WHO: given up C2_WHO_WAIT ms after its
 * ask went or its last line came (a refusal, say), and the next ask goes.
 */
static uint64_t poll_ask(struct c2 *c, uint64_t now)
{
	if (c->ask_kind == 0 || c->state != C2_ONLINE || kind_held(c, c->ask_kind))
		return UINT64_MAX;
	if (c->ask_by == 0)
		c->ask_by = now + C2_WHO_WAIT;
	if (now < c->ask_by)
		return c->ask_by;
	if (c->ask_kind == V2_K_ROOMS) {
		c->ask_kind = 0;
		asks_pump(c);
	} else {
		ask_end(c, 0, 0, 0, 0);
	}
	return UINT64_MAX;
}

uint64_t c2_poll(struct c2 *c, uint64_t now)
{
	struct emit_ctx e = {c, now};
	uint64_t next, who;

	if (c->state != C2_HELLO && c->state != C2_LOGIN && c->state != C2_ONLINE)
		return UINT64_MAX;
	who = min64(poll_who(c, now), poll_rejoin(c, now));
	who = min64(who, poll_ask(c, now));
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
