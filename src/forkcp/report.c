/* report.c - what forkcp shows people: the progress bar, the -v summary, why a copy failed. */
#include "run.h"

#include "report.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "copy.h"
#include "fmt.h"
#include "plan.h"

/* Bytes done by all workers so far, holes included. */
static long long total_done(const struct forkcp *fc)
{
	long long sum = 0;
	int i;

	for (i = 0; i < fc->nworkers; i++)
		sum += atomic_load(&fc->sh->slot[i].copied) + atomic_load(&fc->sh->slot[i].holes);
	return sum;
}

void progress(struct forkcp *fc, int final)
{
	char line[256], bar[31], done[HUMANSZ], total[HUMANSZ], rate[HUMANSZ];
	uint64_t now;
	long long d;
	double secs;
	size_t len, k;
	int n;

	if (!fc->bar || (final && !fc->bar_shown))
		return;
	now = now_us();
	secs = (double)(now - fc->t0) / 1e6;
	if (!final && (secs < 1.0 || now - fc->tdraw < 100000))
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
		fc->bar_shown = 1;
		fc->tdraw = now;
	}
}

void report_success(const struct forkcp *fc, uint64_t t1)
{
	char range[64], total[HUMANSZ], rate[HUMANSZ];
	double secs = (double)(t1 - fc->t0) / 1e6;
	long long d = total_done(fc);
	const struct slot *s;
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
			plan_range_name(range, sizeof range, fc->sst.st_size, fc->nworkers, i);
		printf("  worker %d of %d (pid %ld%s): %s: %lld copied, %lld skipped as holes, "
		       "%s\n",
		       i + 1, fc->nworkers, (long)fc->pid[i], i == 0 ? ", parent" : "", range,
		       atomic_load(&s->copied), atomic_load(&s->holes),
		       method_name(atomic_load(&s->method)));
	}
}

void report_failure(const struct forkcp *fc, const char *err)
{
	char who[128];
	int i;

	if (err[0] != '\0')
		log_warnx("%s", err);
	for (i = 0; fc->sh != NULL && i < fc->nworkers; i++) {
		plan_worker_name(who, sizeof who, fc->sst.st_size, fc->nworkers, i);
		switch (fc->outcome[i]) {
		case O_FAILED:
			log_warnx("%s", fc->sh->slot[i].err);
			break;
		case O_SIGNALED:
			log_warnx("%s was killed by signal %d (%s)", who, fc->termsig[i],
			          strsignal(fc->termsig[i]));
			break;
		case O_LOST:
			log_warnx("%s vanished without a status", who);
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
