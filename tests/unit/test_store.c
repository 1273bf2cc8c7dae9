/* test_store.c - unit tests of src/qund/store.c: schema, history pages, search, private lines,
 * sanctions, retention, refusing foreign and damaged files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qund/store.h"

static char dir[64], path[128];
static struct store *S;

static int setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/qun-store-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/qund.db", dir);
	S = store_open(path, STORE_SYNC_NORMAL, err, sizeof err, NULL);
	if (S == NULL)
		fprintf(stderr, "store_open: %s\n", err);
	return S == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	store_close(S);
	S = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void reopen(void)
{
	char err[256];

	store_close(S);
	S = store_open(path, STORE_SYNC_NORMAL, err, sizeof err, NULL);
	if (S == NULL)
		fail_msg("reopen: %s", err);
}

/* The lines a history or search call gave, as "event:text" joined by spaces. */
static char got[4096];

static void collect(void *ctx, const struct store_line *l)
{
	size_t n = strlen(got);

	(void)ctx;
	snprintf(got + n, sizeof got - n, "%s%llu:%.*s", n ? " " : "", (unsigned long long)l->event,
	         (int)l->text_len, l->text);
}

static void history(uint32_t room, enum store_dir dir_, uint64_t ref, unsigned limit,
                    const char *want)
{
	got[0] = '\0';
	assert_true(store_history(S, room, dir_, ref, limit, collect, NULL) >= 0);
	assert_string_equal(got, want);
}

static void say(uint32_t room, uint64_t event, uint64_t at, const char *text)
{
	assert_int_equal(store_line(S, room, event, at, 1, "alice", text, strlen(text)), 0);
}

static void rooms_keep_their_ids_and_order(void **state)
{
	struct store_room lobby, dev, again;

	(void)state;
	assert_int_equal(store_room(S, "#大厅", "#大厅", &lobby), 0);
	assert_int_equal(store_room(S, "#dev", "#Dev", &dev), 0);
	assert_int_equal(lobby.id, 1);
	assert_int_equal(dev.id, 2);
	assert_string_equal(dev.name, "#Dev");
	say(dev.id, 1, 1000, "one");
	say(dev.id, 2, 1001, "two");
	assert_int_equal(store_room_permanent(S, dev.id, 1), 0);
	reopen();
	assert_int_equal(store_room(S, "#dev", "#dev", &again), 0);
	assert_int_equal(again.id, dev.id);
	assert_int_equal(again.last_event, 2); /* the room's order goes on from here */
	assert_int_equal(again.permanent, 1);
	assert_string_equal(again.name, "#Dev"); /* as its maker typed it */
}

static void history_pages_like_chathistory(void **state)
{
	struct store_room r;
	char text[16];
	uint64_t i;

	(void)state;
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	assert_int_equal(store_begin(S), 0);
	for (i = 1; i <= 10; i++) {
		snprintf(text, sizeof text, "l%llu", (unsigned long long)i);
		say(r.id, i, 1000 + i, text);
	}
	assert_int_equal(store_commit(S), 0);
	history(r.id, STORE_LATEST, 0, 3, "8:l8 9:l9 10:l10");
	history(r.id, STORE_BEFORE, 5, 2, "3:l3 4:l4");
	history(r.id, STORE_BEFORE, 1, 5, ""); /* the beginning: an empty page */
	history(r.id, STORE_AFTER, 8, 5, "9:l9 10:l10");
	history(r.id, STORE_AFTER, 10, 5, "");
	history(r.id + 1, STORE_LATEST, 0, 5, ""); /* another room has none of them */
	/* An id is taken once: a second line with it is refused and changes nothing. */
	assert_int_equal(store_line(S, r.id, 5, 9999, 1, "mallory", "dup", 3), -1);
	assert_true(strlen(store_error(S)) > 0);
	history(r.id, STORE_AFTER, 4, 1, "5:l5");
}

