/* forkcp.c - copy one file with a parent and forked children, each copying its own byte range. */

/*
 * The process model, in one paragraph: the parent opens SRC, creates a
 * temporary file next to DST, sizes it with ftruncate() and forks N-1
 * children.  Worker 1 is the parent itself and copies the first range; worker
 * i (a child) copies range i.  Every worker copies with explicit offsets
 * (copy_file_range() or pread()/pwrite()), never through a file offset, and
 * skips the holes of SRC it finds with SEEK_DATA/SEEK_HOLE.  Workers share
 * one anonymous mapping: a stop flag, and per worker a byte counter and an
 * error message.  Workers never print: they fill their slot and leave with
 * an exit code; the parent reaps every child, decides, prints, and only then
 * renames the temporary over DST or removes it.
 */

/* Make off_t 64-bit even where the ABI default is 32: files over 4 GiB must work. */
#define _FILE_OFFSET_BITS 64

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKCP_VERSION "0.1.0"

/* Linux's PATH_MAX, spelled out so that the buffers' sizes are visible here. */
#define PATHSZ   4096
#define NAMESZ   320          /* a file name made printable for messages */
#define ERRSZ    1024         /* one error message, as log.c prints at most */
#define HUMANSZ  48           /* "1023.9 GiB", with room for any long long */
#define MAX_JOBS 256          /* -j bound: more processes than this only adds overhead */
#define CHUNK    (8L << 20)   /* bytes per copy call: bounds the time between stop checks */
#define BUFSZ    (128L << 10) /* stream buffer for pipes, the size cp uses */
#define RWBUF    (512L << 10) /* pread/pwrite buffer: stays in L2 between the two copies */
#define ALIGN    (1L << 20)   /* range boundaries fall on this multiple when ranges are large */
#define TICK_NS  100000000L   /* how often the parent wakes to redraw the progress bar */
#define POLL_NS  20000000L    /* how often the copying parent looks at signals and children */

/* Exit codes of the program, as documented in forkcp(1). */
enum { EXIT_COPY_FAILED = 1, EXIT_USAGE = 2 };

/* Exit codes of a worker child, decoded by the parent. */
enum { WX_OK = 0, WX_FAILED = 1, WX_STOPPED = 2 };

/* How a worker moved its bytes. */
enum method { M_NONE, M_CFR, M_RW, M_STREAM };

/* What became of a worker, decided by the parent once it is reaped. */
enum outcome { O_RUNNING, O_OK, O_FAILED, O_STOPPED, O_SIGNALED, O_LOST };

/*
 * One worker's corner of the shared mapping.  Only that worker writes it
 * while it runs; the parent reads the counters at any time (for the progress
 * bar) and the rest after reaping the worker, which orders the accesses.
 * Each slot starts on its own cache line so counters do not bounce.
 */
struct slot {
	_Alignas(64) _Atomic long long copied; /* data bytes written */
	_Atomic long long holes;               /* bytes skipped as holes of SRC */
	_Atomic int method;                    /* enum method */
	char err[ERRSZ];                       /* why the worker failed, NUL-terminated */
};

/* The anonymous MAP_SHARED mapping all workers see. */
struct shared {
	_Atomic int stop; /* set by whoever fails first: everybody stops */
	struct slot slot[];
};

_Static_assert(sizeof(off_t) == 8, "off_t must be 64-bit");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the shared counters must be lock-free to work across processes");

/* All the state of one run, owned by main() and passed by pointer. */
struct forkcp {
	/* options */
	int jobs;
	bool force;
	bool verbose;

	/* SRC */
	const char *src;
	int sfd;
	struct stat sst;
	bool stream; /* SRC is a pipe: one process, no pre-sizing */

	/* DST and its temporary */
	const char *dstarg;
	char dst[PATHSZ]; /* the path finally renamed over */
	char tmp[PATHSZ]; /* the temporary in DST's directory */
	bool have_tmp;    /* tmp exists and must be removed on failure */
	bool made_tmp;    /* tmp was created at some point: something was written */
	bool replacing;   /* DST existed before */
	int tfd;
	mode_t umask;
	int method; /* enum method every worker starts with, chosen by first_method() */

	/* workers */
	int nworkers;
	struct shared *sh;
	size_t shlen;
	pid_t pid[MAX_JOBS]; /* pid[0] is the parent, worker 1 */
	enum outcome outcome[MAX_JOBS];
	int termsig[MAX_JOBS]; /* for O_SIGNALED */
	int live;              /* children forked and not yet reaped */
	bool stopping;         /* the stop flag is set and SIGTERM sent */
	int signo;             /* SIGINT, SIGTERM or SIGHUP received, or 0 */
	sigset_t waitset;      /* blocked in the parent, collected by sigtimedwait */
	sigset_t oldmask;      /* the caller's mask, restored in children */

	/* -v and the progress bar */
	bool bar;
	bool bar_shown;
	struct timespec t0;
	struct timespec tdraw;
	struct timespec tpoll; /* CLOCK_MONOTONIC_COARSE of the last parent_tick() */

	char vsrc[NAMESZ]; /* printable SRC and DST for messages */
	char vdst[NAMESZ];
	char err[ERRSZ]; /* why a set-up step failed */
};

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: forkcp [-j N] [-f] [-v] SRC DST\n"
	        "       forkcp -h | -V\n"
	        "  -j N  copy with N processes, 1 to %d (default 2)\n"
	        "  -f    replace DST even when it is not writable\n"
	        "  -v    say what was done; show progress on a terminal\n"
	        "  -h    print this help;  -V  print the version\n",
	        MAX_JOBS);
}

