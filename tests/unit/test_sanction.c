/* test_sanction.c - unit tests of src/qund/sanction.c: durations, bans by name and address, mutes,
 * expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "qund/sanction.h"

#define S(x) x, strlen(x)
#define MIN  (60ULL * 1000)

static struct peer_addr v4(const char *ip, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof a);
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	a.len = sizeof *sin;
	return a;
}

static struct peer_addr v6(const char *ip, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;

	memset(&a, 0, sizeof a);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	a.len = sizeof *sin6;
	return a;
}

static int setup(void **state)
{
	*state = sanction_new();
	return 0;
}

static int teardown(void **state)
{
	sanction_free(*state);
	return 0;
}

/* ---- durations ---- */

static void duration_plain_number_is_seconds(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(sanction_parse_duration(S("90"), &ms), 0);
	assert_int_equal(ms, 90000);
}

static void duration_units(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} cases[] = {
	    {"45s", 45000},         {"15m", 15 * MIN},       {"2h", 120 * MIN},
	    {"7d", 7 * 1440 * MIN}, {"2w", 14 * 1440 * MIN}, {"3650d", SANCTION_MAX_MS},
	};
	size_t i;
	uint64_t ms;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(sanction_parse_duration(S(cases[i].text), &ms), 0);
		assert_int_equal(ms, cases[i].ms);
	}
}

static void duration_refuses_bad_text(void **state)
{
	static const char *const bad[] = {
	    "",    "0",    "0s",    "s",    "-5", "5x", "5 m",
	    "5mm", "1.5h", "3651d", "522w", " 5", "5 ", "99999999999999999999999"};
	size_t i;
	uint64_t ms = 77;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(sanction_parse_duration(S(bad[i]), &ms), -1);
		assert_int_equal(ms, 77);
	}
}

static void duration_counts_only_n_bytes(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(sanction_parse_duration("15mXYZ", 3, &ms), 0);
	assert_int_equal(ms, 15 * MIN);
}

static void duration_format(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(sanction_format_duration(0, buf, sizeof buf), "0s");
	assert_string_equal(sanction_format_duration(1, buf, sizeof buf), "1s");
	assert_string_equal(sanction_format_duration(45000, buf, sizeof buf), "45s");
	assert_string_equal(sanction_format_duration(125 * MIN, buf, sizeof buf), "2h5m");
	assert_string_equal(sanction_format_duration(3 * 1440 * MIN + 1000, buf, sizeof buf),
	                    "3d1s");
}

static void duration_format_small_buffer_terminated(void **state)
{
	char buf[4] = {'Z', 'Z', 'Z', 'Z'};

	(void)state;
	sanction_format_duration(3 * 1440 * MIN + 1000, buf, sizeof buf);
	assert_non_null(memchr(buf, '\0', sizeof buf));
}

/* ---- targets ---- */

static void target_classification(void **state)
{
	(void)state;
	assert_true(sanction_is_addr_target(S("10.0.0.1")));
	assert_true(sanction_is_addr_target(S("10.0.0.0/8")));
	assert_true(sanction_is_addr_target(S("::1")));
	assert_true(sanction_is_addr_target(S("[2001:db8::1]")));
	assert_true(sanction_is_addr_target(S("2001:db8::/32")));
	assert_false(sanction_is_addr_target(S("alice")));
	assert_false(sanction_is_addr_target(S("张三")));
	assert_false(sanction_is_addr_target(S("1.2.3")));
	assert_false(sanction_is_addr_target(S("a/b")));
}

static void canonical_forms(void **state)
{
	char out[SANCTION_TARGET_MAX];

	(void)state;
	assert_int_equal(sanction_canonical(S("10.1.2.3/8"), out, sizeof out), 0);
	assert_string_equal(out, "10.0.0.0/8");
	assert_int_equal(sanction_canonical(S("[2001:DB8:0::1]"), out, sizeof out), 0);
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(sanction_canonical(S("::ffff:192.0.2.7"), out, sizeof out), 0);
	assert_string_equal(out, "192.0.2.7");
	assert_int_equal(sanction_canonical(S("Alice"), out, sizeof out), 0);
	assert_string_equal(out, "Alice");
	assert_int_equal(sanction_canonical(S("al ice"), out, sizeof out), -1);
	assert_string_equal(out, "");
}

