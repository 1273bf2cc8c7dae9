/* test_channel.c - unit tests of src/qund/channel.c: room names, ids never reused, limits,
 * membership both ways. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qund/channel.h"

#define NMEMBERS 8

static const struct channel_config cfg = {
    .max_per_member = 20, .max_members = 5, .max_channels = 30};
static struct channels *T;
static struct seats S[NMEMBERS];
static int M[NMEMBERS]; /* the members: their addresses are their identities */

static int setup(void **state)
{
	(void)state;
	T = channels_new(&cfg, "#大厅");
	memset(S, 0, sizeof S);
	return T == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < NMEMBERS; i++)
		channel_part_all(T, &S[i], NULL, NULL);
	channels_free(T);
	return 0;
}

static struct channel *join(int i, const char *name, enum channel_status want)
{
	struct channel *c = NULL;

	assert_int_equal(channel_join(T, &M[i], &S[i], name, strlen(name), &c), want);
	return c;
}

/*
 * Each membership is in both lists, and each back-index points at its
 * partner: the invariant that makes leaving O(1).
 */
static void check_links(void)
{
	size_t i, k;
	uint32_t j;

	for (i = 0; i < NMEMBERS; i++)
		for (j = 0; j < S[i].n; j++) {
			const struct seat *s = &S[i].v[j];

			assert_ptr_equal(channel_member(s->c, s->at), &M[i]);
			assert_int_equal(s->c->who[s->at].seat_at, j);
			assert_ptr_equal(s->c->who[s->at].seats, &S[i]);
		}
	for (k = 0; channels_at(T, k) != NULL; k++) {
		const struct channel *c = channels_at(T, k);

		for (i = 0; i < channel_count(c); i++)
			assert_ptr_equal(c->who[i].seats->v[c->who[i].seat_at].c, c);
		/* The table stays in id order: every room is found by its id. */
		assert_ptr_equal(channels_by_id(T, c->id), c);
		if (k > 0)
			assert_true(channels_at(T, k - 1)->id < c->id);
	}
	assert_null(channels_by_id(T, 0));
}

/* Tests */

static void names_follow_the_member_name_rules(void **state)
{
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why;
	static const char *const bad[] = {
	    "",          "#",
	    "dev",       "# dev",
	    "#de v",     "#\x01",
	    "#\xff\xfe", "#管理员",
	    "#admin",    "#123456789012345678901234567890123", /* 33 bytes after '#' */
	};
	size_t i;

	(void)state;
	assert_int_equal(channel_name_check("#Dev", 4, key, &why), CHANNEL_OK);
	assert_string_equal(key, "#dev");
	assert_int_equal(channel_name_check("#ＤＥＶ", strlen("#ＤＥＶ"), key, &why), CHANNEL_OK);
	assert_string_equal(key, "#dev");
	assert_int_equal(channel_name_check("#技术部", strlen("#技术部"), key, &why), CHANNEL_OK);
	assert_string_equal(key, "#技术部");
	assert_int_equal(channel_name_check("#12345678901234567890123456789012", 33, key, &why),
	                 CHANNEL_OK);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(channel_name_check(bad[i], strlen(bad[i]), key, &why),
		                 CHANNEL_BAD_NAME);
	assert_int_equal(channel_name_check("#de v", 5, key, &why), CHANNEL_BAD_NAME);
	assert_int_equal(why, NAME_SPACE);
	assert_null(channels_new(&cfg, "lobby")); /* the default room's name must pass too */
}

static void one_room_whatever_the_case(void **state)
{
	struct channel *a, *b;

	(void)state;
	a = join(0, "#Dev", CHANNEL_OK);
	b = join(1, "#dev", CHANNEL_OK);
	assert_ptr_equal(a, b);
	assert_string_equal(a->name, "#Dev"); /* as its maker typed it */
	assert_int_equal(channel_count(a), 2);
	assert_ptr_equal(channels_find(T, "#DEV", 4), a);
	assert_ptr_equal(join(0, "#dEv", CHANNEL_ALREADY_IN), a);
	assert_int_equal(channel_count(a), 2);
	check_links();
}

