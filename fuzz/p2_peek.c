/* p2_peek.c - test-only: src/qund/proto2.c compiled with a window onto its private state, for the
 * server fuzz harness. */

/*
 * The server harness must check invariants inside protocol v2's private
 * state (sessions, the session-id table, the dirty list, each session's
 * reliability queues) and compute valid cookies, but struct proto2 is
 * private to proto2.c, and it should stay so.  Rather than add accessors
 * to the daemon for the sake of a test, this file includes proto2.c
 * whole and adds them here: the harness links this object instead of
 * proto2.o, so it runs exactly the daemon's code.
 */
#include "../src/qund/proto2.c" /* NOLINT(bugprone-suspicious-include): the point of this file */

#include "p2_peek.h"

void p2_peek_cookie(const struct server *s, const struct peer_addr *addr, uint64_t nonce,
                    uint8_t out[V2_COOKIE_LEN])
{
	cookie_make(&s->p2->jar, addr, nonce, out);
}

int p2_peek_cookie_ok(const struct server *s, const struct peer_addr *addr, uint64_t nonce,
                      const uint8_t cookie[V2_COOKIE_LEN])
{
	return cookie_check(&s->p2->jar, addr, nonce, cookie);
}

uint64_t p2_peek_sid(const struct member *m)
{
	const struct session *ss = m->data;

	return ss != NULL ? ss->sid : 0;
}

static int is_member(const struct room *r, const struct member *m)
{
	size_t i, n = room_count(r);

	for (i = 0; i < n; i++)
		if (room_member(r, i) == m)
			return 1;
	return 0;
}

static int in_list(const struct session_list *l, const struct session *ss)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == ss)
			return 1;
	return 0;
}

/* Each session on a list is live, flagged, and (busy) knows its index. */
static void check_lists(struct proto2 *p)
{
	size_t i;

	for (i = 0; i < p->dirty.n; i++)
		FZ_CHECK(p->dirty.v[i]->dirty && is_member(p->srv->room, p->dirty.v[i]->m),
		         "a dirty session that is not live");
	for (i = 0; i < p->busy.n; i++)
		FZ_CHECK(p->busy.v[i]->busy && p->busy.v[i]->busy_at == i &&
		             is_member(p->srv->room, p->busy.v[i]->m),
		         "busy list entry %zu broken", i);
}

static void check_shrunk(const struct session_list *l, const char *what)
{
	FZ_CHECK(l->n <= l->cap, "%s list: %zu entries in %zu", what, l->n, l->cap);
	FZ_CHECK(l->cap <= 64 || l->n > l->cap / 4, "%s list kept %zu slots for %zu entries", what,
	         l->cap, l->n);
}

void p2_peek_check_lists_shrunk(const struct server *s)
{
	check_shrunk(&s->p2->dirty, "dirty");
	check_shrunk(&s->p2->busy, "busy");
}

void p2_peek_check(const struct server *s, int flushed)
{
	struct proto2 *p = s->p2;
	const struct session *ss;
	size_t n = 0, i = 0, members = room_count(s->room);

	while ((ss = next_session(p, &i)) != NULL) {
		n++;
		FZ_CHECK(ss->sid != 0 && find_sid(p, ss->sid) == ss, "session %llx not findable",
		         (unsigned long long)ss->sid);
		FZ_CHECK(ss->m->proto == 2 && ss->m->data == ss, "member and session disagree");
		FZ_CHECK(ss->asm_text == NULL || ss->asm_text->len <= V2_MAX_TEXT,
		         "reassembly of %zu bytes", ss->asm_text->len);
		FZ_CHECK(ss->asm_text != NULL || !ss->asm_overflow,
		         "an overflow flag left over from a reassembly that is gone");
		FZ_CHECK(!ss->dirty || in_list(&p->dirty, ss), "dirty but not on the list");
		FZ_CHECK(!ss->busy || in_list(&p->busy, ss), "busy but not on the list");
		FZ_CHECK(!flushed || !ss->dirty, "still dirty after a flush");
		FZ_CHECK(!flushed || !ss->doomed, "a doomed session survived a flush");
		/* An ACK that freed room must have let the queue in (it marks the session). */
		FZ_CHECK(!flushed || rel_queued(&ss->rel) == 0 ||
		             ss->rel.next_seq - ss->rel.base >= REL_SEND_WINDOW,
		         "%u queued with %u of %d window slots used after a flush",
		         rel_queued(&ss->rel), ss->rel.next_seq - ss->rel.base, REL_SEND_WINDOW);
		FZ_CHECK(rel_pending(&ss->rel) <= REL_WINDOW + REL_QUEUE_MAX, "%zu pending",
		         rel_pending(&ss->rel));
		fz_check_rel(&ss->rel, ss->m->name);
	}
	FZ_CHECK(n == p->count, "%zu sessions counted as %zu", n, p->count);
	FZ_CHECK(p->count <= SID_LOAD * p->nbuckets, "%zu sessions in %zu buckets", p->count,
	         p->nbuckets);
	check_lists(p);
	for (i = 0; i < members; i++) {
		const struct member *m = room_member(s->room, i);

		if (m->proto == 2)
			FZ_CHECK(m->data != NULL, "v2 member %s without a live session", m->name);
		else
			FZ_CHECK(m->proto == 1 && m->data == NULL, "member %s: proto %d", m->name,
			         m->proto);
	}
}
