/* ui.h - qun's UI process: the terminal, the commands, and what the network process reports. */
#ifndef QUN_UI_H
#define QUN_UI_H

#include <sys/types.h>

#include <stddef.h>

#include "common/i18n.h"
#include "term.h"

struct ui_config {
	enum lang lang;
	enum term_mode mode;
	size_t max_text; /* longest text the session takes, bytes */
	/* Last words for the server when the network process died without its goodbye; NULL: none.
	 */
	void (*farewell)(void *ctx);
	void *farewell_ctx;
	pid_t child; /* the network process */
	int ipc;     /* our end of the socketpair to it */
	int sigfd;   /* SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGWINCH, SIGCHLD */
};

/*
 * Run the UI until the session ends, and return qun's exit status: 0 when
 * the user left and the server confirmed, or the server ended the session
 * (kicked, shut down); 1 when the quit went unconfirmed or the network
 * process died (it is then reaped, and, with v1, the server told we left).
 *
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT quit properly, like /quit: the
 * network process says goodbye and waits for the server's confirmation
 * (about 3 s at most), and this process waits for it to end (5 s at most,
 * then kills it).  SIGWINCH redraws; SIGTSTP puts the terminal back and
 * stops.  The child is always reaped before this returns, and the
 * terminal is always given back as it was found.
 */
int ui_run(const struct ui_config *cfg);

#endif
