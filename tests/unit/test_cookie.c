/* test_cookie.c - unit tests of src/proto/cookie.c: v2 login cookies bound to address and nonce,
 * secret rotation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "proto/cookie.h"

/* The jar's clock starts here; the tests step it by COOKIE_ROTATE_MS. */
#define T0 5000

#define NONCE 0x0123456789ABCDEFULL

/* Helpers */

static struct peer_addr ip4(const char *ip, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	a.len = sizeof(*sin);
	return a;
}

static struct peer_addr ip6(const char *ip, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	a.len = sizeof(*sin6);
	return a;
}

static void new_jar(struct cookie_jar *j)
{
	cookie_init(j, T0);
}

/* cookie_make and cookie_check */

static void make_then_check(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 1);
}

static void make_is_deterministic(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c1[V2_COOKIE_LEN], c2[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	/* Stateless: the server can recompute the cookie instead of storing it. */
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c1);
	cookie_make(&j, &a, NONCE, c2);
	assert_memory_equal(c1, c2, V2_COOKIE_LEN);
}

static void make_ipv6(void **state)
{
	struct peer_addr a = ip6("2001:db8::1", 5000), b = ip6("2001:db8::2", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 1);
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 0);
}

static void jars_differ(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c1[V2_COOKIE_LEN], c2[V2_COOKIE_LEN];
	struct cookie_jar j1, j2;

	(void)state;
	/* Each server start picks a random secret: another server's cookie is no good. */
	new_jar(&j1);
	new_jar(&j2);
	cookie_make(&j1, &a, NONCE, c1);
	cookie_make(&j2, &a, NONCE, c2);
	assert_memory_not_equal(c1, c2, V2_COOKIE_LEN);
	assert_int_equal(cookie_check(&j2, &a, NONCE, c1), 0);
}

static void wrong_port(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000), b = ip4("192.0.2.1", 5001);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 0);
}

static void wrong_ip(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000), b = ip4("192.0.2.2", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 0);
}

static void wrong_family(void **state)
{
	struct peer_addr a = ip4("0.0.0.1", 5000), b = ip6("::1", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 0);
}

static void wrong_nonce(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &a, NONCE + 1, c), 0);
	assert_int_equal(cookie_check(&j, &a, NONCE ^ (1ULL << 63), c), 0);
	assert_int_equal(cookie_check(&j, &a, 0, c), 0);
}

static void flipped_bit(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN], bad[V2_COOKIE_LEN];
	struct cookie_jar j;
	int bit;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	for (bit = 0; bit < 8 * V2_COOKIE_LEN; bit++) {
		memcpy(bad, c, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(cookie_check(&j, &a, NONCE, bad), 0);
	}
}

static void zero_cookie(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	const uint8_t zero[V2_COOKIE_LEN] = {0};
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	assert_int_equal(cookie_check(&j, &a, NONCE, zero), 0);
}

static void mapped_same_as_ipv4(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000), m = ip6("::ffff:192.0.2.1", 5000);
	uint8_t c4[V2_COOKIE_LEN], c6[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	/* A dual-stack socket may report the same client either way. */
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c4);
	cookie_make(&j, &m, NONCE, c6);
	assert_memory_equal(c4, c6, V2_COOKIE_LEN);
	assert_int_equal(cookie_check(&j, &m, NONCE, c4), 1);
	assert_int_equal(cookie_check(&j, &a, NONCE, c6), 1);
}

static void sockaddr_padding_ignored(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000), b = a;
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	/* Only family, port and address count, not what else is in the sockaddr. */
	memset(((struct sockaddr_in *)&b.sa)->sin_zero, 0x5A,
	       sizeof(((struct sockaddr_in *)&b.sa)->sin_zero));
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 1);
}

/* Rotation */

static void rotate_too_early(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN], again[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0);
	cookie_rotate(&j, T0 + COOKIE_ROTATE_MS - 1);
	assert_int_equal(j.have_prev, 0);
	cookie_make(&j, &a, NONCE, again);
	assert_memory_equal(c, again, V2_COOKIE_LEN);
}

static void rotate_changes_cookie(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN], fresh[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0 + COOKIE_ROTATE_MS);
	assert_int_equal(j.have_prev, 1);
	cookie_make(&j, &a, NONCE, fresh);
	assert_memory_not_equal(c, fresh, V2_COOKIE_LEN);
	assert_int_equal(cookie_check(&j, &a, NONCE, fresh), 1);
}

static void old_cookie_valid_after_one_rotation(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000), b = ip4("192.0.2.1", 5001);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0 + COOKIE_ROTATE_MS);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 1);
	/* The previous secret still binds the address and nonce. */
	assert_int_equal(cookie_check(&j, &b, NONCE, c), 0);
	assert_int_equal(cookie_check(&j, &a, NONCE + 1, c), 0);
}

static void old_cookie_invalid_after_two_rotations(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN], mid[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0 + COOKIE_ROTATE_MS);
	cookie_make(&j, &a, NONCE, mid);
	cookie_rotate(&j, T0 + 2 * COOKIE_ROTATE_MS);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 0);
	assert_int_equal(cookie_check(&j, &a, NONCE, mid), 1);
}

static void second_rotation_counts_from_first(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	/* A late first rotation pushes the second one back too. */
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0 + COOKIE_ROTATE_MS + 30000);
	cookie_rotate(&j, T0 + 2 * COOKIE_ROTATE_MS + 29999);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 1);
	cookie_rotate(&j, T0 + 2 * COOKIE_ROTATE_MS + 30000);
	assert_int_equal(cookie_check(&j, &a, NONCE, c), 0);
}

static void rotate_clock_backwards(void **state)
{
	struct peer_addr a = ip4("192.0.2.1", 5000);
	uint8_t c[V2_COOKIE_LEN], again[V2_COOKIE_LEN];
	struct cookie_jar j;

	(void)state;
	/* Time before the last rotation is not "COOKIE_ROTATE_MS have passed". */
	new_jar(&j);
	cookie_make(&j, &a, NONCE, c);
	cookie_rotate(&j, T0 - 1);
	assert_int_equal(j.have_prev, 0);
	cookie_make(&j, &a, NONCE, again);
	assert_memory_equal(c, again, V2_COOKIE_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(make_then_check),
	    cmocka_unit_test(make_is_deterministic),
	    cmocka_unit_test(make_ipv6),
	    cmocka_unit_test(jars_differ),
	    cmocka_unit_test(wrong_port),
	    cmocka_unit_test(wrong_ip),
	    cmocka_unit_test(wrong_family),
	    cmocka_unit_test(wrong_nonce),
	    cmocka_unit_test(flipped_bit),
	    cmocka_unit_test(zero_cookie),
	    cmocka_unit_test(mapped_same_as_ipv4),
	    cmocka_unit_test(sockaddr_padding_ignored),
	    cmocka_unit_test(rotate_too_early),
	    cmocka_unit_test(rotate_changes_cookie),
	    cmocka_unit_test(old_cookie_valid_after_one_rotation),
	    cmocka_unit_test(old_cookie_invalid_after_two_rotations),
	    cmocka_unit_test(second_rotation_counts_from_first),
	    cmocka_unit_test(rotate_clock_backwards),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
