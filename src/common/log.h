/* log.h - the small, fixed vocabulary for errors and logs shared by every qun program. */
#ifndef QUN_LOG_H
#define QUN_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Modelled on OpenBSD's log.c: warn/warnx print a message (warn adds
 * strerror(errno)), fatal/fatalx print and exit(1).  Output goes to stderr
 * (or syslog, or a file: see below), with the program name set by log_init().  Only main() and the
 * top of a program's loop should call fatal*: helpers report errors to
 * their caller instead.
 */
void log_init(const char *progname);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Where messages go.  Programs start on stderr; a daemon switches to
 * syslog (facility LOG_DAEMON; the connection is opened at once, so it
 * survives a later chroot or privilege drop) or to a file of its own.
 * log_info goes out at priority LOG_INFO, warn* at LOG_WARNING, fatal* at
 * LOG_ERR.  On stderr a line is "prog: message"; in a file it is
 * "YYYY-MM-DDTHH:MM:SS+ZZZZ prog[pid]: message", written with one
 * append-mode write() so that lines from several processes never mix.
 */
void log_to_syslog(void);
/*
 * Hand every message to sink instead, with its priority (syslog.h's
 * LOG_INFO, LOG_WARNING, LOG_ERR): for tests and fuzzers, which drive a
 * server's code without a terminal and may treat a warning as a failure.
 */
void log_to_sink(void (*sink)(int prio, const char *msg));
/*
 * Open path for appending (created 0640) and log there.  The file is
 * opened with safefile_open (safefile.h): never through a symbolic link,
 * only under checked directories, only a regular file of root's, ours or
 * user's (the account a daemon becomes with -u, trusted as an owner;
 * (uid_t)-1 for none).  -1 with the reason in err.
 */
int log_to_file(const char *path, uid_t user, char *err, size_t errlen);
/*
 * Reopen the log file by its name (after logrotate moved it: SIGHUP),
 * through the same checks as log_to_file.  Keeps the old file if the new
 * one cannot be opened, and says so in err.  A no-op returning 0 when not
 * logging to a file.
 */
int log_reopen(char *err, size_t errlen);
/*
 * Hand the open log file to uid:gid, so it can still be reopened after a
 * privilege drop, but only if this program created it: a file that was
 * already there keeps its owner (it may be anyone's).  0 when there is
 * nothing to do.
 */
int log_chown(uid_t uid, gid_t gid, char *err, size_t errlen);
/*
 * hook (NULL for none) is called with the message of a fatal*() just
 * before the exit: a daemon still starting passes it to the process that
 * waits for it (daemon.h).
 */
void log_set_fatal_hook(void (*hook)(const char *msg));

/*
 * A rate limit for messages a peer can provoke at will (refusals): at most
 * burst per window_ms.  ratelimit_allow returns 1 if this message may go
 * out, and then stores in *suppressed how many were held back since the
 * last one that went (so the caller can say so); 0 if it must be dropped.
 * now is any monotonic clock in ms.  Zero-initialise the struct.
 */
struct ratelimit {
	uint64_t window_start;
	unsigned used;
	unsigned long suppressed;
};
int ratelimit_allow(struct ratelimit *rl, uint64_t now, unsigned burst, uint64_t window_ms,
                    unsigned long *suppressed);

/*
 * Allocation wrappers.  They abort on out-of-memory: every qun program
 * keeps small, bounded state, so running out of memory means the machine
 * is in trouble and no caller could do anything better than stop.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);

#endif