/*
 * Write a printable form of NAME into OUT (OUTLEN >= 8 bytes): control bytes
 * and backslashes become octal or backslash escapes, so a hostile file name
 * cannot move the cursor or recolour the terminal.  A name too long for OUT
 * is cut and ends in "...".
 */
static void printable(char *out, size_t outlen, const char *name)
{
	static const char dots[] = "...";
	const unsigned char *p;
	size_t o = 0;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		char esc[8];
		size_t n;

		if (*p < 0x20 || *p == 0x7f) {
			n = (size_t)snprintf(esc, sizeof esc, "\\%03o", *p);
		} else if (*p == '\\') {
			memcpy(esc, "\\\\", 2);
			n = 2;
		} else {
			esc[0] = (char)*p;
			n = 1;
		}
		if (o + n + sizeof dots > outlen) {
			memcpy(out + o, dots, sizeof dots);
			return;
		}
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
}

/*
 * Append the LEN bytes at S to the string in BUF, of SIZE bytes in all.
 * Returns 0, or -1 with BUF unchanged when the result would not fit.
 */
static int append(char *buf, size_t size, const char *s, size_t len)
{
	size_t have = strlen(buf);

	if (len >= size - have)
		return -1;
	memcpy(buf + have, s, len);
	buf[have + len] = '\0';
	return 0;
}

/*
 * Format a message into BUF (ERRSZ bytes), followed by ": strerror(ERRNUM)"
 * when ERRNUM is not 0.  A message too long is cut and marked with "...".
 * Returns -1 so that helpers can write `return errf(...)`.
 */
static int errf(char *buf, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int errf(char *buf, int errnum, const char *fmt, ...)
{
	const char *es;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, ERRSZ, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < ERRSZ && errnum != 0) {
		es = strerror(errnum);
		if (append(buf, ERRSZ, ": ", 2) == -1 || append(buf, ERRSZ, es, strlen(es)) == -1)
			n = -1;
	}
	if (n < 0 || (size_t)n >= ERRSZ)
		memcpy(buf + ERRSZ - 4, "...", 4);
	return -1;
}

/* Format V bytes for people ("512 B", "1.5 GiB") into BUF, HUMANSZ bytes. */
static void fmt_bytes(char *buf, double v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	long long tenths;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024.0;
		u++;
	}
	tenths = (long long)(v * 10.0 + 0.5);
	if (u == 0)
		snprintf(buf, HUMANSZ, "%lld B", (tenths + 5) / 10);
	else
		snprintf(buf, HUMANSZ, "%lld.%lld %s", tenths / 10, tenths % 10, unit[u]);
}

/* Seconds from A to B. */
static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * Where range I of N starts in a file of SIZE bytes; I == N gives SIZE.
 * Ranges differ by at most one byte, or by at most ALIGN when they are at
 * least ALIGN long, in which case boundaries fall on multiples of ALIGN so
 * that no two workers write the same page.  Computed without multiplying
 * SIZE, so it cannot overflow.  N < 1 (no workers) gives SIZE.
 */
static off_t boundary(off_t size, int n, int i)
{
	off_t q, r, b;

	if (n < 1 || i >= n)
		return size;
	q = size / n;
	r = size % n;
	b = q * i + (i < r ? i : r);
	if (q >= ALIGN)
		b -= b % ALIGN;
	return b;
}

/* Print "bytes A-B" (inclusive) for the range [START, END) into BUF. */
static void fmt_range(char *buf, size_t len, off_t start, off_t end)
{
	if (start >= end)
		snprintf(buf, len, "no bytes");
	else
		snprintf(buf, len, "bytes %jd-%jd", (intmax_t)start, (intmax_t)end - 1);
}

static const char *method_name(int m)
{
	switch (m) {
	case M_CFR:
		return "copy_file_range";
	case M_RW:
		return "pread/pwrite";
	case M_STREAM:
		return "stream read/write";
	default:
		return "nothing to copy";
	}
}

static const char *file_type(mode_t m)
{
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a pipe";
	return "not a regular file";
}

/*
 * Parse the command line into FC.  Returns 0, 1 when -h or -V was handled
 * (the caller exits 0), or -1 with fc->err set on a usage error.
 */
static int parse_args(struct forkcp *fc, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	long j;
	int c;

	opterr = 0; /* we say what was wrong ourselves, then print the usage */
	while ((c = getopt_long(argc, argv, "j:fvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			errno = 0;
			j = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || j < 1 || j > MAX_JOBS)
				return errf(fc->err, 0,
				            "-j wants a number of processes from 1 to %d",
				            MAX_JOBS);
			fc->jobs = (int)j;
			break;
		case 'f':
			fc->force = true;
			break;
		case 'v':
			fc->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("forkcp %s\n", FORKCP_VERSION);
			return 1;
		default:
			if (optopt == 'j')
				return errf(fc->err, 0, "-j wants a number of processes");
			if (optopt != 0)
				return errf(fc->err, 0, "unknown option -%c", optopt);
			return errf(fc->err, 0, "unknown option");
		}
	}
	if (argc - optind != 2)
		return errf(fc->err, 0, "want exactly two operands, SRC and DST");
	if (argv[optind][0] == '\0' || argv[optind + 1][0] == '\0')
		return errf(fc->err, 0, "SRC and DST must not be empty");
	fc->src = argv[optind];
	fc->dstarg = argv[optind + 1];
	printable(fc->vsrc, sizeof fc->vsrc, fc->src);
	return 0;
}

/*
 * Open SRC for reading.  Only regular files and pipes are accepted; the type
 * is checked before opening so that devices are never opened (opening some
 * has side effects) and again after, against a swap in between.  The file
 * is opened non-blocking so that opening a FIFO without a writer does not
 * hang with our signals blocked; regular files then get blocking mode back.
 */
