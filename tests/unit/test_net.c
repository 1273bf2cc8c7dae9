/* test_net.c - unit tests of src/common/net.c's net_arrival_ns: a datagram's kernel stamp on the
 * monotonic clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/net.h"

#define READ_MONO 5000000000ull /* ns: the monotonic time of the read */

/* The real-time clock at the read. */
static const struct timespec read_real = {.tv_sec = 1700000000, .tv_nsec = 500000000};

/* Room for one cmsg carrying a timespec, aligned as a cmsghdr. */
typedef union {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(struct timespec))];
} ctl_buf;

/* A message whose control data (in *ctl) holds one cmsg of level/type carrying *k. */
static struct msghdr with_stamp(ctl_buf *ctl, int level, int type, const struct timespec *k)
{
	struct msghdr m;
	struct cmsghdr *c;

	memset(&m, 0, sizeof m);
	memset(ctl, 0, sizeof *ctl);
	m.msg_control = ctl->buf;
	m.msg_controllen = sizeof ctl->buf;
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof *k);
	memcpy(CMSG_DATA(c), k, sizeof *k);
	return m;
}

static void stamp_moved_to_the_monotonic_clock(void **state)
{
	ctl_buf ctl;
	/* Stamped 2.25 ms before the read, across a second boundary of the real clock. */
	struct timespec k = {.tv_sec = 1700000000, .tv_nsec = 497750000};
	struct msghdr m = with_stamp(&ctl, SOL_SOCKET, SCM_TIMESTAMPNS, &k);

	(void)state;
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), READ_MONO - 2250000);
	k.tv_sec--;
	k.tv_nsec = 999000000; /* 501 ms before */
	m = with_stamp(&ctl, SOL_SOCKET, SCM_TIMESTAMPNS, &k);
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), READ_MONO - 501000000);
}

static void no_stamp_is_zero(void **state)
{
	ctl_buf ctl;
	struct timespec k = {.tv_sec = 1700000000, .tv_nsec = 0};
	struct msghdr m;

	(void)state;
	memset(&m, 0, sizeof m);
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), 0);
	m = with_stamp(&ctl, SOL_SOCKET, SCM_TIMESTAMP, &k); /* another kind */
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), 0);
	m = with_stamp(&ctl, SOL_IP, SCM_TIMESTAMPNS, &k); /* another level */
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), 0);
}

static void odd_stamps_are_the_read_time(void **state)
{
	ctl_buf ctl;
	/* After the read (the real clock was stepped back), and older than the monotonic clock. */
	struct timespec later = {.tv_sec = 1700000001, .tv_nsec = 0};
	struct timespec ancient = {.tv_sec = 1600000000, .tv_nsec = 0};
	struct msghdr m = with_stamp(&ctl, SOL_SOCKET, SCM_TIMESTAMPNS, &later);

	(void)state;
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), READ_MONO);
	m = with_stamp(&ctl, SOL_SOCKET, SCM_TIMESTAMPNS, &ancient);
	assert_int_equal(net_arrival_ns(&m, READ_MONO, &read_real), READ_MONO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stamp_moved_to_the_monotonic_clock),
	    cmocka_unit_test(no_stamp_is_zero),
	    cmocka_unit_test(odd_stamps_are_the_read_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
