/* test_members.c - unit tests of src/qun/members.c: the client's member list and name completion.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "qun/members.h"

static struct members m;

static int reset(void **state)
{
	(void)state;
	members_clear(&m);
	return 0;
}

static int add(const char *name)
{
	return members_add(&m, name, strlen(name));
}

static size_t complete(const char *prefix, const char **matches, size_t max, char *common,
                       size_t size)
{
	return members_complete(&m, prefix, strlen(prefix), matches, max, common, size);
}

/* Adding and removing */

static void add_keeps_sorted(void **state)
{
	(void)state;
	assert_int_equal(add("carol"), 1);
	assert_int_equal(add("alice"), 1);
	assert_int_equal(add("bob"), 1);
	assert_int_equal(add("小明"), 1);
	assert_int_equal(add("Zed"), 1);
	assert_int_equal(m.count, 5);
	assert_string_equal(m.name[0], "Zed");
	assert_string_equal(m.name[1], "alice");
	assert_string_equal(m.name[2], "bob");
	assert_string_equal(m.name[3], "carol");
	assert_string_equal(m.name[4], "小明");
}

static void add_prefix_sorts_first(void **state)
{
	(void)state;
	add("alice2");
	add("alice");
	add("al");
	assert_string_equal(m.name[0], "al");
	assert_string_equal(m.name[1], "alice");
	assert_string_equal(m.name[2], "alice2");
}

static void add_twice_is_once(void **state)
{
	(void)state;
	assert_int_equal(add("alice"), 1);
	assert_int_equal(add("alice"), 0);
	assert_int_equal(m.count, 1);
}

static void add_case_variant_respells(void **state)
{
	(void)state;
	add("alice");
	add("bob");
	/* One member, as in the room: the newest spelling wins. */
	assert_int_equal(add("Alice"), 1);
	assert_int_equal(m.count, 2);
	assert_string_equal(m.name[0], "Alice");
	assert_int_equal(add("ＡＬＩＣＥ"), 1);
	assert_int_equal(m.count, 2);
}

static void add_refuses_invalid_names(void **state)
{
	(void)state;
	assert_int_equal(add(""), -1);
	assert_int_equal(add("al ice"), -1);
	assert_int_equal(add("evil\033[2J"), -1);
	assert_int_equal(add("\xe2\x80\xae"
	                     "bob"),
	                 -1);
	assert_int_equal(add("admin"), -1);
	assert_int_equal(add("abcdefghijklmnopqrstuvwxyz0123456"), -1); /* 33 bytes */
	assert_int_equal(members_add(&m, "\xff", 1), -1);
	assert_int_equal(m.count, 0);
}

static void add_until_full(void **state)
{
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < MEMBERS_MAX; i++) {
		snprintf(name, sizeof name, "u%04d", i);
		assert_int_equal(add(name), 1);
	}
	assert_int_equal(add("one_more"), -1);
	assert_int_equal(add("u0007"), 0); /* already there: fine when full */
	assert_int_equal(m.count, MEMBERS_MAX);
	assert_string_equal(m.name[MEMBERS_MAX - 1], "u1023");
}

static void remove_any_case(void **state)
{
	(void)state;
	add("alice");
	add("bob");
	assert_int_equal(members_remove(&m, "ALICE", 5), 1);
	assert_int_equal(m.count, 1);
	assert_string_equal(m.name[0], "bob");
	assert_int_equal(members_remove(&m, "alice", 5), 0);
	assert_int_equal(members_remove(&m, "\xff", 1), 0);
}

static void clear_empties(void **state)
{
	(void)state;
	add("alice");
	members_clear(&m);
	assert_int_equal(m.count, 0);
}

/* Completion */

static void complete_one(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("alice");
	add("bob");
	assert_int_equal(complete("b", got, 4, common, sizeof common), 1);
	assert_string_equal(got[0], "bob");
	assert_string_equal(common, "bob");
}

