/* test_client2.c - unit tests of the v2 client state machine (client2.c) with a fake clock and a
 * fake server. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "common/i18n.h"
#include "qun/client2.h"

/* Everything the engine did, as the fake server and the owner saw it. */
struct seen {
	uint8_t sent[64][QUN_MAX_DATAGRAM];
	size_t sent_len[64];
	int nsent;
	char events[16][V2_MAX_TEXT + 64];
	int nevents;
	int refused, refused_code;
	int links[8], nlinks;
	int closed, closed_reason;
	int notices;
	int whos, who_unanswered;
	uint32_t who_total;
	char who_names[256];
	char revents[16][128]; /* "room event name text" */
	int nrevents;
	char rooms[8][256]; /* "what again: id:members:name ..." */
	int nrooms;
	char privates[4][V2_MAX_TEXT + 64];
	int nprivates;
	char unsent[256]; /* the rooms, one after another, space-separated */
	int nunsent;
	int unsent_why;                 /* the last one's */
	char hist[8][V2_MAX_TEXT + 64]; /* "room id at event name text" */
	int nhist;
	char hends[8][64]; /* "answered room count flags" */
	int nhends;
	uint64_t private_at;
};

static struct seen seen;

static void cb_send(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	if (seen.nsent < 64) {
		memcpy(seen.sent[seen.nsent], buf, len);
		seen.sent_len[seen.nsent] = len;
	}
	seen.nsent++;
}

static void cb_event(void *ctx, enum room_event ev, const char *name, const char *text, size_t len)
{
	(void)ctx;
	if (seen.nevents < 16)
		snprintf(seen.events[seen.nevents], sizeof seen.events[0], "%d %s %.*s", (int)ev,
		         name, (int)len, text);
	seen.nevents++;
}

static void cb_notice(void *ctx, int code, int detail, const char *text, size_t len)
{
	(void)ctx, (void)code, (void)detail, (void)text, (void)len;
	seen.notices++;
}

static void cb_refused(void *ctx, int code, int detail, const char *text, size_t len)
{
	(void)ctx, (void)detail, (void)text, (void)len;
	seen.refused++;
	seen.refused_code = code;
}

static void cb_link(void *ctx, int reconnecting)
{
	(void)ctx;
	if (seen.nlinks < 8)
		seen.links[seen.nlinks++] = reconnecting;
}

static void cb_closed(void *ctx, int reason)
{
	(void)ctx;
	seen.closed++;
	seen.closed_reason = reason;
}

/* The names of the last WHO answer, joined with spaces. */
static void cb_who(void *ctx, int answered, uint32_t total, const char *const *names, size_t count)
{
	size_t i, o = 0;

	(void)ctx;
	seen.whos++;
	seen.who_unanswered += !answered;
	seen.who_total = total;
	seen.who_names[0] = '\0';
	for (i = 0; i < count; i++)
		o += (size_t)snprintf(seen.who_names + o, sizeof seen.who_names - o, "%s%s",
		                      i > 0 ? " " : "", names[i]);
}

static void cb_room_event(void *ctx, uint32_t room, enum room_event ev, const char *name,
                          const char *text, size_t len)
{
	(void)ctx;
	if (seen.nrevents < 16)
		snprintf(seen.revents[seen.nrevents], sizeof seen.revents[0], "%u %d %s %.*s",
		         (unsigned)room, (int)ev, name, (int)len, text);
	seen.nrevents++;
}

static void cb_rooms(void *ctx, int what, const struct c2_room_info *r, size_t count, int again)
{
	size_t i, o;

	(void)ctx;
	if (seen.nrooms < 8) {
		char *out = seen.rooms[seen.nrooms];

		o = (size_t)snprintf(out, sizeof seen.rooms[0], "%d %d:", what, again);
		for (i = 0; i < count; i++)
			o += (size_t)snprintf(out + o, sizeof seen.rooms[0] - o, " %u:%u:%s",
			                      (unsigned)r[i].id, (unsigned)r[i].members, r[i].name);
	}
	seen.nrooms++;
}

static void cb_history(void *ctx, uint32_t room, uint64_t id, uint64_t at, enum room_event ev,
                       const char *name, const char *text, size_t len)
{
	(void)ctx;
	if (seen.nhist < 8)
		snprintf(seen.hist[seen.nhist], sizeof seen.hist[0], "%u %llu %llu %d %s %.*s",
		         (unsigned)room, (unsigned long long)id, (unsigned long long)at, (int)ev,
		         name, (int)len, text);
	seen.nhist++;
}

static void cb_history_end(void *ctx, uint32_t room, unsigned count, unsigned flags, int answered)
{
	(void)ctx;
	if (seen.nhends < 8)
		snprintf(seen.hends[seen.nhends], sizeof seen.hends[0], "%d %u %u %u", answered,
		         (unsigned)room, count, flags);
	seen.nhends++;
}

static void cb_private(void *ctx, uint64_t number, uint64_t at, const char *from, const char *text,
                       size_t len)
{
	(void)ctx;
	seen.private_at = at;
	if (seen.nprivates < 4)
		snprintf(seen.privates[seen.nprivates], sizeof seen.privates[0], "%llu %s %.*s",
		         (unsigned long long)number, from, (int)len, text);
	seen.nprivates++;
}

static void cb_unsent(void *ctx, const char *room, unsigned count, int why)
{
	size_t o = strlen(seen.unsent);

	(void)ctx;
	seen.unsent_why = why;
	snprintf(seen.unsent + o, sizeof seen.unsent - o, "%s%s", o > 0 ? " " : "", room);
	seen.nunsent += (int)count;
}

static const struct c2_callbacks callbacks = {
    .room_event = cb_room_event,
    .rooms = cb_rooms,
    .private_msg = cb_private,
    .unsent = cb_unsent,
    .history = cb_history,
    .history_end = cb_history_end,
    .who = cb_who,
    .send = cb_send,
    .event = cb_event,
    .notice = cb_notice,
    .refused = cb_refused,
    .link = cb_link,
    .closed = cb_closed,
};

static struct c2 eng;

static int setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof seen);
	c2_init(&eng, "alice", 25, &callbacks);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	c2_free(&eng);
	return 0;
}

/* The last datagram the engine sent, parsed. */
static struct v2_packet last_sent(void)
{
	struct v2_packet p;
	int i = seen.nsent - 1;

	assert_true(i >= 0);
	assert_int_equal(v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), &p),
	                 V2_OK);
	return p;
}

static void feed(const struct v2_packet *p, uint64_t now)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(p, buf, sizeof buf), sizeof buf);

	assert_true(n > 0);
	c2_on_datagram(&eng, buf, n, now);
}

/* The handshake from the HELLO the engine sent last, to ONLINE with session sid and features. */
static void welcome_from(uint64_t sid, uint8_t features, uint64_t now)
{
	struct v2_packet hello, cookie = {.type = V2_COOKIE}, welcome = {.type = V2_WELCOME};

	hello = last_sent();
	assert_int_equal(hello.type, V2_HELLO);
	cookie.nonce = hello.nonce;
	memset(cookie.cookie, 0xAB, V2_COOKIE_LEN);
	feed(&cookie, now);
	welcome.nonce = hello.nonce;
	welcome.sid = sid;
	welcome.features = features;
	feed(&welcome, now);
	assert_int_equal(eng.state, C2_ONLINE);
}

/* Walk the handshake to ONLINE with session id sid at time now (a server with features). */
static void go_online_with(uint64_t sid, uint8_t features, uint64_t now)
{
	c2_start(&eng, "alice", now);
	c2_poll(&eng, now);
	welcome_from(sid, features, now);
}

/* The same with a server from before the features (PROTOCOL-v2.md, WELCOME). */
static void go_online(uint64_t sid, uint64_t now)
{
	go_online_with(sid, 0, now);
}

static void feed_event(uint64_t sid, uint32_t seq, uint64_t id, uint8_t flags, const char *text,
                       uint64_t now)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_msg m = {.kind = V2_K_EVENT,
	                   .event_id = id,
	                   .event = EV_SAY,
	                   .flags = flags,
	                   .name = "bob",
	                   .name_len = 3,
	                   .text = text,
	                   .text_len = strlen(text)};
	struct v2_packet p = {.type = V2_DATA, .sid = sid, .seq = seq};

	p.payload_len = v2_msg_encode(&m, payload, sizeof payload);
	p.payload = payload;
	feed(&p, now);
}

/* Delayed acknowledgements: the ACKs c2_poll sent since n_before, and the last one's ack field. */
static int acks_since(int n_before, uint32_t *ack)
{
	int i, n = 0;

	for (i = n_before; i < seen.nsent && i < 64; i++) {
		struct v2_packet p;

		assert_int_equal(
		    v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), &p), V2_OK);
		if (p.type == V2_ACK) {
			n++;
			*ack = p.ack;
		}
	}
	return n;
}

static void one_data_is_acked_after_the_delay(void **state)
{
	uint32_t ack = 0;
	int n0;
	uint64_t next;

	(void)state;
	go_online(7, 1000);
	n0 = seen.nsent;
	feed_event(7, 1, 1, 0, "hi", 1000);
	next = c2_poll(&eng, 1000);
	assert_int_equal(acks_since(n0, &ack), 0);
	assert_true(next <= 1000 + C2_ACK_DELAY); /* the owner is told to come back in time */
	c2_poll(&eng, 1000 + C2_ACK_DELAY - 1);
	assert_int_equal(acks_since(n0, &ack), 0);
	c2_poll(&eng, 1000 + C2_ACK_DELAY);
	assert_int_equal(acks_since(n0, &ack), 1);
	assert_int_equal(ack, 1);
}

