/* test_addr.c - unit tests of src/addr.c: peer address keys, equality and printing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

/*
 * Build addresses as recvfrom() would.  With garbage set, every byte of the
 * storage that is not the family, port, address or scope id is filled with
 * junk first, standing for whatever the kernel or a stack buffer left there.
 */
static struct peer_addr v4(const char *ip, uint16_t port, int garbage)
{
	struct peer_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, garbage ? 0xA5 : 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	a.len = sizeof(*sin);
	return a;
}

static struct peer_addr v6(const char *ip, uint16_t port, uint32_t scope, int garbage)
{
	struct peer_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;

	memset(&a, garbage ? 0x5A : 0, sizeof(a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	sin6->sin6_scope_id = scope;
	if (!garbage)
		sin6->sin6_flowinfo = 0;
	a.len = sizeof(*sin6);
	return a;
}

static void assert_same_key(const struct peer_addr *a, const struct peer_addr *b)
{
	uint8_t ka[ADDR_KEY_MAX], kb[ADDR_KEY_MAX];
	size_t la, lb;

	la = addr_key(a, ka);
	lb = addr_key(b, kb);
	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ka, kb, la);
}

static void assert_format(const struct peer_addr *a, const char *want)
{
	char buf[ADDR_STRLEN];

	memset(buf, 'Z', sizeof(buf));
	assert_ptr_equal(addr_format(a, buf, sizeof(buf)), buf);
	assert_string_equal(buf, want);
}

/* addr_key */

static void key_ipv4_length(void **state)
{
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	uint8_t k[ADDR_KEY_MAX];
	size_t n;

	(void)state;
	n = addr_key(&a, k);
	assert_true(n > 0);
	assert_true(n <= ADDR_KEY_MAX);
}

static void key_ipv6_length(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 8888, 0, 0);
	uint8_t k[ADDR_KEY_MAX];
	size_t n;

	(void)state;
	n = addr_key(&a, k);
	assert_true(n > 0);
	assert_true(n <= ADDR_KEY_MAX);
}

static void key_unsupported_family(void **state)
{
	struct peer_addr a;
	uint8_t k[ADDR_KEY_MAX];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sa.ss_family = AF_UNSPEC;
	a.len = sizeof(a.sa);
	assert_int_equal(addr_key(&a, k), 0);

	/* peer_addr holds IPv4 and IPv6 only: an AF_UNIX family is all it can carry. */
	a.sa.ss_family = AF_UNIX;
	a.len = sizeof(struct sockaddr_un);
	assert_int_equal(addr_key(&a, k), 0);
}

static void key_ipv4_ignores_sin_zero(void **state)
{
	struct peer_addr a = v4("10.0.0.7", 40000, 0);
	struct peer_addr b = v4("10.0.0.7", 40000, 1);

	(void)state;
	assert_same_key(&a, &b);
}

static void key_ipv6_ignores_flowinfo(void **state)
{
	struct peer_addr a = v6("2001:db8::7", 40000, 0, 0);
	struct peer_addr b = v6("2001:db8::7", 40000, 0, 1);

	(void)state;
	((struct sockaddr_in6 *)&b.sa)->sin6_flowinfo = htonl(0x000ABCDE);
	assert_same_key(&a, &b);
}

static void key_mapped_equals_ipv4(void **state)
{
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	struct peer_addr b = v6("::ffff:1.2.3.4", 8888, 0, 0);

	(void)state;
	assert_same_key(&a, &b);
}

/* addr_equal */

static void equal_ipv4_same(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 0);
	struct peer_addr b = v4("127.0.0.1", 8888, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 1);
	assert_int_equal(addr_equal(&a, &a), 1);
}

static void equal_ipv4_other_port(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 0);
	struct peer_addr b = v4("127.0.0.1", 8889, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
	assert_int_equal(addr_equal(&b, &a), 0);
}

