/* nonceset.h - login nonces that ended a session, kept while a cookie could still carry them. Pure.
 */
#ifndef QUN_NONCESET_H
#define QUN_NONCESET_H

#include <stddef.h>
#include <stdint.h>

/*
 * A LOGIN is (address, nonce, cookie), and the cookie stays good for two
 * to four minutes (cookie.h).  Replayed in that time from the address, a
 * LOGIN whose session has ended would start it again: a member who left
 * would be back.  So a session's nonce is retired when it ends, and a
 * LOGIN with a retired nonce is not taken.
 *
 * A cookie made before a rotation of the cookie secrets is good until the
 * next one, so the set has two generations that rotate with the secrets:
 * a nonce retired now is dropped two rotations later, when no cookie for
 * it can be valid any more.  Each generation is an open-addressing hash
 * set of 64-bit nonces under a keyed hash (nonces are the client's
 * choice: a keyed hash keeps them from being chosen to collide), grown
 * by doubling up to NONCESET_MAX nonces.
 */
#define NONCESET_MAX (1u << 20) /* nonces per generation (16 MiB of table at most) */

struct nonce_gen {
	uint64_t *slot; /* 0: empty (nonce 0 is kept in has_zero) */
	size_t cap, n;  /* slots (a power of two, or 0), nonces in it */
	int has_zero;
};

struct nonceset {
	struct nonce_gen gen[2]; /* [0] retired since the last rotation, [1] the one before */
	unsigned char key[16];   /* for the hash: random */
};

/* An empty set hashing with key (16 bytes, random). */
void nonceset_init(struct nonceset *s, const unsigned char key[16]);
void nonceset_free(struct nonceset *s);

/*
 * Retire nonce.  Returns 0, or -1 when the current generation holds
 * NONCESET_MAX already: then the caller must make every outstanding
 * cookie invalid (rotate the cookie secrets twice) and call
 * nonceset_clear, since the set cannot keep its promise any more.
 */
int nonceset_retire(struct nonceset *s, uint64_t nonce);

/* 1 if nonce was retired in this generation or the one before, else 0. */
int nonceset_retired(const struct nonceset *s, uint64_t nonce);

/* The cookie secrets rotated: the older generation is forgotten, a new one begins. */
void nonceset_rotate(struct nonceset *s);

/* Forget everything (after the cookie secrets were all replaced). */
void nonceset_clear(struct nonceset *s);

/* Nonces kept, in both generations. */
size_t nonceset_count(const struct nonceset *s);

#endif
