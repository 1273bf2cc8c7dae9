/* store.c - qund's embedded store on SQLite: schema, migrations, history, private lines, bans. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/text.h"

/*
 * The schema, version 1.  lines: one row per room event, its place in the
 * room (room, event) unique; lines_fts indexes their text (external
 * content: the text is stored once), kept by triggers, which is why the
 * schema must stay trusted (SQLite's default): the file is ours, checked
 * by its application_id and quick_check before anything runs.  privates: lines for someone away.
 * rooms.id is AUTOINCREMENT so that an id, once given, is never given
 * again, even after the room's row is gone.
 */
static const char schema_v1[] =
    "CREATE TABLE rooms(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, permanent INTEGER NOT NULL DEFAULT 0,"
    " last_event INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE lines(id INTEGER PRIMARY KEY, room INTEGER NOT NULL, event INTEGER NOT NULL,"
    " at INTEGER NOT NULL, kind INTEGER NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL,"
    " name_key TEXT NOT NULL DEFAULT '', UNIQUE(room, event));"
    "CREATE INDEX lines_at ON lines(at);"
    "CREATE INDEX lines_who ON lines(name_key);"
    "CREATE VIRTUAL TABLE lines_fts USING fts5(text, content='lines', content_rowid='id',"
    " tokenize='trigram');"
    "CREATE TRIGGER lines_ai AFTER INSERT ON lines BEGIN"
    " INSERT INTO lines_fts(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE TRIGGER lines_ad AFTER DELETE ON lines BEGIN"
    " INSERT INTO lines_fts(lines_fts, rowid, text) VALUES ('delete', old.id, old.text); END;"
    "CREATE TABLE privates(number INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    " sender TEXT NOT NULL, sender_key TEXT NOT NULL DEFAULT '', recipient TEXT NOT NULL,"
    " recipient_key TEXT NOT NULL,"
    " text TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX privates_to ON privates(recipient_key, delivered);"
    "CREATE TABLE sanctions(kind INTEGER NOT NULL, target TEXT NOT NULL,"
    " until INTEGER NOT NULL, PRIMARY KEY(kind, target));";

