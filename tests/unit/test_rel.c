/* test_rel.c - unit tests of src/proto/rel.c: windows, acks, timers, reordering, and a lossy-link
 * simulation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/rel.h"

/* The fake clock starts here; oldest_at_time_zero checks a clock that starts at 0. */
#define T0 1000

/*
 * The state under test lives in statics so that the teardown can free it
 * even when a failed assertion leaves a test half way (ASan stays clean).
 */
static struct rel R[3];
static struct blob *own; /* a blob the test itself holds a reference to */

/* What rel_poll emitted: seq, the message number inside, the blob itself. */
#define EM_MAX 4096
static struct {
	uint32_t seq, msg;
	const struct blob *b;
} em[EM_MAX];
static size_t nem;

/* What rel_on_data delivered, in order. */
#define GOT_MAX 4096
static uint32_t got[GOT_MAX];
static size_t ngot;

static int setup(void **state)
{
	(void)state;
	nem = 0;
	ngot = 0;
	return 0;
}

static int teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(R) / sizeof(R[0]); i++)
		rel_free(&R[i]); /* fine on a zeroed struct too */
	blob_unref(own);
	own = NULL;
	return 0;
}

/* Helpers */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A message is its number, 4 bytes big-endian. */
static struct blob *msg(uint32_t n)
{
	uint8_t buf[4];

	put32(buf, n);
	return blob_new(buf, sizeof(buf));
}

/* Queue messages first..first+count-1, keeping no reference of our own. */
static void queue_msgs(struct rel *r, uint32_t first, uint32_t count)
{
	struct blob *b;
	uint32_t i;

	for (i = 0; i < count; i++) {
		b = msg(first + i);
		assert_int_equal(rel_queue(r, b), 0);
		blob_unref(b);
	}
}

static void emit(void *ctx, uint32_t seq, const struct blob *b)
{
	(void)ctx;
	assert_true(nem < EM_MAX);
	assert_int_equal(b->len, 4);
	em[nem].seq = seq;
	em[nem].msg = get32(b->data);
	em[nem].b = b;
	nem++;
}

/* Forget earlier emissions, poll at now and return rel_poll's answer. */
static uint64_t poll_at(struct rel *r, uint64_t now)
{
	nem = 0;
	return rel_poll(r, now, emit, NULL);
}

static void deliver(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	assert_int_equal(len, 4);
	assert_true(ngot < GOT_MAX);
	got[ngot++] = get32(data);
}

/* Receive DATA seq carrying message number seq. */
static int recv_seq(struct rel *r, uint32_t seq)
{
	uint8_t buf[4];

	put32(buf, seq);
	return rel_on_data(r, seq, buf, sizeof(buf), deliver, NULL);
}

/* The emitted seqs are exactly want[0..n). */
static void assert_emitted(const uint32_t *want, size_t n)
{
	size_t i;

	assert_int_equal(nem, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(em[i].seq, want[i]);
		assert_int_equal(em[i].msg, want[i]); /* message k got seq k in these tests */
	}
}

/* Delivered messages are exactly 1..n in order. */
static void assert_got_1_to(uint32_t n)
{
	uint32_t i;

	assert_int_equal(ngot, n);
	for (i = 0; i < n; i++)
		assert_int_equal(got[i], i + 1);
}

/* Send count messages at T0 (seqs 1..count). */
static void send_msgs(struct rel *r, uint32_t count)
{
	queue_msgs(r, 1, count);
	poll_at(r, T0);
	assert_int_equal(nem, count);
}

/* Nothing is in flight: rel_oldest says so and leaves its result alone. */
static void assert_none_in_flight(const struct rel *r)
{
	uint64_t t = 0xdeadbeef;

	assert_int_equal(rel_oldest(r, &t), 0);
	assert_true(t == 0xdeadbeef);
}

/* Something is in flight, and the oldest of it was first sent at want. */
static void assert_oldest(const struct rel *r, uint64_t want)
{
	uint64_t t = 0xdeadbeef;

	assert_int_equal(rel_oldest(r, &t), 1);
	assert_true(t == want);
}

/* blob */

static void blob_new_copies(void **state)
{
	char data[] = "hello";
	struct blob *b;

	(void)state;
	b = blob_new(data, 5);
	own = b;
	data[0] = 'J';
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->len, 5);
	assert_memory_equal(b->data, "hello", 5);
}

static void blob_empty_and_null(void **state)
{
	(void)state;
	own = blob_new(NULL, 0);
	assert_int_equal(own->len, 0);
	blob_unref(NULL); /* a no-op */
}

static void blob_ref_counts(void **state)
{
	struct blob *b;

	(void)state;
	b = blob_new("x", 1);
	own = b;
	blob_ref(b);
	blob_ref(b);
	assert_int_equal(b->refs, 3);
	blob_unref(b);
	blob_unref(b);
	assert_int_equal(b->refs, 1);
}

/* rel_init */

static void init_state(void **state)
{
	uint32_t ack, bits;

	(void)state;
	rel_init(&R[0]);
	assert_int_equal(R[0].next_seq, 1);
	assert_int_equal(R[0].base, 1);
	assert_int_equal(R[0].recv_next, 1);
	assert_int_equal(R[0].rto, REL_RTO_INIT);
	assert_int_equal(R[0].srtt, 0);
	assert_int_equal(R[0].ack_pending, 0);
	assert_int_equal(rel_pending(&R[0]), 0);
	assert_none_in_flight(&R[0]);
	assert_true(poll_at(&R[0], T0) == UINT64_MAX);
	assert_int_equal(nem, 0);
	rel_ack_fields(&R[0], &ack, &bits);
	assert_int_equal(ack, 0);
	assert_int_equal(bits, 0);
}

/* Sending */

static void queue_sends_nothing(void **state)
{
	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 1);
	assert_int_equal(nem, 0);
	assert_int_equal(rel_pending(&R[0]), 1);
	assert_none_in_flight(&R[0]); /* queued is not in flight */
}

static void first_send_on_poll(void **state)
{
	const uint32_t want[] = {1};

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 1);
	assert_true(poll_at(&R[0], T0) == T0 + REL_RTO_INIT);
	assert_emitted(want, 1);
	assert_oldest(&R[0], T0);
	assert_int_equal(rel_pending(&R[0]), 1);
}

static void seqs_start_at_one(void **state)
{
	const uint32_t want[] = {1, 2, 3}, more[] = {4, 5};

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 3);
	poll_at(&R[0], T0);
	assert_emitted(want, 3);
	/* Later messages continue the count; earlier ones are not due again yet. */
	queue_msgs(&R[0], 4, 2);
	poll_at(&R[0], T0 + 10);
	assert_emitted(more, 2);
	assert_int_equal(R[0].next_seq, 6);
}

