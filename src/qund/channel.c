/* channel.c - the server's rooms: names, ids never reused, membership both ways, event order. Pure.
 */
#include "channel.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/*
 * Membership is kept both ways, each an array with O(1) removal (the last
 * entry takes the place of the one removed, and its back-index is fixed):
 * a room's list of members (channel_entry, for its fan-out) and a
 * member's list of rooms (seat, for leaving them all).  One membership is
 * one entry of each, 40 bytes on a 64-bit machine, so a member in 20 rooms
 * costs 20 times what one costs.  The table of rooms is a plain array
 * searched by key: joins are rare and max_channels is small; a room's
 * slot in it is kept for O(1) closing.
 */
struct channels {
	struct channel_config cfg;
	struct channel **v;
	uint32_t n, cap;
	uint32_t last_id; /* ids are given in order from 1 and never again */
};

static const char *const status_str[CHANNEL_STATUS_COUNT] = {
    [CHANNEL_OK] = "ok",
    [CHANNEL_BAD_NAME] = "invalid room name",
    [CHANNEL_NO_SUCH] = "no such room",
    [CHANNEL_ALREADY_IN] = "already in the room",
    [CHANNEL_NOT_IN] = "not in the room",
    [CHANNEL_MEMBER_LIMIT] = "in too many rooms",
    [CHANNEL_FULL] = "the room is full",
    [CHANNEL_TOO_MANY] = "too many rooms",
    [CHANNEL_UNAVAILABLE] = "no id for a new room",
};

const char *channel_status_str(enum channel_status st)
{
	return (unsigned)st < CHANNEL_STATUS_COUNT ? status_str[st] : "?";
}

enum channel_status channel_name_check(const char *s, size_t n, char *key, enum name_status *why)
{
	int len;

	*why = NAME_OK;
	if (n < 1 || s[0] != '#')
		return CHANNEL_BAD_NAME;
	*why = name_check(s + 1, n - 1);
	if (*why != NAME_OK)
		return CHANNEL_BAD_NAME;
	key[0] = '#';
	len = name_normalize(s + 1, n - 1, key + 1, CHANNEL_KEY_MAX);
	return len > 0 ? CHANNEL_OK : CHANNEL_BAD_NAME;
}

/* Grow an array of elem-sized entries to hold one more; doubling from 4. */
static void *grow(void *v, uint32_t *cap, uint32_t n, size_t elem)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 4;
	return xrealloc(v, (size_t)*cap * elem);
}

/* Where a room with this id goes in the table, which is in id order. */
static uint32_t slot_for(const struct channels *t, uint32_t id)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A new room, its id from room_id (or the next of our own), put in its
 * place in the table.  NULL if room_id gave none, or one that is open.
 */
static struct channel *make(struct channels *t, const char *s, size_t n, const char *key, int lobby)
{
	size_t klen = strlen(key);
	struct channel *c = xcalloc(1, sizeof *c + n + 1 + klen + 1);
	uint32_t at, i;

	memcpy(c->name, s, n);
	c->key = c->name + n + 1;
	memcpy(c->key, key, klen);
	if (lobby || t->cfg.room_id == NULL) {
		c->id = ++t->last_id;
	} else if (t->cfg.room_id(t->cfg.room_id_ctx, key, c->name, &c->id, &c->events) < 0 ||
	           c->id <= 1 || channels_by_id(t, c->id) != NULL) {
		free(c);
		return NULL;
	}
	t->v = grow(t->v, &t->cap, t->n, sizeof *t->v);
	at = slot_for(t, c->id);
	for (i = t->n; i > at; i--) {
		t->v[i] = t->v[i - 1];
		t->v[i]->slot = i;
	}
	c->slot = at;
	t->v[at] = c;
	t->n++;
	return c;
}

/*
 * The table stays in id order (rooms are made with ever larger ids and
 * closing keeps the order), so that channels_by_id, which every line said
 * in a room asks, is a binary search; closing a room, which is rare,
 * moves the rooms after it.
 */
static void close_channel(struct channels *t, struct channel *c)
{
	uint32_t i;

	for (i = c->slot; i + 1 < t->n; i++) {
		t->v[i] = t->v[i + 1];
		t->v[i]->slot = i;
	}
	t->n--;
	free(c->who);
	free(c);
}

struct channels *channels_new(const struct channel_config *cfg, const char *default_name)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;
	struct channels *t;
	struct channel *c;

	if (channel_name_check(default_name, strlen(default_name), key, &why) != CHANNEL_OK)
		return NULL;
	t = xcalloc(1, sizeof *t);
	t->cfg = *cfg;
	c = make(t, default_name, strlen(default_name), key, 1);
	c->permanent = 1;
	return t;
}

void channels_set_room_id(struct channels *t,
                          int (*fn)(void *ctx, const char *key, const char *name, uint32_t *id,
                                    uint64_t *events),
                          void *ctx)
{
	t->cfg.room_id = fn;
	t->cfg.room_id_ctx = ctx;
}

void channels_free(struct channels *t)
{
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->v[i]->who);
		free(t->v[i]);
	}
	free(t->v);
	free(t);
}

struct channel *channels_default(const struct channels *t)
{
	return channels_by_id(t, 1);
}

static struct channel *find_key(const struct channels *t, const char *key)
{
	uint32_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i]->key, key) == 0)
			return t->v[i];
	return NULL;
}

struct channel *channels_find(const struct channels *t, const char *s, size_t n)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;

	if (channel_name_check(s, n, key, &why) != CHANNEL_OK)
		return NULL;
	return find_key(t, key);
}

