/* qunctl.c - the operator's tool: sends one command to qund's control socket and prints the reply.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "proto/ctl.h"

#define QUNCTL_VERSION "0.1.0"

/*
 * Exit statuses (qunctl(8)): 0 to 3 are the server's own status line; 3
 * (CONTROL_DENIED: the server will not let us in) is also ours for a
 * server that could not be reached or was not trusted: either way nothing
 * was done.
 */
enum { EXIT_NO_SERVER = 3 };
_Static_assert(EXIT_NO_SERVER == CONTROL_DENIED, "a refusal exits as an unreachable server");

static const char usage_text[] =
    "usage: qunctl [-j] [-s SOCKET] [-t SECS] [-u USER] COMMAND [ARG...]\n";

/* The account the packaged unit runs qund as (packaging/qund.service.in): trusted by default. */
#define DEFAULT_SERVER_USER "qund"

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs(
		    "\n"
		    "  -j, --json           reply as one JSON object (for scripts)\n"
		    "  -s, --socket PATH    qund's control socket (default:\n"
		    "                       $RUNTIME_DIRECTORY/qund.sock or /run/qun/qund.sock)\n"
		    "  -t, --timeout SECS   give up after SECS (default 10)\n"
		    "  -u, --server-user USER\n"
		    "                       qund runs as USER: talk to a server running as\n"
		    "                       USER, root or yourself, and no other (default: "
		    "qund)\n"
		    "  -h, --help           show this help\n"
		    "  -V, --version        show the version\n"
		    "\n"
		    "commands:\n"
		    "  say TEXT                   speak to the room as the operator\n"
		    "  who                        list the members and their addresses\n"
		    "  kick NAME [REASON]         remove a member\n"
		    "  ban NAME|ADDR [DURATION]   keep a name or an address (or ADDR/PREFIX) out\n"
		    "  unban NAME|ADDR            lift a ban\n"
		    "  mute NAME [DURATION]       stop a name from speaking\n"
		    "  unmute NAME                lift a mute\n"
		    "  bans                       list bans and mutes\n"
		    "  stats                      counters: members, datagrams, drops, uptime\n"
		    "  shutdown [MESSAGE]         tell the room, then stop the server\n"
		    "DURATION: 90, 90s, 15m, 2h, 7d, 2w; none means until lifted.\n",
		    stdout);
	exit(status);
}

/*
 * Join the words into one request line in line[size]: "[--json ]WORD WORD...".
 * Returns the length, or -1 with a reason in err (a line end inside an
 * argument would smuggle in a second request; the whole must fit).
 */
static int build_request(char *line, size_t size, int json, int argc, char **argv, char *err,
                         size_t errlen)
{
	size_t len = 0, n;
	int i;

	if (json) {
		memcpy(line, "--json ", 7);
		len = 7;
	}
	for (i = 0; i < argc; i++) {
		n = strlen(argv[i]);
		if (strpbrk(argv[i], "\r\n") != NULL) {
			snprintf(err, errlen, "argument %d contains a line break", i + 1);
			return -1;
		}
		if (len + n + 2 > size) {
			snprintf(err, errlen, "request longer than %zu bytes", size - 2);
			return -1;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], n);
		len += n;
	}
	line[len++] = '\n';
	return (int)len;
}

/* Connect to the socket at path; -1 with the reason in err. */
static int connect_to(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) == 0 || strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path is empty or too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(errno),
		         errno == ENOENT || errno == ECONNREFUSED ? " (is qund running?)"
		         : errno == EACCES                        ? " (not allowed: see qunctl(8))"
		                                                  : "");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Before anything is sent: is the server at the other end of fd one to
 * trust?  Its uid comes from the kernel (SO_PEERCRED: whoever called
 * listen(), for qund root or the user it runs as), not from the socket
 * file, which a user controlling its directory could have replaced with
 * their own to read the command and answer it (THREATS.md S22).  Root,
 * the user running qunctl and server_uid (or none: (uid_t)-1) are
 * trusted.  -1 with the reason in err.
 */
static int check_server(int fd, const char *path, uid_t server_uid, const char *server_user,
                        char *err, size_t errlen)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	const struct passwd *pw;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		snprintf(err, errlen, "%s: cannot tell who the server is (SO_PEERCRED): %s", path,
		         strerror(errno));
		return -1;
	}
	if (cred.uid == 0 || cred.uid == getuid() || cred.uid == geteuid() ||
	    (server_uid != (uid_t)-1 && cred.uid == server_uid))
		return 0;
	pw = getpwuid(cred.uid);
	snprintf(err, errlen,
	         "refusing to talk to %s: the server there (pid %ld) runs as uid %ld%s%s%s, not as "
	         "root%s%s or you; nothing was sent (if qund really runs as that user, say so with "
	         "--server-user)",
	         path, (long)cred.pid, (long)cred.uid, pw != NULL ? " (" : "",
	         pw != NULL ? pw->pw_name : "", pw != NULL ? ")" : "",
	         server_uid != (uid_t)-1 ? ", " : "", server_uid != (uid_t)-1 ? server_user : "");
	return -1;
}

