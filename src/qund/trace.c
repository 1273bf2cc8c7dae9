/* trace.c - where a chat message's time goes inside qund, stage by stage (make TRACE=1). */
#include "trace.h"

/*
 * The bucket of d us: quarter octaves.  Bucket 1 + 4m + f holds
 * [(4 + f) 2^m / 4, (5 + f) 2^m / 4), where m is d's highest bit and f the
 * next two; bucket 0 holds 0.
 */
static unsigned bucket_of(uint64_t d)
{
	unsigned m, f, b;

	if (d == 0)
		return 0;
	m = 63 - (unsigned)__builtin_clzll(d);
	f = (unsigned)(m >= 2 ? d >> (m - 2) : d << (2 - m)) & 3;
	b = 1 + 4 * m + f;
	return b < TRACE_BUCKETS ? b : TRACE_BUCKETS - 1;
}

/* The largest duration in bucket b, us. */
static uint64_t bucket_top(unsigned b)
{
	unsigned m = (b - 1) / 4, f = (b - 1) % 4;

	return b == 0 ? 0 : (((uint64_t)5 + f) << m) / 4 - ((m >= 2) ? 1 : 0);
}

static void record(struct trace *t, enum trace_stage s, uint64_t from, uint64_t to)
{
	struct trace_hist *h = &t->hist[s];
	uint64_t d = to > from ? to - from : 0;

	h->n++;
	h->bucket[bucket_of(d)]++;
	if (d > h->max_us)
		h->max_us = d;
}

void trace_datagram(struct trace *t, uint64_t arrive_us, uint64_t read_us)
{
	t->arrive_us = arrive_us != 0 && arrive_us <= read_us ? arrive_us : read_us;
	t->read_us = read_us;
}

void trace_decided(struct trace *t, uint64_t now)
{
	if (t->t_decided != 0 || t->read_us == 0)
		return; /* one at a time; and only what came from the socket */
	t->t_arrive = t->arrive_us;
	t->t_read = t->read_us;
	t->t_decided = now;
}

void trace_queued(struct trace *t, uint64_t now)
{
	if (t->t_decided != 0 && t->t_queued == 0)
		t->t_queued = now;
}

void trace_deferred(struct trace *t, size_t n)
{
	if (t->t_queued != 0)
		t->deferred += n;
}

void trace_flushed(struct trace *t, uint64_t now)
{
	t->read_us =
	    0; /* what the next turn decides without a datagram (a command) is not followed */
	if (t->t_queued == 0)
		return;
	record(t, TRACE_WAIT, t->t_arrive, t->t_read);
	record(t, TRACE_READ, t->t_read, t->t_decided);
	record(t, TRACE_QUEUE, t->t_decided, t->t_queued);
	record(t, TRACE_HAND, t->t_queued, now);
	record(t, TRACE_TOTAL, t->t_arrive, now);
	t->t_arrive = t->t_read = t->t_decided = t->t_queued = 0;
}

void trace_span(struct trace *t, enum trace_stage s, uint64_t from, uint64_t to)
{
	record(t, s, from, to);
}

uint64_t trace_percentile(const struct trace *t, enum trace_stage s, unsigned p)
{
	const struct trace_hist *h = &t->hist[s];
	uint64_t want = (h->n * p + 99) / 100, seen = 0;
	unsigned b;

	if (h->n == 0)
		return 0;
	for (b = 0; b < TRACE_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= want)
			return bucket_top(b) < h->max_us ? bucket_top(b) : h->max_us;
	}
	return h->max_us;
}

const char *trace_stage_name(enum trace_stage s)
{
	static const char *const names[TRACE_STAGES] = {"wait",  "read", "queue", "hand",
	                                                "total", "tick", "flush"};

	return (unsigned)s < TRACE_STAGES ? names[s] : "?";
}
