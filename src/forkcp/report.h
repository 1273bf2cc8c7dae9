/* report.h - what forkcp shows people: the progress bar, the -v summary, why a copy failed. */
#ifndef QUN_FORKCP_REPORT_H
#define QUN_FORKCP_REPORT_H

#include "run.h"

#include <stdint.h>

/*
 * Draw the progress bar on standard error: only when fc->bar (-v on a
 * terminal), only once the copy has run for a second, at most ten times a
 * second.  FINAL draws the last state and ends the line, if a bar was ever
 * drawn.  Errors writing it are ignored: progress is a courtesy, not the job.
 */
void progress(struct forkcp *fc, int final);

/* With -v, after success at T1 (now_us()): on standard output, what was copied, how, how fast. */
void report_success(const struct forkcp *fc, uint64_t t1);

/*
 * After a failure, on standard error: ERR (the set-up step that failed, if
 * not empty), each failed worker's own message, the signal that stopped
 * us, and what became of DST.
 */
void report_failure(const struct forkcp *fc, const char *err);

#endif
