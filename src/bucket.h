/* bucket.h - a token bucket (burst, then a steady rate) for flood control and rate limits. Pure. */
#ifndef QUN_BUCKET_H
#define QUN_BUCKET_H

#include <stdint.h>

struct bucket {
	uint64_t milli; /* tokens x 1000 */
	uint64_t last;  /* ms of the last refill */
	int primed;
};

/*
 * Take one token at time now (ms) from a bucket holding at most burst
 * tokens and refilled at rate tokens per second; a new bucket starts
 * full.  Returns 1 if a token was taken, 0 if the bucket is empty.
 */
int bucket_take(struct bucket *b, uint64_t now, unsigned burst, unsigned rate);

#endif