/*
 * The uid of user (a name, or a number, which needs no account) in *uid;
 * -1 if there is no such user.
 */
static int server_user_uid(const char *user, uid_t *uid)
{
	const struct passwd *pw = getpwnam(user);
	char *end;
	unsigned long v;

	if (pw == NULL && user[0] >= '0' && user[0] <= '9') {
		errno = 0;
		v = strtoul(user, &end, 10);
		if (errno == 0 && *end == '\0' && v < (unsigned long)(uid_t)-1) {
			*uid = (uid_t)v;
			return 0;
		}
	}
	if (pw == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
}

/* Wait until fd is ready for events or the deadline passes; -1 with err on timeout. */
static int wait_for(int fd, short events, uint64_t deadline, char *err, size_t errlen)
{
	struct pollfd p = {.fd = fd, .events = events};
	uint64_t now;
	int rc;

	for (;;) {
		now = now_ms();
		if (now >= deadline) {
			snprintf(err, errlen, "no answer from qund in time");
			return -1;
		}
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* Send the request and read the whole reply into *reply (NUL-terminated). */
static int converse(int fd, const char *line, size_t len, uint64_t deadline, char **reply,
                    size_t *rlen, char *err, size_t errlen)
{
	size_t sent = 0, have = 0, cap = 4096;
	char *buf;
	ssize_t n;

	while (sent < len) {
		if (wait_for(fd, POLLOUT, deadline, err, errlen) < 0)
			return -1;
		n = send(fd, line + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
		sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	buf = xmalloc(cap);
	for (;;) {
		if (wait_for(fd, POLLIN, deadline, err, errlen) < 0) {
			free(buf);
			return -1;
		}
		if (have + 1 == cap) {
			if (cap >= CONTROL_MAX_REPLY + 16) {
				snprintf(err, errlen, "reply too large");
				free(buf);
				return -1;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	*reply = buf;
	*rlen = have;
	return 0;
}

static void default_socket(char *out, size_t size)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	size_t n = rd != NULL ? strcspn(rd, ":") : 0;

	if (n > 0 && rd[0] == '/' && n + sizeof "/qund.sock" <= size)
		snprintf(out, size, "%.*s/qund.sock", (int)n, rd);
	else
		snprintf(out, size, "/run/qun/qund.sock");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"socket", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"server-user", required_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	char line[CONTROL_MAX_REQUEST + 1], err[512], *reply = NULL, *end;
	const char *sock = NULL, *body, *server_user = NULL;
	uid_t server_uid = (uid_t)-1;
	unsigned long timeout = 10;
	size_t rlen;
	int c, json = 0, fd, len, status;

	log_init(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	/* '+': options end at the command, so its arguments may start with '-'. */
	while ((c = getopt_long(argc, argv, "+js:t:u:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] < '0' || optarg[0] > '9' ||
			    timeout == 0 || timeout > 86400) {
				log_warnx("--timeout: expected 1..86400 seconds, got \"%s\"",
				          optarg);
				usage(2);
			}
			break;
		case 'u':
			server_user = optarg;
			if (server_user_uid(server_user, &server_uid) < 0) {
				log_warnx("--server-user: no such user: %s", server_user);
				usage(2);
			}
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("qunctl %s\n", QUNCTL_VERSION);
			return 0;
		default:
			usage(2);
		}
	}
	if (optind == argc) {
		log_warnx("no command given");
		usage(2);
	}
	if (sock == NULL) {
		default_socket(path, sizeof path);
		sock = path;
	}
	if (server_user == NULL && server_user_uid(DEFAULT_SERVER_USER, &server_uid) == 0)
		server_user = DEFAULT_SERVER_USER;
	len = build_request(line, sizeof line, json, argc - optind, argv + optind, err, sizeof err);
	if (len < 0) {
		log_warnx("%s", err);
		return 2;
	}
	fd = connect_to(sock, err, sizeof err);
	if (fd < 0 || check_server(fd, sock, server_uid, server_user, err, sizeof err) < 0) {
		if (fd >= 0)
			close(fd);
		log_warnx("%s", err);
		return EXIT_NO_SERVER;
	}
	if (converse(fd, line, (size_t)len, now_ms() + timeout * 1000, &reply, &rlen, err,
	             sizeof err) < 0) {
		close(fd);
		log_warnx("%s", err);
		return EXIT_NO_SERVER;
	}
	close(fd);
	/* The status line: "0", "1", "2" or "3" (CONTROL_DENIED: we may not), then the body. */
	if (rlen < 2 || reply[0] < '0' || reply[0] > '0' + CONTROL_DENIED || reply[1] != '\n') {
		log_warnx("malformed reply from qund");
		free(reply);
		return EXIT_NO_SERVER;
	}
	status = reply[0] - '0';
	body = reply + 2;
	if (status == 0 || json) {
		fputs(body, stdout);
	} else {
		/* A failure in text: the server's words, as our error. */
		size_t n = strlen(body);

		if (n > 0 && body[n - 1] == '\n')
			n--;
		log_warnx("%.*s", (int)n, body);
	}
	free(reply);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("stdout");
		return 1;
	}
	return status;
}
