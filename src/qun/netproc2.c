/* netproc2.c - qun's network side for protocol v2: drives the client2 engine, reports to the UI. */
#include "netproc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/text.h"
#include "proto/wire1.h"
#include "ipc.h"
#include "uilink.h"

#define QUIT_GRACE_MS 4000 /* how long we try to say goodbye once asked to leave */

/* The network process's state (and the engine's callbacks' context); one, static. */
struct np2 {
	struct net_session *s;
	struct uilink ui;
	int sigfd;
	uint64_t leave_by; /* ms: give up waiting for the server's goodbye; 0 while staying */
	int closed_reason; /* enum v2_close_reason, once the engine closed */
	char *reason;      /* during the login: where a refusal's reason goes */
	size_t reason_size;
};

static struct np2 np;
static unsigned char msgbuf[IPC_MAX];

static void cb_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct np2 *n = ctx;

	(void)send(n->s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * A room event as a LINE, phrased in our own language as v1 phrases it.
 * The text is passed on raw: the UI makes it safe where it shows it.
 */
static void emit_event(struct np2 *n, enum room_event ev, unsigned flags, const char *name,
                       const char *text, size_t len)
{
	static char line[V2_MAX_TEXT + 256];
	int k = v1_format_event(line, sizeof line, n->s->lang, ev, name, text, len);
	size_t name_len = name != NULL ? strlen(name) : 0;
	unsigned at = ev == EV_ACTION ? 2 : 0; /* "* NAME TEXT" */

	if (k < 0)
		return;
	if (ev == EV_ADMIN || ev == EV_SHUTDOWN || name_len == 0)
		uilink_line(&n->ui, uilink_line_kind(ev), flags, NULL, 0, IPC_NO_NAME_AT, line,
		            (size_t)k);
	else
		uilink_line(&n->ui, uilink_line_kind(ev), flags, name, name_len, at, line,
		            (size_t)k);
}

static void cb_event(void *ctx, enum room_event ev, const char *name, const char *text, size_t len)
{
	emit_event(ctx, ev, 0, name, text, len);
}

static void cb_notice(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct np2 *n = ctx;
	char line[QUN_MAX_DATAGRAM + 64];
	char reason[QUN_MAX_DATAGRAM + 1];

	(void)code;
	(void)detail;
	snprintf(reason, sizeof reason, "%.*s", (int)len, text);
	ui_format(line, sizeof line, ui_text(n->s->lang, UI_NOTICE), reason, NULL);
	uilink_line(&n->ui, IPC_LINE_ERROR, 0, NULL, 0, IPC_NO_NAME_AT, line, strlen(line));
}

static void cb_refused(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct np2 *n = ctx;

	(void)code;
	(void)detail;
	if (n->reason != NULL)
		snprintf(n->reason, n->reason_size, "%.*s", (int)len, text);
}

static void cb_link(void *ctx, int reconnecting)
{
	struct np2 *n = ctx;

	uilink_state(&n->ui, reconnecting ? IPC_RECONNECTING : IPC_CONNECTED);
}

static void cb_closed(void *ctx, int reason)
{
	struct np2 *n = ctx;

	n->closed_reason = reason;
	if (reason == V2_CLOSE_KICKED)
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_KICKED, NULL, NULL);
	else if (reason == V2_CLOSE_SHUTDOWN)
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_SERVER_CLOSED, NULL, NULL);
}

static void cb_who(void *ctx, int answered, uint32_t total, const char *const *names, size_t count)
{
	struct np2 *n = ctx;

	uilink_who(&n->ui, answered ? IPC_WHO_COMPLETE : IPC_WHO_NO_REPLY, total, names, count);
}

/* Read the waiting datagrams, IPC_BATCH at most, into the engine (one c2_poll acks them all). */
static void drain_socket(struct np2 *n)
{
	uint8_t buf[QUN_MAX_DATAGRAM + 1];
	ssize_t k;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		k = recv(n->s->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
		if (k < 0 && errno == ECONNREFUSED)
			c2_on_unreachable(&n->s->engine);
		else if (k < 0 && errno != EINTR)
			return;
		else if (k > 0 && (size_t)k <= QUN_MAX_DATAGRAM)
			c2_on_datagram(&n->s->engine, buf, (size_t)k, now_ms());
	}
}

/* ms to wait until `until`, at most a second (the loop re-checks its state at least that often). */
static int wait_ms(uint64_t until, uint64_t now)
{
	uint64_t d = until > now ? until - now : 0;

	return d > 1000 ? 1000 : (int)d;
}

enum net_login_result np2_login(struct net_session *s, char *reason, size_t size)
{
	struct c2_callbacks cb = {.ctx = &np,
	                          .send = cb_send,
	                          .event = cb_event,
	                          .notice = cb_notice,
	                          .refused = cb_refused,
	                          .link = cb_link,
	                          .closed = cb_closed,
	                          .who = cb_who};
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	struct c2 *c = &s->engine;

