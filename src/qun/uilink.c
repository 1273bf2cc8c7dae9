/* uilink.c - the network process's end of the link to qun's UI: encode, send, queue what waits.
 */
#include "uilink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

/*
 * A message waiting for room.  A run of dropped LINEs is one entry with
 * lost > 0 and no bytes: the notice is written when it goes, with the
 * run's final count.
 */
struct uilink_msg {
	unsigned long lost;
	size_t len;
	unsigned char data[];
};

static unsigned char msgbuf[IPC_MAX];

static void forget_queue(struct uilink *l)
{
	while (l->len > 0) {
		free(l->q[l->head]);
		l->head = (l->head + 1) % l->cap;
		l->len--;
	}
	l->head = 0;
	l->lines = 0;
}

void uilink_free(struct uilink *l)
{
	forget_queue(l);
	free(l->q);
	l->q = NULL;
	l->cap = 0;
}

/*
 * One send without blocking.  Returns 1 when it went, 0 when the
 * socketpair is full; any other error means the UI's end is gone.
 */
static int send_raw(struct uilink *l, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 1;
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		l->gone = 1;
		forget_queue(l);
	}
	return 0;
}

static int is_line(const unsigned char *buf)
{
	return buf[0] == IPC_LINE;
}

static struct uilink_msg *tail(const struct uilink *l)
{
	return l->len > 0 ? l->q[(l->head + l->len - 1) % l->cap] : NULL;
}

/* Append m to the queue, growing the ring (by doubling) as needed. */
static void push(struct uilink *l, struct uilink_msg *m)
{
	if (l->len == l->cap) {
		size_t cap = l->cap > 0 ? 2 * l->cap : 64, i;
		struct uilink_msg **q = xcalloc(cap, sizeof *q);

		for (i = 0; i < l->len; i++)
			q[i] = l->q[(l->head + i) % l->cap];
		free(l->q);
		l->q = q;
		l->cap = cap;
		l->head = 0;
	}
	l->q[(l->head + l->len) % l->cap] = m;
	l->len++;
}

/* A LINE with no room in the queue: counted in the drop notice at the tail, or a new one. */
static void drop_line(struct uilink *l)
{
	struct uilink_msg *t = tail(l);

	l->dropped++;
	if (t != NULL && t->lost > 0) {
		t->lost++;
		return;
	}
	t = xcalloc(1, sizeof *t);
	t->lost = 1;
	push(l, t);
}

static void enqueue(struct uilink *l, const void *buf, size_t len)
{
	struct uilink_msg *m;

	if (is_line(buf)) {
		if (l->lines >= UILINK_QUEUE_MAX) {
			drop_line(l);
			return;
		}
		l->lines++;
	}
	m = xmalloc(sizeof *m + len);
	m->lost = 0;
	m->len = len;
	memcpy(m->data, buf, len);
	push(l, m);
}

/* Encode a drop notice for n lines into buf; returns its length, or 0. */
static size_t encode_lost(const struct uilink *l, unsigned long n, unsigned char *buf, size_t size)
{
	char count[32], text[256];
	int k;

	snprintf(count, sizeof count, "%lu", n);
	ui_format(text, sizeof text, ui_text(l->lang, UI_LOST), count, NULL);
	k = ipc_encode_line(buf, size, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT, text,
	                    strlen(text));
	return k > 0 ? (size_t)k : 0;
}

void uilink_flush(struct uilink *l)
{
	static unsigned char note[512];

	while (l->len > 0 && !l->gone) {
		struct uilink_msg *m = l->q[l->head];
		const unsigned char *buf = m->data;
		size_t len = m->len;

		if (m->lost > 0) {
			len = encode_lost(l, m->lost, note, sizeof note);
			buf = note;
		}
		if (len > 0 && !send_raw(l, buf, len))
			return;
		if (m->lost == 0 && is_line(m->data))
			l->lines--;
		free(m);
		l->head = (l->head + 1) % l->cap;
		l->len--;
	}
}

int uilink_pending(const struct uilink *l)
{
	return l->len > 0;
}