/* ---- bans by name ---- */

static void ban_name_blocks_that_name(void **state)
{
	struct sanctions *s = *state;
	enum sanction_kind kind = SANCTION_MUTE;

	assert_int_equal(sanction_ban(s, S("alice"), 0, 0, &kind), SANCTION_OK);
	assert_int_equal(kind, SANCTION_BAN_NAME);
	assert_true(sanction_is_banned(s, S("alice"), NULL, 0));
	assert_false(sanction_is_banned(s, S("bob"), NULL, 0));
}

static void ban_name_is_case_and_width_insensitive(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_ban(s, S("Alice"), 0, 0, NULL), SANCTION_OK);
	assert_true(sanction_is_banned(s, S("alice"), NULL, 0));
	assert_true(sanction_is_banned(s, S("ALICE"), NULL, 0));
	assert_true(sanction_is_banned(s, S("ａｌｉｃｅ"), NULL, 0));
}

static void ban_name_does_not_cover_its_address(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr a = v4("192.0.2.1", 4000);

	sanction_ban(s, S("alice"), 0, 0, NULL);
	assert_false(sanction_is_banned(s, S("bob"), &a, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &a, 0));
}

static void ban_refuses_invalid_names(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_ban(s, S(""), 0, 0, NULL), SANCTION_BAD_NAME);
	assert_int_equal(sanction_ban(s, S("al ice"), 0, 0, NULL), SANCTION_BAD_NAME);
	assert_int_equal(sanction_ban(s, S("a\x1b[31m"), 0, 0, NULL), SANCTION_BAD_NAME);
	assert_int_equal(sanction_ban(s, S("\xff"), 0, 0, NULL), SANCTION_BAD_NAME);
	assert_int_equal(sanction_ban(s, S("abcdefghijabcdefghijabcdefghijabc"), 0, 0, NULL),
	                 SANCTION_BAD_NAME);
	assert_int_equal(sanction_count(s, SANCTION_BAN_NAME), 0);
}

static void ban_again_updates_expiry(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_ban(s, S("alice"), 0, MIN, NULL), SANCTION_OK);
	assert_int_equal(sanction_ban(s, S("ALICE"), 0, 10 * MIN, NULL), SANCTION_UPDATED);
	assert_int_equal(sanction_count(s, SANCTION_BAN_NAME), 1);
	assert_true(sanction_is_banned(s, S("alice"), NULL, 5 * MIN));
	assert_false(sanction_is_banned(s, S("alice"), NULL, 10 * MIN));
}

static void unban_name(void **state)
{
	struct sanctions *s = *state;

	sanction_ban(s, S("alice"), 0, 0, NULL);
	assert_int_equal(sanction_unban(s, S("Alice"), 0), SANCTION_OK);
	assert_false(sanction_is_banned(s, S("alice"), NULL, 0));
	assert_int_equal(sanction_unban(s, S("alice"), 0), SANCTION_NOT_FOUND);
}

static void unban_of_lapsed_ban_is_not_found(void **state)
{
	struct sanctions *s = *state;

	sanction_ban(s, S("alice"), 0, MIN, NULL);
	assert_int_equal(sanction_unban(s, S("alice"), MIN), SANCTION_NOT_FOUND);
	assert_int_equal(sanction_count(s, SANCTION_BAN_NAME), 0);
}

/* ---- bans by address ---- */

