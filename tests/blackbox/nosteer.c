/* nosteer.c - LD_PRELOAD shim for test_qunctl.py: a kernel that refuses qund's ACK-sorting program.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * Why this exists: qund attaches a classic BPF program to its SO_REUSEPORT
 * group (src/qund/steer.c) and must keep working, saying why, where the
 * kernel refuses it (an old kernel, a seccomp filter).  This makes
 * setsockopt(SO_ATTACH_REUSEPORT_CBPF) fail with EPERM; every other call
 * goes through untouched.
 */
int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);

	if (level == SOL_SOCKET && name == SO_ATTACH_REUSEPORT_CBPF) {
		errno = EPERM;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, name, val, len);
}
