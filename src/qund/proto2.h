/* proto2.h - qund's protocol v2 layer (cookie login, sessions, reliable delivery), as the core
 * calls it. */
#ifndef QUN_PROTO2_H
#define QUN_PROTO2_H

#include <stddef.h>
#include <stdint.h>

#include "proto/rel.h"
#include "proto/wire2.h"
#include "room.h"
#include "server.h"

/*
 * Protocol v2 (docs/PROTOCOL-v2.md).  Its state is s->p2, made by p2_new
 * for a server whose io table and room are in place; it reads the clock
 * and sends only through the server (server_now, server_send,
 * server_queue), so a test or a fuzzer that gives the server a fake io
 * drives it whole.  proto2_ops is what the core and the loop call:
 * handle a datagram, a reply, a broadcast (queued per session), flush
 * (what a turn of the loop queued: DATA within each window, one ACK per
 * session that is owed one), tick (retransmissions, cookie rotation,
 * giving back idle sessions' memory), goodbye.
 */
struct proto2;
struct proto2 *p2_new(struct server *s);
void p2_free(struct proto2 *p);
extern const struct proto_ops proto2_ops;

/* For tests and fuzzers: a valid LOGIN without a HELLO, and a look inside. */

/* The cookie the server would give addr for nonce now. */
void p2_cookie(const struct proto2 *p, const struct peer_addr *addr, uint64_t nonce,
               uint8_t out[V2_COOKIE_LEN]);
/* 1 if the server would take this cookie from addr for nonce now. */
int p2_cookie_valid(const struct proto2 *p, const struct peer_addr *addr, uint64_t nonce,
                    const uint8_t cookie[V2_COOKIE_LEN]);
/* A v2 member's session id and reliability state (0 and NULL for a v1 member). */
uint64_t p2_session_id(const struct member *m);
const struct rel *p2_session_rel(const struct member *m);

struct p2_counts {
	size_t sessions, sid_buckets;
	size_t dirty, dirty_cap; /* the dirty list: sessions the next flush visits */
	size_t busy, busy_cap;   /* the busy list: sessions the tick visits */
	size_t doomed;           /* overflowed, evicted at the end of the broadcast */
	size_t retired_nonces;   /* nonceset.h */
};
void p2_counts(const struct proto2 *p, struct p2_counts *c);

/*
 * Check the layer's invariants: every v2 member has a session findable by
 * its id and back, the lists hold live, flagged sessions and nothing else,
 * queues are bounded; flushed (right after a flush): nothing is dirty or
 * doomed, and nothing waits in a queue while its window has room.
 * Returns 0, or -1 with what is broken in err.
 */
int p2_check(const struct proto2 *p, int flushed, char *err, size_t errlen);

#endif
