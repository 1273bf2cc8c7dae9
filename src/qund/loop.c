/* loop.c - qund's event loop: epoll over the UDP socket, signals, the tick, the console, control.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/sizes.h"
#include "proto/wire2.h"
#include "console.h"
#include "control.h"
#include "history.h"
#include "operator.h"
#include "room.h"
#include "sanction.h"
#include "steer.h"

#define RECV_BATCH  64 /* datagrams per recvmmsg() */
#define RECV_ROUNDS 16 /* batches per wake-up before the timers and the console get a turn */

/*
 * One recvmmsg() of up to RECV_BATCH datagrams from fd: hand each to its
 * protocol (v2 by its first byte; v1 only with --legacy), then send what
 * the batch caused (server_before_sleep): with input that never stops,
 * flushing only when the socket is empty would send nothing and let every
 * member's queue overflow (docs/PERFORMANCE.md).  MSG_TRUNC makes msg_len
 * the datagram's full length, so an oversized one is refused whole.  The
 * buffers are static: one thread, and 77 KB is too much for the stack.
 * Returns the number of datagrams read, 0 if there were none.
 */
#ifdef QUN_TRACE
/* Room for the SCM_TIMESTAMPNS of each datagram (trace.h). */
static char cmsgs[RECV_BATCH][CMSG_SPACE(sizeof(struct timespec))];
#endif

static int read_batch(struct server *s, int fd)
{
	static char buf[RECV_BATCH][QUN_MAX_DATAGRAM + 1];
	static struct peer_addr from[RECV_BATCH];
	static struct mmsghdr msgs[RECV_BATCH];
	static struct iovec iov[RECV_BATCH];
	int i, n;
#ifdef QUN_TRACE
	struct timespec read_real;
	uint64_t read_mono;
#endif

	for (i = 0; i < RECV_BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof buf[i];
		memset(&from[i], 0, sizeof from[i]);
		memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
		msgs[i].msg_hdr.msg_name = &from[i].sa;
		msgs[i].msg_hdr.msg_namelen = sizeof from[i].sa;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
#ifdef QUN_TRACE
		msgs[i].msg_hdr.msg_control = cmsgs[i];
		msgs[i].msg_hdr.msg_controllen = sizeof cmsgs[i];
#endif
	}
	do
		n = recvmmsg(fd, msgs, RECV_BATCH, MSG_TRUNC | MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
#ifdef QUN_TRACE
	read_mono = now_us();
	clock_gettime(CLOCK_REALTIME, &read_real);
#endif
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("recvmmsg");
		return 0;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *d = (const uint8_t *)buf[i];
		size_t len = msgs[i].msg_len;
		const struct proto_ops *p = s->proto[v2_is_v2(d, len) ? 2 : 1];

		from[i].len = msgs[i].msg_hdr.msg_namelen;
		s->st.datagrams_in++;
		TRACE(trace_datagram(
		    &s->trace,
		    net_arrival_ns(&msgs[i].msg_hdr, read_mono * 1000, &read_real) / 1000,
		    read_mono));
		if (p != NULL)
			p->handle(s, &from[i], d, len);
		else
			s->st.sdrops[SDROP_V1_DISABLED]++;
	}
	server_before_sleep(s);
	return n;
}

/*
 * Read the waiting datagrams: each round one batch from the chat socket,
 * then up to ACK_DRAIN batches from the ACK socket (steer.h), until both
 * are empty or RECV_ROUNDS rounds are done.  So a chat line waits behind
 * at most the ACKs of one round, not behind every ACK that came before
 * it; and the ACKs keep up with the fan-outs (a line to a thousand
 * members brings about 125 back), which they must: a window that does not
 * drain stops the room's output.  Under a flood of anything else the ACKs
 * still get their reads.  The first round reads the sockets epoll found
 * readable (ready: bit STEER_REST, bit STEER_ACKS); every later one tries
 * the chat socket again, since a line may have come during the last
 * round's work.  Returns the number of datagrams read.
 */
