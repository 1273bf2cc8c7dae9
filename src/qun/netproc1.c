/* netproc1.c - qun's network side for protocol v1: the login, then one loop over UDP, UI, signals.
 */
#include "netproc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
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

#define LOGIN_TRIES 5     /* L sent this many times, 1 s apart */
#define LOGIN_PAD   256   /* padding that makes room for a full refusal after "ERR" */
#define QUIT_TRIES  3     /* Q sent this many times while waiting for EXIT */
#define QUIT_GAP    1000  /* ms between them when the user quits */
#define ORPHAN_GAP  300   /* ms between them when the UI is gone: end within a second */
#define WHO_RETRY   1000  /* ms without an answer to a W before it is sent again, once */
#define WHO_WAIT    2500  /* ms without a new part before the answer goes to the UI as it is */
#define WHO_LIMIT   10000 /* ms after /who when it goes to the UI as it is, whatever comes */

/*
 * Send one datagram.  A full send buffer (a burst of lines faster than the
 * kernel hands them on) is waited out, up to about a second in 10 ms polls,
 * rather than the line dropped: v1 has no retransmission to recover it.
 * Other errors (a refused port, say) surface on a later recv and are
 * ignored here.
 */
static void send_datagram(int fd, const char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			return;
		(void)poll(&p, 1, 10);
	}
}

/* Send a request: see send_datagram. */
static void send_request(const struct net_session *s, enum v1_cmd cmd, const char *text, size_t pad)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	int n = v1_format_request(buf, sizeof buf, cmd, s->name, text, pad);

	if (n > 0)
		send_datagram(s->fd, buf, (size_t)n);
}

void np1_farewell(const struct net_session *s)
{
	send_request(s, V1_QUIT, NULL, 0);
}

/*
 * The lesson's server frames its lines with newlines ("\n欢迎bob进入聊天室"):
 * leading and trailing CR and LF are framing, not text, and are cut off
 * here, so they are not shown as visible escapes.  Anything else stays,
 * and the UI escapes it where it shows it.
 */
static const char *strip_framing(const char *buf, size_t *len)
{
	while (*len > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
		buf++;
		(*len)--;
	}
	while (*len > 0 && (buf[*len - 1] == '\r' || buf[*len - 1] == '\n'))
		(*len)--;
	return buf;
}

/*
 * Wait up to ms for one datagram into buf (NUL-terminated, its framing
 * stripped).  Returns its length, 0 on time-out (or an ICMP error such as a refused port, which
 * means "no server yet" and is treated like silence).
 */
static ssize_t recv_wait(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t deadline = now_ms() + (uint64_t)ms, now;
	const char *line;
	size_t len;
	ssize_t n;

	while ((now = now_ms()) < deadline) {
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue; /* EINTR or time-out: the loop condition decides */
		n = recv(fd, buf, size - 1, MSG_DONTWAIT);
		if (n < 0)
			continue;
		len = (size_t)n;
		line = strip_framing(buf, &len);
		if (len == 0)
			continue; /* nothing but framing */
		memmove(buf, line, len);
		buf[len] = '\0';
		return (ssize_t)len;
	}
	return 0;
}

enum net_login_result np1_login(struct net_session *s, char *reason, size_t size)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	size_t pad = 0;
	ssize_t n = 0;
	int tries;

	for (tries = 0; tries < LOGIN_TRIES; tries++) {
		send_request(s, V1_LOGIN, NULL, pad);
		n = recv_wait(s->fd, buf, sizeof buf, 1000);
		if (n == 0)
			continue;
		if (strcmp(buf, V1_REPLY_ERR) == 0 && pad == 0) {
			pad = LOGIN_PAD;
			tries--;
			continue;
		}
		break;
	}
	if (n == 0)
		return NET_LOGIN_NO_REPLY;
	if (strcmp(buf, V1_REPLY_OK) == 0) {
		s->max_text = QUN_MAX_TEXT;
		return NET_LOGIN_OK;
	}
	snprintf(reason, size, "%s", buf);
	return NET_LOGIN_REFUSED;
}

