/* paths.c - SRC, DST and the temporary: open SRC, decide what DST is, make the temporary, rename it
 * over DST. */
#include "run.h"

#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"

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

int open_src(struct forkcp *fc, char *err, size_t errlen)
{
	struct stat st;
	int fl;

	if (stat(fc->src, &st) == -1) {
		snprintf(err, errlen, "cannot read '%s': %s", fc->vsrc, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is a directory; forkcp copies one file", fc->vsrc);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		snprintf(err, errlen, "'%s' is %s; forkcp copies regular files and pipes", fc->vsrc,
		         file_type(st.st_mode));
		return -1;
	}
	fc->sfd = open(fc->src, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fc->sfd == -1) {
		snprintf(err, errlen, "cannot open '%s': %s", fc->vsrc, strerror(errno));
		return -1;
	}
	if (fstat(fc->sfd, &fc->sst) == -1) {
		snprintf(err, errlen, "cannot stat '%s': %s", fc->vsrc, strerror(errno));
		return -1;
	}
	if (fc->sst.st_dev != st.st_dev || fc->sst.st_ino != st.st_ino ||
	    (fc->sst.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) {
		snprintf(err, errlen, "'%s' was replaced while being opened", fc->vsrc);
		return -1;
	}
	fc->stream = S_ISFIFO(fc->sst.st_mode);
	if (!fc->stream) {
		fl = fcntl(fc->sfd, F_GETFL);
		if (fl == -1 || fcntl(fc->sfd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
			snprintf(err, errlen, "cannot set up '%s': %s", fc->vsrc, strerror(errno));
			return -1;
		}
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

/* fc->dst from DST as given: DST itself, or DST/basename(SRC) when DST is a directory. */
static int name_dst(struct forkcp *fc, char *err, size_t errlen)
{
	const char *d = fc->dstarg;
	size_t len = strlen(d);
	char base[PATHSZ];
	struct stat st;
	int serr;

	printable(fc->vdst, sizeof fc->vdst, d);
	serr = stat(d, &st) == 0 ? 0 : errno;
	if (serr == 0 && S_ISDIR(st.st_mode)) {
		last_component(base, fc->src);
		fc->dst[0] = '\0';
		if (append(fc->dst, sizeof fc->dst, d, len) == -1 ||
		    (d[len - 1] != '/' && append(fc->dst, sizeof fc->dst, "/", 1) == -1) ||
		    append(fc->dst, sizeof fc->dst, base, strlen(base)) == -1) {
			snprintf(err, errlen, "'%s' in '%s': %s", fc->vsrc, fc->vdst,
			         strerror(ENAMETOOLONG));
			return -1;
		}
	} else if (len > 0 && d[len - 1] == '/') {
		snprintf(err, errlen, "destination directory '%s': %s", fc->vdst,
		         strerror(serr == 0 ? ENOTDIR : serr));
		return -1;
	} else {
		if (len >= sizeof fc->dst) {
			snprintf(err, errlen, "'%s': %s", fc->vdst, strerror(ENAMETOOLONG));
			return -1;
		}
		memcpy(fc->dst, d, len + 1);
	}
	printable(fc->vdst, sizeof fc->vdst, fc->dst);
	return 0;
}

int resolve_dst(struct forkcp *fc, char *err, size_t errlen)
{
	struct stat st, lst;
	char real[PATHSZ];

	if (name_dst(fc, err, errlen) == -1)
		return -1;
	if (lstat(fc->dst, &lst) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot check '%s': %s", fc->vdst, strerror(errno));
		return -1;
	}
	if (S_ISLNK(lst.st_mode)) {
		if (stat(fc->dst, &st) == -1) {
			snprintf(err, errlen,
			         "'%s' is a symbolic link that cannot be followed; not writing "
			         "through it: %s",
			         fc->vdst, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "'%s' is a symbolic link to %s; not replacing it",
			         fc->vdst, file_type(st.st_mode));
			return -1;
		}
		if (realpath(fc->dst, real) == NULL) {
			snprintf(err, errlen, "cannot resolve '%s': %s", fc->vdst, strerror(errno));
			return -1;
		}
		memcpy(fc->dst, real, strlen(real) + 1);
	} else if (S_ISDIR(lst.st_mode)) {
		snprintf(err, errlen, "cannot overwrite directory '%s' with a file", fc->vdst);
		return -1;
	} else if (!S_ISREG(lst.st_mode)) {
		snprintf(err, errlen, "'%s' is %s; forkcp only replaces regular files", fc->vdst,
		         file_type(lst.st_mode));
		return -1;
	} else {
		st = lst;
	}
	if (st.st_dev == fc->sst.st_dev && st.st_ino == fc->sst.st_ino) {
		snprintf(err, errlen, "'%s' and '%s' are the same file", fc->vsrc, fc->vdst);
		return -1;
	}
	if (!fc->force && faccessat(AT_FDCWD, fc->dst, W_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "cannot replace '%s' (use -f to replace it anyway): %s",
		         fc->vdst, strerror(errno));
		return -1;
	}
	fc->replacing = 1;
	fc->dst_dev = st.st_dev;
	fc->dst_ino = st.st_ino;
	return 0;
}

int make_temp(struct forkcp *fc, char *err, size_t errlen)
{
	static const char name[] = ".forkcp-XXXXXX";
	const char *slash = strrchr(fc->dst, '/');
	size_t dirlen = slash == NULL ? 0 : (size_t)(slash - fc->dst + 1);
	char vdir[NAMESZ];

	fc->tmp[0] = '\0';
	if (append(fc->tmp, sizeof fc->tmp, fc->dst, dirlen) == -1 ||
	    append(fc->tmp, sizeof fc->tmp, name, sizeof name - 1) == -1) {
		snprintf(err, errlen, "temporary file for '%s': %s", fc->vdst,
		         strerror(ENAMETOOLONG));
		return -1;
	}
	fc->tfd = mkostemp(fc->tmp, O_CLOEXEC);
	if (fc->tfd == -1) {
		int e = errno;

		fc->tmp[dirlen] = '\0';
		printable(vdir, sizeof vdir, dirlen == 0 ? "." : fc->tmp);
		snprintf(err, errlen, "cannot create a temporary file in '%s': %s", vdir,
		         strerror(e));
		return -1;
	}
	fc->have_tmp = fc->made_tmp = 1;
	return 0;
}

int size_temp(struct forkcp *fc, char *err, size_t errlen)
{
	if (ftruncate(fc->tfd, fc->sst.st_size) == -1) {
		snprintf(err, errlen, "cannot size the temporary for '%s' to %jd bytes: %s",
		         fc->vdst, (intmax_t)fc->sst.st_size, strerror(errno));
		return -1;
	}
	return 0;
}

void open_old_dst(struct forkcp *fc)
{
	char self[64];
	struct stat st;
	int path, fd;

	/*
	 * O_PATH first: opening whatever was swapped in at DST since
	 * resolve_dst() looked (a device, a FIFO) could have effects of its own;
	 * only the regular file checked is then opened for reading.
	 */
	path = open(fc->dst, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path == -1)
		return;
	if (fstat(path, &st) == -1 || !S_ISREG(st.st_mode) || st.st_dev != fc->dst_dev ||
	    st.st_ino != fc->dst_ino) {
		close(path);
		return;
	}
	snprintf(self, sizeof self, "/proc/self/fd/%d", path);
	fd = open(self, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	close(path);
	if (fd != -1)
		fc->oldfd = fd;
}

/*
 * Close the old DST, if open: the rename must drop its last reference, so
 * that its blocks are freed there and not, later, at our exit.
 */
static void close_old_dst(struct forkcp *fc)
{
	if (fc->oldfd != -1) {
		close(fc->oldfd);
		fc->oldfd = -1;
	}
}

int finish_copy(struct forkcp *fc, int *changed, char *err, size_t errlen)
{
	struct stat now;
	mode_t mode;
	int fd;

	*changed = 0;
	if (!fc->stream) {
		if (fstat(fc->sfd, &now) == -1) {
			snprintf(err, errlen, "cannot stat '%s': %s", fc->vsrc, strerror(errno));
			return -1;
		}
		if (now.st_size != fc->sst.st_size) {
			snprintf(err, errlen,
			         "'%s' changed size during the copy, from %jd to %jd bytes",
			         fc->vsrc, (intmax_t)fc->sst.st_size, (intmax_t)now.st_size);
			return -1;
		}
		*changed = now.st_mtim.tv_sec != fc->sst.st_mtim.tv_sec ||
		           now.st_mtim.tv_nsec != fc->sst.st_mtim.tv_nsec;
		mode = fc->sst.st_mode & 0777;
	} else {
		mode = 0666 & ~fc->umask;
	}
	if (fchmod(fc->tfd, mode) == -1) {
		snprintf(err, errlen, "cannot set the mode of '%s': %s", fc->vdst, strerror(errno));
		return -1;
	}
	fd = fc->tfd;
	fc->tfd = -1;
	if (close(fd) == -1) {
		snprintf(err, errlen, "writing '%s': %s", fc->vdst, strerror(errno));
		return -1;
	}
	close_old_dst(fc);
	if (rename(fc->tmp, fc->dst) == -1) {
		snprintf(err, errlen, "cannot replace '%s': %s", fc->vdst, strerror(errno));
		return -1;
	}
	fc->have_tmp = 0;
	return 0;
}

int remove_temp(struct forkcp *fc, char *err, size_t errlen)
{
	char vtmp[NAMESZ];
	int rc = 0;

	close_old_dst(fc);
	if (fc->tfd != -1) {
		close(fc->tfd);
		fc->tfd = -1;
	}
	if (fc->have_tmp && unlink(fc->tmp) == -1) {
		int e = errno;

		printable(vtmp, sizeof vtmp, fc->tmp);
		snprintf(err, errlen, "cannot remove the temporary file '%s': %s", vtmp,
		         strerror(e));
		rc = -1;
	}
	fc->have_tmp = 0;
	return rc;
}
