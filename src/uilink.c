/* uilink.c - the network process's end of the link to qun's UI: encode, send, count what is lost.
 */
#include "uilink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static unsigned char msgbuf[IPC_MAX];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One send without blocking; *ok says whether it went.  Any error but a full buffer: gone. */
static void send_raw(struct uilink *l, const void *buf, size_t len, int *ok)
{
	ssize_t n;

	do
		n = send(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	*ok = n >= 0;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
		l->gone = 1;
}

/*
 * Send one message, waiting for room until deadline (ms, monotonic; 0: no
 * waiting at all).  Returns 1 when it went, 0 when it did not (the UI is
 * gone, or still full at the deadline).
 */
static int send_until(struct uilink *l, const void *buf, size_t len, uint64_t deadline)
{
	struct pollfd p = {.fd = l->fd, .events = POLLOUT};
	uint64_t now;
	int ok;

	for (;;) {
		send_raw(l, buf, len, &ok);
		if (ok || l->gone)
			return ok;
		now = now_ms();
		if (deadline == 0 || now >= deadline)
			return 0;
		/* EINTR or a POLLOUT the send then finds false: the loop re-checks the clock. */
		(void)poll(&p, 1, (int)(deadline - now));
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			l->gone = 1;
	}
}

/*
 * Only a LINE may be dropped: the UI copes with a gap in the room's talk
 * (it is told how many lines it missed), but not with a lost EXITED (it
 * would take the session's end for the network process dying), STATE or
 * WHO answer (a /who that is never answered).
 */
static int droppable(const void *buf)
{
	return *(const unsigned char *)buf == IPC_LINE;
}

void uilink_send(struct uilink *l, const void *buf, int len)
{
	static unsigned char note[512];
	char count[32], text[256];
	uint64_t deadline;
	int n;

	if (l->gone || len <= 0)
		return;
	deadline = droppable(buf) ? 0 : now_ms() + (uint64_t)l->wait_ms;
	if (l->lost > 0) {
		/* The note comes first, to stay in order: it waits as long as what follows. */
		snprintf(count, sizeof count, "%lu", l->lost);
		ui_format(text, sizeof text, ui_text(l->lang, UI_LOST), count, NULL);
		n = ipc_encode_line(note, sizeof note, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT,
		                    text, strlen(text));
		if (n <= 0)
			return;
		if (!send_until(l, note, (size_t)n, deadline)) {
			if (!l->gone)
				l->lost++;
			return;
		}
		l->lost = 0;
	}
	if (!send_until(l, buf, (size_t)len, deadline) && !l->gone)
		l->lost++;
}

void uilink_line(struct uilink *l, enum ipc_line_kind kind, unsigned flags, const char *name,
                 size_t name_len, unsigned name_at, const char *text, size_t text_len)
{
	uilink_send(l, msgbuf,
	            ipc_encode_line(msgbuf, sizeof msgbuf, kind, flags, name, name_len, name_at,
	                            text, text_len));
}

void uilink_text(struct uilink *l, enum ipc_line_kind kind, enum ui_text t, const char *a,
                 const char *b)
{
	char text[1024];

	ui_format(text, sizeof text, ui_text(l->lang, t), a, b);
	uilink_line(l, kind, 0, NULL, 0, IPC_NO_NAME_AT, text, strlen(text));
}

void uilink_who(struct uilink *l, enum ipc_who_status st, uint32_t total, const char *const *names,
                size_t count)
{
	uilink_send(l, msgbuf, ipc_encode_who(msgbuf, sizeof msgbuf, st, total, names, count));
}

void uilink_state(struct uilink *l, enum ipc_state state)
{
	uilink_send(l, msgbuf, ipc_encode_state(msgbuf, sizeof msgbuf, state));
}

void uilink_exited(struct uilink *l, enum ipc_exit how)
{
	while (!l->gone && recv(l->fd, msgbuf, sizeof msgbuf, MSG_DONTWAIT) > 0)
		;
	uilink_send(l, msgbuf, ipc_encode_exited(msgbuf, sizeof msgbuf, how));
}

enum ipc_line_kind uilink_line_kind(enum v1_event ev)
{
	switch (ev) {
	case V1_EV_SAY:
		return IPC_LINE_CHAT;
	case V1_EV_ACTION:
		return IPC_LINE_ACTION;
	case V1_EV_JOIN:
		return IPC_LINE_JOIN;
	case V1_EV_LEAVE:
		return IPC_LINE_LEAVE;
	case V1_EV_TIMEOUT:
		return IPC_LINE_TIMEOUT;
	case V1_EV_KICK:
		return IPC_LINE_KICK;
	case V1_EV_ADMIN:
		return IPC_LINE_ADMIN;
	case V1_EV_SHUTDOWN:
		break;
	}
	return IPC_LINE_NOTICE;
}