static void poll_before_due_sends_nothing(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_true(poll_at(&R[0], T0 + REL_RTO_INIT - 1) == T0 + REL_RTO_INIT);
	assert_int_equal(nem, 0);
}

static void poll_returns_earliest_due(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	queue_msgs(&R[0], 2, 1);
	assert_true(poll_at(&R[0], T0 + 100) == T0 + REL_RTO_INIT);
	assert_int_equal(nem, 1);
	/* Once 1 is acknowledged, 2's timer is the next. */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 150), 1);
	assert_true(poll_at(&R[0], T0 + 160) == T0 + 100 + REL_RTO_INIT);
}

/* Acknowledgements */

static void ack_releases(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 50), 1);
	assert_int_equal(R[0].base, 2);
	assert_int_equal(rel_pending(&R[0]), 0);
	assert_none_in_flight(&R[0]);
	assert_true(poll_at(&R[0], T0 + 10000) == UINT64_MAX);
	assert_int_equal(nem, 0);
}

/*
 * rel_last_seq knows a queued message's seq before the window takes it,
 * and rel_acked_through says when everything up to it is acknowledged
 * (what qund's WHO waits for): ack bits past a gap are not enough.
 */
static void last_seq_and_acked_through(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(rel_last_seq(&R[0]), 0);
	queue_msgs(&R[0], 1, 40); /* 33 go into the window, 7 wait */
	assert_int_equal(rel_last_seq(&R[0]), 40);
	assert_false(rel_acked_through(&R[0], 1));
	poll_at(&R[0], T0);
	assert_int_equal(rel_last_seq(&R[0]), 40);
	assert_int_equal(rel_on_ack(&R[0], 0, 0x7, T0 + 50), 3); /* 2, 3, 4; not 1 */
	assert_false(rel_acked_through(&R[0], 4));
	assert_int_not_equal(rel_on_ack(&R[0], 33, 0, T0 + 60), 0);
	assert_true(rel_acked_through(&R[0], 33));
	assert_false(rel_acked_through(&R[0], 34));
	assert_false(rel_acked_through(&R[0], 40)); /* still queued: not even sent */
	poll_at(&R[0], T0 + 70);
	assert_int_equal(rel_on_ack(&R[0], 40, 0, T0 + 100), 7);
	assert_true(rel_acked_through(&R[0], 40));
	assert_int_equal(rel_last_seq(&R[0]), 40);
}

static void ack_cumulative(void **state)
{
	const uint32_t want[] = {4, 5};

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 5);
	assert_int_equal(rel_on_ack(&R[0], 3, 0, T0 + 50), 3);
	assert_int_equal(R[0].base, 4);
	assert_int_equal(rel_pending(&R[0]), 2);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_emitted(want, 2);
}

static void ack_repeated_releases_nothing(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 2);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 50), 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 60), 0);
	assert_int_equal(rel_on_ack(&R[0], 0, 0, T0 + 70), 0);
	assert_int_equal(R[0].base, 2);
}

static void ack_stale_after_progress(void **state)
{
	(void)state;
	/* An older ack overtaken by a newer one changes nothing. */
	rel_init(&R[0]);
	send_msgs(&R[0], 3);
	assert_int_equal(rel_on_ack(&R[0], 2, 0, T0 + 50), 2);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 60), 0);
	assert_int_equal(R[0].base, 3);
	assert_int_equal(rel_pending(&R[0]), 1);
}

static void selective_ack_out_of_order(void **state)
{
	const uint32_t want[] = {1, 2, 4};

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 5);
	/* ack 0; bit 1 = seq 3, bit 3 = seq 5. */
	assert_int_equal(rel_on_ack(&R[0], 0, 1u << 1 | 1u << 3, T0 + 50), 2);
	assert_int_equal(R[0].base, 1);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_emitted(want, 3);
}

static void selective_ack_base_stops_at_lowest_gap(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 5);
	/* 2 and 3 arrive, 1 does not: the base stays at 1. */
	assert_int_equal(rel_on_ack(&R[0], 0, 1u << 0 | 1u << 1, T0 + 50), 2);
	assert_int_equal(R[0].base, 1);
	/* 1 arrives: the base moves past 2 and 3 to the next gap, 4. */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 60), 1);
	assert_int_equal(R[0].base, 4);
	/* 5 arrives (ack 3, bit 0 = seq 5): 4 is still the gap. */
	assert_int_equal(rel_on_ack(&R[0], 3, 1u << 0, T0 + 70), 1);
	assert_int_equal(R[0].base, 4);
	assert_int_equal(rel_on_ack(&R[0], 5, 0, T0 + 80), 1);
	assert_int_equal(R[0].base, 6);
	assert_int_equal(rel_pending(&R[0]), 0);
}

/* rel_busy agrees with rel_pending > 0 through queueing, sending, selective and full acks. */
static void busy_follows_pending(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_false(rel_busy(&R[0]));
	queue_msgs(&R[0], 1, 3);
	assert_true(rel_busy(&R[0])); /* queued, none sent */
	poll_at(&R[0], T0);
	assert_true(rel_busy(&R[0]));
	/* 2 and 3 acknowledged selectively, 1 still in flight. */
	assert_int_equal(rel_on_ack(&R[0], 0, 1u << 0 | 1u << 1, T0 + 50), 2);
	assert_true(rel_busy(&R[0]));
	assert_int_equal(rel_pending(&R[0]), 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 60), 1);
	assert_false(rel_busy(&R[0]));
	assert_int_equal(rel_pending(&R[0]), 0);
}

static void due_follows_earliest_timer(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_false(rel_due(&R[0], T0));
	queue_msgs(&R[0], 1, 2);
	assert_true(rel_due(&R[0], T0)); /* queued, with room in the window */
	poll_at(&R[0], T0);
	assert_false(rel_due(&R[0], T0 + REL_RTO_INIT - 1));
	assert_true(rel_due(&R[0], T0 + REL_RTO_INIT));
	/* 1 released; the bound stays (2 went out at T0 too), and a poll before it sends nothing.
	 */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 100), 1);
	assert_true(rel_due(&R[0], T0 + REL_RTO_INIT));
	assert_int_equal(R[0].base, 2);
	assert_true(poll_at(&R[0], T0 + REL_RTO_INIT - 1) == T0 + REL_RTO_INIT);
	assert_int_equal(nem, 0);
	/* Everything acknowledged: nothing is due, however late. */
	assert_int_equal(rel_on_ack(&R[0], 2, 0, T0 + 110), 1);
	assert_false(rel_due(&R[0], T0 + 100000));
}