static void ids_are_never_reused(void **state)
{
	struct channel *c;
	uint32_t first, second;
	int closed;

	(void)state;
	assert_int_equal(channels_default(T)->id, 1);
	c = join(0, "#技术部", CHANNEL_OK);
	first = c->id;
	assert_true(first > 1);
	assert_int_equal(channel_part(T, &S[0], c, &closed), CHANNEL_OK);
	assert_true(closed); /* empty and not permanent: gone */
	assert_null(channels_find(T, "#技术部", strlen("#技术部")));
	assert_null(channels_by_id(T, first));
	c = join(1, "#技术部", CHANNEL_OK);
	second = c->id;
	assert_true(second > first);
	assert_ptr_equal(channels_by_id(T, second), c);
}

static void the_default_and_permanent_rooms_stay_empty(void **state)
{
	struct channel *d = channels_default(T), *ops;
	int closed;

	(void)state;
	assert_int_equal(channel_join_to(T, &M[0], &S[0], d), CHANNEL_OK);
	assert_int_equal(channel_part(T, &S[0], d, &closed), CHANNEL_OK);
	assert_false(closed);
	assert_ptr_equal(channels_default(T), d);
	assert_int_equal(channels_create(T, "#Ops", 4, &ops), CHANNEL_OK);
	assert_true(ops->permanent);
	assert_int_equal(channel_join_to(T, &M[1], &S[1], ops), CHANNEL_OK);
	assert_int_equal(channel_part(T, &S[1], ops, &closed), CHANNEL_OK);
	assert_false(closed);
	channels_unpin(T, ops); /* empty and let go: closed now */
	assert_null(channels_find(T, "#ops", 4));
	channels_unpin(T, d); /* the default room cannot be let go */
	assert_ptr_equal(channels_default(T), d);
	assert_true(d->permanent);
}

static void limits_refuse_and_change_nothing(void **state)
{
	char name[16];
	struct channel *c;
	int i;

	(void)state;
	/* A room holds max_members (5). */
	for (i = 0; i < 5; i++)
		join(i, "#full", CHANNEL_OK);
	c = join(5, "#full", CHANNEL_FULL);
	assert_int_equal(channel_count(c), 5);
	assert_int_equal(S[5].n, 0);
	/* A member is in at most max_per_member (20) rooms; the 21st is not made. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "#r%d", i);
		join(6, name, CHANNEL_OK);
	}
	assert_null(join(6, "#one-too-many", CHANNEL_MEMBER_LIMIT));
	assert_null(channels_find(T, "#one-too-many", 13));
	assert_int_equal(S[6].n, 20);
	/* At most max_channels (30) rooms: the default, #full, 20 #r, 8 more. */
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "#x%d", i);
		join(7, name, CHANNEL_OK);
	}
	assert_null(join(7, "#thirty-one", CHANNEL_TOO_MANY));
	assert_int_equal(channels_count(T), 30);
	check_links();
}

/*
 * Members join and part rooms in an interleaved order; after each step the
 * two sides of every membership agree, and counts match a simple model.
 */
static void membership_stays_consistent(void **state)
{
	static const char *const names[] = {"#a", "#b", "#c", "#d"};
	int model[NMEMBERS][4] = {{0}};
	unsigned seed = 12345;
	int step, closed;

	(void)state;
	for (step = 0; step < 2000; step++) {
		int i, r;
		struct channel *c;

		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 16) % NMEMBERS);
		r = (int)((seed >> 8) % 4);
		if (!model[i][r]) {
			enum channel_status st;

			c = NULL;
			st = channel_join(T, &M[i], &S[i], names[r], 2, &c);
			if (st == CHANNEL_FULL)
				continue;
			assert_int_equal(st, CHANNEL_OK);
			model[i][r] = 1;
		} else {
			c = channels_find(T, names[r], 2);
			assert_non_null(c);
			assert_int_equal(channel_part(T, &S[i], c, &closed), CHANNEL_OK);
			model[i][r] = 0;
		}
		check_links();
		for (r = 0; r < 4; r++) {
			int k, n = 0;

			for (k = 0; k < NMEMBERS; k++)
				n += model[k][r];
			c = channels_find(T, names[r], 2);
			assert_int_equal(c == NULL ? 0 : (int)channel_count(c), n);
			assert_true(n > 0 || c == NULL); /* an empty room is closed */
		}
	}
}

static void told(void *ctx, struct channel *c)
{
	int *count = ctx;

	(*count)++;
	assert_true(channel_count(c) > 0); /* still in it while the others are told */
}

