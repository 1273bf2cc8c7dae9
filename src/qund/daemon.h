/* daemon.h - becoming a daemon (double fork, readiness pipe), the locked pid file, dropping root.
 */
#ifndef QUN_DAEMON_H
#define QUN_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

/* Longest message the daemon passes back through the readiness pipe. */
#define DAEMON_MSG_MAX 512

/*
 * Detach by the double fork.  The calling process forks a child, which
 * calls setsid() (a new session without a controlling terminal) and forks
 * the daemon, then exits at once; the caller reaps it with waitpid and
 * waits on a pipe for the daemon's word.  The daemon, no session leader
 * and so unable ever to acquire a terminal, changes to /, sets umask 027
 * and points its standard streams at /dev/null.
 *
 * Returns:
 *   0 in the daemon, with the write end of the readiness pipe in *ready_fd
 *     (close-on-exec); the daemon must call daemon_ready() or
 *     daemon_failed() on it once start-up is over, either way;
 *   1 in the calling process once the daemon reported it is ready: msg is
 *     what it said (e.g. "listening on 0.0.0.0:8888");
 *  -1 in the calling process if a fork failed or the daemon failed to
 *     start: msg says why (the daemon's own words, or how it died).
 * Flush stdio before calling it.
 */
int daemon_fork(int *ready_fd, char *msg, size_t msglen);

/*
 * Close every descriptor above standard error (daemon(7)): whatever the
 * starting process left open, a pipe to a script waiting for EOF say,
 * must not be held for the daemon's whole life.  Call it before opening
 * anything of our own.
 */
void daemon_close_inherited(void);

/* Tell the waiting process that start-up succeeded, with msg for it to print; closes *fd. */
void daemon_ready(int *fd, const char *msg);

/* Tell the waiting process that start-up failed and why; closes *fd.  Async-signal-safe. */
void daemon_failed(int *fd, const char *msg);

/*
 * A pid file held under a lock (an open file description lock on the
 * whole file) for the process's life, so that a second instance sees it
 * is taken whatever the file says, and a stale file left by a crash never
 * blocks a start.
 */
struct pidfile {
	int fd;     /* -1 when not held */
	char *path; /* owned */
};

/*
 * Create or take over path, lock it, and write our pid into it.  The file
 * is opened with safefile_open (safefile.h): never through a symbolic
 * link, only under checked directories, only a regular file of root's,
 * ours or user's (the account we become with -u; (uid_t)-1 for none), so
 * nobody else can swap it and have a script that trusts it signal the
 * wrong process.  If another live process holds it: -1 with "already
 * running as pid N (pid file PATH is locked)" in err.  Other failures: -1
 * with the reason.
 */
int pidfile_create(struct pidfile *pf, const char *path, uid_t user, char *err, size_t errlen);
/*
 * Remove the file and release the lock.  Safe to call on a pidfile never
 * created (fd -1).  Returns -1 with the reason in err if the file could
 * not be removed (the lock is released all the same).
 */
int pidfile_remove(struct pidfile *pf, char *err, size_t errlen);

/*
 * Make sure the directory that will hold path (the runtime directory: the
 * control socket's, the pid file's) exists and can be trusted
 * (safefile_mkdir): if it does not exist, it is created with mode 0755
 * (only the last level) and, when uid is not (uid_t)-1, given to uid:gid,
 * so that a daemon that drops to that user can still remove its socket
 * and pid file there on exit.  An existing directory is not changed, only
 * checked with everything above it: one that belongs to another user than
 * root, us or uid, or that others may write to without the sticky bit, is
 * refused (whoever controls it could put their own socket in ours' place,
 * THREATS.md S22).  Returns 0, or -1 with the reason in err.
 */
int rundir_prepare(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * Look up user (a name or a numeric uid) for a later privilege drop.
 * Returns 0 and fills *uid, *gid (the user's primary group), or -1 with
 * the reason in err.
 */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);

/* Look up group (a name or a numeric gid).  Returns 0 and fills *gid, or -1 with the reason. */
int group_lookup(const char *group, gid_t *gid, char *err, size_t errlen);

/*
 * Become uid:gid for good: supplementary groups set to gid alone, then
 * real, effective and saved gid, then uid.  Every step is checked, and so
 * is the result: all three ids of each kind read back as wanted, and
 * (unless uid is 0) setuid(0) now fails.  Returns 0, or -1 with the step
 * that failed in err.  Only root can do this; for a process that already
 * runs as uid:gid it is a successful no-op.
 */
int priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
