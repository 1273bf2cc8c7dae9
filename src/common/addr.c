/* addr.c - peer addresses as values: canonical keys, equality and printing. */
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

size_t addr_key(const struct peer_addr *a, uint8_t key[ADDR_KEY_MAX])
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	switch (a->sa.ss_family) {
	case AF_INET:
		s4 = (const struct sockaddr_in *)&a->sa;
		key[0] = 4;
		memcpy(key + 1, &s4->sin_port, 2);
		memcpy(key + 3, &s4->sin_addr, 4);
		return 7;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)&a->sa;
		if (memcmp(s6->sin6_addr.s6_addr, v4mapped_prefix, 12) == 0) {
			key[0] = 4;
			memcpy(key + 1, &s6->sin6_port, 2);
			memcpy(key + 3, s6->sin6_addr.s6_addr + 12, 4);
			return 7;
		}
		key[0] = 6;
		memcpy(key + 1, &s6->sin6_port, 2);
		memcpy(key + 3, s6->sin6_addr.s6_addr, 16);
		memcpy(key + 19, &s6->sin6_scope_id, 4);
		return 23;
	default:
		return 0;
	}
}

/* Keep the first bits of the n-byte address at p, clear the rest. */
static void mask_bits(uint8_t *p, size_t n, unsigned bits)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (bits < 8)
			p[i] &= (uint8_t)(0xff00u >> bits);
		bits = bits < 8 ? 0 : bits - 8;
	}
}

size_t addr_net_key(const struct peer_addr *a, unsigned v4_bits, unsigned v6_bits,
                    uint8_t key[ADDR_NET_MAX])
{
	uint8_t k[ADDR_KEY_MAX];
	size_t len = addr_key(a, k);

	/* Key layout: family (1), port (2), address (4 or 16), IPv6 scope id (4). */
	if (len == 0)
		return 0;
	key[0] = k[0];
	memcpy(key + 1, k + 3, len - 3);
	mask_bits(key + 1, k[0] == 4 ? 4 : 16, k[0] == 4 ? v4_bits : v6_bits);
	return len - 2;
}

int addr_equal(const struct peer_addr *a, const struct peer_addr *b)
{
	uint8_t ka[ADDR_KEY_MAX], kb[ADDR_KEY_MAX];
	size_t la = addr_key(a, ka), lb = addr_key(b, kb);

	return la != 0 && la == lb && memcmp(ka, kb, la) == 0;
}

char *addr_format(const struct peer_addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	uint8_t key[ADDR_KEY_MAX];
	uint16_t port;
	size_t len = addr_key(a, key);

	if (size == 0)
		return buf;
	if (len == 0) {
		snprintf(buf, size, "?");
		return buf;
	}
	memcpy(&port, key + 1, 2);
	if (key[0] == 4) {
		inet_ntop(AF_INET, key + 3, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(port));
	} else {
		inet_ntop(AF_INET6, key + 3, host, sizeof host);
		snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(port));
	}
	return buf;
}
