/* netproc.h - qun's network side, for both protocols: the socket, the login, the forked process. */
#ifndef QUN_NETPROC_H
#define QUN_NETPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "common/i18n.h"
#include "common/sizes.h"
#include "client2.h"

/*
 * Everything the client knows about the wire protocols lives behind these
 * functions: netproc1.c speaks v1 (the lesson's, with --legacy),
 * netproc2.c speaks v2 through the client2.c engine.  Either way the
 * network process forwards what happens as the messages of ipc.h and
 * prints nothing; the UI, which only speaks ipc.h, does not know which
 * protocol runs.
 */

struct net_session {
	const char *host, *port;
	char name[QUN_MAX_NAME + 1]; /* the name to log in with, then the one we have */
	enum lang lang;              /* for the texts the network side writes itself */
	unsigned keepalive;          /* seconds between keepalives */
	unsigned history;            /* lines of history shown on joining a room (0: none) */
	int legacy;                  /* speak protocol v1 instead of v2 */
	int fd;                      /* the UDP socket, connected to the server; -1 before */
	int ipc[2];                  /* the socketpair: [0] the UI's end, [1] the network's */
	size_t max_text;             /* longest text the session takes, bytes (set at login) */
	struct c2 engine;            /* v2: the protocol engine (netproc2.c) */
};

/*
 * Create the UDP socket, connected to host:port, and the AF_UNIX
 * SOCK_SEQPACKET socketpair to the UI (made now, so that whatever the
 * room says between the login and the fork is kept for the UI).  Returns
 * 0, or -1 with a reason in err.
 */
int net_connect(struct net_session *s, char *err, size_t errlen);

enum net_login_result {
	NET_LOGIN_OK,
	NET_LOGIN_REFUSED, /* reason holds the server's reason (raw: sanitise before showing) */
	NET_LOGIN_NO_REPLY /* nothing came back (v1: five tries a second apart; v2: client2.h) */
};

/*
 * Log in as s->name, in the foreground, before the fork.  v1: the request
 * is sent every second, five times in all; a bare ERR (the reason did not
 * fit a reply no larger than our request) makes us ask again padded, so
 * the full reason can come back.  v2: the handshake of client2.c, which
 * keeps trying a silent server 15 s and gives up after 5 s of
 * ECONNREFUSED.  The reason is NUL-terminated, cut to size.
 */
enum net_login_result net_login(struct net_session *s, char *reason, size_t size);

/*
 * Fork the network process.  It owns the UDP socket from then on: it
 * receives what the server sends, keeps the session alive (keepalives;
 * v2: acks, retransmissions, reconnection), sends what the UI asks for,
 * and forwards every event to the UI as ipc.h messages.  It ends after
 * sending EXITED, when the session is over; if the UI goes away (its end
 * closes, or it dies: PR_SET_PDEATHSIG), it says goodbye to the server
 * itself first, so no name is left behind.  It holds none of qun's
 * stdin, stdout and stderr: its stderr is a file in memory, which qun
 * copies to its own stderr when it exits (a sanitizer's report is not
 * lost), so whoever reads qun's output sees its end when qun ends.
 *
 * Call it with every signal qun handles blocked (the child sets up its
 * own) and stdio flushed.  Returns the child's pid (the UI keeps
 * s->ipc[0]), or -1 with a reason in err.
 */
pid_t net_start(struct net_session *s, char *err, size_t errlen);

/*
 * Last words, for the UI when the network process died without its
 * goodbye (killed): v1 tells the server we left so our name is free at
 * once (one datagram, never blocks).  v2 cannot speak for a session whose
 * reliable state died with the process: the server evicts it after its
 * keepalive timeout, and nothing is sent.
 */
void net_farewell(const struct net_session *s);

/* The protocols' halves, for netproc.c only. */
enum net_login_result np1_login(struct net_session *s, char *reason, size_t size);
enum net_login_result np2_login(struct net_session *s, char *reason, size_t size);
void np1_main(struct net_session *s, int ipc, int sigfd, int orphaned) __attribute__((noreturn));
void np2_main(struct net_session *s, int ipc, int sigfd, int orphaned) __attribute__((noreturn));
void np1_farewell(const struct net_session *s);

#endif
