/* uilink.h - the network process's end of the link to qun's UI: send ipc.h events, queue what
 * waits. */
#ifndef QUN_UILINK_H
#define QUN_UILINK_H

#include <stddef.h>
#include <stdint.h>

#include "common/i18n.h"
#include "proto/events.h"
#include "ipc.h"

/*
 * The network process must keep up with the server while the UI is slow,
 * so it never waits for the UI: what the socketpair has no room for waits
 * in a queue here, in order, and goes out when the socketpair is writable
 * again (the owner polls for POLLOUT while uilink_pending() and then calls
 * uilink_flush()).  The queue holds at most UILINK_QUEUE_MAX LINEs; a LINE
 * past that is dropped, and the drop is queued at once, in its place, as
 * a notice with the exact number of lines missing there.  Every other
 * message (WHO, STATE, EXITED) is queued whatever the count: the UI
 * cannot do without it, and there are few of them.  When the UI's end is
 * gone (any error but a full buffer), gone is set, the queue is emptied
 * and nothing more is sent.
 */
#define UILINK_QUEUE_MAX 4096
/* At the end (uilink_exited), how long the queue may go without progress before it is given up. */
#define UILINK_WAIT_MS 2000

struct uilink_msg;

struct uilink {
	int fd;         /* our end of the socketpair */
	int gone;       /* the UI's end closed: nobody to tell */
	enum lang lang; /* of the texts we write ourselves */
	int wait_ms;    /* uilink_exited's patience, ms without progress */
	/* The queue: a ring of messages waiting for room, oldest at head. */
	struct uilink_msg **q;
	size_t head, len, cap;
	size_t lines;          /* LINEs in the queue (at most UILINK_QUEUE_MAX) */
	unsigned long dropped; /* LINEs dropped so far, in all (for tests and stats) */
};

/*
 * Send one encoded message (len bytes; nothing if len <= 0: an encoder's
 * failure), or queue it behind what waits.  Never blocks.
 */
void uilink_send(struct uilink *l, const void *buf, int len);

/* Whether anything waits for room (the owner then polls the fd for POLLOUT). */
int uilink_pending(const struct uilink *l);

/* Send what waits, oldest first, until the socketpair is full again or the queue is empty. */
void uilink_flush(struct uilink *l);

/* A LINE event (see ipc.h for the fields). */
void uilink_line(struct uilink *l, enum ipc_line_kind kind, unsigned flags, const char *name,
                 size_t name_len, unsigned name_at, const char *text, size_t text_len);

/* The UI's line kind for a room event (v1's events are both protocols' events). */
enum ipc_line_kind uilink_line_kind(enum room_event ev);

/*
 * A LINE of our own (a refusal of input, a list of rooms), text t in the
 * user's language, a and b in its places.  It is one LINE however long,
 * up to UILINK_TEXT_MAX bytes (as much as a LINE takes: a list of
 * C2_LIST_MAX rooms fits); past that it is cut, between characters.
 */
#define UILINK_TEXT_MAX (IPC_MAX - 64)
void uilink_text(struct uilink *l, enum ipc_line_kind kind, enum ui_text t, const char *a,
                 const char *b);

/* A WHO event; room is the room asked about (NULL or "": the default room). */
void uilink_who(struct uilink *l, enum ipc_who_status st, uint32_t total, const char *room,
                const char *const *names, size_t count);
/* A ROOMS event (see ipc.h). */
void uilink_rooms(struct uilink *l, unsigned flags, const char *current, const char *const *names,
                  size_t count);
void uilink_state(struct uilink *l, enum ipc_state state);

/*
 * The session is over: EXITED, after everything queued.  Requests still
 * unread are read and dropped first, because a unix socket closed with
 * unread data makes the UI's next recv fail with ECONNRESET (ui.c copes,
 * but why make it).  Then this blocks until the queue is out, or the UI
 * is gone, or wait_ms pass without the UI taking anything.
 */
void uilink_exited(struct uilink *l, enum ipc_exit how);

/* Free the queue (what waits in it is lost); the link is empty afterwards. */
void uilink_free(struct uilink *l);

#endif