#define ACK_DRAIN 4 /* ACK batches per round: about a line's ACKs in a room of 2,000 */

static int on_udp(struct server *s, unsigned ready)
{
	int round, k, n, acks, total = 0;

	for (round = 0; round < RECV_ROUNDS; round++) {
		n = (ready & 1u << STEER_REST) != 0 ? read_batch(s, s->udp) : 0;
		total += n;
		acks = 0;
		for (k = 0; k < ACK_DRAIN && (ready & 1u << STEER_ACKS) != 0; k++) {
			acks = read_batch(s, s->udp_acks);
			s->st.acks_apart += (unsigned)acks;
			total += acks;
			if (acks < RECV_BATCH)
				break;
		}
		if (n < RECV_BATCH && acks < RECV_BATCH)
			break; /* both queues are empty: no need to ask again for EAGAIN */
		ready = 1u << STEER_REST | (acks == RECV_BATCH ? 1u << STEER_ACKS : 0);
	}
	return total;
}

#define MODERATE_INPUT (2000 * TICK_MS / 1000) /* a tick's datagrams that turn it on */
#define MODERATE_FEW   16 /* a wake-up that read fewer datagrams than this was a trickle */

/*
 * Receive moderation, the user-space form of a network card's rx-usecs:
 * while the last tick read more than MODERATE_INPUT datagrams, a wake-up
 * that read fewer than MODERATE_FEW datagrams, none of which made an event
 * in the room, and took less than the pause is followed by a pause of up
 * to --coalesce microseconds, in which ACKs gather into one batch.  Why:
 * in a busy v2 room most datagrams are ACKs arriving as a trickle, and a
 * wake-up per few of them costs more than the datagrams.  The pause waits
 * on the chat socket (steer.h), so anything but an ACK ends it at once and
 * a chat line never waits for one; a junk datagram costs one wake-up, as
 * it would without moderation.  A wake-up that made an event is not
 * followed by a pause: its sender is active, and in an all-chat room (v1)
 * every pause would end at once for nothing.  The switch is the input
 * rate, not the wake-ups, which the pauses themselves bring down.
 * Without the steering (s->steered 0) a chat line could wait in the ACK
 * socket, so there is no pause.
 * Measurements: docs/PERFORMANCE.md, "Receive moderation".  Called after
 * each wake-up on the UDP sockets with the datagrams it read, the
 * microseconds they took, and s->wake_events counted since it began.
 */
static void moderate(struct server *s, int nread, uint64_t busy_us)
{
	struct timespec pause = {0, (long)s->coalesce_us * 1000};
	struct pollfd chat = {.fd = s->udp, .events = POLLIN};

	s->st.udp_wakeups++;
	s->tick_input += (unsigned)nread;
	if (!s->moderating || !s->steered || s->coalesce_us == 0 || nread == 0 ||
	    nread >= MODERATE_FEW || s->wake_events > 0 || busy_us >= s->coalesce_us)
		return;
	if (ppoll(&chat, 1, &pause, NULL) > 0)
		s->st.rx_pauses_cut++;
	s->st.rx_pauses++;
}

/* Once per tick: moderate the next ticks' input if the input since the last was heavy. */
static void moderate_tick(struct server *s, uint64_t expirations)
{
	s->moderating =
	    s->tick_input > MODERATE_INPUT * expirations; /* a late tick covers several */
	s->tick_input = 0;
}

/* UDP sockets are readable (ready: as on_udp): read, answer, and moderate the next wake-up. */
static void on_udp_ready(struct server *s, unsigned ready)
{
	uint64_t t0 = now_us();
	int n;

	s->wake_events = 0; /* only this wake-up's events count (a tick's evictions do not) */
	n = on_udp(s, ready);
	moderate(s, n, now_us() - t0);
}