static void due_waits_for_room(void **state)
{
	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, REL_SEND_WINDOW + 1);
	poll_at(&R[0], T0);
	assert_int_equal(nem, REL_SEND_WINDOW);
	/* One still queued, but the window is full and no timer has run out. */
	assert_false(rel_due(&R[0], T0 + 1));
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 10), 1);
	assert_true(rel_due(&R[0], T0 + 11));
}

static void due_across_32_bit_wrap(void **state)
{
	/* The clock's low 32 bits wrap between the send and the timer. */
	const uint64_t t = (1ull << 32) - 100;

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 1);
	poll_at(&R[0], t);
	assert_int_equal(nem, 1);
	assert_false(rel_due(&R[0], t + REL_RTO_INIT - 1));
	assert_true(rel_due(&R[0], t + REL_RTO_INIT));
	assert_true(rel_due(&R[0], t + REL_RTO_INIT + 1000));
}

static void ack_never_sent_ignored(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 2);
	assert_int_equal(rel_on_ack(&R[0], 3, 0, T0 + 50), 0);
	assert_int_equal(rel_on_ack(&R[0], 100, 0xFFFFFFFFu, T0 + 50), 0);
	assert_int_equal(rel_on_ack(&R[0], UINT32_MAX, 0, T0 + 50), 0);
	assert_int_equal(R[0].base, 1);
	assert_int_equal(R[0].next_seq, 3);
	assert_int_equal(rel_pending(&R[0]), 2);
	assert_int_equal(R[0].srtt, 0);
}

static void ack_bits_beyond_sent_ignored(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 2);
	/* Every bit set, but only bit 0 (seq 2) names something sent. */
	assert_int_equal(rel_on_ack(&R[0], 0, 0xFFFFFFFFu, T0 + 50), 1);
	assert_int_equal(R[0].base, 1);
	assert_int_equal(R[0].next_seq, 3);
	queue_msgs(&R[0], 3, 1);
	poll_at(&R[0], T0 + 60);
	assert_int_equal(nem, 1);
	assert_int_equal(em[0].seq, 3);
}

static void ack_queued_not_sent_ignored(void **state)
{
	const uint32_t want[] = {1};

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0), 0);
	assert_int_equal(rel_pending(&R[0]), 1);
	poll_at(&R[0], T0);
	assert_emitted(want, 1);
}

/* Timers */

static void rto_initial(void **state)
{
	const uint32_t want[] = {1};

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(R[0].win[1].rto, REL_RTO_INIT);
	poll_at(&R[0], T0 + REL_RTO_INIT - 1);
	assert_int_equal(nem, 0);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_emitted(want, 1);
}

static void retransmit_backoff(void **state)
{
	const uint32_t gaps[] = {500, 1000, 2000, 4000, 4000, 4000, 4000};
	const uint32_t want[] = {1};
	uint64_t t = T0, next;
	size_t i;

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
		assert_true(poll_at(&R[0], t + gaps[i] - 1) == t + gaps[i]);
		assert_int_equal(nem, 0);
		next = poll_at(&R[0], t + gaps[i]);
		assert_emitted(want, 1);
		t += gaps[i];
		if (i + 1 < sizeof(gaps) / sizeof(gaps[0]))
			assert_true(next == t + gaps[i + 1]);
	}
	assert_int_equal(R[0].win[1].tries, 1 + sizeof(gaps) / sizeof(gaps[0]));
	assert_oldest(&R[0], T0);                 /* first_sent never moves */
	assert_int_equal(R[0].rto, REL_RTO_INIT); /* the back-off is per message */
}

static void retransmit_late_poll(void **state)
{
	(void)state;
	/* The next timer runs from when the datagram actually went out. */
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_true(poll_at(&R[0], T0 + 700) == T0 + 700 + 2 * REL_RTO_INIT);
	assert_int_equal(nem, 1);
}

static void retransmit_same_blob(void **state)
{
	const struct blob *first;

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	first = em[0].b;
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_int_equal(nem, 1);
	assert_ptr_equal(em[0].b, first);
}

static void retransmit_oldest_first(void **state)
{
	const uint32_t want[] = {1, 2, 3};

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 3);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_emitted(want, 3);
}

static void rtt_first_sample(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 150), 1);
	assert_int_equal(R[0].srtt, 150);
	assert_int_equal(R[0].rttvar, 75);
	assert_int_equal(R[0].rto, 450);
}

static void rtt_second_sample(void **state)
{
	(void)state;
	/* RFC 6298 2.3: RTTVAR from the old SRTT first, then SRTT; integer ms. */
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 100), 1);
	queue_msgs(&R[0], 2, 1);
	poll_at(&R[0], T0 + 200);
	assert_int_equal(rel_on_ack(&R[0], 2, 0, T0 + 400), 1);
	assert_int_equal(R[0].rttvar, (3 * 50 + 100) / 4); /* 62 */
	assert_int_equal(R[0].srtt, (7 * 100 + 200) / 8);  /* 112 */
	assert_int_equal(R[0].rto, 112 + 4 * 62);          /* 360 */
}

static void rto_floor(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 10), 1);
	assert_int_equal(R[0].srtt, 10);
	assert_int_equal(R[0].rto, REL_RTO_MIN);
}

static void rto_floor_zero_sample(void **state)
{
	(void)state;
	/* Acknowledged within the same millisecond: still a sample (srtt != 0). */
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0), 1);
	assert_int_not_equal(R[0].srtt, 0);
	assert_int_equal(R[0].rto, REL_RTO_MIN);
}

/*
 * A peer may hold its ACK back for REL_MAX_ACK_DELAY ms (PROTOCOL-v2.md).
 * Whatever the RTT samples before, however small, a DATA whose ACK comes
 * that late over a network with a round trip of up to 99 ms is never sent
 * twice.  The histories: acks at once (the RTO at its lowest), delays of 0
 * and the maximum by turns, and always the maximum.
 */
