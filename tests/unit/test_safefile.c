/* test_safefile.c - unit tests of src/common/safefile.c: no symbolic link followed, untrusted
 * directories and files refused, files and directories created as asked. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safefile.h"

/* A private directory under /tmp for one test, and names in it. */
struct scratch {
	char dir[64];
};

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof s->dir, "/tmp/test_safefile_XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		return -1;
	free(s);
	return 0;
}

static const char *in(const struct scratch *s, const char *name)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", s->dir, name);
	return p;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void creates_and_reports_it(void **state)
{
	struct scratch *s = *state;
	char err[512];
	struct stat st;
	int fd, created = -1;

	umask(022);
	fd = safefile_open(in(s, "log"), O_WRONLY | O_APPEND | O_CREAT, 0640, (uid_t)-1, &created,
	                   err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(created, 1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(fd);
	/* Again: the same file, not created this time. */
	fd = safefile_open(in(s, "log"), O_WRONLY | O_APPEND | O_CREAT, 0640, (uid_t)-1, &created,
	                   err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(created, 0);
	close(fd);
}

static void appends_to_an_existing_file(void **state)
{
	struct scratch *s = *state;
	char err[512], buf[32] = "";
	int fd, created;

	write_text(in(s, "log"), "old\n", 0600);
	fd = safefile_open(in(s, "log"), O_WRONLY | O_APPEND | O_CREAT, 0640, (uid_t)-1, &created,
	                   err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new\n", 4), 4);
	close(fd);
	fd = open(in(s, "log"), O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof buf - 1), 8);
	close(fd);
	assert_string_equal(buf, "old\nnew\n");
}

static void missing_without_create_fails(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	assert_int_equal(
	    safefile_open(in(s, "none"), O_RDONLY, 0, (uid_t)-1, &created, err, sizeof err), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(access(in(s, "none"), F_OK), -1);
}

static void symlink_at_the_path_is_not_followed(void **state)
{
	struct scratch *s = *state;
	char err[512], want[PATH_MAX + 64];
	struct stat st;
	int created = -1;

	write_text(in(s, "secret"), "root only\n", 0600);
	assert_int_equal(symlink(in(s, "secret"), in(s, "log")), 0);
	assert_int_equal(safefile_open(in(s, "log"), O_WRONLY | O_APPEND | O_CREAT, 0640, (uid_t)-1,
	                               &created, err, sizeof err),
	                 -1);
	assert_int_equal(created, 0);
	snprintf(want, sizeof want, "%s is a symbolic link: refusing to follow it", in(s, "log"));
	assert_string_equal(err, want);
	assert_int_equal(stat(in(s, "secret"), &st), 0);
	assert_int_equal(st.st_size, 10);
}

static void dangling_symlink_is_not_followed(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	/* O_CREAT through a dangling link would create its target. */
	assert_int_equal(symlink(in(s, "target"), in(s, "log")), 0);
	assert_int_equal(safefile_open(in(s, "log"), O_WRONLY | O_CREAT, 0640, (uid_t)-1, &created,
	                               err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(access(in(s, "target"), F_OK), -1);
}

static void world_writable_directory_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	assert_int_equal(mkdir(in(s, "open"), 0755), 0);
	assert_int_equal(chmod(in(s, "open"), 0777), 0);
	assert_int_equal(safefile_open(in(s, "open/log"), O_WRONLY | O_CREAT, 0640, (uid_t)-1,
	                               &created, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "is writable by every user and has no sticky bit"));
	assert_non_null(strstr(err, in(s, "open")));
	assert_int_equal(access(in(s, "open/log"), F_OK), -1);
	assert_int_equal(safefile_check_dir(in(s, "open/log"), (uid_t)-1, err, sizeof err), -1);
	/* The sticky bit makes it safe, as /tmp is: nobody can swap another's file there. */
	assert_int_equal(chmod(in(s, "open"), 01777), 0);
	assert_int_equal(safefile_check_dir(in(s, "open/log"), (uid_t)-1, err, sizeof err), 0);
}

static void world_writable_ancestor_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	assert_int_equal(mkdir(in(s, "open"), 0777), 0);
	assert_int_equal(chmod(in(s, "open"), 0777), 0);
	assert_int_equal(mkdir(in(s, "open/deep"), 0755), 0);
	assert_int_equal(safefile_open(in(s, "open/deep/log"), O_WRONLY | O_CREAT, 0640, (uid_t)-1,
	                               &created, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "has no sticky bit"));
}

static void group_writable_directory_trusted(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int fd, created;

	assert_int_equal(mkdir(in(s, "grp"), 0755), 0);
	assert_int_equal(chmod(in(s, "grp"), 0775), 0);
	fd = safefile_open(in(s, "grp/log"), O_WRONLY | O_CREAT, 0640, (uid_t)-1, &created, err,
	                   sizeof err);
	assert_true(fd >= 0);
	close(fd);
}

static void symlinked_directory_in_a_trusted_one_is_followed(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int fd, created;

	/* As /var/run -> /run: a link among the directories, placed by a trusted owner. */
	assert_int_equal(mkdir(in(s, "real"), 0755), 0);
	assert_int_equal(symlink("real", in(s, "run")), 0);
	fd = safefile_open(in(s, "run/qund.pid"), O_RDWR | O_CREAT, 0644, (uid_t)-1, &created, err,
	                   sizeof err);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access(in(s, "real/qund.pid"), F_OK), 0);
	/* ... but not into a directory that fails the check. */
	assert_int_equal(mkdir(in(s, "open"), 0777), 0);
	assert_int_equal(chmod(in(s, "open"), 0777), 0);
	assert_int_equal(symlink(in(s, "open"), in(s, "toopen")), 0);
	assert_int_equal(safefile_check_dir(in(s, "toopen/x"), (uid_t)-1, err, sizeof err), -1);
	assert_non_null(strstr(err, "no sticky bit"));
}

static void symlink_loop_fails(void **state)
{
	struct scratch *s = *state;
	char err[512];

	assert_int_equal(symlink("b", in(s, "a")), 0);
	assert_int_equal(symlink("a", in(s, "b")), 0);
	assert_int_equal(safefile_check_dir(in(s, "a/x"), (uid_t)-1, err, sizeof err), -1);
	assert_non_null(strstr(err, strerror(ELOOP)));
}

static void dot_dot_and_relative_paths(void **state)
{
	struct scratch *s = *state;
	char err[512], cwd[PATH_MAX];
	int fd, created;

	assert_int_equal(mkdir(in(s, "sub"), 0755), 0);
	fd = safefile_open(in(s, "sub/../rel"), O_WRONLY | O_CREAT, 0600, (uid_t)-1, &created, err,
	                   sizeof err);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access(in(s, "rel"), F_OK), 0);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(in(s, "sub")), 0);
	fd = safefile_open("here", O_WRONLY | O_CREAT, 0600, (uid_t)-1, &created, err, sizeof err);
	assert_int_equal(chdir(cwd), 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access(in(s, "sub/here"), F_OK), 0);
}

static void not_a_regular_file_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	/* A FIFO: refused, and without blocking in open() for want of a reader. */
	assert_int_equal(mkfifo(in(s, "fifo"), 0600), 0);
	assert_int_equal(safefile_open(in(s, "fifo"), O_WRONLY | O_APPEND | O_CREAT, 0640,
	                               (uid_t)-1, &created, err, sizeof err),
	                 -1);
	assert_int_equal(mkdir(in(s, "dir"), 0755), 0);
	assert_int_equal(
	    safefile_open(in(s, "dir"), O_RDONLY, 0, (uid_t)-1, &created, err, sizeof err), -1);
	assert_non_null(strstr(err, "is not a regular file"));
}

