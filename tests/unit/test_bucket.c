/* test_bucket.c - unit tests of src/common/bucket.c: burst, steady refill, caps and odd clocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/bucket.h"

/* The flood-control defaults of the spec: 5 at once, then 2 per second. */
#define BURST 5
#define RATE  2
#define T0    100000

/* Helpers */

static void new_bucket(struct bucket *b)
{
	memset(b, 0, sizeof(*b));
}

/* Take until the bucket refuses (all at time now); returns how many were taken. */
static unsigned drain(struct bucket *b, uint64_t now, unsigned burst, unsigned rate)
{
	unsigned n = 0;

	while (bucket_take(b, now, burst, rate)) {
		n++;
		assert_true(n <= burst);
	}
	return n;
}

/* bucket_take */

static void starts_full(void **state)
{
	struct bucket b;
	unsigned i;

	(void)state;
	new_bucket(&b);
	for (i = 0; i < BURST; i++)
		assert_int_equal(bucket_take(&b, T0, BURST, RATE), 1);
	assert_int_equal(bucket_take(&b, T0, BURST, RATE), 0);
}

static void starts_full_at_time_zero(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	assert_int_equal(drain(&b, 0, BURST, RATE), BURST);
}

static void empty_stays_empty(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	assert_int_equal(bucket_take(&b, T0, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0, BURST, RATE), 0);
}

static void refill_half_second(void **state)
{
	struct bucket b;

	(void)state;
	/* 2 per second: after 500 ms exactly one token, not before. */
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	assert_int_equal(bucket_take(&b, T0 + 499, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 500, BURST, RATE), 1);
	assert_int_equal(bucket_take(&b, T0 + 500, BURST, RATE), 0);
}

static void refill_one_second(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	assert_int_equal(drain(&b, T0 + 1000, BURST, RATE), RATE);
}

static void refill_partial_steps_add_up(void **state)
{
	struct bucket b;

	(void)state;
	/* Failed takes must not throw away the fraction gathered so far. */
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	assert_int_equal(bucket_take(&b, T0 + 200, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 400, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 500, BURST, RATE), 1);
	assert_int_equal(bucket_take(&b, T0 + 999, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 1000, BURST, RATE), 1);
}

static void refill_steady_rate(void **state)
{
	struct bucket b;
	unsigned taken = 0;
	uint64_t t;

	(void)state;
	/* Asking every 10 ms for 10 s after the burst: exactly rate x 10 more. */
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	for (t = T0 + 10; t <= T0 + 10000; t += 10)
		taken += (unsigned)bucket_take(&b, t, BURST, RATE);
	assert_int_equal(taken, RATE * 10);
}

static void refill_never_above_burst(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	/* An hour idle still gives only a burst. */
	assert_int_equal(drain(&b, T0 + 3600 * 1000, BURST, RATE), BURST);
}

static void full_bucket_idle_stays_full(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	assert_int_equal(bucket_take(&b, T0, BURST, RATE), 1);
	assert_int_equal(drain(&b, T0 + 24 * 3600 * 1000ULL, BURST, RATE), BURST);
}

static void clock_backwards_adds_nothing(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	drain(&b, T0, BURST, RATE);
	assert_int_equal(bucket_take(&b, T0 - 1000, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, 0, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0, BURST, RATE), 0);
	/* And the refill still counts from the latest time seen. */
	assert_int_equal(bucket_take(&b, T0 + 499, BURST, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 500, BURST, RATE), 1);
}

static void rate_zero_never_refills(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	assert_int_equal(drain(&b, T0, 3, 0), 3);
	assert_int_equal(bucket_take(&b, T0 + 1000, 3, 0), 0);
	assert_int_equal(bucket_take(&b, T0 + 3600 * 1000, 3, 0), 0);
}

static void burst_zero_never_takes(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	assert_int_equal(bucket_take(&b, T0, 0, RATE), 0);
	assert_int_equal(bucket_take(&b, T0 + 10000, 0, RATE), 0);
}

static void burst_one(void **state)
{
	struct bucket b;

	(void)state;
	new_bucket(&b);
	assert_int_equal(bucket_take(&b, T0, 1, 10), 1);
	assert_int_equal(bucket_take(&b, T0 + 99, 1, 10), 0);
	assert_int_equal(bucket_take(&b, T0 + 100, 1, 10), 1); /* 10/s: one per 100 ms */
}

static void high_rate(void **state)
{
	struct bucket b;

	(void)state;
	/* The total unvalidated-source limit: 1000 per second, one per ms. */
	new_bucket(&b);
	assert_int_equal(drain(&b, T0, 1000, 1000), 1000);
	assert_int_equal(bucket_take(&b, T0 + 1, 1000, 1000), 1);
	assert_int_equal(bucket_take(&b, T0 + 1, 1000, 1000), 0);
	assert_int_equal(drain(&b, T0 + 11, 1000, 1000), 10);
}

static void buckets_independent(void **state)
{
	struct bucket a, b;

	(void)state;
	new_bucket(&a);
	new_bucket(&b);
	drain(&a, T0, BURST, RATE);
	assert_int_equal(drain(&b, T0, BURST, RATE), BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(starts_full),
	    cmocka_unit_test(starts_full_at_time_zero),
	    cmocka_unit_test(empty_stays_empty),
	    cmocka_unit_test(refill_half_second),
	    cmocka_unit_test(refill_one_second),
	    cmocka_unit_test(refill_partial_steps_add_up),
	    cmocka_unit_test(refill_steady_rate),
	    cmocka_unit_test(refill_never_above_burst),
	    cmocka_unit_test(full_bucket_idle_stays_full),
	    cmocka_unit_test(clock_backwards_adds_nothing),
	    cmocka_unit_test(rate_zero_never_refills),
	    cmocka_unit_test(burst_zero_never_takes),
	    cmocka_unit_test(burst_one),
	    cmocka_unit_test(high_rate),
	    cmocka_unit_test(buckets_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