static void on_console(struct server *s)
{
	char line[CONSOLE_MAX_LINE + 1];
	ssize_t n;

	n = recv(s->console, line, sizeof line - 1, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* The console child is gone (end of input): serve on without it. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->console, NULL);
		close(s->console);
		s->console = -1;
		return;
	}
	line[n] = '\0';
	operator_console_line(s, line, (size_t)n);
}

/* Reap every child that has ended, saying how a console that failed went. */
static void reap_children(struct server *s)
{
	pid_t pid;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == s->console_pid)
			s->console_pid = 0;
		if (WIFSIGNALED(status))
			log_warnx("console process %ld killed by signal %d", (long)pid,
			          WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("console process %ld exited with status %d", (long)pid,
			          WEXITSTATUS(status));
	}
}

static void on_signal(struct server *s)
{
	struct signalfd_siginfo si;
	char err[PATH_MAX + 64];

	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			reap_children(s);
		} else if (si.ssi_signo == SIGHUP) {
			if (log_reopen(err, sizeof err) < 0)
				log_warnx("SIGHUP: cannot reopen the log, keeping the old file: %s",
				          err);
			else
				log_info("SIGHUP: log reopened");
		} else {
			log_info("SIG%s: stopping", sigabbrev_np((int)si.ssi_signo));
			s->stopping = 1;
		}
	}
}

/*
 * Every TICK_MS: evictions, the protocols' timers (their first slice: the
 * rest in on_tick_more), expired sanctions, history's retention, the
 * control socket.
 */
static void on_tick(struct server *s)
{
	uint64_t expirations, now = server_now(s);
	struct outcome o;
#ifdef QUN_TRACE
	uint64_t t0 = now_us();
#endif

	if (read(s->tickfd, &expirations, sizeof expirations) < 0)
		return;
	moderate_tick(s, expirations);
	while (room_expire(s->room, now, &o))
		server_deliver(s, &o, 0);
	s->tick_left = server_tick(s);
	sanction_expire(s->sanctions, now);
	history_tick(s, now);
	if (s->ctl != NULL)
		control_tick(s->ctl, now);
#ifdef QUN_TRACE
	trace_span(&s->trace, TRACE_TICK, t0, now_us());
#endif
}

/* The next slice of the tick's work, after the loop has read what came meanwhile. */
static void on_tick_more(struct server *s)
{
#ifdef QUN_TRACE
	uint64_t t0 = now_us();
#endif

	s->tick_left = server_tick_more(s);
#ifdef QUN_TRACE
	trace_span(&s->trace, TRACE_TICK, t0, now_us());
#endif
}

int loop_add_fd(struct server *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_make_tick(void)
{
	struct itimerspec its = {
	    .it_interval = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L},
	    .it_value = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void loop_run(struct server *s)
{
	struct epoll_event evs[8];
	unsigned ready;
	int i, n, tick;

	while (!s->stopping) {
		/* While the tick's work is left, only look: its next slice comes after the reads.
		 */
		n = epoll_wait(s->epfd, evs, 8, s->tick_left ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		ready = 0;
		tick = 0;
		for (i = 0; i < n && !s->stopping; i++) {
			int fd = evs[i].data.fd;

			if (fd == s->udp) {
				ready |= 1u << STEER_REST; /* both are read together, below */
			} else if (fd == s->udp_acks) {
				ready |= 1u << STEER_ACKS;
			} else if (fd == s->sigfd) {
				on_signal(s);
			} else if (fd == s->tickfd) {
				tick =
				    1; /* after the reads: a line that waits is not kept waiting */
			} else if (fd == s->console) {
				on_console(s);
			} else if (s->ctl != NULL && fd == control_fd(s->ctl)) {
				control_run(s->ctl, server_now(s));
			}
		}
		if (ready != 0 && !s->stopping)
			on_udp_ready(s, ready);
		if (tick && !s->stopping)
			on_tick(s);
		else if (s->tick_left && !s->stopping)
			on_tick_more(s);
		server_before_sleep(s);
	}
}
