/* test_room.c - unit tests of src/qund/room.c: who may join, speak and leave, who gets what,
 * ghosts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "common/text.h"
#include "qund/room.h"

/* Timeouts in ms: short, so that the expiry tests read plainly. */
#define KEEPALIVE 1000
#define IDLE      10000

static const unsigned char hash_key[16] = {0x71, 0x75, 0x6e, 0x2d, 0x74, 0x65, 0x73, 0x74,
                                           0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x30, 0x31};

/*
 * The room under test.  The teardown frees it, so that a failed assertion,
 * which leaves the test by longjmp, does not also leak it under ASan.
 */
static struct room *current;

/*
 * A room with flood control: each member may say burst messages at once,
 * then rate per second (burst 0: no flood control).
 */
static struct room *new_flood_room(size_t max_members, unsigned burst, unsigned rate)
{
	struct room_config cfg;
	struct room *r;

	assert_null(current);

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_members = max_members;
	cfg.keepalive_timeout = KEEPALIVE;
	cfg.idle_timeout = IDLE;
	cfg.flood_burst = burst;
	cfg.flood_rate = rate;
	r = room_new(&cfg, hash_key);
	assert_non_null(r);
	current = r;
	return r;
}

static struct room *new_room(size_t max_members)
{
	return new_flood_room(max_members, 0, 0);
}

static int free_room(void **state)
{
	(void)state;
	if (current != NULL)
		room_free(current);
	current = NULL;
	return 0;
}

/* 127.0.0.1:port, or any 10.a.b.c address for the big tests. */
static struct peer_addr ip4(uint32_t host, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(host);
	a.len = sizeof(*sin);
	return a;
}

static struct peer_addr local(uint16_t port)
{
	return ip4(0x7F000001, port);
}

/* ::ffff:127.0.0.1:port, the same peer as local(port) on a dual-stack socket. */
static struct peer_addr local_mapped(uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6->sin6_addr), 1);
	a.len = sizeof(*sin6);
	return a;
}

/*
 * Wrappers that take C strings and scribble over *o first, so that a field
 * the room forgot to fill shows up as junk.
 */
static void join(struct room *r, const struct peer_addr *a, const char *name, uint64_t now,
                 struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	room_join(r, a, name, strlen(name), now, o);
}

static void say(struct room *r, const struct peer_addr *a, const char *name, const char *text,
                uint64_t now, struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	room_say(r, a, name, strlen(name), text, strlen(text), now, o);
}

static void quit(struct room *r, const struct peer_addr *a, const char *name, uint64_t now,
                 struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	room_quit(r, a, name, strlen(name), now, o);
}

static void ping(struct room *r, const struct peer_addr *a, const char *name, uint64_t now,
                 struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	room_ping(r, a, name, strlen(name), now, o);
}

static int kick(struct room *r, const char *name, struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	return room_kick(r, name, strlen(name), o);
}

static int expire(struct room *r, uint64_t now, struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	return room_expire(r, now, o);
}

static const struct member *find(const struct room *r, const char *name)
{
	return room_find_name(r, name, strlen(name));
}

/* Join and check it worked. */
static void must_join(struct room *r, const struct peer_addr *a, const char *name, uint64_t now)
{
	struct outcome o;

	join(r, a, name, now, &o);
	assert_int_equal(o.reply, REPLY_OK);
}

/* Nothing happened: no reply, no event, and why it was dropped. */
static void assert_dropped(const struct outcome *o, enum drop_reason why)
{
	assert_int_equal(o->drop, why);
	assert_int_equal(o->reply, REPLY_NONE);
	assert_int_equal(o->has_event, 0);
}

/* A refusal to a, and nothing for the room. */
static void assert_refused(const struct outcome *o, const struct peer_addr *a, enum qerr err,
                           int is_member)
{
	assert_int_equal(o->drop, DROP_NONE);
	assert_int_equal(o->reply, REPLY_ERR);
	assert_int_equal(o->err, err);
	assert_int_equal(addr_equal(&o->reply_to, a), 1);
	assert_int_equal(o->reply_to_member, is_member);
	assert_int_equal(o->has_event, 0);
}

static void assert_refused_name(const char *name, enum name_status why)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	join(r, &a, name, 0, &o);
	assert_refused(&o, &a, QERR_NAME_INVALID, 0);
	assert_int_equal(o.err_detail, why);
	assert_int_equal(room_count(r), 0);
	assert_null(room_find_addr(r, &a));
	free_room(NULL);
}

/* room_new */

static void new_room_is_empty(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);

	(void)state;
	assert_int_equal(room_count(r), 0);
	assert_null(find(r, "alice"));
	assert_null(room_find_addr(r, &a));
	assert_int_equal(room_next_expiry(r, 0), UINT64_MAX);
}

/* room_join */

static void join_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	const struct member *m;
	struct outcome o;

	(void)state;
	join(r, &a, "alice", 42, &o);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(addr_equal(&o.reply_to, &a), 1);
	assert_int_equal(o.reply_to_member, 1);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_JOIN);
	assert_string_equal(o.name, "alice");

	m = find(r, "alice");
	assert_non_null(m);
	assert_ptr_equal(o.exclude, m);
	assert_ptr_equal(room_find_addr(r, &a), m);
	assert_string_equal(m->name, "alice");
	assert_string_equal(member_key(m), "alice");
	assert_int_equal(addr_equal(&m->addr, &a), 1);
	assert_int_equal(m->last_heard, 42);
	assert_int_equal(m->keepalive, 0);
	assert_int_equal(room_count(r), 1);
}

static void join_keeps_typed_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	const struct member *m;
	struct outcome o;

	(void)state;
	join(r, &a, "Alice", 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_string_equal(o.name, "Alice");
	m = find(r, "Alice");
	assert_non_null(m);
	assert_string_equal(m->name, "Alice");
	assert_string_equal(member_key(m), "alice");
}

static void join_event_excludes_joiner(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &b, "bob", 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_JOIN);
	assert_string_equal(o.name, "bob");
	assert_ptr_equal(o.exclude, find(r, "bob"));
	assert_ptr_not_equal(o.exclude, find(r, "alice"));
	assert_int_equal(room_count(r), 2);
}

static void join_name_taken(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &b, "alice", 0, &o);
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
	assert_int_equal(room_count(r), 1);
	assert_null(room_find_addr(r, &b));
	assert_int_equal(addr_equal(&find(r, "alice")->addr, &a), 1);
}

static void join_name_taken_case_variant(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &b, "ALICE", 0, &o);
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
	assert_int_equal(room_count(r), 1);
}

static void join_name_taken_fullwidth(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "Alice", 0);
	join(r, &b, "Ａｌｉｃｅ", 0, &o);
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
	assert_int_equal(room_count(r), 1);
}

static void join_same_address_same_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	const struct member *m;
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	m = find(r, "alice");
	join(r, &a, "alice", 10, &o);
	/* The client's OK was lost: OK again, and the room is not told twice. */
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(addr_equal(&o.reply_to, &a), 1);
	assert_int_equal(o.reply_to_member, 1);
	assert_int_equal(o.has_event, 0);
	assert_int_equal(room_count(r), 1);
	assert_ptr_equal(find(r, "alice"), m);
}

static void join_same_address_mapped(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), a6 = local_mapped(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &a6, "alice", 10, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 0);
	assert_int_equal(room_count(r), 1);
}

static void join_same_address_other_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &a, "bob", 0, &o);
	assert_refused(&o, &a, QERR_OTHER_NAME, 1);
	assert_int_equal(room_count(r), 1);
	assert_null(find(r, "bob"));
	assert_ptr_equal(room_find_addr(r, &a), find(r, "alice"));
}

static void join_name_empty(void **state)
{
	(void)state;
	assert_refused_name("", NAME_EMPTY);
}

static void join_name_too_long(void **state)
{
	(void)state;
	assert_refused_name("abcdefghijklmnopqrstuvwxyz0123456", NAME_TOO_LONG);
}

static void join_name_bad_utf8(void **state)
{
	(void)state;
	assert_refused_name("al\xff"
	                    "ice",
	                    NAME_BAD_UTF8);
}

static void join_name_space(void **state)
{
	(void)state;
	assert_refused_name("al ice", NAME_SPACE);
	assert_refused_name("al\u3000ice", NAME_SPACE);
}

static void join_name_control(void **state)
{
	(void)state;
	assert_refused_name("al\x1b[1mice", NAME_CONTROL);
	assert_refused_name("al\u202Eice", NAME_CONTROL);
}

static void join_name_reserved(void **state)
{
	(void)state;
	assert_refused_name("管理员", NAME_RESERVED);
	assert_refused_name("ADMIN", NAME_RESERVED);
}

