/* rooms.c - rooms and private messages on the server: v2's room requests, a room's fan-out, the
 * operator's room commands. */
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bucket.h"
#include "common/log.h"
#include "common/text.h"
#include "channel.h"
#include "history.h"
#include "server.h"
#include "session.h"

#define MAX_PIECES (V2_MAX_TEXT / 64 + 2)

/* A session's rooms, made on its first room request. */
static struct session_rooms *rooms_of(struct session *ss)
{
	if (ss->rooms == NULL)
		ss->rooms = xcalloc(1, sizeof *ss->rooms);
	return ss->rooms;
}

static int is_in(const struct session *ss, const struct channel *c)
{
	return ss->rooms != NULL && channel_has(&ss->rooms->seats, c);
}

/*
 * A join or a part (an event for a whole room) costs a token of the
 * session's own bucket (struct session_rooms); 0 if paid, else NOTICE 8.
 */
static int pay_change(struct server *s, struct session *ss)
{
	unsigned burst = s->rooms_burst > 0 ? s->rooms_burst : 20;

	if (bucket_take(&rooms_of(ss)->changes, server_now(s), burst, SESSION_ROOMS_RATE))
		return 0;
	p2_notice(s->p2, ss, QERR_FLOOD, 0);
	return -1;
}

static struct session *session_of(const struct member *m)
{
	return m->proto == 2 ? m->data : NULL;
}

size_t rooms_size(const struct server *s, const struct channel *c)
{
	return c == channels_default(s->channels) ? room_count(s->room) : channel_count(c);
}

/* ROOM JOINED or PARTED, naming one room, to ss. */
static void tell_room(struct server *s, struct session *ss, enum v2_room_what what, uint32_t id,
                      size_t members, const char *name)
{
	char list[V2_ROOM_CHUNK];
	size_t used = 0;
	struct v2_msg m = {.kind = V2_K_ROOM, .what = (uint8_t)what};

	if (v2_room_put(list, sizeof list, &used, id, (uint32_t)members, name, strlen(name)) < 0)
		return;
	m.text = list;
	m.text_len = used;
	(void)p2_queue_msg(s->p2, ss, &m);
}

/* An event of room c (not the default) about member name, to all its members but exclude. */
static void room_event(struct server *s, struct channel *c, enum room_event ev, const char *name,
                       const struct member *exclude, const char *text, size_t len)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.has_event = 1;
	o.event = ev;
	snprintf(o.name, sizeof o.name, "%s", name);
	o.text = text;
	o.text_len = len;
	o.exclude = exclude;
	o.chan = c;
	server_deliver(s, &o, 0);
}

/* A list of rooms costs a flood-control token, as WHO does (room_who); 0 if paid. */
static int pay(struct server *s, struct session *ss)
{
	struct outcome o;

	if (room_who(s->room, &ss->m->addr, ss->m->name, strlen(ss->m->name), 1, server_now(s),
	             &o) != NULL)
		return 0;
	server_deliver(s, &o, 0);
	return -1;
}

static enum qerr join_refusal(enum channel_status st)
{
	switch (st) {
	case CHANNEL_MEMBER_LIMIT:
		return QERR_ROOM_LIMIT;
	case CHANNEL_FULL:
		return QERR_ROOM_FULL;
	case CHANNEL_TOO_MANY:
		return QERR_TOO_MANY_ROOMS;
	case CHANNEL_BAD_NAME:
		return QERR_ROOM_NAME;
	case CHANNEL_UNAVAILABLE:
		return QERR_STORE;
	default:
		return QERR_BAD_REQUEST;
	}
}