enum stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_ROOM_GET,
	S_ROOM_ADD,
	S_ROOM_PIN,
	S_ROOM_EVENT,
	S_ROOMS_PINNED,
	S_LINE_ADD,
	S_BEFORE,
	S_AFTER,
	S_LATEST,
	S_PRIV_ADD,
	S_PRIV_GET,
	S_PRIV_DONE,
	S_PRIV_LAST,
	S_BAN_PUT,
	S_BAN_DEL,
	S_BANS,
	S_TRIM_AGE,
	S_TRIM_COUNT,
	S_LOBBY_MOVE,
	S_LOBBY_SET,
	S_BANS_CLEAR,
	S_PURGE_ROOM,
	S_PURGE_NAME,
	S_PURGE_PRIV,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ROOM_GET] = "SELECT id, last_event, permanent, name FROM rooms WHERE key = ?1",
    [S_ROOM_ADD] = "INSERT INTO rooms(key, name) VALUES (?1, ?2)",
    [S_ROOM_PIN] = "UPDATE rooms SET permanent = ?2 WHERE id = ?1",
    [S_ROOM_EVENT] = "UPDATE rooms SET last_event = ?2 WHERE id = ?1 AND last_event < ?2",
    [S_ROOMS_PINNED] = "SELECT id, last_event, permanent, name FROM rooms WHERE permanent = 1"
                       " ORDER BY id",
    [S_LINE_ADD] = "INSERT INTO lines(room, event, at, kind, name, text, name_key)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_BEFORE] = "SELECT * FROM (SELECT room, event, at, kind, name, text FROM lines"
                 " WHERE room = ?1 AND event < ?2 ORDER BY event DESC LIMIT ?3)"
                 " ORDER BY event",
    [S_AFTER] = "SELECT room, event, at, kind, name, text FROM lines"
                " WHERE room = ?1 AND event > ?2 ORDER BY event LIMIT ?3",
    [S_LATEST] = "SELECT * FROM (SELECT room, event, at, kind, name, text FROM lines"
                 " WHERE room = ?1 ORDER BY event DESC LIMIT ?3) ORDER BY event",
    [S_PRIV_ADD] = "INSERT INTO privates(number, at, sender, recipient, recipient_key, text,"
                   " sender_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_PRIV_GET] = "SELECT number, at, sender, recipient, text FROM privates"
                   " WHERE recipient_key = ?1 AND delivered = 0 ORDER BY number",
    [S_PRIV_DONE] = "UPDATE privates SET delivered = 1 WHERE recipient_key = ?1 AND delivered = 0",
    [S_PRIV_LAST] = "SELECT coalesce(max(number), 0) FROM privates",
    [S_BAN_PUT] = "INSERT OR REPLACE INTO sanctions(kind, target, until) VALUES (?1, ?2, ?3)",
    [S_BAN_DEL] = "DELETE FROM sanctions WHERE kind = ?1 AND target = ?2",
    [S_BANS] = "SELECT kind, target, until FROM sanctions WHERE until = 0 OR until > ?1",
    [S_TRIM_AGE] = "DELETE FROM lines WHERE id IN (SELECT id FROM lines WHERE at < ?1"
                   " ORDER BY at LIMIT ?2)",
    [S_TRIM_COUNT] = "DELETE FROM lines WHERE id IN (SELECT l.id FROM rooms r JOIN lines l"
                     " ON l.room = r.id AND l.event <= r.last_event - ?1 LIMIT ?2)",
    [S_LOBBY_MOVE] = "UPDATE rooms SET key = key || '#' || id WHERE key = ?1 AND id != 1",
    [S_LOBBY_SET] = "INSERT INTO rooms(id, key, name) VALUES (1, ?1, ?2)"
                    " ON CONFLICT(id) DO UPDATE SET key = excluded.key, name = excluded.name",
    [S_BANS_CLEAR] = "DELETE FROM sanctions",
    [S_PURGE_ROOM] = "DELETE FROM lines WHERE room = ?1",
    [S_PURGE_NAME] = "DELETE FROM lines WHERE name_key = ?1",
    [S_PURGE_PRIV] = "DELETE FROM privates WHERE recipient_key = ?1 OR sender_key = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int in_tx;
	/*
	 * The rooms whose last event id a transaction moved, written once at
	 * its commit rather than once per line (one statement of a line's
	 * three: docs/PERFORMANCE.md, "The store").
	 */
	struct {
		uint32_t room;
		uint64_t event;
	} moved[16];
	unsigned nmoved;
	char err[256];
};

static int fail(struct store *st, const char *what)
{
	snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

const char *store_error(const struct store *st)
{
	return st->err;
}

int store_sync_parse(const char *s, enum store_sync *out)
{
	static const char *const names[] = {"off", "normal", "full"};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum store_sync)i;
			return 0;
		}
	return -1;
}

/* One integer from a query with no parameters (a PRAGMA); -1 on failure. */
static int pragma_int(sqlite3 *db, const char *sql, long long *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* PRAGMA quick_check (or integrity_check) says "ok". */
static int check_ok(sqlite3 *db, const char *pragma)
{
	sqlite3_stmt *s;
	int ok = 0;

	if (sqlite3_prepare_v2(db, pragma, -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);

		ok = t != NULL && strcmp((const char *)t, "ok") == 0 &&
		     sqlite3_step(s) == SQLITE_DONE;
	}
	sqlite3_finalize(s);
	return ok;
}

/*
 * Whether the file at path is refused before SQLite touches it: an empty
 * or absent file is a new store; anything else must start with SQLite's
 * header, so that a foreign file is never turned into a database (SQLite
 * would refuse it too, but a WAL file could be made beside it first).
 */
static int foreign_file(const char *path, char *err, size_t errlen)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ELOOP ? 1 : -1; /* a symbolic link is refused, EACCES unavailable */
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return 1;
	}
	n = read(fd, head, sizeof head);
	close(fd);
	if (sb.st_size == 0)
		return 0;
	if (n != (ssize_t)sizeof head || memcmp(head, magic, sizeof magic) != 0) {
		snprintf(err, errlen, "%s: not an SQLite file; refusing to touch it", path);
		return 1;
	}
	return 0;
}

