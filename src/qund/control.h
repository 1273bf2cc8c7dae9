/* control.h - the operator's control socket (AF_UNIX stream): one request line in, one reply out.
 */
#ifndef QUN_CONTROL_H
#define QUN_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/i18n.h"
#include "proto/ctl.h"

/*
 * The conversation is proto/ctl.h's.  Access is checked twice.  The
 * file's mode, 0660, keeps out whoever is neither its owner nor in its
 * group; then each connection's peer
 * credentials (SO_PEERCRED, SO_PEERGROUPS) must name root, our own uid
 * (when allowed: see struct control_config) or a member of the
 * configured group.  The mode alone is not enough: with -u, the socket
 * belongs to a user that other processes may run as too (THREATS.md S23).
 *
 * All of it is non-blocking and driven from the server's epoll loop
 * through one file descriptor (an epoll instance of its own), so that a
 * slow or silent client never holds up the room.
 */
#define CONTROL_MAX_CLIENTS 16    /* connections served at once; more are turned away */
#define CONTROL_TIMEOUT_MS  10000 /* a client has this long to send its line and take the reply */

/* Who is on the other end, from SO_PEERCRED. */
struct control_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/*
 * Run one request: line[0..len) without its "\n" (NUL-terminated too).
 * Append the body to reply and return the status, 0, 1 or 2.
 */
typedef int (*control_fn)(void *ctx, const struct control_peer *peer, const char *line, size_t len,
                          struct buf *reply);

struct control;

/* Who may use the socket, beyond root (always), and whose directories to trust. */
struct control_config {
	uid_t user;             /* the account qund becomes (-u), or (uid_t)-1: trusted as the
	                           owner of the socket's directories (safefile.h) */
	int allow_self;         /* processes running as our own uid may use the socket */
	gid_t group;            /* its members may use the socket; (gid_t)-1 for none */
	const char *group_name; /* group's name, for the refusal ("" or NULL for none) */
	enum lang lang;         /* of the refusal's text (JSON requests get English) */
};

/*
 * Listen on path, after checking the directories that lead to it
 * (safefile_check_dir with cfg->user): a socket in a directory another
 * user controls could be moved aside and replaced by theirs.  A socket
 * already there is taken over only if nobody answers on it (left by a
 * crash); if a server answers: -1 with "another server is listening on
 * PATH".  Anything else at path is left alone and is an error.  The
 * socket gets mode 0660.  cfg is copied.  Returns 0 and *out, or -1 with
 * the reason in err.
 *
 * A connection whose peer cfg does not allow has its request read but not
 * run: it gets status CONTROL_DENIED and a reason, in cfg->lang (or JSON
 * if the request asked for it), and the refusal is logged, rate-limited,
 * with the peer's uid, gid and pid and the request.
 */
int control_open(struct control **out, const char *path, const struct control_config *cfg,
                 control_fn fn, void *ctx, char *err, size_t errlen);

/* The descriptor to watch for input in the caller's loop (readable when there is work). */
int control_fd(const struct control *c);

/* Do whatever can be done now without blocking: accept, read, run, write. */
void control_run(struct control *c, uint64_t now);

/* Drop the connections whose time is up (call it from a periodic tick). */
void control_tick(struct control *c, uint64_t now);

/*
 * Give the socket file to uid:gid (before a privilege drop; (uid_t)-1 or
 * (gid_t)-1 leaves that one as it is).  A symbolic link is not followed;
 * if the file already has that owner and group, nothing is called.
 */
int control_chown(struct control *c, uid_t uid, gid_t gid, char *err, size_t errlen);

/* The socket's path. */
const char *control_path(const struct control *c);

/*
 * Finish: give each pending reply a short, bounded chance to go out, close
 * everything and remove the socket file.  Returns -1 with the reason in
 * err if the file could not be removed.  Safe with c == NULL.
 */
int control_close(struct control *c, char *err, size_t errlen);

#endif
