/* copy.c - one worker's job: copy its byte range of SRC into the temporary, holes skipped; or a
 * whole pipe. */
#include "run.h"

#include "copy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"
#include "plan.h"

#define CHUNK   (8L << 20)   /* bytes between two stop checks, and per cache hint */
#define RWBUF   (512L << 10) /* pread/pwrite buffer: stays in L2 between the two copies */
#define RWSTEP  (64L << 10)  /* pread/pwrite size when replacing: see copy_chunk() */
#define BUFSZ   (128L << 10) /* stream buffer for pipes, the size cp uses */
#define POLL_MS 100          /* longest wait for a pipe between two ticks */

/*
 * Fill the job's error slot with "worker W of N (bytes A-B): <message>"
 * (just the message for a pipe), plus ": strerror(ERRNUM)" when ERRNUM is
 * not 0.  Returns -1, for `return job_fail(...)`.
 */
static int job_fail(const struct copy_job *job, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int job_fail(const struct copy_job *job, int errnum, const char *fmt, ...)
{
	struct slot *s = job->slot;
	char who[128];
	size_t n = 0;
	va_list ap;

	if (job->nworkers > 0) {
		plan_worker_name(who, sizeof who, job->size, job->nworkers, job->w);
		n = (size_t)snprintf(s->err, sizeof s->err, "%s: ", who); /* < sizeof who + 2 */
	}
	va_start(ap, fmt);
	vsnprintf(s->err + n, sizeof s->err - n, fmt, ap);
	va_end(ap);
	if (errnum != 0) {
		n = strlen(s->err);
		snprintf(s->err + n, sizeof s->err - n, ": %s", strerror(errnum));
	}
	return -1;
}

/*
 * Does the file system holding FD share or offload the data of a
 * copy_file_range() (reflinks, server-side copies)?  Judged by its type:
 * these are the Linux file systems whose copy_file_range() can avoid moving
 * the bytes through this machine's memory.  XFS without reflinks answers
 * yes and merely loses the parallel reads of pread/pwrite.
 */
static int offloads_copies(int fd)
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
		return 1; /* unknown: keep cp's choice */
	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if ((unsigned long)sfs.f_type == types[i])
			return 1;
	return 0;
}

int copy_method(int tfd, int nworkers)
{
	if (nworkers < 2 || offloads_copies(tfd))
		return M_CFR;
	return M_RW;
}

const char *method_name(int method)
{
	switch (method) {
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

/* Between chunks: let the parent supervise (job->tick), then say whether to stop. */
static int should_stop(const struct copy_job *job)
{
	if (job->tick != NULL)
		job->tick(job->ctx);
	return atomic_load(job->stop) != 0;
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
 * Copy [OFF, END) of SRC to the same offsets of the temporary, with the
 * method in the slot.  copy_file_range() keeps the bytes in the kernel,
 * and lets the file systems that can share or offload the data do so; when
 * the file systems cannot (EXDEV, ENOSYS, EINVAL, EOPNOTSUPP) the slot
 * switches to pread()/pwrite() through *BUF, allocated on first use.
 * pread()/pwrite() move RWBUF bytes at a time, but only RWSTEP when a DST
 * is being replaced: the page cache gives each write a folio of its size,
 * and 64 KiB folios, the size copy_file_range() and so cp write, can reuse
 * the memory just dropped from the old DST whoever wrote it, where larger
 * ones must come from memory that may have been idle (docs/FORKCP.md).
 * Returns 0, or -1 with the slot's error filled, also when SRC ends early.
 */
static int copy_chunk(const struct copy_job *job, off_t off, off_t end, char **buf)
{
	struct slot *s = job->slot;
	off_t step = job->replacing ? RWSTEP : RWBUF;
	off_t in, out, at;
	ssize_t n;
	size_t len;

	while (off < end) {
		if (atomic_load(&s->method) == M_CFR) {
			in = out = off;
			n = copy_file_range(job->sfd, &in, job->tfd, &out, (size_t)(end - off), 0);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				    errno == EOPNOTSUPP) {
					atomic_store(&s->method, M_RW);
					continue;
				}
				return job_fail(job, errno, "copying '%s' to '%s' at byte %jd",
				                job->vsrc, job->vdst, (intmax_t)off);
			}
		} else {
			if (*buf == NULL)
				*buf = xmalloc(RWBUF);
			len = (size_t)(end - off < step ? end - off : step);
			n = pread(job->sfd, *buf, len, off);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				return job_fail(job, errno, "reading '%s' at byte %jd", job->vsrc,
				                (intmax_t)off);
			}
			at = off;
			if (n > 0 && pwrite_all(job->tfd, *buf, (size_t)n, &at) == -1)
				return job_fail(job, errno, "writing '%s' at byte %jd", job->vdst,
				                (intmax_t)at);
		}
		if (n == 0)
			return job_fail(job, 0,
			                "'%s' ends at byte %jd, before its size of %jd bytes when "
			                "the copy started: it shrank",
			                job->vsrc, (intmax_t)off, (intmax_t)job->size);
		off += n;
		atomic_fetch_add(&s->copied, (long long)n);
	}
	return 0;
}