static int open_src(struct forkcp *fc)
{
	struct stat st;
	int fl;

	if (stat(fc->src, &st) == -1)
		return errf(fc->err, errno, "cannot read '%s'", fc->vsrc);
	if (S_ISDIR(st.st_mode))
		return errf(fc->err, 0, "'%s' is a directory; forkcp copies one file", fc->vsrc);
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		return errf(fc->err, 0, "'%s' is %s; forkcp copies regular files and pipes",
		            fc->vsrc, file_type(st.st_mode));
	fc->sfd = open(fc->src, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fc->sfd == -1)
		return errf(fc->err, errno, "cannot open '%s'", fc->vsrc);
	if (fstat(fc->sfd, &fc->sst) == -1)
		return errf(fc->err, errno, "cannot stat '%s'", fc->vsrc);
	if (fc->sst.st_dev != st.st_dev || fc->sst.st_ino != st.st_ino ||
	    (fc->sst.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
		return errf(fc->err, 0, "'%s' was replaced while being opened", fc->vsrc);
	fc->stream = S_ISFIFO(fc->sst.st_mode);
	if (!fc->stream) {
		fl = fcntl(fc->sfd, F_GETFL);
		if (fl == -1 || fcntl(fc->sfd, F_SETFL, fl & ~O_NONBLOCK) == -1)
			return errf(fc->err, errno, "cannot set up '%s'", fc->vsrc);
	}
	return 0;
}

/* The last component of PATH, trailing slashes ignored, into OUT (PATHSZ). */
static void last_component(char *out, const char *path)
{
	size_t len = strlen(path), start;

	while (len > 1 && path[len - 1] == '/')
		len--;
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (len - start >= PATHSZ)
		len = start + PATHSZ - 1;
	memcpy(out, path + start, len - start);
	out[len - start] = '\0';
}

/*
 * Decide which path gets replaced: DST, or DST/basename(SRC) when DST is a
 * directory.  A symbolic link to a regular file is followed, as cp writes
 * through it; a dangling link, a directory or any other non-regular file is
 * refused, as is SRC itself (same device and inode).  Without -f, an
 * existing DST that we may not write is refused, as cp would fail to open it.
 */
static int resolve_dst(struct forkcp *fc)
{
	const char *d = fc->dstarg;
	size_t len = strlen(d);
	struct stat st, lst;
	char base[PATHSZ];
	int serr;

	printable(fc->vdst, sizeof fc->vdst, d);
	serr = stat(d, &st) == 0 ? 0 : errno;
	if (serr == 0 && S_ISDIR(st.st_mode)) {
		last_component(base, fc->src);
		fc->dst[0] = '\0';
		if (append(fc->dst, sizeof fc->dst, d, len) == -1 ||
		    (d[len - 1] != '/' && append(fc->dst, sizeof fc->dst, "/", 1) == -1) ||
		    append(fc->dst, sizeof fc->dst, base, strlen(base)) == -1)
			return errf(fc->err, ENAMETOOLONG, "'%s' in '%s'", fc->vsrc, fc->vdst);
	} else if (len > 0 && d[len - 1] == '/') {
		return errf(fc->err, serr == 0 ? ENOTDIR : serr, "destination directory '%s'",
		            fc->vdst);
	} else {
		if (len >= sizeof fc->dst)
			return errf(fc->err, ENAMETOOLONG, "'%s'", fc->vdst);
		memcpy(fc->dst, d, len + 1);
	}
	printable(fc->vdst, sizeof fc->vdst, fc->dst);

	if (lstat(fc->dst, &lst) == -1) {
		if (errno != ENOENT)
			return errf(fc->err, errno, "cannot check '%s'", fc->vdst);
		return 0;
	}
	if (S_ISLNK(lst.st_mode)) {
		if (stat(fc->dst, &st) == -1)
			return errf(fc->err, errno,
			            "'%s' is a symbolic link that cannot be followed; not writing "
			            "through it",
			            fc->vdst);
		if (!S_ISREG(st.st_mode))
			return errf(fc->err, 0, "'%s' is a symbolic link to %s; not replacing it",
			            fc->vdst, file_type(st.st_mode));
		if (realpath(fc->dst, base) == NULL)
			return errf(fc->err, errno, "cannot resolve '%s'", fc->vdst);
		memcpy(fc->dst, base, strlen(base) + 1);
	} else if (S_ISDIR(lst.st_mode)) {
		return errf(fc->err, 0, "cannot overwrite directory '%s' with a file", fc->vdst);
	} else if (!S_ISREG(lst.st_mode)) {
		return errf(fc->err, 0, "'%s' is %s; forkcp only replaces regular files", fc->vdst,
		            file_type(lst.st_mode));
	} else {
		st = lst;
	}
	if (st.st_dev == fc->sst.st_dev && st.st_ino == fc->sst.st_ino)
		return errf(fc->err, 0, "'%s' and '%s' are the same file", fc->vsrc, fc->vdst);
	if (!fc->force && faccessat(AT_FDCWD, fc->dst, W_OK, AT_EACCESS) == -1)
		return errf(fc->err, errno, "cannot replace '%s' (use -f to replace it anyway)",
		            fc->vdst);
	fc->replacing = true;
	return 0;
}

/*
 * Create the temporary file, mode 0600, in DST's directory so that the final
 * rename() stays on one file system and is atomic.
 */
static int make_temp(struct forkcp *fc)
{
	static const char name[] = ".forkcp-XXXXXX";
	const char *slash = strrchr(fc->dst, '/');
	size_t dirlen = slash == NULL ? 0 : (size_t)(slash - fc->dst + 1);
	char vdir[NAMESZ];

	fc->tmp[0] = '\0';
	if (append(fc->tmp, sizeof fc->tmp, fc->dst, dirlen) == -1 ||
	    append(fc->tmp, sizeof fc->tmp, name, sizeof name - 1) == -1)
		return errf(fc->err, ENAMETOOLONG, "temporary file for '%s'", fc->vdst);
	fc->tfd = mkostemp(fc->tmp, O_CLOEXEC);
	if (fc->tfd == -1) {
		fc->tmp[dirlen] = '\0';
		printable(vdir, sizeof vdir, dirlen == 0 ? "." : fc->tmp);
		return errf(fc->err, errno, "cannot create a temporary file in '%s'", vdir);
	}
	fc->have_tmp = fc->made_tmp = true;
	return 0;
}

/*
 * Fill worker W's error slot with "worker W of N (bytes A-B): <message>",
 * plus strerror(ERRNUM) when it is not 0.  Returns -1.
 */
static int worker_err(struct forkcp *fc, int w, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int worker_err(struct forkcp *fc, int w, int errnum, const char *fmt, ...)
{
	char msg[ERRSZ], range[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof msg)
		memcpy(msg + sizeof msg - 4, "...", 4);
	if (fc->stream)
		return errf(fc->sh->slot[w].err, errnum, "%s", msg);
	fmt_range(range, sizeof range, boundary(fc->sst.st_size, fc->nworkers, w),
	          boundary(fc->sst.st_size, fc->nworkers, w + 1));
	return errf(fc->sh->slot[w].err, errnum, "worker %d of %d (%s): %s", w + 1, fc->nworkers,
	            range, msg);
}

static void progress(struct forkcp *fc, bool final);
static void reap_children(struct forkcp *fc);

/*
 * Request that every worker stop: set the shared flag (the parent's own
 * copy loop and any child between chunks sees it) and send SIGTERM to the
 * children not yet reaped (a reaped pid may have been reused: never signal
 * it).  Idempotent.
 */
static void stop_workers(struct forkcp *fc)
{
	int i;

	if (fc->stopping)
		return;
	fc->stopping = true;
	if (fc->sh != NULL)
		atomic_store(&fc->sh->stop, 1);
	for (i = 1; i < fc->nworkers; i++)
		if (fc->pid[i] > 0 && fc->outcome[i] == O_RUNNING)
			kill(fc->pid[i], SIGTERM);
}

/*
 * Parent only: wait up to TIMEOUT (NULL: until something happens) for a
 * signal of waitset, then collect every pending one without blocking: a
 * termination signal is remembered in fc->signo, SIGCHLD leads to reaping
 * (each exit raises SIGCHLD after the child became waitable, so no exit is
 * missed).  Finally redraw the progress bar if it is due.
 */
static void wait_events(struct forkcp *fc, const struct timespec *timeout)
{
	static const struct timespec zero = {0, 0};
	bool chld = false;
	int sig;

	sig = sigtimedwait(&fc->waitset, NULL, timeout);
	while (sig > 0) {
		if (sig == SIGCHLD)
			chld = true;
		else if (fc->signo == 0)
			fc->signo = sig;
		sig = sigtimedwait(&fc->waitset, NULL, &zero);
	}
	if (chld)
		reap_children(fc);
	if (fc->signo != 0)
		stop_workers(fc);
	progress(fc, false);
}

/*
 * Parent only, while it copies: run wait_events() without blocking, at most
 * every POLL_NS.  Not on every chunk: the two system calls it makes cost
 * little alone, but wait4() takes the kernel's task list lock, and on a busy
 * machine calling it 2000 times a GiB made -j 2 several times slower.  The
 * clock read is a vDSO call, not a system call.
 */
static void parent_tick(struct forkcp *fc)
{
	static const struct timespec zero = {0, 0};
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (fc->tpoll.tv_sec != 0 && elapsed(&fc->tpoll, &now) * 1e9 < (double)POLL_NS)
		return;
	fc->tpoll = now;
	wait_events(fc, &zero);
}

/*
 * Should worker W stop before its next chunk?  Every worker looks at the
 * shared stop flag, set by a worker that failed or by the parent; the
 * parent also collects signals and children and draws progress from time
 * to time.
 */
static bool should_stop(struct forkcp *fc, int w)
{
	if (w == 0)
		parent_tick(fc);
	return atomic_load(&fc->sh->stop) != 0;
}

/*
 * Write all of BUF (LEN bytes) to FD at offset *OFF, looping on short
 * writes and EINTR.  Returns 0, or -1 with errno set and *OFF advanced to
 * the byte that could not be written.  A write that makes no progress is
 * reported as ENOSPC, which is what it means on Linux.
 */
static int pwrite_all(int fd, const char *buf, size_t len, off_t *off)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, buf, len, *off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		*off += n;
	}
	return 0;
}

/*
 * Copy the data region [OFF, END) of SRC to the same offsets of the
 * temporary, one chunk at a time, checking for a stop request between
 * chunks, with the method in the worker's slot (see first_method()).
 * With copy_file_range() the bytes stay in the kernel, and file systems
 * that can share or offload the data (reflinks on Btrfs and XFS,
 * server-side copies on NFS) do.  When the file systems cannot do it
 * (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP) the worker falls back to
 * pread()/pwrite() through *BUF, allocated on first use.  Returns 0, 1 if told to stop, or -1 with
 * worker W's error slot filled.
 */
static int copy_data(struct forkcp *fc, int w, off_t off, off_t end, char **buf)
{
	struct slot *s = &fc->sh->slot[w];
	ssize_t n;
	off_t in, out, at;
	size_t len;

	while (off < end) {
		if (should_stop(fc, w))
			return 1;
		if (atomic_load(&s->method) == M_CFR) {
			len = (size_t)(end - off < CHUNK ? end - off : CHUNK);
			in = out = off;
			n = copy_file_range(fc->sfd, &in, fc->tfd, &out, len, 0);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				    errno == EOPNOTSUPP) {
					atomic_store(&s->method, M_RW);
					continue;
				}
				return worker_err(fc, w, errno, "copying '%s' to '%s' at byte %jd",
				                  fc->vsrc, fc->vdst, (intmax_t)off);
			}
		} else {
			if (*buf == NULL)
				*buf = xmalloc(RWBUF);
			len = (size_t)(end - off < RWBUF ? end - off : RWBUF);
			n = pread(fc->sfd, *buf, len, off);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				return worker_err(fc, w, errno, "reading '%s' at byte %jd",
				                  fc->vsrc, (intmax_t)off);
			}
			at = off;
			if (n > 0 && pwrite_all(fc->tfd, *buf, (size_t)n, &at) == -1)
				return worker_err(fc, w, errno, "writing '%s' at byte %jd",
				                  fc->vdst, (intmax_t)at);
		}
		if (n == 0)
			return worker_err(
			    fc, w, 0,
			    "'%s' ends at byte %jd, before its size of %jd bytes when "
			    "the copy started: it shrank",
			    fc->vsrc, (intmax_t)off, (intmax_t)fc->sst.st_size);
		off += n;
		atomic_fetch_add(&s->copied, (long long)n);
	}
	return 0;
}

