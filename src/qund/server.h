/* server.h - qund's state and core: delivery of the room's outcomes, sending, the protocols' table.
 */
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
#include "trace.h"

struct channels;
struct control;
struct store;
struct mmsghdr;
struct proto2;
struct sanctions;
struct server;

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
	uint64_t udp_wakeups, rx_pauses; /* receive moderation, see loop.c */
	uint64_t rx_pauses_cut;          /* pauses a chat socket's datagram ended early */
	uint64_t acks_apart;             /* datagrams read from the ACK socket (steer.h) */
};

/*
 * A member protocol as the core sees it.  The core (server.c) and the loop
 * call down into a protocol only through this table, and a protocol calls
 * down into the core (server_deliver, server_send...): no cycle.  Indexed
 * by a member's proto (1: v1, proto1.c; 2: v2, proto2.c); NULL where a
 * protocol is off (v1 without --legacy).
 */
struct proto_ops {
	/* One datagram the loop gave this protocol (v2: first byte V2_MAGIC; v1: the rest). */
	void (*handle)(struct server *s, const struct peer_addr *from, const uint8_t *buf,
	               size_t len);
	/* The reply an outcome has for a member of this protocol (req_len: server_deliver's). */
	void (*reply)(struct server *s, const struct outcome *o, size_t req_len);
	/* An outcome's event, to each member of this protocol but o->exclude. */
	void (*broadcast)(struct server *s, const struct outcome *o);
	/* Send what the work since the last call queued (server_before_sleep); NULL: nothing. */
	void (*flush)(struct server *s);
	/*
	 * Timers (retransmissions, secret rotation), in slices: start is 1
	 * every tick and 0 to go on; returns 1 while work is left, which the
	 * loop does between reads.  NULL: none.
	 */
	int (*tick)(struct server *s, int start);
	/* Shutdown: tell every member of this protocol and end its session. */
	void (*goodbye)(struct server *s);
};
#define SERVER_PROTOS 3 /* proto[0] is unused */

/*
 * The server's clock and its way out: the real ones (qund.c: the monotonic
 * clock, sendmmsg on the UDP socket), or a test's or a fuzzer's.  send
 * takes count datagrams, each a msghdr with one iovec and its address, and
 * returns how many went from the first on (as sendmmsg(2)), or -1 with
 * errno when the first could not.
 */
struct server_io {
	void *ctx;
	uint64_t (*now_ms)(void *ctx);
	int (*send)(void *ctx, struct mmsghdr *msgs, unsigned count);
};

/*
 * What the core asks of the store, through a table as it asks the
 * protocols (history.c fills it): keep an event as it is decided, and
 * commit what is kept before any datagram leaves.
 */
struct server_keep {
	void (*event)(struct server *s, const struct outcome *o, uint32_t room, uint64_t event);
	void (*commit)(struct server *s);
};

/* Everything the server knows, owned by main() and passed down by pointer. */
struct server {
	const struct server_io *io;
	const struct proto_ops *proto[SERVER_PROTOS];
	int udp;      /* the socket we send from and read chat on (steer.h: STEER_REST) */
	int udp_acks; /* where the kernel puts v2 ACKs (STEER_ACKS) */
	int steered;  /* the kernel sorts them (steer.h); 0: it spreads datagrams by address */
	int sigfd, tickfd, epfd;
	int console;       /* our end of the console socketpair, -1 once closed */
	pid_t console_pid; /* 0 once reaped */
	struct room *room;
	struct proto2 *p2;
	/*
	 * The rooms (channel.h), the default room being everyone on the
	 * server; NULL: a server without rooms (a test's), which never
	 * offers them.  rooms.c carries them out.
	 */
	struct channels *channels;
	uint64_t private_seq; /* private messages so far: each one's number (rooms.c) */
	unsigned rooms_burst; /* joins and parts a session may make at once (0: 20; rooms.c) */
	/* The store (history.h); NULL: qund forgets everything when it stops. */
	struct store *store;
	const struct server_keep *keep; /* history.c's, with a store; NULL: nothing kept */
	int store_failing;              /* the last write failed: try again at store_retry */
	uint64_t store_retry;           /* now_ms() */
	struct ratelimit store_rl;      /* the failure's log line, once a minute */
	unsigned history_days;          /* retention: lines older go (0: kept however old) */
	uint64_t history_max;           /* ... and beyond a room's newest this many (0: no cap) */
	uint64_t trim_at;               /* now_ms() of the next retention batch */
	enum lang lang;
	int legacy; /* accept protocol v1 too */
	int stopping;
	uint64_t event_id;       /* the default room's events so far: their order is its order */
	unsigned keepalive_hint; /* seconds between client PINGs, told in WELCOME */
	struct server_stats st;
	/* The operator's side: bans and mutes, the control socket (NULL if none). */
	struct sanctions *sanctions;
	struct control *ctl;
	uint64_t started; /* now_ms() at start, for uptime */
	/* Receive moderation (loop.c): the pause, and the datagrams read this tick. */
	unsigned coalesce_us, tick_input;
	unsigned wake_events; /* room events decided during this wake-up (loop.c: moderate) */
	int moderating;
	int tick_left; /* the protocols' timers have work left: loop.c does it between reads */
	struct ratelimit refusal_rl[QERR_COUNT], drop_rl[DROP_COUNT]; /* refusal logs */
	struct trace trace; /* stage times of chat messages: only a TRACE=1 build fills it */
};

/* The server's clock, in ms (io->now_ms). */
uint64_t server_now(const struct server *s);

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
 * server_flush sends the queue with as few io->send calls as the kernel
 * allows.  A datagram that fails (a full buffer, an unreachable peer) is
 * counted in send_errors and skipped: the rest still go.  Never blocks
 * beyond what the socket does.
 */
void server_queue(struct server *s, const struct peer_addr *to, const void *buf, size_t len);
void server_flush(struct server *s);

/*
 * Carry out an outcome of the room: the reply in the protocol of whoever
 * gets it, then the event to every other member in each one's protocol.
 * req_len is the size of the request that caused it (v1 answers a
 * stranger with at most 3x that: proto1.c, reply_budget); 0 for none.
 */
void server_deliver(struct server *s, const struct outcome *o, size_t req_len);

/*
 * Once per turn of the loop, before it sleeps (Redis's beforesleep): each
 * protocol sends what the turn queued, then the send queue goes.  Handlers
 * queue; only this (and the receive loop, once per batch, so that output
 * keeps going while input never stops) flushes.
 */
void server_before_sleep(struct server *s);

/*
 * Each protocol's timers: server_tick every tick, then server_tick_more
 * until it returns 0 (each call does a slice; the loop reads in between).
 * Both return 1 while work is left.
 */
int server_tick(struct server *s);
int server_tick_more(struct server *s);

/* Shutdown: each protocol tells its members, then the queue goes. */
void server_goodbye(struct server *s);

/* The name of a server drop reason, for stats and logs ("v1_disabled"); NULL if unknown. */
const char *server_sdrop_name(enum srv_drop reason);

#endif