static void delayed_ack_meets_no_retransmission(void **state)
{
	static const uint32_t patterns[][2] = {
	    {0, 0}, {0, REL_MAX_ACK_DELAY}, {REL_MAX_ACK_DELAY, REL_MAX_ACK_DELAY}};
	const uint32_t late = REL_MAX_ACK_DELAY + 99;
	uint64_t now, t;
	uint32_t seq;
	size_t p;

	(void)state;
	for (p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		rel_free(&R[0]);
		rel_init(&R[0]);
		now = T0;
		for (seq = 1; seq <= 64; seq++) {
			queue_msgs(&R[0], seq, 1);
			poll_at(&R[0], now);
			assert_int_equal(nem, 1);
			now += patterns[p][seq % 2];
			assert_int_equal(rel_on_ack(&R[0], seq, 0, now), 1);
			now++;
		}
		queue_msgs(&R[0], seq, 1);
		poll_at(&R[0], now);
		assert_int_equal(nem, 1);
		for (t = now + 1; t <= now + late; t++) {
			poll_at(&R[0], t);
			assert_int_equal(nem, 0);
		}
		assert_int_equal(rel_on_ack(&R[0], seq, 0, now + late), 1);
	}
}

static void rto_cap(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	/* No poll in between, so it was sent once: sample 3000, 3000 + 4 * 1500 > cap. */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 3000), 1);
	assert_int_equal(R[0].srtt, 3000);
	assert_int_equal(R[0].rto, REL_RTO_MAX);
}

static void rto_applies_to_next_message(void **state)
{
	const uint64_t t1 = T0 + 1000;

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 100), 1);
	queue_msgs(&R[0], 2, 1);
	assert_true(poll_at(&R[0], t1) == t1 + 300);
	assert_true(poll_at(&R[0], t1 + 300) == t1 + 300 + 600);
	assert_int_equal(nem, 1);
}

static void karn_no_sample_from_retransmitted(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_int_equal(nem, 1);
	/* Which copy does this ack answer?  Unknowable, so no sample. */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 600), 1);
	assert_int_equal(R[0].srtt, 0);
	assert_int_equal(R[0].rttvar, 0);
	assert_int_equal(R[0].rto, REL_RTO_INIT);
}

static void karn_sample_only_from_sent_once(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	queue_msgs(&R[0], 2, 1);
	/* 1 goes out again, 2 for the first time, both at T0 + 500. */
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_int_equal(nem, 2);
	/* One ack releases both; only 2 (150 ms) is a sample. */
	assert_int_equal(rel_on_ack(&R[0], 2, 0, T0 + 650), 2);
	assert_int_equal(R[0].srtt, 150);
	assert_int_equal(R[0].rttvar, 75);
	assert_int_equal(R[0].rto, 450);
}

/* Window and queue */

static void send_window_of_33(void **state)
{
	const uint32_t want[] = {REL_SEND_WINDOW + 1};
	uint32_t i;

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, REL_SEND_WINDOW + 1);
	poll_at(&R[0], T0);
	assert_int_equal(nem, REL_SEND_WINDOW);
	for (i = 0; i < REL_SEND_WINDOW; i++)
		assert_int_equal(em[i].seq, i + 1);
	assert_int_equal(rel_pending(&R[0]), REL_SEND_WINDOW + 1);
	poll_at(&R[0], T0 + 1);
	assert_int_equal(nem, 0);
	/* An ack frees one place: the next one goes out at the next poll. */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 50), 1);
	poll_at(&R[0], T0 + 60);
	assert_emitted(want, 1);
	assert_int_equal(R[0].next_seq - R[0].base, REL_SEND_WINDOW);
}

static void queue_bound(void **state)
{
	struct blob *b;

	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, REL_QUEUE_MAX);
	assert_int_equal(rel_pending(&R[0]), REL_QUEUE_MAX);
	b = msg(REL_QUEUE_MAX + 1);
	own = b;
	assert_int_equal(rel_queue(&R[0], b), -1);
	assert_int_equal(b->refs, 1); /* a refused message is not referenced */
	assert_int_equal(rel_pending(&R[0]), REL_QUEUE_MAX);
	/* The window takes its fill off the queue; as many more fit behind it, not one more. */
	poll_at(&R[0], T0);
	assert_int_equal(nem, REL_SEND_WINDOW);
	queue_msgs(&R[0], REL_QUEUE_MAX + 1, REL_SEND_WINDOW);
	assert_int_equal(rel_queue(&R[0], b), -1);
	assert_int_equal(b->refs, 1);
	assert_int_equal(rel_pending(&R[0]), REL_QUEUE_MAX + REL_SEND_WINDOW);
}

static void queue_keeps_order_across_growth(void **state)
{
	uint32_t queued = 0, sent = 0, i;
	size_t j;

	(void)state;
	/* Uneven bursts against a drain of REL_SEND_WINDOW a round: the ring wraps and grows. */
	rel_init(&R[0]);
	for (i = 0; i < 40 || rel_pending(&R[0]) > 0; i++) {
		if (i < 40) {
			uint32_t n = (i * 37) % 75;

			queue_msgs(&R[0], queued + 1, n);
			queued += n;
		}
		poll_at(&R[0], T0 + i);
		for (j = 0; j < nem; j++) {
			assert_int_equal(em[j].seq, sent + 1); /* message k is seq k: FIFO */
			assert_int_equal(em[j].msg, sent + 1);
			sent++;
		}
		assert_int_equal(rel_on_ack(&R[0], R[0].next_seq - 1, 0, T0 + i), (int)nem);
		assert_true(i < 1000);
	}
	assert_int_equal(sent, queued);
	assert_true(R[0].q != NULL && R[0].q->cap >= 64);
}

static void queue_takes_reference(void **state)
{
	struct blob *b;

	(void)state;
	rel_init(&R[0]);
	b = msg(1);
	own = b;
	assert_int_equal(rel_queue(&R[0], b), 0);
	assert_int_equal(b->refs, 2);
	poll_at(&R[0], T0);
	assert_ptr_equal(em[0].b, b);
	assert_int_equal(b->refs, 2); /* moving into the window keeps the one reference */
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 10), 1);
	assert_int_equal(b->refs, 1);
}

/* Receiving */

static void receive_in_order(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_int_equal(recv_seq(&R[0], 2), 1);
	assert_int_equal(recv_seq(&R[0], 3), 1);
	assert_got_1_to(3);
	assert_int_equal(R[0].recv_next, 4);
}

static void receive_reordered(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 3), 1);
	assert_int_equal(ngot, 0);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_got_1_to(1);
	assert_int_equal(recv_seq(&R[0], 2), 1);
	assert_got_1_to(3);
	assert_int_equal(R[0].recv_next, 4);
}

