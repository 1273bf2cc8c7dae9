/* fuzz_rel.c - libFuzzer harness for the reliability state machine (src/proto/rel.c): two ends, a
 * hostile network, a fake clock. */
#include <stdlib.h>
#include <string.h>

#include "proto/rel.h"
#include "fuzzlib.h"

/*
 * Two ends, 0 and 1, each a struct rel, joined by a network that the input
 * drives: it queues messages, polls either end at a chosen time, delivers,
 * duplicates, reorders or drops datagrams, moves the clock, and can forge
 * acks and data.  Every message carries a 4-byte serial number, so the
 * receiver can tell that what it delivers is exactly what was sent, in
 * order, once.  A forged ack or forged data "taints" its direction: from
 * then on the peer is lying, so only memory safety and the bounds are
 * checked there, not exactness.  At the end, unless tainted, an honest
 * network must deliver everything still pending (liveness).
 */

#define NET_MAX 512
#define MSG_MAX 2048 /* messages queued per direction in one input */

struct dgram {
	int to;       /* end that receives it */
	uint32_t seq; /* 0: an ACK */
	uint32_t ack, bits;
	struct blob *b; /* DATA payload (a reference) */
};

struct end {
	struct rel r;
	uint32_t sent;    /* messages queued by this end */
	uint32_t got;     /* messages delivered to this end, from the other */
	int tainted;      /* this end received a lie: exactness is off for what it receives */
	int acks_tainted; /* this end was told a forged ack: liveness is off for what it sends */
	uint64_t last_emit[REL_WINDOW]; /* per slot: time of the last (re)transmission */
	uint32_t last_seq[REL_WINDOW];  /* ... of this seq */
};

struct world {
	struct end e[2];
	struct dgram net[NET_MAX];
	size_t nnet;
	uint64_t now;
	int cur;        /* the end being polled or delivered to (callbacks) */
	unsigned emits; /* DATA sent by rel_poll, ever */
};

static void net_push(struct world *w, int to, uint32_t seq, const struct rel *from,
                     const struct blob *b)
{
	struct dgram *d;

	if (w->nnet == NET_MAX)
		return; /* the network is full: this one is lost */
	d = &w->net[w->nnet++];
	d->to = to;
	d->seq = seq;
	rel_ack_fields(from, &d->ack, &d->bits);
	d->b = NULL;
	if (b != NULL) {
		d->b = (struct blob *)(uintptr_t)b; /* rel owns it; we take our own reference */
		blob_ref(d->b);
	}
}

static void net_remove(struct world *w, size_t i)
{
	blob_unref(w->net[i].b);
	w->net[i] = w->net[--w->nnet];
}

static void on_emit(void *ctx, uint32_t seq, const struct blob *b)
{
	struct world *w = ctx;
	struct end *e = &w->e[w->cur];
	size_t slot = seq % REL_WINDOW;

	FZ_CHECK(seq >= e->r.base && seq < e->r.next_seq, "emitted seq %u outside [%u, %u)", seq,
	         e->r.base, e->r.next_seq);
	/* Retransmissions back off: never two sends of one seq closer than the floor. */
	if (e->last_seq[slot] == seq)
		FZ_CHECK(w->now - e->last_emit[slot] >= REL_RTO_MIN, "seq %u resent after %llu ms",
		         seq, (unsigned long long)(w->now - e->last_emit[slot]));
	e->last_seq[slot] = seq;
	e->last_emit[slot] = w->now;
	w->emits++;
	net_push(w, !w->cur, seq, &e->r, b);
	e->r.ack_pending = 0;
}

static void on_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	struct end *e = &w->e[w->cur];
	uint32_t serial;

	FZ_CHECK(len >= 4 || e->tainted, "delivered %zu bytes", len);
	if (!e->tainted) {
		serial = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
		         (uint32_t)data[2] << 8 | data[3];
		FZ_CHECK(serial == e->got, "end %d got message %u, expected %u", w->cur, serial,
		         e->got);
		FZ_CHECK(e->got < w->e[!w->cur].sent, "end %d got more than was sent", w->cur);
	}
	e->got++;
}

static void do_queue(struct world *w, int i, struct fz *f)
{
	struct end *e = &w->e[i];
	uint8_t msg[4 + 255];
	size_t extra = fz_u8(f) % 64;
	struct blob *b;

	if (e->sent >= MSG_MAX)
		return;
	msg[0] = (uint8_t)(e->sent >> 24);
	msg[1] = (uint8_t)(e->sent >> 16);
	msg[2] = (uint8_t)(e->sent >> 8);
	msg[3] = (uint8_t)e->sent;
	memset(msg + 4, 'x', extra);
	b = blob_new(msg, 4 + extra);
	if (rel_queue(&e->r, b) == 0)
		e->sent++;
	else
		FZ_CHECK(rel_queued(&e->r) == REL_QUEUE_MAX, "queue refused at %u",
		         rel_queued(&e->r));
	blob_unref(b);
}

