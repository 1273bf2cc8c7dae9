/* test_proto2.c - unit tests of qund's protocol v2 layer (src/qund/proto2.c) through its interface.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "common/log.h"
#include "proto/wire2.h"
#include "qund/proto2.h"
#include "qund/room.h"
#include "qund/sanction.h"
#include "qund/server.h"

/*
 * The server as qund builds it, with the io table a test's: a clock the
 * test moves and a send that keeps every datagram.  Clients are raw v2
 * datagrams from 127.0.0.1 at port 20000 + i.
 */
#define MAX_OUT  65536
#define NCLIENTS 400

struct sent {
	struct peer_addr to;
	size_t len;
	uint8_t buf[QUN_MAX_DATAGRAM];
};

static struct {
	uint64_t now;
	struct sent *out;
	size_t nout;
} F;

static struct server S;

struct client {
	struct peer_addr addr;
	uint64_t sid;
	uint32_t next_seq;  /* of its own DATA */
	uint32_t recv_next; /* the server's DATA it has seen, in order (it acks these) */
	size_t scanned;     /* F.out up to here has been read for it */
};

static struct client C[NCLIENTS];

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return F.now;
}

static int fake_send(void *ctx, struct mmsghdr *msgs, unsigned count)
{
	unsigned i;

	(void)ctx;
	for (i = 0; i < count; i++) {
		const struct msghdr *h = &msgs[i].msg_hdr;
		struct sent *o = &F.out[F.nout % MAX_OUT];

		assert_int_equal(h->msg_iovlen, 1);
		assert_true(h->msg_iov[0].iov_len <= QUN_MAX_DATAGRAM);
		memset(&o->to, 0, sizeof o->to);
		memcpy(&o->to.sa, h->msg_name, h->msg_namelen);
		o->to.len = h->msg_namelen;
		o->len = h->msg_iov[0].iov_len;
		memcpy(o->buf, h->msg_iov[0].iov_base, o->len);
		F.nout++;
	}
	return (int)count;
}

static const struct server_io io = {.now_ms = fake_now, .send = fake_send};

static void quiet(int prio, const char *msg)
{
	(void)prio;
	(void)msg;
}

static int setup(void **state)
{
	static const struct room_config cfg = {
	    .max_members = 1000,
	    .max_per_address = 1000,
	    .flood_burst = 100000,
	    .flood_rate = 100000,
	    .keepalive_timeout = 90000,
	    .idle_timeout = 3600000,
	};
	static const unsigned char key[16] = "test-proto2-key!";
	int i;

	(void)state;
	memset(&S, 0, sizeof S);
	memset(C, 0, sizeof C);
	F.now = 1000000;
	F.nout = 0;
	if (F.out == NULL)
		F.out = calloc(MAX_OUT, sizeof *F.out);
	assert_non_null(F.out);
	log_to_sink(quiet);
	S.io = &io;
	S.udp = S.udp_acks = S.sigfd = S.tickfd = S.epfd = S.console = -1;
	S.keepalive_hint = 25;
	S.room = room_new(&cfg, key);
	S.sanctions = sanction_new();
	S.p2 = p2_new(&S);
	S.proto[2] = &proto2_ops;
	for (i = 0; i < NCLIENTS; i++) {
		struct sockaddr_in *a = (struct sockaddr_in *)&C[i].addr.sa;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)(20000 + i));
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		C[i].addr.len = sizeof *a;
		C[i].next_seq = 1;
		C[i].recv_next = 1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	p2_free(S.p2);
	sanction_free(S.sanctions);
	room_free(S.room);
	return 0;
}

/* The layer's invariants hold (proto2.h, p2_check). */
static void check(int flushed)
{
	char err[256];

	if (p2_check(S.p2, flushed, err, sizeof err) != 0)
		fail_msg("protocol v2: %s", err);
}