static void every_eighth_data_is_acked_at_once(void **state)
{
	uint32_t seq, ack = 0;
	int n0;

	(void)state;
	go_online(7, 1000);
	n0 = seen.nsent;
	for (seq = 1; seq < C2_ACK_EVERY; seq++) {
		feed_event(7, seq, seq, 0, "hi", 1000);
		c2_poll(&eng, 1000);
	}
	assert_int_equal(acks_since(n0, &ack), 0);
	feed_event(7, C2_ACK_EVERY, C2_ACK_EVERY, 0, "hi", 1000);
	c2_poll(&eng, 1000);
	assert_int_equal(acks_since(n0, &ack), 1);
	assert_int_equal(ack, C2_ACK_EVERY);
}

static void a_gap_or_a_duplicate_is_acked_at_once(void **state)
{
	uint32_t ack = 0;
	int n0;

	(void)state;
	go_online(7, 1000);
	n0 = seen.nsent;
	feed_event(7, 2, 2, 0, "early", 1000); /* seq 1 is missing */
	c2_poll(&eng, 1000);
	assert_int_equal(acks_since(n0, &ack), 1);
	assert_int_equal(ack, 0);
	feed_event(7, 1, 1, 0, "late", 1000);
	c2_poll(&eng, 1000); /* the gap is filled and nothing held: the delay applies again */
	assert_int_equal(acks_since(n0, &ack), 1);
	feed_event(7, 1, 1, 0, "late", 1000); /* a duplicate: our ack was lost */
	c2_poll(&eng, 1000);
	assert_int_equal(acks_since(n0, &ack), 2);
	assert_int_equal(ack, 2);
}

static void handshake_sends_login_with_cookie(void **state)
{
	struct v2_packet hello, login, cookie = {.type = V2_COOKIE};

	(void)state;
	c2_start(&eng, "alice", 1000);
	c2_poll(&eng, 1000);
	hello = last_sent();
	assert_int_equal(hello.type, V2_HELLO);
	cookie.nonce = hello.nonce;
	memset(cookie.cookie, 0x5A, V2_COOKIE_LEN);
	feed(&cookie, 1100);
	login = last_sent();
	assert_int_equal(login.type, V2_LOGIN);
	assert_int_equal(login.nonce, hello.nonce);
	assert_memory_equal(login.cookie, cookie.cookie, V2_COOKIE_LEN);
	assert_int_equal(login.name_len, 5);
	assert_memory_equal(login.name, "alice", 5);
}

static void cookie_with_wrong_nonce_ignored(void **state)
{
	struct v2_packet cookie = {.type = V2_COOKIE};

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_poll(&eng, 0);
	cookie.nonce = last_sent().nonce + 1;
	feed(&cookie, 10);
	assert_int_equal(eng.state, C2_HELLO);
	assert_int_equal(seen.nsent, 1);
}

static void welcome_goes_online(void **state)
{
	(void)state;
	go_online(42, 0);
	assert_int_equal(eng.sid, 42);
	assert_int_equal(seen.nlinks, 0); /* a first login is not a reconnection */
}

static void refusal_reported(void **state)
{
	struct v2_packet cookie = {.type = V2_COOKIE}, refuse = {.type = V2_REFUSE};

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_poll(&eng, 0);
	cookie.nonce = refuse.nonce = last_sent().nonce;
	feed(&cookie, 0);
	refuse.code = QERR_NAME_TAKEN;
	refuse.reason = "name already taken";
	refuse.reason_len = strlen(refuse.reason);
	feed(&refuse, 0);
	assert_int_equal(eng.state, C2_REFUSED);
	assert_int_equal(seen.refused, 1);
	assert_int_equal(seen.refused_code, QERR_NAME_TAKEN);
}

static void silent_server_gives_up_after_15_tries(void **state)
{
	uint64_t t;

	(void)state;
	c2_start(&eng, "alice", 0);
	for (t = 0; t <= 20000 && eng.state != C2_UNREACHABLE; t += 100)
		c2_poll(&eng, t);
	assert_int_equal(eng.state, C2_UNREACHABLE);
	assert_int_equal(seen.nsent, C2_TRIES_SILENT);
	assert_true(t >= (C2_TRIES_SILENT - 1) * 1000);
}

static void closed_port_gives_up_after_5_tries(void **state)
{
	uint64_t t;

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_on_unreachable(&eng);
	for (t = 0; t <= 20000 && eng.state != C2_UNREACHABLE; t += 100)
		c2_poll(&eng, t);
	assert_int_equal(eng.state, C2_UNREACHABLE);
	assert_int_equal(seen.nsent, C2_TRIES_REFUSED);
}

static void long_say_split_with_more_flags(void **state)
{
	static char text[3000];
	struct v2_packet p;
	struct v2_msg m;
	size_t total = 0;
	int i, first;

	(void)state;
	go_online(7, 0);
	memset(text, 'x', sizeof text);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, text, sizeof text), 0);
	c2_poll(&eng, 10);
	assert_int_equal(seen.nsent - first, 3);
	for (i = first; i < seen.nsent; i++) {
		assert_true(seen.sent_len[i] <= QUN_MAX_DATAGRAM);
		assert_int_equal(
		    v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), &p), V2_OK);
		assert_int_equal(p.type, V2_DATA);
		assert_int_equal(p.seq, (uint32_t)(i - first + 1));
		assert_int_equal(v2_msg_parse(p.payload, p.payload_len, &m), V2_OK);
		assert_int_equal(m.kind, V2_K_SAY);
		assert_int_equal(!!(m.flags & V2_MORE), i < seen.nsent - 1);
		total += m.text_len;
	}
	assert_int_equal(total, sizeof text);
}

static void say_over_limit_refused(void **state)
{
	static char text[V2_MAX_TEXT + 1];

	(void)state;
	go_online(7, 0);
	memset(text, 'x', sizeof text);
	assert_int_equal(c2_say(&eng, V2_LOBBY, text, sizeof text), -1);
	assert_int_equal(c2_say(&eng, V2_LOBBY, text, 0), -1);
}

static void event_pieces_rejoined_once(void **state)
{
	(void)state;
	go_online(9, 0);
	feed_event(9, 1, 5, V2_MORE, "hello ", 10);
	assert_int_equal(seen.nevents, 0);
	feed_event(9, 2, 5, 0, "world", 20);
	assert_int_equal(seen.nevents, 1);
	assert_string_equal(seen.events[0], "1 bob hello world");
}

static void replayed_event_id_shown_once(void **state)
{
	(void)state;
	go_online(9, 0);
	feed_event(9, 1, 5, 0, "one", 10);
	feed_event(9, 1, 5, 0, "one", 20); /* the same datagram again */
	feed_event(9, 2, 5, 0, "one", 30); /* the same event under a new seq */
	feed_event(9, 3, 6, 0, "two", 40);
	assert_int_equal(seen.nevents, 2);
	assert_string_equal(seen.events[1], "1 bob two");
}

static void other_session_ignored(void **state)
{
	(void)state;
	go_online(9, 0);
	feed_event(10, 1, 5, 0, "forged", 10);
	assert_int_equal(seen.nevents, 0);
}

static void silence_reconnects_and_resends(void **state)
{
	struct v2_packet hello, cookie = {.type = V2_COOKIE}, welcome = {.type = V2_WELCOME}, p;
	struct v2_msg m;
	uint64_t t;

	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "typed offline", 13), 0);
	for (t = 0; t < 3 * 25000 + 1000 && seen.nlinks == 0; t += 500)
		c2_poll(&eng, t);
	assert_int_equal(seen.nlinks, 1);
	assert_int_equal(seen.links[0], 1);
	assert_int_equal(eng.state, C2_HELLO);
	hello = last_sent();
	assert_int_equal(hello.type, V2_HELLO);
	cookie.nonce = welcome.nonce = hello.nonce;
	feed(&cookie, t);
	welcome.sid = 99;
	feed(&welcome, t);
	assert_int_equal(seen.nlinks, 2);
	assert_int_equal(seen.links[1], 0);
	c2_poll(&eng, t + 1);
	p = last_sent();
	assert_int_equal(p.type, V2_DATA);
	assert_int_equal(p.sid, 99);
	assert_int_equal(p.seq, 1);
	assert_int_equal(v2_msg_parse(p.payload, p.payload_len, &m), V2_OK);
	assert_memory_equal(m.text, "typed offline", 13);
}

static void event_ids_start_afresh_in_a_new_session(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN};
	struct v2_packet cookie = {.type = V2_COOKIE}, welcome = {.type = V2_WELCOME};

	(void)state;
	go_online(9, 0);
	feed_event(9, 1, 50, 0, "old server", 10);
	/* The server restarted: it forgot us, and counts its events from 1 again. */
	feed(&close, 20);
	c2_poll(&eng, 20);
	cookie.nonce = welcome.nonce = last_sent().nonce;
	feed(&cookie, 30);
	welcome.sid = 10;
	feed(&welcome, 30);
	feed_event(10, 1, 2, 0, "new server", 40);
	assert_int_equal(seen.nevents, 2);
	assert_string_equal(seen.events[1], "1 bob new server");
}

static void keepalive_ping_when_idle(void **state)
{
	(void)state;
	go_online(9, 0);
	c2_poll(&eng, 24000);
	assert_int_not_equal(last_sent().type, V2_PING);
	c2_poll(&eng, 25000);
	assert_int_equal(last_sent().type, V2_PING);
}

static void quit_confirmed_closes(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_QUIT};

	(void)state;
	go_online(9, 0);
	c2_quit(&eng);
	c2_poll(&eng, 10);
	feed(&close, 20);
	assert_int_equal(eng.state, C2_CLOSED);
	assert_int_equal(seen.closed_reason, V2_CLOSE_QUIT);
}

