/* test_addr.c - unit tests of src/common/addr.c: peer address keys, equality and printing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "common/addr.h"

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

/* addr_net_key: the network a peer is in, for the per-address cap (THREATS.md S7). */

static size_t net_key(const struct peer_addr *a, unsigned v4_bits, unsigned v6_bits,
                      uint8_t k[ADDR_NET_MAX])
{
	memset(k, 0xEE, ADDR_NET_MAX);
	return addr_net_key(a, v4_bits, v6_bits, k);
}

static int same_net(const struct peer_addr *a, const struct peer_addr *b, unsigned v4_bits,
                    unsigned v6_bits)
{
	uint8_t ka[ADDR_NET_MAX], kb[ADDR_NET_MAX];
	size_t la = net_key(a, v4_bits, v6_bits, ka), lb = net_key(b, v4_bits, v6_bits, kb);

	assert_true(la > 0 && lb > 0);
	return la == lb && memcmp(ka, kb, la) == 0;
}

static void net_key_ipv4_layout(void **state)
{
	struct peer_addr a = v4("192.0.2.77", 8888, 1);
	uint8_t k[ADDR_NET_MAX];
	static const uint8_t want32[] = {4, 192, 0, 2, 77}, want24[] = {4, 192, 0, 2, 0},
	                     want20[] = {4, 192, 0, 0, 0}, want1[] = {4, 128, 0, 0, 0};

	(void)state;
	assert_int_equal(net_key(&a, 32, 64, k), 5);
	assert_memory_equal(k, want32, 5);
	assert_int_equal(net_key(&a, 24, 64, k), 5);
	assert_memory_equal(k, want24, 5);
	assert_int_equal(net_key(&a, 20, 64, k), 5);
	assert_memory_equal(k, want20, 5);
	assert_int_equal(net_key(&a, 1, 64, k), 5);
	assert_memory_equal(k, want1, 5);
	/* Past the width: the whole address. */
	assert_int_equal(net_key(&a, 99, 64, k), 5);
	assert_memory_equal(k, want32, 5);
}

static void net_key_ipv6_layout(void **state)
{
	struct peer_addr a = v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 8888, 7, 1);
	uint8_t k[ADDR_NET_MAX];
	static const uint8_t want64[] = {6, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0,
	                                 0, 0,    0,    0,    0,    0, 7, 0, 0, 0};
	static const uint8_t want68[] = {6, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xa0, 0,
	                                 0, 0,    0,    0,    0,    0, 7, 0, 0, 0};

	(void)state;
	assert_int_equal(net_key(&a, 32, 64, k), 21);
	assert_memory_equal(k, want64, 5 + 12); /* family, /64, zeros; the scope id is host order */
	assert_int_equal(net_key(&a, 32, 68, k), 21);
	assert_memory_equal(k, want68, 11);
	assert_int_equal(net_key(&a, 32, 128, k), 21);
	assert_int_equal(k[16], 0xdd);
	assert_int_equal(k[9], 0xaa);
}

static void net_key_ignores_port(void **state)
{
	struct peer_addr a = v4("10.1.2.3", 1, 0), b = v4("10.1.2.3", 65535, 1);
	struct peer_addr c = v6("2001:db8::1", 1, 0, 0), d = v6("2001:db8::1", 2, 0, 1);

	(void)state;
	assert_true(same_net(&a, &b, 32, 64));
	assert_true(same_net(&c, &d, 32, 128));
}

static void net_key_ipv6_slash64(void **state)
{
	struct peer_addr a = v6("2001:db8:17:1::1", 5000, 0, 0);
	struct peer_addr b = v6("2001:db8:17:1:ffff:ffff:ffff:fffe", 5000, 0, 1);
	struct peer_addr c = v6("2001:db8:17:2::1", 5000, 0, 0);

	(void)state;
	assert_true(same_net(&a, &b, 32, 64));
	assert_false(same_net(&a, &c, 32, 64));
	assert_true(same_net(&a, &c, 32, 48));
	/* /128: every address its own, as before prefixes were counted. */
	assert_false(same_net(&a, &b, 32, 128));
}

static void net_key_ipv4_prefixes(void **state)
{
	struct peer_addr a = v4("198.51.100.1", 1, 0), b = v4("198.51.100.254", 1, 0),
	                 c = v4("198.51.101.1", 1, 0);

	(void)state;
	assert_false(same_net(&a, &b, 32, 64));
	assert_true(same_net(&a, &b, 24, 64));
	assert_false(same_net(&a, &c, 24, 64));
	assert_true(same_net(&a, &c, 23, 64));
}

static void net_key_mapped_is_ipv4(void **state)
{
	struct peer_addr a = v4("203.0.113.9", 1, 0), m = v6("::ffff:203.0.113.200", 2, 0, 1);

	(void)state;
	/* An IPv4-mapped address is IPv4: its prefix is v4_bits, not v6_bits. */
	assert_true(same_net(&a, &m, 24, 128));
	assert_false(same_net(&a, &m, 32, 0));
}

static void net_key_families_differ(void **state)
{
	/* 0.0.0.0/0 and ::/0 are still two networks. */
	struct peer_addr a = v4("0.0.0.0", 1, 0), b = v6("::", 1, 0, 0);

	(void)state;
	assert_false(same_net(&a, &b, 0, 0));
}

static void net_key_scope_id_matters(void **state)
{
	/* Link-local addresses on two interfaces are on two links. */
	struct peer_addr a = v6("fe80::1", 1, 1, 0), b = v6("fe80::2", 1, 2, 0),
	                 c = v6("fe80::3", 1, 1, 1);

	(void)state;
	assert_false(same_net(&a, &b, 32, 64));
	assert_true(same_net(&a, &c, 32, 64));
}

static void net_key_unsupported_family(void **state)
{
	struct peer_addr a;
	uint8_t k[ADDR_NET_MAX];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sa.ss_family = AF_UNIX;
	assert_int_equal(addr_net_key(&a, 32, 64, k), 0);
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
	    cmocka_unit_test(net_key_ipv4_layout),
	    cmocka_unit_test(net_key_ipv6_layout),
	    cmocka_unit_test(net_key_ignores_port),
	    cmocka_unit_test(net_key_ipv6_slash64),
	    cmocka_unit_test(net_key_ipv4_prefixes),
	    cmocka_unit_test(net_key_mapped_is_ipv4),
	    cmocka_unit_test(net_key_families_differ),
	    cmocka_unit_test(net_key_scope_id_matters),
	    cmocka_unit_test(net_key_unsupported_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