static void receive_reversed_full_window(void **state)
{
	uint32_t seq;

	(void)state;
	/* recv_next + 64 down to recv_next + 1 are all held, then the gap fills. */
	rel_init(&R[0]);
	for (seq = REL_WINDOW + 1; seq >= 2; seq--)
		assert_int_equal(recv_seq(&R[0], seq), 1);
	assert_int_equal(ngot, 0);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_got_1_to(REL_WINDOW + 1);
}

static void receive_duplicate_delivered_once(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_int_equal(recv_seq(&R[0], 1), 0);
	assert_got_1_to(1);
}

static void receive_duplicate_held_once(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 3), 1);
	assert_int_equal(recv_seq(&R[0], 3), 0);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_int_equal(recv_seq(&R[0], 2), 1);
	assert_int_equal(recv_seq(&R[0], 3), 0);
	assert_got_1_to(3);
}

static void receive_old_dropped(void **state)
{
	uint32_t seq;

	(void)state;
	rel_init(&R[0]);
	for (seq = 1; seq <= 5; seq++)
		recv_seq(&R[0], seq);
	assert_int_equal(recv_seq(&R[0], 3), 0);
	assert_int_equal(recv_seq(&R[0], 1), 0);
	assert_got_1_to(5);
}

static void receive_seq_zero_dropped(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 0), 0);
	assert_int_equal(ngot, 0);
	assert_int_equal(R[0].recv_next, 1);
}

static void receive_beyond_window_dropped(void **state)
{
	uint32_t seq;

	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], REL_WINDOW + 2), 0); /* recv_next + 65 */
	assert_int_equal(recv_seq(&R[0], REL_WINDOW + 1), 1); /* recv_next + 64 */
	for (seq = 2; seq <= REL_WINDOW; seq++)
		assert_int_equal(recv_seq(&R[0], seq), 1);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	/* 66 was dropped, not held: delivery stops at 65. */
	assert_got_1_to(REL_WINDOW + 1);
	assert_int_equal(R[0].recv_next, REL_WINDOW + 2);
	assert_int_equal(recv_seq(&R[0], REL_WINDOW + 2), 1);
	assert_got_1_to(REL_WINDOW + 2);
}

static void receive_far_beyond_window_dropped(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(recv_seq(&R[0], 1000), 0);
	assert_int_equal(recv_seq(&R[0], UINT32_MAX), 0);
	assert_int_equal(recv_seq(&R[0], 0x80000001u), 0);
	assert_int_equal(ngot, 0);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_got_1_to(1);
}

static void receive_window_moves_with_delivery(void **state)
{
	uint32_t seq;

	(void)state;
	rel_init(&R[0]);
	for (seq = 1; seq <= 10; seq++)
		recv_seq(&R[0], seq);
	/* recv_next is 11: 75 is the edge, 76 beyond it. */
	assert_int_equal(recv_seq(&R[0], 11 + REL_WINDOW + 1), 0);
	assert_int_equal(recv_seq(&R[0], 11 + REL_WINDOW), 1);
	assert_got_1_to(10);
}

static void ack_fields_in_order(void **state)
{
	uint32_t ack, bits;

	(void)state;
	rel_init(&R[0]);
	recv_seq(&R[0], 1);
	recv_seq(&R[0], 2);
	recv_seq(&R[0], 3);
	rel_ack_fields(&R[0], &ack, &bits);
	assert_int_equal(ack, 3);
	assert_int_equal(bits, 0);
}

static void ack_fields_after_gaps(void **state)
{
	uint32_t ack, bits;

	(void)state;
	rel_init(&R[0]);
	recv_seq(&R[0], 1);
	recv_seq(&R[0], 3);  /* bit 0 = ack + 2 */
	recv_seq(&R[0], 5);  /* bit 2 */
	recv_seq(&R[0], 34); /* bit 31 */
	recv_seq(&R[0], 35); /* held, but past what 32 bits can say */
	rel_ack_fields(&R[0], &ack, &bits);
	assert_int_equal(ack, 1);
	assert_int_equal(bits, 1u << 0 | 1u << 2 | 1u << 31);

	/* 2 fills the first gap: ack 3, and the bits shift to the new ack. */
	recv_seq(&R[0], 2);
	rel_ack_fields(&R[0], &ack, &bits);
	assert_int_equal(ack, 3);
	assert_int_equal(bits, 1u << (5 - 3 - 2) | 1u << (34 - 3 - 2) | 1u << (35 - 3 - 2));
}

static void ack_fields_release_sender(void **state)
{
	const uint32_t want[] = {2, 4};
	uint32_t ack, bits;
	size_t i;

	(void)state;
	/* Sender R0 sends 1..5, receiver R1 gets 1, 3, 5 and acks them all at once. */
	rel_init(&R[0]);
	rel_init(&R[1]);
	send_msgs(&R[0], 5);
	for (i = 0; i < 5; i++)
		if (em[i].seq % 2 == 1)
			recv_seq(&R[1], em[i].seq);
	rel_ack_fields(&R[1], &ack, &bits);
	assert_int_equal(rel_on_ack(&R[0], ack, bits, T0 + 50), 3);
	assert_int_equal(R[0].base, 2);
	poll_at(&R[0], T0 + REL_RTO_INIT);
	assert_emitted(want, 2);
}

static void ack_pending_on_data(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(R[0].ack_pending, 0);
	recv_seq(&R[0], 1);
	assert_int_equal(R[0].ack_pending, 1);
	/* A duplicate is acknowledged again: its ack may have been lost. */
	R[0].ack_pending = 0;
	recv_seq(&R[0], 1);
	assert_int_equal(R[0].ack_pending, 1);
	R[0].ack_pending = 0;
	recv_seq(&R[0], 3);
	assert_int_equal(R[0].ack_pending, 1);
	R[0].ack_pending = 0;
	recv_seq(&R[0], 1000);
	assert_int_equal(R[0].ack_pending, 1);
}

static void ack_pending_not_set_by_ack(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	rel_on_ack(&R[0], 1, 0, T0 + 10);
	assert_int_equal(R[0].ack_pending, 0);
}

/* rel_oldest and rel_pending */

static void oldest_tracks_first_unacked(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_none_in_flight(&R[0]);
	send_msgs(&R[0], 1);
	queue_msgs(&R[0], 2, 1);
	poll_at(&R[0], T0 + 100);
	assert_oldest(&R[0], T0);
	poll_at(&R[0], T0 + REL_RTO_INIT); /* 1 is retransmitted */
	assert_oldest(&R[0], T0);
	rel_on_ack(&R[0], 1, 0, T0 + 550);
	assert_oldest(&R[0], T0 + 100);
	rel_on_ack(&R[0], 2, 0, T0 + 560);
	assert_none_in_flight(&R[0]);
}