static void complete_none(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("alice");
	assert_int_equal(complete("z", got, 4, common, sizeof common), 0);
	assert_string_equal(common, "");
}

static void complete_ignores_ascii_case(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("Alice");
	assert_int_equal(complete("al", got, 4, common, sizeof common), 1);
	assert_string_equal(got[0], "Alice");
}

static void complete_several_common_prefix(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("albert");
	add("alice");
	add("bob");
	assert_int_equal(complete("a", got, 4, common, sizeof common), 2);
	assert_string_equal(got[0], "albert");
	assert_string_equal(got[1], "alice");
	assert_string_equal(common, "al");
}

static void complete_common_spelled_as_first(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("ALbert");
	add("alice");
	assert_int_equal(complete("a", got, 4, common, sizeof common), 2);
	assert_string_equal(common, "AL");
}

static void complete_empty_prefix_lists_all(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("alice");
	add("bob");
	assert_int_equal(complete("", got, 4, common, sizeof common), 2);
	assert_string_equal(common, "");
}

static void complete_cjk(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	add("小明");
	add("小红");
	add("大卫");
	assert_int_equal(complete("小", got, 4, common, sizeof common), 2);
	assert_string_equal(common, "小");
	assert_int_equal(complete("小明", got, 4, common, sizeof common), 1);
}

static void complete_common_never_cuts_a_character(void **state)
{
	const char *got[4];
	char common[40];

	(void)state;
	/* 你 is E4 BD A0, 佢 is E4 BD A2: two bytes in common, no whole character. */
	add("你a");
	add("佢b");
	assert_int_equal(complete("", got, 4, common, sizeof common), 2);
	assert_string_equal(common, "");
}

static void complete_counts_past_max(void **state)
{
	const char *got[2];
	char common[40];

	(void)state;
	add("a1");
	add("a2");
	add("a3");
	assert_int_equal(complete("a", got, 2, common, sizeof common), 3);
	assert_string_equal(got[1], "a2");
	assert_string_equal(common, "a");
}

static void complete_small_common_buffer(void **state)
{
	const char *got[2];
	char common[4];

	(void)state;
	add("alexander");
	assert_int_equal(complete("a", got, 2, common, sizeof common), 1);
	assert_string_equal(common, "ale");
	/* Cut to fit, still at a character boundary. */
	members_clear(&m);
	add("小明");
	assert_int_equal(complete("", got, 2, common, sizeof common), 1);
	assert_string_equal(common, "小");
}

static void complete_prefix_longer_than_names(void **state)
{
	const char *got[2];
	char common[40];

	(void)state;
	add("al");
	assert_int_equal(complete("alice", got, 2, common, sizeof common), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(add_keeps_sorted, reset),
	    cmocka_unit_test_setup(add_prefix_sorts_first, reset),
	    cmocka_unit_test_setup(add_twice_is_once, reset),
	    cmocka_unit_test_setup(add_case_variant_respells, reset),
	    cmocka_unit_test_setup(add_refuses_invalid_names, reset),
	    cmocka_unit_test_setup(add_until_full, reset),
	    cmocka_unit_test_setup(remove_any_case, reset),
	    cmocka_unit_test_setup(clear_empties, reset),
	    cmocka_unit_test_setup(complete_one, reset),
	    cmocka_unit_test_setup(complete_none, reset),
	    cmocka_unit_test_setup(complete_ignores_ascii_case, reset),
	    cmocka_unit_test_setup(complete_several_common_prefix, reset),
	    cmocka_unit_test_setup(complete_common_spelled_as_first, reset),
	    cmocka_unit_test_setup(complete_empty_prefix_lists_all, reset),
	    cmocka_unit_test_setup(complete_cjk, reset),
	    cmocka_unit_test_setup(complete_common_never_cuts_a_character, reset),
	    cmocka_unit_test_setup(complete_counts_past_max, reset),
	    cmocka_unit_test_setup(complete_small_common_buffer, reset),
	    cmocka_unit_test_setup(complete_prefix_longer_than_names, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