static void a_rolled_back_pass_leaves_nothing(void **state)
{
	struct store_room r;

	(void)state;
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	assert_int_equal(store_begin(S), 0);
	say(r.id, 1, 1000, "gone");
	say(r.id, 2, 1000, "gone too");
	store_rollback(S);
	history(r.id, STORE_LATEST, 0, 10, "");
	assert_int_equal(store_begin(S), 0);
	assert_int_equal(store_begin(S), 0); /* already open: nothing */
	say(r.id, 1, 1000, "kept");
	assert_int_equal(store_commit(S), 0);
	assert_int_equal(store_commit(S), 0); /* none open: nothing */
	reopen();
	history(r.id, STORE_LATEST, 0, 10, "1:kept");
	/* The room's last event id, written at the commit, is the kept line's, not the rolled back.
	 */
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	assert_int_equal(r.last_event, 1);
	assert_int_equal(store_begin(S), 0);
	say(r.id, 2, 1000, "two");
	say(r.id, 3, 1000, "three");
	store_rollback(S);
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	assert_int_equal(r.last_event, 1);
	assert_int_equal(store_begin(S), 0);
	say(r.id, 2, 1000, "two");
	assert_int_equal(store_commit(S), 0);
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	assert_int_equal(r.last_event, 2);
}

static void search_finds_chinese_without_a_dictionary(void **state)
{
	struct store_room a, b;
	uint32_t both[2];

	(void)state;
	assert_int_equal(store_room(S, "#a", "#a", &a), 0);
	assert_int_equal(store_room(S, "#b", "#b", &b), 0);
	say(a.id, 1, 1000, "我们今天开会讨论代码评审");
	say(a.id, 2, 1001, "明天去吃饭");
	say(b.id, 1, 1002, "代码评审在周五");
	say(b.id, 2, 1003, "he said \"release\" today");
	both[0] = a.id;
	both[1] = b.id;
	got[0] = '\0';
	assert_int_equal(store_search(S, both, 1, "代码评审", 10, collect, NULL), 1);
	assert_string_equal(got, "1:我们今天开会讨论代码评审");
	got[0] = '\0';
	assert_int_equal(store_search(S, both, 2, "代码评审", 10, collect, NULL), 2);
	assert_string_equal(got, "1:代码评审在周五 1:我们今天开会讨论代码评审"); /* newest first */
	got[0] = '\0';
	assert_int_equal(store_search(S, both, 2, "开会 代码", 10, collect, NULL), 1);
	got[0] = '\0';
	assert_int_equal(store_search(S, both, 2, "\"release\"", 10, collect, NULL), 1);
	assert_int_equal(store_search(S, both, 2, "   ", 10, collect, NULL), -1);
}

static void private_lines_wait_for_their_reader(void **state)
{
	uint64_t last = 99;

	(void)state;
	assert_int_equal(store_private_last(S, &last), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_private(S, 7, 1000, "alice", "Bob", "bob", "晚上聚餐？", 15), 0);
	assert_int_equal(store_private(S, 9, 1001, "carol", "bob", "bob", "hi", 2), 0);
	assert_int_equal(store_private(S, 8, 1002, "alice", "dave", "dave", "x", 1), 0);
	got[0] = '\0';
	assert_int_equal(store_private_take(S, "bob", collect, NULL), 2);
	assert_string_equal(got, "7:晚上聚餐？ 9:hi");
	got[0] = '\0';
	assert_int_equal(store_private_take(S, "bob", collect, NULL), 0); /* delivered once */
	assert_int_equal(store_private_last(S, &last), 0);
	assert_int_equal(last, 9);
}

static int nsanctions;

static void count_sanction(void *ctx, int kind, const char *target, uint64_t until)
{
	(void)ctx;
	(void)until;
	assert_true(kind == 0 ? strcmp(target, "mallory") == 0 : strcmp(target, "eve") == 0);
	nsanctions++;
}

static void sanctions_survive_and_lapse(void **state)
{
	(void)state;
	assert_int_equal(store_sanction_put(S, 0, "mallory", 0), 0);
	assert_int_equal(store_sanction_put(S, 2, "eve", 5000), 0);
	reopen();
	nsanctions = 0;
	assert_int_equal(store_sanctions(S, 4000, count_sanction, NULL), 0);
	assert_int_equal(nsanctions, 2);
	nsanctions = 0;
	assert_int_equal(store_sanctions(S, 6000, count_sanction, NULL), 0);
	assert_int_equal(nsanctions, 1); /* eve's mute has lapsed */
	assert_int_equal(store_sanction_remove(S, 0, "mallory"), 0);
	nsanctions = 0;
	assert_int_equal(store_sanctions(S, 0, count_sanction, NULL), 0);
	assert_int_equal(nsanctions, 1);
}