static void unknown_session_while_quitting_counts_as_quit(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN};

	(void)state;
	go_online(9, 0);
	c2_quit(&eng);
	feed(&close, 20);
	assert_int_equal(eng.state, C2_CLOSED);
	assert_int_equal(seen.closed_reason, V2_CLOSE_QUIT);
}

static void unknown_session_reconnects(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN};

	(void)state;
	go_online(9, 0);
	feed(&close, 20);
	assert_int_equal(eng.state, C2_HELLO);
	assert_int_equal(seen.links[0], 1);
}

static void kicked_closes(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_KICKED};

	(void)state;
	go_online(9, 0);
	feed(&close, 20);
	assert_int_equal(eng.state, C2_CLOSED);
	assert_int_equal(seen.closed_reason, V2_CLOSE_KICKED);
}

static void damaged_datagram_ignored(void **state)
{
	struct v2_packet cookie = {.type = V2_COOKIE};
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n;

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_poll(&eng, 0);
	cookie.nonce = last_sent().nonce;
	n = v2_seal(buf, v2_encode(&cookie, buf, sizeof buf), sizeof buf);
	buf[12] ^= 0x04; /* one bit of the cookie flipped on the way */
	c2_on_datagram(&eng, buf, n, 10);
	assert_int_equal(eng.state, C2_HELLO);
	buf[12] ^= 0x04;
	c2_on_datagram(&eng, buf, n - 1, 10); /* cut short */
	assert_int_equal(eng.state, C2_HELLO);
	c2_on_datagram(&eng, buf, n, 10);
	assert_int_equal(eng.state, C2_LOGIN);
}

static void challenge_answered_with_rebind(void **state)
{
	struct v2_packet ch = {.type = V2_CHALLENGE, .sid = 9}, rb;

	(void)state;
	go_online(9, 0);
	memset(ch.cookie, 0x11, V2_COOKIE_LEN);
	feed(&ch, 20);
	rb = last_sent();
	assert_int_equal(rb.type, V2_REBIND);
	assert_int_equal(rb.sid, 9);
	assert_memory_equal(rb.cookie, ch.cookie, V2_COOKIE_LEN);
}

/* The reliable message in the DATA the engine sent at index i. */
static struct v2_msg sent_msg(int i, struct v2_packet *p)
{
	struct v2_msg m;

	assert_int_equal(v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), p),
	                 V2_OK);
	assert_int_equal(p->type, V2_DATA);
	assert_int_equal(v2_msg_parse(p->payload, p->payload_len, &m), V2_OK);
	return m;
}

static void me_sent_as_me_kind(void **state)
{
	struct v2_packet p;
	struct v2_msg m;
	int first;

	(void)state;
	go_online(7, 0);
	first = seen.nsent;
	assert_int_equal(c2_me(&eng, V2_LOBBY, "waves", 5), 0);
	c2_poll(&eng, 10);
	assert_int_equal(seen.nsent - first, 1);
	m = sent_msg(first, &p);
	assert_int_equal(m.kind, V2_K_ME);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.text_len, 5);
	assert_memory_equal(m.text, "waves", 5);
}

static void me_over_limit_refused(void **state)
{
	static char text[V2_MAX_TEXT + 1];

	(void)state;
	go_online(7, 0);
	memset(text, 'x', sizeof text);
	assert_int_equal(c2_me(&eng, V2_LOBBY, text, sizeof text), -1);
	assert_int_equal(c2_me(&eng, V2_LOBBY, text, 0), -1);
}

static void who_sent_as_empty_who(void **state)
{
	struct v2_packet p;
	struct v2_msg m;
	int first;

	(void)state;
	go_online(7, 0);
	first = seen.nsent;
	assert_int_equal(c2_who(&eng, 0), 0);
	c2_poll(&eng, 10);
	assert_int_equal(seen.nsent - first, 1);
	m = sent_msg(first, &p);
	assert_int_equal(m.kind, V2_K_WHO);
	assert_int_equal(p.payload_len, 1);
}

/* Feed one MEMBERS piece made of the length-prefixed list `list` (list_len bytes). */
static void feed_members(uint64_t sid, uint32_t seq, uint32_t total, uint8_t flags,
                         const char *list, size_t list_len, uint64_t now)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_msg m = {.kind = V2_K_MEMBERS,
	                   .total = total,
	                   .flags = flags,
	                   .text = list,
	                   .text_len = list_len};
	struct v2_packet p = {.type = V2_DATA, .sid = sid, .seq = seq};

	p.payload_len = v2_msg_encode(&m, payload, sizeof payload);
	assert_true(p.payload_len > 0);
	p.payload = payload;
	feed(&p, now);
}

static void members_pieces_joined_into_one_answer(void **state)
{
	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	feed_members(9, 1, 3, V2_MORE,
	             "\x05"
	             "alice"
	             "\x03"
	             "bob",
	             10, 10);
	assert_int_equal(seen.whos, 0);
	feed_members(9, 2, 3, 0,
	             "\x06"
	             "小明",
	             7, 20);
	assert_int_equal(seen.whos, 1);
	assert_int_equal(seen.who_total, 3);
	assert_string_equal(seen.who_names, "alice bob 小明");
}

static void members_invalid_names_dropped(void **state)
{
	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	/* An ESC in a name, a space, and a reserved name: none passes the name rules. */
	feed_members(9, 1, 5, 0,
	             "\x04"
	             "a\x1b[m"
	             "\x03"
	             "a b"
	             "\x05"
	             "admin"
	             "\x03"
	             "bob",
	             19, 10);
	assert_int_equal(seen.whos, 1);
	assert_int_equal(seen.who_total, 5);
	assert_string_equal(seen.who_names, "bob");
}

static void members_empty_room_answer(void **state)
{
	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	feed_members(9, 1, 0, 0, "", 0, 10);
	assert_int_equal(seen.whos, 1);
	assert_int_equal(seen.who_total, 0);
	assert_string_equal(seen.who_names, "");
}

static void members_half_answer_forgotten_on_reconnect(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN}, p;
	struct v2_msg m;

	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	c2_poll(&eng, 1);
	feed_members(9, 1, 2, V2_MORE,
	             "\x05"
	             "alice",
	             6, 10);
	feed(&close, 20); /* the server forgot us: the engine reconnects */
	c2_poll(&eng, 30);
	assert_int_equal(eng.state, C2_HELLO);
	welcome_from(10, 0, 40);
	c2_poll(&eng, 41);
	m = sent_msg(seen.nsent - 1, &p); /* the ask, asked again in the new session */
	assert_int_equal(m.kind, V2_K_WHO);
	assert_int_equal(p.sid, 10);
	feed_members(10, 1, 1, 0,
	             "\x03"
	             "bob",
	             4, 50);
	assert_int_equal(seen.whos, 1);
	assert_int_equal(seen.who_unanswered, 0);
	assert_string_equal(seen.who_names, "bob");
}

/* The seqs and kinds of the DATA sent from index first on, as "seq:kind" words. */
static void data_sent_since(int first, char *out, size_t size)
{
	size_t o = 0;
	int i;

	out[0] = '\0';
	for (i = first; i < seen.nsent && i < 64; i++) {
		struct v2_packet p;
		struct v2_msg m;

		assert_int_equal(
		    v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), &p), V2_OK);
		if (p.type != V2_DATA)
			continue;
		assert_int_equal(v2_msg_parse(p.payload, p.payload_len, &m), V2_OK);
		o += (size_t)snprintf(out + o, size - o, "%s%u:%d", o > 0 ? " " : "", p.seq,
		                      (int)m.kind);
	}
}

/* Asks made while a WHO is in flight share its answer: one WHO, every ask answered. */
static void who_asked_while_one_is_in_flight_shares_its_answer(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online(9, 0);
	first = seen.nsent;
	assert_int_equal(c2_who(&eng, 0), 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	c2_poll(&eng, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:4"); /* one WHO, not three: the server would refuse two */
	feed_members(9, 1, 2, 0,
	             "\x03"
	             "bob"
	             "\x03"
	             "eve",
	             8, 10);
	assert_int_equal(seen.whos, 3);
	assert_int_equal(seen.who_unanswered, 0);
	assert_string_equal(seen.who_names, "bob eve");
	first = seen.nsent;
	assert_int_equal(c2_who(&eng, 0), 0); /* after the answer: a WHO of its own */
	c2_poll(&eng, 11);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "2:4");
}

/* A WHO the server never answers (refused as flooding) is called unanswered, for every ask. */
static void who_without_answer_is_given_up(void **state)
{
	(void)state;
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	assert_true(c2_poll(&eng, 100) <= 100 + C2_WHO_WAIT);
	assert_int_equal(c2_who(&eng, 0), 0);
	c2_poll(&eng, 100 + C2_WHO_WAIT - 1);
	assert_int_equal(seen.whos, 0);
	c2_poll(&eng, 100 + C2_WHO_WAIT);
	assert_int_equal(seen.whos, 2);
	assert_int_equal(seen.who_unanswered, 2);
}

/*
 * Leaving while a WHO is in flight: the QUIT follows the answer (the
 * server forgets what it owes a session that quits), or the given-up WHO.
 */
static void quit_waits_for_the_who_in_flight(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online(9, 0);
	first = seen.nsent;
	assert_int_equal(c2_who(&eng, 0), 0);
	c2_quit(&eng);
	c2_poll(&eng, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:4"); /* the WHO, and no QUIT yet */
	feed_members(9, 1, 1, 0,
	             "\x05"
	             "alice",
	             6, 10);
	assert_int_equal(seen.whos, 1);
	first = seen.nsent;
	c2_poll(&eng, 11);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "2:2");
	/* Unanswered: the QUIT goes after C2_QUIT_WHO_WAIT, not the whole C2_WHO_WAIT. */
	c2_free(&eng);
	memset(&seen, 0, sizeof seen);
	c2_init(&eng, "alice", 25, &callbacks);
	go_online(9, 0);
	assert_int_equal(c2_who(&eng, 0), 0);
	first = seen.nsent;
	c2_poll(&eng, 1);
	c2_quit(&eng);
	c2_poll(&eng, 2);
	c2_poll(&eng, 2 + C2_QUIT_WHO_WAIT - 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_null(strstr(kinds, "2:2")); /* the WHO (and its retransmissions) only */
	assert_int_equal(seen.whos, 0);
	c2_poll(&eng, 2 + C2_QUIT_WHO_WAIT);
	c2_poll(&eng, 2 + C2_QUIT_WHO_WAIT);
	assert_int_equal(seen.who_unanswered, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_non_null(strstr(kinds, "2:2"));
}

/* The message id of the DATA at index i (0 and no V2_ID flag: none). */
static uint32_t id_of(int i, int *has_id)
{
	struct v2_packet p;
	struct v2_msg m = sent_msg(i, &p);

	*has_id = !!(m.flags & V2_ID);
	return m.id;
}

static void say_carries_an_id_only_to_a_server_that_takes_ids(void **state)
{
	int first, has;
	uint32_t a;

	(void)state;
	go_online(9, 0);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, "old", 3), 0);
	c2_poll(&eng, 1);
	(void)id_of(first, &has);
	assert_false(has); /* an older server would take the id for text */
	c2_free(&eng);
	memset(&seen, 0, sizeof seen);
	c2_init(&eng, "alice", 25, &callbacks);
	go_online_with(9, V2_F_MSG_ID, 0);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, "one", 3), 0);
	assert_int_equal(c2_me(&eng, V2_LOBBY, "two", 3), 0);
	c2_poll(&eng, 1);
	a = id_of(first, &has);
	assert_true(has);
	assert_int_equal(id_of(first + 1, &has), a + 1);
	assert_true(has);
}