static void join(struct server *s, struct session *ss, const char *name, size_t len)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why = NAME_OK;
	enum channel_status st = channel_name_check(name, len, key, &why);
	struct channel *c;

	if (st != CHANNEL_OK) {
		p2_notice(s->p2, ss, QERR_ROOM_NAME, (int)why);
		return;
	}
	c = channels_find(s->channels, name, len);
	if (c == channels_default(s->channels)) {
		tell_room(s, ss, V2_ROOM_JOINED, c->id, rooms_size(s, c), c->name);
		return;
	}
	if (c != NULL && is_in(ss, c)) {
		tell_room(s, ss, V2_ROOM_JOINED, c->id, rooms_size(s, c), c->name);
		return; /* free: it changes nothing */
	}
	if (pay_change(s, ss) < 0)
		return;
	st = channel_join(s->channels, ss->m, &rooms_of(ss)->seats, name, len, &c);
	if (st != CHANNEL_OK) {
		/* A name that passed the rules but not --max-room-name is too long. */
		p2_notice(s->p2, ss, join_refusal(st), st == CHANNEL_BAD_NAME ? NAME_TOO_LONG : 0);
		return;
	}
	log_info("%s joined %s", ss->m->name, c->name);
	tell_room(s, ss, V2_ROOM_JOINED, c->id, rooms_size(s, c), c->name);
	room_event(s, c, EV_JOIN, ss->m->name, ss->m, NULL, 0);
}

static void part(struct server *s, struct session *ss, uint32_t id)
{
	struct channel *c = channels_by_id(s->channels, id);
	char name[CHANNEL_NAME_MAX + 2];
	int closed;

	if (c == NULL) {
		p2_notice(s->p2, ss, QERR_NO_SUCH_ROOM, 0);
		return;
	}
	if (c == channels_default(s->channels)) {
		p2_notice(s->p2, ss, QERR_LOBBY_STAYS, 0);
		return;
	}
	if (!is_in(ss, c)) {
		p2_notice(s->p2, ss, QERR_NOT_IN_ROOM, 0);
		return;
	}
	if (pay_change(s, ss) < 0)
		return;
	snprintf(name, sizeof name, "%s", c->name);
	room_event(s, c, EV_LEAVE, ss->m->name, ss->m, NULL, 0);
	channel_part(s->channels, &ss->rooms->seats, c, &closed);
	tell_room(s, ss, V2_ROOM_PARTED, id, closed ? 0 : channel_count(c), name);
}

/* One ROOM of a list: the rooms from *next on that fit, MORE while some remain. */
static void list_piece(struct server *s, struct session *ss, enum v2_room_what what,
                       struct channel *const *v, size_t count, size_t *next)
{
	char list[V2_ROOM_CHUNK];
	size_t used = 0;
	struct v2_msg m = {.kind = V2_K_ROOM, .what = (uint8_t)what};

	while (*next < count) {
		const struct channel *c = v[*next];

		if (v2_room_put(list, sizeof list, &used, c->id, (uint32_t)rooms_size(s, c),
		                c->name, strlen(c->name)) < 0)
			break;
		(*next)++;
	}
	m.flags = *next < count ? V2_MORE : 0;
	m.text = list;
	m.text_len = used;
	if (p2_queue_msg(s->p2, ss, &m) < 0 || used == 0)
		*next = count; /* cannot happen: a room's entry always fits; never loop */
}

/*
 * ROOMS: the rooms of ss (the default room first), or every room, in as
 * many ROOM as it takes, at most V2_ROOMS_LIST_MAX rooms (the oldest
 * first), as WHO lists at most V2_WHO_MAX_NAMES: a queue holds what that
 * takes.  A list of every room (tens of DATA held until acknowledged) is
 * one list in flight per session, as for WHO (rooms_request checks); a member's own rooms are a
 * DATA or two, and the answer to the declaration that every session starts with, so they never hold
 * up a WHO that follows at once.
 */
static void list_rooms(struct server *s, struct session *ss, int all)
{
	static struct channel *v[V2_ROOMS_LIST_MAX];
	size_t count = 0, next = 0, i, n;

	if (all) {
		n = channels_count(s->channels);
		for (i = 0; i < n && count < V2_ROOMS_LIST_MAX; i++)
			v[count++] = channels_at(s->channels, i);
	} else {
		v[count++] = channels_default(s->channels);
		for (i = 0;
		     ss->rooms != NULL && i < ss->rooms->seats.n && count < V2_ROOMS_LIST_MAX; i++)
			v[count++] = ss->rooms->seats.v[i].c;
	}
	do
		list_piece(s, ss, all ? V2_ROOM_ALL : V2_ROOM_MINE, v, count, &next);
	while (next < count);
	if (all)
		p2_list_sent(ss);
}