void uilink_send(struct uilink *l, const void *buf, int len)
{
	if (l->gone || len <= 0)
		return;
	uilink_flush(l);
	if (l->len == 0 && send_raw(l, buf, (size_t)len))
		return;
	if (!l->gone)
		enqueue(l, buf, (size_t)len);
}

void uilink_line(struct uilink *l, enum ipc_line_kind kind, unsigned flags, const char *name,
                 size_t name_len, unsigned name_at, const char *text, size_t text_len)
{
	uilink_send(l, msgbuf,
	            ipc_encode_line(msgbuf, sizeof msgbuf, kind, flags, name, name_len, name_at,
	                            text, text_len));
}

/* The length of text[0..len) without a UTF-8 sequence cut short at its end. */
static size_t utf8_whole(const char *text, size_t len)
{
	size_t start = len, need;
	unsigned char lead;

	while (start > 0 && len - start < 3 && ((unsigned char)text[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0)
		return len;
	lead = (unsigned char)text[start - 1];
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return len - (start - 1) < need ? start - 1 : len;
}

void uilink_text(struct uilink *l, enum ipc_line_kind kind, enum ui_text t, const char *a,
                 const char *b)
{
	static char text[UILINK_TEXT_MAX + 1];
	size_t len = ui_format(text, sizeof text, ui_text(l->lang, t), a, b);

	if (len == UILINK_TEXT_MAX)
		len = utf8_whole(text, len); /* cut to fit: never inside a character */
	uilink_line(l, kind, 0, NULL, 0, IPC_NO_NAME_AT, text, len);
}

void uilink_who(struct uilink *l, enum ipc_who_status st, uint32_t total, const char *room,
                const char *const *names, size_t count)
{
	size_t room_len = room != NULL ? strlen(room) : 0;

	uilink_send(l, msgbuf,
	            ipc_encode_who(msgbuf, sizeof msgbuf, st, total, room, room_len, names, count));
}

void uilink_rooms(struct uilink *l, unsigned flags, const char *current, const char *const *names,
                  size_t count)
{
	uilink_send(
	    l, msgbuf,
	    ipc_encode_rooms(msgbuf, sizeof msgbuf, flags, current, strlen(current), names, count));
}

void uilink_state(struct uilink *l, enum ipc_state state)
{
	uilink_send(l, msgbuf, ipc_encode_state(msgbuf, sizeof msgbuf, state));
}

void uilink_exited(struct uilink *l, enum ipc_exit how)
{
	struct pollfd p = {.fd = l->fd, .events = POLLOUT};
	uint64_t last = now_ms(), now;
	size_t before;

	while (!l->gone && recv(l->fd, msgbuf, sizeof msgbuf, MSG_DONTWAIT) > 0)
		;
	uilink_send(l, msgbuf, ipc_encode_exited(msgbuf, sizeof msgbuf, how));
	for (;;) {
		before = l->len;
		uilink_flush(l);
		if (l->len == 0 || l->gone)
			return;
		now = now_ms();
		if (l->len < before)
			last = now;
		else if (now - last >= (uint64_t)l->wait_ms)
			return; /* the UI has stopped reading: what waits is lost with us */
		/* EINTR or a POLLOUT the send then finds false: the loop re-checks the clock. */
		(void)poll(&p, 1, (int)((uint64_t)l->wait_ms - (now - last)));
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			l->gone = 1;
	}
}

enum ipc_line_kind uilink_line_kind(enum room_event ev)
{
	switch (ev) {
	case EV_SAY:
		return IPC_LINE_CHAT;
	case EV_ACTION:
		return IPC_LINE_ACTION;
	case EV_JOIN:
		return IPC_LINE_JOIN;
	case EV_LEAVE:
		return IPC_LINE_LEAVE;
	case EV_TIMEOUT:
		return IPC_LINE_TIMEOUT;
	case EV_KICK:
		return IPC_LINE_KICK;
	case EV_ADMIN:
		return IPC_LINE_ADMIN;
	case EV_SHUTDOWN:
		break;
	}
	return IPC_LINE_NOTICE;
}
