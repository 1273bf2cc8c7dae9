/* history.c - what qund keeps in its store: room events before they are sent, rooms' ids, the
 * operator's decisions; the store's failures cost history, never the room. */
#include "history.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/text.h"
#include "channel.h"
#include "room.h"
#include "sanction.h"
#include "server.h"
#include "session.h"

#define TRIM_BATCH 500   /* lines one tick deletes at most (about a millisecond) */
#define TRIM_EVERY 60000 /* ms between retention passes when nothing is left to do */
#define RETRY_MS   5000  /* a failing store is tried again this often ... */
#define REPORT_MS  60000 /* ... and the operator told once a minute */

uint64_t history_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The store failed: roll the pass back, say so (once a minute), try again in a while. */
static void failed(struct server *s)
{
	uint64_t now = server_now(s);
	unsigned long held = 0;

	store_rollback(s->store);
	if (ratelimit_allow(&s->store_rl, now, 1, REPORT_MS, &held))
		log_warnx("history: %s; the room goes on, without history, until it works again",
		          store_error(s->store));
	s->store_failing = 1;
	s->store_retry = now + RETRY_MS;
}

/* Whether to write now: a store that failed waits for its retry. */
static int writable(struct server *s)
{
	if (s->store == NULL)
		return 0;
	if (s->store_failing && server_now(s) < s->store_retry)
		return 0;
	return 1;
}

void history_event(struct server *s, const struct outcome *o, uint32_t room, uint64_t event)
{
	if (!writable(s))
		return;
	if (store_begin(s->store) < 0 ||
	    store_line(s->store, room, event, history_wall_ms(), (int)o->event, o->name,
	               o->text != NULL ? o->text : "", o->text != NULL ? o->text_len : 0) < 0)
		failed(s);
}

void history_commit(struct server *s)
{
	if (s->store == NULL)
		return;
	if (store_commit(s->store) < 0) {
		failed(s);
		return;
	}
	if (s->store_failing && server_now(s) >= s->store_retry) {
		s->store_failing = 0;
		log_info("history: the store works again");
	}
}

/*
 * channel.h's room_id: a room's id and order from the store, so that
 * "#dev" is the same room after a restart.  What the pass decided so far
 * is committed first (earlier than needed, never later), and the room is
 * made in a transaction of its own: an id must never be given in memory
 * and then rolled back in the store, or the store could give it again.
 */
static int room_id(void *ctx, const char *key, const char *name, uint32_t *id, uint64_t *events)
{
	struct server *s = ctx;
	struct store_room r;

	history_commit(s);
	if (s->store_failing || store_room(s->store, key, name, &r) < 0) {
		if (!s->store_failing)
			failed(s);
		return -1;
	}
	*id = r.id;
	*events = r.last_event;
	return 0;
}

struct loading {
	struct server *s;
	uint64_t mono, wall;
};

static void load_room(void *ctx, const struct store_room *r)
{
	const struct loading *l = ctx;
	struct channel *c;

	if (r->id != 1 &&
	    channels_create(l->s->channels, r->name, strlen(r->name), &c) != CHANNEL_OK)
		log_warnx("history: the permanent room %s could not be opened", r->name);
}

static void load_sanction(void *ctx, int kind, const char *target, uint64_t until)
{
	const struct loading *l = ctx;
	uint64_t left = until == 0 ? 0 : until > l->wall ? until - l->wall : 1;
	size_t n = strlen(target);

	if (kind == SANCTION_MUTE)
		(void)sanction_mute(l->s->sanctions, target, n, l->mono, left);
	else
		(void)sanction_ban(l->s->sanctions, target, n, l->mono, left, NULL);
}

/* What a restart must not lose, from the store into the server. */
static int load(struct server *s, char *err, size_t errlen)
{
	struct channel *lobby = channels_default(s->channels);
	struct loading l = {s, server_now(s), history_wall_ms()};
	struct store_room r;

	if (store_lobby(s->store, lobby->key, lobby->name, &r) < 0 ||
	    store_private_last(s->store, &s->private_seq) < 0 ||
	    store_rooms_permanent(s->store, load_room, &l) < 0 ||
	    store_sanctions(s->store, l.wall, load_sanction, &l) < 0) {
		snprintf(err, errlen, "%s", store_error(s->store));
		return -1;
	}
	s->event_id = r.last_event; /* the default room's order goes on */
	return 0;
}

static const struct server_keep keep = {history_event, history_commit};