static void ban_addr_covers_every_port(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr a = v4("192.0.2.1", 4000), b = v4("192.0.2.1", 5000);
	struct peer_addr other = v4("192.0.2.2", 4000);
	enum sanction_kind kind = SANCTION_MUTE;

	assert_int_equal(sanction_ban(s, S("192.0.2.1"), 0, 0, &kind), SANCTION_OK);
	assert_int_equal(kind, SANCTION_BAN_ADDR);
	assert_true(sanction_is_banned(s, NULL, 0, &a, 0));
	assert_true(sanction_is_banned(s, S("anyone"), &b, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &other, 0));
}

static void ban_addr_prefix(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr in = v4("10.200.3.4", 1), out = v4("11.0.0.1", 1);
	struct peer_addr edge_in = v4("172.16.0.0", 1), edge_out = v4("172.32.0.0", 1);

	sanction_ban(s, S("10.0.0.0/8"), 0, 0, NULL);
	sanction_ban(s, S("172.16.0.0/12"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &in, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &out, 0));
	assert_true(sanction_is_banned(s, NULL, 0, &edge_in, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &edge_out, 0));
}

static void ban_addr_host_bits_are_cleared(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr a = v4("10.9.9.9", 1);

	sanction_ban(s, S("10.1.2.3/8"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &a, 0));
	assert_string_equal(sanction_get(s, SANCTION_BAN_ADDR, 0)->target, "10.0.0.0/8");
	assert_int_equal(sanction_unban(s, S("10.0.0.0/8"), 0), SANCTION_OK);
}

static void ban_ipv4_covers_mapped_ipv6_peer(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr mapped = v6("::ffff:192.0.2.1", 4000);

	sanction_ban(s, S("192.0.2.1"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &mapped, 0));
}

static void ban_mapped_ipv6_text_is_ipv4(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr plain = v4("192.0.2.1", 4000);

	sanction_ban(s, S("::ffff:192.0.2.1"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &plain, 0));
}

static void ban_ipv6_with_prefix(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr in = v6("2001:db8:1::5", 1), out = v6("2001:db9::5", 1);
	struct peer_addr v4peer = v4("32.1.13.184", 1); /* 2001:0db8 as IPv4 bytes */

	sanction_ban(s, S("[2001:db8::]/32"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &in, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &out, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &v4peer, 0));
}

static void ban_zero_prefix_covers_family(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr a = v4("203.0.113.9", 1), b = v6("::1", 1);

	sanction_ban(s, S("0.0.0.0/0"), 0, 0, NULL);
	assert_true(sanction_is_banned(s, NULL, 0, &a, 0));
	assert_false(sanction_is_banned(s, NULL, 0, &b, 0));
}

static void ban_bad_prefixes(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_ban(s, S("10.0.0.0/33"), 0, 0, NULL), SANCTION_BAD_ADDR);
	assert_int_equal(sanction_ban(s, S("::/129"), 0, 0, NULL), SANCTION_BAD_ADDR);
	assert_int_equal(sanction_ban(s, S("10.0.0.0/"), 0, 0, NULL), SANCTION_BAD_ADDR);
	assert_int_equal(sanction_ban(s, S("10.0.0.0/x"), 0, 0, NULL), SANCTION_BAD_ADDR);
	assert_int_equal(sanction_ban(s, S("10.0.0.0/99999999999"), 0, 0, NULL), SANCTION_BAD_ADDR);
	assert_int_equal(sanction_count(s, SANCTION_BAN_ADDR), 0);
}

static void unsupported_peer_family_is_not_banned(void **state)
{
	struct sanctions *s = *state;
	struct peer_addr a;

	memset(&a, 0, sizeof a);
	a.sa.ss_family = AF_UNIX;
	sanction_ban(s, S("0.0.0.0/0"), 0, 0, NULL);
	assert_false(sanction_is_banned(s, NULL, 0, &a, 0));
}

/* ---- expiry ---- */

