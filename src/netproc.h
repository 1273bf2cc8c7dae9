/* netproc.h - qun's network side: the UDP socket, the login, the forked process that speaks v1. */
#ifndef QUN_NETPROC_H
#define QUN_NETPROC_H

#include <stddef.h>
#include <sys/types.h>

#include "i18n.h"
#include "limits.h"

/*
 * Everything the client knows about the wire protocol lives behind these
 * four functions (and in wire1.c): protocol v2 replaces this file, and the
 * UI, which only speaks the messages of ipc.h, does not change.
 */

struct net_session {
	const char *host, *port;
	char name[QUN_MAX_NAME + 1]; /* the name to log in with, then the one we have */
	enum lang lang;              /* for the few texts the network side writes itself */
	unsigned keepalive;          /* seconds between keepalives */
	int fd;                      /* the UDP socket, connected to the server; -1 before */
	size_t max_text;             /* longest text the session takes, bytes (set at login) */
};

/* Create the socket, connected to host:port.  Returns 0, or -1 with a reason in err. */
int net_connect(struct net_session *s, char *err, size_t errlen);

enum net_login_result {
	NET_LOGIN_OK,
	NET_LOGIN_REFUSED, /* reason holds the server's reason, made safe to print */
	NET_LOGIN_NO_REPLY /* nothing came back: five tries, one second apart */
};

/*
 * Log in as s->name, in the foreground, before the fork: the request is
 * sent again every second, five times in all.  When the server answers a
 * bare ERR (its reason did not fit a reply no larger than our request),
 * the request is sent again padded so that the full reason can come back.
 */
enum net_login_result net_login(struct net_session *s, char *reason, size_t size);

/*
 * Fork the network process.  It owns the UDP socket from then on: it
 * receives and recognises what the server sends, keeps the session alive
 * (a keepalive every s->keepalive seconds), sends what the UI asks for,
 * and forwards every event to the UI as ipc.h messages over an AF_UNIX
 * SOCK_SEQPACKET socketpair.  It ends after sending EXITED, when the
 * session is over (the server said EXIT, or our quit went unconfirmed);
 * if the UI goes away (its end closes, or it dies: PR_SET_PDEATHSIG), it
 * says goodbye to the server itself first, so no name is left behind.
 *
 * Call it with every signal qun handles blocked (the child sets up its
 * own) and stdio flushed.  Returns the child's pid and stores the UI's end
 * of the socketpair in *ui_fd, or returns -1 with a reason in err.
 */
pid_t net_start(struct net_session *s, int *ui_fd, char *err, size_t errlen);

/*
 * Last words, for the UI when the network process died without its
 * goodbye (killed): tell the server we left so our name is free at once.
 * One datagram, never blocks; the only use the UI makes of s->fd.
 */
void net_farewell(const struct net_session *s);

#endif