int history_open(struct server *s, const char *path, enum store_sync sync, char *err, size_t errlen)
{
	int refused = 0;

	s->keep = &keep;
	s->store = store_open(path, sync, err, errlen, &refused);
	if (s->store == NULL && !refused) {
		/* Not a file to refuse, one we cannot use: the room goes on, without history. */
		s->store_failing = 1;
		s->store_retry = UINT64_MAX;
		return 1;
	}
	if (s->store == NULL) {
		s->keep = NULL;
		return -1;
	}
	channels_set_room_id(s->channels, room_id, s); /* the permanent rooms load with their ids */
	if (load(s, err, errlen) < 0) {
		channels_set_room_id(s->channels, NULL, NULL);
		history_close(s);
		return -1;
	}
	return 0;
}

void history_close(struct server *s)
{
	s->keep = NULL;
	if (s->store == NULL)
		return;
	history_commit(s);
	store_close(s->store);
	s->store = NULL;
}

void history_sanctions(struct server *s)
{
	struct loading l = {s, server_now(s), history_wall_ms()};
	int kind;
	size_t i;

	if (!writable(s))
		return;
	history_commit(s);
	if (store_begin(s->store) < 0 || store_sanctions_clear(s->store) < 0)
		goto fail;
	for (kind = 0; kind < SANCTION_KINDS; kind++)
		for (i = 0; i < sanction_count(s->sanctions, (enum sanction_kind)kind); i++) {
			const struct sanction *x =
			    sanction_get(s->sanctions, (enum sanction_kind)kind, i);
			uint64_t until = x->until == 0 ? 0 : l.wall + (x->until - l.mono);

			if (x->until != 0 && x->until <= l.mono)
				continue; /* lapsed */
			if (store_sanction_put(s->store, kind, x->target, until) < 0)
				goto fail;
		}
	if (store_commit(s->store) == 0)
		return;
fail:
	failed(s);
}

void history_permanent(struct server *s, uint32_t id, int on)
{
	if (!writable(s))
		return;
	history_commit(s);
	if (store_room_permanent(s->store, id, on) < 0)
		failed(s);
}

#define MAX_PIECES    (V2_MAX_TEXT / 64 + 2)
#define ANSWER_PIECES 256 /* DATA one HISTORY answer takes at most: a queue holds 1024 */

struct answer {
	struct server *s;
	struct session *ss;
	uint32_t room;
	unsigned sent, pieces;
	int full; /* ANSWER_PIECES reached: the rest is not sent (the client pages on) */
};

/* One stored line as HLINE pieces to the asker, while the answer's budget lasts. */
static void answer_line(void *ctx, const struct store_line *l)
{
	struct answer *a = ctx;
	struct blob *pieces[MAX_PIECES];
	size_t name_len = strlen(l->name), n, k;
	struct v2_msg m = {.kind = V2_K_HLINE,
	                   .room = a->room,
	                   .event_id = l->event,
	                   .at = l->at,
	                   .event = (uint8_t)l->kind,
	                   .name = l->name,
	                   .name_len = name_len};

	if (a->full || name_len > QUN_MAX_NAME)
		return;
	n = p2_pieces(&m, V2_HLINE_CHUNK(name_len), l->text, l->text_len, pieces, MAX_PIECES);
	if (a->pieces + n > ANSWER_PIECES)
		a->full = 1;
	for (k = 0; k < n; k++) {
		if (!a->full)
			p2_queue_blob(a->s->p2, a->ss, pieces[k]);
		blob_unref(pieces[k]);
	}
	if (!a->full) {
		a->pieces += (unsigned)n;
		a->sent++;
	}
}

/* A search's line: HLINE in the room it was said in. */
static void search_line(void *ctx, const struct store_line *l)
{
	struct answer *a = ctx;

	a->room = l->room;
	answer_line(ctx, l);
}

static void answer_end(struct answer *a, uint32_t room, uint8_t flags);

void history_answer(struct server *s, struct session *ss, const struct v2_msg *m)
{
	static const enum store_dir dirs[] = {STORE_LATEST, STORE_BEFORE, STORE_AFTER};
	struct answer a = {s, ss, m->room, 0, 0, 0};
	uint8_t flags = 0;
	int got = -1;

	if (s->store != NULL && !s->store_failing) {
		history_commit(s); /* what this pass said is history too */
		got = store_history(s->store, m->room, dirs[m->what], m->event_id, m->count,
		                    answer_line, &a);
	}
	if (got < 0)
		flags = V2_HEND_UNAVAILABLE;
	else if (m->what != V2_HIST_AFTER && !a.full && (unsigned)got < m->count)
		flags = V2_HEND_START; /* fewer than asked for, going back: the beginning */
	answer_end(&a, m->room, flags);
}

