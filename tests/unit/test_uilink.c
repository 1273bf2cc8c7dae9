/* test_uilink.c - unit tests of src/qun/uilink.c: what waits, what is dropped, what is said about
 * it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/text.h"
#include "qun/client2.h"
#include "qun/ipc.h"
#include "qun/uilink.h"

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

/* Chat line number i: "line I". */
static void send_numbered(struct uilink *l, int i)
{
	char text[32];
	int n = snprintf(text, sizeof text, "line %d", i);

	uilink_line(l, IPC_LINE_CHAT, 0, NULL, 0, IPC_NO_NAME_AT, text, (size_t)n);
}

/*
 * What the UI reads, in order: the number of each numbered line (-1 for
 * anything else), and the count of the last drop notice seen.
 */
struct seen {
	int num[20000];
	size_t n;
	unsigned long lost;     /* the count the last drop notice gave, 0 if none came */
	unsigned long lost_sum; /* the counts of all of them */
	size_t lost_at;         /* how many lines came before it */
	int types[16];          /* the last messages' types (LINE kinds as 'L'), in order */
	size_t ntypes;
};

static void record(struct seen *s, const struct ipc_msg *m)
{
	char text[256];
	int k;

	if (s->ntypes < sizeof s->types / sizeof s->types[0])
		s->types[s->ntypes++] = m->type;
	else {
		memmove(s->types, s->types + 1, sizeof s->types - sizeof s->types[0]);
		s->types[s->ntypes - 1] = m->type;
	}
	if (m->type != IPC_LINE)
		return;
	snprintf(text, sizeof text, "%.*s", (int)m->text_len, m->text);
	if (m->kind == IPC_LINE_NOTICE) {
		assert_int_equal(sscanf(text, "%lu messages came too fast", &s->lost), 1);
		s->lost_sum += s->lost;
		s->lost_at = s->n;
		return;
	}
	if (sscanf(text, "line %d", &k) == 1 && s->n < sizeof s->num / sizeof s->num[0])
		s->num[s->n++] = k;
}

/* Read what is there without waiting; returns how many messages came. */
static size_t read_some(int fd, struct seen *s)
{
	struct ipc_msg m;
	size_t count = 0;
	ssize_t n;

	while ((n = recv(fd, got, sizeof got, MSG_DONTWAIT)) > 0) {
		assert_int_equal(ipc_decode(got, (size_t)n, &m), IPC_OK);
		record(s, &m);
		count++;
	}
	return count;
}

/* The UI catches up: read and flush in turns until nothing waits. */
static void catch_up(struct uilink *l, int fd, struct seen *s)
{
	int rounds = 0;

	do {
		read_some(fd, s);
		uilink_flush(l);
		assert_true(++rounds < 100000);
	} while (uilink_pending(l));
	read_some(fd, s);
}

/* Tests */

/* The UI stalls while 1,000 lines arrive: nothing blocks, and all 1,000 come in order. */
static void stalled_ui_gets_every_line_in_order(void **state)
{
	static struct seen s;
	struct uilink l;
	uint64_t t0;
	int fd[2], i;

	(void)state;
	memset(&s, 0, sizeof s);
	link_open(&l, fd, 2000);
	t0 = now_ms();
	for (i = 0; i < 1000; i++)
		send_numbered(&l, i);
	assert_true(now_ms() - t0 < 1000); /* never waited for the UI */
	assert_true(uilink_pending(&l));   /* the small buffer could not take them all */
	assert_int_equal(l.dropped, 0);
	catch_up(&l, fd[0], &s);
	assert_int_equal(s.n, 1000);
	for (i = 0; i < 1000; i++)
		assert_int_equal(s.num[i], i);
	assert_int_equal(s.lost, 0);
	uilink_free(&l);
	close(fd[0]);
	close(fd[1]);
}

/*
 * Past UILINK_QUEUE_MAX waiting lines, lines are dropped, and the UI is
 * told in the gap's place, with the exact count, before what follows.
 */