/* Reconnect to a server with ids: the DATA the new session got, as "seq:kind:id:text-length". */
static void reconnect_and_list(uint64_t sid, uint64_t now, char *out, size_t size)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = eng.sid, .code = V2_CLOSE_UNKNOWN};
	size_t o = 0;
	int first, i;

	feed(&close, now);
	c2_poll(&eng, now);
	welcome_from(sid, V2_F_MSG_ID, now);
	first = seen.nsent;
	c2_poll(&eng, now + 1);
	out[0] = '\0';
	for (i = first; i < seen.nsent && i < 64; i++) {
		struct v2_packet p;
		struct v2_msg m = sent_msg(i, &p);

		assert_int_equal(p.sid, sid);
		o += (size_t)snprintf(out + o, size - o, "%s%u:%d:%u:%zu", o > 0 ? " " : "", p.seq,
		                      (int)m.kind, m.id, m.text_len);
	}
}

/*
 * A long message whose first piece the old session had acknowledged goes
 * again whole, under its id: the server forgot the half it had, and only
 * the whole message may be shown.
 */
static void reconnect_sends_a_half_acknowledged_message_whole(void **state)
{
	static char text[3000];
	struct v2_packet ack = {.type = V2_ACK, .sid = 9, .ack = 1};
	char list[256], want[256];
	uint32_t id;
	int first, has;

	(void)state;
	go_online_with(9, V2_F_MSG_ID, 0);
	memset(text, 'x', sizeof text);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, text, sizeof text), 0);
	c2_poll(&eng, 10);
	id = id_of(first, &has);
	feed(&ack, 20); /* the first piece arrived; the rest did not */
	reconnect_and_list(10, 30, list, sizeof list);
	snprintf(want, sizeof want, "1:1:%u:%d 2:1:%u:%d 3:1:%u:%d", id, V2_SAY_ID_CHUNK, id,
	         V2_SAY_ID_CHUNK, id, (int)sizeof text - 2 * V2_SAY_ID_CHUNK);
	assert_string_equal(list, want);
}

/* A message the server holds out of order (acknowledged by an ack bit) was never shown: again. */
static void reconnect_sends_selectively_acknowledged_messages_again(void **state)
{
	struct v2_packet ack = {.type = V2_ACK, .sid = 9, .ack = 0, .ack_bits = 1};
	char list[256], want[256];
	uint32_t id;
	int first, has;

	(void)state;
	go_online_with(9, V2_F_MSG_ID, 0);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, "one", 3), 0);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "two", 3), 0);
	c2_poll(&eng, 10);
	id = id_of(first, &has);
	feed(&ack, 20); /* seq 2 held by the server, seq 1 lost */
	reconnect_and_list(10, 30, list, sizeof list);
	snprintf(want, sizeof want, "1:1:%u:3 2:1:%u:3", id, id + 1);
	assert_string_equal(list, want);
}

/* What the server acknowledged is not sent again. */
static void reconnect_leaves_out_what_was_acknowledged(void **state)
{
	struct v2_packet ack = {.type = V2_ACK, .sid = 9, .ack = 1};
	char list[256], want[256];
	uint32_t id;
	int first, has;

	(void)state;
	go_online_with(9, V2_F_MSG_ID, 0);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, "one", 3), 0);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "two", 3), 0);
	c2_poll(&eng, 10);
	id = id_of(first, &has);
	feed(&ack, 20);
	reconnect_and_list(10, 30, list, sizeof list);
	snprintf(want, sizeof want, "1:1:%u:3", id + 1);
	assert_string_equal(list, want);
}

/* A new login (after a refusal, say) is a new stay: an earlier quit does not carry over. */
static void start_forgets_an_earlier_quit(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 10, .code = V2_CLOSE_UNKNOWN};

	(void)state;
	go_online(9, 0);
	c2_quit(&eng);
	go_online(10, 100);
	feed(&close, 200); /* the server forgot us: reconnect, not "quit confirmed" */
	assert_int_equal(eng.state, C2_HELLO);
	assert_int_equal(seen.closed, 0);
}

static void action_event_passed_on(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_msg m = {.kind = V2_K_EVENT,
	                   .event_id = 1,
	                   .event = EV_ACTION,
	                   .name = "bob",
	                   .name_len = 3,
	                   .text = "waves",
	                   .text_len = 5};
	struct v2_packet p = {.type = V2_DATA, .sid = 9, .seq = 1};

	(void)state;
	go_online(9, 0);
	p.payload_len = v2_msg_encode(&m, payload, sizeof payload);
	p.payload = payload;
	feed(&p, 10);
	assert_int_equal(seen.nevents, 1);
	assert_string_equal(seen.events[0], "7 bob waves");
}

static void unknown_event_code_ignored(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_msg m = {
	    .kind = V2_K_EVENT, .event_id = 1, .event = 8, .name = "bob", .name_len = 3};
	struct v2_packet p = {.type = V2_DATA, .sid = 9, .seq = 1};

	(void)state;
	go_online(9, 0);
	p.payload_len = v2_msg_encode(&m, payload, sizeof payload);
	p.payload = payload;
	feed(&p, 10);
	assert_int_equal(seen.nevents, 0);
}

/* Rooms and private messages (docs/ROOMS.md) */

#define ROOMS_SERVER (V2_F_ROOMS | V2_F_MSG_ID)

/* Feed one reliable message from the server. */
static void feed_msg(uint64_t sid, uint32_t seq, const struct v2_msg *m, uint64_t now)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_packet p = {.type = V2_DATA, .sid = sid, .seq = seq};

	p.payload_len = v2_msg_encode(m, payload, sizeof payload);
	assert_true(p.payload_len > 0);
	p.payload = payload;
	feed(&p, now);
}

static void feed_revent(uint64_t sid, uint32_t seq, uint32_t room, uint64_t id, uint8_t flags,
                        const char *text, uint64_t now)
{
	struct v2_msg m = {.kind = V2_K_REVENT,
	                   .room = room,
	                   .event_id = id,
	                   .event = EV_SAY,
	                   .flags = flags,
	                   .name = "bob",
	                   .name_len = 3,
	                   .text = text,
	                   .text_len = strlen(text)};

	feed_msg(sid, seq, &m, now);
}

/* A ROOM piece of what with flags, naming the rooms "id:members:name" given as one string. */
static void feed_room(uint64_t sid, uint32_t seq, uint8_t what, uint8_t flags, const char *list,
                      uint64_t now)
{
	char entries[1024], copy[256], *tok, *save = NULL;
	size_t used = 0;
	struct v2_msg m = {.kind = V2_K_ROOM, .what = what, .flags = flags};

	snprintf(copy, sizeof copy, "%s", list);
	for (tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		unsigned id, members;
		int at = 0;

		assert_int_equal(sscanf(tok, "%u:%u:%n", &id, &members, &at), 2);
		assert_int_equal(v2_room_put(entries, sizeof entries, &used, id, members, tok + at,
		                             strlen(tok + at)),
		                 0);
	}
	m.text = entries;
	m.text_len = used;
	feed_msg(sid, seq, &m, now);
}

/* The messages (not pieces) the engine sent as DATA since index first, as "kind" words. */
static struct v2_msg nth_data(int first, int k, struct v2_packet *p)
{
	int i;

	for (i = first; i < seen.nsent && i < 64; i++) {
		assert_int_equal(
		    v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), p), V2_OK);
		if (p->type == V2_DATA && k-- == 0)
			return sent_msg(i, p);
	}
	fail_msg("fewer DATA sent than asked for");
	return sent_msg(first, p);
}