/* An answer's end: HEND with the count, START or UNAVAILABLE as the caller found. */
static void answer_end(struct answer *a, uint32_t room, uint8_t flags)
{
	struct v2_msg end = {.kind = V2_K_HEND, .room = room, .flags = flags};

	end.count = (uint16_t)a->sent;
	(void)p2_queue_msg(a->s->p2, a->ss, &end);
	p2_list_sent(a->ss);
}

/* Blank-separated words in s. */
static size_t count_words(const char *s)
{
	size_t n = 0;

	while (*s != '\0') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		n++;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

void history_search(struct server *s, struct session *ss, const struct v2_msg *m)
{
	uint32_t rooms[64];
	char words[V2_MAX_PAYLOAD + 1];
	size_t n = 0, i;
	struct answer a = {s, ss, 0, 0, 0, 0};
	int got = -1;

	rooms[n++] = 1;
	for (i = 0; ss->rooms != NULL && i < ss->rooms->seats.n && n < 64; i++)
		rooms[n++] = ss->rooms->seats.v[i].c->id;
	memcpy(words, m->text, m->text_len);
	words[m->text_len] = '\0';
	if (count_words(words) == 0 || count_words(words) > STORE_SEARCH_WORDS) {
		/* Not a question the store can answer: a malformed request, not a failing store. */
		p2_notice(s->p2, ss, QERR_BAD_REQUEST, 0);
		answer_end(&a, 0, 0);
		return;
	}
	if (s->store != NULL && !s->store_failing) {
		history_commit(s);
		got = store_search(s->store, rooms, n, words, m->count, search_line, &a);
	}
	answer_end(&a, 0, got < 0 ? V2_HEND_UNAVAILABLE : 0);
}

int history_keep_private(struct server *s, uint64_t number, const char *from, const char *to,
                         const char *text, size_t len)
{
	char key[QUN_MAX_NAME + 1];

	if (!writable(s) || name_normalize(to, strlen(to), key, sizeof key) < 0)
		return -1;
	if (store_begin(s->store) < 0 ||
	    store_private(s->store, number, history_wall_ms(), from, to, key, text, len) < 0) {
		failed(s);
		return -1;
	}
	return 0;
}

struct delivery {
	struct server *s;
	struct session *ss;
};

static void deliver_one(void *ctx, const struct store_line *l)
{
	const struct delivery *d = ctx;
	struct blob *pieces[MAX_PIECES];
	size_t name_len = strlen(l->name), n, k;
	struct v2_msg m = {.kind = V2_K_PRIVATE,
	                   .event_id = l->event,
	                   .flags = V2_STORED,
	                   .at = l->at,
	                   .name = l->name,
	                   .name_len = name_len};

	if (name_len > QUN_MAX_NAME)
		return;
	n = p2_pieces(&m, V2_PRIVATE_CHUNK(name_len), l->text, l->text_len, pieces, MAX_PIECES);
	for (k = 0; k < n; k++) {
		/* p2_pieces set MORE on all but the last; STORED stays on each (the at field). */
		p2_queue_blob(d->s->p2, d->ss, pieces[k]);
		blob_unref(pieces[k]);
	}
}

void history_deliver_private(struct server *s, struct session *ss)
{
	struct delivery d = {s, ss};

	if (!writable(s))
		return;
	history_commit(s);
	if (store_begin(s->store) < 0 ||
	    store_private_take(s->store, member_key(ss->m), deliver_one, &d) < 0 ||
	    store_commit(s->store) < 0)
		failed(s);
}

int history_offered(const struct server *s)
{
	return s->store != NULL || s->store_failing;
}

void history_tick(struct server *s, uint64_t now)
{
	uint64_t before = 0;
	int n;

	if (!writable(s) || now < s->trim_at || (s->history_days == 0 && s->history_max == 0))
		return;
	if (s->history_days > 0)
		before = history_wall_ms() - (uint64_t)s->history_days * 86400000ULL;
	history_commit(s);
	n = store_trim(s->store, before, s->history_max, TRIM_BATCH);
	if (n < 0) {
		failed(s);
		return;
	}
	s->trim_at = n == TRIM_BATCH ? now : now + TRIM_EVERY; /* full: more next tick */
}

const char *history_state(const struct server *s)
{
	return s->store_failing ? "failing" : s->store == NULL ? "none" : "ok";
}