void rooms_request(struct server *s, struct session *ss, const struct v2_msg *m, int declaring)
{
	if (m->kind == V2_K_JOIN) {
		join(s, ss, m->name, m->name_len);
		return;
	}
	if (m->kind == V2_K_PART) {
		part(s, ss, m->room);
		return;
	}
	if ((m->flags & V2_ROOMS_ALL) && p2_list_busy(ss)) {
		p2_notice(s->p2, ss, QERR_FLOOD, 0); /* before the token, as WHO */
		return;
	}
	/* A list costs a token of chat's bucket, as WHO; the session's declaration is free. */
	if (!declaring && pay(s, ss) < 0)
		return;
	list_rooms(s, ss, m->flags & V2_ROOMS_ALL);
}

void rooms_who(struct server *s, struct session *ss, uint32_t id)
{
	static const char *names[V2_WHO_MAX_NAMES];
	struct channel *c;
	size_t i, n, count = 0;

	if (rooms_where(s, ss, id, &c) < 0)
		return;
	n = channel_count(c);
	for (i = 0; i < n && count < V2_WHO_MAX_NAMES; i++)
		names[count++] = ((const struct member *)channel_member(c, i))->name;
	p2_queue_members(s->p2, ss, names, count, n);
}

int rooms_where(struct server *s, struct session *ss, uint32_t id, struct channel **out)
{
	struct channel *c;

	*out = NULL;
	if (id == V2_LOBBY)
		return 0;
	c = s->channels != NULL ? channels_by_id(s->channels, id) : NULL;
	if (c == NULL || !is_in(ss, c)) {
		p2_notice(s->p2, ss, c == NULL ? QERR_NO_SUCH_ROOM : QERR_NOT_IN_ROOM, 0);
		return -1;
	}
	*out = c;
	return 0;
}

/* Queue text to ss as head's message, in pieces of chunk bytes. */
static void queue_pieces(struct server *s, struct session *ss, const struct v2_msg *head,
                         size_t chunk, const char *text, size_t len)
{
	struct blob *pieces[MAX_PIECES];
	size_t n = p2_pieces(head, chunk, text, len, pieces, MAX_PIECES), k;

	for (k = 0; k < n; k++) {
		p2_queue_blob(s->p2, ss, pieces[k]);
		blob_unref(pieces[k]);
	}
}

/*
 * The text rules and flood control of a SAY, for a private line (whose
 * event is not a room's): 0 if it may go, else -1 with the refusal sent.
 */
static int private_allowed(struct server *s, struct session *ss, const char *text, size_t len)
{
	struct outcome o;

	room_say(s->room, &ss->m->addr, ss->m->name, strlen(ss->m->name), text, len, server_now(s),
	         &o);
	if (o.has_event)
		return 0;
	server_deliver(s, &o, 0);
	return -1;
}

/*
 * A private line to a name nobody online has: kept for whoever logs in
 * under it next (history.h), the sender told so (NOTICE 23); without a
 * store, refused (NOTICE 17).  The text rules and flood control of a SAY
 * apply first, as for any private line.
 */
static void tell_later(struct server *s, struct session *ss, const char *to, const char *text,
                       size_t len)
{
	if (name_check(to, strlen(to)) != NAME_OK) {
		p2_notice(s->p2, ss, QERR_NOT_ONLINE, 0);
		return;
	}
	if (private_allowed(s, ss, text, len) < 0)
		return;
	if (history_keep_private(s, s->private_seq + 1, ss->m->name, to, text, len) < 0) {
		p2_notice(s->p2, ss, QERR_NOT_ONLINE, 0);
		return;
	}
	s->private_seq++;
	p2_notice(s->p2, ss, QERR_KEPT, 0);
}

void rooms_tell(struct server *s, struct session *ss, const char *to, const char *text, size_t len)
{
	const struct member *t = room_find_name(s->room, to, strlen(to));
	struct session *ts = t != NULL ? session_of(t) : NULL;
	size_t name_len = strlen(ss->m->name);
	struct v2_msg m = {.kind = V2_K_PRIVATE, .name = ss->m->name, .name_len = name_len};

	if (t == NULL) {
		tell_later(s, ss, to, text, len);
		return;
	}
	if (ts == NULL || !ts->aware) {
		p2_notice(s->p2, ss, QERR_NO_PRIVATE, 0); /* v1, or a qun older than rooms */
		return;
	}
	if (private_allowed(s, ss, text, len) < 0)
		return;
	m.event_id = ++s->private_seq;
	queue_pieces(s, ts, &m, V2_PRIVATE_CHUNK(name_len), text, len);
}