static void rooms_declared_after_welcome_with_the_feature(void **state)
{
	char kinds[256];
	struct v2_packet p;
	struct v2_msg m;
	int first;

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_poll(&eng, 0);
	first = seen.nsent;
	welcome_from(9, ROOMS_SERVER, 0);
	c2_poll(&eng, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7"); /* ROOMS, and nothing else */
	m = nth_data(first, 0, &p);
	assert_int_equal(m.flags, 0); /* mine, not all */
	assert_int_equal(p.payload_len, 2);
	/* Its answer is the engine's own: told with again = 1 (no line for the user). */
	feed_room(9, 1, V2_ROOM_MINE, 0, "1:3:#大厅", 10);
	assert_int_equal(seen.nrooms, 1);
	assert_string_equal(seen.rooms[0], "0 1: 1:3:#大厅");
	/* A later ROOM MINE is the user's. */
	feed_room(9, 2, V2_ROOM_MINE, 0, "1:3:#大厅", 20);
	assert_string_equal(seen.rooms[1], "0 0: 1:3:#大厅");
}

static void no_rooms_declared_without_the_feature(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	c2_start(&eng, "alice", 0);
	c2_poll(&eng, 0);
	first = seen.nsent;
	welcome_from(9, V2_F_MSG_ID, 0);
	c2_poll(&eng, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "");
}

/* To a server without rooms the new kinds are refused, and nothing new goes on the wire. */
static void nothing_new_sent_to_a_server_without_rooms(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online_with(9, V2_F_MSG_ID, 0);
	first = seen.nsent;
	assert_int_equal(c2_join(&eng, "#dev", 4), -1);
	assert_int_equal(c2_part(&eng, 5), -1);
	assert_int_equal(c2_rooms(&eng, 1), -1);
	assert_int_equal(c2_tell(&eng, "bob", 3, "hi", 2), -1);
	assert_int_equal(c2_say(&eng, 5, "hi", 2), -1);
	assert_int_equal(c2_me(&eng, 5, "hi", 2), -1);
	assert_int_equal(c2_who(&eng, 5), -1);
	assert_false(c2_has_rooms(&eng));
	c2_poll(&eng, 1);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "");
	assert_int_equal(c2_say(&eng, V2_LOBBY, "hi", 2), 0); /* the default room as ever */
	c2_poll(&eng, 2);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:1");
}

/* JOIN PART ROOMS TELL and SAY/ME/WHO in a room, byte for byte as wire2 reads them. */
static void room_messages_encoded(void **state)
{
	struct v2_packet p;
	struct v2_msg m;
	uint32_t id;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	c2_poll(&eng, 2);
	first = seen.nsent;
	assert_int_equal(c2_join(&eng, "#技术部", strlen("#技术部")), 0);
	assert_int_equal(c2_say(&eng, 5, "yo", 2), 0);
	assert_int_equal(c2_me(&eng, V2_LOBBY, "waves", 5), 0);
	assert_int_equal(c2_tell(&eng, "bob", 3, "hi", 2), 0);
	assert_int_equal(c2_who(&eng, 5), 0);
	assert_int_equal(c2_rooms(&eng, 1), 0);
	assert_int_equal(c2_part(&eng, 5), 0);
	c2_poll(&eng, 3);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_JOIN);
	assert_int_equal(m.name_len, strlen("#技术部"));
	assert_memory_equal(m.name, "#技术部", m.name_len);
	m = nth_data(first, 1, &p);
	assert_int_equal(m.kind, V2_K_SAY);
	assert_int_equal(m.flags, V2_ID | V2_ROOM);
	assert_int_equal(m.room, 5);
	assert_int_equal(p.payload_len, 1 + 1 + 4 + 4 + 2);
	assert_memory_equal(m.text, "yo", 2);
	id = m.id;
	m = nth_data(first, 2, &p);
	assert_int_equal(m.kind, V2_K_ME);
	assert_int_equal(m.flags, V2_ID); /* the default room: no room id, as before rooms */
	assert_int_equal(m.id, id + 1);
	m = nth_data(first, 3, &p);
	assert_int_equal(m.kind, V2_K_TELL);
	assert_int_equal(m.flags, V2_ID);
	assert_int_equal(m.id, id + 2);
	assert_memory_equal(m.name, "bob", 3);
	assert_int_equal(m.name_len, 3);
	assert_memory_equal(m.text, "hi", 2);
	m = nth_data(first, 4, &p);
	assert_int_equal(m.kind, V2_K_WHO);
	assert_int_equal(m.room, 5);
	assert_int_equal(p.payload_len, 5);
	/* ROOMS ALL waits for the WHO's answer: one answer in flight (PROTOCOL-v2.md). */
	m = nth_data(first, 5, &p);
	assert_int_equal(m.kind, V2_K_PART);
	assert_int_equal(m.room, 5);
	assert_int_equal(p.payload_len, 5);
}

/* A long SAY in a room and a long TELL: each piece as large as it may be, each naming the same. */
static void long_say_in_room_and_tell_split(void **state)
{
	static char text[3000];
	struct v2_packet p;
	struct v2_msg m;
	size_t total = 0;
	int first, k;

	(void)state;
	memset(text, 'x', sizeof text);
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	c2_poll(&eng, 2);
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, 5, text, sizeof text), 0);
	assert_int_equal(c2_tell(&eng, "bob", 3, text, sizeof text), 0);
	c2_poll(&eng, 3);
	for (k = 0; k < 3; k++) {
		m = nth_data(first, k, &p);
		assert_int_equal(m.kind, V2_K_SAY);
		assert_int_equal(m.room, 5);
		assert_true(m.flags & V2_ROOM);
		assert_int_equal(!!(m.flags & V2_MORE), k < 2);
		if (k < 2)
			assert_int_equal(m.text_len, V2_SAY_ROOM_CHUNK);
		total += m.text_len;
	}
	assert_int_equal(total, sizeof text);
	total = 0;
	for (k = 3; k < 6; k++) {
		m = nth_data(first, k, &p);
		assert_int_equal(m.kind, V2_K_TELL);
		assert_memory_equal(m.name, "bob", 3);
		assert_int_equal(!!(m.flags & V2_MORE), k < 5);
		if (k < 5)
			assert_int_equal(m.text_len, V2_TELL_CHUNK(3));
		assert_true(p.payload_len <= V2_MAX_PAYLOAD);
		total += m.text_len;
	}
	assert_int_equal(total, sizeof text);
}

/* Event ids are per room: the same id in two rooms is two events; in one room, a replay. */
static void revent_shown_once_per_room(void **state)
{
	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_revent(9, 1, 5, 1, 0, "five", 10);
	feed_revent(9, 2, 6, 1, 0, "six", 10);
	feed_revent(9, 3, 5, 1, 0, "five again", 10);   /* a replay in room 5 */
	feed_revent(9, 4, V2_LOBBY, 1, 0, "lobby", 10); /* the default room's own count */
	feed_event(9, 5, 1, 0, "lobby again", 10);      /* EVENT is the default room's */
	feed_revent(9, 6, 5, 2, 0, "five next", 10);
	assert_int_equal(seen.nrevents, 4);
	assert_string_equal(seen.revents[0], "5 1 bob five");
	assert_string_equal(seen.revents[1], "6 1 bob six");
	assert_string_equal(seen.revents[2], "1 1 bob lobby");
	assert_string_equal(seen.revents[3], "5 1 bob five next");
	assert_int_equal(seen.nevents, 0);
}

/* A long REVENT in pieces is one event; a new session's rooms count afresh. */
static void revent_pieces_and_new_session(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN};

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_revent(9, 1, 5, 40, V2_MORE, "hello ", 10);
	assert_int_equal(seen.nrevents, 0);
	feed_revent(9, 2, 5, 40, 0, "world", 10);
	assert_int_equal(seen.nrevents, 1);
	assert_string_equal(seen.revents[0], "5 1 bob hello world");
	feed(&close, 20);
	c2_poll(&eng, 20);
	welcome_from(10, ROOMS_SERVER, 30);
	feed_revent(10, 1, 5, 3, 0, "restarted", 40);
	assert_int_equal(seen.nrevents, 2);
	assert_string_equal(seen.revents[1], "5 1 bob restarted");
}

static void room_list_joined_from_pieces(void **state)
{
	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_MINE, 0, "1:3:#大厅", 1); /* the declaration's answer */
	assert_int_equal(c2_rooms(&eng, 1), 0);
	feed_room(9, 2, V2_ROOM_ALL, V2_MORE, "1:5:#大厅 4:1:admin", 10); /* no '#': dropped */
	assert_int_equal(seen.nrooms, 1);
	feed_room(9, 3, V2_ROOM_ALL, V2_MORE, "5:2:#dev 6:0:#a[m", 20); /* an ESC: dropped */
	feed_room(9, 4, V2_ROOM_ALL, 0, "7:9:#技术部", 30);
	assert_int_equal(seen.nrooms, 2);
	assert_string_equal(seen.rooms[1], "1 0: 1:5:#大厅 5:2:#dev 7:9:#技术部");
}

static void private_rejoined_from_pieces(void **state)
{
	struct v2_msg m = {.kind = V2_K_PRIVATE, .event_id = 7, .name = "bob", .name_len = 3};

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	m.flags = V2_MORE;
	m.text = "hello ";
	m.text_len = 6;
	feed_msg(9, 1, &m, 10);
	assert_int_equal(seen.nprivates, 0);
	m.flags = 0;
	m.text = "world";
	m.text_len = 5;
	feed_msg(9, 2, &m, 20);
	assert_int_equal(seen.nprivates, 1);
	assert_string_equal(seen.privates[0], "7 bob hello world");
	m.name = "a";
	m.name_len = 2; /* not a name: not shown */
	feed_msg(9, 3, &m, 30);
	assert_int_equal(seen.nprivates, 1);
}

