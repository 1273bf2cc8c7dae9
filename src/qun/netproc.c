/* netproc.c - qun's network side: the sockets, the login and the fork, for either protocol. */
#include "netproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net.h"

/*
 * The network process's stderr.  It prints nothing (netproc.h), but a
 * sanitizer's report or libc's last words ("*** stack smashing detected
 * ***") go to fd 2 all the same, and must not be lost.  Nor may it keep
 * qun's own stderr (or stdout: /dev/null) open: it outlives a killed UI by
 * up to a few seconds while it says goodbye, and whoever reads qun's
 * output to its end (a pipe, a terminal) would wait for it.  So its stderr
 * is a file in memory, created before the fork, and the UI copies what is
 * in it to its own stderr when it exits (show_net_stderr, at exit), by
 * which time it has reaped the network process; a UI killed shows nothing
 * (sanitizer runs that kill it set log_path, and find the reports in
 * files).  -1: none (then /dev/null).  NET_STDERR_MAX bounds the file
 * (RLIMIT_FSIZE in the child), so a process printing in a loop cannot
 * fill memory.
 */
static int net_stderr = -1;
#define NET_STDERR_MAX ((rlim_t)1024 * 1024)

int net_connect(struct net_session *s, char *err, size_t errlen)
{
	s->ipc[0] = s->ipc[1] = -1;
	s->fd = net_udp_connect(s->host, s->port, err, errlen);
	if (s->fd < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->ipc) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	return 0;
}

enum net_login_result net_login(struct net_session *s, char *reason, size_t size)
{
	return s->legacy ? np1_login(s, reason, size) : np2_login(s, reason, size);
}

void net_farewell(const struct net_session *s)
{
	if (s->legacy)
		np1_farewell(s);
}

/* At the UI's exit: what the network process wrote to its stderr, copied to ours as it is. */
static void show_net_stderr(void)
{
	char buf[4096];
	off_t off = 0;
	ssize_t n, w, done;

	for (;;) {
		n = pread(net_stderr, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += n;
		for (done = 0; done < n; done += w) {
			w = write(STDERR_FILENO, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				return; /* nobody reads our stderr either */
		}
	}
}

/*
 * The child's stdin and stdout become /dev/null, its stderr net_stderr
 * (or /dev/null), so that it holds none of qun's own.  Returns -1 if
 * /dev/null cannot be opened.
 */
static int detach_stdio(void)
{
	struct rlimit cap = {NET_STDERR_MAX, NET_STDERR_MAX};
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return -1;
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(net_stderr >= 0 ? net_stderr : null, STDERR_FILENO);
	close(null);
	if (net_stderr >= 0) {
		close(net_stderr);
		/* It writes no file of its own; past the cap, writes fail (SIGXFSZ is ignored). */
		(void)setrlimit(RLIMIT_FSIZE, &cap);
	}
	return 0;
}

/*
 * The child's side of the fork: the terminal's signals are the UI's
 * (Ctrl-C, Ctrl-Z, a hang-up and a resize reach the whole process group,
 * and the UI decides); only SIGTERM is ours, read from a signalfd, and the
 * kernel sends it when the UI dies (PR_SET_PDEATHSIG).  Only the UI reads
 * the terminal, and only the UI writes to qun's stdout and stderr
 * (detach_stdio).  Then the protocol's own loop, which never returns.
 */
static void __attribute__((noreturn)) child_main(struct net_session *s, pid_t parent)
{
	static const int ignored[] = {SIGINT, SIGHUP, SIGQUIT, SIGTSTP, SIGWINCH, SIGPIPE, SIGXFSZ};
	sigset_t mask;
	size_t i;
	int sigfd, orphaned = 0;

	close(s->ipc[0]);
	if (detach_stdio() < 0)
		_exit(1);
	for (i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_SETMASK, &mask, NULL) < 0 ||
	    (sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		_exit(1);
	/* If the UI died before we could ask to be told, leave at once, properly. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		orphaned = 1;
	if (s->legacy)
		np1_main(s, s->ipc[1], sigfd, orphaned);
	np2_main(s, s->ipc[1], sigfd, orphaned);
}

/*
 * Besides netproc.h's contract: the UI's exit shows what the network
 * process wrote to its stderr (see net_stderr); without a file in memory
 * (memfd_create failed) that goes to /dev/null.
 */
pid_t net_start(struct net_session *s, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	net_stderr = memfd_create("qun-net-stderr", MFD_CLOEXEC);
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		if (net_stderr >= 0)
			close(net_stderr);
		net_stderr = -1;
		return -1;
	case 0:
		child_main(s, parent);
	default:
		close(s->ipc[1]);
		s->ipc[1] = -1;
		if (net_stderr >= 0 && atexit(show_net_stderr) != 0) {
			close(net_stderr);
			net_stderr = -1;
		}
		return pid;
	}
}