/*
 * Look at an existing file before anything writes to it (even setting WAL
 * mode rewrites the header): 1 for a new store (no tables), 0 for ours at
 * our schema, -2 (err says why) for a file to refuse, -1 if it cannot be
 * read at all.
 */
static int check_file(struct store *st, char *err, size_t errlen)
{
	long long app = 0, version = 0, tables = 0;

	if (pragma_int(st->db, "PRAGMA application_id", &app) < 0 ||
	    pragma_int(st->db, "PRAGMA user_version", &version) < 0 ||
	    pragma_int(st->db, "SELECT count(*) FROM sqlite_schema", &tables) < 0) {
		snprintf(err, errlen, "cannot read the store: %s", sqlite3_errmsg(st->db));
		/* Damaged beyond reading its header's fields: refused, like quick_check's. */
		return sqlite3_errcode(st->db) == SQLITE_CORRUPT ||
		               sqlite3_errcode(st->db) == SQLITE_NOTADB
		           ? -2
		           : -1;
	}
	if (tables == 0)
		return 1;
	if (app != STORE_APP_ID) {
		snprintf(err, errlen,
		         "an SQLite file of another program (application_id %lld); refusing to "
		         "touch it",
		         app);
		return -2;
	}
	if (version > STORE_SCHEMA) {
		snprintf(err, errlen, "schema %lld is newer than this qund's %d", version,
		         STORE_SCHEMA);
		return -2;
	}
	if (!check_ok(st->db, "PRAGMA quick_check")) {
		snprintf(err, errlen, "the file is damaged (PRAGMA quick_check)");
		return -2;
	}
	/* Older schemas, once there are any, are migrated here, one version at a time. */
	return 0;
}

