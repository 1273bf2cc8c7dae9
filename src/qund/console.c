/* console.c - the operator console child: reads stdin lines and passes them to qund's loop. */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Send one line; returns -1 if the server has gone. */
static int send_line(int fd, const char *line, size_t len)
{
	ssize_t n;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	do
		n = send(fd, line, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

/*
 * The child's whole life: read stdin, split lines, send them.  A line
 * longer than CONSOLE_MAX_LINE is sent cut to that length (the server
 * refuses it as too long, so nothing is silently shortened) and the rest
 * of it is skipped.
 */
static void __attribute__((noreturn)) console_main(int fd)
{
	char buf[CONSOLE_MAX_LINE];
	size_t have = 0;
	int skipping = 0;
	ssize_t n;

	for (;;) {
		char *nl;

		n = read(STDIN_FILENO, buf + have, sizeof buf - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* end of input, or EIO for a background job: we are done */
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			if (!skipping && send_line(fd, buf, len) < 0)
				_exit(1);
			skipping = 0;
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
		if (have == sizeof buf) {
			if (!skipping && send_line(fd, buf, have) < 0)
				_exit(1);
			skipping = 1;
			have = 0;
		}
	}
	if (have > 0 && !skipping && send_line(fd, buf, have) < 0)
		_exit(1);
	_exit(0);
}

pid_t console_start(int *fd, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;
	int sv[2], devnull;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		/* Die with the server; if it already died, go now. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(1);
		/* Ctrl-C is the server's to handle; a background read must fail, not stop us. */
		signal(SIGINT, SIG_IGN);
		signal(SIGTTIN, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		console_main(sv[1]);
	default:
		break;
	}
	close(sv[1]);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	*fd = sv[0];
	return pid;
}
