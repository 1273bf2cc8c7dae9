/* server.h - qund's state, shared by the loop (qund.c) and the two protocol layers (proto1.c,
 * proto2.c). */
#ifndef QUN_SERVER_H
#define QUN_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/i18n.h"
#include "common/log.h"
#include "room.h"

struct control;
struct proto2;
struct sanctions;

/* Why a datagram was dropped, beyond the room's own reasons (enum drop_reason). */
enum srv_drop {
	SDROP_V1_DISABLED,   /* v1 datagram without --legacy */
	SDROP_V2_MALFORMED,  /* v2 datagram that does not parse */
	SDROP_V2_BAD_COOKIE, /* LOGIN with a stale or forged cookie */
	SDROP_V2_UNKNOWN_SID,
	SDROP_V2_WRONG_ADDR, /* a session's id from another address */
	SDROP_RATE_LIMITED,  /* an answer to an unvalidated source was suppressed */
	SDROP_BANNED,        /* from a banned address or name (sanction.h) */
	SDROP_MUTED,         /* chat from a muted member */
	SDROP_V2_REPEAT,     /* a message a client re-sent after a reconnection (its id) */
	SDROP_V2_REPLAY,     /* a LOGIN with the nonce of a session that has ended */
	SDROP_COUNT
};

struct server_stats {
	uint64_t drops[DROP_COUNT];
	uint64_t sdrops[SDROP_COUNT];
	uint64_t datagrams_in, datagrams_out, send_errors, retransmits;
	uint64_t udp_wakeups, rx_pauses; /* receive moderation, see qund.c */
};

/* Everything the server knows, owned by main() and passed down by pointer. */
struct server {
	int udp, sigfd, tickfd, epfd;
	int console;       /* our end of the console socketpair, -1 once closed */
	pid_t console_pid; /* 0 once reaped */
	struct room *room;
	struct proto2 *p2;
	enum lang lang;
	int legacy; /* accept protocol v1 too */
	int stopping;
	uint64_t event_id;       /* room events so far: their order is the room's order */
	unsigned keepalive_hint; /* seconds between client PINGs, told in WELCOME */
	struct server_stats st;
	/* The operator's side: bans and mutes, the control socket (NULL if none). */
	struct sanctions *sanctions;
	struct control *ctl;
	uint64_t started; /* now_ms() at start, for uptime */
	/* Receive moderation (qund.c): the pause, and the datagrams read this tick. */
	unsigned coalesce_us, tick_input;
	int moderating;
	struct ratelimit refusal_rl[QERR_COUNT], drop_rl[DROP_COUNT]; /* refusal logs */
};

/*
 * Send one datagram now; a failure concerns one peer only and is counted,
 * never fatal.  Whatever server_queue() holds goes first, so datagrams
 * always leave in the order they were given.
 */
void server_send(struct server *s, const struct peer_addr *to, const void *buf, size_t len);

/*
 * Queue one datagram (buf and to are copied) and send the queue with one
 * sendmmsg() when it is full or at server_flush(): how v2 sends its DATA
 * and acks, one system call per SERVER_BATCH datagrams instead of one each.
 */
#define SERVER_BATCH 64

/*
 * Send count prepared datagrams with as few sendmmsg() calls as the kernel
 * allows.  A datagram that fails (a full buffer, an unreachable peer) is
 * counted in send_errors and skipped: the rest still go.  Never blocks
 * beyond what the socket does.
 */
struct mmsghdr;
void server_sendmmsg(struct server *s, struct mmsghdr *msgs, unsigned count);
void server_queue(struct server *s, const struct peer_addr *to, const void *buf, size_t len);
void server_flush(struct server *s);

/*
 * Carry out an outcome of the room: the reply in the protocol of whoever
 * gets it, then the event to every other member in each one's protocol.
 * req_len is the size of the request that caused it (v1 answers a
 * stranger with at most 3x that: proto1.c, reply_budget); 0 for none.
 */
void server_deliver(struct server *s, const struct outcome *o, size_t req_len);

/* proto1.c: protocol v1. */
void v1_handle(struct server *s, const struct peer_addr *from, const char *buf, size_t len);
void v1_reply(struct server *s, const struct outcome *o, size_t req_len);
void v1_broadcast(struct server *s, const struct outcome *o);
void v1_goodbye(struct server *s);

/* proto2.c: protocol v2. */
struct proto2 *p2_new(struct server *s, uint64_t now);
void p2_free(struct proto2 *p);
void p2_handle(struct server *s, const struct peer_addr *from, const uint8_t *buf, size_t len);
void p2_reply(struct server *s, const struct outcome *o);
void p2_broadcast(struct server *s, const struct outcome *o);
void p2_flush(struct server *s);   /* after a batch of datagrams: send what is due, and acks */
void p2_tick(struct server *s);    /* timers: retransmissions, secret rotation */
void p2_goodbye(struct server *s); /* shutdown: tell every v2 member and close */

#endif