/* The tables of a new store, and its identity. */
static int make_schema(struct store *st, char *err, size_t errlen)
{
	char ids[96];

	snprintf(ids, sizeof ids, "PRAGMA application_id = %d; PRAGMA user_version = %d",
	         STORE_APP_ID, STORE_SCHEMA);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, schema_v1, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, ids, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot make the store's tables: %s", sqlite3_errmsg(st->db));
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static int prepare_all(struct store *st, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &st->stmt[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare a query: %s", sqlite3_errmsg(st->db));
			return -1;
		}
	return 0;
}

struct store *store_open(const char *path, enum store_sync sync, char *err, size_t errlen,
                         int *refused)
{
	static const char *const sync_sql[] = {
	    "PRAGMA synchronous = OFF", "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"};
	struct store *st;
	int fresh, foreign = foreign_file(path, err, errlen);

	if (refused != NULL)
		*refused = foreign > 0;
	if (foreign != 0)
		return NULL;
	st = xcalloc(1, sizeof *st);
	if (sqlite3_open_v2(path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		         st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		store_close(st);
		return NULL;
	}
	sqlite3_busy_timeout(st->db, 0); /* one writer, the loop: never wait for a lock */
	sqlite3_extended_result_codes(st->db, 1);
	fresh = check_file(st, err, errlen);
	if (fresh < 0) {
		if (refused != NULL)
			*refused = fresh == -2;
		store_close(st);
		return NULL;
	}
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, sync_sql[sync], NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		store_close(st);
		return NULL;
	}
	if ((fresh && make_schema(st, err, errlen) < 0) || prepare_all(st, err, errlen) < 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	int i;

	if (st == NULL)
		return;
	if (st->in_tx)
		store_rollback(st);
	for (i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st);
}

/* Run a statement that returns no rows; its bindings are cleared after. */
static int run(struct store *st, enum stmt k, const char *what)
{
	sqlite3_stmt *s = st->stmt[k];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(st, what);
}

int store_begin(struct store *st)
{
	if (st->in_tx)
		return 0;
	if (run(st, S_BEGIN, "begin") < 0)
		return -1;
	st->in_tx = 1;
	return 0;
}

/* Write a room's last event id now. */
static int room_event_now(struct store *st, uint32_t room, uint64_t event)
{
	sqlite3_bind_int64(st->stmt[S_ROOM_EVENT], 1, room);
	sqlite3_bind_int64(st->stmt[S_ROOM_EVENT], 2, (sqlite3_int64)event);
	return run(st, S_ROOM_EVENT, "room's last event");
}

/* The transaction's moved rooms, written; -1 if one could not be. */
static int flush_moved(struct store *st)
{
	unsigned i;
	int rc = 0;

	for (i = 0; i < st->nmoved && rc == 0; i++)
		rc = room_event_now(st, st->moved[i].room, st->moved[i].event);
	st->nmoved = 0;
	return rc;
}

/* Note that room's last event is now event: at the commit, or now outside a transaction. */
static int room_event(struct store *st, uint32_t room, uint64_t event)
{
	unsigned i;

	if (!st->in_tx)
		return room_event_now(st, room, event);
	for (i = 0; i < st->nmoved; i++)
		if (st->moved[i].room == room) {
			if (event > st->moved[i].event)
				st->moved[i].event = event;
			return 0;
		}
	if (st->nmoved == sizeof st->moved / sizeof st->moved[0])
		return room_event_now(st, room, event); /* many rooms in one pass: no saving */
	st->moved[st->nmoved].room = room;
	st->moved[st->nmoved].event = event;
	st->nmoved++;
	return 0;
}

int store_commit(struct store *st)
{
	if (!st->in_tx)
		return 0;
	if (flush_moved(st) < 0 || run(st, S_COMMIT, "commit") < 0) {
		store_rollback(st);
		return -1;
	}
	st->in_tx = 0;
	return 0;
}

void store_rollback(struct store *st)
{
	st->nmoved = 0;
	if (sqlite3_get_autocommit(st->db) == 0)
		(void)run(st, S_ROLLBACK, "rollback");
	st->in_tx = 0;
}

/* A name's normalised key (text.h), what purge finds it by; "" for none or a bad one. */
static void name_key(const char *name, char *key, size_t size)
{
	if (name[0] == '\0' || name_normalize(name, strlen(name), key, size) < 0)
		key[0] = '\0';
}

static void bind_text(sqlite3_stmt *s, int i, const char *t, size_t n)
{
	sqlite3_bind_text(s, i, t, (int)n, SQLITE_TRANSIENT);
}

/* Fill r from a row of id, last_event, permanent, name. */
static void room_row(sqlite3_stmt *s, struct store_room *r)
{
	const unsigned char *name = sqlite3_column_text(s, 3);

	r->id = (uint32_t)sqlite3_column_int64(s, 0);
	r->last_event = (uint64_t)sqlite3_column_int64(s, 1);
	r->permanent = sqlite3_column_int(s, 2);
	snprintf(r->name, sizeof r->name, "%s", name != NULL ? (const char *)name : "");
}

static int room_get(struct store *st, const char *key, struct store_room *out)
{
	sqlite3_stmt *s = st->stmt[S_ROOM_GET];
	int rc;

	bind_text(s, 1, key, strlen(key));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		room_row(s, out);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : fail(st, "room");
}

int store_room(struct store *st, const char *key, const char *name, struct store_room *out)
{
	int got = room_get(st, key, out);

	if (got != 0)
		return got < 0 ? -1 : 0;
	bind_text(st->stmt[S_ROOM_ADD], 1, key, strlen(key));
	bind_text(st->stmt[S_ROOM_ADD], 2, name, strlen(name));
	if (run(st, S_ROOM_ADD, "new room") < 0)
		return -1;
	return room_get(st, key, out) == 1 ? 0 : fail(st, "new room");
}

int store_lobby(struct store *st, const char *key, const char *name, struct store_room *out)
{
	bind_text(st->stmt[S_LOBBY_MOVE], 1, key, strlen(key));
	if (run(st, S_LOBBY_MOVE, "default room") < 0)
		return -1;
	bind_text(st->stmt[S_LOBBY_SET], 1, key, strlen(key));
	bind_text(st->stmt[S_LOBBY_SET], 2, name, strlen(name));
	if (run(st, S_LOBBY_SET, "default room") < 0)
		return -1;
	return room_get(st, key, out) == 1 && out->id == 1 ? 0 : fail(st, "default room");
}

int store_room_permanent(struct store *st, uint32_t id, int permanent)
{
	sqlite3_bind_int64(st->stmt[S_ROOM_PIN], 1, id);
	sqlite3_bind_int(st->stmt[S_ROOM_PIN], 2, permanent != 0);
	return run(st, S_ROOM_PIN, "permanent room");
}

int store_rooms_permanent(struct store *st, store_room_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_ROOMS_PINNED];
	struct store_room r;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		room_row(s, &r);
		fn(ctx, &r);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : fail(st, "permanent rooms");
}

int store_line(struct store *st, uint32_t room, uint64_t event, uint64_t at, int kind,
               const char *name, const char *text, size_t len)
{
	sqlite3_stmt *s = st->stmt[S_LINE_ADD];
	char key[64];

	sqlite3_bind_int64(s, 1, room);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)event);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)at);
	sqlite3_bind_int(s, 4, kind);
	bind_text(s, 5, name, strlen(name));
	bind_text(s, 6, text != NULL ? text : "", text != NULL ? len : 0);
	name_key(name, key, sizeof key);
	bind_text(s, 7, key, strlen(key));
	if (run(st, S_LINE_ADD, "history") < 0)
		return -1;
	return room_event(st, room, event);
}

