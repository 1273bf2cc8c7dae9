/* rel.h - the reliability state machine of protocol v2: sequence, ack, retransmit, reorder. Pure,
 * clock passed in. */
#ifndef QUN_REL_H
#define QUN_REL_H

#include <stddef.h>
#include <stdint.h>

#define REL_WINDOW 64 /* receive reorder and duplicate window; slots per direction */
/*
 * DATA in flight per direction: ack + 1 (the gap) plus the 32 ack bits,
 * so that the receiver can always report every message we have in flight.
 */
#define REL_SEND_WINDOW 33
#define REL_QUEUE_MAX   1024 /* messages waiting behind the window */
#define REL_RTO_INIT    500  /* ms */
/*
 * A peer may hold its acknowledgement back for up to REL_MAX_ACK_DELAY ms
 * (PROTOCOL-v2.md, "Reliability"; QUIC's max_ack_delay, RFC 9000 13.2.1).
 * Our RTT samples include that delay, and the floor of the RTO keeps
 * 100 ms above it, so that a delayed ACK on a fast network never meets a
 * retransmission on its way.
 */
#define REL_MAX_ACK_DELAY 200
#define REL_RTO_MIN       (REL_MAX_ACK_DELAY + 100)
#define REL_RTO_MAX       4000

/*
 * A reference-counted message payload.  The server formats a room event
 * once and queues the same blob to every v2 recipient; each queue holds a
 * reference.  Allocation aborts on out-of-memory (see log.h).
 */