static void join_room_full(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002), d = local(5003);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	must_join(r, &c, "carol", 0);
	join(r, &d, "dave", 0, &o);
	assert_refused(&o, &d, QERR_ROOM_FULL, 0);
	assert_int_equal(room_count(r), 3);
	assert_null(find(r, "dave"));
	assert_null(room_find_addr(r, &d));
}

static void join_room_full_member_retry_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	must_join(r, &c, "carol", 0);
	/* A member whose OK was lost is not told the room is full. */
	join(r, &c, "carol", 1, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 0);
	assert_int_equal(room_count(r), 3);
}

static void join_room_full_then_leave(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002), d = local(5003);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	must_join(r, &c, "carol", 0);
	quit(r, &b, "bob", 1, &o);
	assert_int_equal(o.reply, REPLY_EXIT);
	join(r, &d, "dave", 2, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(room_count(r), 3);
}

/* room_say */

static void say_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	const char *text = "hello world";
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	say(r, &a, "alice", text, 5, &o);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_NONE);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_SAY);
	assert_string_equal(o.name, "alice");
	assert_ptr_equal(o.text, text);
	assert_int_equal(o.text_len, strlen(text));
	assert_ptr_equal(o.exclude, find(r, "alice"));
}

static void say_uses_member_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "Alice", 0);
	say(r, &a, "Alice", "hi", 5, &o);
	assert_int_equal(o.has_event, 1);
	assert_string_equal(o.name, "Alice");
}

static void say_from_stranger(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), x = local(6666);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &x, "alice", "hi", 5, &o);
	assert_dropped(&o, DROP_NOT_MEMBER);
}

static void say_from_stranger_unknown_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr x = local(6666);
	struct outcome o;

	(void)state;
	say(r, &x, "nobody", "hi", 5, &o);
	assert_dropped(&o, DROP_NOT_MEMBER);
}

static void say_wrong_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	say(r, &a, "bob", "I am bob", 5, &o);
	assert_dropped(&o, DROP_WRONG_NAME);
}

static void say_wrong_name_unknown(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "carol", "hi", 5, &o);
	assert_dropped(&o, DROP_WRONG_NAME);
}

static void say_bad_text_control(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	say(r, &a, "alice", "\x1b[2Jgotcha", 5, &o);
	assert_refused(&o, &a, QERR_TEXT_INVALID, 1);
	assert_int_equal(o.err_detail, TEXT_CONTROL);
}

static void say_bad_text_newline(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "alice", "hi\nbob 说：fake", 5, &o);
	assert_refused(&o, &a, QERR_TEXT_INVALID, 1);
	assert_int_equal(o.err_detail, TEXT_CONTROL);
}

static void say_bad_text_empty(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "alice", "", 5, &o);
	assert_refused(&o, &a, QERR_TEXT_INVALID, 1);
	assert_int_equal(o.err_detail, TEXT_EMPTY);
}

static void say_bad_text_too_long(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	char text[QUN_MAX_TEXT + 2];
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	memset(text, 'x', QUN_MAX_TEXT + 1);
	text[QUN_MAX_TEXT + 1] = '\0';
	say(r, &a, "alice", text, 5, &o);
	assert_refused(&o, &a, QERR_TEXT_INVALID, 1);
	assert_int_equal(o.err_detail, TEXT_TOO_LONG);
}

static void say_bad_text_utf8(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "alice", "hi \xe4\xbd", 5, &o);
	assert_refused(&o, &a, QERR_TEXT_INVALID, 1);
	assert_int_equal(o.err_detail, TEXT_BAD_UTF8);
}

static void say_bad_text_from_stranger_dropped(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), x = local(6666);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	/* Strangers are never told anything, however bad their text. */
	say(r, &x, "alice", "\x1b[2J", 5, &o);
	assert_dropped(&o, DROP_NOT_MEMBER);
}

static void say_refreshes_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "alice", "hi", 777, &o);
	assert_int_equal(find(r, "alice")->last_heard, 777);
}

/* room_say: flood control (THREATS.md S6: relayed <= burst + rate x time) */

/* A say that must be relayed: an event naming the sender, its text, nothing back. */
static void assert_relayed(const struct outcome *o, const struct room *r, const char *name,
                           const char *text)
{
	assert_int_equal(o->drop, DROP_NONE);
	assert_int_equal(o->reply, REPLY_NONE);
	assert_int_equal(o->has_event, 1);
	assert_int_equal(o->event, EV_SAY);
	assert_string_equal(o->name, name);
	assert_int_equal(o->text_len, strlen(text));
	assert_memory_equal(o->text, text, strlen(text));
	assert_ptr_equal(o->exclude, find(r, name));
}

static void say_past_burst_refused(void **state)
{
	struct room *r = new_flood_room(3, 3, 1);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;
	int i;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	for (i = 0; i < 3; i++) {
		say(r, &a, "alice", "burst", 10, &o);
		assert_relayed(&o, r, "alice", "burst");
	}
	/* The fourth at the same moment: refused to alice alone, relayed to nobody. */
	for (i = 0; i < 5; i++) {
		say(r, &a, "alice", "one too many", 10, &o);
		assert_refused(&o, &a, QERR_FLOOD, 1);
	}
	/* The bucket is alice's: bob still has his whole burst, and alice is still a member. */
	for (i = 0; i < 3; i++) {
		say(r, &b, "bob", "mine", 10, &o);
		assert_relayed(&o, r, "bob", "mine");
	}
	assert_int_equal(room_count(r), 2);
	assert_non_null(find(r, "alice"));
}

static void say_tokens_return_with_rate(void **state)
{
	struct room *r = new_flood_room(3, 2, 2); /* 2 at once, then one per 500 ms */
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	say(r, &a, "alice", "1", 1000, &o);
	assert_relayed(&o, r, "alice", "1");
	say(r, &a, "alice", "2", 1000, &o);
	assert_relayed(&o, r, "alice", "2");
	say(r, &a, "alice", "3", 1000, &o);
	assert_refused(&o, &a, QERR_FLOOD, 1);
	/* 499 ms later not quite one token; at 500 ms exactly one. */
	say(r, &a, "alice", "4", 1499, &o);
	assert_refused(&o, &a, QERR_FLOOD, 1);
	say(r, &a, "alice", "5", 1500, &o);
	assert_relayed(&o, r, "alice", "5");
	say(r, &a, "alice", "6", 1500, &o);
	assert_refused(&o, &a, QERR_FLOOD, 1);
	/* A long silence refills the bucket to the burst, never past it. */
	say(r, &a, "alice", "7", 600000, &o);
	assert_relayed(&o, r, "alice", "7");
	say(r, &a, "alice", "8", 600000, &o);
	assert_relayed(&o, r, "alice", "8");
	say(r, &a, "alice", "9", 600000, &o);
	assert_refused(&o, &a, QERR_FLOOD, 1);
}

static void say_unlimited_without_burst(void **state)
{
	struct room *r = new_flood_room(3, 0, 0); /* flood control off */
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;
	int i;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	for (i = 0; i < 1000; i++) {
		say(r, &a, "alice", "again", 0, &o);
		assert_relayed(&o, r, "alice", "again");
	}
}

/* room_quit */

static void quit_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	quit(r, &a, "alice", 5, &o);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_int_equal(addr_equal(&o.reply_to, &a), 1);
	assert_int_equal(o.reply_to_member, 1);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_LEAVE);
	assert_string_equal(o.name, "alice");
}

static void quit_removes_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	quit(r, &a, "alice", 5, &o);
	assert_int_equal(room_count(r), 1);
	assert_null(find(r, "alice"));
	assert_null(room_find_addr(r, &a));
	assert_non_null(find(r, "bob"));
	assert_ptr_equal(room_find_addr(r, &b), find(r, "bob"));
}

static void quit_frees_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	quit(r, &a, "alice", 5, &o);
	join(r, &b, "ALICE", 6, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 1);
	assert_ptr_equal(room_find_addr(r, &b), find(r, "alice"));
}

static void quit_frees_address(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	quit(r, &a, "alice", 5, &o);
	join(r, &a, "bob", 6, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_ptr_equal(room_find_addr(r, &a), find(r, "bob"));
}

static void quit_last_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	quit(r, &a, "alice", 5, &o);
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_int_equal(room_count(r), 0);
	assert_int_equal(room_next_expiry(r, 5), UINT64_MAX);
}

static void quit_forged_by_stranger(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), x = local(6666);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	quit(r, &x, "alice", 5, &o);
	assert_dropped(&o, DROP_NOT_MEMBER);
	assert_int_equal(room_count(r), 1);
	assert_ptr_equal(room_find_addr(r, &a), find(r, "alice"));
}

static void quit_forged_by_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	quit(r, &b, "alice", 5, &o);
	assert_dropped(&o, DROP_WRONG_NAME);
	assert_int_equal(room_count(r), 2);
	assert_ptr_equal(room_find_addr(r, &a), find(r, "alice"));
	assert_ptr_equal(room_find_addr(r, &b), find(r, "bob"));
}