static void oldest_skips_selectively_acked(void **state)
{
	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 1);
	queue_msgs(&R[0], 2, 2);
	poll_at(&R[0], T0 + 100);
	/* 2 (bit 0) arrived, 1 did not: 1 is still the oldest. */
	rel_on_ack(&R[0], 0, 1u << 0, T0 + 150);
	assert_oldest(&R[0], T0);
	/* 1 arrives: 2 was already released, so 3 (sent with 2) is the oldest. */
	rel_on_ack(&R[0], 1, 0, T0 + 160);
	assert_int_equal(R[0].base, 3);
	assert_oldest(&R[0], T0 + 100);
}

/*
 * A clock may start at 0 (the fuzz harnesses' clocks do): a message
 * first sent at 0 is in flight, and rel_oldest says so, until acknowledged.
 */
static void oldest_at_time_zero(void **state)
{
	(void)state;
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 2);
	assert_true(poll_at(&R[0], 0) == REL_RTO_INIT);
	assert_int_equal(nem, 2);
	assert_oldest(&R[0], 0);
	poll_at(&R[0], REL_RTO_INIT); /* both retransmitted: first_sent stays 0 */
	assert_int_equal(nem, 2);
	assert_oldest(&R[0], 0);
	rel_on_ack(&R[0], 2, 0, REL_RTO_INIT + 10);
	assert_none_in_flight(&R[0]);
}

static void pending_counts_queue_and_flight(void **state)
{
	(void)state;
	rel_init(&R[0]);
	assert_int_equal(rel_pending(&R[0]), 0);
	queue_msgs(&R[0], 1, REL_SEND_WINDOW + 6);
	assert_int_equal(rel_pending(&R[0]), REL_SEND_WINDOW + 6);
	poll_at(&R[0], T0);
	assert_int_equal(rel_pending(&R[0]), REL_SEND_WINDOW + 6);
	rel_on_ack(&R[0], 10, 0, T0 + 10);
	assert_int_equal(rel_pending(&R[0]), REL_SEND_WINDOW - 4);
	poll_at(&R[0], T0 + 20);
	rel_on_ack(&R[0], REL_SEND_WINDOW + 6, 0, T0 + 30);
	assert_int_equal(rel_pending(&R[0]), 0);
}

/* References and rel_free */

static void blob_shared_by_three(void **state)
{
	struct blob *b;
	size_t i;

	(void)state;
	/* The server formats an event once and queues it to every member. */
	b = msg(42);
	own = b;
	for (i = 0; i < 3; i++) {
		rel_init(&R[i]);
		assert_int_equal(rel_queue(&R[i], b), 0);
	}
	assert_int_equal(b->refs, 4);
	own = NULL;
	blob_unref(b);
	assert_int_equal(b->refs, 3);
	for (i = 0; i < 3; i++) {
		poll_at(&R[i], T0);
		assert_int_equal(nem, 1);
		assert_ptr_equal(em[0].b, b);
	}
	assert_int_equal(rel_on_ack(&R[0], 1, 0, T0 + 10), 1);
	assert_int_equal(b->refs, 2);
	assert_int_equal(rel_on_ack(&R[1], 1, 0, T0 + 10), 1);
	assert_int_equal(b->refs, 1);
	/* The last release frees it; LeakSanitizer would report it otherwise. */
	assert_int_equal(rel_on_ack(&R[2], 1, 0, T0 + 10), 1);
}

static void free_drops_every_reference(void **state)
{
	struct blob *b;
	uint32_t i;

	(void)state;
	rel_init(&R[0]);
	b = msg(7);
	own = b;
	for (i = 0; i < REL_WINDOW + 6; i++)
		assert_int_equal(rel_queue(&R[0], b), 0);
	poll_at(&R[0], T0); /* a window in flight, the rest queued */
	assert_int_equal(b->refs, 1 + REL_WINDOW + 6);
	/* And held data on the receiving side (copies: LeakSanitizer checks them). */
	recv_seq(&R[0], 3);
	recv_seq(&R[0], REL_WINDOW + 1);
	rel_free(&R[0]);
	assert_int_equal(b->refs, 1);
}

static void free_then_init_reuses(void **state)
{
	const uint32_t want[] = {1};

	(void)state;
	rel_init(&R[0]);
	send_msgs(&R[0], 3);
	recv_seq(&R[0], 2);
	rel_free(&R[0]);
	rel_init(&R[0]);
	queue_msgs(&R[0], 1, 1);
	poll_at(&R[0], T0 + 1);
	assert_emitted(want, 1);
	assert_int_equal(recv_seq(&R[0], 1), 1);
	assert_got_1_to(1);
}

/*
 * Simulation: two endpoints exchange messages both ways through a channel
 * that loses, duplicates and reorders, on a fake clock.  Every message must
 * arrive exactly once and in order, within a bounded number of steps.
 */

#define SIM_N     2000  /* messages each way */
#define SIM_STEP  10    /* ms per step */
#define SIM_STEPS 30000 /* 300 s of simulated time: the hard stop */

struct sim_pkt {
	uint64_t at; /* delivery time */
	int to;
	int has_data;
	uint32_t seq, ack, bits, msg;
};

static struct sim_pkt *net;
static size_t nnet, capnet;

static struct sim {
	uint64_t rng;
	unsigned loss, dup; /* percent */
	unsigned delay_min, delay_span;
	uint64_t now;
	uint32_t queued[2], expect[2];
	unsigned long datagrams, data_sent;
} sim;

static int sim_teardown(void **state)
{
	free(net);
	net = NULL;
	nnet = capnet = 0;
	return teardown(state);
}