/*
 * Worker W's whole job: copy its range of SRC, walking SEEK_DATA/SEEK_HOLE
 * so that holes are skipped (the temporary was sized with ftruncate(), so
 * they already read as zeros and stay unallocated).  The lseek() calls move
 * the file offset shared with the other workers, but only their return
 * values are used: no read or write depends on that offset.  Returns 0, 1
 * if told to stop, or -1 with the slot's error filled.
 */
static int copy_range(struct forkcp *fc, int w)
{
	struct slot *s = &fc->sh->slot[w];
	off_t pos = boundary(fc->sst.st_size, fc->nworkers, w);
	off_t end = boundary(fc->sst.st_size, fc->nworkers, w + 1);
	off_t data, hole;
	char *buf = NULL;
	int rc = 0;

	if (pos < end)
		atomic_store(&s->method, fc->method);
	while (pos < end && rc == 0) {
		data = lseek(fc->sfd, pos, SEEK_DATA);
		if (data == -1 && errno == ENXIO) {
			data = end; /* nothing but a hole up to the end of the file */
		} else if (data == -1 && errno == EINVAL) {
			data = pos; /* no hole support: it is all data */
		} else if (data == -1) {
			rc = worker_err(fc, w, errno, "looking for data in '%s' at byte %jd",
			                fc->vsrc, (intmax_t)pos);
			break;
		}
		if (data > end)
			data = end;
		atomic_fetch_add(&s->holes, (long long)(data - pos));
		if (data == end)
			break;
		hole = lseek(fc->sfd, data, SEEK_HOLE);
		if (hole == -1 || hole > end)
			hole = end; /* a shrinking file is caught by copy_data */
		rc = copy_data(fc, w, data, hole, &buf);
		pos = hole;
	}
	free(buf);
	return rc;
}