/* room_ping */

static void ping_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	const struct member *m;
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &a, "alice", 250, &o);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_NONE);
	assert_int_equal(o.has_event, 0);
	m = find(r, "alice");
	assert_int_equal(m->keepalive, 1);
	assert_int_equal(m->last_heard, 250);
}

static void ping_from_stranger(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), x = local(6666);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &x, "alice", 250, &o);
	assert_dropped(&o, DROP_NOT_MEMBER);
	assert_int_equal(find(r, "alice")->keepalive, 0);
	assert_int_equal(find(r, "alice")->last_heard, 0);
}

static void ping_wrong_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	ping(r, &b, "alice", 250, &o);
	assert_dropped(&o, DROP_WRONG_NAME);
	assert_int_equal(find(r, "alice")->keepalive, 0);
	assert_int_equal(find(r, "alice")->last_heard, 0);
}

/* room_expire */

static void expire_nothing_due(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	assert_int_equal(expire(r, 0, &o), 0);
	must_join(r, &a, "alice", 0);
	assert_int_equal(expire(r, 0, &o), 0);
	assert_int_equal(room_count(r), 1);
}

static void expire_keepalive_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	ping(r, &a, "alice", 100, &o);
	ping(r, &b, "bob", 100 + KEEPALIVE, &o);
	assert_int_equal(expire(r, 100 + KEEPALIVE - 1, &o), 0);
	assert_int_equal(room_count(r), 2);
	assert_int_equal(expire(r, 100 + KEEPALIVE + 1, &o), 1);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_TIMEOUT);
	assert_string_equal(o.name, "alice");
	assert_int_equal(room_count(r), 1);
	assert_null(find(r, "alice"));
	assert_null(room_find_addr(r, &a));
	assert_int_equal(expire(r, 100 + KEEPALIVE + 1, &o), 0);
}

static void expire_idle_member(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	/* Never sent P: the keepalive timeout does not apply. */
	assert_int_equal(expire(r, KEEPALIVE + 1, &o), 0);
	assert_int_equal(expire(r, IDLE - 1, &o), 0);
	assert_int_equal(room_count(r), 1);
	assert_int_equal(expire(r, IDLE + 1, &o), 1);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_TIMEOUT);
	assert_string_equal(o.name, "alice");
	assert_int_equal(room_count(r), 0);
	assert_int_equal(expire(r, IDLE + 1, &o), 0);
}

static void expire_sends_exit_to_evicted(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	/* room.h: a TIMEOUT event for the others and EXIT for the evicted address. */
	must_join(r, &a, "alice", 0);
	assert_int_equal(expire(r, IDLE + 1, &o), 1);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_TIMEOUT);
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_true(addr_equal(&o.reply_to, &a));
	assert_null(o.exclude);
}

static void expire_ping_refreshes(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &a, "alice", 0, &o);
	ping(r, &a, "alice", 800, &o);
	assert_int_equal(expire(r, KEEPALIVE + 500, &o), 0);
	assert_int_equal(expire(r, 800 + KEEPALIVE + 1, &o), 1);
}

static void expire_say_refreshes(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	say(r, &a, "alice", "still here", 9000, &o);
	assert_int_equal(expire(r, IDLE + 1, &o), 0);
	assert_int_equal(expire(r, 9000 + IDLE + 1, &o), 1);
}

static void expire_login_again_refreshes(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &a, "alice", 9000, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(expire(r, IDLE + 1, &o), 0);
	assert_int_equal(expire(r, 9000 + IDLE + 1, &o), 1);
}

static void expire_forged_ping_does_not_refresh(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), x = local(6666);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &a, "alice", 0, &o);
	ping(r, &x, "alice", 900, &o);
	assert_int_equal(expire(r, KEEPALIVE + 1, &o), 1);
}

static void expire_one_at_a_time(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002);
	struct outcome o;
	int gone = 0;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	must_join(r, &c, "carol", IDLE);
	while (expire(r, IDLE + 1, &o) == 1) {
		assert_int_equal(o.event, EV_TIMEOUT);
		assert_true(strcmp(o.name, "alice") == 0 || strcmp(o.name, "bob") == 0);
		assert_true(++gone <= 2);
	}
	assert_int_equal(gone, 2);
	assert_int_equal(room_count(r), 1);
	assert_non_null(find(r, "carol"));
}

/* room_next_expiry */

static void next_expiry_empty(void **state)
{
	struct room *r = new_room(3);

	(void)state;
	assert_int_equal(room_next_expiry(r, 12345), UINT64_MAX);
}

static void next_expiry_idle(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_in_range(room_next_expiry(r, 0), IDLE, IDLE + 1);
	assert_in_range(room_next_expiry(r, 4000), IDLE - 4000, IDLE - 4000 + 1);
}

static void next_expiry_keepalive(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &a, "alice", 100, &o);
	assert_in_range(room_next_expiry(r, 100), KEEPALIVE, KEEPALIVE + 1);
}

static void next_expiry_earliest(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	ping(r, &b, "bob", 500, &o);
	assert_in_range(room_next_expiry(r, 500), KEEPALIVE, KEEPALIVE + 1);
}

static void next_expiry_overdue(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_int_equal(room_next_expiry(r, IDLE + 500), 0);
}

static void next_expiry_after_expire(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	ping(r, &a, "alice", 0, &o);
	must_join(r, &b, "bob", 0);
	assert_int_equal(expire(r, KEEPALIVE + 1, &o), 1);
	assert_string_equal(o.name, "alice");
	assert_in_range(room_next_expiry(r, KEEPALIVE + 1), IDLE - KEEPALIVE - 1, IDLE - KEEPALIVE);
}

/* room_kick */

static void kick_ok(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	assert_int_not_equal(kick(r, "alice", &o), -1);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_int_equal(addr_equal(&o.reply_to, &a), 1);
	assert_int_equal(o.reply_to_member, 1);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_KICK);
	assert_string_equal(o.name, "alice");
	assert_int_equal(room_count(r), 1);
	assert_null(find(r, "alice"));
	assert_null(room_find_addr(r, &a));
}

static void kick_missing(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_int_equal(kick(r, "bob", &o), -1);
	assert_int_equal(o.reply, REPLY_NONE);
	assert_int_equal(o.has_event, 0);
	assert_int_equal(room_count(r), 1);
}

static void kick_empty_room(void **state)
{
	struct room *r = new_room(3);
	struct outcome o;

	(void)state;
	assert_int_equal(kick(r, "alice", &o), -1);
	assert_int_equal(o.reply, REPLY_NONE);
}

static void kick_frees_name(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_int_not_equal(kick(r, "alice", &o), -1);
	join(r, &b, "alice", 1, &o);
	assert_int_equal(o.reply, REPLY_OK);
}

/* room_admin */

static void admin_event(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001);
	const char *text = "server restarts at noon";
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	memset(&o, 0xA5, sizeof(o));
	room_admin(r, text, strlen(text), &o);
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_NONE);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(o.event, EV_ADMIN);
	assert_ptr_equal(o.text, text);
	assert_int_equal(o.text_len, strlen(text));
	assert_null(o.exclude);
	assert_int_equal(room_count(r), 2);
}

/* Lookups and iteration */

static void find_name_normalised(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);
	const struct member *m;

	(void)state;
	must_join(r, &a, "Alice", 0);
	m = find(r, "Alice");
	assert_non_null(m);
	assert_ptr_equal(find(r, "alice"), m);
	assert_ptr_equal(find(r, "ALICE"), m);
	assert_ptr_equal(find(r, "Ａｌｉｃｅ"), m);
	assert_null(find(r, "alic"));
	assert_null(find(r, "alicea"));
}

static void find_name_uses_length(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000);

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_ptr_equal(room_find_name(r, "alice and more", 5), find(r, "alice"));
	assert_null(room_find_name(r, "alice", 4));
}

static void find_addr_port_matters(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), a2 = local(5001), other = ip4(0x7F000002, 5000);
	struct peer_addr a6 = local_mapped(5000);

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_null(room_find_addr(r, &a2));
	assert_null(room_find_addr(r, &other));
	assert_ptr_equal(room_find_addr(r, &a6), find(r, "alice"));
}

static void iterate_members(void **state)
{
	struct room *r = new_room(3);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002);
	struct outcome o;
	int seen_alice = 0, seen_carol = 0;
	size_t i;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	must_join(r, &c, "carol", 0);
	quit(r, &b, "bob", 1, &o);
	assert_int_equal(room_count(r), 2);
	for (i = 0; i < room_count(r); i++) {
		const struct member *m = room_member(r, i);

		assert_non_null(m);
		if (strcmp(m->name, "alice") == 0)
			seen_alice++;
		else if (strcmp(m->name, "carol") == 0)
			seen_carol++;
		else
			fail_msg("unexpected member %s", m->name);
	}
	assert_int_equal(seen_alice, 1);
	assert_int_equal(seen_carol, 1);
}

