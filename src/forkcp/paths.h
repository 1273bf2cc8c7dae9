/* paths.h - SRC, DST and the temporary: open SRC, decide what DST is, make the temporary, rename it
 * over DST. */
#ifndef QUN_FORKCP_PATHS_H
#define QUN_FORKCP_PATHS_H

#include "run.h"

#include <stddef.h>

/*
 * Each function returns 0, or -1 with the reason in ERR (ERRLEN bytes),
 * naming the file in its printable form (fc->vsrc, fc->vdst); none prints.
 */

/*
 * Open fc->src read-only into fc->sfd and fc->sst; set fc->stream for a
 * pipe.  Only regular files and pipes are accepted, checked before opening
 * (some devices act when opened) and again after, against a swap between.
 * Opened non-blocking, so that a FIFO without a writer does not hang us
 * with our signals blocked; a regular file then gets blocking mode back.
 */
int open_src(struct forkcp *fc, char *err, size_t errlen);

/*
 * Decide which path gets replaced, into fc->dst: DST, or DST/basename(SRC)
 * when DST is a directory.  A symbolic link to a regular file is followed,
 * as cp writes through it; a dangling link, a directory, any other
 * non-regular file, and SRC itself (same device and inode) are refused.
 * Without -f, an existing DST we may not write is refused, as cp would
 * fail to open it.  Sets fc->replacing (and fc->dst_dev, fc->dst_ino) when
 * DST exists.
 */
int resolve_dst(struct forkcp *fc, char *err, size_t errlen);

/*
 * Create the temporary, mode 0600, in DST's directory (so that the final
 * rename stays on one file system and is atomic), into fc->tmp and fc->tfd.
 * From then on fc->have_tmp says it must be removed on failure.
 */
int make_temp(struct forkcp *fc, char *err, size_t errlen);

/* Size the temporary to SRC's size, so that workers write at any offset and SRC's holes stay holes.
 */
int size_temp(struct forkcp *fc, char *err, size_t errlen);

/*
 * Open the DST being replaced read-only into fc->oldfd, for the workers to
 * drop its cached pages as they copy (copy.h); only a hint, so nothing is
 * reported: fc->oldfd stays -1 when DST cannot be read, is no longer the
 * regular file resolve_dst() checked (it is checked through an O_PATH
 * descriptor before it is opened), or /proc is not mounted.  DST's contents are never touched
 * through it, and it is closed before the rename (finish_copy()) or on
 * failure (remove_temp()).
 */
void open_old_dst(struct forkcp *fc);

/*
 * Make the temporary the new DST: check that SRC did not change size during
 * the copy, copy SRC's permission bits (not set-id and sticky bits: the copy
 * belongs to whoever runs forkcp; a pipe's copy gets 0666 less the umask),
 * close (some file systems report write errors only there) and rename over
 * DST.  No fsync(), as with cp.  *CHANGED is set when SRC was modified
 * during the copy without changing size: the caller warns.
 */
int finish_copy(struct forkcp *fc, int *changed, char *err, size_t errlen);

/* Close what is open and remove the temporary, if there is one; -1 when it could not be removed. */
int remove_temp(struct forkcp *fc, char *err, size_t errlen);

#endif
