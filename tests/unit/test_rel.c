/* test_rel.c - unit tests of v2 reliability (rel.c): lazy windows, trimming, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rel.h"

struct sent {
	uint32_t seqs[256];
	size_t n;
};

static void record(void *ctx, uint32_t seq, const struct blob *b)
{
	struct sent *s = ctx;

	(void)b;
	if (s->n < 256)
		s->seqs[s->n++] = seq;
}

struct got {
	char text[256];
	size_t len;
	int n;
};

static void deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct got *g = ctx;

	memcpy(g->text + g->len, data, len);
	g->len += len;
	g->n++;
}

static void queue_text(struct rel *r, const char *t)
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
	assert_int_equal(rel_oldest(&r), 0);
	assert_int_equal(rel_on_ack(&r, 0, 0xffffffffu, 10), 0);
	rel_free(&r);
}

static void send_window_allocated_then_trimmed(void **state)
{
	struct sent s = {.n = 0};
	struct rel r;

	(void)state;
	rel_init(&r);
	queue_text(&r, "a");
	queue_text(&r, "b");
	rel_poll(&r, 100, record, &s);
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
	assert_null(r.queue);
	/* Sequence numbers go on after a trim. */
	queue_text(&r, "c");
	rel_poll(&r, 200, record, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[2], 3);
	assert_int_equal(rel_on_ack(&r, 3, 0, 250), 1);
	rel_free(&r);
}

static void retransmits_after_trim_cycle(void **state)
{
	struct sent s = {.n = 0};
	struct rel r;

	(void)state;
	rel_init(&r);
	queue_text(&r, "x");
	rel_poll(&r, 1, record, &s); /* times are never 0: first_sent 0 means "not sent" */
	assert_int_equal(rel_on_ack(&r, 1, 0, 10), 1);
	rel_trim(&r);
	queue_text(&r, "y");
	rel_poll(&r, 1000, record, &s);
	assert_int_equal(s.n, 2);
	/* Not acknowledged: sent again once its timer (at least REL_RTO_MIN) has run out. */
	rel_poll(&r, 1000 + REL_RTO_MAX, record, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[2], 2);
	rel_free(&r);
}

static void reorder_window_allocated_then_trimmed(void **state)
{
	struct got g = {.len = 0, .n = 0};
	struct rel r;
	uint32_t ack, bits;

	(void)state;
	rel_init(&r);
	assert_int_equal(rel_on_data(&r, 2, (const uint8_t *)"B", 1, deliver, &g), 1);
	assert_non_null(r.held);
	assert_int_equal(g.n, 0);
	rel_ack_fields(&r, &ack, &bits);
	assert_int_equal(ack, 0);
	assert_int_equal(bits, 1); /* seq ack + 2 */
	rel_trim(&r);              /* something is held: keep it */
	assert_non_null(r.held);
	assert_int_equal(rel_on_data(&r, 1, (const uint8_t *)"A", 1, deliver, &g), 1);
	assert_int_equal(g.n, 2);
	assert_memory_equal(g.text, "AB", 2);
	rel_ack_fields(&r, &ack, &bits);
	assert_int_equal(ack, 2);
	assert_int_equal(bits, 0);
	rel_trim(&r);
	assert_null(r.held);
	/* Duplicates are still recognised after the trim. */
	assert_int_equal(rel_on_data(&r, 2, (const uint8_t *)"B", 1, deliver, &g), 0);
	assert_int_equal(rel_on_data(&r, 3, (const uint8_t *)"C", 1, deliver, &g), 1);
	assert_int_equal(g.n, 3);
	rel_free(&r);
}

static void free_with_everything_allocated(void **state)
{
	struct sent s = {.n = 0};
	struct got g = {.len = 0, .n = 0};
	struct rel r;
	int i;

	(void)state;
	rel_init(&r);
	for (i = 0; i < REL_WINDOW + 10; i++)
		queue_text(&r, "m");
	rel_poll(&r, 1, record, &s);
	assert_int_equal(s.n, REL_WINDOW);
	assert_int_equal(rel_pending(&r), REL_WINDOW + 10);
	rel_on_data(&r, 5, (const uint8_t *)"E", 1, deliver, &g);
	rel_free(&r); /* no leak under the sanitizer build */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(idle_has_no_windows),
	    cmocka_unit_test(send_window_allocated_then_trimmed),
	    cmocka_unit_test(retransmits_after_trim_cycle),
	    cmocka_unit_test(reorder_window_allocated_then_trimmed),
	    cmocka_unit_test(free_with_everything_allocated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