/* Many members: the tables grow, shrink and keep every entry findable. */

#define MANY 1000

static struct peer_addr many_addr(int i)
{
	return ip4(0x0A000000 + (uint32_t)i * 7919u, (uint16_t)(20000 + i));
}

static void many_name(char *buf, size_t size, int i)
{
	int n = snprintf(buf, size, "user%04d", i);

	assert_true(n > 0 && (size_t)n < size);
}

static void many_join(struct room *r)
{
	char name[16];
	int i;

	for (i = 0; i < MANY; i++) {
		struct peer_addr a = many_addr(i);

		many_name(name, sizeof(name), i);
		must_join(r, &a, name, (uint64_t)i);
	}
	assert_int_equal(room_count(r), MANY);
}

/* Check that exactly the odd members (and the even ones iff evens) are present. */
static void many_check(const struct room *r, int evens)
{
	char name[16], upper[16];
	int i;

	for (i = 0; i < MANY; i++) {
		struct peer_addr a = many_addr(i);
		const struct member *m;
		int present = (i % 2) || evens;

		many_name(name, sizeof(name), i);
		snprintf(upper, sizeof(upper), "USER%04d", i);
		m = find(r, name);
		if (!present) {
			assert_null(m);
			assert_null(room_find_addr(r, &a));
			continue;
		}
		assert_non_null(m);
		assert_string_equal(m->name, name);
		assert_int_equal(addr_equal(&m->addr, &a), 1);
		assert_ptr_equal(room_find_addr(r, &a), m);
		assert_ptr_equal(find(r, upper), m);
	}
}

static void many_members_lookup(void **state)
{
	struct room *r = new_room(2 * MANY);

	(void)state;
	many_join(r);
	many_check(r, 1);
}

static void many_members_remove_half(void **state)
{
	struct room *r = new_room(2 * MANY);
	char name[16];
	struct outcome o;
	int i;

	(void)state;
	many_join(r);
	for (i = 0; i < MANY; i += 2) {
		struct peer_addr a = many_addr(i);

		many_name(name, sizeof(name), i);
		quit(r, &a, name, 5000, &o);
		assert_int_equal(o.reply, REPLY_EXIT);
	}
	assert_int_equal(room_count(r), MANY / 2);
	many_check(r, 0);
}

static void many_members_iterate(void **state)
{
	struct room *r = new_room(2 * MANY);
	static unsigned char seen[MANY];
	char name[16];
	struct outcome o;
	size_t i;
	int k;

	(void)state;
	many_join(r);
	for (k = 0; k < MANY; k += 2) {
		many_name(name, sizeof(name), k);
		assert_int_not_equal(kick(r, name, &o), -1);
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < room_count(r); i++) {
		const struct member *m = room_member(r, i);

		assert_non_null(m);
		assert_int_equal(sscanf(m->name, "user%d", &k), 1);
		assert_in_range(k, 0, MANY - 1);
		assert_int_equal(k % 2, 1);
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
	}
	assert_int_equal(i, MANY / 2);
}

static void many_members_rejoin(void **state)
{
	struct room *r = new_room(2 * MANY);
	char name[16];
	struct outcome o;
	int i;

	(void)state;
	many_join(r);
	for (i = 0; i < MANY; i += 2) {
		struct peer_addr a = many_addr(i);

		many_name(name, sizeof(name), i);
		quit(r, &a, name, 5000, &o);
	}
	/* The freed names and addresses can be taken again, and the others still work. */
	for (i = 0; i < MANY; i += 2) {
		struct peer_addr a = many_addr(i);

		many_name(name, sizeof(name), i);
		must_join(r, &a, name, 6000);
	}
	assert_int_equal(room_count(r), MANY);
	many_check(r, 1);
}

static void many_members_expire(void **state)
{
	struct room *r = new_room(2 * MANY);
	struct outcome o;
	int n = 0;

	(void)state;
	many_join(r);
	/* Member i joined at time i, so at IDLE + MANY / 2 the first half have expired. */
	while (expire(r, IDLE + MANY / 2, &o) == 1)
		n++;
	assert_in_range(n, MANY / 2 - 1, MANY / 2 + 1);
	assert_int_equal(room_count(r), (size_t)(MANY - n));
	assert_non_null(find(r, "user0999"));
	assert_null(find(r, "user0000"));
}

/* reply_to_member, the flag that decides whether a refusal may be larger than the request */

static void reply_to_member_flags(void **state)
{
	struct room *r = new_room(2);
	struct peer_addr a = local(5000), b = local(5001), x = local(6666);
	struct outcome o;

	(void)state;
	join(r, &a, "alice", 0, &o); /* accepted: now a member */
	assert_int_equal(o.reply_to_member, 1);
	join(r, &x, "alice", 0, &o); /* taken, stranger */
	assert_int_equal(o.reply_to_member, 0);
	join(r, &x, "admin", 0, &o); /* invalid, stranger */
	assert_int_equal(o.reply_to_member, 0);
	join(r, &a, "alicia", 0, &o); /* other name, member */
	assert_int_equal(o.reply_to_member, 1);
	must_join(r, &b, "bob", 0);
	join(r, &x, "xavier", 0, &o); /* full, stranger */
	assert_int_equal(o.reply_to_member, 0);
	say(r, &a, "alice", "\x7f", 0, &o); /* bad text, member */
	assert_int_equal(o.reply_to_member, 1);
	quit(r, &a, "alice", 0, &o); /* was a member */
	assert_int_equal(o.reply_to_member, 1);
	assert_int_not_equal(kick(r, "bob", &o), -1); /* was a member */
	assert_int_equal(o.reply_to_member, 1);
}

/* room_who: who may ask, and what it costs. */

static const struct member *who(struct room *r, const struct peer_addr *a, const char *name,
                                uint64_t now, struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	return room_who(r, a, name, strlen(name), 1, now, o);
}