static unsigned sim_rand(unsigned n)
{
	/* xorshift64*: fixed seed, the same run every time. */
	sim.rng ^= sim.rng >> 12;
	sim.rng ^= sim.rng << 25;
	sim.rng ^= sim.rng >> 27;
	return (unsigned)((sim.rng * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static void sim_push(const struct sim_pkt *p)
{
	struct sim_pkt *grown;

	if (nnet == capnet) {
		capnet = capnet ? capnet * 2 : 256;
		grown = realloc(net, capnet * sizeof(*net));
		assert_non_null(grown);
		net = grown;
	}
	net[nnet++] = *p;
}

/* Send p from endpoint 1 - p->to: lose it, or deliver it (maybe twice) after a random delay. */
static void sim_send(struct sim_pkt *p)
{
	sim.datagrams++;
	if (sim_rand(100) < sim.loss)
		return;
	p->at = sim.now + sim.delay_min + sim_rand(sim.delay_span);
	sim_push(p);
	if (sim_rand(100) < sim.dup) {
		p->at = sim.now + sim.delay_min + sim_rand(sim.delay_span);
		sim_push(p);
	}
}

static void sim_emit(void *ctx, uint32_t seq, const struct blob *b)
{
	int from = *(const int *)ctx;
	struct sim_pkt p;

	memset(&p, 0, sizeof(p));
	p.to = 1 - from;
	p.has_data = 1;
	p.seq = seq;
	p.msg = get32(b->data);
	rel_ack_fields(&R[from], &p.ack, &p.bits);
	R[from].ack_pending = 0; /* the DATA carries the ack */
	sim.data_sent++;
	sim_send(&p);
}

static void sim_deliver(void *ctx, const uint8_t *data, size_t len)
{
	int to = *(const int *)ctx;

	assert_int_equal(len, 4);
	/* In order and exactly once: always the very next message. */
	assert_int_equal(get32(data), sim.expect[to]);
	sim.expect[to]++;
}

static void sim_receive(const struct sim_pkt *p)
{
	uint8_t buf[4];
	int to = p->to;

	rel_on_ack(&R[to], p->ack, p->bits, sim.now);
	if (p->has_data) {
		put32(buf, p->msg);
		rel_on_data(&R[to], p->seq, buf, sizeof(buf), sim_deliver, &to);
	}
}

/* Run until both sides have delivered SIM_N messages and have nothing in flight; returns steps. */
static unsigned long sim_run(void)
{
	static int who[2] = {0, 1};
	unsigned long steps;
	struct sim_pkt p;
	struct blob *b;
	size_t i;
	int e;

	rel_init(&R[0]);
	rel_init(&R[1]);
	sim.now = T0;
	sim.expect[0] = sim.expect[1] = 1;
	sim.queued[0] = sim.queued[1] = 0;
	for (steps = 0; steps < SIM_STEPS; steps++) {
		/* Arrivals, in the channel's (shuffled) order. */
		for (i = 0; i < nnet;) {
			if (net[i].at <= sim.now) {
				p = net[i];
				net[i] = net[--nnet];
				sim_receive(&p);
			} else {
				i++;
			}
		}
		for (e = 0; e < 2; e++) {
			/* The application writes faster than the link drains. */
			while (sim.queued[e] < SIM_N && rel_pending(&R[e]) < 200) {
				b = msg(++sim.queued[e]);
				assert_int_equal(rel_queue(&R[e], b), 0);
				blob_unref(b);
			}
			rel_poll(&R[e], sim.now, sim_emit, &who[e]);
			if (R[e].ack_pending) {
				memset(&p, 0, sizeof(p));
				p.to = 1 - e;
				rel_ack_fields(&R[e], &p.ack, &p.bits);
				R[e].ack_pending = 0;
				sim_send(&p);
			}
		}
		if (sim.expect[0] == SIM_N + 1 && sim.expect[1] == SIM_N + 1 &&
		    rel_pending(&R[0]) == 0 && rel_pending(&R[1]) == 0)
			return steps;
		sim.now += SIM_STEP;
	}
	return steps;
}

static void sim_setup(uint64_t seed, unsigned loss, unsigned dup)
{
	memset(&sim, 0, sizeof(sim));
	sim.rng = seed;
	sim.loss = loss;
	sim.dup = dup;
	sim.delay_min = 10;
	sim.delay_span = 90; /* 10..99 ms: datagrams overtake each other */
}

static void simulate_lossy_link(void **state)
{
	unsigned long steps;

	(void)state;
	sim_setup(0x9E3779B97F4A7C15ULL, 20, 5);
	steps = sim_run();
	/* About 40 s of simulated time today; 120 s leaves room, a stall does not fit. */
	assert_true(steps < 12000);
	assert_int_equal(sim.expect[0], SIM_N + 1);
	assert_int_equal(sim.expect[1], SIM_N + 1);
	/* Retransmissions stay proportionate: not more than 3 DATA per message. */
	assert_true(sim.data_sent < 3UL * 2 * SIM_N);
}

static void simulate_clean_link(void **state)
{
	unsigned long steps;

	(void)state;
	/* No loss, still reordered: nothing should be sent twice. */
	sim_setup(12345, 0, 0);
	steps = sim_run();
	assert_true(steps < SIM_STEPS);
	assert_int_equal(sim.expect[0], SIM_N + 1);
	assert_int_equal(sim.expect[1], SIM_N + 1);
	assert_int_equal(sim.data_sent, 2UL * SIM_N);
}

static void simulate_several_seeds(void **state)
{
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 4; seed++) {
		sim_setup(seed * 0x100000001B3ULL, 30, 10);
		assert_true(sim_run() < SIM_STEPS);
		assert_int_equal(sim.expect[0], SIM_N + 1);
		assert_int_equal(sim.expect[1], SIM_N + 1);
		rel_free(&R[0]);
		rel_free(&R[1]);
		nnet = 0;
	}
}

/* Lazy windows: allocated on use, given back by rel_trim while idle. */

struct lz_sent {
	uint32_t seqs[256];
	size_t n;
};

static void lz_record(void *ctx, uint32_t seq, const struct blob *b)
{
	struct lz_sent *s = ctx;

	(void)b;
	if (s->n < 256)
		s->seqs[s->n++] = seq;
}

struct lz_got {
	char text[256];
	size_t len;
	int n;
};

static void lz_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct lz_got *g = ctx;

	memcpy(g->text + g->len, data, len);
	g->len += len;
	g->n++;
}

static void lz_queue_text(struct rel *r, const char *t)
{
	struct blob *b = blob_new(t, strlen(t));

	assert_int_equal(rel_queue(r, b), 0);
	blob_unref(b);
}

static void idle_has_no_windows(void **state)
{
	struct rel r;
	uint32_t ack, bits;

	(void)state;
	rel_init(&r);
	assert_null(r.win);
	assert_null(r.held);
	rel_ack_fields(&r, &ack, &bits);
	assert_int_equal(ack, 0);
	assert_int_equal(bits, 0);
	assert_none_in_flight(&r);
	assert_int_equal(rel_on_ack(&r, 0, 0xffffffffu, 10), 0);
	rel_free(&r);
}

static void send_window_allocated_then_trimmed(void **state)
{
	struct lz_sent s = {.n = 0};
	struct rel r;

	(void)state;
	rel_init(&r);
	lz_queue_text(&r, "a");
	lz_queue_text(&r, "b");
	rel_poll(&r, 100, lz_record, &s);
	assert_non_null(r.win);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seqs[0], 1);
	assert_int_equal(s.seqs[1], 2);
	rel_trim(&r); /* in flight: must keep the window */
	assert_non_null(r.win);
	assert_int_equal(rel_on_ack(&r, 2, 0, 150), 2);
	assert_int_equal(rel_pending(&r), 0);
	rel_trim(&r);
	assert_null(r.win);
	assert_null(r.q);
	/* Sequence numbers go on after a trim. */
	lz_queue_text(&r, "c");
	rel_poll(&r, 200, lz_record, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[2], 3);
	assert_int_equal(rel_on_ack(&r, 3, 0, 250), 1);
	rel_free(&r);
}