/* A /who answer being put together from its parts. */
struct who_acc {
	int active, heard, retried;
	unsigned asked; /* the part the last W asked for */
	uint64_t retry_at, deadline, limit;
	unsigned parts;
	uint64_t got; /* bit i: part i + 1 arrived */
	unsigned long total;
	char store[V1_WHO_MAX_NAMES * (QUN_MAX_NAME + 1)];
	const char *names[V1_WHO_MAX_NAMES];
	size_t count, used;
};

/* The network process's state; one, owned by np1_main. */
struct np {
	struct net_session *s;
	struct uilink ui;
	int sigfd;
	int quitting;
	unsigned quit_sent;
	uint64_t quit_at, quit_gap;
	uint64_t ping_at;
	enum lang room_lang; /* the server's language, as its lines show it; ours until one does */
	struct who_acc who;
};

static unsigned char msgbuf[IPC_MAX];

/* The session is over: say so and end. */
static void __attribute__((noreturn)) finish(struct np *np, enum ipc_exit how, int status)
{
	uilink_exited(&np->ui, how);
	_exit(status);
}

static void begin_quit(struct np *np)
{
	if (np->quitting)
		return;
	np->quitting = 1;
	np->quit_sent = 0;
	np->quit_gap = np->ui.gone ? ORPHAN_GAP : QUIT_GAP;
	np->quit_at = now_ms();
}

/*
 * Send "W name PART", padded to a full datagram: qund answers a W with at
 * most three times its size (docs/PROTOCOL.md, "Extensions"), so only a
 * W of 400 bytes or more is sure to get its part whole.
 */
static void who_send(const struct np *np, unsigned part)
{
	char num[16];

	snprintf(num, sizeof num, "%u", part);
	send_request(np->s, V1_WHO, num, QUN_MAX_DATAGRAM);
}

/* Ask for one part, and wait for it: once again after WHO_RETRY, up to WHO_WAIT in all. */
static void who_ask(struct np *np, unsigned part)
{
	struct who_acc *w = &np->who;
	uint64_t now = now_ms();

	w->asked = part;
	w->retried = 0;
	w->retry_at = now + WHO_RETRY;
	w->deadline = now + WHO_WAIT < w->limit ? now + WHO_WAIT : w->limit;
	who_send(np, part);
}

static void who_start(struct np *np)
{
	struct who_acc *w = &np->who;

	memset(w, 0, offsetof(struct who_acc, store));
	w->count = w->used = 0;
	w->active = 1;
	w->limit = now_ms() + WHO_LIMIT;
	who_ask(np, 1);
}

/* The lowest part of 1..parts not yet in, or 0 if every one is. */
static unsigned who_missing(const struct who_acc *w)
{
	unsigned k;

	for (k = 1; k <= w->parts; k++)
		if (!(w->got & ((uint64_t)1 << (k - 1))))
			return k;
	return 0;
}

static void who_finish(struct np *np, enum ipc_who_status st)
{
	struct who_acc *w = &np->who;

	if (st != IPC_WHO_COMPLETE && !w->heard)
		st = IPC_WHO_NO_REPLY;
	uilink_who(&np->ui, st, (uint32_t)w->total, NULL, w->names, w->count);
	w->active = 0;
}

/*
 * One part of a WHO answer: keep its valid names; when every part is in,
 * hand the list over, else ask for the next missing one.
 */
static void who_part(struct np *np, const struct v1_who *part)
{
	struct who_acc *w = &np->who;
	const char *p = part->names, *end = part->names + part->names_len;
	uint64_t bit = (uint64_t)1 << (part->part - 1), all;

	if (!w->active)
		return; /* late or unasked: nothing waits for it */
	if (w->heard && part->parts != w->parts) {
		/* A second answer with another shape (our retry crossed a change): start over. */
		w->got = 0;
		w->count = w->used = 0;
	}
	if (w->got & bit)
		return; /* a duplicate, from our retry */
	w->heard = 1;
	w->parts = part->parts;
	w->total = part->total;
	w->got |= bit;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t len = (size_t)((sp != NULL ? sp : end) - p);

		if (len > 0 && name_check(p, len) == NAME_OK && w->count < V1_WHO_MAX_NAMES &&
		    w->used + len + 1 <= sizeof w->store) {
			memcpy(w->store + w->used, p, len);
			w->store[w->used + len] = '\0';
			w->names[w->count++] = w->store + w->used;
			w->used += len + 1;
		}
		p += len + (sp != NULL);
	}
	all = w->parts >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << w->parts) - 1;
	if ((w->got & all) == all)
		who_finish(np, IPC_WHO_COMPLETE);
	else
		who_ask(np, who_missing(w));
}

