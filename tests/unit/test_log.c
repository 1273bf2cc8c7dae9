/* test_log.c - unit tests of src/common/log.c: the refusal rate limit, and logging to a file that
 * is reopened (never through a symbolic link) and handed over only if the log made it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static void ratelimit_allows_burst_then_holds(void **state)
{
	struct ratelimit rl = {0};
	unsigned long held = 99;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		assert_int_equal(ratelimit_allow(&rl, 1000, 5, 10000, &held), 1);
		assert_int_equal(held, 0);
	}
	assert_int_equal(ratelimit_allow(&rl, 1001, 5, 10000, &held), 0);
	assert_int_equal(ratelimit_allow(&rl, 10999, 5, 10000, &held), 0);
}

static void ratelimit_reports_held_back_in_next_window(void **state)
{
	struct ratelimit rl = {0};
	unsigned long held = 0;
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		ratelimit_allow(&rl, 0, 5, 10000, &held);
	assert_int_equal(ratelimit_allow(&rl, 10000, 5, 10000, &held), 1);
	assert_int_equal(held, 3);
	assert_int_equal(ratelimit_allow(&rl, 10001, 5, 10000, &held), 1);
	assert_int_equal(held, 0);
}

static void ratelimit_window_starts_at_first_event(void **state)
{
	struct ratelimit rl = {0};
	unsigned long held;

	(void)state;
	/* A clock that starts far from zero. */
	assert_int_equal(ratelimit_allow(&rl, 5000000, 1, 10000, &held), 1);
	assert_int_equal(ratelimit_allow(&rl, 5009999, 1, 10000, &held), 0);
	assert_int_equal(ratelimit_allow(&rl, 5010000, 1, 10000, &held), 1);
	assert_int_equal(held, 1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void file_log_lines_and_reopen(void **state)
{
	char dir[] = "/tmp/test_log_XXXXXX", path[64], moved[64], err[256];
	struct stat st;
	char *text;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/qund.log", dir);
	snprintf(moved, sizeof moved, "%s/qund.log.1", dir);
	umask(022);
	log_init("/usr/sbin/qund");
	assert_int_equal(log_to_file(path, (uid_t)-1, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	log_info("first %d", 1);
	log_warnx("second");
	text = slurp(path);
	if (text == NULL) {
		fail_msg("cannot read %s", path);
		return;
	}
	/* "YYYY-MM-DDTHH:MM:SS+ZZZZ qund[PID]: message" */
	assert_non_null(strstr(text, " qund["));
	assert_non_null(strstr(text, "]: first 1\n"));
	assert_non_null(strstr(text, "]: second\n"));
	assert_true(text[4] == '-' && text[10] == 'T');

	/* logrotate moves the file; SIGHUP makes qund reopen the name. */
	assert_int_equal(rename(path, moved), 0);
	log_info("still the old file");
	assert_int_equal(log_reopen(err, sizeof err), 0);
	log_info("in the new file");
	assert_non_null(strstr(slurp(moved), "still the old file"));
	text = slurp(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "in the new file"));
	assert_null(strstr(text, "first"));
	unlink(path);
	unlink(moved);
	rmdir(dir);
}

static void file_log_refuses_bad_path(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(log_to_file("/nonexistent-dir/qund.log", (uid_t)-1, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent-dir/qund.log: No such file or directory");
}

static void reopen_failure_keeps_old_file(void **state)
{
	char dir[] = "/tmp/test_log_XXXXXX", path[64], err[256];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/qund.log", dir);
	assert_int_equal(log_to_file(path, (uid_t)-1, err, sizeof err), 0);
	/* The directory goes: the name cannot be opened again. */
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(log_reopen(err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	log_info("goes to the old (unlinked) file without crashing");
}

/* logrotate's place is taken by a link to another file: the reopen refuses it, the old file goes
 * on.
 */
static void reopen_refuses_a_symlink(void **state)
{
	char dir[] = "/tmp/test_log_XXXXXX", path[64], moved[64], secret[64], err[256];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/qund.log", dir);
	snprintf(moved, sizeof moved, "%s/qund.log.1", dir);
	snprintf(secret, sizeof secret, "%s/secret", dir);
	assert_int_equal(log_to_file(path, (uid_t)-1, err, sizeof err), 0);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(close(open(secret, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(symlink(secret, path), 0);
	assert_int_equal(log_reopen(err, sizeof err), -1);
	assert_non_null(strstr(err, "is a symbolic link: refusing to follow it"));
	log_info("still in the moved file");
	assert_non_null(strstr(slurp(moved), "still in the moved file"));
	assert_int_equal(stat(secret, &st), 0);
	assert_int_equal(st.st_size, 0);
	unlink(path);
	unlink(moved);
	unlink(secret);
	rmdir(dir);
}

/* log_chown hands over a file the log created, and leaves one that was there alone. */
static void chown_only_a_file_it_created(void **state)
{
	char dir[] = "/tmp/test_log_XXXXXX", path[64], err[256];
	struct stat st;

	(void)state;
	if (geteuid() != 0) {
		skip(); /* giving a file away needs root */
		return;
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/qund.log", dir);
	assert_int_equal(log_to_file(path, 4242, err, sizeof err), 0);
	assert_int_equal(log_chown(4242, 4242, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 4242);
	/* Found, not made: its owner stays. */
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(log_to_file(path, 4242, err, sizeof err), 0);
	assert_int_equal(log_chown(4242, 4242, err, sizeof err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ratelimit_allows_burst_then_holds),
	    cmocka_unit_test(ratelimit_reports_held_back_in_next_window),
	    cmocka_unit_test(ratelimit_window_starts_at_first_event),
	    cmocka_unit_test(file_log_lines_and_reopen),
	    cmocka_unit_test(file_log_refuses_bad_path),
	    cmocka_unit_test(reopen_failure_keeps_old_file),
	    cmocka_unit_test(reopen_refuses_a_symlink),
	    cmocka_unit_test(chown_only_a_file_it_created),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
