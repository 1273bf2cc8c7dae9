/* plan.h - how forkcp splits a file into byte ranges, one per worker, and names them. Pure. */
#ifndef QUN_FORKCP_PLAN_H
#define QUN_FORKCP_PLAN_H

#include "run.h"

#include <stddef.h>

/* Range boundaries fall on multiples of this when ranges are at least this long. */
#define PLAN_ALIGN (1L << 20)

/*
 * How many workers copy SIZE bytes when JOBS (>= 1) were asked for: JOBS,
 * but never more than there are bytes, and 1 for an empty file.
 */
int plan_workers(off_t size, int jobs);

/*
 * Where range I of N starts in a file of SIZE bytes; I == N gives SIZE, and
 * so does N < 1.  Ranges differ by at most one byte, or by at most
 * PLAN_ALIGN when they are at least PLAN_ALIGN long, in which case the
 * boundaries fall on multiples of PLAN_ALIGN so that no two workers write
 * the same page.  Computed without multiplying SIZE: it cannot overflow.
 */
off_t plan_boundary(off_t size, int n, int i);

/* "bytes A-B" (inclusive), or "no bytes", for range I of N of SIZE bytes, into BUF. */
void plan_range_name(char *buf, size_t len, off_t size, int n, int i);

/* "worker I+1 of N (bytes A-B)", how messages name worker I, into BUF. */
void plan_worker_name(char *buf, size_t len, off_t size, int n, int i);

#endif