/* Hand each row (room, event, at, kind, name, text) of s to fn; returns how many, or -1. */
static int each_line(struct store *st, sqlite3_stmt *s, store_line_fn fn, void *ctx)
{
	struct store_line l;
	int rc, n = 0;

	memset(&l, 0, sizeof l);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		l.room = (uint32_t)sqlite3_column_int64(s, 0);
		l.event = (uint64_t)sqlite3_column_int64(s, 1);
		l.at = (uint64_t)sqlite3_column_int64(s, 2);
		l.kind = sqlite3_column_int(s, 3);
		l.name = (const char *)sqlite3_column_text(s, 4);
		l.text = (const char *)sqlite3_column_text(s, 5);
		l.text_len = (size_t)sqlite3_column_bytes(s, 5);
		if (l.name == NULL)
			l.name = "";
		if (l.text == NULL)
			l.text = "";
		fn(ctx, &l);
		n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? n : fail(st, "reading history");
}

int store_history(struct store *st, uint32_t room, enum store_dir dir, uint64_t ref, unsigned limit,
                  store_line_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[dir == STORE_BEFORE  ? S_BEFORE
	                           : dir == STORE_AFTER ? S_AFTER
	                                                : S_LATEST];

	if (limit > STORE_MAX_GET)
		limit = STORE_MAX_GET;
	sqlite3_bind_int64(s, 1, room);
	if (dir != STORE_LATEST)
		sqlite3_bind_int64(s, 2, ref > INT64_MAX ? INT64_MAX : (sqlite3_int64)ref);
	sqlite3_bind_int(s, 3, (int)limit);
	return each_line(st, s, fn, ctx);
}

struct words {
	char fts[1024];                         /* the long words as an FTS5 query ("" if none) */
	char like[STORE_SEARCH_WORDS][128 + 8]; /* the short ones as LIKE patterns */
	int nlike, nwords;
};

/* Characters (not bytes) of UTF-8 s[0..n). */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/* A word of three characters or more as a quoted FTS5 phrase, its quotes doubled. */
static int add_phrase(struct words *w, const char *s, size_t n)
{
	size_t o = strlen(w->fts), i;

	if (o + 2 * n + 4 >= sizeof w->fts)
		return -1;
	if (o > 0)
		w->fts[o++] = ' ';
	w->fts[o++] = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			w->fts[o++] = '"';
		w->fts[o++] = s[i];
	}
	w->fts[o++] = '"';
	w->fts[o] = '\0';
	return 0;
}

/*
 * A shorter word as a LIKE pattern, %, _ and the escape escaped: the
 * trigram index cannot find fewer than three characters.
 */
