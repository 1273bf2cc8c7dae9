/* log.c - warn/warnx/fatal/fatalx to stderr, syslog or a file; rate limits; aborting allocators. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "safefile.h"

enum log_dest { DEST_STDERR, DEST_SYSLOG, DEST_FILE, DEST_SINK };

static const char *log_prog = "qun";
static enum log_dest log_dest = DEST_STDERR;
static int log_fd = -1;         /* DEST_FILE */
static char log_path[PATH_MAX]; /* DEST_FILE, for log_reopen */
static uid_t log_user;          /* DEST_FILE: also trusted to own its directories (safefile.h) */
static int log_created;         /* DEST_FILE: log_fd is a file we created, ours to hand over */
static void (*log_fatal_hook)(const char *msg);
static void (*log_sink)(int prio, const char *msg); /* DEST_SINK */

void log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	log_prog = slash != NULL ? slash + 1 : progname;
}

/* Write all of buf to fd, retrying on EINTR and short writes; errors are ignored (nowhere to report
 * them). */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void to_file(const char *msg)
{
	char line[1200], stamp[40];
	struct tm tm;
	time_t t = time(NULL);
	int n;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
		snprintf(stamp, sizeof stamp, "%lld", (long long)t);
	n = snprintf(line, sizeof line, "%s %s[%ld]: %s\n", stamp, log_prog, (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		/* A cut line still ends with a newline, so the next one starts clean. */
		n = (int)sizeof line - 1;
		line[n - 1] = '\n';
	}
	write_all(log_fd, line, (size_t)n);
}

/* Format "message[: strerror]" and send it where logs go now. */
static void vlog(int prio, int with_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vlog(int prio, int with_errno, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;
	size_t len;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, ": %s", strerror(saved));
	}
	switch (log_dest) {
	case DEST_SYSLOG:
		syslog(prio, "%s", msg);
		break;
	case DEST_FILE:
		to_file(msg);
		break;
	case DEST_SINK:
		log_sink(prio, msg);
		break;
	case DEST_STDERR:
	default:
		fprintf(stderr, "%s: %s\n", log_prog, msg);
		fflush(stderr);
		break;
	}
	if (prio == LOG_ERR && log_fatal_hook != NULL)
		log_fatal_hook(msg);
	errno = saved;
}

void log_to_sink(void (*sink)(int prio, const char *msg))
{
	log_sink = sink;
	log_dest = DEST_SINK;
}

void log_to_syslog(void)
{
	openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_dest = DEST_SYSLOG;
}

/*
 * Open path for appending through safefile_open: never through a symbolic
 * link, only under directories that pass its checks, and only a file of
 * ours.  *created says whether this call made it.
 */
static int open_log(const char *path, uid_t user, int *created, char *err, size_t errlen)
{
	return safefile_open(path, O_WRONLY | O_APPEND | O_CREAT, 0640, user, created, err, errlen);
}

int log_to_file(const char *path, uid_t user, char *err, size_t errlen)
{
	int fd, created;

	if (strlen(path) >= sizeof log_path) {
		snprintf(err, errlen, "log file name too long");
		return -1;
	}
	fd = open_log(path, user, &created, err, errlen);
	if (fd < 0)
		return -1;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_user = user;
	log_created = created;
	snprintf(log_path, sizeof log_path, "%s", path);
	log_dest = DEST_FILE;
	return 0;
}

int log_reopen(char *err, size_t errlen)
{
	int fd, created;

	if (log_dest != DEST_FILE)
		return 0;
	fd = open_log(log_path, log_user, &created, err, errlen);
	if (fd < 0)
		return -1;
	close(log_fd);
	log_fd = fd;
	log_created = created;
	return 0;
}

int log_chown(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (log_dest != DEST_FILE || !log_created)
		return 0;
	if (fchown(log_fd, uid, gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", log_path, strerror(errno));
		return -1;
	}
	return 0;
}

void log_set_fatal_hook(void (*hook)(const char *msg))
{
	log_fatal_hook = hook;
}

int ratelimit_allow(struct ratelimit *rl, uint64_t now, unsigned burst, uint64_t window_ms,
                    unsigned long *suppressed)
{
	if (rl->used == 0 || now - rl->window_start >= window_ms) {
		rl->window_start = now;
		rl->used = 0;
	}
	if (rl->used >= burst) {
		rl->suppressed++;
		return 0;
	}
	rl->used++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}