static void leaving_the_server_leaves_every_room(void **state)
{
	int count = 0;

	(void)state;
	join(0, "#a", CHANNEL_OK);
	join(0, "#b", CHANNEL_OK);
	join(1, "#b", CHANNEL_OK);
	assert_int_equal(channel_join_to(T, &M[0], &S[0], channels_default(T)), CHANNEL_OK);
	channel_part_all(T, &S[0], told, &count);
	assert_int_equal(count, 3);
	assert_int_equal(S[0].n, 0);
	assert_null(S[0].v);
	assert_null(channels_find(T, "#a", 2));
	assert_int_equal(channel_count(channels_find(T, "#b", 2)), 1);
	assert_int_equal(channel_count(channels_default(T)), 0);
	check_links();
}

static void each_room_has_its_own_event_order(void **state)
{
	struct channel *a = join(0, "#a", CHANNEL_OK), *b = join(0, "#b", CHANNEL_OK);
	int closed;

	(void)state;
	assert_int_equal(channel_next_event(a), 1);
	assert_int_equal(channel_next_event(a), 2);
	assert_int_equal(channel_next_event(b), 1);
	assert_int_equal(channel_next_event(a), 3);
	assert_int_equal(channel_part(T, &S[1], b, &closed), CHANNEL_NOT_IN);
	assert_int_equal(channel_next_event(b), 2); /* a room's order is its own to the end */
}

/*
 * What a member's rooms cost it: its list of seats (as allocated) and one
 * entry in each room's list.  Issue 20: a member in 20 rooms costs no more
 * than 20 times a member in one, and each membership at most twice its
 * 40-byte record (the arrays double).
 */
static size_t member_bytes(const struct seats *st)
{
	return sizeof *st + st->cap * sizeof(struct seat) + st->n * sizeof(struct channel_entry);
}

static void twenty_rooms_cost_twenty_memberships(void **state)
{
	char name[16];
	size_t one, twenty;
	int i;

	(void)state;
	join(0, "#r0", CHANNEL_OK);
	one = member_bytes(&S[0]);
	for (i = 1; i < 20; i++) {
		snprintf(name, sizeof name, "#r%d", i);
		join(0, name, CHANNEL_OK);
	}
	twenty = member_bytes(&S[0]);
	assert_int_equal(S[0].n, 20);
	assert_true(twenty <= 20 * one);
	assert_true(twenty - sizeof(struct seats) <=
	            2 * 20 * (sizeof(struct seat) + sizeof(struct channel_entry)));
	assert_int_equal(sizeof(struct seat) + sizeof(struct channel_entry), 40);
	check_links();
}

/* max_name caps a new room's name; a room that exists is found whatever its length. */
static void new_names_fit_max_name(void **state)
{
	static const struct channel_config small = {
	    .max_per_member = 4, .max_members = 5, .max_channels = 30, .max_name = 3};
	struct channels *t = channels_new(&small, "#大厅");
	struct seats st = {0}, st2 = {0};
	struct channel *c = NULL;

	(void)state;
	assert_non_null(t);
	assert_int_equal(channel_join(t, &M[0], &st, "#abcd", 5, &c), CHANNEL_BAD_NAME);
	assert_int_equal(channels_create(t, "#abcd", 5, &c), CHANNEL_BAD_NAME);
	assert_int_equal(channels_count(t), 1);
	assert_int_equal(channel_join(t, &M[0], &st, "#abc", 4, &c), CHANNEL_OK);
	/* The default room's name is longer than max_name: an existing room is still joined. */
	assert_int_equal(channel_join(t, &M[1], &st2, "#大厅", strlen("#大厅"), &c), CHANNEL_OK);
	assert_ptr_equal(c, channels_default(t));
	channel_part_all(t, &st2, NULL, NULL);
	channel_part_all(t, &st, NULL, NULL);
	channels_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_follow_the_member_name_rules),
	    cmocka_unit_test_setup_teardown(one_room_whatever_the_case, setup, teardown),
	    cmocka_unit_test_setup_teardown(ids_are_never_reused, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_default_and_permanent_rooms_stay_empty, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(limits_refuse_and_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(membership_stays_consistent, setup, teardown),
	    cmocka_unit_test_setup_teardown(leaving_the_server_leaves_every_room, setup, teardown),
	    cmocka_unit_test_setup_teardown(each_room_has_its_own_event_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(twenty_rooms_cost_twenty_memberships, setup, teardown),
	    cmocka_unit_test(new_names_fit_max_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