static void who_from_member(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(1000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_ptr_equal(who(r, &a, "Alice", 10, &o), find(r, "alice"));
	assert_int_equal(o.drop, DROP_NONE);
	assert_int_equal(o.reply, REPLY_NONE);
	assert_int_equal(o.has_event, 0);
}

static void who_from_stranger_dropped(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(1000), b = local(1001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_null(who(r, &b, "alice", 10, &o));
	assert_dropped(&o, DROP_NOT_MEMBER);
}

static void who_naming_another_dropped(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(1000), b = local(1001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &b, "bob", 0);
	assert_null(who(r, &a, "bob", 10, &o));
	assert_dropped(&o, DROP_WRONG_NAME);
}

static void who_costs_a_flood_token(void **state)
{
	struct room *r = new_flood_room(8, 2, 1);
	struct peer_addr a = local(1000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	assert_non_null(who(r, &a, "alice", 10, &o));
	assert_non_null(who(r, &a, "alice", 10, &o));
	assert_null(who(r, &a, "alice", 10, &o));
	assert_refused(&o, &a, QERR_FLOOD, 1);
	assert_non_null(who(r, &a, "alice", 1100, &o)); /* a second later: one token more */
	assert_null(who(r, &a, "alice", 1100, &o));
	/* v1's requests for a later part take none: still answered, bucket empty. */
	memset(&o, 0xA5, sizeof(o));
	assert_non_null(room_who(r, &a, "alice", 5, 0, 1100, &o));
	assert_int_equal(o.reply, REPLY_NONE);
}

/* ---- the per-address cap counts networks (THREATS.md S7, issue 17 item 5) ---- */

/* A room from a whole configuration; timeouts default to KEEPALIVE and IDLE. */
static struct room *new_room_cfg(struct room_config cfg)
{
	struct room *r;

	assert_null(current);
	if (cfg.keepalive_timeout == 0)
		cfg.keepalive_timeout = KEEPALIVE;
	if (cfg.idle_timeout == 0)
		cfg.idle_timeout = IDLE;
	r = room_new(&cfg, hash_key);
	assert_non_null(r);
	current = r;
	return r;
}

static struct room *new_capped_room(size_t max_members, size_t per_address, unsigned v4,
                                    unsigned v6)
{
	struct room_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_members = max_members;
	cfg.max_per_address = per_address;
	cfg.prefix_v4 = v4;
	cfg.prefix_v6 = v6;
	return new_room_cfg(cfg);
}

static struct peer_addr ip6(const char *ip, uint16_t port)
{
	struct peer_addr a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
	a.len = sizeof(*sin6);
	return a;
}

/* The address ::i in the /64 number net of 2001:db8::/32. */
static struct peer_addr in_net64(unsigned net, unsigned i, uint16_t port)
{
	char ip[64];

	snprintf(ip, sizeof(ip), "2001:db8:%x:%x::%x", net >> 16, net & 0xffff, i + 1);
	return ip6(ip, port);
}

/* Join as PREFIXi-j. */
static void join_named(struct room *r, const struct peer_addr *a, const char *prefix, unsigned i,
                       unsigned j, struct outcome *o)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%u-%u", prefix, i, j);
	join(r, a, name, 0, o);
}

/* Issue 17's attack: 40 addresses of one /64 each try; eight get in, another /64 still does. */
static void per_address_ipv6_counts_by_64(void **state)
{
	struct room *r = new_capped_room(100, 8, 0, 0); /* 0: the defaults, /32 and /64 */
	struct outcome o;
	unsigned i, in = 0;

	(void)state;
	for (i = 0; i < 40; i++) {
		struct peer_addr a = in_net64(0x17, i * 97, 5000);

		join_named(r, &a, "six", i, 0, &o);
		if (o.reply == REPLY_OK)
			in++;
		else
			assert_refused(&o, &a, QERR_TOO_MANY, 0);
	}
	assert_int_equal(in, 8);
	assert_int_equal(room_count(r), 8);
	{
		struct peer_addr other = in_net64(0x18, 0, 5000);

		must_join(r, &other, "other", 0);
	}
}

static void per_address_ipv4_counts_by_32(void **state)
{
	struct room *r = new_capped_room(100, 8, 0, 0);
	struct peer_addr b = ip4(0x0A000002, 5000);
	struct outcome o;
	unsigned i;

	(void)state;
	for (i = 0; i < 8; i++) {
		struct peer_addr a = ip4(0x0A000001, (uint16_t)(5000 + i));

		join_named(r, &a, "p", i, 0, &o);
		assert_int_equal(o.reply, REPLY_OK);
	}
	{
		struct peer_addr a = ip4(0x0A000001, 6000);

		join(r, &a, "ninth", 0, &o);
		assert_refused(&o, &a, QERR_TOO_MANY, 0);
	}
	must_join(r, &b, "next-door", 0); /* 10.0.0.2: another /32 */
}

static void per_address_ipv4_prefix_24(void **state)
{
	struct room *r = new_capped_room(100, 3, 24, 0);
	struct peer_addr a = ip4(0x0A000001, 1), b = ip4(0x0A0000FE, 1), c = ip4(0x0A000010, 1),
	                 d = ip4(0x0A000011, 1), e = ip4(0x0A000101, 1);
	struct outcome o;

	(void)state;
	must_join(r, &a, "a", 0);
	must_join(r, &b, "b", 0);
	must_join(r, &c, "c", 0);
	join(r, &d, "d", 0, &o); /* 10.0.0.17: the same /24 */
	assert_refused(&o, &d, QERR_TOO_MANY, 0);
	must_join(r, &e, "e", 0); /* 10.0.1.1 */
}

static void per_address_ipv6_prefix_128(void **state)
{
	struct room *r = new_capped_room(100, 2, 0, 128);
	struct outcome o;
	unsigned i;

	(void)state;
	/* Every address its own: nine of one /64 all get in, two ports of one address only. */
	for (i = 0; i < 9; i++) {
		struct peer_addr a = in_net64(1, i, 5000);

		join_named(r, &a, "x", i, 0, &o);
		assert_int_equal(o.reply, REPLY_OK);
	}
	{
		struct peer_addr a = in_net64(1, 0, 5001), b = in_net64(1, 0, 5002);

		must_join(r, &a, "second-port", 0);
		join(r, &b, "third-port", 0, &o);
		assert_refused(&o, &b, QERR_TOO_MANY, 0);
	}
}

static void per_address_mapped_is_the_ipv4_address(void **state)
{
	struct room *r = new_capped_room(100, 2, 0, 0);
	struct peer_addr a = local(5000), m = local_mapped(5001), x = local(5002);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	must_join(r, &m, "mapped", 0);
	join(r, &x, "third", 0, &o);
	assert_refused(&o, &x, QERR_TOO_MANY, 0);
}

/* A place comes back however a member goes: quit, kick, timeout, eviction. */
static void per_address_place_returns(void **state)
{
	struct room *r = new_capped_room(100, 2, 0, 0);
	struct peer_addr a = in_net64(5, 1, 1), b = in_net64(5, 2, 1), c = in_net64(5, 3, 1);
	struct outcome o;

	(void)state;
	must_join(r, &a, "a", 0);
	must_join(r, &b, "b", 0);
	join(r, &c, "c", 0, &o);
	assert_refused(&o, &c, QERR_TOO_MANY, 0);
	quit(r, &a, "a", 0, &o);
	must_join(r, &c, "c", 0);
	assert_int_not_equal(kick(r, "b", &o), -1);
	must_join(r, &a, "a", 0);
	assert_int_equal(expire(r, IDLE, &o), 1); /* c or a, both joined at 0 */
	assert_int_equal(expire(r, IDLE, &o), 1);
	assert_int_equal(room_count(r), 0);
	must_join(r, &b, "b", IDLE);
	must_join(r, &c, "c", IDLE);
	room_evict(r, find(r, "b"), &o);
	must_join(r, &a, "a", IDLE);
}

/* Many networks: the table grows, loses entries and is rebuilt, and keeps every count right. */
static void per_address_many_networks(void **state)
{
	enum { NETS = 1500, CAP = 2 };
	struct room *r = new_capped_room(NETS * CAP + 10, CAP, 0, 0);
	struct outcome o;
	unsigned n, i;

	(void)state;
	for (n = 0; n < NETS; n++)
		for (i = 0; i < CAP; i++) {
			struct peer_addr a = in_net64(n, i, 7000);

			join_named(r, &a, "n", n, i, &o);
			assert_int_equal(o.reply, REPLY_OK);
		}
	assert_int_equal(room_count(r), NETS * CAP);
	for (n = 0; n < NETS; n++) {
		struct peer_addr a = in_net64(n, 99, 7000);

		join_named(r, &a, "extra", n, 0, &o);
		assert_refused(&o, &a, QERR_TOO_MANY, 0);
	}
	/* Empty the even networks (whole entries go), one member of each odd one leaves. */
	for (n = 0; n < NETS; n++)
		for (i = 0; i < (n % 2 ? 1u : (unsigned)CAP); i++) {
			struct peer_addr a = in_net64(n, i, 7000);
			char name[32];

			snprintf(name, sizeof(name), "n%u-%u", n, i);
			quit(r, &a, name, 0, &o);
			assert_int_equal(o.reply, REPLY_EXIT);
		}
	for (n = 0; n < NETS; n++) {
		struct peer_addr a = in_net64(n, 50, 7000), b = in_net64(n, 51, 7000),
		                 c = in_net64(n, 52, 7000);

		join_named(r, &a, "back", n, 0, &o);
		assert_int_equal(o.reply, REPLY_OK);
		join_named(r, &b, "back", n, 1, &o);
		if (n % 2) {
			assert_refused(&o, &b, QERR_TOO_MANY, 0);
			continue;
		}
		assert_int_equal(o.reply, REPLY_OK);
		join_named(r, &c, "back", n, 2, &o);
		assert_refused(&o, &c, QERR_TOO_MANY, 0);
	}
}

static void per_address_rebind(void **state)
{
	struct room *r = new_capped_room(100, 2, 0, 0);
	struct peer_addr a = in_net64(1, 1, 1), b = in_net64(1, 2, 1), c = in_net64(2, 1, 1),
	                 a2 = in_net64(1, 3, 1), c2 = in_net64(2, 2, 1), x = in_net64(1, 4, 1);
	struct outcome o;

	(void)state;
	must_join(r, &a, "a", 0);
	must_join(r, &b, "b", 0);
	must_join(r, &c, "c", 0);
	/* Within its own network, a member may move even when it is full. */
	assert_int_equal(room_rebind(r, find(r, "a"), &a2), 0);
	/* Into a full network it may not: that is one more from there. */
	assert_int_equal(room_rebind(r, find(r, "c"), &x), -1);
	assert_ptr_equal(room_find_addr(r, &c), find(r, "c"));
	/* Out of a full network it may, and leaves a place behind. */
	assert_int_equal(room_rebind(r, find(r, "b"), &c2), 0);
	must_join(r, &x, "x", 0);
	join(r, &b, "late", 0, &o);
	assert_refused(&o, &b, QERR_TOO_MANY, 0);
}

/* Forged v1 logins from an address must not keep its v2 clients out: two counts. */
static void per_address_v1_and_v2_apart(void **state)
{
	struct room *r = new_capped_room(100, 2, 0, 0);
	struct peer_addr a = local(1), b = local(2), c = local(3), d = local(4), e = local(5);
	struct outcome o;

	(void)state;
	memset(&o, 0, sizeof(o));
	room_join_v1(r, &a, "v1a", 3, 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	room_join_v1(r, &b, "v1b", 3, 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	room_join_v1(r, &c, "v1c", 3, 0, &o);
	assert_refused(&o, &c, QERR_TOO_MANY, 0);
	must_join(r, &c, "v2c", 0);
	room_attach(r, find(r, "v2c"), 2, NULL);
	must_join(r, &d, "v2d", 0);
	room_attach(r, find(r, "v2d"), 2, NULL);
	join(r, &e, "v2e", 0, &o);
	assert_refused(&o, &e, QERR_TOO_MANY, 0);
	/* A v1 member leaving frees a v1 place, not a v2 one. */
	quit(r, &a, "v1a", 0, &o);
	join(r, &e, "v2e", 0, &o);
	assert_refused(&o, &e, QERR_TOO_MANY, 0);
	room_join_v1(r, &e, "v1e", 3, 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
}

static void per_address_unbound_cap_counts_nothing(void **state)
{
	/* A cap of max_members or more cannot bind: nothing counted, nobody refused for it. */
	struct room *r = new_capped_room(4, 4, 0, 0);
	unsigned i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct peer_addr a = local((uint16_t)(100 + i));
		struct outcome o;

		join_named(r, &a, "u", i, 0, &o);
		assert_int_equal(o.reply, REPLY_OK);
	}
}

/* ---- protocol v1 contained (THREATS.md S5, issue 17 item 6) ---- */

static void join1(struct room *r, const struct peer_addr *a, const char *name, uint64_t now,
                  struct outcome *o)
{
	memset(o, 0xA5, sizeof(*o));
	room_join_v1(r, a, name, strlen(name), now, o);
}

static void must_join1(struct room *r, const struct peer_addr *a, const char *name, uint64_t now)
{
	struct outcome o;

	join1(r, a, name, now, &o);
	assert_int_equal(o.reply, REPLY_OK);
}

static struct room *new_v1_room(size_t max_v1, unsigned burst, unsigned rate, uint64_t timeout)
{
	struct room_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_members = 1000;
	cfg.max_v1 = max_v1;
	cfg.v1_login_burst = burst;
	cfg.v1_login_rate = rate;
	cfg.v1_login_timeout = timeout;
	return new_room_cfg(cfg);
}

static void v1_join_is_proto_1(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 0);
	struct peer_addr a = local(1);
	struct outcome o;

	(void)state;
	join1(r, &a, "alice", 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 1);
	assert_int_equal(find(r, "alice")->proto, 1);
	assert_int_equal(find(r, "alice")->keepalive, 0);
	assert_int_equal(room_count_v1(r), 1);
}

static void v1_cap(void **state)
{
	struct room *r = new_v1_room(3, 0, 0, 0);
	struct peer_addr a = local(1), b = local(2), c = local(3), d = local(4), v = local(5);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "a", 0);
	must_join1(r, &b, "b", 0);
	must_join1(r, &c, "c", 0);
	join1(r, &d, "d", 0, &o);
	assert_refused(&o, &d, QERR_V1_BUSY, 0);
	assert_int_equal(room_count_v1(r), 3);
	/* v2 logins are not v1's: they still get in. */
	must_join(r, &v, "v2member", 0);
	room_attach(r, find(r, "v2member"), 2, NULL);
	assert_int_equal(room_count_v1(r), 3);
	/* A v1 member's retry after a lost OK is no new member. */
	join1(r, &a, "a", 0, &o);
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 0);
	quit(r, &a, "a", 0, &o);
	assert_int_equal(room_count_v1(r), 2);
	must_join1(r, &d, "d", 0);
}

static void v1_cap_counts_every_way_out(void **state)
{
	struct room *r = new_v1_room(2, 0, 0, 0);
	struct peer_addr a = local(1), b = local(2), c = local(3);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "a", 0);
	must_join1(r, &b, "b", 0);
	assert_int_not_equal(kick(r, "a", &o), -1);
	assert_int_equal(room_count_v1(r), 1);
	room_evict(r, find(r, "b"), &o);
	assert_int_equal(room_count_v1(r), 0);
	must_join1(r, &a, "a", 0);
	must_join1(r, &b, "b", 0);
	while (expire(r, IDLE, &o) == 1)
		;
	assert_int_equal(room_count_v1(r), 0);
	must_join1(r, &c, "c", IDLE);
}