static void hard_linked_file_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	write_text(in(s, "secret"), "x", 0600);
	assert_int_equal(link(in(s, "secret"), in(s, "log")), 0);
	assert_int_equal(safefile_open(in(s, "log"), O_WRONLY | O_APPEND | O_CREAT, 0640, (uid_t)-1,
	                               &created, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "has 2 names (hard links)"));
}

static void truncates_only_after_the_checks(void **state)
{
	struct scratch *s = *state;
	char err[512];
	struct stat st;
	int fd, created;

	write_text(in(s, "secret"), "keep me", 0600);
	assert_int_equal(link(in(s, "secret"), in(s, "pid")), 0);
	assert_int_equal(
	    safefile_open(in(s, "pid"), O_RDWR | O_TRUNC, 0, (uid_t)-1, &created, err, sizeof err),
	    -1);
	assert_int_equal(stat(in(s, "secret"), &st), 0);
	assert_int_equal(st.st_size, 7);
	write_text(in(s, "own"), "old", 0600);
	fd = safefile_open(in(s, "own"), O_RDWR | O_TRUNC, 0, (uid_t)-1, &created, err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(fd);
}

static void path_without_a_name_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int created;

	assert_int_equal(
	    safefile_open(in(s, ""), O_RDONLY, 0, (uid_t)-1, &created, err, sizeof err), -1);
	assert_non_null(strstr(err, "does not end in a name"));
	assert_int_equal(safefile_check_dir("..", (uid_t)-1, err, sizeof err), -1);
}