static void retention_goes_in_batches(void **state)
{
	struct store_room r;
	uint64_t i;

	(void)state;
	assert_int_equal(store_room(S, "#dev", "#dev", &r), 0);
	for (i = 1; i <= 30; i++)
		say(r.id, i, 1000 * i, "x");
	/* By age: lines before 10,500 ms are lines 1..10; a batch of 4 takes 4. */
	assert_int_equal(store_trim(S, 10500, 0, 4), 4);
	history(r.id, STORE_AFTER, 0, 1, "5:x");
	assert_int_equal(store_trim(S, 10500, 0, 100), 6);
	assert_int_equal(store_trim(S, 10500, 0, 100), 0);
	/* By count: keep the newest 5 (26..30). */
	assert_int_equal(store_trim(S, 0, 5, 100), 15);
	history(r.id, STORE_AFTER, 0, 100, "26:x 27:x 28:x 29:x 30:x");
	assert_int_equal(store_check(S), 0);
}

/* Write bytes to a file, replacing it. */
static void put_file(const char *p, const void *data, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* Read a file whole into buf (at most size); returns its length. */
static size_t get_file(const char *p, char *buf, size_t size)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size);
	close(fd);
	assert_true(n >= 0);
	return (size_t)n;
}

/* Opening p is refused with a reason containing why, and the file is left as it was. */
static void refused_untouched(const char *p, const char *why)
{
	static char before[65536], after[65536];
	size_t nb = get_file(p, before, sizeof before), na;
	char err[256] = "";
	int refused = 0;
	struct store *st = store_open(p, STORE_SYNC_NORMAL, err, sizeof err, &refused);

	assert_null(st);
	assert_int_equal(refused, 1);
	if (strstr(err, why) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, why);
	na = get_file(p, after, sizeof after);
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, na);
}

/* An SQLite file made by "another program": a table, and its own user_version. */
static void make_sqlite(const char *p, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void foreign_and_damaged_files_are_refused_untouched(void **state)
{
	char p[160], buf[8192];
	size_t n;

	(void)state;
	snprintf(p, sizeof p, "%s/notes.txt", dir);
	put_file(p, "my notes, not a database\n", 25);
	refused_untouched(p, "not an SQLite file");

	snprintf(p, sizeof p, "%s/other.db", dir);
	make_sqlite(p, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	refused_untouched(p, "another program");

	snprintf(p, sizeof p, "%s/newer.db", dir);
	make_sqlite(p, "PRAGMA application_id = 1903521329; PRAGMA user_version = 99;"
	               " CREATE TABLE t(x);");
	refused_untouched(p, "newer");

	/* Our own file, damaged: its pages overwritten past the header. */
	store_close(S);
	S = NULL;
	n = get_file(path, buf, sizeof buf);
	assert_true(n > 4096);
	memset(buf + 100, 0x5A, n - 100);
	snprintf(p, sizeof p, "%s/damaged.db", dir);
	put_file(p, buf, n);
	refused_untouched(p, "");
	reopen(); /* the original is fine */
	assert_int_equal(store_check(S), 0);
}

static void an_empty_file_becomes_a_store(void **state)
{
	char p[160], err[256];
	struct store *st;

	(void)state;
	snprintf(p, sizeof p, "%s/empty.db", dir);
	put_file(p, "", 0);
	st = store_open(p, STORE_SYNC_FULL, err, sizeof err, NULL);
	assert_non_null(st);
	assert_int_equal(store_check(st), 0);
	store_close(st);
}

static void sync_names(void **state)
{
	enum store_sync s;

	(void)state;
	assert_int_equal(store_sync_parse("normal", &s), 0);
	assert_int_equal(s, STORE_SYNC_NORMAL);
	assert_int_equal(store_sync_parse("full", &s), 0);
	assert_int_equal(s, STORE_SYNC_FULL);
	assert_int_equal(store_sync_parse("off", &s), 0);
	assert_int_equal(s, STORE_SYNC_OFF);
	assert_int_equal(store_sync_parse("FULL", &s), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(rooms_keep_their_ids_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(history_pages_like_chathistory, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_rolled_back_pass_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(search_finds_chinese_without_a_dictionary, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(private_lines_wait_for_their_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(sanctions_survive_and_lapse, setup, teardown),
	    cmocka_unit_test_setup_teardown(retention_goes_in_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(foreign_and_damaged_files_are_refused_untouched, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(an_empty_file_becomes_a_store, setup, teardown),
	    cmocka_unit_test(sync_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