static void temporary_ban_lapses(void **state)
{
	struct sanctions *s = *state;
	uint64_t t0 = 1000000;

	sanction_ban(s, S("alice"), t0, 10 * MIN, NULL);
	assert_true(sanction_is_banned(s, S("alice"), NULL, t0 + 10 * MIN - 1));
	assert_false(sanction_is_banned(s, S("alice"), NULL, t0 + 10 * MIN));
}

static void expire_removes_only_lapsed(void **state)
{
	struct sanctions *s = *state;

	sanction_ban(s, S("a"), 0, MIN, NULL);
	sanction_ban(s, S("b"), 0, 0, NULL);
	sanction_ban(s, S("10.0.0.1"), 0, MIN, NULL);
	sanction_mute(s, S("c"), 0, 2 * MIN);
	assert_int_equal(sanction_expire(s, MIN), 2);
	assert_int_equal(sanction_count(s, SANCTION_BAN_NAME), 1);
	assert_int_equal(sanction_count(s, SANCTION_BAN_ADDR), 0);
	assert_int_equal(sanction_count(s, SANCTION_MUTE), 1);
	assert_int_equal(sanction_expire(s, 2 * MIN), 1);
	assert_int_equal(sanction_expire(s, 1000 * MIN), 0);
	assert_true(sanction_is_banned(s, S("b"), NULL, 1000 * MIN));
}

static void reban_after_lapse_is_new(void **state)
{
	struct sanctions *s = *state;

	sanction_ban(s, S("alice"), 0, MIN, NULL);
	assert_int_equal(sanction_ban(s, S("alice"), 2 * MIN, 0, NULL), SANCTION_OK);
	assert_true(sanction_is_banned(s, S("alice"), NULL, 100 * MIN));
}

/* ---- mutes ---- */

static void mute_and_unmute(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_mute(s, S("Bob"), 0, 0), SANCTION_OK);
	assert_true(sanction_is_muted(s, S("bob"), 0));
	assert_false(sanction_is_muted(s, S("alice"), 0));
	assert_int_equal(sanction_mute(s, S("BOB"), 0, MIN), SANCTION_UPDATED);
	assert_int_equal(sanction_unmute(s, S("bob"), 0), SANCTION_OK);
	assert_false(sanction_is_muted(s, S("bob"), 0));
	assert_int_equal(sanction_unmute(s, S("bob"), 0), SANCTION_NOT_FOUND);
}

static void mute_is_not_a_ban(void **state)
{
	struct sanctions *s = *state;

	sanction_mute(s, S("bob"), 0, 0);
	assert_false(sanction_is_banned(s, S("bob"), NULL, 0));
	sanction_ban(s, S("carol"), 0, 0, NULL);
	assert_false(sanction_is_muted(s, S("carol"), 0));
}

static void mute_of_address_like_name_is_a_name(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_mute(s, S("1.2.3.4"), 0, 0), SANCTION_OK);
	assert_true(sanction_is_muted(s, S("1.2.3.4"), 0));
}

static void mute_refuses_invalid_name(void **state)
{
	struct sanctions *s = *state;

	assert_int_equal(sanction_mute(s, S("a b"), 0, 0), SANCTION_BAD_NAME);
	assert_int_equal(sanction_unmute(s, S(""), 0), SANCTION_BAD_NAME);
}

static void lookups_of_invalid_names_are_false(void **state)
{
	struct sanctions *s = *state;

	sanction_ban(s, S("a"), 0, 0, NULL);
	sanction_mute(s, S("a"), 0, 0);
	assert_false(sanction_is_banned(s, "\xff\xfe", 2, NULL, 0));
	assert_false(sanction_is_muted(s, "\xff\xfe", 2, 0));
	assert_false(sanction_is_banned(s, S("abcdefghijabcdefghijabcdefghijabcdefghij"), NULL, 0));
}

/* ---- limits and listing ---- */