/*
 * The body of a child worker; never returns.  It puts back the caller's
 * signal mask and the default SIGTERM action (the parent stops workers with
 * SIGTERM), asks to be killed if the parent dies, copies its range and
 * leaves with _exit(): the parent's stdio buffers and atexit handlers are
 * not the child's to run.
 */
static void worker_child(struct forkcp *fc, int w) __attribute__((noreturn));

static void worker_child(struct forkcp *fc, int w)
{
	int rc;

	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, &fc->oldmask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != fc->pid[0])
		_exit(WX_STOPPED);
	rc = copy_range(fc, w);
	if (rc == -1) {
		atomic_store(&fc->sh->stop, 1);
		_exit(WX_FAILED);
	}
	_exit(rc == 0 ? WX_OK : WX_STOPPED);
}

/* Record the wait status ST of worker I, and stop the others if it failed. */
static void record_status(struct forkcp *fc, int i, int st)
{
	if (WIFEXITED(st)) {
		switch (WEXITSTATUS(st)) {
		case WX_OK:
			fc->outcome[i] = O_OK;
			break;
		case WX_STOPPED:
			fc->outcome[i] = O_STOPPED;
			break;
		default: /* WX_FAILED, or a sanitizer's report: make sure there is a message */
			fc->outcome[i] = O_FAILED;
			if (fc->sh->slot[i].err[0] == '\0')
				worker_err(fc, i, 0, "exited with status %d", WEXITSTATUS(st));
			break;
		}
	} else if (WIFSIGNALED(st)) {
		if ((fc->stopping && WTERMSIG(st) == SIGTERM) || WTERMSIG(st) == fc->signo) {
			fc->outcome[i] = O_STOPPED;
		} else {
			fc->outcome[i] = O_SIGNALED;
			fc->termsig[i] = WTERMSIG(st);
		}
	} else {
		return; /* stopped or continued: not our business, still running */
	}
	fc->live--;
	if (fc->outcome[i] != O_OK)
		stop_workers(fc);
}

/*
 * Reap every child that has finished, without blocking, retrying on EINTR.
 * ECHILD with children still counted live cannot happen unless someone set
 * SIGCHLD to SIG_IGN behind our back; they are then marked lost rather
 * than waited for forever.
 */
static void reap_children(struct forkcp *fc)
{
	pid_t p;
	int st, i;

	while (fc->live > 0) {
		p = waitpid(-1, &st, WNOHANG);
		if (p == 0)
			return;
		if (p == -1) {
			if (errno == EINTR)
				continue;
			for (i = 1; i < fc->nworkers; i++)
				if (fc->pid[i] > 0 && fc->outcome[i] == O_RUNNING)
					fc->outcome[i] = O_LOST;
			fc->live = 0;
			stop_workers(fc);
			return;
		}
		for (i = 1; i < fc->nworkers; i++)
			if (fc->pid[i] == p && fc->outcome[i] == O_RUNNING)
				break;
		if (i < fc->nworkers)
			record_status(fc, i, st);
	}
}