/* Lose the session and log in again with a server with rooms; returns the first index sent. */
static int new_session(uint64_t sid, uint64_t now)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = eng.sid, .code = V2_CLOSE_UNKNOWN};
	int first;

	feed(&close, now);
	c2_poll(&eng, now);
	first = seen.nsent;
	welcome_from(sid, ROOMS_SERVER, now);
	c2_poll(&eng, now + 1);
	return first;
}

/*
 * A new session declares itself and joins its rooms again; what was typed
 * for a room meanwhile waits for the room's new id (the server may have
 * restarted and numbered its rooms anew), then goes under it, and what
 * was typed after it waits behind it: the server takes message ids in
 * order only.
 */
static void new_session_rejoins_and_holds_room_messages(void **state)
{
	char kinds[256];
	struct v2_packet p;
	struct v2_msg m;
	uint32_t id;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	assert_string_equal(seen.rooms[0], "2 0: 5:2:#dev");
	assert_int_equal(c2_say(&eng, 5, "typed offline", 13), 0);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "lobby", 5), 0);
	first = new_session(10, 100);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7 2:5"); /* ROOMS, JOIN #dev; the SAYs wait */
	m = nth_data(first, 1, &p);
	assert_memory_equal(m.name, "#dev", 4);
	/* Said while the room is being joined again: held too. */
	assert_int_equal(c2_say(&eng, 5, "meanwhile", 9), 0);
	first = seen.nsent;
	feed_room(10, 1, V2_ROOM_MINE, 0, "1:3:#大厅", 110);
	c2_poll(&eng, 111);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "");
	feed_room(10, 2, V2_ROOM_JOINED, 0, "8:2:#DEV", 120); /* #dev is 8 now */
	assert_string_equal(seen.rooms[2], "2 1: 8:2:#DEV");  /* the engine's own JOIN */
	c2_poll(&eng, 121);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "3:1 4:1 5:1");
	m = nth_data(first, 0, &p);
	assert_int_equal(m.room, 8);
	assert_memory_equal(m.text, "typed offline", 13);
	id = m.id;
	m = nth_data(first, 1, &p);
	assert_false(m.flags & V2_ROOM);
	assert_memory_equal(m.text, "lobby", 5);
	assert_int_equal(m.id, id + 1);
	m = nth_data(first, 2, &p);
	assert_int_equal(m.room, 8);
	assert_memory_equal(m.text, "meanwhile", 9);
	assert_int_equal(m.id, id + 2);
	assert_int_equal(seen.nunsent, 0);
	assert_int_equal(eng.njoined, 1);
	assert_int_equal(eng.joined[0].id, 8);
	/* Nothing held any more: a new message goes at once. */
	first = seen.nsent;
	assert_int_equal(c2_say(&eng, V2_LOBBY, "now", 3), 0);
	c2_poll(&eng, 122);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "6:1");
}

/* A room not joined again within C2_REJOIN_WAIT is given up, with what waited for it. */
static void rejoin_given_up_after_the_wait(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	assert_int_equal(c2_say(&eng, 5, "lost", 4), 0);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "kept", 4), 0);
	new_session(10, 100);
	c2_poll(&eng, 101 + C2_REJOIN_WAIT - 1);
	assert_int_equal(seen.nunsent, 0);
	first = seen.nsent;
	c2_poll(&eng, 101 + C2_REJOIN_WAIT);
	assert_int_equal(seen.nunsent, 1);
	assert_string_equal(seen.unsent, "#dev");
	assert_string_equal(seen.rooms[seen.nrooms - 1], "3 1: 5:0:#dev");
	assert_int_equal(eng.njoined, 0);
	/* What waited behind it goes now. */
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "3:1");
	assert_int_equal(eng.out_len, 1);
}

/* A room being parted is not joined again, and its PART is not sent again. */
static void parted_room_not_rejoined(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	feed_room(9, 2, V2_ROOM_JOINED, 0, "6:2:#ops", 1);
	assert_int_equal(c2_part(&eng, 5), 0);
	first = new_session(10, 100);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7 2:5");
	assert_string_equal(seen.rooms[2], "3 1: 5:0:#dev");
	assert_int_equal(eng.njoined, 1);
	assert_string_equal(eng.joined[0].name, "#ops");
}

/* ROOM PARTED (a part, a kick, a closed room) forgets the room: a new session does not rejoin it.
 */
static void parted_answer_forgets_the_room(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	feed_room(9, 2, V2_ROOM_PARTED, 0, "5:1:#dev", 2);
	assert_string_equal(seen.rooms[1], "3 0: 5:1:#dev");
	assert_int_equal(eng.njoined, 0);
	first = new_session(10, 100);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7");
}

/* A WHO of another room than the one in flight is refused; the same room's shares it. */
static void who_of_a_room_one_at_a_time(void **state)
{
	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	assert_int_equal(c2_who(&eng, 5), 0);
	assert_int_equal(c2_who(&eng, 5), 0);
	assert_int_equal(c2_who(&eng, 0), -1);
	feed_members(9, 2, 2, 0,
	             "\x03"
	             "bob",
	             4, 10);
	assert_int_equal(seen.whos, 2);
	assert_int_equal(c2_who(&eng, 0), 0);
}

/*
 * The new DATA of kind sent since index first (not the fake server's
 * unacknowledged ones sent again: their seqs are below after): how many,
 * and the last one in *m (its seq in *seq).
 */
static int sent_of_kind(int first, uint32_t after, enum v2_kind kind, struct v2_msg *m,
                        uint32_t *seq)
{
	static struct v2_packet p[64];
	int i, n = 0;

	for (i = first; i < seen.nsent && i < 64; i++) {
		struct v2_msg k;

		assert_int_equal(
		    v2_parse(seen.sent[i], v2_unseal(seen.sent[i], seen.sent_len[i]), &p[i]),
		    V2_OK);
		if (p[i].type != V2_DATA || p[i].seq <= after)
			continue;
		assert_int_equal(v2_msg_parse(p[i].payload, p[i].payload_len, &k), V2_OK);
		if (k.kind != kind)
			continue;
		n++;
		*m = k;
		*seq = p[i].seq;
	}
	return n;
}

/*
 * Session 1 had #c (id 2) and #b (id 3); after a restart, the server
 * gives #b the id 2 first.  #c stays ours while it is joined again (the
 * owner's current room must not move), and what is said there waits for
 * its own new id, by name: never under 2, #b's now.
 */
static void rejoining_room_stays_joined_when_another_takes_its_id(void **state)
{
	char kinds[256];
	struct v2_packet p;
	struct v2_msg m;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "2:1:#c", 1);
	feed_room(9, 2, V2_ROOM_JOINED, 0, "3:1:#b", 1);
	new_session(10, 100);
	feed_room(10, 1, V2_ROOM_MINE, 0, "1:3:#大厅", 110);
	feed_room(10, 2, V2_ROOM_JOINED, 0, "2:1:#b", 120);
	assert_int_equal(c2_room_index(&eng, "#c"), 0); /* still ours, its id not known yet */
	assert_true(eng.joined[0].rejoining);
	assert_int_equal(eng.joined[0].id, 0); /* 2 is #b's now */
	first = seen.nsent;
	assert_int_equal(c2_say_in(&eng, "#c", "to c", 4), 0);
	assert_int_equal(c2_say(&eng, 2, "to b", 4), 0); /* 2 is #b: no more waiting for it */
	c2_poll(&eng, 121);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, ""); /* "to b" waits behind "to c": ids go in order */
	feed_room(10, 3, V2_ROOM_JOINED, 0, "3:1:#c", 130);
	c2_poll(&eng, 131);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_SAY);
	assert_int_equal(m.room, 3);
	assert_memory_equal(m.text, "to c", 4);
	m = nth_data(first, 1, &p);
	assert_int_equal(m.room, 2);
	assert_memory_equal(m.text, "to b", 4);
	assert_int_equal(seen.nunsent, 0);
}

/*
 * A PART and a WHO of a room being joined again wait for its new id (by
 * name): the WHO's clock does not run meanwhile; both go under the new id.
 */
static void part_and_who_of_a_rejoining_room_wait_for_its_new_id(void **state)
{
	struct v2_msg m;
	uint32_t who_seq, part_seq;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "2:1:#c", 1);
	feed_room(9, 2, V2_ROOM_JOINED, 0, "3:1:#b", 1);
	new_session(10, 100);
	feed_room(10, 1, V2_ROOM_JOINED, 0, "2:1:#b", 110); /* #c's old id is #b's now */
	first = seen.nsent;
	assert_int_equal(c2_who_in(&eng, "#c"), 0);
	assert_int_equal(c2_part_in(&eng, "#c"), 0);
	assert_int_equal(c2_who_in(&eng, "#nowhere"), -1);
	c2_poll(&eng, 111);
	c2_poll(&eng, 111 + C2_WHO_WAIT + 1);
	assert_int_equal(seen.whos, 0); /* not sent: not unanswered either */
	assert_int_equal(sent_of_kind(first, 3, V2_K_WHO, &m, &who_seq), 0);
	assert_int_equal(sent_of_kind(first, 3, V2_K_PART, &m, &part_seq), 0);
	feed_room(10, 2, V2_ROOM_JOINED, 0, "4:1:#c", 120 + C2_WHO_WAIT);
	c2_poll(&eng, 121 + C2_WHO_WAIT);
	assert_int_equal(sent_of_kind(first, 3, V2_K_WHO, &m, &who_seq), 1);
	assert_int_equal(m.room, 4);
	assert_int_equal(sent_of_kind(first, 3, V2_K_PART, &m, &part_seq), 1);
	assert_int_equal(m.room, 4);
	assert_true(who_seq < part_seq);
	/* Its clock started when it went. */
	c2_poll(&eng, 121 + 2 * C2_WHO_WAIT - 1);
	assert_int_equal(seen.whos, 0);
	c2_poll(&eng, 122 + 2 * C2_WHO_WAIT);
	assert_int_equal(seen.who_unanswered, 1);
}

