/* test_uilink.c - unit tests of src/uilink.c: which events may be dropped when the UI falls behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "uilink.h"

static unsigned char got[IPC_MAX];

/* Helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A link over a fresh socketpair (fd[0] is the UI's end), with a small buffer to fill. */
static void link_open(struct uilink *l, int fd[2], int wait_ms)
{
	int small = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
	assert_int_equal(setsockopt(fd[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
	memset(l, 0, sizeof *l);
	l->fd = fd[1];
	l->lang = LANG_EN;
	l->wait_ms = wait_ms;
}

/* Chat lines until the UI's end has no more room: the first one lost. */
static void fill(struct uilink *l)
{
	int i;

	for (i = 0; i < 100000 && l->lost == 0; i++)
		uilink_line(l, IPC_LINE_CHAT, 0, "ann", 3, 0, "ann: hello", 10);
	assert_int_equal(l->lost, 1);
	assert_false(l->gone);
}

/*
 * The UI, late: after ms, read everything until the other end closes, and
 * exit 0 if the last two messages were the note of lost lines and then a
 * STATE.
 */
static void __attribute__((noreturn)) late_reader(const int fd[2], int ms)
{
	struct ipc_msg m;
	int last = -1, before = -1;
	ssize_t n;

	close(fd[1]);
	usleep((useconds_t)ms * 1000);
	while ((n = recv(fd[0], got, sizeof got, 0)) > 0) {
		if (ipc_decode(got, (size_t)n, &m) != IPC_OK)
			_exit(2);
		before = last;
		last = m.type == IPC_LINE ? (int)m.kind : 100 + (int)m.type;
	}
	_exit(before == IPC_LINE_NOTICE && last == 100 + IPC_STATE ? 0 : 1);
}

/* Tests */

static void line_dropped_when_full(void **state)
{
	struct uilink l;
	uint64_t t0;
	int fd[2];

	(void)state;
	link_open(&l, fd, 2000);
	fill(&l);
	t0 = now_ms();
	uilink_line(&l, IPC_LINE_CHAT, 0, NULL, 0, IPC_NO_NAME_AT, "x", 1);
	assert_true(now_ms() - t0 < 500); /* a line never waits */
	assert_int_equal(l.lost, 2);
	close(fd[0]);
	close(fd[1]);
}

static void control_waits_for_room(void **state)
{
	struct uilink l;
	int fd[2], status;
	pid_t pid;

	(void)state;
	link_open(&l, fd, 5000);
	fill(&l);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		late_reader(fd, 200);
	uilink_state(&l, IPC_RECONNECTING);
	assert_int_equal(l.lost, 0); /* the note went, and so did the STATE */
	assert_false(l.gone);
	close(fd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd[0]);
}

static void control_gives_up_at_deadline(void **state)
{
	struct uilink l;
	uint64_t t0, took;
	int fd[2];

	(void)state;
	link_open(&l, fd, 150);
	fill(&l);
	t0 = now_ms();
	uilink_exited(&l, IPC_EXIT_ENDED);
	took = now_ms() - t0;
	assert_true(took >= 140 && took < 2000);
	assert_int_equal(l.lost, 2);
	assert_false(l.gone);
	close(fd[0]);
	close(fd[1]);
}

static void control_to_closed_ui_does_not_wait(void **state)
{
	struct uilink l;
	uint64_t t0;
	int fd[2];

	(void)state;
	link_open(&l, fd, 5000);
	fill(&l);
	close(fd[0]);
	t0 = now_ms();
	uilink_who(&l, IPC_WHO_NO_REPLY, 0, NULL, 0);
	assert_true(now_ms() - t0 < 1000);
	assert_true(l.gone);
	close(fd[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(line_dropped_when_full),
	    cmocka_unit_test(control_waits_for_room),
	    cmocka_unit_test(control_gives_up_at_deadline),
	    cmocka_unit_test(control_to_closed_ui_does_not_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
