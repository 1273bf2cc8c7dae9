/* bucket.c - the token bucket behind flood control and the unvalidated-source rate limits. */
#include "bucket.h"

int bucket_take(struct bucket *b, uint64_t now, unsigned burst, unsigned rate)
{
	uint64_t cap = (uint64_t)burst * 1000;

	if (!b->primed) {
		b->primed = 1;
		b->milli = cap;
		b->last = now;
	}
	if (now > b->last) {
		b->milli += (now - b->last) * rate; /* rate tokens/s = rate milli-tokens/ms */
		if (b->milli > cap)
			b->milli = cap;
		b->last = now;
	}
	if (b->milli < 1000)
		return 0;
	b->milli -= 1000;
	return 1;
}