/* Bytes done by all workers so far, holes included. */
static long long total_done(const struct forkcp *fc)
{
	long long sum = 0;
	int i;

	for (i = 0; i < fc->nworkers; i++)
		sum += atomic_load(&fc->sh->slot[i].copied) + atomic_load(&fc->sh->slot[i].holes);
	return sum;
}

/*
 * Draw the progress bar on standard error: only with -v on a terminal, only
 * once the copy has run for a second, at most ten times a second.  FINAL
 * draws the last state and ends the line, if a bar was ever drawn.  Errors
 * writing it are ignored: progress is a courtesy, not the job.
 */
static void progress(struct forkcp *fc, bool final)
{
	char line[256], bar[31], done[HUMANSZ], total[HUMANSZ], rate[HUMANSZ];
	struct timespec now;
	long long d;
	double secs;
	size_t len, k;
	int n;

	if (!fc->bar || (final && !fc->bar_shown))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = elapsed(&fc->t0, &now);
	if (!final && (secs < 1.0 || elapsed(&fc->tdraw, &now) < 0.1))
		return;
	d = total_done(fc);
	fmt_bytes(done, (double)d);
	fmt_bytes(rate, (double)d / (secs > 0.0 ? secs : 1.0));
	if (fc->stream) {
		n = snprintf(line, sizeof line, "\r%s copied, %s/s%s", done, rate,
		             final ? "\n" : "   ");
	} else {
		long long sz = fc->sst.st_size, filled = sz > 0 ? d * 30 / sz : 30;

		for (k = 0; k < 30; k++)
			bar[k] = (long long)k < filled ? '#' : ' ';
		bar[30] = '\0';
		fmt_bytes(total, (double)sz);
		n = snprintf(line, sizeof line, "\r%3lld%% [%s] %s of %s, %s/s%s",
		             sz > 0 ? d * 100 / sz : 100, bar, done, total, rate,
		             final ? "\n" : "   ");
	}
	if (n < 0)
		return;
	len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
	if (write(STDERR_FILENO, line, len) == (ssize_t)len) {
		fc->bar_shown = true;
		fc->tdraw = now;
	}
}

/*
 * Does the file system holding the temporary share or offload the data of
 * a copy_file_range() (reflinks, server-side copies)?  Judged by its type:
 * these are the Linux file systems whose copy_file_range() can avoid
 * moving the bytes through this machine's memory.  XFS without reflinks
 * answers yes and merely loses the parallel reads below.
 */
static bool offloads_copies(int fd)
{
	static const unsigned long types[] = {
	    0x9123683eUL, /* Btrfs */
	    0x58465342UL, /* XFS */
	    0x6969UL,     /* NFS */
	    0xff534d42UL, /* CIFS */
	    0xfe534d42UL, /* SMB2 */
	    0xca451a4eUL, /* bcachefs */
	    0x00c36400UL, /* Ceph */
	    0x7461636fUL, /* OCFS2 */
	};
	struct statfs sfs;
	size_t i;

	if (fstatfs(fd, &sfs) == -1)
		return true; /* unknown: keep cp's choice */
	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if ((unsigned long)sfs.f_type == types[i])
			return true;
	return false;
}

/*
 * The method every worker starts with.  One worker copies as cp does, with
 * copy_file_range().  Several workers on a file system that only copies
 * through memory (ext4, tmpfs, ...) use pread()/pwrite() instead: such file
 * systems take the file's lock for every write, so the writes of all
 * workers run one after another whatever the method, but a pread() into a
 * private buffer runs in parallel with the other workers' writes, and the
 * pwrite() then copies from a buffer still in the CPU's cache.  Measured
 * in docs/FORKCP.md: with 2 idle CPUs, -j 2 this way takes about 0.8 of
 * cp's time, while copy_file_range() in each worker only ties cp.
 */
static int first_method(const struct forkcp *fc)
{
	if (fc->nworkers < 2 || offloads_copies(fc->tfd))
		return M_CFR;
	return M_RW;
}

/*
 * Copy a regular SRC with fc->jobs processes.  Sizes the temporary, maps
 * the shared slots, forks the children, copies worker 1's range in the
 * parent, then waits for every child.  Returns 0 when every worker
 * succeeded, -1 otherwise (fc->err or the slots say why, fc->outcome says
 * who).  Every child is reaped before returning, whatever happened.
 */
static int parallel_copy(struct forkcp *fc)
{
	const struct timespec tick = {0, TICK_NS};
	off_t size = fc->sst.st_size;
	int i, rc = 0;
	pid_t pid;

	fc->nworkers = size < fc->jobs ? (size > 0 ? (int)size : 1) : fc->jobs;
	fc->shlen = sizeof(struct shared) + (size_t)fc->nworkers * sizeof(struct slot);
	fc->sh = mmap(NULL, fc->shlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fc->sh == MAP_FAILED) {
		fc->sh = NULL;
		return errf(fc->err, errno, "cannot map memory for %d workers", fc->nworkers);
	}
	if (ftruncate(fc->tfd, size) == -1)
		return errf(fc->err, errno, "cannot size the temporary for '%s' to %jd bytes",
		            fc->vdst, (intmax_t)size);
	fc->method = first_method(fc);

	fflush(NULL);
	fc->pid[0] = getpid();
	for (i = 1; i < fc->nworkers; i++) {
		switch (pid = fork()) {
		case -1:
			rc = errf(fc->err, errno, "cannot start worker %d of %d", i + 1,
			          fc->nworkers);
			stop_workers(fc);
			break;
		case 0:
			worker_child(fc, i);
		default:
			fc->pid[i] = pid;
			fc->live++;
			break;
		}
		if (rc == -1)
			break;
	}

	if (rc == 0) {
		switch (copy_range(fc, 0)) {
		case -1:
			fc->outcome[0] = O_FAILED;
			stop_workers(fc);
			break;
		case 1:
			fc->outcome[0] = O_STOPPED;
			break;
		default:
			fc->outcome[0] = O_OK;
			break;
		}
	}
	while (fc->live > 0)
		wait_events(fc, fc->bar ? &tick : NULL);
	progress(fc, true);

	for (i = 0; i < fc->nworkers; i++)
		if (fc->outcome[i] != O_OK)
			rc = -1;
	return fc->signo != 0 ? -1 : rc;
}

