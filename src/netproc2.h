/* netproc2.h - qun's protocol v2 network side: the login, and the process that owns the socket
 * afterwards. */
#ifndef QUN_NETPROC2_H
#define QUN_NETPROC2_H

#include "client2.h"
#include "i18n.h"

/* Messages from the input process to the network process (one per SOCK_SEQPACKET message). */
#define IPC_SAY  'S' /* followed by the text */
#define IPC_QUIT 'Q'

struct netproc2 {
	struct c2 engine;
	int udp; /* connected to the server */
	enum lang lang;
	int tty;   /* output is a terminal: redraw the prompt after each line */
	int fancy; /* ... and TERM is not dumb: erase the prompt line first */
	const char *host, *port;
	int orphaned; /* the input process was gone before we started: just leave */
};

/*
 * Log in as name over v2, retrying as the protocol says.  Returns 1 when
 * in, 0 when refused (the reason is printed), -1 when the server never
 * answered.
 */
int netproc2_login(struct netproc2 *n, const char *name, unsigned keepalive);

/*
 * The network process, after the fork: run the session, print what the
 * room says, and send what arrives on ipc, until the session ends.  Exits
 * 0 when the session ended cleanly (quit confirmed, kicked, shut down),
 * 1 otherwise.  When the input process goes (ipc closes, or SIGTERM
 * through PR_SET_PDEATHSIG) it leaves the room properly first.
 */
void netproc2_main(struct netproc2 *n, int ipc) __attribute__((noreturn));

#endif
