/* nonceset.c - login nonces that ended a session, in two generations that rotate with the cookies.
 */
#include "nonceset.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define MIN_CAP 64

static size_t hash(const struct nonceset *s, uint64_t nonce)
{
	unsigned char in[8], h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		in[i] = (unsigned char)(nonce >> (8 * i));
	crypto_shorthash(h, in, sizeof in, s->key);
	for (i = 0; i < 8; i++)
		v |= (uint64_t)h[i] << (8 * i);
	return (size_t)v;
}

/* The slot holding nonce, or the empty one where it would go (the table is never full). */
static size_t find(const struct nonceset *s, const struct nonce_gen *g, uint64_t nonce)
{
	size_t i = hash(s, nonce) & (g->cap - 1);

	while (g->slot[i] != 0 && g->slot[i] != nonce)
		i = (i + 1) & (g->cap - 1);
	return i;
}

static int gen_has(const struct nonceset *s, const struct nonce_gen *g, uint64_t nonce)
{
	if (nonce == 0)
		return g->has_zero;
	return g->cap > 0 && g->slot[find(s, g, nonce)] == nonce;
}

/* Double the table (or make the first), keeping the load under a half. */
static void grow(const struct nonceset *s, struct nonce_gen *g)
{
	struct nonce_gen old = *g;
	size_t i;

	g->cap = old.cap > 0 ? 2 * old.cap : MIN_CAP;
	g->slot = xcalloc(g->cap, sizeof *g->slot);
	for (i = 0; i < old.cap; i++)
		if (old.slot[i] != 0)
			g->slot[find(s, g, old.slot[i])] = old.slot[i];
	free(old.slot);
}

static void gen_free(struct nonce_gen *g)
{
	free(g->slot);
	memset(g, 0, sizeof *g);
}

void nonceset_init(struct nonceset *s, const unsigned char key[16])
{
	memset(s, 0, sizeof *s);
	memcpy(s->key, key, sizeof s->key);
}

void nonceset_free(struct nonceset *s)
{
	gen_free(&s->gen[0]);
	gen_free(&s->gen[1]);
}

int nonceset_retire(struct nonceset *s, uint64_t nonce)
{
	struct nonce_gen *g = &s->gen[0];

	if (gen_has(s, g, nonce))
		return 0;
	if (g->n + g->has_zero >= NONCESET_MAX)
		return -1;
	if (nonce == 0) {
		g->has_zero = 1;
		return 0;
	}
	if (2 * (g->n + 1) > g->cap)
		grow(s, g);
	g->slot[find(s, g, nonce)] = nonce;
	g->n++;
	return 0;
}

int nonceset_retired(const struct nonceset *s, uint64_t nonce)
{
	return gen_has(s, &s->gen[0], nonce) || gen_has(s, &s->gen[1], nonce);
}

void nonceset_rotate(struct nonceset *s)
{
	gen_free(&s->gen[1]);
	s->gen[1] = s->gen[0];
	memset(&s->gen[0], 0, sizeof s->gen[0]);
}

void nonceset_clear(struct nonceset *s)
{
	gen_free(&s->gen[0]);
	gen_free(&s->gen[1]);
}

size_t nonceset_count(const struct nonceset *s)
{
	return s->gen[0].n + (size_t)s->gen[0].has_zero + s->gen[1].n + (size_t)s->gen[1].has_zero;
}