static void v1_rate_per_network(void **state)
{
	struct room *r = new_v1_room(0, 2, 1, 0);
	struct peer_addr a = ip4(0x0A000001, 1), b = ip4(0x0A000002, 1), c = ip4(0x0A0000FE, 1),
	                 d = ip4(0x0A000101, 1), e = ip4(0x0A000003, 1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "a", 0);
	must_join1(r, &b, "b", 0);
	join1(r, &c, "c", 0, &o); /* the third from 10.0.0.0/24 at once */
	assert_refused(&o, &c, QERR_V1_BUSY, 0);
	must_join1(r, &d, "d", 0); /* 10.0.1.1: another /24 */
	join1(r, &c, "c", 999, &o);
	assert_refused(&o, &c, QERR_V1_BUSY, 0);
	must_join1(r, &c, "c", 1000); /* a token a second */
	join1(r, &e, "e", 1000, &o);
	assert_refused(&o, &e, QERR_V1_BUSY, 0);
}

static void v1_rate_per_network_ipv6_64(void **state)
{
	struct room *r = new_v1_room(0, 1, 1, 0);
	struct peer_addr a = in_net64(9, 1, 1), b = in_net64(9, 2, 1), c = in_net64(10, 1, 1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "a", 0);
	join1(r, &b, "b", 0, &o);
	assert_refused(&o, &b, QERR_V1_BUSY, 0);
	must_join1(r, &c, "c", 0);
}

static void v1_rate_in_total(void **state)
{
	/* Per network 1 at once and 1/s; everyone together 4 at once and 4/s. */
	struct room *r = new_v1_room(0, 1, 1, 0);
	struct outcome o;
	unsigned i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct peer_addr a = ip4(0x0B000001 + (i << 8), 1);
		char name[16];

		snprintf(name, sizeof(name), "t%u", i);
		must_join1(r, &a, name, 0);
	}
	{
		struct peer_addr f = ip4(0x0C000001, 1), g = ip4(0x0C000101, 1);

		join1(r, &f, "fifth", 0, &o); /* a fresh /24, but the total is spent */
		assert_refused(&o, &f, QERR_V1_BUSY, 0);
		join1(r, &f, "fifth", 249, &o);
		assert_refused(&o, &f, QERR_V1_BUSY, 0);
		must_join1(r, &f, "fifth", 250); /* 4 a second in total */
		join1(r, &g, "sixth", 250, &o);
		assert_refused(&o, &g, QERR_V1_BUSY, 0);
	}
}

static void v1_refused_login_spends_no_token(void **state)
{
	struct room *r = new_v1_room(0, 1, 1, 0);
	struct peer_addr a = local(1), b = local(2);
	struct outcome o;
	int i;

	(void)state;
	must_join1(r, &a, "alice", 0);
	/* Refused for their names: no member made, no token spent (the next second's is there). */
	for (i = 0; i < 10; i++) {
		join1(r, &b, "alice", 1000, &o);
		assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
		join1(r, &b, "admin", 1000, &o);
		assert_refused(&o, &b, QERR_NAME_INVALID, 0);
	}
	must_join1(r, &b, "bob", 1000);
}

static void v1_refused_by_total_spends_no_network_token(void **state)
{
	struct room *r = new_v1_room(0, 1, 1, 0);
	struct peer_addr late = ip4(0x0D000001, 1);
	struct outcome o;
	unsigned i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct peer_addr a = ip4(0x0B000001 + (i << 8), 1);
		char name[16];

		snprintf(name, sizeof(name), "t%u", i);
		must_join1(r, &a, name, 0);
	}
	join1(r, &late, "late", 0, &o);
	assert_refused(&o, &late, QERR_V1_BUSY, 0);
	/* 250 ms later the total has a token again, and late's network never lost its own. */
	must_join1(r, &late, "late", 250);
}

static void v1_unproven_evicted_after_login_timeout(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 3000);
	struct peer_addr a = local(1), b = local(2);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "ghost", 0);
	must_join1(r, &b, "lesson", 0);
	say(r, &b, "lesson", "hi", 10, &o); /* spoke: a client is there, the idle timeout holds */
	assert_int_equal(o.has_event, 1);
	assert_int_equal(room_next_expiry(r, 0), 3000);
	assert_int_equal(expire(r, 2999, &o), 0);
	assert_int_equal(expire(r, 3000, &o), 1);
	assert_int_equal(o.event, EV_TIMEOUT);
	assert_string_equal(o.name, "ghost");
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_int_equal(expire(r, IDLE, &o), 0);
	assert_int_equal(expire(r, 10 + IDLE, &o), 1);
	assert_string_equal(o.name, "lesson");
}

