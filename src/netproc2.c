/* netproc2.c - qun's v2 network process: drives the client2 engine over the socket and prints the
 * room. */
#include "netproc2.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

#define QUIT_GRACE_MS 4000 /* how long we try to say goodbye once asked to leave */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Print one line of (already safe) text, keeping the prompt on a terminal. */
static void show(const struct netproc2 *n, const char *line)
{
	printf("%s%s\n%s", n->fancy ? "\r\033[K" : "", line, n->tty ? "> " : "");
	fflush(stdout);
}

static void show_ui(const struct netproc2 *n, enum ui_text t, const char *arg)
{
	char line[1024];

	ui_format(line, sizeof line, ui_text(n->lang, t), arg, NULL);
	show(n, line);
}

static void cb_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct netproc2 *n = ctx;

	(void)send(n->udp, buf, len, MSG_NOSIGNAL);
}

/* An event, formatted in our own language, made safe for the terminal. */
static void cb_event(void *ctx, enum v1_event ev, const char *name, const char *text, size_t len)
{
	struct netproc2 *n = ctx;
	static char line[V2_MAX_TEXT + 128], safe[(V2_MAX_TEXT + 128) * 4 + 1];
	int k = v1_format_event(line, sizeof line, n->lang, ev, name, text, len);

	if (k < 0)
		return;
	text_sanitize(line, (size_t)k, safe, sizeof safe);
	show(n, safe);
}

static void cb_notice(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct netproc2 *n = ctx;
	char safe[QUN_MAX_DATAGRAM * 4 + 1];

	(void)code;
	(void)detail;
	text_sanitize(text, len, safe, sizeof safe);
	show_ui(n, UI_NOTICE, safe);
}

static void cb_refused(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct netproc2 *n = ctx;
	char safe[QUN_MAX_DATAGRAM * 4 + 1], line[QUN_MAX_DATAGRAM * 4 + 64];

	(void)code;
	(void)detail;
	text_sanitize(text, len, safe, sizeof safe);
	ui_format(line, sizeof line, ui_text(n->lang, UI_REFUSED), safe, NULL);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void cb_link(void *ctx, int reconnecting)
{
	struct netproc2 *n = ctx;

	show_ui(n, reconnecting ? UI_RECONNECTING : UI_RECONNECTED, NULL);
}

static void cb_closed(void *ctx, int reason)
{
	struct netproc2 *n = ctx;

	show_ui(n,
	        reason == V2_CLOSE_KICKED     ? UI_KICKED
	        : reason == V2_CLOSE_SHUTDOWN ? UI_SERVER_CLOSED
	                                      : UI_LEFT,
	        NULL);
}

/* Read every waiting datagram into the engine (then one c2_poll acknowledges them all). */
static void drain_socket(struct netproc2 *n)
{
	uint8_t buf[QUN_MAX_DATAGRAM + 1];
	ssize_t k;

	for (;;) {
		k = recv(n->udp, buf, sizeof buf, MSG_DONTWAIT);
		if (k < 0 && errno == ECONNREFUSED)
			c2_on_unreachable(&n->engine);
		else if (k < 0 && errno != EINTR)
			return;
		else if (k > 0 && (size_t)k <= QUN_MAX_DATAGRAM)
			c2_on_datagram(&n->engine, buf, (size_t)k, clock_ms());
	}
}

static int wait_ms(uint64_t until, uint64_t now)
{
	uint64_t d = until > now ? until - now : 0;

	/* At most a second: a signal between the flag test and poll() is then noticed soon. */
	return d > 1000 ? 1000 : (int)d;
}

int netproc2_login(struct netproc2 *n, const char *name, unsigned keepalive)
{
	struct c2_callbacks cb = {.ctx = n,
	                          .send = cb_send,
	                          .event = cb_event,
	                          .notice = cb_notice,
	                          .refused = cb_refused,
	                          .link = cb_link,
	                          .closed = cb_closed};
	struct pollfd p = {.fd = n->udp, .events = POLLIN};

	if (n->engine.cb.send == NULL)
		c2_init(&n->engine, name, keepalive, &cb);
	c2_start(&n->engine, name, clock_ms());
	for (;;) {
		uint64_t next = c2_poll(&n->engine, clock_ms());

		if (n->engine.state == C2_ONLINE)
			return 1;
		if (n->engine.state == C2_REFUSED)
			return 0;
		if (n->engine.state == C2_UNREACHABLE)
			return -1;
		if (poll(&p, 1, wait_ms(next, clock_ms())) > 0)
			drain_socket(n);
		if (n->engine.state == C2_ONLINE)
			return 1;
	}
}

/* One message from the input process.  Returns -1 when it has gone. */
static int from_input(struct netproc2 *n, int ipc)
{
	char buf[V2_MAX_TEXT + 2];
	ssize_t k = recv(ipc, buf, sizeof buf, MSG_DONTWAIT);

	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (k == 0)
		return -1;
	if (buf[0] == IPC_QUIT)
		c2_quit(&n->engine);
	else if (buf[0] == IPC_SAY && k > 1 && c2_say(&n->engine, buf + 1, (size_t)k - 1) < 0)
		show_ui(n, UI_BAD_INPUT, qerr_text(n->lang, QERR_TEXT_INVALID, TEXT_TOO_LONG));
	return 0;
}

void netproc2_main(struct netproc2 *n, int ipc)
{
	struct pollfd p[2] = {{.fd = n->udp, .events = POLLIN}, {.fd = ipc, .events = POLLIN}};
	struct sigaction sa;
	sigset_t none;
	uint64_t leave_by = 0;
	int input_gone = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term; /* no SA_RESTART: poll must return to see the flag */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN); /* Ctrl-C is the input process's: it asks us to quit */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	while (n->engine.state != C2_CLOSED) {
		uint64_t now = clock_ms(), next;

		if ((got_term || input_gone || n->orphaned) && leave_by == 0) {
			c2_quit(&n->engine);
			leave_by = now + QUIT_GRACE_MS;
		}
		if (n->engine.quitting && leave_by == 0)
			leave_by = now + QUIT_GRACE_MS;
		if (leave_by != 0 && now >= leave_by)
			_exit(1); /* the server never confirmed */
		next = c2_poll(&n->engine, now);
		if (n->engine.state == C2_CLOSED)
			break;
		if (leave_by != 0 && leave_by < next)
			next = leave_by;
		p[1].fd = input_gone ? -1 : ipc;
		if (poll(p, 2, wait_ms(next, clock_ms())) < 0 && errno != EINTR)
			_exit(1);
		if (p[0].revents & POLLIN)
			drain_socket(n);
		if (!input_gone && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    from_input(n, ipc) < 0)
			input_gone = 1;
	}
	_exit(0);
}
