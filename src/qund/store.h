/* store.h - qund's embedded store (SQLite): rooms, their history, private lines kept for later,
 * the operator's decisions. */
#ifndef QUN_STORE_H
#define QUN_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Issue 21 (docs/HISTORY.md).  One SQLite file in WAL mode, used from the
 * loop's thread only: what one pass of the loop decides is written in one
 * transaction (store_begin ... store_commit), and the pass sends nothing
 * before that commit returned, so that a line anyone saw is in the file
 * (after kill -9: in the WAL, which SQLite replays; after a power loss:
 * what the sync setting promises).  Every call returns 0, or -1 with
 * store_error() saying why in English; a failed write changes nothing
 * (the transaction is rolled back) and the caller carries on live.
 *
 * Times are wall-clock ms since the epoch (history is read across
 * restarts, and by people).  Texts are stored as the server relayed them
 * (they passed the text rules) and given back as stored.
 */

/* The file's identity (PRAGMA application_id, "qun1") and schema (PRAGMA user_version). */
#define STORE_APP_ID       0x71756e31
#define STORE_SCHEMA       1
#define STORE_MAX_GET      200 /* lines one history or search request returns at most */
#define STORE_SEARCH_WORDS 8   /* words one search takes at most */

enum store_sync {
	STORE_SYNC_OFF,    /* no fsync: an OS crash or power loss can lose or corrupt */
	STORE_SYNC_NORMAL, /* WAL's default: a power loss can lose the last commits, never corrupt
	                    */
	STORE_SYNC_FULL,   /* every commit reaches the disk before it returns (an fsync each) */
};

struct store;

/*
 * Open (or make) the store at path.  A file that is not SQLite, is
 * another program's SQLite file (no, or another, application_id in a
 * non-empty file), fails PRAGMA quick_check, or has a newer schema than
 * this qund knows is refused, and left exactly as it was; an older schema
 * is migrated.  Returns NULL with the reason in err, and *refused (if not
 * NULL) 1 for such a file, 0 for one that could not be opened or written
 * (permissions, a read-only file system, a full disk).
 */
struct store *store_open(const char *path, enum store_sync sync, char *err, size_t errlen,
                         int *refused);
void store_close(struct store *st);

/* The last error, in English; "" if none. */
const char *store_error(const struct store *st);

/* Parse "off", "normal" or "full"; -1 for anything else. */
int store_sync_parse(const char *s, enum store_sync *out);

/* One pass's transaction.  store_begin when one is open does nothing; commit with none, too. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * A room by its normalised key ("#dev"): its id and its last event id, so
 * that ids are never given twice, even across restarts, and a room's
 * order continues where it stopped.  store_room makes it if it is not
 * there (with name as typed; the default room too).
 */
struct store_room {
	uint32_t id;
	uint64_t last_event;
	int permanent;
	char name[64];
};
int store_room(struct store *st, const char *key, const char *name, struct store_room *out);
/*
 * The default room is id 1 whatever its name (--lobby may change between
 * runs): give row 1 this key and name, made if absent.  A room that had
 * the key before keeps its id and history under a key nobody can type.
 */
int store_lobby(struct store *st, const char *key, const char *name, struct store_room *out);
int store_room_permanent(struct store *st, uint32_t id, int permanent);
/* Every room the operator made permanent, for the start: fn(ctx, room) for each. */
typedef void (*store_room_fn)(void *ctx, const struct store_room *r);
int store_rooms_permanent(struct store *st, store_room_fn fn, void *ctx);

/* One line of history: a room event or a private line. */
struct store_line {
	uint32_t room;  /* 0 for a private line */
	uint64_t event; /* the room's event id, or the private line's number */
	uint64_t at;    /* wall-clock ms */
	int kind;       /* enum room_event */
	const char *name, *text;
	size_t text_len;
	const char *to; /* private: the addressee's name; else NULL */
};

/* Keep a room event (the room's event id must be new in that room). */
int store_line(struct store *st, uint32_t room, uint64_t event, uint64_t at, int kind,
               const char *name, const char *text, size_t len);

enum store_dir { STORE_BEFORE, STORE_AFTER, STORE_LATEST };

/*
 * A room's lines around event ref (IRCv3 chathistory): BEFORE (ids < ref,
 * the nearest first counted back, given oldest first), AFTER (ids > ref,
 * oldest first), LATEST (the last ones, oldest first; ref ignored); at
 * most limit (capped at STORE_MAX_GET).  fn is called per line; the line
 * is valid during the call only.  Returns how many, or -1.
 */
typedef void (*store_line_fn)(void *ctx, const struct store_line *l);
int store_history(struct store *st, uint32_t room, enum store_dir dir, uint64_t ref, unsigned limit,
                  store_line_fn fn, void *ctx);

/*
 * Lines of the given rooms (at most 64) whose text contains every word of
 * words (at most 8, split on blanks): FTS5's trigram index for words of
 * three characters or more (Chinese needs no dictionary), LIKE for
 * shorter ones (ASCII letters without regard to case).  Newest first, at
 * most limit.  Returns how many, or -1.
 */
int store_search(struct store *st, const uint32_t *rooms, size_t nrooms, const char *words,
                 unsigned limit, store_line_fn fn, void *ctx);

/*
 * Private lines for someone who is away: kept (number: the server's
 * private counter, from and to as typed, to_key normalised), then given
 * to fn oldest first when to_key logs in, and marked delivered.
 */
int store_private(struct store *st, uint64_t number, uint64_t at, const char *from, const char *to,
                  const char *to_key, const char *text, size_t len);
int store_private_take(struct store *st, const char *to_key, store_line_fn fn, void *ctx);
/* The highest private number kept, so that numbers go on from it after a restart. */
int store_private_last(struct store *st, uint64_t *out);

/*
 * The operator's decisions (sanction.h's kinds): a target and when it
 * lapses (wall-clock ms, 0: until lifted).  store_sanctions gives every
 * one still in force at now.
 */
typedef void (*store_sanction_fn)(void *ctx, int kind, const char *target, uint64_t until);
int store_sanction_put(struct store *st, int kind, const char *target, uint64_t until);
int store_sanction_remove(struct store *st, int kind, const char *target);
int store_sanctions(struct store *st, uint64_t now, store_sanction_fn fn, void *ctx);
/* Forget every sanction (before the current set is written again). */
int store_sanctions_clear(struct store *st);

/*
 * Retention, in small batches so that no pass stalls: delete at most
 * batch lines older than before (wall ms; 0: no age limit) or beyond the
 * newest keep of their room (0: no count limit).  Returns how many went.
 */
int store_trim(struct store *st, uint64_t before, uint64_t keep, unsigned batch);

/*
 * The operator's purge: every line of room (key NULL), or every line said
 * by, and every private line from or to, the member whose normalised name
 * is key.  Returns how many went, or -1.
 */
int store_purge(struct store *st, uint32_t room, const char *key);

/* PRAGMA integrity_check: 0 if "ok". */
int store_check(struct store *st);

#endif