/* One datagram from the server: EXIT ends the session; anything else goes to the UI, recognised. */
static void on_datagram(struct np *np, const char *buf, size_t len)
{
	struct v1_line l;
	struct v1_who w;

	buf = strip_framing(buf, &len);
	if (len == 0)
		return; /* nothing but framing */
	if (len == strlen(V1_REPLY_EXIT) && memcmp(buf, V1_REPLY_EXIT, len) == 0)
		finish(np, np->quitting ? IPC_EXIT_CONFIRMED : IPC_EXIT_ENDED, 0);
	if (len == strlen(V1_REPLY_OK) && memcmp(buf, V1_REPLY_OK, len) == 0)
		return; /* a late answer to a retried login */
	if (v1_parse_who(buf, len, &w) == 0) {
		who_part(np, &w);
		return;
	}
	if (v1_parse_event(buf, len, &l) == 0) {
		if (l.lang >= 0)
			np->room_lang = (enum lang)l.lang;
		uilink_line(&np->ui, uilink_line_kind(l.ev), 0, l.name, l.name_len,
		            l.name != NULL ? (unsigned)l.name_at : IPC_NO_NAME_AT, buf, len);
		return;
	}
	uilink_line(&np->ui, v1_is_refusal(buf, len) ? IPC_LINE_ERROR : IPC_LINE_NOTICE, 0, NULL, 0,
	            IPC_NO_NAME_AT, buf, len);
}

static void on_udp(struct np *np)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	ssize_t n;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		n = recv(np->s->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* no server there right now: v1 just carries on */
			return;
		}
		if ((size_t)n > QUN_MAX_DATAGRAM)
			continue; /* no server of ours sends that: hostile, dropped */
		on_datagram(np, buf, (size_t)n);
	}
}

/* SAY or ME from the UI: checked against the text rules here, where the protocol's limits live. */
static void say(struct np *np, enum v1_cmd cmd, const char *text, size_t len)
{
	char line[QUN_MAX_DATAGRAM + 1], copy[QUN_MAX_TEXT + 1], have[32], limit[32];
	enum text_status ts = text_check(text, len);
	int n;

	if (ts == TEXT_TOO_LONG) {
		snprintf(have, sizeof have, "%zu", len);
		snprintf(limit, sizeof limit, "%d", QUN_MAX_TEXT);
		uilink_text(&np->ui, IPC_LINE_ERROR, UI_TOO_LONG, have, limit);
		return;
	}
	if (ts != TEXT_OK) {
		uilink_text(&np->ui, IPC_LINE_ERROR, UI_BAD_INPUT,
		            qerr_text(np->s->lang, QERR_TEXT_INVALID, (int)ts), NULL);
		return;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	send_request(np->s, cmd, copy, 0);
	/* Echo it for the user's record, phrased as the room phrases it. */
	n = v1_format_event(line, sizeof line, np->room_lang, cmd == V1_ACTION ? EV_ACTION : EV_SAY,
	                    np->s->name, copy, len);
	if (n > 0)
		uilink_line(&np->ui, cmd == V1_ACTION ? IPC_LINE_ACTION : IPC_LINE_CHAT,
		            IPC_LINE_SELF, np->s->name, strlen(np->s->name),
		            cmd == V1_ACTION ? 2 : 0, line, (size_t)n);
}

static void on_ipc(struct np *np)
{
	struct ipc_msg m;
	ssize_t n;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		n = recv(np->ui.fd, msgbuf, sizeof msgbuf, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* The UI is gone without a word: leave on our own. */
			np->ui.gone = 1;
			begin_quit(np);
			return;
		}
		if (ipc_decode(msgbuf, (size_t)n, &m) != IPC_OK || np->quitting)
			continue;
		switch (m.type) {
		case IPC_SAY:
			say(np, V1_CHAT, m.text, m.text_len);
			break;
		case IPC_ME:
			say(np, V1_ACTION, m.text, m.text_len);
			break;
		case IPC_ASK_WHO:
			if (m.name_len > 0)
				uilink_text(&np->ui, IPC_LINE_ERROR, UI_NO_ROOMS, NULL, NULL);
			else
				who_start(np);
			break;
		case IPC_JOIN:
		case IPC_PART:
		case IPC_LIST_ROOMS:
		case IPC_TELL:
		case IPC_REPLY:
			/* v1 has one room and no private messages: nothing is sent. */
			uilink_text(&np->ui, IPC_LINE_ERROR, UI_NO_ROOMS, NULL, NULL);
			break;
		case IPC_HISTORY:
		case IPC_SEARCH:
			uilink_text(&np->ui, IPC_LINE_ERROR, UI_HISTORY_NONE, NULL, NULL);
			break;
		case IPC_QUIT:
			begin_quit(np);
			break;
		default:
			break; /* an event type: not for us */
		}
	}
}