struct blob {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

struct blob *blob_new(const void *data, size_t len); /* refs = 1 */
void blob_ref(struct blob *b);
void blob_unref(struct blob *b); /* frees at 0; NULL is fine */

struct rel_slot {
	struct blob *b;      /* NULL once acknowledged */
	uint64_t first_sent; /* ms, when first sent (tries > 0) */
	uint64_t due;        /* ms: (re)send at or after this */
	uint32_t rto;        /* this message's current timer, doubled on each retransmission */
	uint8_t tries;       /* times sent */
};

/* The messages waiting for the window: a ring, with its counters in the same allocation. */
struct rel_queue {
	uint32_t head, len, cap; /* len at most REL_QUEUE_MAX */
	struct blob *b[];        /* cap slots */
};

/* Data that arrived early: recv_next < seq <= recv_next + 64, with its count. */
struct rel_held {
	unsigned n;
	struct blob *b[REL_WINDOW];
};

/*
 * One direction-pair of a session.  Sequence numbers start at 1 and are
 * never reused (32 bits: a session would need 4 billion messages to wrap).
 * Every member of a large room has one and most are idle, so what only a
 * busy session needs lives behind the three pointers, allocated on demand
 * and given back by rel_trim(): an idle rel is these 56 bytes.
 */
struct rel {
	/* Sending. */
	uint32_t next_seq;          /* seq the next queued message will get */
	uint32_t base;              /* lowest unacknowledged seq (== next_seq: none in flight) */
	uint32_t srtt, rttvar, rto; /* ms; srtt == 0: no sample yet */
	/*
	 * The low 32 bits of the earliest timer rel_poll left in the window
	 * (ms), so that a timer need not walk the window to learn that nothing
	 * is due (rel_due).  A lower bound: an ACK may have released the slot
	 * it came from.  It fills what was padding.
	 */
	uint32_t due;
	/* Receiving. */
	uint32_t recv_next;    /* next seq to deliver */
	int ack_pending;       /* DATA arrived since we last told the peer */
	struct rel_slot *win;  /* REL_WINDOW slots, seq % REL_WINDOW for base <= seq <
	                          next_seq; allocated while anything is in flight */
	struct rel_queue *q;   /* NULL while nothing has waited since the last trim */
	struct rel_held *held; /* NULL while nothing has arrived early since the last trim */
};

void rel_init(struct rel *r);
void rel_free(struct rel *r); /* drops every reference; r may be re-initialised */

/* Queue a message (takes a reference).  Returns -1 if REL_QUEUE_MAX are already waiting. */
int rel_queue(struct rel *r, struct blob *b);

/*
 * Process the ack fields of any datagram from the peer: every in-flight
 * seq <= ack, and every seq ack + 2 + i whose bit i is set, is released.
 * RTT is sampled only from messages sent once (Karn).  Acks for seqs never
 * sent are ignored.  Returns the number of messages released.
 */
int rel_on_ack(struct rel *r, uint32_t ack, uint32_t bits, uint64_t now);

typedef void (*rel_deliver_fn)(void *ctx, const uint8_t *data, size_t len);

/*
 * Process an arriving DATA with sequence number seq.  In-order data is
 * delivered at once (then any held data that follows it); early data
 * within the window is held; duplicates and data beyond the window are
 * dropped.  Every call marks an ack as pending.  Returns 1 if the data
 * was new (delivered or held), 0 if it was dropped.
 */
int rel_on_data(struct rel *r, uint32_t seq, const uint8_t *data, size_t len, rel_deliver_fn fn,
                void *ctx);

/* The ack fields to put in any datagram to the peer. */
void rel_ack_fields(const struct rel *r, uint32_t *ack, uint32_t *bits);

typedef void (*rel_emit_fn)(void *ctx, uint32_t seq, const struct blob *b);

/*
 * Move queued messages into the window (at most REL_SEND_WINDOW in
 * flight) and (re)send everything due at now through fn, oldest first.
 * A message's first timer is the current RTO; each retransmission doubles
 * that message's timer, up to REL_RTO_MAX.  The shared RTO is not backed
 * off (RFC 6298 5.5 would), because on lossy Wi-Fi most timeouts are
 * loss, not delay (measured: docs/PERFORMANCE.md); the cost, on a link
 * slower than the current RTO, is a second copy of each message until a
 * sample from one sent once arrives.  Returns the time of the next due
 * retransmission (UINT64_MAX if nothing is in flight).
 */
uint64_t rel_poll(struct rel *r, uint64_t now, rel_emit_fn fn, void *ctx);

/*
 * Whether rel_poll at now could send anything: a timer in the window has
 * run out (by r->due, without walking the window), or queued messages
 * have room in it.  Cheap enough for a timer that visits thousands of
 * busy sessions, most of which have nothing due.
 */
int rel_due(const struct rel *r, uint64_t now);

/*
 * Give back the memory of the windows while nothing is in flight, queued
 * or held (an idle session then costs a few dozen bytes instead of 2.5 KB);
 * they are allocated again when needed.  Call it from a timer, not per
 * message, so a busy session does not allocate per message.
 */
void rel_trim(struct rel *r);

/*
 * The sequence number the most recently queued message has, or will get
 * when the window takes it (0 before any was queued).  Seqs are handed out
 * in queue order, so this is known as soon as rel_queue returns.
 */
uint32_t rel_last_seq(const struct rel *r);

/* 1 if the peer has acknowledged every message up to and including seq, else 0. */
int rel_acked_through(const struct rel *r, uint32_t seq);

/*
 * If a message is in flight (sent, not yet acknowledged), store in
 * *first_sent the time the oldest of them was first sent and return 1;
 * otherwise return 0 and leave *first_sent alone.  "None" is the return
 * value, not a special time, because every time is a valid one (the
 * clocks of the unit tests and the fuzzers start at 0).
 */
int rel_oldest(const struct rel *r, uint64_t *first_sent);

/* Messages in flight (not yet acknowledged) plus queued. */
size_t rel_pending(const struct rel *r);

/*
 * rel_pending(r) > 0 in O(1), for the timer's walk of every busy session:
 * the base slot is never an acknowledged one (rel_on_ack moves base past
 * them), so something is in flight exactly when base != next_seq.
 */
int rel_busy(const struct rel *r);

/* Messages waiting behind the window. */
uint32_t rel_queued(const struct rel *r);

/* Messages received early, held until the gap before them is filled. */
unsigned rel_nheld(const struct rel *r);

/* The i-th message waiting behind the window (0: the next to enter it); i < rel_queued(r). */
struct blob *rel_queued_at(const struct rel *r, uint32_t i);

#endif
