/* p2_peek.h - test-only window onto protocol v2's private state (see p2_peek.c). */
#ifndef QUN_P2_PEEK_H
#define QUN_P2_PEEK_H

#include <stdint.h>

#include "proto/wire2.h"
#include "qund/server.h"
#include "fuzzlib.h"

/* The cookie the server would give addr for nonce (a valid LOGIN can be built without HELLO). */
void p2_peek_cookie(const struct server *s, const struct peer_addr *addr, uint64_t nonce,
                    uint8_t out[V2_COOKIE_LEN]);
/* Would the server accept this cookie now? */
int p2_peek_cookie_ok(const struct server *s, const struct peer_addr *addr, uint64_t nonce,
                      const uint8_t cookie[V2_COOKIE_LEN]);
/* The session id of a v2 member (0 for a v1 member). */
uint64_t p2_peek_sid(const struct member *m);
/*
 * Check protocol v2's invariants, failing through fz_fail: every session
 * findable by id and tied to a live v2 member and back, lists consistent,
 * queues bounded; flushed: nothing dirty or doomed is left, and nothing
 * waits in a queue while its window has room.
 */
void p2_peek_check(const struct server *s, int flushed);
/*
 * Right after p2_tick: the dirty and busy lists' arrays were given back
 * down to 64 entries or a quarter full (a broadcast fills them with the
 * whole room; an idle room must not keep that).
 */
void p2_peek_check_lists_shrunk(const struct server *s);

#endif
