/* control.h - the operator's control socket (AF_UNIX stream): one request line in, one reply out.
 */
#ifndef QUN_CONTROL_H
#define QUN_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/*
 * The conversation (docs/CONTROL.md): a client connects, sends one line
 * (at most CONTROL_MAX_REQUEST bytes, ended by "\n" or by shutting down
 * its side), and reads the reply until the server closes: a status line
 * "0" (done), "1" (failed) or "2" (bad request), then the body.  Access
 * control is the file's mode, 0660: the owner and the owner's group.
 *
 * All of it is non-blocking and driven from the server's epoll loop
 * through one file descriptor (an epoll instance of its own), so that a
 * slow or silent client never holds up the room.
 */
#define CONTROL_MAX_REQUEST 4096
#define CONTROL_MAX_CLIENTS 16    /* connections served at once; more are turned away */
#define CONTROL_TIMEOUT_MS  10000 /* a client has this long to send its line and take the reply */
#define CONTROL_MAX_REPLY   (64u << 20)

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

/*
 * Listen on path.  A socket already there is taken over only if nobody
 * answers on it (left by a crash); if a server answers: -1 with "another
 * server is listening on PATH".  Anything else at path is left alone and
 * is an error.  The socket gets mode 0660.  Returns 0 and *out, or -1 with
 * the reason in err.
 */
int control_open(struct control **out, const char *path, control_fn fn, void *ctx, char *err,
                 size_t errlen);

/* The descriptor to watch for input in the caller's loop (readable when there is work). */
int control_fd(const struct control *c);

/* Do whatever can be done now without blocking: accept, read, run, write. */
void control_run(struct control *c, uint64_t now);

/* Drop the connections whose time is up (call it from a periodic tick). */
void control_tick(struct control *c, uint64_t now);

/* Give the socket file to uid:gid (before a privilege drop). */
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
