/* plan.c - how forkcp splits a file into byte ranges, one per worker, and names them. Pure. */
#include "run.h"

#include "plan.h"

#include <inttypes.h>
#include <stdio.h>

int plan_workers(off_t size, int jobs)
{
	if (size < 1)
		return 1;
	return size < jobs ? (int)size : jobs;
}

off_t plan_boundary(off_t size, int n, int i)
{
	off_t q, r, b;

	if (n < 1 || i >= n)
		return size;
	q = size / n;
	r = size % n;
	b = q * i + (i < r ? i : r);
	if (q >= PLAN_ALIGN)
		b -= b % PLAN_ALIGN;
	return b;
}

void plan_range_name(char *buf, size_t len, off_t size, int n, int i)
{
	off_t start = plan_boundary(size, n, i), end = plan_boundary(size, n, i + 1);

	if (start >= end)
		snprintf(buf, len, "no bytes");
	else
		snprintf(buf, len, "bytes %jd-%jd", (intmax_t)start, (intmax_t)end - 1);
}

void plan_worker_name(char *buf, size_t len, off_t size, int n, int i)
{
	char range[64];

	plan_range_name(range, sizeof range, size, n, i);
	snprintf(buf, len, "worker %d of %d (%s)", i + 1, n, range);
}
