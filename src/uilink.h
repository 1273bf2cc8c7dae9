/* uilink.h - the network process's end of the link to qun's UI: send ipc.h events, count losses. */
#ifndef QUN_UILINK_H
#define QUN_UILINK_H

#include <stddef.h>
#include <stdint.h>

#include "i18n.h"
#include "ipc.h"
#include "wire1.h"

/*
 * The network process must keep up with the server even while the UI is
 * slow, so a LINE the UI has no room for is not waited for: it is
 * counted, and once there is room again the UI is told how many were
 * lost.  Every other message (WHO, STATE, EXITED) says something the UI
 * cannot do without, so it waits for room, up to wait_ms, and only then
 * is counted as lost.  When the UI's end is gone (any error but a full
 * buffer), gone is set and nothing more is sent.
 */
#define UILINK_WAIT_MS 2000 /* the network processes' wait_ms */

struct uilink {
	int fd;             /* our end of the socketpair */
	int gone;           /* the UI's end closed: nobody to tell */
	unsigned long lost; /* events the UI had no room for, not yet reported */
	enum lang lang;     /* of the texts we write ourselves */
	int wait_ms;        /* how long a message that is not a LINE may wait for room */
};

/*
 * Send one encoded message (len bytes; nothing if len <= 0: an encoder's
 * failure): a LINE without waiting, anything else waiting up to wait_ms
 * for room (so this may block that long).
 */
void uilink_send(struct uilink *l, const void *buf, int len);

/* A LINE event (see ipc.h for the fields). */
void uilink_line(struct uilink *l, enum ipc_line_kind kind, unsigned flags, const char *name,
                 size_t name_len, unsigned name_at, const char *text, size_t text_len);

/* The UI's line kind for a room event (v1's events are both protocols' events). */
enum ipc_line_kind uilink_line_kind(enum v1_event ev);

/* A LINE of our own (a refusal of input, say), text t in the user's language. */
void uilink_text(struct uilink *l, enum ipc_line_kind kind, enum ui_text t, const char *a,
                 const char *b);

void uilink_who(struct uilink *l, enum ipc_who_status st, uint32_t total, const char *const *names,
                size_t count);
void uilink_state(struct uilink *l, enum ipc_state state);

/*
 * The session is over: EXITED.  Requests still unread are read and
 * dropped first, because a unix socket closed with unread data makes the
 * UI's next recv fail with ECONNRESET (ui.c copes, but why make it).
 */
void uilink_exited(struct uilink *l, enum ipc_exit how);

#endif
