/* workers.h - the parent's side of a copy: fork the workers, supervise them, reap and decode every
 * exit. */
#ifndef QUN_FORKCP_WORKERS_H
#define QUN_FORKCP_WORKERS_H

#include "run.h"

#include <stddef.h>

/*
 * Both functions expect SIGCHLD, SIGINT, SIGTERM and SIGHUP blocked in
 * fc->waitset (main() does it): the parent collects them with
 * sigtimedwait() between chunks, so there is no handler and no EINTR.  A
 * termination signal is remembered in fc->signo and stops the copy.
 */

/*
 * Copy a regular SRC into the sized temporary with plan_workers() workers:
 * map the shared slots, fork the children (workers 2..N), copy worker 1's
 * range in the parent, then wait for every child.  Returns 0 when every
 * worker succeeded, -1 otherwise: ERR says why when a set-up step failed,
 * fc->outcome says which workers failed and their slots why.  Every child
 * is reaped before returning, whatever happened.
 */
int run_copy(struct forkcp *fc, char *err, size_t errlen);

/* Copy a pipe in the parent alone (copy_stream()); returns 0 or -1 as run_copy(). */
int run_stream(struct forkcp *fc, char *err, size_t errlen);

#endif