/*
 * Copy the data region [OFF, END) chunk by chunk, checking for a stop
 * request between chunks.  When a DST is being replaced, each chunk gets
 * two hints, whose failure changes nothing but the speed:
 *   - before it is written, the old DST's cached pages of the chunk are
 *     dropped (from the cache only: the old DST's contents are untouched
 *     until the rename), so that the new pages take the old ones' memory
 *     at once, as after cp's truncation, instead of the page cache holding
 *     both files until the rename;
 *   - once it is written, its writeback is started: ext4 and Btrfs flush
 *     a file that is renamed over another one in the rename anyway, all at
 *     once; started here, each worker flushes its own chunks while the
 *     others copy.
 * The measurements behind both: docs/FORKCP.md, "Replacing an existing DST".
 * Returns 0, 1 if told to stop, or -1 with the slot's error filled.
 */
static int copy_data(const struct copy_job *job, off_t off, off_t end, char **buf)
{
	off_t next;

	while (off < end) {
		if (should_stop(job))
			return 1;
		next = end - off < CHUNK ? end : off + CHUNK;
		if (job->oldfd != -1)
			(void)posix_fadvise(job->oldfd, off, next - off, POSIX_FADV_DONTNEED);
		if (copy_chunk(job, off, next, buf) == -1)
			return -1;
		if (job->replacing)
			(void)sync_file_range(job->tfd, off, next - off, SYNC_FILE_RANGE_WRITE);
		off = next;
	}
	return 0;
}

/*
 * The lseek() calls below move the file offset shared with the other
 * workers, but only their return values are used: no read or write depends
 * on that offset.
 */
int copy_range(const struct copy_job *job)
{
	struct slot *s = job->slot;
	off_t pos = job->start, end = job->end;
	off_t data, hole;
	char *buf = NULL;
	int rc = 0;

	if (pos < end)
		atomic_store(&s->method, job->method);
	while (pos < end && rc == 0) {
		data = lseek(job->sfd, pos, SEEK_DATA);
		if (data == -1 && errno == ENXIO) {
			data = end; /* nothing but a hole up to the end of the file */
		} else if (data == -1 && errno == EINVAL) {
			data = pos; /* no hole support: it is all data */
		} else if (data == -1) {
			rc = job_fail(job, errno, "looking for data in '%s' at byte %jd", job->vsrc,
			              (intmax_t)pos);
			break;
		}
		if (data > end)
			data = end;
		atomic_fetch_add(&s->holes, (long long)(data - pos));
		if (data == end)
			break;
		hole = lseek(job->sfd, data, SEEK_HOLE);
		if (hole == -1 || hole > end)
			hole = end; /* a shrinking file is caught by copy_chunk */
		rc = copy_data(job, data, hole, &buf);
		pos = hole;
	}
	free(buf);
	return rc;
}

int copy_stream(const struct copy_job *job)
{
	struct pollfd pfd = {.fd = job->sfd, .events = POLLIN};
	struct slot *s = job->slot;
	off_t off = 0;
	char *buf;
	ssize_t n;
	int rc = 0;

	atomic_store(&s->method, M_STREAM);
	buf = xmalloc(BUFSZ);
	for (;;) {
		if (should_stop(job)) {
			rc = 1;
			break;
		}
		n = poll(&pfd, 1, POLL_MS);
		if (n == -1 && errno != EINTR) {
			rc = job_fail(job, errno, "waiting for '%s'", job->vsrc);
			break;
		}
		if (n <= 0)
			continue;
		n = read(job->sfd, buf, BUFSZ);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = job_fail(job, errno, "reading '%s' at byte %jd", job->vsrc,
			              (intmax_t)off);
			break;
		}
		if (n == 0)
			break;
		if (pwrite_all(job->tfd, buf, (size_t)n, &off) == -1) {
			rc = job_fail(job, errno, "writing '%s' at byte %jd", job->vdst,
			              (intmax_t)off);
			break;
		}
		atomic_fetch_add(&s->copied, (long long)n);
	}
	free(buf);
	return rc;
}