static int add_like(struct words *w, const char *s, size_t n)
{
	size_t o = 0, i;
	char *p;

	if (w->nlike >= STORE_SEARCH_WORDS || 2 * n + 3 > sizeof w->like[0])
		return -1;
	p = w->like[w->nlike];
	p[o++] = '%';
	for (i = 0; i < n; i++) {
		if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
			p[o++] = '\\';
		p[o++] = s[i];
	}
	p[o++] = '%';
	p[o] = '\0';
	w->nlike++;
	return 0;
}

/* Split words on blanks into FTS phrases and LIKE patterns; -1 if none, or too many. */
static int split_words(const char *s, struct words *w)
{
	memset(w, 0, sizeof *w);
	while (*s != '\0') {
		size_t n = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		while (s[n] != '\0' && s[n] != ' ' && s[n] != '\t')
			n++;
		if (n == 0)
			break;
		if (++w->nwords > STORE_SEARCH_WORDS ||
		    (utf8_chars(s, n) >= 3 ? add_phrase(w, s, n) : add_like(w, s, n)) < 0)
			return -1;
		s += n;
	}
	return w->nwords > 0 ? 0 : -1;
}

int store_search(struct store *st, const uint32_t *rooms, size_t nrooms, const char *words,
                 unsigned limit, store_line_fn fn, void *ctx)
{
	struct words w;
	char sql[1024 + 24 * 64];
	size_t i, o;
	sqlite3_stmt *s;
	int n, k, p = 2;

	if (nrooms == 0 || nrooms > 64 || split_words(words, &w) < 0) {
		snprintf(st->err, sizeof st->err, "search: no words, too many, or too many rooms");
		return -1;
	}
	if (limit > STORE_MAX_GET)
		limit = STORE_MAX_GET;
	o = (size_t)snprintf(sql, sizeof sql,
	                     "SELECT l.room, l.event, l.at, l.kind, l.name, l.text FROM %s"
	                     " WHERE l.room IN (",
	                     w.fts[0] ? "lines_fts f JOIN lines l ON l.id = f.rowid" : "lines l");
	for (i = 0; i < nrooms; i++)
		o += (size_t)snprintf(sql + o, sizeof sql - o, "%s%lu", i ? "," : "",
		                      (unsigned long)rooms[i]);
	o += (size_t)snprintf(sql + o, sizeof sql - o, ")%s",
	                      w.fts[0] ? " AND lines_fts MATCH ?2" : "");
	for (k = 0; k < w.nlike; k++)
		o += (size_t)snprintf(sql + o, sizeof sql - o, " AND l.text LIKE ?%d ESCAPE '\\'",
		                      3 + k);
	snprintf(sql + o, sizeof sql - o, " ORDER BY l.at DESC, l.id DESC LIMIT ?1");
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(st, "search");
	sqlite3_bind_int(s, 1, (int)limit);
	if (w.fts[0])
		bind_text(s, p, w.fts, strlen(w.fts));
	for (k = 0; k < w.nlike; k++)
		bind_text(s, 3 + k, w.like[k], strlen(w.like[k]));
	n = each_line(st, s, fn, ctx);
	sqlite3_finalize(s);
	return n;
}

int store_private(struct store *st, uint64_t number, uint64_t at, const char *from, const char *to,
                  const char *to_key, const char *text, size_t len)
{
	sqlite3_stmt *s = st->stmt[S_PRIV_ADD];
	char key[64];

	sqlite3_bind_int64(s, 1, (sqlite3_int64)number);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)at);
	bind_text(s, 3, from, strlen(from));
	bind_text(s, 4, to, strlen(to));
	bind_text(s, 5, to_key, strlen(to_key));
	bind_text(s, 6, text, len);
	name_key(from, key, sizeof key);
	bind_text(s, 7, key, strlen(key));
	return run(st, S_PRIV_ADD, "private line");
}

