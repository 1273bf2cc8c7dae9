/* cookie.h - stateless login cookies for protocol v2: a MAC over the client's address and nonce. */
#ifndef QUN_COOKIE_H
#define QUN_COOKIE_H

#include <stdint.h>

#include "common/addr.h"
#include "wire2.h"

#define COOKIE_SECRET_LEN 32
#define COOKIE_ROTATE_MS  120000 /* a new secret every two minutes */

/*
 * Two secrets: the current and the one before it.  A cookie made with
 * either is accepted, so a cookie stays good for 2 to 4 minutes and the
 * server keeps no per-client state before a login is proven.
 */
struct cookie_jar {
	uint8_t cur[COOKIE_SECRET_LEN], prev[COOKIE_SECRET_LEN];
	uint64_t rotated_at; /* ms */
	int have_prev;
};

/* Start with a fresh random secret (libsodium's randombytes) at time now. */
void cookie_init(struct cookie_jar *j, uint64_t now);

/* Replace the secret if COOKIE_ROTATE_MS have passed since the last time. */
void cookie_rotate(struct cookie_jar *j, uint64_t now);

/* The cookie for (addr, nonce) under the current secret: HMAC-SHA-512-256 cut to 16 bytes. */
void cookie_make(const struct cookie_jar *j, const struct peer_addr *addr, uint64_t nonce,
                 uint8_t out[V2_COOKIE_LEN]);

/* Returns 1 if cookie is valid for (addr, nonce) under either secret, compared in constant time. */
int cookie_check(const struct cookie_jar *j, const struct peer_addr *addr, uint64_t nonce,
                 const uint8_t cookie[V2_COOKIE_LEN]);

#endif