static void missing_directory_named(void **state)
{
	char err[512];
	int created;

	(void)state;
	assert_int_equal(safefile_open("/nonexistent-dir/qund.log", O_WRONLY | O_CREAT, 0640,
	                               (uid_t)-1, &created, err, sizeof err),
	                 -1);
	assert_string_equal(err, "/nonexistent-dir/qund.log: No such file or directory");
}

static void mkdir_makes_exact_mode(void **state)
{
	struct scratch *s = *state;
	char err[512];
	struct stat st;
	int created = -1;

	umask(077);
	assert_int_equal(
	    safefile_mkdir(in(s, "run"), 0755, (uid_t)-1, (gid_t)-1, &created, err, sizeof err), 0);
	umask(022);
	assert_int_equal(created, 1);
	assert_int_equal(lstat(in(s, "run"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	/* An existing one: fine, not created, not changed. */
	assert_int_equal(chmod(in(s, "run"), 0700), 0);
	assert_int_equal(
	    safefile_mkdir(in(s, "run"), 0755, (uid_t)-1, (gid_t)-1, &created, err, sizeof err), 0);
	assert_int_equal(created, 0);
	assert_int_equal(lstat(in(s, "run"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void mkdir_refuses_a_world_writable_one(void **state)
{
	struct scratch *s = *state;
	char err[512];

	assert_int_equal(mkdir(in(s, "run"), 0755), 0);
	assert_int_equal(chmod(in(s, "run"), 0777), 0);
	assert_int_equal(
	    safefile_mkdir(in(s, "run"), 0755, (uid_t)-1, (gid_t)-1, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "has no sticky bit"));
	/* Nor a file, nor a link to a bad one. */
	write_text(in(s, "file"), "", 0600);
	assert_int_equal(
	    safefile_mkdir(in(s, "file"), 0755, (uid_t)-1, (gid_t)-1, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "is not a directory"));
	assert_int_equal(symlink(in(s, "run"), in(s, "link")), 0);
	assert_int_equal(
	    safefile_mkdir(in(s, "link"), 0755, (uid_t)-1, (gid_t)-1, NULL, err, sizeof err), -1);
}

/* Ownership needs a second user: only root can give a directory or a file away. */
static void others_directories_and_files_refused(void **state)
{
	struct scratch *s = *state;
	char err[512];
	int fd, created;

	if (geteuid() != 0) {
		skip(); /* giving files to another user needs root */
		return;
	}
	assert_int_equal(mkdir(in(s, "theirs"), 0755), 0);
	assert_int_equal(chown(in(s, "theirs"), 4242, 4242), 0);
	assert_int_equal(safefile_open(in(s, "theirs/log"), O_WRONLY | O_CREAT, 0640, (uid_t)-1,
	                               &created, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "belongs to uid 4242, not to root"));
	assert_int_equal(
	    safefile_mkdir(in(s, "theirs"), 0755, (uid_t)-1, (gid_t)-1, NULL, err, sizeof err), -1);
	/* Unless 4242 is the user the daemon becomes. */
	fd = safefile_open(in(s, "theirs/log"), O_WRONLY | O_CREAT, 0640, 4242, &created, err,
	                   sizeof err);
	assert_true(fd >= 0);
	close(fd);
	/* A file of someone else's in a directory of ours. */
	write_text(in(s, "planted"), "", 0666);
	assert_int_equal(chown(in(s, "planted"), 4343, 4343), 0);
	assert_int_equal(safefile_open(in(s, "planted"), O_WRONLY | O_APPEND | O_CREAT, 0640, 4242,
	                               &created, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "belongs to uid 4343, not to root or uid 4242"));
	/* A directory made for the daemon's user is given to it. */
	assert_int_equal(safefile_mkdir(in(s, "run"), 0755, 4242, 4243, &created, err, sizeof err),
	                 0);
	{
		struct stat st;

		assert_int_equal(lstat(in(s, "run"), &st), 0);
		assert_int_equal(st.st_uid, 4242);
		assert_int_equal(st.st_gid, 4243);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(creates_and_reports_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(appends_to_an_existing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_without_create_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(symlink_at_the_path_is_not_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(dangling_symlink_is_not_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(world_writable_directory_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(world_writable_ancestor_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(group_writable_directory_trusted, setup, teardown),
	    cmocka_unit_test_setup_teardown(symlinked_directory_in_a_trusted_one_is_followed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(symlink_loop_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(dot_dot_and_relative_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(not_a_regular_file_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(hard_linked_file_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(truncates_only_after_the_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(path_without_a_name_refused, setup, teardown),
	    cmocka_unit_test(missing_directory_named),
	    cmocka_unit_test_setup_teardown(mkdir_makes_exact_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(mkdir_refuses_a_world_writable_one, setup, teardown),
	    cmocka_unit_test_setup_teardown(others_directories_and_files_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
