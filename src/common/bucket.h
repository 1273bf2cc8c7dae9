/* bucket.h - a token bucket (burst, then a steady rate) for flood control and rate limits. Pure. */
#ifndef QUN_BUCKET_H
#define QUN_BUCKET_H

#include <stdint.h>

/* 16 bytes: every member of a room has one. */
struct bucket {
	uint64_t last;   /* ms of the last refill */
	uint32_t milli;  /* tokens x 1000: burst is at most BUCKET_MAX_BURST */
	uint32_t primed; /* 0 until the first take fills it */
};

#define BUCKET_MAX_BURST 4000000u /* so that burst x 1000 fits in 32 bits */

/*
 * Take one token at time now (ms) from a bucket holding at most burst
 * tokens and refilled at rate tokens per second; a new bucket starts
 * full.  burst is capped at BUCKET_MAX_BURST.  Returns 1 if a token was taken, 0 if the bucket is
 * empty.
 */
int bucket_take(struct bucket *b, uint64_t now, unsigned burst, unsigned rate);

#endif