/* A WHO and a PART for a room not joined again are never sent: the WHO is unanswered. */
static void who_and_part_of_a_room_not_joined_again_given_up(void **state)
{
	struct v2_msg m;
	uint32_t seq;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "2:1:#c", 1);
	new_session(10, 100);
	first = seen.nsent;
	assert_int_equal(c2_who_in(&eng, "#c"), 0);
	assert_int_equal(c2_part_in(&eng, "#c"), 0);
	assert_int_equal(c2_say_in(&eng, "#c", "lost", 4), 0);
	c2_poll(&eng, 101 + C2_REJOIN_WAIT);
	assert_int_equal(seen.whos, 1);
	assert_int_equal(seen.who_unanswered, 1);
	assert_int_equal(seen.nunsent, 1);
	assert_string_equal(seen.unsent, "#c");
	assert_int_equal(seen.unsent_why, C2_UNSENT_REJOIN);
	assert_int_equal(sent_of_kind(first, 2, V2_K_WHO, &m, &seq) +
	                     sent_of_kind(first, 2, V2_K_PART, &m, &seq) +
	                     sent_of_kind(first, 2, V2_K_SAY, &m, &seq),
	                 0);
	assert_int_equal(eng.out_len, 0);
	assert_int_equal(eng.holding, 0);
}

/* A QUIT during a rejoin goes after what is held, once the room is joined again. */
static void quit_waits_for_held_messages(void **state)
{
	char kinds[256];
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	assert_int_equal(c2_say(&eng, 5, "typed offline", 13), 0);
	first = new_session(10, 100);
	c2_quit(&eng);
	c2_poll(&eng, 102);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7 2:5"); /* ROOMS, JOIN #dev; no QUIT yet */
	feed_room(10, 1, V2_ROOM_JOINED, 0, "8:2:#dev", 110);
	c2_poll(&eng, 111);
	data_sent_since(first, kinds, sizeof kinds);
	assert_string_equal(kinds, "1:7 2:5 3:1 4:2"); /* the SAY, then QUIT */
	assert_int_equal(seen.nunsent, 0);
}

/* Leaving, the rooms being joined again wait C2_QUIT_WHO_WAIT at most; what waited is told. */
static void quit_gives_up_held_messages_after_the_quit_wait(void **state)
{
	struct v2_msg m;
	uint32_t seq;
	int first;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	assert_int_equal(c2_say(&eng, 5, "typed offline", 13), 0);
	first = new_session(10, 100);
	c2_quit(&eng);
	c2_poll(&eng, 102);
	c2_poll(&eng, 102 + C2_QUIT_WHO_WAIT - 1);
	assert_int_equal(sent_of_kind(first, 2, V2_K_QUIT, &m, &seq), 0);
	assert_int_equal(seen.nunsent, 0);
	c2_poll(&eng, 102 + C2_QUIT_WHO_WAIT);
	assert_int_equal(seen.nunsent, 1);
	assert_int_equal(seen.unsent_why, C2_UNSENT_REJOIN);
	assert_int_equal(sent_of_kind(first, 2, V2_K_SAY, &m, &seq), 0);
	assert_int_equal(sent_of_kind(first, 2, V2_K_QUIT, &m, &seq), 1);
}

/* Quitting while offline ends at once: what never went is told, not dropped silently. */
static void quit_while_offline_tells_what_did_not_go(void **state)
{
	struct v2_packet close = {.type = V2_CLOSE, .sid = 9, .code = V2_CLOSE_UNKNOWN};

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed(&close, 10);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "hello", 5), 0);
	assert_int_equal(c2_tell(&eng, "bob", 3, "psst", 4), 0);
	c2_quit(&eng);
	assert_int_equal(eng.state, C2_CLOSED);
	assert_int_equal(seen.nunsent, 2);
	assert_string_equal(seen.unsent, "bob"); /* the default room (""), then bob */
	assert_int_equal(seen.unsent_why, C2_UNSENT_QUIT);
}

/* A message held for a room that is then parted is told as gone, not as not joined again. */
static void held_message_for_a_parted_room_told_as_gone(void **state)
{
	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	feed_room(9, 1, V2_ROOM_JOINED, 0, "5:2:#dev", 1);
	new_session(10, 100);
	assert_int_equal(c2_say_in(&eng, "#dev", "hi", 2), 0);
	feed_room(10, 1, V2_ROOM_PARTED, 0, "9:1:#dev", 110); /* kicked, say */
	assert_int_equal(seen.nunsent, 1);
	assert_int_equal(seen.unsent_why, C2_UNSENT_GONE);
}

/*
 * The engine keeps C2_MAX_ROOMS rooms (qund's most): a JOIN past them is
 * refused before it goes, a ROOM JOINED past them is parted again and not
 * passed on, and a new session still joins them all again with room in
 * its queue for what the user types.
 */
static void rooms_kept_up_to_the_most_a_server_allows(void **state)
{
	char name[32], list[64];
	struct v2_packet p;
	struct v2_msg m;
	uint32_t seq = 1;
	int i, first, told;

	(void)state;
	go_online_with(9, ROOMS_SERVER, 0);
	for (i = 0; i < C2_MAX_ROOMS; i++) {
		snprintf(list, sizeof list, "%d:1:#r%d", i + 2, i);
		feed_room(9, seq++, V2_ROOM_JOINED, 0, list, 1);
		c2_poll(&eng, 1); /* acks */
	}
	assert_int_equal(eng.njoined, C2_MAX_ROOMS);
	assert_int_equal(c2_room_index(&eng, "#r999"), C2_MAX_ROOMS - 1);
	seen.nsent = 0; /* only the first 64 are kept */
	first = 0;
	assert_int_equal(c2_join(&eng, "#more", 5), C2_ROOMS_FULL);
	assert_int_equal(c2_join(&eng, "#r7", 3), 0); /* one of ours: it changes nothing */
	told = seen.nrooms;
	feed_room(9, seq++, V2_ROOM_JOINED, 0, "5000:1:#extra", 2);
	assert_int_equal(seen.nrooms, told);
	assert_int_equal(eng.njoined, C2_MAX_ROOMS);
	c2_poll(&eng, 3);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_JOIN);
	m = nth_data(first, 1, &p);
	assert_int_equal(m.kind, V2_K_PART);
	assert_int_equal(m.room, 5000);
	/* A new session: ROOMS and a JOIN each, and room to say something. */
	new_session(10, 100);
	assert_int_equal(eng.setup_sent, 1 + C2_MAX_ROOMS);
	assert_int_equal(c2_say(&eng, V2_LOBBY, "still room", 10), 0);
	snprintf(name, sizeof name, "#r%d", C2_MAX_ROOMS - 1);
	assert_int_equal(c2_say_in(&eng, name, "held", 4), 0);
}

#define F_HIST (V2_F_ROOMS | V2_F_HISTORY)

/* An HLINE of room, id, said at `at`, with flags. */
static void feed_hline(uint32_t seq, uint32_t room, uint64_t id, uint64_t at, uint8_t flags,
                       const char *text)
{
	struct v2_msg m = {.kind = V2_K_HLINE,
	                   .room = room,
	                   .event_id = id,
	                   .at = at,
	                   .event = EV_SAY,
	                   .flags = flags,
	                   .name = "bob",
	                   .name_len = 3,
	                   .text = text,
	                   .text_len = strlen(text)};

	feed_msg(9, seq, &m, 100);
}

static void feed_hend(uint32_t seq, uint32_t room, uint16_t count, uint8_t flags)
{
	struct v2_msg m = {.kind = V2_K_HEND, .room = room, .count = count, .flags = flags};

	feed_msg(9, seq, &m, 100);
}

static void history_bit_declared_only_with_the_feature(void **state)
{
	struct v2_packet p;
	struct v2_msg m;
	int first = 0;

	(void)state;
	go_online_with(9, V2_F_ROOMS, 0);
	c2_poll(&eng, 0);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_ROOMS);
	assert_int_equal(m.flags, 0);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 5), -1);
	assert_int_equal(c2_search(&eng, "x", 1, 5), -1);
	c2_free(&eng);
	memset(&seen, 0, sizeof seen);
	c2_init(&eng, "alice", 25, &callbacks);
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_ROOMS);
	assert_int_equal(m.flags, V2_ROOMS_HISTORY);
}

static void history_asked_and_lines_rejoined_from_pieces(void **state)
{
	struct v2_packet p;
	struct v2_msg m;
	int first;

	(void)state;
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	first = seen.nsent;
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_BEFORE, 77, 50), 0);
	c2_poll(&eng, 10);
	m = nth_data(first, 0, &p);
	assert_int_equal(m.kind, V2_K_HISTORY);
	assert_int_equal(m.room, V2_LOBBY);
	assert_int_equal(m.what, V2_HIST_BEFORE);
	assert_int_equal(m.event_id, 77);
	assert_int_equal(m.count, 50);
	feed_hline(1, V2_LOBBY, 3, 1000, V2_MORE, "hel");
	feed_hline(2, V2_LOBBY, 3, 1000, 0, "lo");
	feed_hline(3, V2_LOBBY, 4, 2000, 0, "again");
	feed_hend(4, V2_LOBBY, 2, V2_HEND_START);
	assert_int_equal(seen.nhist, 2);
	assert_string_equal(seen.hist[0], "1 3 1000 1 bob hello");
	assert_string_equal(seen.hist[1], "1 4 2000 1 bob again");
	assert_int_equal(seen.nhends, 1);
	assert_string_equal(seen.hends[0], "1 1 2 1");
	assert_int_equal(c2_oldest(&eng, NULL), 3);
	/* Nobody asked: an HLINE or HEND now is dropped. */
	feed_hline(5, V2_LOBBY, 1, 1000, 0, "stray");
	feed_hend(6, V2_LOBBY, 1, 0);
	assert_int_equal(seen.nhist, 2);
	assert_int_equal(seen.nhends, 1);
}