static void do_poll(struct world *w, int i)
{
	struct end *e = &w->e[i];
	unsigned emits = w->emits;
	int due = rel_due(&e->r, w->now);
	uint64_t next, oldest = 0;

	w->cur = i;
	next = rel_poll(&e->r, w->now, on_emit, w);
	/* A timer may skip what rel_due calls not due (qund's p2_tick does). */
	FZ_CHECK(due || w->emits == emits, "rel_due said nothing was due, rel_poll sent %u",
	         w->emits - emits);
	FZ_CHECK(!rel_due(&e->r, w->now), "rel_due after a poll at the same time");
	FZ_CHECK(next > w->now, "rel_poll wants to run again at %llu, now is %llu",
	         (unsigned long long)next, (unsigned long long)w->now);
	FZ_CHECK((next == UINT64_MAX) == (e->r.base == e->r.next_seq),
	         "next %llu with %u in flight", (unsigned long long)next,
	         e->r.next_seq - e->r.base);
	/* After a poll everything in the window has been sent: rel_oldest sees it all, at any
	 * time, 0 included (w->now may start there). */
	FZ_CHECK(rel_oldest(&e->r, &oldest) == (e->r.base != e->r.next_seq),
	         "rel_oldest disagrees with %u in flight", e->r.next_seq - e->r.base);
	if (e->r.base != e->r.next_seq)
		FZ_CHECK(oldest <= w->now, "oldest first sent at %llu, now is %llu",
		         (unsigned long long)oldest, (unsigned long long)w->now);
	if (e->r.ack_pending) {
		net_push(w, !i, 0, &e->r, NULL);
		e->r.ack_pending = 0;
	}
}

static void deliver(struct world *w, size_t k, int keep)
{
	struct dgram d = w->net[k];
	struct end *e = &w->e[d.to];

	w->cur = d.to;
	rel_on_ack(&e->r, d.ack, d.bits, w->now);
	if (d.seq != 0)
		rel_on_data(&e->r, d.seq, d.b->data, d.b->len, on_deliver, w);
	if (!keep)
		net_remove(w, k);
}

static void check(const struct world *w)
{
	fz_check_rel(&w->e[0].r, "end 0");
	fz_check_rel(&w->e[1].r, "end 1");
}

/* An honest, lossless network from here on: everything pending must arrive. */
static void drain(struct world *w)
{
	int round, i;

	for (round = 0; round < 64; round++) {
		for (i = 0; i < 2; i++)
			do_poll(w, i);
		while (w->nnet > 0)
			deliver(w, 0, 0);
		for (i = 0; i < 2; i++)
			do_poll(w, i);
		while (w->nnet > 0)
			deliver(w, 0, 0);
		check(w);
		if (rel_pending(&w->e[0].r) == 0 && rel_pending(&w->e[1].r) == 0)
			break;
		w->now += REL_RTO_MAX + 1;
	}
	for (i = 0; i < 2; i++) {
		if (w->e[i].acks_tainted || w->e[!i].tainted)
			continue;
		FZ_CHECK(rel_pending(&w->e[i].r) == 0, "end %d: %zu messages never acknowledged", i,
		         rel_pending(&w->e[i].r));
		FZ_CHECK(w->e[!i].got == w->e[i].sent, "end %d got %u of %u messages", !i,
		         w->e[!i].got, w->e[i].sent);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	struct fz f;
	int i;

	memset(&w, 0, sizeof w);
	rel_init(&w.e[0].r);
	rel_init(&w.e[1].r);
	fz_init(&f, data, size);
	w.now = fz_u8(&f) < 128 ? fz_u32(&f) : fz_u64(&f) >> 8;
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		int end = op & 1;

		switch ((op >> 1) % 9) {
		case 0:
		case 1:
			do_queue(&w, end, &f);
			break;
		case 2:
			do_poll(&w, end);
			break;
		case 3:
			if (w.nnet > 0) {
				uint8_t how = fz_u8(&f);

				deliver(&w, how % w.nnet,
				        how >= 224); /* keep a copy: a duplicate */
			}
			break;
		case 4:
			if (w.nnet > 0)
				net_remove(&w, fz_u8(&f) % w.nnet);
			break;
		case 5:
			w.now += fz_u16(&f);
			break;
		case 6: {
			/* A forged ack near the window, as a corrupt or spoofed datagram carries.
			 */
			struct rel *r = &w.e[end].r;
			uint32_t ack = r->base - 2 + fz_u8(&f) % 72;

			w.e[end].acks_tainted = 1;
			rel_on_ack(r, ack, fz_u32(&f), w.now);
			break;
		}
		case 7: {
			/* Forged data near the receive window. */
			struct rel *r = &w.e[end].r;
			uint32_t seq = r->recv_next - 2 + fz_u8(&f) % 72;
			const uint8_t *p;
			size_t n = fz_bytes(&f, fz_u8(&f) % 16, &p);

			w.e[end].tainted = 1;
			w.cur = end;
			rel_on_data(r, seq, p, n, on_deliver, &w);
			break;
		}
		default:
			/* Time passes, and the timer gives back an idle end's windows, as qund's
			 * does. */
			w.now += (uint64_t)fz_u8(&f) * 1000;
			rel_trim(&w.e[end].r);
			break;
		}
		check(&w);
	}
	drain(&w);
	while (w.nnet > 0)
		net_remove(&w, 0);
	for (i = 0; i < 2; i++)
		rel_free(&w.e[i].r);
	return 0;
}
