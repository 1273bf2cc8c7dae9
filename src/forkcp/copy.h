/* copy.h - one worker's job: copy its byte range of SRC into the temporary, holes skipped; or a
 * whole pipe. */
#ifndef QUN_FORKCP_COPY_H
#define QUN_FORKCP_COPY_H

#include "run.h"

#include <stddef.h>

/*
 * What one worker copies, where it reports, and how it learns that it must
 * stop.  The worker writes only its slot: its counters while it copies, its
 * error message when it fails; it never prints.
 */
struct copy_job {
	off_t start, end; /* the range [start, end) of SRC, copied to the same offsets */
	off_t size;       /* SRC's size when the copy started: SRC ending sooner is an error */
	int sfd;          /* SRC: read only at explicit offsets (but for a pipe) */
	int tfd;          /* the temporary: written only at explicit offsets */
	int oldfd;        /* the DST being replaced, only to drop its cached pages; or -1 */
	int replacing;    /* a DST is being replaced: start writing back each chunk at once */
	int method;       /* enum method to start with (copy_method()) */
	int w, nworkers;  /* worker w (from 0) of nworkers, for messages; 0 workers: a pipe */
	const char *vsrc; /* printable names, for messages */
	const char *vdst;
	struct slot *slot;
	_Atomic int *stop; /* the shared stop flag: seen set between chunks, the worker stops */
	/*
	 * Called between chunks, at least every 100 ms for a pipe; NULL for none.
	 * The parent supervises the other workers from here (workers.c).
	 */
	void (*tick)(void *ctx);
	void *ctx;
};

/*
 * The method every worker starts with, for NWORKERS workers writing into
 * the file open at TFD.  One worker copies as cp does, with
 * copy_file_range(), and so does every worker on a file system that shares
 * or offloads copies (Btrfs, XFS, NFS, ...).  Several workers elsewhere
 * (ext4, tmpfs) read with pread() into a private buffer, which runs in
 * parallel with the others' writes, where each copy_file_range() would
 * hold the file's lock for the whole copy (docs/FORKCP.md, "Why the method
 * depends on the number of workers").
 */
int copy_method(int tfd, int nworkers);

/* "copy_file_range", "pread/pwrite", ... for -v. */
const char *method_name(int method);

/*
 * Copy JOB's range, walking SRC with SEEK_DATA/SEEK_HOLE so that holes are
 * skipped (the temporary was sized, so they read as zeros and stay
 * unallocated).  Between chunks of 8 MiB it calls job->tick and looks at
 * the stop flag.  When a DST is being replaced, it also drops the old
 * DST's cached pages of each chunk before writing it, and starts writing
 * the chunk back once written (copy.c says why).  Returns 0 when the range
 * is copied, 1 when told to stop, -1 with the slot's error filled as
 * "worker W of N (bytes A-B): what failed: why".
 */
int copy_range(const struct copy_job *job);

/*
 * Copy a pipe (job->sfd, non-blocking) to the temporary until end of file,
 * appending.  Waits for data with poll() and a timeout, calling job->tick
 * at least every 100 ms so that signals are noticed and the progress bar
 * moves while the writer is silent.  Returns 0 at end of file, 1 when told
 * to stop, -1 with the slot's error filled.
 */
int copy_stream(const struct copy_job *job);

#endif
