/* log.h - the small, fixed vocabulary for errors and logs shared by every qun program. */
#ifndef QUN_LOG_H
#define QUN_LOG_H

#include <stddef.h>

/*
 * Modelled on OpenBSD's log.c: warn/warnx print a message (warn adds
 * strerror(errno)), fatal/fatalx print and exit(1).  Output goes to stderr,
 * prefixed with the program name set by log_init().  Only main() and the
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
 * Allocation wrappers.  They abort on out-of-memory: every qun program
 * keeps small, bounded state, so running out of memory means the machine
 * is in trouble and no caller could do anything better than stop.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);

#endif