static void full_set_refuses_more(void **state)
{
	struct sanctions *s = *state;
	char name[16];
	int i;

	for (i = 0; i < SANCTION_MAX; i++) {
		snprintf(name, sizeof name, "n%d", i);
		assert_int_equal(sanction_mute(s, S(name), 0, 0), SANCTION_OK);
	}
	assert_int_equal(sanction_mute(s, S("onemore"), 0, 0), SANCTION_FULL);
	/* Bans are counted apart from mutes. */
	assert_int_equal(sanction_ban(s, S("onemore"), 0, 0, NULL), SANCTION_OK);
	/* Updating one that is there still works. */
	assert_int_equal(sanction_mute(s, S("n7"), 0, MIN), SANCTION_UPDATED);
}

static void full_set_makes_room_from_lapsed(void **state)
{
	struct sanctions *s = *state;
	char name[16];
	int i;

	for (i = 0; i < SANCTION_MAX; i++) {
		snprintf(name, sizeof name, "n%d", i);
		sanction_mute(s, S(name), 0, i == 0 ? MIN : 0);
	}
	assert_int_equal(sanction_mute(s, S("late"), 2 * MIN, 0), SANCTION_OK);
	assert_int_equal(sanction_count(s, SANCTION_MUTE), SANCTION_MAX);
}

static void listing(void **state)
{
	struct sanctions *s = *state;
	const struct sanction *e;

	sanction_ban(s, S("Alice"), 0, MIN, NULL);
	e = sanction_get(s, SANCTION_BAN_NAME, 0);
	assert_non_null(e);
	assert_string_equal(e->target, "Alice");
	assert_string_equal(e->key, "alice");
	assert_int_equal(e->until, MIN);
	assert_null(sanction_get(s, SANCTION_BAN_NAME, 1));
	assert_null(sanction_get(s, SANCTION_KINDS, 0));
	assert_int_equal(sanction_count(s, SANCTION_KINDS), 0);
}

static void status_strings(void **state)
{
	(void)state;
	assert_string_equal(sanction_status_str(SANCTION_NOT_FOUND), "not in force");
	assert_string_equal(sanction_status_str((enum sanction_status)99), "unknown status");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(duration_plain_number_is_seconds),
	    cmocka_unit_test(duration_units),
	    cmocka_unit_test(duration_refuses_bad_text),
	    cmocka_unit_test(duration_counts_only_n_bytes),
	    cmocka_unit_test(duration_format),
	    cmocka_unit_test(duration_format_small_buffer_terminated),
	    cmocka_unit_test(target_classification),
	    cmocka_unit_test(canonical_forms),
	    cmocka_unit_test_setup_teardown(ban_name_blocks_that_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_name_is_case_and_width_insensitive, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(ban_name_does_not_cover_its_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_refuses_invalid_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_again_updates_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(unban_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(unban_of_lapsed_ban_is_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_addr_covers_every_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_addr_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_addr_host_bits_are_cleared, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_ipv4_covers_mapped_ipv6_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_mapped_ipv6_text_is_ipv4, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_ipv6_with_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_zero_prefix_covers_family, setup, teardown),
	    cmocka_unit_test_setup_teardown(ban_bad_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsupported_peer_family_is_not_banned, setup, teardown),
	    cmocka_unit_test_setup_teardown(temporary_ban_lapses, setup, teardown),
	    cmocka_unit_test_setup_teardown(expire_removes_only_lapsed, setup, teardown),
	    cmocka_unit_test_setup_teardown(reban_after_lapse_is_new, setup, teardown),
	    cmocka_unit_test_setup_teardown(mute_and_unmute, setup, teardown),
	    cmocka_unit_test_setup_teardown(mute_is_not_a_ban, setup, teardown),
	    cmocka_unit_test_setup_teardown(mute_of_address_like_name_is_a_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(mute_refuses_invalid_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(lookups_of_invalid_names_are_false, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_set_refuses_more, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_set_makes_room_from_lapsed, setup, teardown),
	    cmocka_unit_test_setup_teardown(listing, setup, teardown),
	    cmocka_unit_test(status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
