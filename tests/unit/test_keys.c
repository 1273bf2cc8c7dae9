/* test_keys.c - unit tests of src/qun/keys.c: where the next key ends in bytes from a terminal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "qun/keys.h"

static size_t len_of(const char *s)
{
	return keys_length((const unsigned char *)s, strlen(s));
}

static void empty_is_incomplete(void **state)
{
	(void)state;
	assert_int_equal(keys_length((const unsigned char *)"", 0), 0);
}

static void ascii_is_one_byte(void **state)
{
	(void)state;
	assert_int_equal(len_of("a"), 1);
	assert_int_equal(len_of("ab"), 1);
	assert_int_equal(len_of("\r"), 1);
	assert_int_equal(len_of("\x7f"), 1);
}

static void utf8_waits_for_its_last_byte(void **state)
{
	(void)state;
	assert_int_equal(len_of("\xe4\xbd\xa0x"), 3); /* 你 */
	assert_int_equal(len_of("\xe4\xbd"), 0);
	assert_int_equal(len_of("\xf0\x9f\x8c"), 0);
	assert_int_equal(len_of("\xf0\x9f\x8c\x8f"), 4); /* 🌏 */
	assert_int_equal(len_of("\xc3\xa9"), 2);
}

static void invalid_byte_alone(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x80z"), 1);
	assert_int_equal(len_of("\xff"), 1);
	assert_int_equal(len_of("\xc0\x80"), 1);
}

static void lone_esc_waits(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1b"), 0);
}

/* The finding: ESC [ A cut after ESC or after ESC [ is not a key yet. */
static void arrow_split_waits(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1b["), 0);
	assert_int_equal(len_of("\x1b[A"), 3);
	assert_int_equal(len_of("\x1b[Ahello"), 3);
}

static void csi_with_parameters(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1b[1;5"), 0);
	assert_int_equal(len_of("\x1b[1;5D"), 6);
	assert_int_equal(len_of("\x1b[3~"), 4);
	assert_int_equal(len_of("\x1b[200~pasted"), 6);
}

static void csi_broken_ends_before_the_stranger(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1b[1\x1b[A"), 3);
	assert_int_equal(len_of("\x1b[\r"), 2);
}

static void csi_too_long_is_ended(void **state)
{
	char s[KEYS_SEQ_MAX + 8];

	(void)state;
	memset(s, '1', sizeof s - 1);
	s[0] = '\x1b';
	s[1] = '[';
	s[sizeof s - 1] = '\0';
	assert_int_equal(len_of(s), KEYS_SEQ_MAX);
}

static void ss3(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1bO"), 0);
	assert_int_equal(len_of("\x1bOH"), 3);
}

static void meta_key(void **state)
{
	(void)state;
	assert_int_equal(len_of("\x1b"
	                        "b"),
	                 2);
	assert_int_equal(len_of("\x1b\xe4\xbd"), 0);
	assert_int_equal(len_of("\x1b\xe4\xbd\xa0"), 4);
	assert_int_equal(len_of("\x1b\x1b[A"), 4);
	assert_int_equal(len_of("\x1b\x1b["), 0);
}

/*
 * Issue 16: a key cut anywhere by a read (a message shown in between) is
 * not a key until its last byte, then exactly itself, whatever follows.
 * The keys qun binds or a terminal sends for Up, Left, Home, End, Delete,
 * Ctrl-Left, Meta, and the UTF-8 of CJK characters and an emoji.
 */
static void every_cut_of_a_key_waits(void **state)
{
	static const char *const keys[] = {
	    "\x1b[A",
	    "\x1b[D",
	    "\x1bOA",
	    "\x1b[H",
	    "\x1bOH",
	    "\x1b[F",
	    "\x1bOF",
	    "\x1b[1~",
	    "\x1b[4~",
	    "\x1b[3~",
	    "\x1b[1;5D",
	    "\x1b[200~",
	    "\x1b"
	    "b",
	    "\x1b\x1b[A",
	    "\xe5\xad\x97",
	    "\xe4\xb8\xad",
	    "\xc3\xa9",
	    "\xf0\x9f\x8c\x8f",
	};
	static const char *const next[] = {"", "x", "\x1b[B", "\xe4\xbd\xa0"};
	char buf[64];
	size_t i, j, cut, n;

	(void)state;
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		n = strlen(keys[i]);
		for (cut = 1; cut < n; cut++)
			assert_int_equal(keys_length((const unsigned char *)keys[i], cut), 0);
		for (j = 0; j < sizeof next / sizeof next[0]; j++) {
			assert_true(n + strlen(next[j]) < sizeof buf);
			memcpy(buf, keys[i], n);
			memcpy(buf + n, next[j], strlen(next[j]));
			assert_int_equal(
			    keys_length((const unsigned char *)buf, n + strlen(next[j])), n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_is_incomplete),
	    cmocka_unit_test(ascii_is_one_byte),
	    cmocka_unit_test(utf8_waits_for_its_last_byte),
	    cmocka_unit_test(invalid_byte_alone),
	    cmocka_unit_test(lone_esc_waits),
	    cmocka_unit_test(arrow_split_waits),
	    cmocka_unit_test(csi_with_parameters),
	    cmocka_unit_test(csi_broken_ends_before_the_stranger),
	    cmocka_unit_test(csi_too_long_is_ended),
	    cmocka_unit_test(ss3),
	    cmocka_unit_test(meta_key),
	    cmocka_unit_test(every_cut_of_a_key_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