int store_private_take(struct store *st, const char *to_key, store_line_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_PRIV_GET];
	struct store_line l;
	int rc, n = 0;

	memset(&l, 0, sizeof l);
	bind_text(s, 1, to_key, strlen(to_key));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		l.event = (uint64_t)sqlite3_column_int64(s, 0);
		l.at = (uint64_t)sqlite3_column_int64(s, 1);
		l.name = (const char *)sqlite3_column_text(s, 2);
		l.to = (const char *)sqlite3_column_text(s, 3);
		l.text = (const char *)sqlite3_column_text(s, 4);
		l.text_len = (size_t)sqlite3_column_bytes(s, 4);
		if (l.name == NULL || l.to == NULL || l.text == NULL)
			continue;
		fn(ctx, &l);
		n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return fail(st, "private lines");
	bind_text(st->stmt[S_PRIV_DONE], 1, to_key, strlen(to_key));
	return run(st, S_PRIV_DONE, "private lines delivered") < 0 ? -1 : n;
}

int store_private_last(struct store *st, uint64_t *out)
{
	sqlite3_stmt *s = st->stmt[S_PRIV_LAST];
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : fail(st, "private lines");
}

int store_sanction_put(struct store *st, int kind, const char *target, uint64_t until)
{
	sqlite3_stmt *s = st->stmt[S_BAN_PUT];

	sqlite3_bind_int(s, 1, kind);
	bind_text(s, 2, target, strlen(target));
	sqlite3_bind_int64(s, 3, (sqlite3_int64)until);
	return run(st, S_BAN_PUT, "sanction");
}

int store_sanction_remove(struct store *st, int kind, const char *target)
{
	sqlite3_stmt *s = st->stmt[S_BAN_DEL];

	sqlite3_bind_int(s, 1, kind);
	bind_text(s, 2, target, strlen(target));
	return run(st, S_BAN_DEL, "sanction");
}

int store_sanctions(struct store *st, uint64_t now, store_sanction_fn fn, void *ctx)
{
	sqlite3_stmt *s = st->stmt[S_BANS];
	int rc;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 1);

		if (t != NULL)
			fn(ctx, sqlite3_column_int(s, 0), (const char *)t,
			   (uint64_t)sqlite3_column_int64(s, 2));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : fail(st, "sanctions");
}

int store_sanctions_clear(struct store *st)
{
	return run(st, S_BANS_CLEAR, "sanctions");
}

int store_trim(struct store *st, uint64_t before, uint64_t keep, unsigned batch)
{
	int n = 0;

	if (before > 0) {
		sqlite3_bind_int64(st->stmt[S_TRIM_AGE], 1, (sqlite3_int64)before);
		sqlite3_bind_int(st->stmt[S_TRIM_AGE], 2, (int)batch);
		if (run(st, S_TRIM_AGE, "retention") < 0)
			return -1;
		n += sqlite3_changes(st->db);
	}
	if (keep > 0 && (unsigned)n < batch) {
		sqlite3_bind_int64(st->stmt[S_TRIM_COUNT], 1, (sqlite3_int64)keep);
		sqlite3_bind_int(st->stmt[S_TRIM_COUNT], 2, (int)(batch - (unsigned)n));
		if (run(st, S_TRIM_COUNT, "retention") < 0)
			return -1;
		n += sqlite3_changes(st->db);
	}
	return n;
}

int store_purge(struct store *st, uint32_t room, const char *key)
{
	int n;

	if (key == NULL) {
		sqlite3_bind_int64(st->stmt[S_PURGE_ROOM], 1, room);
		return run(st, S_PURGE_ROOM, "purge") < 0 ? -1 : sqlite3_changes(st->db);
	}
	bind_text(st->stmt[S_PURGE_NAME], 1, key, strlen(key));
	if (run(st, S_PURGE_NAME, "purge") < 0)
		return -1;
	n = sqlite3_changes(st->db);
	bind_text(st->stmt[S_PURGE_PRIV], 1, key, strlen(key));
	return run(st, S_PURGE_PRIV, "purge") < 0 ? -1 : n + sqlite3_changes(st->db);
}

int store_check(struct store *st)
{
	return check_ok(st->db, "PRAGMA integrity_check") ? 0 : -1;
}
