/* test_buf.c - unit tests of src/common/buf.c: growth, the size cap that never cuts silently, JSON
 * strings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/buf.h"

static void add_and_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	buf_puts(&b, "members: ");
	buf_printf(&b, "%d", 42);
	buf_add(&b, "\n", 1);
	assert_string_equal(b.data, "members: 42\n");
	assert_int_equal(b.len, 12);
	assert_false(b.overflow);
	buf_free(&b);
}

static void grows_past_first_allocation(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < 10000; i++)
		buf_puts(&b, "0123456789");
	assert_int_equal(b.len, 100000);
	assert_int_equal(strlen(b.data), 100000);
	buf_free(&b);
}

static void long_printf(void **state)
{
	struct buf b;
	char big[3000];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_init(&b, 1 << 20);
	buf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, sizeof big + 1);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[b.len - 1], '>');
	buf_free(&b);
}

static void cap_refuses_whole_piece(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	buf_puts(&b, "12345");
	buf_puts(&b, "6789");
	assert_true(b.overflow);
	assert_string_equal(b.data, "12345");
	/* Once over, nothing more is added, even what would fit. */
	buf_puts(&b, "a");
	assert_string_equal(b.data, "12345");
	buf_free(&b);
}

static void cap_exactly_reached_is_fine(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	buf_puts(&b, "12345678");
	assert_false(b.overflow);
	assert_int_equal(b.len, 8);
	buf_free(&b);
}

static void reset_clears_overflow(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4);
	buf_puts(&b, "too long");
	buf_reset(&b);
	assert_false(b.overflow);
	buf_puts(&b, "ok");
	assert_string_equal(b.data, "ok");
	buf_free(&b);
}

static void json_plain_and_utf8(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	buf_json_str(&b, "张三 alice", strlen("张三 alice"));
	assert_string_equal(b.data, "\"张三 alice\"");
	buf_free(&b);
}

static void json_escapes(void **state)
{
	struct buf b;
	static const char in[] = "a\"b\\c\n\x1b[0m\x7f\x01";

	(void)state;
	buf_init(&b, 1024);
	buf_json_str(&b, in, sizeof in - 1);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u001b[0m\\u007f\\u0001\"");
	buf_free(&b);
}

static void json_embedded_nul(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	buf_json_str(&b, "a\0b", 3);
	assert_string_equal(b.data, "\"a\\u0000b\"");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(add_and_printf),
	    cmocka_unit_test(grows_past_first_allocation),
	    cmocka_unit_test(long_printf),
	    cmocka_unit_test(cap_refuses_whole_piece),
	    cmocka_unit_test(cap_exactly_reached_is_fine),
	    cmocka_unit_test(reset_clears_overflow),
	    cmocka_unit_test(json_plain_and_utf8),
	    cmocka_unit_test(json_escapes),
	    cmocka_unit_test(json_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