static void overflow_is_told_in_place_with_the_exact_count(void **state)
{
	static struct seen s;
	struct uilink l;
	const int total = UILINK_QUEUE_MAX + 3000;
	int fd[2], i;

	(void)state;
	memset(&s, 0, sizeof s);
	link_open(&l, fd, 2000);
	for (i = 0; i < total; i++)
		send_numbered(&l, i);
	assert_true(l.dropped > 0);
	assert_int_equal(l.lines, UILINK_QUEUE_MAX);
	catch_up(&l, fd[0], &s);
	send_numbered(&l, total); /* after the gap, with room again: it goes */
	catch_up(&l, fd[0], &s);
	assert_int_equal(s.lost, l.dropped);
	assert_int_equal(s.n + s.lost, (size_t)total + 1);
	assert_int_equal(s.lost_at, s.n - 1); /* the notice came just before the last line */
	for (i = 0; i < (int)s.lost_at; i++)
		assert_int_equal(s.num[i], i);
	assert_int_equal(s.num[s.n - 1], total);
	uilink_free(&l);
	close(fd[0]);
	close(fd[1]);
}

/* WHO, STATE and EXITED are never dropped, however full the queue of lines. */
static void control_messages_are_never_dropped(void **state)
{
	static struct seen s;
	static const char *const names[] = {"ann", "bob"};
	struct uilink l;
	int fd[2], i;

	(void)state;
	memset(&s, 0, sizeof s);
	link_open(&l, fd, 2000);
	for (i = 0; i < UILINK_QUEUE_MAX + 100; i++)
		send_numbered(&l, i);
	uilink_state(&l, IPC_RECONNECTING);
	uilink_who(&l, IPC_WHO_COMPLETE, 2, NULL, names, 2);
	send_numbered(&l, -1); /* dropped: the queue of lines is still full */
	catch_up(&l, fd[0], &s);
	/* In order: the lines, a notice, STATE, WHO, a notice for the one after. */
	assert_true(s.ntypes >= 4);
	assert_int_equal(s.types[s.ntypes - 1], IPC_LINE);
	assert_int_equal(s.types[s.ntypes - 2], IPC_WHO);
	assert_int_equal(s.types[s.ntypes - 3], IPC_STATE);
	assert_int_equal(s.types[s.ntypes - 4], IPC_LINE);
	assert_int_equal(s.lost, 1);
	assert_int_equal(s.lost_sum, l.dropped);
	assert_int_equal(s.n + l.dropped, UILINK_QUEUE_MAX + 101);
	uilink_free(&l);
	close(fd[0]);
	close(fd[1]);
}

/*
 * The UI, late: after ms, read everything until the other end closes;
 * exit 0 if it got lines 0..n-1 in order and then EXITED, last.
 */
static void __attribute__((noreturn)) late_reader(const int fd[2], int ms, int n)
{
	static struct seen s;
	struct ipc_msg m;
	ssize_t k;
	int i;

	close(fd[1]);
	usleep((useconds_t)ms * 1000);
	while ((k = recv(fd[0], got, sizeof got, 0)) > 0) {
		if (ipc_decode(got, (size_t)k, &m) != IPC_OK)
			_exit(2);
		record(&s, &m);
	}
	if (s.n != (size_t)n || s.lost != 0 || s.ntypes == 0 || s.types[s.ntypes - 1] != IPC_EXITED)
		_exit(1);
	for (i = 0; i < n; i++)
		if (s.num[i] != i)
			_exit(3);
	_exit(0);
}

