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
 *
 * Where each part lives: this file, main() and the options; plan.c, the
 * byte ranges; paths.c, SRC, DST and the temporary; workers.c, the
 * parent's forking, supervision and reaping; copy.c, one worker's copy
 * loop; report.c, what is printed; fmt.c, names and sizes for people.
 */
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "fmt.h"
#include "paths.h"
#include "report.h"
#include "workers.h"

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
 * Parse the command line into FC.  Returns 0, 1 when -h or -V was handled
 * (the caller exits 0), or -1 with ERR set on a usage error.
 */
static int parse_args(struct forkcp *fc, int argc, char **argv, char *err, size_t errlen)
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
			if (errno != 0 || end == optarg || *end != '\0' || j < 1 || j > MAX_JOBS) {
				snprintf(err, errlen, "-j wants a number of processes from 1 to %d",
				         MAX_JOBS);
				return -1;
			}
			fc->jobs = (int)j;
			break;
		case 'f':
			fc->force = 1;
			break;
		case 'v':
			fc->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("forkcp %s\n", FORKCP_VERSION);
			return 1;
		default:
			if (optopt == 'j')
				snprintf(err, errlen, "-j wants a number of processes");
			else if (optopt != 0)
				snprintf(err, errlen, "unknown option -%c", optopt);
			else
				snprintf(err, errlen, "unknown option");
			return -1;
		}
	}
	if (argc - optind != 2) {
		snprintf(err, errlen, "want exactly two operands, SRC and DST");
		return -1;
	}
	if (argv[optind][0] == '\0' || argv[optind + 1][0] == '\0') {
		snprintf(err, errlen, "SRC and DST must not be empty");
		return -1;
	}
	fc->src = argv[optind];
	fc->dstarg = argv[optind + 1];
	printable(fc->vsrc, sizeof fc->vsrc, fc->src);
	return 0;
}

/*
 * Signals are handled synchronously: SIGCHLD and the termination signals
 * stay blocked and are collected with sigtimedwait() between chunks
 * (workers.h), so there is no handler and no EINTR to worry about.
 * SIGCHLD gets its default action back in case our caller ignored it
 * (children would then be reaped behind our back).  SIGXFSZ is ignored, so
 * exceeding the file size limit makes write() fail with EFBIG, which is
 * reported, instead of killing us with a temporary left behind.
 */
static void setup_signals(struct forkcp *fc)
{
	signal(SIGCHLD, SIG_DFL);
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&fc->waitset);
	sigaddset(&fc->waitset, SIGCHLD);
	sigaddset(&fc->waitset, SIGINT);
	sigaddset(&fc->waitset, SIGTERM);
	sigaddset(&fc->waitset, SIGHUP);
	sigprocmask(SIG_BLOCK, &fc->waitset, &fc->oldmask);
}

/* Every step of a copy, in order; 0 once DST is replaced, -1 with ERR or the slots saying why. */
static int copy_file(struct forkcp *fc, int *changed, char *err, size_t errlen)
{
	if (open_src(fc, err, errlen) == -1 || resolve_dst(fc, err, errlen) == -1 ||
	    make_temp(fc, err, errlen) == -1)
		return -1;
	if (fc->replacing && !fc->stream)
		open_old_dst(fc);
	if (fc->stream) {
		if (run_stream(fc, err, errlen) == -1)
			return -1;
	} else {
		if (size_temp(fc, err, errlen) == -1 || run_copy(fc, err, errlen) == -1)
			return -1;
	}
	return finish_copy(fc, changed, err, errlen);
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
	char err[ERRSZ] = "", rmerr[ERRSZ];
	struct forkcp fc;
	int changed = 0, rc, i;

	memset(&fc, 0, sizeof fc);
	fc.jobs = 2;
	fc.sfd = fc.tfd = fc.oldfd = -1;
	for (i = 0; i < MAX_JOBS; i++)
		fc.outcome[i] = O_RUNNING;
	log_init("forkcp");

	rc = parse_args(&fc, argc, argv, err, sizeof err);
	if (rc == 1)
		return fflush(stdout) == 0 ? 0 : EXIT_COPY_FAILED;
	if (rc == -1) {
		log_warnx("%s", err);
		usage(stderr);
		return EXIT_USAGE;
	}

	setup_signals(&fc);
	fc.umask = umask(0);
	umask(fc.umask);
	fc.bar = fc.verbose && isatty(STDERR_FILENO);
	fc.t0 = now_us();

	if (copy_file(&fc, &changed, err, sizeof err) == -1) {
		if (remove_temp(&fc, rmerr, sizeof rmerr) == -1)
			log_warnx("%s", rmerr);
		report_failure(&fc, err);
		if (fc.signo != 0)
			die_of_signal(fc.signo);
		return EXIT_COPY_FAILED;
	}
	if (changed)
		log_warnx("warning: '%s' was modified during the copy; '%s' may mix old and new "
		          "contents",
		          fc.vsrc, fc.vdst);
	if (fc.verbose)
		report_success(&fc, now_us());
	close(fc.sfd);
	munmap(fc.sh, fc.shlen);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("writing to standard output");
		return EXIT_COPY_FAILED;
	}
	return 0;
}
