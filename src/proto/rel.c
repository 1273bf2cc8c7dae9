/* rel.c - protocol v2 reliability: windows, selective acks, RFC 6298 timers, reordering. */
#include "rel.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct blob *blob_new(const void *data, size_t len)
{
	struct blob *b = xmalloc(sizeof *b + len);

	b->refs = 1;
	b->len = len;
	if (len > 0)
		memcpy(b->data, data, len);
	return b;
}

void blob_ref(struct blob *b)
{
	b->refs++;
}

void blob_unref(struct blob *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

void rel_init(struct rel *r)
{
	memset(r, 0, sizeof *r);
	r->next_seq = 1;
	r->base = 1;
	r->recv_next = 1;
	r->rto = REL_RTO_INIT;
}

void rel_free(struct rel *r)
{
	size_t i;

	for (i = 0; i < REL_WINDOW; i++) {
		if (r->win != NULL)
			blob_unref(r->win[i].b);
		if (r->held != NULL)
			blob_unref(r->held->b[i]);
	}
	for (i = 0; i < rel_queued(r); i++)
		blob_unref(rel_queued_at(r, (uint32_t)i));
	free(r->q);
	free(r->win);
	free(r->held);
	memset(r, 0, sizeof *r);
}

void rel_trim(struct rel *r)
{
	if (r->base == r->next_seq && rel_queued(r) == 0) {
		free(r->win);
		r->win = NULL;
		free(r->q);
		r->q = NULL;
	}
	if (rel_nheld(r) == 0) {
		free(r->held);
		r->held = NULL;
	}
}

int rel_queue(struct rel *r, struct blob *b)
{
	struct rel_queue *q = r->q;

	if (rel_queued(r) >= REL_QUEUE_MAX)
		return -1;
	if (q == NULL || q->len == q->cap) {
		/* Grow the ring, unrolling it so that it starts at 0. */
		uint32_t ncap = q != NULL && q->cap > 0 ? q->cap * 2 : 8, i;
		struct rel_queue *nq = xmalloc(sizeof *nq + ncap * sizeof nq->b[0]);

		nq->head = 0;
		nq->len = q != NULL ? q->len : 0;
		nq->cap = ncap;
		for (i = 0; i < nq->len; i++)
			nq->b[i] = rel_queued_at(r, i);
		free(q);
		r->q = q = nq;
	}
	blob_ref(b);
	q->b[(q->head + q->len) % q->cap] = b;
	q->len++;
	return 0;
}

/* RFC 6298 section 2, in milliseconds, with our floor and cap. */
static void rtt_sample(struct rel *r, uint32_t sample)
{
	uint32_t diff;

	if (r->srtt == 0) {
		r->srtt = sample > 0 ? sample : 1;
		r->rttvar = sample / 2;
	} else {
		diff = r->srtt > sample ? r->srtt - sample : sample - r->srtt;
		r->rttvar = (3 * r->rttvar + diff) / 4;
		r->srtt = (7 * r->srtt + sample) / 8;
		if (r->srtt == 0)
			r->srtt = 1;
	}
	r->rto = r->srtt + 4 * r->rttvar;
	if (r->rto < REL_RTO_MIN)
		r->rto = REL_RTO_MIN;
	if (r->rto > REL_RTO_MAX)
		r->rto = REL_RTO_MAX;
}

static int release(struct rel *r, uint32_t seq, uint64_t now)
{
	struct rel_slot *s;

	if (r->win == NULL)
		return 0;
	s = &r->win[seq % REL_WINDOW];
	if (s->b == NULL || s->tries == 0)
		return 0; /* not sent yet: an ack for it is forged or corrupt */
	if (s->tries == 1 && now >= s->first_sent)
		rtt_sample(r, (uint32_t)(now - s->first_sent));
	blob_unref(s->b);
	memset(s, 0, sizeof *s);
	return 1;
}

int rel_on_ack(struct rel *r, uint32_t ack, uint32_t bits, uint64_t now)
{
	uint32_t seq;
	int n = 0, i;

	if (ack >= r->next_seq)
		return 0; /* acknowledges what we never sent: forged or corrupt */
	for (seq = r->base; seq <= ack && seq < r->next_seq; seq++)
		n += release(r, seq, now);
	for (i = 0; i < 32; i++) {
		seq = ack + 2 + (uint32_t)i;
		if (seq >= r->next_seq)
			break;
		if ((bits >> i) & 1u && seq >= r->base)
			n += release(r, seq, now);
	}
	while (r->base < r->next_seq && r->win[r->base % REL_WINDOW].b == NULL)
		r->base++; /* base < next_seq: something was in flight, so win exists */
	return n;
}

int rel_on_data(struct rel *r, uint32_t seq, const uint8_t *data, size_t len, rel_deliver_fn fn,
                void *ctx)
{
	struct blob **h;

	r->ack_pending = 1;
	if (seq < r->recv_next || seq - r->recv_next > REL_WINDOW)
		return 0;
	if (seq > r->recv_next) {
		if (r->held == NULL)
			r->held = xcalloc(1, sizeof *r->held);
		h = &r->held->b[seq % REL_WINDOW];
		if (*h != NULL)
			return 0;
		*h = blob_new(data, len);
		r->held->n++;
		return 1;
	}
	fn(ctx, data, len);
	r->recv_next++;
	while (rel_nheld(r) > 0 && *(h = &r->held->b[r->recv_next % REL_WINDOW]) != NULL) {
		struct blob *b = *h;

		*h = NULL;
		r->held->n--;
		fn(ctx, b->data, b->len);
		blob_unref(b);
		r->recv_next++;
	}
	return 1;
}

void rel_ack_fields(const struct rel *r, uint32_t *ack, uint32_t *bits)
{
	uint32_t b = 0;
	int i;

	*ack = r->recv_next - 1;
	for (i = 0; i < 32 && rel_nheld(r) > 0; i++)
		if (r->held->b[(r->recv_next + 1 + (uint32_t)i) % REL_WINDOW] != NULL)
			b |= 1u << i;
	*bits = b;
}

uint64_t rel_poll(struct rel *r, uint64_t now, rel_emit_fn fn, void *ctx)
{
	uint64_t next = UINT64_MAX;
	uint32_t seq;

	if (rel_queued(r) > 0 && r->win == NULL)
		r->win = xcalloc(REL_WINDOW, sizeof *r->win);
	while (rel_queued(r) > 0 && r->next_seq - r->base < REL_SEND_WINDOW) {
		struct rel_slot *s = &r->win[r->next_seq % REL_WINDOW];

		s->b = r->q->b[r->q->head];
		s->first_sent = 0;
		s->due = now;
		s->tries = 0;
		r->q->head = (r->q->head + 1) % r->q->cap;
		r->q->len--;
		r->next_seq++;
	}
	for (seq = r->base; seq < r->next_seq; seq++) {
		struct rel_slot *s = &r->win[seq % REL_WINDOW];

		if (s->b == NULL)
			continue;
		if (s->due <= now) {
			if (s->tries == 0) {
				s->first_sent = now;
				s->rto = r->rto;
			} else {
				s->rto = s->rto * 2 > REL_RTO_MAX ? REL_RTO_MAX : s->rto * 2;
			}
			if (s->tries < UINT8_MAX)
				s->tries++;
			s->due = now + s->rto;
			fn(ctx, seq, s->b);
		}
		if (s->due < next)
			next = s->due;
	}
	if (next != UINT64_MAX)
		r->due = (uint32_t)next;
	return next;
}

int rel_due(const struct rel *r, uint64_t now)
{
	if (rel_queued(r) > 0 && r->next_seq - r->base < REL_SEND_WINDOW)
		return 1;
	/* Serial-number arithmetic on 32 bits: timers are at most REL_RTO_MAX ahead. */
	return r->base != r->next_seq && (int32_t)((uint32_t)now - r->due) >= 0;
}

uint32_t rel_last_seq(const struct rel *r)
{
	return r->next_seq + rel_queued(r) - 1;
}

int rel_acked_through(const struct rel *r, uint32_t seq)
{
	return seq < r->base;
}

int rel_oldest(const struct rel *r, uint64_t *first_sent)
{
	uint32_t seq;

	for (seq = r->base; seq < r->next_seq; seq++) {
		const struct rel_slot *s = &r->win[seq % REL_WINDOW];

		if (s->b != NULL && s->tries > 0) {
			*first_sent = s->first_sent;
			return 1;
		}
	}
	return 0;
}

size_t rel_pending(const struct rel *r)
{
	size_t n = rel_queued(r);
	uint32_t seq;

	for (seq = r->base; seq < r->next_seq; seq++)
		n += r->win[seq % REL_WINDOW].b != NULL;
	return n;
}

int rel_busy(const struct rel *r)
{
	return r->base != r->next_seq || rel_queued(r) > 0;
}

uint32_t rel_queued(const struct rel *r)
{
	return r->q != NULL ? r->q->len : 0;
}

unsigned rel_nheld(const struct rel *r)
{
	return r->held != NULL ? r->held->n : 0;
}

struct blob *rel_queued_at(const struct rel *r, uint32_t i)
{
	return r->q->b[(r->q->head + i) % r->q->cap];
}
