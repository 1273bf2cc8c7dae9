/* history.h - what qund keeps in its store (store.h): each room event before anyone sees it,
 * rooms' ids, the operator's decisions. */
#ifndef QUN_HISTORY_H
#define QUN_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct outcome;
struct server;

/*
 * docs/HISTORY.md.  Everything here does nothing on a server without a
 * store (s->store NULL: --store none, tests, fuzzers).
 *
 * The promise: no datagram leaves (server_flush, server_send) while an
 * event decided before it is not committed, so that after kill -9 every
 * line any member saw is in the store, once, in its room's order.  A
 * store that fails (a full disk, a read-only file) costs history, not the
 * room: the pass's writes are rolled back, the room goes on live, the
 * operator is told once a minute, and writing is tried again every few
 * seconds, so that it resumes by itself when the disk has room again.
 */

/*
 * Open the store at path and take from it what a restart must not lose:
 * the default room's event order, the permanent rooms, the bans and
 * mutes in force, the private counter.  Wires the rooms' ids to it.
 * Returns 0; -1 with err if the file is refused (store_open: not ours,
 * damaged, newer); 1 with err if it cannot be used (permissions, a
 * read-only file system), when the server runs without history, its
 * state "failing" until a restart.
 */
int history_open(struct server *s, const char *path, enum store_sync sync, char *err,
                 size_t errlen);
void history_close(struct server *s);

/* An event decided (server_deliver): kept in the pass's transaction, opened if need be. */
void history_event(struct server *s, const struct outcome *o, uint32_t room, uint64_t event);

/* Before any datagram leaves: commit what the pass decided. */
void history_commit(struct server *s);

/* The operator changed the bans or mutes: the store's set becomes the server's. */
void history_sanctions(struct server *s);

/* The operator made room id permanent (on 1) or let it go (0). */
void history_permanent(struct server *s, uint32_t id, int on);

/*
 * HISTORY from ss (docs/HISTORY.md): the room's lines as HLINE, then
 * HEND; one answer in flight per session, as WHO.  Checked by the caller:
 * the room is one ss may read (rooms_where).
 */
struct session;
struct v2_msg;
void history_answer(struct server *s, struct session *ss, const struct v2_msg *m);

/*
 * SEARCH from ss: lines of the rooms it is in (the default room and its
 * others, at most 64) with every word of m's text, newest first, as
 * HLINE, then HEND with room 0; paid for and checked as HISTORY.
 */
void history_search(struct server *s, struct session *ss, const struct v2_msg *m);

/*
 * A private line to name, who is not online: kept for them (0), or -1 if
 * the server keeps nothing (no store, or it fails).
 */
int history_keep_private(struct server *s, uint64_t number, const char *from, const char *to,
                         const char *text, size_t len);

/*
 * ss sent ROOMS with V2_ROOMS_HISTORY (its client knows STORED): the
 * private lines kept for its name, as PRIVATE marked STORED, each once.
 */
void history_deliver_private(struct server *s, struct session *ss);

/* Whether WELCOME offers V2_F_HISTORY: a store was asked for (even a failing one). */
int history_offered(const struct server *s);

/*
 * Retention (--history-days, --history-max): from the tick, a batch of
 * old lines at a time, once a minute, or every tick while batches come
 * back full, so that no pass of the loop stalls on a big delete.
 */
void history_tick(struct server *s, uint64_t now);

/* "ok", "failing" or "none", for qunctl stats. */
const char *history_state(const struct server *s);

/* Wall-clock ms now (history is read by people, across restarts). */
uint64_t history_wall_ms(void);

#endif