	/*
	 * The UI's end exists already (net_connect): anything the room says
	 * between our WELCOME and the fork waits there for the UI.
	 */
	np.s = s;
	np.ui.fd = s->ipc[1];
	np.ui.lang = s->lang;
	np.ui.wait_ms = UILINK_WAIT_MS;
	np.reason = reason;
	np.reason_size = size;
	if (size > 0)
		reason[0] = '\0';
	if (c->cb.send == NULL)
		c2_init(c, s->name, s->keepalive, &cb);
	c2_start(c, s->name, now_ms());
	s->max_text = V2_MAX_TEXT;
	for (;;) {
		uint64_t next = c2_poll(c, now_ms());

		if (c->state == C2_ONLINE)
			return NET_LOGIN_OK;
		if (c->state == C2_REFUSED)
			return NET_LOGIN_REFUSED;
		if (c->state == C2_UNREACHABLE)
			return NET_LOGIN_NO_REPLY;
		if (poll(&p, 1, wait_ms(next, now_ms())) > 0)
			drain_socket(&np);
		if (c->state == C2_ONLINE)
			return NET_LOGIN_OK;
	}
}

/* Say (or act, with me) what the UI sent, after the text rules; echo it for the user's record. */
static void say(struct np2 *n, int me, const char *text, size_t len)
{
	enum text_status ts = text_check_max(text, len, V2_MAX_TEXT);
	char have[32], limit[32];
	char copy[V2_MAX_TEXT + 1];

	if (ts == TEXT_TOO_LONG) {
		snprintf(have, sizeof have, "%zu", len);
		snprintf(limit, sizeof limit, "%d", V2_MAX_TEXT);
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_TOO_LONG, have, limit);
		return;
	}
	if (ts != TEXT_OK) {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_INPUT,
		            qerr_text(n->s->lang, QERR_TEXT_INVALID, (int)ts), NULL);
		return;
	}
	if ((me ? c2_me : c2_say)(&n->s->engine, text, len) < 0) {
		/* The queue is full (a long outage): refused now rather than lost later. */
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_INPUT,
		            qerr_text(n->s->lang, QERR_FLOOD, 0), NULL);
		return;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	emit_event(n, me ? EV_ACTION : EV_SAY, IPC_LINE_SELF, n->s->name, copy, len);
}

/* A /who: the engine answers it (cb_who), or it is refused here when the queue is full. */
static void ask_who(struct np2 *n)
{
	if (c2_who(&n->s->engine) < 0)
		uilink_who(&n->ui, IPC_WHO_NO_REPLY, 0, NULL, 0);
}

static void begin_quit(struct np2 *n)
{
	if (n->leave_by != 0)
		return;
	c2_quit(&n->s->engine);
	n->leave_by = now_ms() + QUIT_GRACE_MS;
}

/* The requests the UI has sent, IPC_BATCH at most.  When its end is gone, we leave on our own. */
static void on_ipc(struct np2 *n)
{
	struct ipc_msg m;
	ssize_t k;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		k = recv(n->ui.fd, msgbuf, sizeof msgbuf, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) {
			n->ui.gone = 1;
			begin_quit(n);
			return;
		}
		if (ipc_decode(msgbuf, (size_t)k, &m) != IPC_OK || n->leave_by != 0)
			continue;
		if (m.type == IPC_SAY || m.type == IPC_ME)
			say(n, m.type == IPC_ME, m.text, m.text_len);
		else if (m.type == IPC_ASK_WHO)
			ask_who(n);
		else if (m.type == IPC_QUIT)
			begin_quit(n);
	}
}

static void on_signal(struct np2 *n)
{
	struct signalfd_siginfo si;

	/* SIGTERM: from the kernel when the UI died (PR_SET_PDEATHSIG), or from anyone. */
	while (read(n->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		begin_quit(n);
}

void np2_main(struct net_session *s, int ipc, int sigfd, int orphaned)
{
	struct pollfd p[3];
	struct c2 *c = &s->engine;

	np.s = s;
	np.ui.fd = ipc;
	np.ui.lang = s->lang;
	np.ui.wait_ms = UILINK_WAIT_MS;
	np.sigfd = sigfd;
	np.reason = NULL;
	if (orphaned) {
		np.ui.gone = 1;
		begin_quit(&np);
	}
	while (c->state != C2_CLOSED) {
		uint64_t now = now_ms(), next;

		if (np.leave_by != 0 && now >= np.leave_by) {
			uilink_exited(&np.ui, IPC_EXIT_UNCONFIRMED);
			_exit(1); /* the server never confirmed */
		}
		next = c2_poll(c, now);
		if (c->state == C2_CLOSED)
			break;
		if (np.leave_by != 0 && np.leave_by < next)
			next = np.leave_by;
		p[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = np.ui.gone ? -1 : ipc,
		                       .events = POLLIN | (uilink_pending(&np.ui) ? POLLOUT : 0)};
		if (poll(p, 3, wait_ms(next, now_ms())) < 0 && errno != EINTR)
			_exit(1);
		if (p[2].revents & POLLOUT)
			uilink_flush(&np.ui);
		if (p[0].revents & (POLLIN | POLLERR))
			drain_socket(&np);
		if (p[1].revents & POLLIN)
			on_signal(&np);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			on_ipc(&np);
	}
	uilink_exited(&np.ui, np.leave_by != 0 && np.closed_reason == V2_CLOSE_QUIT
	                          ? IPC_EXIT_CONFIRMED
	                          : IPC_EXIT_ENDED);
	_exit(0);
}
