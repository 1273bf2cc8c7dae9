/* fuzzlib.c - the helpers of fuzzlib.h: input cursor, deterministic randombytes for libsodium,
 * invariant checks. */
#include "fuzzlib.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
	f->off = 0;
}

int fz_more(const struct fz *f)
{
	return f->off < f->n;
}

uint8_t fz_u8(struct fz *f)
{
	return f->off < f->n ? f->p[f->off++] : 0;
}

uint16_t fz_u16(struct fz *f)
{
	uint16_t hi = fz_u8(f);

	return (uint16_t)(hi << 8 | fz_u8(f));
}

uint32_t fz_u32(struct fz *f)
{
	uint32_t hi = fz_u16(f);

	return hi << 16 | fz_u16(f);
}

uint64_t fz_u64(struct fz *f)
{
	uint64_t hi = fz_u32(f);

	return hi << 32 | fz_u32(f);
}

size_t fz_bytes(struct fz *f, size_t want, const uint8_t **out)
{
	size_t have = f->n - f->off;

	if (want > have)
		want = have;
	*out = f->p + f->off; /* never NULL: p points at the input, possibly at its end */
	f->off += want;
	return want;
}

static uint64_t rng_state;

static uint64_t splitmix64(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "qun-fuzz-splitmix64";
}

static uint32_t rng_random(void)
{
	return (uint32_t)(splitmix64() >> 32);
}

static void rng_buf(void *const buf, const size_t size)
{
	uint8_t *p = buf;
	size_t i;
	uint64_t v = 0;

	for (i = 0; i < size; i++) {
		if (i % 8 == 0)
			v = splitmix64();
		p[i] = (uint8_t)(v >> (8 * (i % 8)));
	}
}

static randombytes_implementation rng_impl = {
    .implementation_name = rng_name,
    .random = rng_random,
    .buf = rng_buf,
};

void fz_seed(uint64_t seed)
{
	rng_state = seed;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Must precede sodium_init(): libsodium then never opens /dev/urandom. */
	if (randombytes_set_implementation(&rng_impl) != 0 || sodium_init() < 0) {
		fprintf(stderr, "fuzz: libsodium failed to initialise\n");
		abort();
	}
	return 0;
}

const char *fz_current_input;

void fz_fail(const char *fmt, ...)
{
	va_list ap;

	if (fz_current_input != NULL)
		fprintf(stderr, "fuzz input %s: ", fz_current_input);
	fprintf(stderr, "fuzz invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

void fz_check_rel(const struct rel *r, const char *what)
{
	size_t i, inflight = 0, held = 0;

	FZ_CHECK(r->base >= 1 && r->base <= r->next_seq, "%s: base %u next_seq %u", what, r->base,
	         r->next_seq);
	FZ_CHECK(r->next_seq - r->base <= REL_WINDOW, "%s: %u in flight, window is %d", what,
	         r->next_seq - r->base, REL_WINDOW);
	FZ_CHECK(r->q == NULL || (r->q->len <= REL_QUEUE_MAX && r->q->len <= r->q->cap),
	         "%s: queue %u of cap %u", what, r->q->len, r->q->cap);
	FZ_CHECK(r->q == NULL || r->q->head < r->q->cap, "%s: queue head %u of cap %u", what,
	         r->q->head, r->q->cap);
	FZ_CHECK(r->rto >= REL_RTO_MIN && r->rto <= REL_RTO_MAX, "%s: rto %u", what, r->rto);
	/* The windows are allocated lazily (rel_trim gives them back while idle). */
	FZ_CHECK(r->win != NULL || r->base == r->next_seq, "%s: %u in flight without a window",
	         what, r->next_seq - r->base);

	FZ_CHECK(r->base == r->next_seq || r->win[r->base % REL_WINDOW].b != NULL,
	         "%s: base %u is acknowledged but the window did not move", what, r->base);
	for (i = 0; i < REL_WINDOW; i++) {
		if (r->win != NULL && r->win[i].b != NULL) {
			inflight++;
			FZ_CHECK(r->win[i].rto <= REL_RTO_MAX, "%s: slot %zu rto %u", what, i,
			         r->win[i].rto);
			/* rel_due's lower bound on the timers (serial arithmetic). */
			FZ_CHECK(r->win[i].tries == 0 ||
			             (int32_t)((uint32_t)r->win[i].due - r->due) >= 0,
			         "%s: slot %zu due %llu before rel's earliest %u", what, i,
			         (unsigned long long)r->win[i].due, r->due);
		}
		if (r->held != NULL && r->held->b[i] != NULL)
			held++;
	}
	FZ_CHECK(held == rel_nheld(r), "%s: %zu held, nheld says %u", what, held, rel_nheld(r));
	FZ_CHECK(inflight <= r->next_seq - r->base, "%s: %zu slots used, %u in flight", what,
	         inflight, r->next_seq - r->base);
	FZ_CHECK(rel_busy(r) == (rel_pending(r) > 0), "%s: rel_busy %d, %zu pending", what,
	         rel_busy(r), rel_pending(r));
	FZ_CHECK(r->recv_next >= 1, "%s: recv_next %u", what, r->recv_next);
	FZ_CHECK(held <= REL_WINDOW, "%s: %zu held", what, held);
	/* Pending counts what is not acknowledged yet: the used slots, and the queue. */
	FZ_CHECK(rel_pending(r) == inflight + rel_queued(r), "%s: rel_pending", what);
	for (i = 0; i < rel_queued(r); i++)
		FZ_CHECK(rel_queued_at(r, (uint32_t)i) != NULL, "%s: NULL in queue", what);
}
