/* run.h - what every part of forkcp shares: its limits, the workers' shared memory, one run's
 * state. */
#ifndef QUN_FORKCP_RUN_H
#define QUN_FORKCP_RUN_H

/*
 * Make off_t 64-bit even where the ABI default is 32: files over 4 GiB must
 * work.  Every file of forkcp includes this header first, before any system
 * header, so that they all agree on the size of off_t.
 */
#define _FILE_OFFSET_BITS 64

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FORKCP_VERSION "0.1.0"

/* Linux's PATH_MAX, spelled out so that the buffers' sizes are visible here. */
#define PATHSZ   4096
#define NAMESZ   320  /* a file name made printable for messages */
#define ERRSZ    1024 /* one error message, as log.c prints at most */
#define MAX_JOBS 256  /* -j bound: more processes than this only adds overhead */

/*
 * A message holds at most two printable names (NAMESZ each, cut with "..."
 * when longer) and fewer than 256 other bytes, so no message is ever cut.
 */
_Static_assert(ERRSZ >= 2 * NAMESZ + 256, "an error message must hold two file names");
_Static_assert(sizeof(off_t) == 8, "off_t must be 64-bit");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the shared counters must be lock-free to work across processes");

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
	_Atomic int stop; /* set by whoever fails first, or by the parent: everybody stops */
	struct slot slot[];
};

/*
 * All the state of one run, owned by main() and passed by pointer.  Flags
 * are ints, 0 or 1.  Worker i (from 0) copies byte range i of plan.h;
 * worker 0 is the parent itself.
 */
struct forkcp {
	/* SRC, as opened by open_src() */
	struct stat sst;
	const char *src;
	const char *dstarg; /* DST as given */
	int sfd;
	int stream; /* SRC is a pipe: one process, no pre-sizing */

	/* options */
	int jobs;
	int force;
	int verbose;

	/* DST, its temporary, and the DST being replaced */
	int tfd;       /* the temporary, open read-write */
	int oldfd;     /* the DST being replaced, read-only, or -1 (paths.h: open_old_dst) */
	int have_tmp;  /* tmp exists and must be removed on failure */
	int made_tmp;  /* tmp was created at some point: something was written */
	int replacing; /* DST existed before */
	mode_t umask;
	int method;    /* enum method every worker starts with (copy.h: copy_method) */
	dev_t dst_dev; /* the DST being replaced, as resolve_dst() saw it */
	ino_t dst_ino;
	char dst[PATHSZ]; /* the path finally renamed over */
	char tmp[PATHSZ]; /* the temporary in DST's directory */

	/* workers */
	struct shared *sh;
	size_t shlen;
	int nworkers;
	int live;              /* children forked and not yet reaped */
	int stopping;          /* the stop flag is set and SIGTERM sent */
	int signo;             /* SIGINT, SIGTERM or SIGHUP received, or 0 */
	sigset_t waitset;      /* blocked in the parent, collected by sigtimedwait */
	sigset_t oldmask;      /* the caller's mask, restored in children */
	pid_t pid[MAX_JOBS];   /* pid[0] is the parent, worker 1 */
	int termsig[MAX_JOBS]; /* for O_SIGNALED */
	enum outcome outcome[MAX_JOBS];

	/* -v and the progress bar; times in microseconds of now_us() */
	uint64_t t0;    /* when the copy started */
	uint64_t tdraw; /* when the bar was last drawn */
	uint64_t tpoll; /* when the copying parent last looked at signals and children */
	int bar;        /* draw a progress bar: -v and standard error is a terminal */
	int bar_shown;

	char vsrc[NAMESZ]; /* printable SRC and DST for messages */
	char vdst[NAMESZ];
};

#endif