static void retransmits_after_trim_cycle(void **state)
{
	struct lz_sent s = {.n = 0};
	struct rel r;

	(void)state;
	rel_init(&r);
	lz_queue_text(&r, "x");
	rel_poll(&r, 1, lz_record, &s); /* times are never 0: first_sent 0 means "not sent" */
	assert_int_equal(rel_on_ack(&r, 1, 0, 10), 1);
	rel_trim(&r);
	lz_queue_text(&r, "y");
	rel_poll(&r, 1000, lz_record, &s);
	assert_int_equal(s.n, 2);
	/* Not acknowledged: sent again once its timer (at least REL_RTO_MIN) has run out. */
	rel_poll(&r, 1000 + REL_RTO_MAX, lz_record, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[2], 2);
	rel_free(&r);
}

static void reorder_window_allocated_then_trimmed(void **state)
{
	struct lz_got g = {.len = 0, .n = 0};
	struct rel r;
	uint32_t ack, bits;

	(void)state;
	rel_init(&r);
	assert_int_equal(rel_on_data(&r, 2, (const uint8_t *)"B", 1, lz_deliver, &g), 1);
	assert_non_null(r.held);
	assert_int_equal(g.n, 0);
	rel_ack_fields(&r, &ack, &bits);
	assert_int_equal(ack, 0);
	assert_int_equal(bits, 1); /* seq ack + 2 */
	rel_trim(&r);              /* something is held: keep it */
	assert_non_null(r.held);
	assert_int_equal(rel_on_data(&r, 1, (const uint8_t *)"A", 1, lz_deliver, &g), 1);
	assert_int_equal(g.n, 2);
	assert_memory_equal(g.text, "AB", 2);
	rel_ack_fields(&r, &ack, &bits);
	assert_int_equal(ack, 2);
	assert_int_equal(bits, 0);
	rel_trim(&r);
	assert_null(r.held);
	/* Duplicates are still recognised after the trim. */
	assert_int_equal(rel_on_data(&r, 2, (const uint8_t *)"B", 1, lz_deliver, &g), 0);
	assert_int_equal(rel_on_data(&r, 3, (const uint8_t *)"C", 1, lz_deliver, &g), 1);
	assert_int_equal(g.n, 3);
	rel_free(&r);
}

static void free_with_everything_allocated(void **state)
{
	struct lz_sent s = {.n = 0};
	struct lz_got g = {.len = 0, .n = 0};
	struct rel r;
	int i;

	(void)state;
	rel_init(&r);
	for (i = 0; i < REL_WINDOW + 10; i++)
		lz_queue_text(&r, "m");
	rel_poll(&r, 1, lz_record, &s);
	assert_int_equal(s.n, REL_SEND_WINDOW);
	assert_int_equal(rel_pending(&r), REL_WINDOW + 10);
	rel_on_data(&r, 5, (const uint8_t *)"E", 1, lz_deliver, &g);
	rel_free(&r); /* no leak under the sanitizer build */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define S(f) cmocka_unit_test_setup_teardown(f, setup, sim_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(blob_new_copies),
	    T(blob_empty_and_null),
	    T(blob_ref_counts),
	    T(init_state),
	    T(queue_sends_nothing),
	    T(first_send_on_poll),
	    T(seqs_start_at_one),
	    T(poll_before_due_sends_nothing),
	    T(poll_returns_earliest_due),
	    T(ack_releases),
	    T(ack_cumulative),
	    T(last_seq_and_acked_through),
	    T(ack_repeated_releases_nothing),
	    T(ack_stale_after_progress),
	    T(selective_ack_out_of_order),
	    T(selective_ack_base_stops_at_lowest_gap),
	    T(busy_follows_pending),
	    T(due_follows_earliest_timer),
	    T(due_waits_for_room),
	    T(due_across_32_bit_wrap),
	    T(ack_never_sent_ignored),
	    T(ack_bits_beyond_sent_ignored),
	    T(ack_queued_not_sent_ignored),
	    T(rto_initial),
	    T(retransmit_backoff),
	    T(retransmit_late_poll),
	    T(retransmit_same_blob),
	    T(retransmit_oldest_first),
	    T(rtt_first_sample),
	    T(rtt_second_sample),
	    T(rto_floor),
	    T(rto_floor_zero_sample),
	    T(delayed_ack_meets_no_retransmission),
	    T(rto_cap),
	    T(rto_applies_to_next_message),
	    T(karn_no_sample_from_retransmitted),
	    T(karn_sample_only_from_sent_once),
	    T(send_window_of_33),
	    T(queue_bound),
	    T(queue_keeps_order_across_growth),
	    T(queue_takes_reference),
	    T(receive_in_order),
	    T(receive_reordered),
	    T(receive_reversed_full_window),
	    T(receive_duplicate_delivered_once),
	    T(receive_duplicate_held_once),
	    T(receive_old_dropped),
	    T(receive_seq_zero_dropped),
	    T(receive_beyond_window_dropped),
	    T(receive_far_beyond_window_dropped),
	    T(receive_window_moves_with_delivery),
	    T(ack_fields_in_order),
	    T(ack_fields_after_gaps),
	    T(ack_fields_release_sender),
	    T(ack_pending_on_data),
	    T(ack_pending_not_set_by_ack),
	    T(oldest_tracks_first_unacked),
	    T(oldest_skips_selectively_acked),
	    T(oldest_at_time_zero),
	    T(pending_counts_queue_and_flight),
	    T(blob_shared_by_three),
	    T(free_drops_every_reference),
	    T(free_then_init_reuses),
	    T(idle_has_no_windows),
	    T(send_window_allocated_then_trimmed),
	    T(retransmits_after_trim_cycle),
	    T(reorder_window_allocated_then_trimmed),
	    T(free_with_everything_allocated),
	    S(simulate_lossy_link),
	    S(simulate_clean_link),
	    S(simulate_several_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
