/* netproc.c - qun's network side: the sockets, the login and the fork, for either protocol. */
#include "netproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

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

/*
 * The child's side of the fork: the terminal's signals are the UI's
 * (Ctrl-C, Ctrl-Z, a hang-up and a resize reach the whole process group,
 * and the UI decides); only SIGTERM is ours, read from a signalfd, and the
 * kernel sends it when the UI dies (PR_SET_PDEATHSIG).  Only the UI reads
 * the terminal.  Then the protocol's own loop, which never returns.
 */
static void __attribute__((noreturn)) child_main(struct net_session *s, pid_t parent)
{
	static const int ignored[] = {SIGINT, SIGHUP, SIGQUIT, SIGTSTP, SIGWINCH, SIGPIPE};
	sigset_t mask;
	size_t i;
	int sigfd, fd, orphaned = 0;

	close(s->ipc[0]);
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
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (s->legacy)
		np1_main(s, s->ipc[1], sigfd, orphaned);
	np2_main(s, s->ipc[1], sigfd, orphaned);
}

pid_t net_start(struct net_session *s, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	case 0:
		child_main(s, parent);
	default:
		close(s->ipc[1]);
		s->ipc[1] = -1;
		return pid;
	}
}
