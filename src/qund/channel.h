/* channel.h - the server's rooms (#names): ids never reused, who is in which, one event order per
 * room. Pure. */
#ifndef QUN_CHANNEL_H
#define QUN_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/text.h"

/*
 * Issue 20's rooms, as a core of their own: a room is called a channel in
 * the code, since struct room (room.h) is the server's table of members,
 * which had the name first.  Nothing here does I/O or knows a protocol;
 * a member is whatever pointer the caller identifies it by, and its list
 * of rooms (struct seats) lives with the caller, so that a member in no
 * room but the default costs nothing here beyond that room's entry.
 */

#define CHANNEL_NAME_MAX 32 /* bytes of a room's name after the '#', as a member's name */
#define CHANNEL_KEY_MAX  (CHANNEL_NAME_MAX + 1)

struct channel_config {
	unsigned max_per_member; /* rooms one member may be in at once (20) */
	unsigned max_members;    /* members in one room (the server's capacity) */
	unsigned max_channels;   /* rooms at once, so that nobody can make a million */
	unsigned max_name; /* bytes of a new room's name after the '#' (0: CHANNEL_NAME_MAX) */
	/*
	 * Where a new room's id and last event id come from (history.c: the
	 * store, so that a room keeps its id and its order across restarts);
	 * NULL: ids in order from 2, events from 0.  Returns -1 if it cannot
	 * give them: the room is not made (CHANNEL_UNAVAILABLE).  The default
	 * room is always id 1 and never asks.
	 */
	int (*room_id)(void *ctx, const char *key, const char *name, uint32_t *id,
	               uint64_t *events);
	void *room_id_ctx;
};

enum channel_status {
	CHANNEL_OK = 0,
	CHANNEL_BAD_NAME,     /* not '#' and 1..32 bytes that pass the member name rules */
	CHANNEL_NO_SUCH,      /* no room by that name */
	CHANNEL_ALREADY_IN,   /* joining a room the member is in */
	CHANNEL_NOT_IN,       /* parting a room the member is not in */
	CHANNEL_MEMBER_LIMIT, /* the member is in max_per_member rooms */
	CHANNEL_FULL,         /* the room holds max_members */
	CHANNEL_TOO_MANY,     /* max_channels rooms exist */
	CHANNEL_UNAVAILABLE,  /* room_id could not give the new room an id */
	CHANNEL_STATUS_COUNT
};

/*
 * A room.  id: given when it is made, never given again while the server
 * runs (a room closed and made again gets a new one), so a client or a
 * stored line that names an id can never mean another room.  events: the
 * last event id taken in this room (channel_next_event); every member of
 * the room sees its events in that one order.
 */
struct channel {
	uint32_t id;
	uint32_t permanent : 1; /* made by the operator: stays while empty */
	uint64_t events;
	/* Private to channel.c. */
	struct channel_entry *who; /* the members, in no particular order */
	uint32_t n, cap;
	uint32_t slot; /* index in the table's array */
	char *key;     /* the normalised name, after name */
	char name[];   /* "#" and the name as its maker typed it */
};

/* One room a member is in: its side of the membership. */
struct seat {
	struct channel *c;
	uint32_t at; /* the member's index in c's list */
};

/*
 * The rooms one member is in, owned by the caller (zeroed before first
 * use, channel_part_all before it is freed).  At most max_per_member.
 */
struct seats {
	struct seat *v;
	uint32_t n, cap;
};

/* A member's entry in a room's list: who, and where its seat is. */
struct channel_entry {
	const void *member;
	struct seats *seats;
	uint32_t seat_at;
};

struct channels;

/*
 * A table of rooms with the default room in it (id 1, permanent), named
 * default_name ("#大厅"; it must pass channel_name_check).  Returns NULL if
 * default_name does not.
 */
struct channels *channels_new(const struct channel_config *cfg, const char *default_name);
void channels_free(struct channels *t);

/* Set (or, with NULL, clear) where new rooms' ids come from (channel_config's room_id). */
void channels_set_room_id(struct channels *t,
                          int (*fn)(void *ctx, const char *key, const char *name, uint32_t *id,
                                    uint64_t *events),
                          void *ctx);

/* The default room: everyone's first, the lesson's room. */
struct channel *channels_default(const struct channels *t);

/*
 * Check a room's name as typed ("#Dev", "#技术部"): a '#' and 1..32 bytes
 * that pass the member name rules (text.h, name_check; *why says which
 * failed, NAME_OK if the '#' was missing or the rest is fine).  On success
 * write its normalised key (NUL-terminated, "#dev") to key, which has
 * CHANNEL_KEY_MAX + 1 bytes, and return CHANNEL_OK.
 */
enum channel_status channel_name_check(const char *s, size_t n, char *key, enum name_status *why);

/*
 * Whether a new room may be called s[0..n) (as typed, '#' included): its
 * length within the table's max_name.  channel_join and channels_create
 * refuse a new room whose name does not fit (CHANNEL_BAD_NAME); a room
 * that exists is found by any of its forms.
 */
int channels_name_fits(const struct channels *t, size_t n);

/* The room with this name (any form of it) or id; NULL if none. */
struct channel *channels_find(const struct channels *t, const char *s, size_t n);
struct channel *channels_by_id(const struct channels *t, uint32_t id);

/*
 * Member joins the room named s[0..n), which is made if it does not exist
 * (its name as typed).  *out is the room on CHANNEL_OK, and on
 * CHANNEL_ALREADY_IN.  Nothing changes unless CHANNEL_OK.
 */
enum channel_status channel_join(struct channels *t, const void *member, struct seats *seats,
                                 const char *s, size_t n, struct channel **out);
/* channel_join of a room the caller holds (the default room, an operator's room). */
enum channel_status channel_join_to(struct channels *t, const void *member, struct seats *seats,
                                    struct channel *c);

/*
 * Member leaves room c.  A room that is left empty and is not permanent is
 * closed (freed: c is invalid after) and *closed is set; otherwise cleared.
 */
enum channel_status channel_part(struct channels *t, struct seats *seats, struct channel *c,
                                 int *closed);

/*
 * Member leaves every room (it has left the server).  fn, if not NULL, is
 * called with each room before it is left, so that the caller can tell the
 * room's other members; the room may be closed right after.
 */
typedef void (*channel_fn)(void *ctx, struct channel *c);
void channel_part_all(struct channels *t, struct seats *seats, channel_fn fn, void *ctx);

/* The operator makes a room that stays while empty, or lets one go (closing it if empty). */
enum channel_status channels_create(struct channels *t, const char *s, size_t n,
                                    struct channel **out);
void channels_unpin(struct channels *t, struct channel *c);

/* Is member (seats) in room c? */
int channel_has(const struct seats *seats, const struct channel *c);

/* The room's next event id: one order per room, for all its members. */
uint64_t channel_next_event(struct channel *c);

/* Rooms and members, for listing: i from 0 while it returns non-NULL. */
struct channel *channels_at(const struct channels *t, size_t i);
size_t channels_count(const struct channels *t);
const void *channel_member(const struct channel *c, size_t i);
size_t channel_count(const struct channel *c);

const char *channel_status_str(enum channel_status st);

#endif
