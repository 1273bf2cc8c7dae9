/* failwrite.c - LD_PRELOAD shim for test_forkcp.py: writes into forkcp's temporary fail past an
 * offset. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * Why this exists: to test that a copy which fails half-way leaves an
 * existing DST whole, the failure must come after some chunks were copied
 * (forkcp drops the old DST's cached pages chunk by chunk), and a file
 * size limit cannot do that: forkcp sizes its temporary before any worker
 * starts, so the limit stops it there.  With $FAILWRITE_AT set to a byte
 * offset, pwrite() and copy_file_range() into a file whose name starts
 * with ".forkcp-" fail with EIO when they would write at or past that
 * offset; everything else goes through untouched.
 */

static long long fail_at(void)
{
	const char *v = getenv("FAILWRITE_AT");

	return v != NULL ? atoll(v) : -1;
}

/* Is fd forkcp's temporary (a file named .forkcp-XXXXXX)? */
static int is_temp(int fd)
{
	char link[64], path[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	return strncmp(base != NULL ? base + 1 : path, ".forkcp-", 8) == 0;
}

static int must_fail(int fd, long long off, size_t len)
{
	long long at = fail_at();

	return at >= 0 && len > 0 && off + (long long)len > at && is_temp(fd);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (must_fail(fd, (long long)off, len)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

ssize_t copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t len, unsigned flags)
{
	static ssize_t (*real)(int, off_t *, int, off_t *, size_t, unsigned);

	if (outoff != NULL && must_fail(out, (long long)*outoff, len)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "copy_file_range");
	return real(in, inoff, out, outoff, len, flags);
}
