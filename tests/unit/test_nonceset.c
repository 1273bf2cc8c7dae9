/* test_nonceset.c - unit tests of src/qund/nonceset.c: retired login nonces and their two
 * generations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "qund/nonceset.h"

static const unsigned char key[16] = "0123456789abcdef";

static void empty_set_retires_nothing(void **state)
{
	struct nonceset s;

	(void)state;
	nonceset_init(&s, key);
	assert_false(nonceset_retired(&s, 1));
	assert_false(nonceset_retired(&s, 0));
	assert_int_equal(nonceset_count(&s), 0);
	nonceset_free(&s);
}

static void retired_nonce_is_found_and_only_it(void **state)
{
	struct nonceset s;

	(void)state;
	nonceset_init(&s, key);
	assert_int_equal(nonceset_retire(&s, 0x1234), 0);
	assert_true(nonceset_retired(&s, 0x1234));
	assert_false(nonceset_retired(&s, 0x1235));
	assert_int_equal(nonceset_retire(&s, 0x1234), 0); /* twice: kept once */
	assert_int_equal(nonceset_count(&s), 1);
	assert_int_equal(nonceset_retire(&s, 0), 0); /* 0 is a nonce too */
	assert_true(nonceset_retired(&s, 0));
	assert_int_equal(nonceset_count(&s), 2);
	nonceset_free(&s);
}

/* A nonce lives through one rotation of the cookie secrets and is gone after the second. */
static void nonce_kept_for_two_rotations(void **state)
{
	struct nonceset s;

	(void)state;
	nonceset_init(&s, key);
	nonceset_retire(&s, 7);
	nonceset_retire(&s, 0);
	nonceset_rotate(&s);
	assert_true(nonceset_retired(&s, 7));
	assert_true(nonceset_retired(&s, 0));
	nonceset_retire(&s, 8);
	nonceset_rotate(&s);
	assert_false(nonceset_retired(&s, 7));
	assert_false(nonceset_retired(&s, 0));
	assert_true(nonceset_retired(&s, 8));
	nonceset_rotate(&s);
	assert_false(nonceset_retired(&s, 8));
	assert_int_equal(nonceset_count(&s), 0);
	nonceset_free(&s);
}

/* Many nonces: the table grows and keeps every one (and finds no other). */
static void many_nonces_all_kept(void **state)
{
	struct nonceset s;
	uint64_t i;

	(void)state;
	nonceset_init(&s, key);
	for (i = 1; i <= 100000; i++)
		assert_int_equal(nonceset_retire(&s, i * 0x9E3779B97F4A7C15ull), 0);
	assert_int_equal(nonceset_count(&s), 100000);
	for (i = 1; i <= 100000; i++)
		assert_true(nonceset_retired(&s, i * 0x9E3779B97F4A7C15ull));
	for (i = 100001; i <= 101000; i++)
		assert_false(nonceset_retired(&s, i * 0x9E3779B97F4A7C15ull));
	nonceset_clear(&s);
	assert_int_equal(nonceset_count(&s), 0);
	assert_false(nonceset_retired(&s, 0x9E3779B97F4A7C15ull));
	nonceset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_set_retires_nothing),
	    cmocka_unit_test(retired_nonce_is_found_and_only_it),
	    cmocka_unit_test(nonce_kept_for_two_rotations),
	    cmocka_unit_test(many_nonces_all_kept),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