static void v1_ping_keeps_member(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 3000);
	struct peer_addr a = local(1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "pinger", 0);
	ping(r, &a, "pinger", 2500, &o);
	assert_int_equal(find(r, "pinger")->keepalive, 1);
	ping(r, &a, "pinger", 3400, &o);
	assert_int_equal(expire(r, 4000, &o), 0); /* past the login timeout, within KEEPALIVE */
	assert_non_null(find(r, "pinger"));
	assert_int_equal(room_next_expiry(r, 4000), 3400 + KEEPALIVE - 4000);
	assert_int_equal(expire(r, 3400 + KEEPALIVE, &o), 1);
}

static void v1_who_and_relogin_do_not_prove(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 3000);
	struct peer_addr a = local(1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "ghost", 0);
	join1(r, &a, "ghost", 1000, &o); /* a retry: a sign of life, not of a client */
	assert_int_equal(o.reply, REPLY_OK);
	memset(&o, 0xA5, sizeof(o));
	assert_non_null(room_who(r, &a, "ghost", 5, 0, 2000, &o));
	assert_int_equal(expire(r, 4999, &o), 0);
	assert_int_equal(expire(r, 5000, &o), 1);
}

static void v1_refused_chat_does_not_prove(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 3000);
	struct peer_addr a = local(1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "ghost", 0);
	say(r, &a, "ghost", "\x01", 100, &o); /* refused to it, shown to nobody */
	assert_int_equal(o.reply, REPLY_ERR);
	assert_int_equal(expire(r, 3100, &o), 1);
}

static void v1_login_timeout_at_most_idle(void **state)
{
	struct room *r = new_v1_room(0, 0, 0, 0); /* 0: the idle timeout */
	struct peer_addr a = local(1);
	struct outcome o;

	(void)state;
	must_join1(r, &a, "ghost", 0);
	assert_int_equal(room_next_expiry(r, 0), IDLE);
	assert_int_equal(expire(r, IDLE - 1, &o), 0);
	assert_int_equal(expire(r, IDLE, &o), 1);
	free_room(NULL);
	r = new_v1_room(0, 0, 0, 10 * IDLE); /* longer than the idle timeout: the idle timeout */
	must_join1(r, &a, "ghost", 0);
	assert_int_equal(expire(r, IDLE, &o), 1);
}

static void v2_never_unproven(void **state)
{
	struct room *r = new_v1_room(1, 1, 1, 3000);
	struct peer_addr a = local(1), b = local(2), c = local(3);
	struct outcome o;

	(void)state;
	must_join1(r, &c, "v1", 0);
	must_join(r, &a, "v2a", 2500);
	room_attach(r, find(r, "v2a"), 2, NULL);
	must_join(r, &b, "v2b", 2500); /* neither the v1 cap nor the v1 rate applies */
	room_attach(r, find(r, "v2b"), 2, NULL);
	assert_int_equal(room_count_v1(r), 1);
	assert_int_equal(find(r, "v2a")->unproven, 0);
	assert_int_equal(expire(r, 3000, &o), 1);
	assert_string_equal(o.name, "v1");
	assert_int_equal(expire(r, 3000, &o), 0); /* v2 lives by KEEPALIVE from its last sign */
	assert_int_equal(room_next_expiry(r, 3000), 2500 + KEEPALIVE - 3000);
}

/* Look-alike names (issue 17): one member per confusable key (confusable.h). */

static void lookalike_of_member_refused(void **state)
{
	static const char *const fakes[] = {"\u0430lice", "alic\u0435", "𝐚𝐥𝐢𝐜𝐞", "a1ice",
	                                    "\u0430LICE"};
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;
	size_t i;

	(void)state;
	must_join(r, &a, "alice", 0);
	for (i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
		join(r, &b, fakes[i], 0, &o);
		assert_refused(&o, &b, QERR_NAME_INVALID, 0);
		assert_int_equal(o.err_detail, NAME_LOOKALIKE);
	}
	assert_int_equal(room_count(r), 1);
	assert_null(room_find_addr(r, &b));
}

/* Whichever came first holds the key. */
static void lookalike_first_holds_the_key(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "b\u03bfb", 0);
	join(r, &b, "bob", 0, &o);
	assert_refused(&o, &b, QERR_NAME_INVALID, 0);
	assert_int_equal(o.err_detail, NAME_LOOKALIKE);
	join(r, &b, "B\u03bfB", 0, &o); /* the holder's own name in other case: taken */
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
}

/* The same name in another form is taken, as before; a look-alike is not the same name. */
static void lookalike_taken_versus_lookalike(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &b, "ALICE", 0, &o);
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
	join(r, &b, "Ａｌｉｃｅ", 0, &o);
	assert_refused(&o, &b, QERR_NAME_TAKEN, 0);
	join(r, &b, "\u0430lice", 0, &o);
	assert_refused(&o, &b, QERR_NAME_INVALID, 0);
	assert_int_equal(o.err_detail, NAME_LOOKALIKE);
}

static void lookalike_of_reserved_refused(void **state)
{
	(void)state;
	assert_refused_name("\u0430dmin", NAME_RESERVED);
	assert_refused_name("\U0001d42c\U0001d432\U0001d42c\U0001d42d\U0001d41e\U0001d426",
	                    NAME_RESERVED); /* 𝐬𝐲𝐬𝐭𝐞𝐦 */
	assert_refused_name("r00t", NAME_RESERVED);
	assert_refused_name("\u2217", NAME_RESERVED); /* ∗ for * */
}

/* From alice's own address, a look-alike is another name, not a retry of hers. */
static void lookalike_from_own_address_is_other_name(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	join(r, &a, "\u0430lice", 10, &o);
	assert_refused(&o, &a, QERR_OTHER_NAME, 1);
	join(r, &a, "Alice", 10, &o); /* the retry after a lost OK still works */
	assert_int_equal(o.reply, REPLY_OK);
	assert_int_equal(o.has_event, 0);
	assert_string_equal(find(r, "alice")->name, "alice");
}

/* The key goes with the member: once alice has left, her look-alike may join. */
static void lookalike_free_after_leave(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001);
	struct outcome o;

	(void)state;
	must_join(r, &a, "alice", 0);
	quit(r, &a, "alice", 1, &o);
	assert_int_equal(o.reply, REPLY_EXIT);
	must_join(r, &b, "\u0430lice", 2);
	assert_string_equal(find(r, "alice")->name, "\u0430lice");
}

/*
 * The operator's kick and room_find_name go by key: "alice" finds аlice
 * when she is the one online, and the event carries her real name.
 */
static void kick_reaches_lookalike(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000);
	struct outcome o;

	(void)state;
	must_join(r, &a, "\u0430lice", 0);
	assert_ptr_equal(find(r, "alice"), find(r, "\u0430lice"));
	assert_int_not_equal(kick(r, "alice", &o), -1);
	assert_int_equal(o.reply, REPLY_EXIT);
	assert_string_equal(o.name, "\u0430lice");
	assert_int_equal(room_count(r), 0);
}

/* A member's three strings: the name, the normalised key, the confusable key. */
static void lookalike_keys_kept_apart(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001), c = local(5002);
	struct outcome o;

	(void)state;
	must_join(r, &a, "Emma", 0); /* all three differ: Emma, emma, ernrna */
	must_join(r, &b, "emily", 0);
	must_join(r, &c, "ZOE", 0);
	assert_string_equal(member_key(find(r, "emma")), "emma");
	assert_string_equal(find(r, "ERNRNA")->name, "Emma");
	assert_string_equal(member_key(find(r, "zoe")), "zoe");
	say(r, &a, "EMMA", "hi", 1, &o); /* v1's owner check is on the normalised key */
	assert_int_equal(o.has_event, 1);
	say(r, &a, "ernrna", "hi", 1, &o);
	assert_dropped(&o, DROP_WRONG_NAME);
}

/*
 * The budget of docs/PERFORMANCE.md: a name of up to 14 bytes that is its
 * own key and confusable key (the common case) stays in one 128-byte
 * malloc chunk; the confusable key costs one byte ("" after the name).
 */
