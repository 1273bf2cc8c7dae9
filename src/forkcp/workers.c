/* workers.c - the parent's side of a copy: fork the workers, supervise them, reap and decode every
 * exit. */
#include "run.h"

#include "workers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "copy.h"
#include "plan.h"
#include "report.h"

#define TICK_NS 100000000L /* how often the waiting parent wakes to redraw the progress bar */
#define POLL_US 20000      /* how often the copying parent looks at signals and children */

/* Map the shared stop flag and N slots, zeroed, into fc->sh. */
static int map_slots(struct forkcp *fc, int n, char *err, size_t errlen)
{
	fc->nworkers = n;
	fc->shlen = sizeof(struct shared) + (size_t)n * sizeof(struct slot);
	fc->sh = mmap(NULL, fc->shlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fc->sh == MAP_FAILED) {
		fc->sh = NULL;
		snprintf(err, errlen, "cannot map memory for %d workers: %s", n, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Request that every worker stop: set the shared flag (the parent's own
 * copy and every child see it between chunks) and send SIGTERM to the
 * children not yet reaped (a reaped pid may have been reused: never signal
 * it).  Idempotent.
 */
static void stop_workers(struct forkcp *fc)
{
	int i;

	if (fc->stopping)
		return;
	fc->stopping = 1;
	if (fc->sh != NULL)
		atomic_store(&fc->sh->stop, 1);
	for (i = 1; i < fc->nworkers; i++)
		if (fc->pid[i] > 0 && fc->outcome[i] == O_RUNNING)
			kill(fc->pid[i], SIGTERM);
}

/* Record the wait status ST of worker I, and stop the others if it did not succeed. */
static void record_status(struct forkcp *fc, int i, int st)
{
	struct slot *s = &fc->sh->slot[i];
	char who[128];

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
			if (s->err[0] == '\0') {
				plan_worker_name(who, sizeof who, fc->sst.st_size, fc->nworkers, i);
				snprintf(s->err, sizeof s->err, "%s: exited with status %d", who,
				         WEXITSTATUS(st));
			}
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

/*
 * Wait up to TIMEOUT (NULL: until something happens) for a signal of
 * fc->waitset, then collect every pending one without blocking: a
 * termination signal is remembered in fc->signo and stops the workers;
 * SIGCHLD leads to reaping (each exit raises SIGCHLD after the child
 * became waitable, so no exit is missed).  Then redraw the progress bar if
 * it is due.
 */
static void wait_events(struct forkcp *fc, const struct timespec *timeout)
{
	static const struct timespec zero = {0, 0};
	int chld = 0;
	int sig;

	sig = sigtimedwait(&fc->waitset, NULL, timeout);
	while (sig > 0) {
		if (sig == SIGCHLD)
			chld = 1;
		else if (fc->signo == 0)
			fc->signo = sig;
		sig = sigtimedwait(&fc->waitset, NULL, &zero);
	}
	if (chld)
		reap_children(fc);
	if (fc->signo != 0)
		stop_workers(fc);
	progress(fc, 0);
}

/*
 * The parent's tick between two chunks of its own copy (copy_job.tick):
 * wait_events() without blocking, at most every POLL_US, because wait4()
 * takes the kernel's task list lock and is too costly to call per chunk on
 * a busy machine.
 */
static void parent_tick(void *ctx)
{
	static const struct timespec zero = {0, 0};
	struct forkcp *fc = ctx;
	uint64_t now = now_us();

	if (fc->tpoll != 0 && now - fc->tpoll < POLL_US)
		return;
	fc->tpoll = now;
	wait_events(fc, &zero);
}

/* Worker W's job; the parent's (W == 0) comes with the parent's tick. */
static void make_job(struct forkcp *fc, int w, struct copy_job *job)
{
	memset(job, 0, sizeof *job);
	job->start = plan_boundary(fc->sst.st_size, fc->nworkers, w);
	job->end = plan_boundary(fc->sst.st_size, fc->nworkers, w + 1);
	job->size = fc->sst.st_size;
	job->sfd = fc->sfd;
	job->tfd = fc->tfd;
	job->oldfd = fc->oldfd;
	job->replacing = fc->replacing;
	job->method = fc->method;
	job->w = w;
	job->nworkers = fc->stream ? 0 : fc->nworkers;
	job->vsrc = fc->vsrc;
	job->vdst = fc->vdst;
	job->slot = &fc->sh->slot[w];
	job->stop = &fc->sh->stop;
	if (w == 0) {
		job->tick = parent_tick;
		job->ctx = fc;
	}
}

/*
 * The body of child worker W; never returns.  It puts back the caller's
 * signal mask and the default SIGTERM action (the parent stops workers with
 * SIGTERM), asks to be killed if the parent dies, copies its range and
 * leaves with _exit(): the parent's stdio buffers and atexit handlers are
 * not the child's to run.
 */
static void worker_child(struct forkcp *fc, int w) __attribute__((noreturn));

static void worker_child(struct forkcp *fc, int w)
{
	struct copy_job job;
	int rc;

	signal(SIGTERM, SIG_DFL);
	sigprocmask(SIG_SETMASK, &fc->oldmask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != fc->pid[0])
		_exit(WX_STOPPED);
	make_job(fc, w, &job);
	rc = copy_range(&job);
	if (rc == -1) {
		atomic_store(&fc->sh->stop, 1);
		_exit(WX_FAILED);
	}
	_exit(rc == 0 ? WX_OK : WX_STOPPED);
}

/* Fork workers 2..N; on failure, stop those already started and say why. */
static int fork_workers(struct forkcp *fc, char *err, size_t errlen)
{
	pid_t pid;
	int i;

	fflush(NULL); /* or the children would inherit, and could flush, our buffers */
	fc->pid[0] = getpid();
	for (i = 1; i < fc->nworkers; i++) {
		switch (pid = fork()) {
		case -1:
			snprintf(err, errlen, "cannot start worker %d of %d: %s", i + 1,
			         fc->nworkers, strerror(errno));
			stop_workers(fc);
			return -1;
		case 0:
			worker_child(fc, i);
		default:
			fc->pid[i] = pid;
			fc->live++;
			break;
		}
	}
	return 0;
}

/* Did every worker succeed, and no termination signal come? */
static int all_ok(const struct forkcp *fc)
{
	int i;

	for (i = 0; i < fc->nworkers; i++)
		if (fc->outcome[i] != O_OK)
			return 0;
	return fc->signo == 0;
}

int run_copy(struct forkcp *fc, char *err, size_t errlen)
{
	const struct timespec tick = {0, TICK_NS};
	struct copy_job job;
	int rc;

	if (map_slots(fc, plan_workers(fc->sst.st_size, fc->jobs), err, errlen) == -1)
		return -1;
	fc->method = copy_method(fc->tfd, fc->nworkers);

	rc = fork_workers(fc, err, errlen);
	if (rc == 0) {
		make_job(fc, 0, &job);
		switch (copy_range(&job)) {
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
	progress(fc, 1);
	return rc == 0 && all_ok(fc) ? 0 : -1;
}

int run_stream(struct forkcp *fc, char *err, size_t errlen)
{
	struct copy_job job;
	int rc;

	if (map_slots(fc, 1, err, errlen) == -1)
		return -1;
	fc->pid[0] = getpid();
	make_job(fc, 0, &job);
	rc = copy_stream(&job);
	fc->outcome[0] = rc == 0 ? O_OK : rc == 1 ? O_STOPPED : O_FAILED;
	progress(fc, 1);
	return all_ok(fc) ? 0 : -1;
}
