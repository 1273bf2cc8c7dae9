/* trace.h - where a chat message's time goes inside qund, stage by stage (built in with make
 * TRACE=1). */
#ifndef QUN_TRACE_H
#define QUN_TRACE_H

#include <stddef.h>
#include <stdint.h>

/*
 * One chat message at a time is followed from the kernel's receive
 * timestamp (SO_TIMESTAMPNS) to the end of the flush that handed its
 * copies to the kernel, and each stage's duration goes into a histogram
 * (qunctl stats shows p50, p99 and the maximum).  Only a build with
 * -DQUN_TRACE (make TRACE=1) calls the hooks (the TRACE macro below):
 * the normal build's hot path has none of it.  docs/PERFORMANCE.md,
 * "Where a message's time goes", has the method and the numbers.
 */
enum trace_stage {
	TRACE_WAIT,  /* in the socket: the kernel's receive time -> read by recvmmsg */
	TRACE_READ,  /* read -> its protocol has it decided by the room (server_deliver) */
	TRACE_QUEUE, /* decided -> a copy queued for every member, in both protocols */
	TRACE_HAND,  /* queued -> the end of the flush that handed the copies to the kernel */
	TRACE_TOTAL, /* the kernel's receive time -> that flush's end */
	/* Not stages of a message: what the loop spends its time on, which a message may wait for.
	 */
	TRACE_TICK,  /* one slice of a 50 ms tick's work (evictions, timers, retransmissions) */
	TRACE_FLUSH, /* one flush that sent something (server_before_sleep) */
	TRACE_STAGES
};

#define TRACE_BUCKETS 112 /* quarter octaves of microseconds: up to 2^28 us */

struct trace_hist {
	uint64_t n, max_us;
	uint32_t bucket[TRACE_BUCKETS];
};

struct trace {
	/* The datagram being handled: its kernel receive time and read time (monotonic us). */
	uint64_t arrive_us, read_us;
	/* The message being followed: the times it reached each stage; 0 while none is. */
	uint64_t t_arrive, t_read, t_decided, t_queued;
	uint64_t deferred; /* copies that waited past their flush for a full window (v2) */
	struct trace_hist hist[TRACE_STAGES];
};

/* A datagram is about to be handled: it reached the socket at arrive_us and was read at read_us. */
void trace_datagram(struct trace *t, uint64_t arrive_us, uint64_t read_us);

/* The room decided a chat event at now: it is followed if no other is. */
void trace_decided(struct trace *t, uint64_t now);

/* The followed event (if it was this one) has a copy queued for every member. */
void trace_queued(struct trace *t, uint64_t now);

/* n copies of the followed event could not go in this flush (v2: the member's window is full). */
void trace_deferred(struct trace *t, size_t n);

/* A flush ended at now: the followed event's stages are recorded, and the next may be followed. */
void trace_flushed(struct trace *t, uint64_t now);

/* One span of the loop's own work (TRACE_TICK, TRACE_FLUSH) ran from..to (monotonic us). */
void trace_span(struct trace *t, enum trace_stage s, uint64_t from, uint64_t to);

/* Stage s's percentile p (0..100) in us, from its histogram (an upper bound of the bucket). */
uint64_t trace_percentile(const struct trace *t, enum trace_stage s, unsigned p);

/* The stage's name in stats ("wait", "read", ...). */
const char *trace_stage_name(enum trace_stage s);

#ifdef QUN_TRACE
#define TRACE(call) (call)
#else
#define TRACE(call) ((void)0)
#endif

#endif