/*
 * Copy a pipe in one process: read whatever comes until end of file,
 * appending to the temporary.  The pipe is non-blocking and polled with a
 * timeout, so signals are noticed and the progress bar moves while the
 * writer is silent.  Returns 0, or -1 with the error in the slot or
 * fc->signo set.
 */
static int stream_copy(struct forkcp *fc)
{
	struct pollfd pfd = {.fd = fc->sfd, .events = POLLIN};
	struct slot *s;
	char *buf;
	off_t off = 0;
	ssize_t n;
	int rc = 0;

	fc->nworkers = 1;
	fc->shlen = sizeof(struct shared) + sizeof(struct slot);
	fc->sh = mmap(NULL, fc->shlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fc->sh == MAP_FAILED) {
		fc->sh = NULL;
		return errf(fc->err, errno, "cannot map memory");
	}
	s = &fc->sh->slot[0];
	atomic_store(&s->method, M_STREAM);
	fc->pid[0] = getpid();
	buf = xmalloc(BUFSZ);
	for (;;) {
		parent_tick(fc);
		if (fc->signo != 0) {
			rc = -1;
			break;
		}
		n = poll(&pfd, 1, (int)(TICK_NS / 1000000));
		if (n == -1 && errno != EINTR) {
			rc = worker_err(fc, 0, errno, "waiting for '%s'", fc->vsrc);
			break;
		}
		if (n <= 0)
			continue;
		n = read(fc->sfd, buf, BUFSZ);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = worker_err(fc, 0, errno, "reading '%s' at byte %jd", fc->vsrc,
			                (intmax_t)off);
			break;
		}
		if (n == 0)
			break;
		if (pwrite_all(fc->tfd, buf, (size_t)n, &off) == -1) {
			rc = worker_err(fc, 0, errno, "writing '%s' at byte %jd", fc->vdst,
			                (intmax_t)off);
			break;
		}
		atomic_fetch_add(&s->copied, (long long)n);
	}
	free(buf);
	fc->outcome[0] = rc == 0 ? O_OK : fc->signo != 0 ? O_STOPPED : O_FAILED;
	progress(fc, true);
	return rc;
}

/*
 * Make the temporary the new DST: check SRC did not change size under us,
 * copy the permission bits (set-id and sticky bits are dropped: the copy
 * belongs to whoever runs forkcp), close (some file systems report write
 * errors only there) and rename over DST.  No fsync(), as with cp.
 * Returns 0, or -1 with fc->err set; *CHANGED is set when SRC was modified
 * during the copy without changing size.
 */
static int finish(struct forkcp *fc, bool *changed)
{
	struct stat now;
	mode_t mode;
	int fd;

	*changed = false;
	if (!fc->stream) {
		if (fstat(fc->sfd, &now) == -1)
			return errf(fc->err, errno, "cannot stat '%s'", fc->vsrc);
		if (now.st_size != fc->sst.st_size)
			return errf(fc->err, 0,
			            "'%s' changed size during the copy, from %jd to %jd bytes",
			            fc->vsrc, (intmax_t)fc->sst.st_size, (intmax_t)now.st_size);
		*changed = now.st_mtim.tv_sec != fc->sst.st_mtim.tv_sec ||
		           now.st_mtim.tv_nsec != fc->sst.st_mtim.tv_nsec;
		mode = fc->sst.st_mode & 0777;
	} else {
		mode = 0666 & ~fc->umask;
	}
	if (fchmod(fc->tfd, mode) == -1)
		return errf(fc->err, errno, "cannot set the mode of '%s'", fc->vdst);
	fd = fc->tfd;
	fc->tfd = -1;
	if (close(fd) == -1)
		return errf(fc->err, errno, "writing '%s'", fc->vdst);
	if (rename(fc->tmp, fc->dst) == -1)
		return errf(fc->err, errno, "cannot replace '%s'", fc->vdst);
	fc->have_tmp = false;
	return 0;
}

/* Remove the temporary, if there is one; report failure, it is all we can do. */
static void remove_temp(struct forkcp *fc)
{
	char vtmp[NAMESZ];

	if (fc->tfd != -1) {
		close(fc->tfd);
		fc->tfd = -1;
	}
	if (fc->have_tmp && unlink(fc->tmp) == -1) {
		printable(vtmp, sizeof vtmp, fc->tmp);
		log_warn("cannot remove the temporary file '%s'", vtmp);
	}
	fc->have_tmp = false;
}

