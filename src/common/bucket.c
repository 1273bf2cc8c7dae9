/* bucket.c - the token bucket behind flood control and the unvalidated-source rate limits. */
#include "bucket.h"

int bucket_take(struct bucket *b, uint64_t now, unsigned burst, unsigned rate)
{
	uint64_t cap = (uint64_t)(burst < BUCKET_MAX_BURST ? burst : BUCKET_MAX_BURST) * 1000;

	if (!b->primed) {
		b->primed = 1;
		b->milli = (uint32_t)cap;
		b->last = now;
	}
	if (now > b->last) {
		/* rate tokens/s = rate milli-tokens/ms; summed in 64 bits, then capped. */
		uint64_t milli = b->milli + (now - b->last) * rate;

		b->milli = (uint32_t)(milli < cap ? milli : cap);
		b->last = now;
	}
	if (b->milli < 1000)
		return 0;
	b->milli -= 1000;
	return 1;
}