static void equal_ipv4_other_addr(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 0);
	struct peer_addr b = v4("127.0.0.2", 8888, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv4_port_bytes_swapped(void **state)
{
	/* 0x1234 and 0x3412: the port is compared as a number, not as a set of bytes. */
	struct peer_addr a = v4("10.1.2.3", 0x1234, 0);
	struct peer_addr b = v4("10.1.2.3", 0x3412, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv4_ignores_sin_zero(void **state)
{
	struct peer_addr a = v4("192.168.1.20", 5000, 0);
	struct peer_addr b = v4("192.168.1.20", 5000, 1);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 1);
	assert_int_equal(addr_equal(&b, &a), 1);
}

static void equal_mapped_ipv4(void **state)
{
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	struct peer_addr b = v6("::ffff:1.2.3.4", 8888, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 1);
	assert_int_equal(addr_equal(&b, &a), 1);
}

static void equal_mapped_other_port(void **state)
{
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	struct peer_addr b = v6("::ffff:1.2.3.4", 8889, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_mapped_other_addr(void **state)
{
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	struct peer_addr b = v6("::ffff:1.2.3.5", 8888, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_loopbacks_differ(void **state)
{
	/* ::1 is not 127.0.0.1: only IPv4-mapped addresses fold onto IPv4. */
	struct peer_addr a = v4("127.0.0.1", 8888, 0);
	struct peer_addr b = v6("::1", 8888, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv4_compatible_not_mapped(void **state)
{
	/* ::1.2.3.4 (deprecated IPv4-compatible) is not ::ffff:1.2.3.4. */
	struct peer_addr a = v4("1.2.3.4", 8888, 0);
	struct peer_addr b = v6("::1.2.3.4", 8888, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv6_same(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 443, 0, 0);
	struct peer_addr b = v6("2001:db8:0:0::1", 443, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 1);
}

static void equal_ipv6_other_addr(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 443, 0, 0);
	struct peer_addr b = v6("2001:db8::2", 443, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv6_other_port(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 443, 0, 0);
	struct peer_addr b = v6("2001:db8::1", 444, 0, 0);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
}

static void equal_ipv6_ignores_flowinfo(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 443, 0, 0);
	struct peer_addr b = v6("2001:db8::1", 443, 0, 1);

	(void)state;
	((struct sockaddr_in6 *)&b.sa)->sin6_flowinfo = htonl(0x00012345);
	assert_int_equal(addr_equal(&a, &b), 1);
}

static void equal_ipv6_scope_id_matters(void **state)
{
	struct peer_addr a = v6("fe80::1", 8888, 1, 0);
	struct peer_addr b = v6("fe80::1", 8888, 2, 0);
	struct peer_addr c = v6("fe80::1", 8888, 1, 1);

	(void)state;
	assert_int_equal(addr_equal(&a, &b), 0);
	assert_int_equal(addr_equal(&a, &c), 1);
}

/* addr_format */

static void format_ipv4(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 0);

	(void)state;
	assert_format(&a, "127.0.0.1:8888");
}

static void format_ipv4_with_garbage(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 1);

	(void)state;
	assert_format(&a, "127.0.0.1:8888");
}

static void format_ipv4_port_extremes(void **state)
{
	struct peer_addr a = v4("0.0.0.0", 0, 0);
	struct peer_addr b = v4("255.255.255.255", 65535, 0);

	(void)state;
	assert_format(&a, "0.0.0.0:0");
	assert_format(&b, "255.255.255.255:65535");
}

static void format_ipv6_loopback(void **state)
{
	struct peer_addr a = v6("::1", 8888, 0, 0);

	(void)state;
	assert_format(&a, "[::1]:8888");
}

static void format_ipv6(void **state)
{
	struct peer_addr a = v6("2001:db8::1", 65535, 0, 1);

	(void)state;
	assert_format(&a, "[2001:db8::1]:65535");
}

static void format_mapped_as_ipv4(void **state)
{
	struct peer_addr a = v6("::ffff:1.2.3.4", 8888, 0, 0);

	(void)state;
	assert_format(&a, "1.2.3.4:8888");
}

static void format_unknown_family(void **state)
{
	struct peer_addr a;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sa.ss_family = AF_UNSPEC;
	a.len = sizeof(a.sa);
	assert_format(&a, "?");
	a.sa.ss_family = AF_UNIX;
	assert_format(&a, "?");
}

static void format_small_buffer_terminated(void **state)
{
	struct peer_addr a = v4("127.0.0.1", 8888, 0);
	char buf[16];

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	assert_ptr_equal(addr_format(&a, buf, 6), buf);
	assert_true(memchr(buf, '\0', 6) != NULL);
	assert_int_equal(buf[6], 'Z');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_ipv4_length),
	    cmocka_unit_test(key_ipv6_length),
	    cmocka_unit_test(key_unsupported_family),
	    cmocka_unit_test(key_ipv4_ignores_sin_zero),
	    cmocka_unit_test(key_ipv6_ignores_flowinfo),
	    cmocka_unit_test(key_mapped_equals_ipv4),
	    cmocka_unit_test(equal_ipv4_same),
	    cmocka_unit_test(equal_ipv4_other_port),
	    cmocka_unit_test(equal_ipv4_other_addr),
	    cmocka_unit_test(equal_ipv4_port_bytes_swapped),
	    cmocka_unit_test(equal_ipv4_ignores_sin_zero),
	    cmocka_unit_test(equal_mapped_ipv4),
	    cmocka_unit_test(equal_mapped_other_port),
	    cmocka_unit_test(equal_mapped_other_addr),
	    cmocka_unit_test(equal_loopbacks_differ),
	    cmocka_unit_test(equal_ipv4_compatible_not_mapped),
	    cmocka_unit_test(equal_ipv6_same),
	    cmocka_unit_test(equal_ipv6_other_addr),
	    cmocka_unit_test(equal_ipv6_other_port),
	    cmocka_unit_test(equal_ipv6_ignores_flowinfo),
	    cmocka_unit_test(equal_ipv6_scope_id_matters),
	    cmocka_unit_test(format_ipv4),
	    cmocka_unit_test(format_ipv4_with_garbage),
	    cmocka_unit_test(format_ipv4_port_extremes),
	    cmocka_unit_test(format_ipv6_loopback),
	    cmocka_unit_test(format_ipv6),
	    cmocka_unit_test(format_mapped_as_ipv4),
	    cmocka_unit_test(format_unknown_family),
	    cmocka_unit_test(format_small_buffer_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