/* The tick and every slice of its walk, as the loop does them between its reads. */
static void tick_whole(void)
{
	int more = server_tick(&S);

	while (more)
		more = server_tick_more(&S);
}

/* Client i sends a body (sealed here) and the loop's turn ends (flush) or not. */
static void from(int i, const struct v2_packet *p, int flush)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(p, buf, sizeof buf), sizeof buf);

	assert_true(n > 0);
	proto2_ops.handle(&S, &C[i].addr, buf, n);
	if (flush)
		server_before_sleep(&S);
}

/* The datagrams sent to client i since index since, parsed, into out (at most max). */
static size_t sent_to(int i, size_t since, struct v2_packet *out, size_t max)
{
	size_t k, n = 0;

	for (k = since; k < F.nout && n < max; k++) {
		const struct sent *o = &F.out[k % MAX_OUT];

		if (!addr_equal(&o->to, &C[i].addr))
			continue;
		assert_int_equal(v2_parse(o->buf, v2_unseal(o->buf, o->len), &out[n]), V2_OK);
		n++;
	}
	return n;
}

/* Client i logs in as name: a LOGIN with the cookie the server would give. */
static void login(int i, const char *name)
{
	struct v2_packet p = {.type = V2_LOGIN, .name = name, .name_len = strlen(name)}, got[8];
	size_t since = F.nout, n, k;

	p.nonce = 0x1000 + (uint64_t)i;
	p2_cookie(S.p2, &C[i].addr, p.nonce, p.cookie);
	from(i, &p, 1);
	n = sent_to(i, since, got, 8);
	for (k = 0; k < n; k++)
		if (got[k].type == V2_WELCOME)
			C[i].sid = got[k].sid;
	assert_true(C[i].sid != 0);
}

/* Client i acknowledges every DATA the server has sent it so far, in order. */
static void ack_all(int i)
{
	static struct v2_packet got[4096];
	struct v2_packet a = {.type = V2_ACK, .sid = C[i].sid};
	size_t n = sent_to(i, C[i].scanned, got, 4096), k;

	C[i].scanned = F.nout;
	for (k = 0; k < n; k++)
		if (got[k].type == V2_DATA && got[k].seq == C[i].recv_next)
			C[i].recv_next++;
	a.ack = C[i].recv_next - 1;
	from(i, &a, 0);
}

/* Clients 0..n-1 acknowledge until the server has nothing more in flight to them. */
static void settle(int n)
{
	size_t before;
	int i;

	do {
		before = F.nout;
		for (i = 0; i < n; i++)
			ack_all(i);
		server_before_sleep(&S);
	} while (F.nout != before);
}

/* Client i says text (one DATA). */
static void say(int i, const char *text, int flush)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_msg m = {.kind = V2_K_SAY, .text = text, .text_len = strlen(text)};
	struct v2_packet p = {.type = V2_DATA, .sid = C[i].sid};

	p.seq = C[i].next_seq++;
	p.ack = C[i].recv_next - 1;
	p.payload_len = v2_msg_encode(&m, payload, sizeof payload);
	p.payload = payload;
	from(i, &p, flush);
}

static void quit(int i, int flush)
{
	uint8_t kind = V2_K_QUIT;
	struct v2_packet p = {.type = V2_DATA, .sid = C[i].sid, .payload = &kind, .payload_len = 1};

	p.seq = C[i].next_seq++;
	p.ack = C[i].recv_next - 1;
	from(i, &p, flush);
}

/* Tests */

/* Every session can be found by its id and back, however large the table grew. */
static void session_table_finds_every_session(void **state)
{
	struct p2_counts c;
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "m%d", i);
		login(i, name);
		if (i % 50 == 0)
			check(1);
	}
	p2_counts(S.p2, &c);
	assert_int_equal(c.sessions, 300);
	assert_true(c.sessions <= 2 * c.sid_buckets); /* two per bucket at most */
	for (i = 0; i < 300; i++)
		assert_int_equal(p2_session_id(room_find_addr(S.room, &C[i].addr)), C[i].sid);
	check(1);
}