static void history_skips_lines_shown_live_and_live_skips_history(void **state)
{
	(void)state;
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	feed_event(9, 1, 5, 0, "live five", 10);
	assert_int_equal(c2_history_in(&eng, "", V2_HIST_LATEST, 0, 50), 0);
	c2_poll(&eng, 10);
	feed_hline(2, V2_LOBBY, 4, 1000, 0, "four");
	feed_hline(3, V2_LOBBY, 5, 1000, 0, "five");
	feed_hline(4, V2_LOBBY, 6, 1000, 0, "six");
	feed_hend(5, V2_LOBBY, 3, 0);
	assert_int_equal(seen.nhist, 2);
	assert_string_equal(seen.hist[0], "1 4 1000 1 bob four");
	assert_string_equal(seen.hist[1], "1 6 1000 1 bob six");
	feed_event(9, 6, 6, 0, "six", 100); /* its live copy: shown already */
	assert_int_equal(seen.nevents, 1);
	assert_int_equal(c2_oldest(&eng, NULL), 4);
	/* Paging back: lines older than the oldest shown all pass, oldest first. */
	assert_int_equal(c2_history_in(&eng, "", V2_HIST_BEFORE, 4, 2), 0);
	c2_poll(&eng, 100);
	feed_hline(7, V2_LOBBY, 2, 1000, 0, "two");
	feed_hline(8, V2_LOBBY, 3, 1000, 0, "three");
	feed_hend(9, V2_LOBBY, 2, V2_HEND_START);
	assert_int_equal(seen.nhist, 4);
	assert_string_equal(seen.hist[3], "1 3 1000 1 bob three");
	assert_int_equal(c2_oldest(&eng, NULL), 2);
}

static void who_rooms_all_history_and_search_one_at_a_time(void **state)
{
	struct v2_packet p;
	int first;

	(void)state;
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	first = seen.nsent;
	assert_int_equal(c2_who(&eng, V2_LOBBY), 0);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 10), 0);
	assert_int_equal(c2_search(&eng, "猫 狗", strlen("猫 狗"), 20), 0);
	assert_int_equal(c2_rooms(&eng, 1), 0);
	assert_int_equal(c2_who(&eng, V2_LOBBY), 0); /* shares the first's answer */
	c2_poll(&eng, 10);
	assert_int_equal(seen.nsent - first, 1);
	assert_int_equal(nth_data(first, 0, &p).kind, V2_K_WHO);
	feed_members(9, 1, 1, 0, "\3bob", 4, 20);
	assert_int_equal(seen.whos, 2);
	c2_poll(&eng, 20);
	assert_int_equal(nth_data(first, 1, &p).kind, V2_K_HISTORY);
	assert_int_equal(seen.nsent - first, 2);
	feed_hend(2, V2_LOBBY, 0, 0);
	c2_poll(&eng, 100);
	assert_int_equal(nth_data(first, 2, &p).kind, V2_K_SEARCH);
	assert_int_equal(nth_data(first, 2, &p).count, 20);
	feed_hline(3, 5, 8, 1000, 0, "猫 和 狗"); /* a search's lines are not deduplicated */
	feed_hend(4, 0, 1, 0);
	assert_int_equal(seen.nhist, 1);
	assert_string_equal(seen.hends[1], "1 0 1 0");
	c2_poll(&eng, 110);
	assert_int_equal(nth_data(first, 3, &p).kind, V2_K_ROOMS);
	assert_int_equal(nth_data(first, 3, &p).flags, V2_ROOMS_ALL);
	assert_int_equal(seen.nsent - first, 4);
}

static void history_unanswered_after_the_wait_and_in_a_new_session(void **state)
{
	(void)state;
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 10), 0);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 0), -1);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, V2_HISTORY_MAX + 1), -1);
	c2_poll(&eng, 10);
	c2_poll(&eng, 10 + C2_WHO_WAIT - 1);
	assert_int_equal(seen.nhends, 0);
	c2_poll(&eng, 10 + C2_WHO_WAIT);
	assert_int_equal(seen.nhends, 1);
	assert_string_equal(seen.hends[0], "0 0 0 0");
	/* One in flight when the session is lost is answered unanswered too. */
	assert_int_equal(c2_search(&eng, "x", 1, 10), 0);
	c2_poll(&eng, 6000);
	c2_poll(&eng, 6000 + 3 * 25000);
	welcome_from(10, F_HIST, 6000 + 3 * 25000);
	assert_int_equal(seen.nhends, 2);
	assert_string_equal(seen.hends[1], "0 0 0 0");
}

static void asks_bounded_and_dropped_by_quit(void **state)
{
	int i;

	(void)state;
	go_online_with(9, F_HIST, 0);
	c2_poll(&eng, 0);
	for (i = 0; i < C2_ASKS_MAX + 1; i++)
		assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 10), 0);
	assert_int_equal(c2_history(&eng, V2_LOBBY, V2_HIST_LATEST, 0, 10), -1);
	c2_quit(&eng);
	assert_int_equal(seen.nhends, C2_ASKS_MAX + 1);
}

static void stored_private_passes_its_time(void **state)
{
	struct v2_msg m = {.kind = V2_K_PRIVATE,
	                   .event_id = 3,
	                   .flags = V2_STORED,
	                   .at = 1234567,
	                   .name = "bob",
	                   .name_len = 3,
	                   .text = "while away",
	                   .text_len = 10};

	(void)state;
	go_online_with(9, F_HIST, 0);
	feed_msg(9, 1, &m, 10);
	assert_int_equal(seen.nprivates, 1);
	assert_int_equal(seen.private_at, 1234567);
	m.flags = 0;
	feed_msg(9, 2, &m, 10);
	assert_int_equal(seen.nprivates, 2);
	assert_int_equal(seen.private_at, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(handshake_sends_login_with_cookie, setup, teardown),
	    cmocka_unit_test_setup_teardown(one_data_is_acked_after_the_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(every_eighth_data_is_acked_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_gap_or_a_duplicate_is_acked_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(cookie_with_wrong_nonce_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(welcome_goes_online, setup, teardown),
	    cmocka_unit_test_setup_teardown(refusal_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(silent_server_gives_up_after_15_tries, setup, teardown),
	    cmocka_unit_test_setup_teardown(closed_port_gives_up_after_5_tries, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_say_split_with_more_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(say_over_limit_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(event_pieces_rejoined_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(replayed_event_id_shown_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(other_session_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(silence_reconnects_and_resends, setup, teardown),
	    cmocka_unit_test_setup_teardown(event_ids_start_afresh_in_a_new_session, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(keepalive_ping_when_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(quit_confirmed_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_session_while_quitting_counts_as_quit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(unknown_session_reconnects, setup, teardown),
	    cmocka_unit_test_setup_teardown(kicked_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_datagram_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(challenge_answered_with_rebind, setup, teardown),
	    cmocka_unit_test_setup_teardown(me_sent_as_me_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(me_over_limit_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(who_sent_as_empty_who, setup, teardown),
	    cmocka_unit_test_setup_teardown(members_pieces_joined_into_one_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(members_invalid_names_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(members_empty_room_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(members_half_answer_forgotten_on_reconnect, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(who_asked_while_one_is_in_flight_shares_its_answer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(quit_waits_for_the_who_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(who_without_answer_is_given_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(say_carries_an_id_only_to_a_server_that_takes_ids,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(reconnect_sends_a_half_acknowledged_message_whole,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(reconnect_sends_selectively_acknowledged_messages_again,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(reconnect_leaves_out_what_was_acknowledged, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(start_forgets_an_earlier_quit, setup, teardown),
	    cmocka_unit_test_setup_teardown(action_event_passed_on, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_event_code_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(rooms_declared_after_welcome_with_the_feature, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(no_rooms_declared_without_the_feature, setup, teardown),
	    cmocka_unit_test_setup_teardown(nothing_new_sent_to_a_server_without_rooms, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(room_messages_encoded, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_say_in_room_and_tell_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(revent_shown_once_per_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(revent_pieces_and_new_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(room_list_joined_from_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(private_rejoined_from_pieces, setup, teardown),
	    cmocka_unit_test_setup_teardown(new_session_rejoins_and_holds_room_messages, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(rejoin_given_up_after_the_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(parted_room_not_rejoined, setup, teardown),
	    cmocka_unit_test_setup_teardown(parted_answer_forgets_the_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(who_of_a_room_one_at_a_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(rejoining_room_stays_joined_when_another_takes_its_id,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(part_and_who_of_a_rejoining_room_wait_for_its_new_id,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(who_and_part_of_a_room_not_joined_again_given_up, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(quit_waits_for_held_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(quit_gives_up_held_messages_after_the_quit_wait, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(quit_while_offline_tells_what_did_not_go, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(held_message_for_a_parted_room_told_as_gone, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(rooms_kept_up_to_the_most_a_server_allows, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_bit_declared_only_with_the_feature, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_asked_and_lines_rejoined_from_pieces, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_skips_lines_shown_live_and_live_skips_history,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(who_rooms_all_history_and_search_one_at_a_time, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(history_unanswered_after_the_wait_and_in_a_new_session,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(asks_bounded_and_dropped_by_quit, setup, teardown),
	    cmocka_unit_test_setup_teardown(stored_private_passes_its_time, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