/* Print why the copy failed: each worker's own report, then the signal. */
static void report_failure(struct forkcp *fc)
{
	char range[64];
	int i;

	if (fc->err[0] != '\0')
		log_warnx("%s", fc->err);
	for (i = 0; fc->sh != NULL && i < fc->nworkers; i++) {
		fmt_range(range, sizeof range, boundary(fc->sst.st_size, fc->nworkers, i),
		          boundary(fc->sst.st_size, fc->nworkers, i + 1));
		switch (fc->outcome[i]) {
		case O_FAILED:
			log_warnx("%s", fc->sh->slot[i].err);
			break;
		case O_SIGNALED:
			log_warnx("worker %d of %d (%s) was killed by signal %d (%s)", i + 1,
			          fc->nworkers, range, fc->termsig[i], strsignal(fc->termsig[i]));
			break;
		case O_LOST:
			log_warnx("worker %d of %d (%s) vanished without a status", i + 1,
			          fc->nworkers, range);
			break;
		default:
			break;
		}
	}
	if (fc->signo != 0)
		log_warnx("interrupted by %s", strsignal(fc->signo));
	if (fc->made_tmp)
		log_warnx("'%s' not copied; '%s' %s", fc->vsrc, fc->vdst,
		          fc->replacing ? "left unchanged" : "not created");
}

/* With -v, after success: what was copied, how, and how fast. */
static void report_success(struct forkcp *fc, const struct timespec *t1)
{
	char range[64], total[HUMANSZ], rate[HUMANSZ];
	double secs = elapsed(&fc->t0, t1);
	long long d = total_done(fc);
	struct slot *s;
	int i;

	printf("'%s' -> '%s'%s\n", fc->vsrc, fc->vdst, fc->replacing ? " (replaced)" : "");
	fmt_bytes(total, (double)d);
	fmt_bytes(rate, (double)d / (secs > 0.0 ? secs : 1e-9));
	printf("  %lld byte%s (%s) from %s in %d process%s, %.3f s, %s/s\n", d, d == 1 ? "" : "s",
	       total, fc->stream ? "a pipe" : "a regular file", fc->nworkers,
	       fc->nworkers == 1 ? "" : "es", secs, rate);
	if (fc->nworkers < fc->jobs && !fc->stream)
		printf("  (-j %d lowered to %d: never more processes than bytes)\n", fc->jobs,
		       fc->nworkers);
	for (i = 0; i < fc->nworkers; i++) {
		s = &fc->sh->slot[i];
		if (fc->stream)
			snprintf(range, sizeof range, "all bytes");
		else
			fmt_range(range, sizeof range, boundary(fc->sst.st_size, fc->nworkers, i),
			          boundary(fc->sst.st_size, fc->nworkers, i + 1));
		printf("  worker %d of %d (pid %ld%s): %s: %lld copied, %lld skipped as holes, "
		       "%s\n",
		       i + 1, fc->nworkers, (long)fc->pid[i], i == 0 ? ", parent" : "", range,
		       atomic_load(&s->copied), atomic_load(&s->holes),
		       method_name(atomic_load(&s->method)));
	}
}

/*
 * Die of signal SIG, now that the temporary is gone, so that whoever ran
 * us (a shell loop, make) sees the interruption for what it was.
 */
static void die_of_signal(int sig) __attribute__((noreturn));

static void die_of_signal(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	raise(sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	_exit(EXIT_COPY_FAILED); /* not reached unless SIG is ignored */
}

int main(int argc, char **argv)
{
	struct forkcp fc;
	struct timespec t1;
	bool changed = false;
	int rc, i;

	memset(&fc, 0, sizeof fc);
	fc.jobs = 2;
	fc.sfd = fc.tfd = -1;
	for (i = 0; i < MAX_JOBS; i++)
		fc.outcome[i] = O_RUNNING;
	log_init("forkcp");

	rc = parse_args(&fc, argc, argv);
	if (rc == 1)
		return fflush(stdout) == 0 ? 0 : EXIT_COPY_FAILED;
	if (rc == -1) {
		log_warnx("%s", fc.err);
		usage(stderr);
		return EXIT_USAGE;
	}

	/*
	 * Signals are handled synchronously: SIGCHLD and the termination
	 * signals stay blocked and are collected with sigtimedwait() between
	 * chunks, so there is no handler and no EINTR to worry about.
	 * SIGCHLD gets its default action back in case our caller ignored it
	 * (children would then be reaped behind our back).  SIGXFSZ is
	 * ignored, so exceeding the file size limit makes write() fail with
	 * EFBIG, which we report, instead of killing us with a temporary left.
	 */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&fc.waitset);
	sigaddset(&fc.waitset, SIGCHLD);
	sigaddset(&fc.waitset, SIGINT);
	sigaddset(&fc.waitset, SIGTERM);
	sigaddset(&fc.waitset, SIGHUP);
	sigprocmask(SIG_BLOCK, &fc.waitset, &fc.oldmask);
	fc.umask = umask(0);
	umask(fc.umask);
	fc.bar = fc.verbose && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &fc.t0);

	rc = open_src(&fc);
	if (rc == 0)
		rc = resolve_dst(&fc);
	if (rc == 0)
		rc = make_temp(&fc);
	if (rc == 0)
		rc = fc.stream ? stream_copy(&fc) : parallel_copy(&fc);
	if (rc == 0 && fc.signo == 0)
		rc = finish(&fc, &changed);
	else if (rc == 0)
		rc = -1;
	if (rc == -1) {
		remove_temp(&fc);
		report_failure(&fc);
		if (fc.signo != 0)
			die_of_signal(fc.signo);
		return EXIT_COPY_FAILED;
	}

	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (changed)
		log_warnx("warning: '%s' was modified during the copy; '%s' may mix old and new "
		          "contents",
		          fc.vsrc, fc.vdst);
	if (fc.verbose)
		report_success(&fc, &t1);
	close(fc.sfd);
	munmap(fc.sh, fc.shlen);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("writing to standard output");
		return EXIT_COPY_FAILED;
	}
	return 0;
}