/* A quit frees the session and its id; the others are still found. */
static void quit_frees_the_session(void **state)
{
	struct v2_packet got[16];
	struct p2_counts c;
	size_t since, n, k;
	int closed = 0;

	(void)state;
	login(0, "ann");
	login(1, "bob");
	login(2, "cid");
	since = F.nout;
	quit(1, 1);
	p2_counts(S.p2, &c);
	assert_int_equal(c.sessions, 2);
	assert_null(room_find_addr(S.room, &C[1].addr));
	assert_int_equal(c.retired_nonces, 1); /* a replayed LOGIN of it is not taken */
	n = sent_to(1, since, got, 16);
	for (k = 0; k < n; k++)
		closed |= got[k].type == V2_CLOSE && got[k].code == V2_CLOSE_QUIT;
	assert_true(closed);
	check(1);
}

/*
 * A broadcast puts every recipient on the dirty list (emptied by the
 * flush) and the busy list (its DATA in flight); once all have acked, the
 * tick takes them off and gives the arrays back.
 */
static void lists_fill_with_a_broadcast_and_are_given_back(void **state)
{
	struct p2_counts c;
	char name[16];
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "m%d", i);
		login(i, name);
	}
	settle(200); /* the joins */
	F.now += 100;
	tick_whole();
	server_before_sleep(&S);
	say(0, "hello", 0);
	p2_counts(S.p2, &c);
	assert_int_equal(c.dirty,
	                 200); /* the 199 others and the sender, owed an ACK: not sent yet */
	check(0);
	server_before_sleep(&S);
	p2_counts(S.p2, &c);
	assert_int_equal(c.dirty, 0);
	assert_true(c.busy >= 199);
	assert_true(c.busy_cap >= 199);
	check(1);
	settle(200);
	F.now += 100;
	tick_whole();
	server_before_sleep(&S);
	p2_counts(S.p2, &c);
	assert_int_equal(c.busy, 0);
	assert_true(c.busy_cap <= 64 && c.dirty_cap <= 64);
	check(1);
}

/*
 * A room of n whose first member said a line the others never acknowledge,
 * and a clock past any retransmission timeout: every other member is owed
 * one.  Returns F.nout at that point.
 */
static size_t owed_a_retransmission(int n)
{
	char name[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "m%d", i);
		login(i, name);
	}
	settle(n);
	say(0, "anyone?", 1);
	ack_all(0);
	server_before_sleep(&S);
	F.now += 5000;
	return F.nout;
}

/*
 * A big room's tick walks its busy sessions in slices, so that the loop
 * reads between them: the first slice retransmits to some of the members
 * whose DATA was not acknowledged, the slices after it to the rest, each
 * exactly once, and nobody is skipped.
 */
static void the_tick_walks_a_big_room_in_slices(void **state)
{
	static struct v2_packet got[64];
	size_t since, n, k;
	int i, first = 0, all = 0, more;

	(void)state;
	since = owed_a_retransmission(300);
	more = server_tick(&S);
	server_before_sleep(&S);
	assert_true(more);
	for (i = 1; i < 300; i++)
		first += sent_to(i, since, got, 64) > 0;
	assert_true(first > 0 && first < 299);
	while (more) {
		more = server_tick_more(&S);
		server_before_sleep(&S);
	}
	for (i = 1; i < 300; i++) {
		n = sent_to(i, since, got, 64);
		for (k = 0; k < n; k++)
			all += got[k].type == V2_DATA;
		assert_int_equal(n, 1);
	}
	assert_int_equal(all, 299);
	check(1);
}

/*
 * A walk visits at most the sessions that were busy when it began, so
 * members joining between its slices cannot keep it going; sessions that
 * end behind its place move another one there, which the next walk
 * visits.  Over two ticks every member still owed a retransmission gets
 * one, whatever happened between the slices.
 */