static void on_signal(struct np *np)
{
	struct signalfd_siginfo si;

	while (read(np->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		/* SIGTERM: from the kernel when the UI died (PR_SET_PDEATHSIG), or from anyone. */
		begin_quit(np);
	}
}

/* Timers: keepalive, the quit's retries, the /who answer's retry and deadline.  Returns ms to wait.
 */
static int run_timers(struct np *np)
{
	uint64_t now = now_ms(), next;

	if (np->quitting) {
		if (now >= np->quit_at) {
			if (np->quit_sent == QUIT_TRIES)
				finish(np, IPC_EXIT_UNCONFIRMED, 1);
			send_request(np->s, V1_QUIT, NULL, 0);
			np->quit_sent++;
			np->quit_at = now + np->quit_gap;
		}
		return (int)(np->quit_at - now);
	}
	if (now >= np->ping_at) {
		send_request(np->s, V1_PING, NULL, 0);
		np->ping_at = now + (uint64_t)np->s->keepalive * 1000;
	}
	next = np->ping_at;
	if (np->who.active) {
		if (!np->who.retried && now >= np->who.retry_at) {
			who_send(np, np->who.asked);
			np->who.retried = 1;
		}
		if (now >= np->who.deadline)
			who_finish(np, IPC_WHO_PARTIAL);
		else
			next = np->who.deadline < next ? np->who.deadline : next;
		if (np->who.active && !np->who.retried && np->who.retry_at < next)
			next = np->who.retry_at;
	}
	return next > now ? (int)(next - now) : 0;
}

void np1_main(struct net_session *s, int ipc, int sigfd, int orphaned)
{
	static struct np np;
	struct pollfd p[3];

	memset(&np, 0, sizeof np);
	np.s = s;
	np.ui.fd = ipc;
	np.ui.lang = s->lang;
	np.ui.wait_ms = UILINK_WAIT_MS;
	np.sigfd = sigfd;
	np.room_lang = s->lang;
	if (orphaned) {
		/* The UI died before we could ask to be told: leave at once. */
		np.ui.gone = 1;
		begin_quit(&np);
	}
	np.ping_at = now_ms() + (uint64_t)s->keepalive * 1000;

	for (;;) {
		int timeout = run_timers(&np), n;

		if (np.ui.gone)
			begin_quit(&np);
		p[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = np.sigfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = np.ui.gone ? -1 : np.ui.fd,
		                       .events = POLLIN | (uilink_pending(&np.ui) ? POLLOUT : 0)};
		n = poll(p, 3, timeout);
		if (n < 0 && errno != EINTR)
			_exit(1);
		if (n <= 0)
			continue;
		if (p[2].revents & POLLOUT)
			uilink_flush(&np.ui);
		if (p[0].revents & (POLLIN | POLLERR))
			on_udp(&np);
		if (p[1].revents & POLLIN)
			on_signal(&np);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			on_ipc(&np);
	}
}