/* The end: EXITED goes after every line that waited, however late the UI reads. */
static void exited_goes_after_everything_queued(void **state)
{
	struct uilink l;
	int fd[2], status, i;
	pid_t pid;

	(void)state;
	link_open(&l, fd, 5000);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		late_reader(fd, 300, 2000);
	close(fd[0]);
	for (i = 0; i < 2000; i++)
		send_numbered(&l, i);
	uilink_exited(&l, IPC_EXIT_ENDED);
	assert_false(uilink_pending(&l));
	uilink_free(&l);
	close(fd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A UI that never reads again is given up after wait_ms without progress. */
static void exited_gives_up_on_a_ui_that_stopped_reading(void **state)
{
	struct uilink l;
	uint64_t t0, took;
	int fd[2], i;

	(void)state;
	link_open(&l, fd, 150);
	for (i = 0; i < 200; i++)
		send_numbered(&l, i);
	t0 = now_ms();
	uilink_exited(&l, IPC_EXIT_ENDED);
	took = now_ms() - t0;
	assert_true(took >= 140 && took < 2000);
	assert_true(uilink_pending(&l));
	assert_false(l.gone);
	uilink_free(&l);
	close(fd[0]);
	close(fd[1]);
}

static void closed_ui_does_not_wait(void **state)
{
	struct uilink l;
	uint64_t t0;
	int fd[2], i;

	(void)state;
	link_open(&l, fd, 5000);
	for (i = 0; i < 200; i++)
		send_numbered(&l, i);
	close(fd[0]);
	t0 = now_ms();
	uilink_who(&l, IPC_WHO_NO_REPLY, 0, NULL, NULL, 0);
	uilink_exited(&l, IPC_EXIT_ENDED);
	assert_true(now_ms() - t0 < 1000);
	assert_true(l.gone);
	assert_false(uilink_pending(&l)); /* nobody to tell: the queue is given back */
	uilink_free(&l);
	close(fd[1]);
}

/* A link over a socketpair with the system's buffer, which takes a message of IPC_MAX. */
static void link_open_wide(struct uilink *l, int fd[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
	memset(l, 0, sizeof *l);
	l->fd = fd[1];
	l->lang = LANG_EN;
	l->wait_ms = 100;
}

/* The one LINE the UI gets next. */
static struct ipc_msg read_line(int fd)
{
	struct ipc_msg m;
	ssize_t k = recv(fd, got, sizeof got, MSG_DONTWAIT);

	assert_true(k > 0);
	assert_int_equal(ipc_decode(got, (size_t)k, &m), IPC_OK);
	assert_int_equal(m.type, IPC_LINE);
	return m;
}

/* A list of a thousand rooms (about 50 KB) is one LINE, whole: nothing of it is cut. */
static void long_text_goes_whole_in_one_line(void **state)
{
	static char list[C2_LIST_MAX * 64];
	struct uilink l;
	struct ipc_msg m;
	size_t o = 0;
	int fd[2], i;

	(void)state;
	for (i = 0; i < C2_LIST_MAX; i++)
		o += (size_t)snprintf(list + o, sizeof list - o,
		                      "%s#聊天室房间名字%04d (4294967295)", i > 0 ? "、" : "", i);
	assert_true(o > 40000);
	link_open_wide(&l, fd);
	uilink_text(&l, IPC_LINE_NOTICE, UI_ROOMS_ALL, list, NULL);
	assert_false(uilink_pending(&l));
	m = read_line(fd[0]);
	assert_int_equal(m.text_len, strlen("all rooms: ") + o);
	assert_memory_equal(m.text + strlen("all rooms: "), list, o);
	close(fd[0]);
	close(fd[1]);
	uilink_free(&l);
}

/* Past what a LINE takes, the text is cut, and never inside a UTF-8 character. */
static void text_past_a_line_is_cut_between_characters(void **state)
{
	static char big[IPC_MAX + 64];
	struct uilink l;
	struct ipc_msg m;
	size_t o, lead;
	int fd[2];

	(void)state;
	for (lead = 0; lead < 3; lead++) {
		/* lead ASCII bytes first, so that the cut falls at each place in a character. */
		memset(big, 'x', lead);
		for (o = lead; o + 3 < sizeof big; o += 3)
			memcpy(big + o, "好", 3);
		big[o] = '\0';
		link_open_wide(&l, fd);
		uilink_text(&l, IPC_LINE_NOTICE, UI_NOTICE, big, NULL);
		m = read_line(fd[0]);
		assert_true(m.text_len <= UILINK_TEXT_MAX);
		assert_true(m.text_len > UILINK_TEXT_MAX - 3);
		assert_true(utf8_valid(m.text, m.text_len));
		assert_memory_equal(m.text + m.text_len - 3, "好", 3);
		close(fd[0]);
		close(fd[1]);
		uilink_free(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stalled_ui_gets_every_line_in_order),
	    cmocka_unit_test(overflow_is_told_in_place_with_the_exact_count),
	    cmocka_unit_test(control_messages_are_never_dropped),
	    cmocka_unit_test(exited_goes_after_everything_queued),
	    cmocka_unit_test(exited_gives_up_on_a_ui_that_stopped_reading),
	    cmocka_unit_test(closed_ui_does_not_wait),
	    cmocka_unit_test(long_text_goes_whole_in_one_line),
	    cmocka_unit_test(text_past_a_line_is_cut_between_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