void rooms_broadcast(struct server *s, const struct outcome *o)
{
	struct channel *c = o->chan;
	size_t name_len = strlen(o->name), i, k, n, count = channel_count(c);
	struct v2_msg m = {.kind = V2_K_REVENT,
	                   .room = c->id,
	                   .event_id = c->events,
	                   .event = (uint8_t)o->event,
	                   .name = o->name,
	                   .name_len = name_len};
	struct blob *pieces[MAX_PIECES];

	n = p2_pieces(&m, V2_REVENT_CHUNK(name_len), o->text, o->text_len, pieces, MAX_PIECES);
	for (i = 0; i < count; i++) {
		const struct member *mm = channel_member(c, i);

		if (mm == o->exclude)
			continue;
		for (k = 0; k < n; k++)
			p2_queue_blob(s->p2, mm->data, pieces[k]);
	}
	for (k = 0; k < n; k++)
		blob_unref(pieces[k]);
}

struct leaving {
	struct server *s;
	struct session *ss;
	const struct outcome *o;
};

/* channel_part_all's callback: tell room c why the member leaves it. */
static void leave_one(void *ctx, struct channel *c)
{
	const struct leaving *l = ctx;
	struct outcome e = *l->o;

	e.drop = DROP_NONE;
	e.reply = REPLY_NONE;
	e.has_event = 1;
	e.exclude = l->ss->m;
	e.chan = c;
	server_deliver(l->s, &e, 0);
}

/*
 * The member has already left the room table (room.c freed it when it
 * decided the outcome): ss->m and its entries in the rooms' lists are
 * compared, never read, until channel_part_all has taken them out.
 */
void rooms_leave_all(struct server *s, struct session *ss, const struct outcome *o)
{
	struct leaving l = {s, ss, o};

	/* The bucket stays: a client that starts a new session has not earned a new one. */
	if (ss->rooms != NULL)
		channel_part_all(s->channels, &ss->rooms->seats, o->has_event ? leave_one : NULL,
		                 &l);
}

void rooms_restart(struct server *s, struct session *ss)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.has_event = 1;
	o.event = EV_LEAVE;
	snprintf(o.name, sizeof o.name, "%s", ss->m->name);
	rooms_leave_all(s, ss, &o);
}

void rooms_admin(struct server *s, struct channel *c, const char *text, size_t len)
{
	struct outcome o;

	room_admin(s->room, text, len, &o);
	o.chan = c == channels_default(s->channels) ? NULL : c;
	server_deliver(s, &o, 0);
}

int rooms_kick(struct server *s, const struct member *m, struct channel *c, const char *reason,
               size_t len)
{
	struct session *ss = session_of(m);
	char name[CHANNEL_NAME_MAX + 2];
	uint32_t id = c->id;
	int closed;

	if (ss == NULL || !is_in(ss, c))
		return -1;
	snprintf(name, sizeof name, "%s", c->name);
	log_info("%s was kicked from %s by the operator", m->name, name);
	room_event(s, c, EV_KICK, m->name, NULL, reason, len);
	channel_part(s->channels, &ss->rooms->seats, c, &closed);
	tell_room(s, ss, V2_ROOM_PARTED, id, closed ? 0 : channel_count(c), name);
	return 0;
}

size_t rooms_close(struct server *s, struct channel *c)
{
	size_t n = channel_count(c), i;
	char name[CHANNEL_NAME_MAX + 2];
	uint32_t id = c->id;
	int closed = 0;

	snprintf(name, sizeof name, "%s", c->name);
	log_info("the operator closed %s (%zu members)", name, n);
	history_permanent(s, id, 0);
	channels_unpin(s->channels, c); /* closes it now if empty; else with its last member */
	for (i = 0; i < n && !closed; i++) {
		const struct member *m = channel_member(c, channel_count(c) - 1);
		struct session *ss = m->data;

		p2_notice(s->p2, ss, QERR_ROOM_CLOSED, 0);
		channel_part(s->channels, &ss->rooms->seats, c, &closed);
		tell_room(s, ss, V2_ROOM_PARTED, id, 0, name);
	}
	return n;
}