struct channel *channels_by_id(const struct channels *t, uint32_t id)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->v[mid]->id == id)
			return t->v[mid];
		if (t->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int channels_name_fits(const struct channels *t, size_t n)
{
	unsigned max = t->cfg.max_name > 0 ? t->cfg.max_name : CHANNEL_NAME_MAX;

	return n >= 1 && n - 1 <= max;
}

int channel_has(const struct seats *seats, const struct channel *c)
{
	uint32_t i;

	for (i = 0; i < seats->n; i++)
		if (seats->v[i].c == c)
			return 1;
	return 0;
}

enum channel_status channel_join_to(struct channels *t, const void *member, struct seats *seats,
                                    struct channel *c)
{
	struct channel_entry *e;

	if (channel_has(seats, c))
		return CHANNEL_ALREADY_IN;
	if (seats->n >= t->cfg.max_per_member)
		return CHANNEL_MEMBER_LIMIT;
	if (c->n >= t->cfg.max_members)
		return CHANNEL_FULL;
	c->who = grow(c->who, &c->cap, c->n, sizeof *c->who);
	seats->v = grow(seats->v, &seats->cap, seats->n, sizeof *seats->v);
	e = &c->who[c->n];
	e->member = member;
	e->seats = seats;
	e->seat_at = seats->n;
	seats->v[seats->n].c = c;
	seats->v[seats->n].at = c->n;
	seats->n++;
	c->n++;
	return CHANNEL_OK;
}

enum channel_status channel_join(struct channels *t, const void *member, struct seats *seats,
                                 const char *s, size_t n, struct channel **out)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;
	enum channel_status st;
	struct channel *c;

	*out = NULL;
	st = channel_name_check(s, n, key, &why);
	if (st != CHANNEL_OK)
		return st;
	c = find_key(t, key);
	if (c != NULL) {
		*out = c;
		return channel_join_to(t, member, seats, c);
	}
	/* A new room: check the member's limit before making anything. */
	if (!channels_name_fits(t, n))
		return CHANNEL_BAD_NAME;
	if (seats->n >= t->cfg.max_per_member)
		return CHANNEL_MEMBER_LIMIT;
	if (t->n >= t->cfg.max_channels)
		return CHANNEL_TOO_MANY;
	if (t->cfg.max_members == 0)
		return CHANNEL_FULL;
	c = make(t, s, n, key, 0);
	if (c == NULL)
		return CHANNEL_UNAVAILABLE;
	*out = c;
	return channel_join_to(t, member, seats, c);
}

/* Remove seat i of seats (and its entry in its room's list); returns the room. */
static struct channel *unseat(struct seats *seats, uint32_t i)
{
	struct seat s = seats->v[i];
	struct channel *c = s.c;
	struct channel_entry *last = &c->who[--c->n];

	/* The room's last entry takes the leaver's place in the room's list. */
	c->who[s.at] = *last;
	c->who[s.at].seats->v[c->who[s.at].seat_at].at = s.at;
	/* The member's last seat takes this seat's place in its own list. */
	seats->v[i] = seats->v[--seats->n];
	if (i < seats->n)
		seats->v[i].c->who[seats->v[i].at].seat_at = i;
	return c;
}

enum channel_status channel_part(struct channels *t, struct seats *seats, struct channel *c,
                                 int *closed)
{
	uint32_t i;

	*closed = 0;
	for (i = 0; i < seats->n; i++)
		if (seats->v[i].c == c)
			break;
	if (i == seats->n)
		return CHANNEL_NOT_IN;
	unseat(seats, i);
	if (c->n == 0 && !c->permanent) {
		close_channel(t, c);
		*closed = 1;
	}
	return CHANNEL_OK;
}

void channel_part_all(struct channels *t, struct seats *seats, channel_fn fn, void *ctx)
{
	int closed;

	while (seats->n > 0) {
		struct channel *c = seats->v[seats->n - 1].c;

		if (fn != NULL)
			fn(ctx, c);
		channel_part(t, seats, c, &closed);
	}
	free(seats->v);
	memset(seats, 0, sizeof *seats);
}

enum channel_status channels_create(struct channels *t, const char *s, size_t n,
                                    struct channel **out)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;
	enum channel_status st;

	*out = NULL;
	st = channel_name_check(s, n, key, &why);
	if (st != CHANNEL_OK)
		return st;
	*out = find_key(t, key);
	if (*out == NULL) {
		if (!channels_name_fits(t, n))
			return CHANNEL_BAD_NAME;
		if (t->n >= t->cfg.max_channels)
			return CHANNEL_TOO_MANY;
		*out = make(t, s, n, key, 0);
		if (*out == NULL)
			return CHANNEL_UNAVAILABLE;
	}
	(*out)->permanent = 1;
	return CHANNEL_OK;
}

void channels_unpin(struct channels *t, struct channel *c)
{
	if (c->id == 1)
		return; /* the default room is everyone's: it always stays */
	c->permanent = 0;
	if (c->n == 0)
		close_channel(t, c);
}

uint64_t channel_next_event(struct channel *c)
{
	return ++c->events;
}

struct channel *channels_at(const struct channels *t, size_t i)
{
	return i < t->n ? t->v[i] : NULL;
}

size_t channels_count(const struct channels *t)
{
	return t->n;
}

const void *channel_member(const struct channel *c, size_t i)
{
	return i < c->n ? c->who[i].member : NULL;
}

size_t channel_count(const struct channel *c)
{
	return c->n;
}