static void lookalike_key_memory(void **state)
{
	struct room *r = new_room(8);
	struct peer_addr a = local(5000), b = local(5001);

	(void)state;
	must_join(r, &a, "abcdefghijklno", 0); /* 14 bytes, no m: its own key throughout */
	assert_true(malloc_usable_size((void *)(uintptr_t)find(r, "abcdefghijklno")) <= 120);
	must_join(r, &b, "mm", 0); /* key "rnrn" stored: 104 + 3 + 5 */
	assert_true(malloc_usable_size((void *)(uintptr_t)find(r, "mm")) <= 120);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(who_from_member, free_room),
	    cmocka_unit_test_teardown(who_from_stranger_dropped, free_room),
	    cmocka_unit_test_teardown(who_naming_another_dropped, free_room),
	    cmocka_unit_test_teardown(who_costs_a_flood_token, free_room),
	    cmocka_unit_test_teardown(new_room_is_empty, free_room),
	    cmocka_unit_test_teardown(join_ok, free_room),
	    cmocka_unit_test_teardown(join_keeps_typed_name, free_room),
	    cmocka_unit_test_teardown(join_event_excludes_joiner, free_room),
	    cmocka_unit_test_teardown(join_name_taken, free_room),
	    cmocka_unit_test_teardown(join_name_taken_case_variant, free_room),
	    cmocka_unit_test_teardown(join_name_taken_fullwidth, free_room),
	    cmocka_unit_test_teardown(join_same_address_same_name, free_room),
	    cmocka_unit_test_teardown(join_same_address_mapped, free_room),
	    cmocka_unit_test_teardown(join_same_address_other_name, free_room),
	    cmocka_unit_test_teardown(join_name_empty, free_room),
	    cmocka_unit_test_teardown(join_name_too_long, free_room),
	    cmocka_unit_test_teardown(join_name_bad_utf8, free_room),
	    cmocka_unit_test_teardown(join_name_space, free_room),
	    cmocka_unit_test_teardown(join_name_control, free_room),
	    cmocka_unit_test_teardown(join_name_reserved, free_room),
	    cmocka_unit_test_teardown(join_room_full, free_room),
	    cmocka_unit_test_teardown(join_room_full_member_retry_ok, free_room),
	    cmocka_unit_test_teardown(join_room_full_then_leave, free_room),
	    cmocka_unit_test_teardown(say_ok, free_room),
	    cmocka_unit_test_teardown(say_uses_member_name, free_room),
	    cmocka_unit_test_teardown(say_from_stranger, free_room),
	    cmocka_unit_test_teardown(say_from_stranger_unknown_name, free_room),
	    cmocka_unit_test_teardown(say_wrong_name, free_room),
	    cmocka_unit_test_teardown(say_wrong_name_unknown, free_room),
	    cmocka_unit_test_teardown(say_bad_text_control, free_room),
	    cmocka_unit_test_teardown(say_bad_text_newline, free_room),
	    cmocka_unit_test_teardown(say_bad_text_empty, free_room),
	    cmocka_unit_test_teardown(say_bad_text_too_long, free_room),
	    cmocka_unit_test_teardown(say_bad_text_utf8, free_room),
	    cmocka_unit_test_teardown(say_bad_text_from_stranger_dropped, free_room),
	    cmocka_unit_test_teardown(say_refreshes_member, free_room),
	    cmocka_unit_test_teardown(say_past_burst_refused, free_room),
	    cmocka_unit_test_teardown(say_tokens_return_with_rate, free_room),
	    cmocka_unit_test_teardown(say_unlimited_without_burst, free_room),
	    cmocka_unit_test_teardown(quit_ok, free_room),
	    cmocka_unit_test_teardown(quit_removes_member, free_room),
	    cmocka_unit_test_teardown(quit_frees_name, free_room),
	    cmocka_unit_test_teardown(quit_frees_address, free_room),
	    cmocka_unit_test_teardown(quit_last_member, free_room),
	    cmocka_unit_test_teardown(quit_forged_by_stranger, free_room),
	    cmocka_unit_test_teardown(quit_forged_by_member, free_room),
	    cmocka_unit_test_teardown(ping_ok, free_room),
	    cmocka_unit_test_teardown(ping_from_stranger, free_room),
	    cmocka_unit_test_teardown(ping_wrong_name, free_room),
	    cmocka_unit_test_teardown(expire_nothing_due, free_room),
	    cmocka_unit_test_teardown(expire_keepalive_member, free_room),
	    cmocka_unit_test_teardown(expire_idle_member, free_room),
	    cmocka_unit_test_teardown(expire_sends_exit_to_evicted, free_room),
	    cmocka_unit_test_teardown(expire_ping_refreshes, free_room),
	    cmocka_unit_test_teardown(expire_say_refreshes, free_room),
	    cmocka_unit_test_teardown(expire_login_again_refreshes, free_room),
	    cmocka_unit_test_teardown(expire_forged_ping_does_not_refresh, free_room),
	    cmocka_unit_test_teardown(expire_one_at_a_time, free_room),
	    cmocka_unit_test_teardown(next_expiry_empty, free_room),
	    cmocka_unit_test_teardown(next_expiry_idle, free_room),
	    cmocka_unit_test_teardown(next_expiry_keepalive, free_room),
	    cmocka_unit_test_teardown(next_expiry_earliest, free_room),
	    cmocka_unit_test_teardown(next_expiry_overdue, free_room),
	    cmocka_unit_test_teardown(next_expiry_after_expire, free_room),
	    cmocka_unit_test_teardown(kick_ok, free_room),
	    cmocka_unit_test_teardown(kick_missing, free_room),
	    cmocka_unit_test_teardown(kick_empty_room, free_room),
	    cmocka_unit_test_teardown(kick_frees_name, free_room),
	    cmocka_unit_test_teardown(admin_event, free_room),
	    cmocka_unit_test_teardown(find_name_normalised, free_room),
	    cmocka_unit_test_teardown(find_name_uses_length, free_room),
	    cmocka_unit_test_teardown(find_addr_port_matters, free_room),
	    cmocka_unit_test_teardown(iterate_members, free_room),
	    cmocka_unit_test_teardown(many_members_lookup, free_room),
	    cmocka_unit_test_teardown(many_members_remove_half, free_room),
	    cmocka_unit_test_teardown(many_members_iterate, free_room),
	    cmocka_unit_test_teardown(many_members_rejoin, free_room),
	    cmocka_unit_test_teardown(many_members_expire, free_room),
	    cmocka_unit_test_teardown(reply_to_member_flags, free_room),
	    cmocka_unit_test_teardown(lookalike_of_member_refused, free_room),
	    cmocka_unit_test_teardown(lookalike_first_holds_the_key, free_room),
	    cmocka_unit_test_teardown(lookalike_taken_versus_lookalike, free_room),
	    cmocka_unit_test_teardown(lookalike_of_reserved_refused, free_room),
	    cmocka_unit_test_teardown(lookalike_from_own_address_is_other_name, free_room),
	    cmocka_unit_test_teardown(lookalike_free_after_leave, free_room),
	    cmocka_unit_test_teardown(kick_reaches_lookalike, free_room),
	    cmocka_unit_test_teardown(lookalike_keys_kept_apart, free_room),
	    cmocka_unit_test_teardown(lookalike_key_memory, free_room),
	    cmocka_unit_test_teardown(per_address_ipv6_counts_by_64, free_room),
	    cmocka_unit_test_teardown(per_address_ipv4_counts_by_32, free_room),
	    cmocka_unit_test_teardown(per_address_ipv4_prefix_24, free_room),
	    cmocka_unit_test_teardown(per_address_ipv6_prefix_128, free_room),
	    cmocka_unit_test_teardown(per_address_mapped_is_the_ipv4_address, free_room),
	    cmocka_unit_test_teardown(per_address_place_returns, free_room),
	    cmocka_unit_test_teardown(per_address_many_networks, free_room),
	    cmocka_unit_test_teardown(per_address_rebind, free_room),
	    cmocka_unit_test_teardown(per_address_v1_and_v2_apart, free_room),
	    cmocka_unit_test_teardown(per_address_unbound_cap_counts_nothing, free_room),
	    cmocka_unit_test_teardown(v1_join_is_proto_1, free_room),
	    cmocka_unit_test_teardown(v1_cap, free_room),
	    cmocka_unit_test_teardown(v1_cap_counts_every_way_out, free_room),
	    cmocka_unit_test_teardown(v1_rate_per_network, free_room),
	    cmocka_unit_test_teardown(v1_rate_per_network_ipv6_64, free_room),
	    cmocka_unit_test_teardown(v1_rate_in_total, free_room),
	    cmocka_unit_test_teardown(v1_refused_login_spends_no_token, free_room),
	    cmocka_unit_test_teardown(v1_refused_by_total_spends_no_network_token, free_room),
	    cmocka_unit_test_teardown(v1_unproven_evicted_after_login_timeout, free_room),
	    cmocka_unit_test_teardown(v1_ping_keeps_member, free_room),
	    cmocka_unit_test_teardown(v1_who_and_relogin_do_not_prove, free_room),
	    cmocka_unit_test_teardown(v1_refused_chat_does_not_prove, free_room),
	    cmocka_unit_test_teardown(v1_login_timeout_at_most_idle, free_room),
	    cmocka_unit_test_teardown(v2_never_unproven, free_room),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
