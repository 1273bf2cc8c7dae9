/* daemon.c - the double fork with a readiness pipe, the locked pid file, and the privilege drop. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/safefile.h"

/* Write one message ('+' ready or '-' failed, then text) in a single write: pipes keep it whole. */
static void report(int *fd, char mark, const char *text)
{
	char buf[DAEMON_MSG_MAX];
	size_t n = strlen(text);
	ssize_t w;

	if (*fd < 0)
		return;
	if (n > sizeof buf - 1)
		n = sizeof buf - 1;
	buf[0] = mark;
	memcpy(buf + 1, text, n);
	do
		w = write(*fd, buf, n + 1);
	while (w < 0 && errno == EINTR);
	close(*fd);
	*fd = -1;
}

void daemon_ready(int *fd, const char *msg)
{
	report(fd, '+', msg);
}

void daemon_failed(int *fd, const char *msg)
{
	report(fd, '-', msg);
}

void daemon_close_inherited(void)
{
	long fd, max;

	if (close_range(3, ~0U, 0) == 0)
		return;
	/* A kernel before 5.9: one by one. */
	max = sysconf(_SC_OPEN_MAX);
	for (fd = 3; fd < (max > 0 ? max : 1024); fd++)
		close((int)fd);
}

/* In the daemon: the rest of detaching, after the second fork. */
static int detach_streams(int *ready_fd)
{
	char why[DAEMON_MSG_MAX];
	int fd;

	umask(027);
	if (chdir("/") < 0) {
		snprintf(why, sizeof why, "chdir /: %s", strerror(errno));
		daemon_failed(ready_fd, why);
		return -1;
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0) {
		snprintf(why, sizeof why, "/dev/null: %s", strerror(errno));
		daemon_failed(ready_fd, why);
		return -1;
	}
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

int daemon_fork(int *ready_fd, char *msg, size_t msglen)
{
	char buf[DAEMON_MSG_MAX + 1], why[DAEMON_MSG_MAX];
	size_t have = 0;
	ssize_t n;
	pid_t pid;
	int p[2], status;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(msg, msglen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		snprintf(msg, msglen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	case 0:
		/* The first child: a new session, then the daemon, then gone. */
		close(p[0]);
		if (setsid() < 0) {
			snprintf(why, sizeof why, "setsid: %s", strerror(errno));
			daemon_failed(&p[1], why);
			_exit(1);
		}
		switch (fork()) {
		case -1:
			snprintf(why, sizeof why, "fork: %s", strerror(errno));
			daemon_failed(&p[1], why);
			_exit(1);
		case 0:
			break;
		default:
			_exit(0);
		}
		/* The daemon: no session leader, so it can never get a controlling terminal. */
		*ready_fd = p[1];
		if (detach_streams(ready_fd) < 0)
			_exit(1);
		return 0;
	default:
		break;
	}
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(msg, msglen, "waitpid: %s", strerror(errno));
			close(p[0]);
			return -1;
		}
	}
	/* The daemon's word, or end of file if it died without one. */
	for (;;) {
		n = read(p[0], buf + have, sizeof buf - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == sizeof buf - 1)
			break;
	}
	close(p[0]);
	buf[have] = '\0';
	if (have > 0 && buf[0] == '+') {
		snprintf(msg, msglen, "%s", buf + 1);
		return 1;
	}
	if (have > 0 && buf[0] == '-')
		snprintf(msg, msglen, "%s", buf + 1);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		snprintf(msg, msglen, "the first child exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(msg, msglen, "the first child was killed by signal %d", WTERMSIG(status));
	else
		snprintf(msg, msglen, "the daemon ended during start-up without saying why");
	return -1;
}

int pidfile_create(struct pidfile *pf, const char *path, uid_t user, char *err, size_t errlen)
{
	struct flock fl;
	struct stat a, b;
	char text[32], why[PATH_MAX + 256];
	int fd, tries, len, created;

	pf->fd = -1;
	pf->path = NULL;
	for (tries = 0; tries < 5; tries++) {
		fd = safefile_open(path, O_RDWR | O_CREAT, 0644, user, &created, why, sizeof why);
		if (fd < 0) {
			snprintf(err, errlen, "pid file %s", why);
			return -1;
		}
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			int e = errno;
			ssize_t n;

			if (e == EAGAIN || e == EACCES) {
				n = pread(fd, text, sizeof text - 1, 0);
				text[n > 0 ? n : 0] = '\0';
				text[strcspn(text, "\n")] = '\0';
				if (n > 0 && text[0] != '\0')
					snprintf(
					    err, errlen,
					    "already running as pid %s (pid file %s is locked)",
					    text, path);
				else
					snprintf(err, errlen,
					         "already running (pid file %s is locked)", path);
			} else {
				snprintf(err, errlen, "lock pid file %s: %s", path, strerror(e));
			}
			close(fd);
			return -1;
		}
		/*
		 * The file we locked must still be the one at path: an instance
		 * on its way out may have unlinked it between our open and our
		 * lock.  If so, start again with a fresh file.
		 */
		if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		snprintf(err, errlen, "pid file %s keeps disappearing", path);
		return -1;
	}
	len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		snprintf(err, errlen, "write pid file %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	pf->fd = fd;
	pf->path = strdup(path);
	if (pf->path == NULL) {
		snprintf(err, errlen, "out of memory");
		unlink(path);
		close(fd);
		pf->fd = -1;
		return -1;
	}
	return 0;
}

int pidfile_remove(struct pidfile *pf, char *err, size_t errlen)
{
	int rc = 0;

	if (pf->fd < 0)
		return 0;
	/* Unlink while still holding the lock, so no newcomer locks a file about to vanish. */
	if (unlink(pf->path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove pid file %s: %s", pf->path, strerror(errno));
		rc = -1;
	}
	close(pf->fd);
	pf->fd = -1;
	free(pf->path);
	pf->path = NULL;
	return rc;
}

int rundir_prepare(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char dir[PATH_MAX], why[PATH_MAX + 256];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL || slash == path)
		return safefile_check_dir(path, uid, err, errlen); /* the current directory or / */
	n = (size_t)(slash - path);
	if (n >= sizeof dir) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (safefile_mkdir(dir, 0755, uid, gid, NULL, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL && user[0] >= '0' && user[0] <= '9') {
		v = strtoul(user, &end, 10);
		if (*end == '\0' && v < (unsigned long)(uid_t)-1) {
			errno = 0;
			pw = getpwuid((uid_t)v);
		}
	}
	if (pw == NULL) {
		if (errno != 0)
			snprintf(err, errlen, "user %s: %s", user, strerror(errno));
		else
			snprintf(err, errlen, "no such user: %s", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int group_lookup(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group *gr;
	char *end;
	unsigned long v;

	errno = 0;
	gr = getgrnam(group);
	if (gr == NULL && group[0] >= '0' && group[0] <= '9') {
		v = strtoul(group, &end, 10);
		if (*end == '\0' && v < (unsigned long)(gid_t)-1) {
			errno = 0;
			gr = getgrgid((gid_t)v);
		}
	}
	if (gr == NULL) {
		if (errno != 0)
			snprintf(err, errlen, "group %s: %s", group, strerror(errno));
		else
			snprintf(err, errlen, "no such group: %s", group);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

int priv_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[2];
	int ngroups;

	if (getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "only root can switch to uid %ld (running as uid %ld)",
		         (long)uid, (long)geteuid());
		return -1;
	}
	/* Groups first: once uid is dropped we could no longer change them. */
	if (setgroups(1, &gid) < 0) {
		snprintf(err, errlen, "setgroups(%ld): %s", (long)gid, strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		snprintf(err, errlen, "setresgid(%ld): %s", (long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		snprintf(err, errlen, "setresuid(%ld): %s", (long)uid, strerror(errno));
		return -1;
	}
	/* Trust nothing: read every id back. */
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid) {
		snprintf(err, errlen, "uid is not %ld after setresuid", (long)uid);
		return -1;
	}
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid) {
		snprintf(err, errlen, "gid is not %ld after setresgid", (long)gid);
		return -1;
	}
	ngroups = getgroups(2, groups);
	if (ngroups < 0 || ngroups > 1 || (ngroups == 1 && groups[0] != gid)) {
		snprintf(err, errlen, "supplementary groups are not just %ld", (long)gid);
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err, errlen, "could regain root after dropping to uid %ld", (long)uid);
		return -1;
	}
	return 0;
}