static void the_tick_walk_ends_and_misses_nobody(void **state)
{
	static struct v2_packet got[64];
	char name[16];
	size_t since;
	int i, slices, more;

	(void)state;
	since = owed_a_retransmission(256);
	more = server_tick(&S);
	server_before_sleep(&S);
	for (slices = 1; more; slices++) {
		if (slices == 1) {
			for (i = 300; i < 350;
			     i++) { /* newcomers: busy sessions after the walk's start */
				snprintf(name, sizeof name, "m%d", i);
				login(i, name);
			}
			for (i = 1; i <= 20; i++) /* sessions behind the walk's place end */
				quit(i, 1);
		}
		more = server_tick_more(&S);
		server_before_sleep(&S);
	}
	assert_int_equal(slices, 2); /* 256 sessions, 128 a slice; the 144 later ones wait */
	F.now += 5000;
	tick_whole();
	server_before_sleep(&S);
	for (i = 21; i < 256; i++) {
		size_t n = sent_to(i, since, got, 64), k, data = 0;

		for (k = 0; k < n; k++)
			data += got[k].type == V2_DATA;
		assert_true(data >= 1);
	}
	check(1);
}

/*
 * Sessions end in the middle of delivery: a QUIT and a SAY of one
 * session in one turn of the loop, and a member that never acknowledges
 * anything overflowing during a broadcast (doomed, then evicted after the
 * broadcast, not during it).  Under ASan a use after free would show.
 */
static void sessions_end_safely_during_delivery(void **state)
{
	struct p2_counts c;
	int i;

	(void)state;
	login(0, "ann");
	login(1, "bob");
	login(2, "deaf"); /* never acks */
	say(1, "last words", 0);
	quit(1, 0);
	say(0, "after bob", 0);
	check(0);
	server_before_sleep(&S);
	assert_null(room_find_addr(S.room, &C[1].addr));
	check(1);
	for (i = 0; i < REL_QUEUE_MAX + REL_SEND_WINDOW + 10; i++) {
		say(0, "flood", 0);
		if (i % 64 == 0) {
			ack_all(0);
			server_before_sleep(&S);
			check(1);
		}
	}
	server_before_sleep(&S);
	p2_counts(S.p2, &c);
	assert_int_equal(c.doomed, 0);
	assert_null(room_find_addr(S.room, &C[2].addr)); /* too slow: evicted */
	assert_non_null(room_find_addr(S.room, &C[0].addr));
	assert_int_equal(c.sessions, 1);
	check(1);
}

/* A re-login from the same address (a client restarted or reconnecting) keeps one session. */
static void relogin_from_the_same_address_replaces_the_session(void **state)
{
	struct p2_counts c;
	uint64_t first;
	struct v2_packet p = {.type = V2_LOGIN, .name = "ann", .name_len = 3};

	(void)state;
	login(0, "ann");
	first = C[0].sid;
	p.nonce = 0x9999;
	p2_cookie(S.p2, &C[0].addr, p.nonce, p.cookie);
	C[0].sid = 0;
	from(0, &p, 1);
	p2_counts(S.p2, &c);
	assert_int_equal(c.sessions, 1);
	assert_true(p2_session_id(room_find_addr(S.room, &C[0].addr)) != first);
	assert_int_equal(c.retired_nonces, 1); /* the old nonce cannot bring the old session back */
	check(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(session_table_finds_every_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(quit_frees_the_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(lists_fill_with_a_broadcast_and_are_given_back, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sessions_end_safely_during_delivery, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_tick_walks_a_big_room_in_slices, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_tick_walk_ends_and_misses_nobody, setup, teardown),
	    cmocka_unit_test_setup_teardown(relogin_from_the_same_address_replaces_the_session,
	                                    setup, teardown),
	};
	int r;

	if (sodium_init() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	free(F.out);
	return r;
}
