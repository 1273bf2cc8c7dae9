/* cookie.c - stateless v2 login cookies: HMAC (libsodium crypto_auth) over address and nonce,
 * rotating secrets. */
#include "cookie.h"

#include <sodium.h>
#include <string.h>

void cookie_init(struct cookie_jar *j, uint64_t now)
{
	memset(j, 0, sizeof *j);
	randombytes_buf(j->cur, sizeof j->cur);
	j->rotated_at = now;
}

void cookie_rotate(struct cookie_jar *j, uint64_t now)
{
	if (now < j->rotated_at || now - j->rotated_at < COOKIE_ROTATE_MS)
		return; /* not due, or the clock went back: never rotate twice by accident */
	memcpy(j->prev, j->cur, sizeof j->prev);
	j->have_prev = 1;
	randombytes_buf(j->cur, sizeof j->cur);
	j->rotated_at = now;
}

static void mac(const uint8_t secret[COOKIE_SECRET_LEN], const struct peer_addr *addr,
                uint64_t nonce, uint8_t out[V2_COOKIE_LEN])
{
	uint8_t msg[ADDR_KEY_MAX + 8], full[crypto_auth_BYTES];
	size_t n = addr_key(addr, msg);
	int i;

	for (i = 0; i < 8; i++)
		msg[n + (size_t)i] = (uint8_t)(nonce >> (56 - 8 * i));
	crypto_auth(full, msg, n + 8, secret);
	memcpy(out, full, V2_COOKIE_LEN);
}

void cookie_make(const struct cookie_jar *j, const struct peer_addr *addr, uint64_t nonce,
                 uint8_t out[V2_COOKIE_LEN])
{
	mac(j->cur, addr, nonce, out);
}

int cookie_check(const struct cookie_jar *j, const struct peer_addr *addr, uint64_t nonce,
                 const uint8_t cookie[V2_COOKIE_LEN])
{
	uint8_t want[V2_COOKIE_LEN];

	mac(j->cur, addr, nonce, want);
	if (sodium_memcmp(want, cookie, V2_COOKIE_LEN) == 0)
		return 1;
	if (!j->have_prev)
		return 0;
	mac(j->prev, addr, nonce, want);
	return sodium_memcmp(want, cookie, V2_COOKIE_LEN) == 0;
}
