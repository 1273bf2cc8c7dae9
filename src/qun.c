/* qun.c - the terminal client: log in, then one process receives and prints while the other reads
 * and sends. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "i18n.h"
#include "sizes.h"
#include "log.h"
#include "net.h"
#include "netproc2.h"
#include "text.h"
#include "wire1.h"

#define QUN_VERSION "0.1.0"
#define LOGIN_TRIES 5    /* L sent this many times, 1 s apart */
#define QUIT_TRIES  3    /* Q sent this many times, 1 s apart, waiting for EXIT */
#define LOGIN_PAD   256  /* padding that makes room for a full refusal after "ERR" */
#define INPUT_MAX   4096 /* longest input line we hold; longer ones are refused */
#define SANE_MAX    (QUN_MAX_DATAGRAM * 8 + 1)

struct client {
	const char *host, *port;
	char name[QUN_MAX_NAME + 1];
	enum lang lang;
	int fd;             /* UDP socket connected to the server */
	int tty;            /* stdin and stdout are a terminal: show prompts */
	int fancy;          /* ... and not TERM=dumb: we may erase the prompt line */
	unsigned keepalive; /* seconds between P datagrams */
	pid_t receiver;     /* the child that prints incoming lines */
	int legacy;         /* speak protocol v1 (the lesson's) instead of v2 */
	int ipc;            /* v2: our end of the socketpair to the network process */
	struct netproc2 np; /* v2: the network side */
};

static const char usage_text[] =
    "usage: qun [-s HOST] [-p PORT] [--lang zh|en] [--legacy] [--keepalive SECS] [NAME]\n";

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs("\n"
		      "  -s, --server HOST     server to join (default 127.0.0.1)\n"
		      "  -p, --port PORT       server's UDP port (default 8888)\n"
		      "      --lang zh|en      language of qun's own messages (default: locale)\n"
		      "      --legacy          speak protocol v1 (the lesson's servers)\n"
		      "      --keepalive SECS  seconds between keepalives (default 25)\n"
		      "  -h, --help            show this help\n"
		      "  -V, --version         show the version\n"
		      "\nIn the room: type a line to send it; /help, /quit (or quit, Ctrl-D, "
		      "Ctrl-C).\n",
		      stdout);
	exit(status);
}

/* Print UI text t with its placeholders filled, and a newline, to stream; flushed. */
static void say(FILE *stream, const struct client *c, enum ui_text t, const char *a, const char *b)
{
	char line[1024];

	ui_format(line, sizeof line, ui_text(c->lang, t), a, b);
	fprintf(stream, "%s\n", line);
	fflush(stream);
}

/* Print a fixed line (a refusal reason, say) and a newline to stream; flushed. */
static void say_plain(FILE *stream, const char *text)
{
	fprintf(stream, "%s\n", text);
	fflush(stream);
}

static void prompt(const struct client *c)
{
	if (c->tty) {
		fputs("> ", stdout);
		fflush(stdout);
	}
}

static void parse_options(int argc, char **argv, struct client *c)
{
	enum { OPT_LANG = 256, OPT_KEEPALIVE, OPT_LEGACY };
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"lang", required_argument, NULL, OPT_LANG},
	    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
	    {"legacy", no_argument, NULL, OPT_LEGACY},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	unsigned long v;
	int opt;

	c->host = "127.0.0.1";
	c->port = "8888";
	c->lang = lang_from_env();
	c->keepalive = 25;
	while ((opt = getopt_long(argc, argv, "s:p:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			c->host = optarg;
			break;
		case 'p':
			c->port = optarg;
			break;
		case OPT_LANG:
			if (lang_parse(optarg, &c->lang) < 0) {
				log_warnx("--lang: expected zh or en, got \"%s\"", optarg);
				usage(2);
			}
			break;
		case OPT_KEEPALIVE:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || *optarg < '1' || *optarg > '9' ||
			    v > 3600) {
				log_warnx("--keepalive: expected 1..3600 seconds, got \"%s\"",
				          optarg);
				usage(2);
			}
			c->keepalive = (unsigned)v;
			break;
		case OPT_LEGACY:
			c->legacy = 1;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("qun %s\n", QUN_VERSION);
			exit(0);
		default:
			usage(2);
		}
	}
	if (argc - optind > 1) {
		log_warnx("unexpected argument \"%s\"", argv[optind + 1]);
		usage(2);
	}
	c->name[0] = '\0';
	if (optind < argc) {
		if (strlen(argv[optind]) > QUN_MAX_NAME) {
			say_plain(stderr, qerr_text(c->lang, QERR_NAME_INVALID, NAME_TOO_LONG));
			exit(2);
		}
		strcpy(c->name, argv[optind]);
	}
}

/*
 * Read one line from stdin into buf (without its line ending).  Returns
 * its length, -1 at end of input, or -2 if the line was longer than
 * size - 1 (the rest of it is consumed and dropped, never sent).
 */
static ssize_t read_line_blocking(char *buf, size_t size)
{
	size_t have = 0;
	int too_long = 0;
	char ch;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return have > 0 && !too_long ? (ssize_t)have : -1;
		if (ch == '\n')
			break;
		if (have + 1 < size)
			buf[have++] = ch;
		else
			too_long = 1;
	}
	if (have > 0 && buf[have - 1] == '\r')
		have--;
	buf[have] = '\0';
	return too_long ? -2 : (ssize_t)have;
}

/* Ask for a name until one passes the local name rules.  Returns -1 at end of input. */
static int ask_name(struct client *c)
{
	char line[256];
	enum name_status ns;
	ssize_t n;

	for (;;) {
		fputs(ui_text(c->lang, UI_ASK_NAME), stdout);
		fflush(stdout);
		n = read_line_blocking(line, sizeof line);
		if (n == -1)
			return -1;
		ns = n == -2 ? NAME_TOO_LONG : name_check(line, (size_t)n);
		if (ns == NAME_OK) {
			strcpy(c->name, line);
			return 0;
		}
		say_plain(stderr, qerr_text(c->lang, QERR_NAME_INVALID, (int)ns));
	}
}

/* Send a request; errors (a refused port, say) surface on the next recv, so they are ignored here.
 */
static void send_request(const struct client *c, enum v1_cmd cmd, const char *text, size_t pad)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	int n = v1_format_request(buf, sizeof buf, cmd, c->name, text, pad);

	if (n > 0)
		(void)send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
}

/* v2: hand a line to the network process, which owns the session. */
static void forward(const struct client *c, char kind, const char *text, size_t len)
{
	char buf[V2_MAX_TEXT + 1];

	if (len > V2_MAX_TEXT)
		return;
	buf[0] = kind;
	if (len > 0)
		memcpy(buf + 1, text, len);
	(void)send(c->ipc, buf, len + 1, MSG_NOSIGNAL);
}

/*
 * Wait up to ms for one datagram into buf (NUL-terminated).  Returns its
 * length, 0 on time-out (or an ICMP error such as a refused port, which
 * means "no server yet" and is treated like silence).
 */
static ssize_t recv_wait(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	r = poll(&p, 1, ms);
	if (r <= 0)
		return 0;
	n = recv(fd, buf, size - 1, 0);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return n;
}

/*
 * Log in as c->name: L, retransmitted every second.  Returns 1 when the
 * server said OK, 0 when it refused (the reason is printed), -1 when it
 * never answered.  A bare "ERR" means the reason did not fit our short
 * request: ask once more with padding to receive it in full.
 */
static int login_once(struct client *c)
{
	char buf[QUN_MAX_DATAGRAM + 1], safe[SANE_MAX];
	size_t pad = 0;
	ssize_t n = 0;
	int tries;

	for (tries = 0; tries < LOGIN_TRIES; tries++) {
		send_request(c, V1_LOGIN, NULL, pad);
		n = recv_wait(c->fd, buf, sizeof buf, 1000);
		if (n == 0)
			continue;
		if (strcmp(buf, V1_REPLY_ERR) == 0 && pad == 0) {
			pad = LOGIN_PAD;
			tries--;
			continue;
		}
		break;
	}
	if (n == 0)
		return -1;
	if (strcmp(buf, V1_REPLY_OK) == 0)
		return 1;
	text_sanitize(buf, (size_t)n, safe, sizeof safe);
	say(stderr, c, UI_REFUSED, safe, NULL);
	return 0;
}

static int login(struct client *c)
{
	enum name_status ns;
	int r;

	if (c->name[0] != '\0' && (ns = name_check(c->name, strlen(c->name))) != NAME_OK) {
		say_plain(stderr, qerr_text(c->lang, QERR_NAME_INVALID, (int)ns));
		c->name[0] = '\0';
	}
	for (;;) {
		if (c->name[0] == '\0' && ask_name(c) < 0)
			return -1;
		r = c->legacy ? login_once(c) : netproc2_login(&c->np, c->name, c->keepalive);
		if (r == 1)
			return 0;
		if (r < 0) {
			say(stderr, c, UI_NO_REPLY, c->host, c->port);
			return -1;
		}
		c->name[0] = '\0';
	}
}

static volatile sig_atomic_t receiver_stop;

static void on_receiver_term(int sig)
{
	(void)sig;
	receiver_stop = 1;
}

/*
 * The receiving process: print every datagram from the server, made safe
 * for the terminal, until EXIT.  If the sending process dies, the kernel
 * sends us SIGTERM (PR_SET_PDEATHSIG); we then say goodbye to the server
 * ourselves, so the name is not left behind as a ghost.
 */
static void __attribute__((noreturn)) receiver_main(struct client *c)
{
	char buf[QUN_MAX_DATAGRAM + 1], safe[SANE_MAX];
	struct sigaction sa;
	sigset_t none;
	ssize_t n;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_receiver_term; /* no SA_RESTART: recv must return to see the flag */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN); /* Ctrl-C is the sender's: it quits properly */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	while (!receiver_stop) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};

		/*
		 * Wait at most a second at a time: a SIGTERM that lands between
		 * the flag test and a blocking recv() would otherwise be missed.
		 */
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = recv(c->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED || errno == EAGAIN)
				continue;
			_exit(1);
		}
		buf[n] = '\0';
		if (strcmp(buf, V1_REPLY_EXIT) == 0) {
			if (c->fancy)
				fputs("\r\033[K", stdout);
			say(stdout, c, UI_LEFT, NULL, NULL);
			_exit(0);
		}
		text_sanitize(buf, (size_t)n, safe, sizeof safe);
		/* Our own escape (erase the prompt line) is fine: only network text is untrusted.
		 */
		printf("%s%s\n", c->fancy ? "\r\033[K" : "", safe);
		prompt(c);
		fflush(stdout);
	}
	send_request(c, V1_QUIT, NULL, 0);
	_exit(1);
}

/*
 * Fork the receiving side.  v1: the child only receives and prints (the
 * lesson's split).  v2: the child owns the whole session (acks and
 * retransmissions need one owner), and the parent passes it the user's
 * lines over a SOCK_SEQPACKET socketpair.
 */
static pid_t start_receiver(struct client *c)
{
	pid_t parent = getpid(), pid;
	int sv[2] = {-1, -1};

	if (!c->legacy && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(NULL);
	switch (pid = fork()) {
	case -1:
		return -1;
	case 0:
		/* If the parent died before we could ask to follow it, leave now, properly. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) {
			receiver_stop = 1;
			c->np.orphaned = 1;
		}
		if (c->legacy)
			receiver_main(c);
		close(sv[0]);
		netproc2_main(&c->np, sv[1]);
	default:
		break;
	}
	if (!c->legacy) {
		close(sv[1]);
		c->ipc = sv[0];
	}
	return pid;
}

/* Reap the receiver if it has ended; returns its wait status, or -1 if it still runs. */
static int reap_receiver(struct client *c, int block)
{
	int status;
	pid_t r;

	if (c->receiver <= 0)
		return 0;
	do
		r = waitpid(c->receiver, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -1;
	c->receiver = 0;
	return r < 0 ? 0 : status;
}

static int status_to_exit(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * Leave: send Q and wait for the receiver to see EXIT and end, sending Q
 * again each second.  Returns the exit status for the program: 0 when
 * the server confirmed, 1 when it never did (the receiver is then
 * stopped and reaped by us).
 */
static int quit(struct client *c, int sigfd)
{
	struct signalfd_siginfo si;
	struct pollfd p = {.fd = sigfd, .events = POLLIN};
	int tries, status;

	if (!c->legacy)
		forward(c, IPC_QUIT, NULL, 0); /* the network process retransmits; we wait */
	for (tries = 0; tries < (c->legacy ? QUIT_TRIES : QUIT_TRIES + 2); tries++) {
		if (c->legacy)
			send_request(c, V1_QUIT, NULL, 0);
		if (poll(&p, 1, 1000) > 0)
			while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
				;
		status = reap_receiver(c, 0);
		if (status >= 0)
			return status_to_exit(status);
	}
	kill(c->receiver, SIGKILL);
	reap_receiver(c, 1);
	say(stderr, c, UI_QUIT_UNCONFIRMED, NULL, NULL);
	return 1;
}

enum input_result { INPUT_MORE, INPUT_QUIT };

static void say_too_long(const struct client *c, size_t len)
{
	char have[32], limit[32];

	snprintf(have, sizeof have, "%zu", len);
	snprintf(limit, sizeof limit, "%d", QUN_MAX_TEXT);
	say(stderr, c, UI_TOO_LONG, have, limit);
}

/* One line the user typed: a command, or chat checked against the text rules before sending. */
static enum input_result handle_input(struct client *c, const char *line, size_t len)
{
	enum text_status ts;

	if (len == 0)
		return INPUT_MORE;
	if (strcmp(line, "/quit") == 0 || strcmp(line, "quit") == 0)
		return INPUT_QUIT;
	if (strcmp(line, "/help") == 0) {
		say(stdout, c, UI_HELP, NULL, NULL);
		return INPUT_MORE;
	}
	if (line[0] == '/') {
		char safe[128];

		text_sanitize(line, strcspn(line, " "), safe, sizeof safe);
		say(stderr, c, UI_UNKNOWN_CMD, safe, NULL);
		return INPUT_MORE;
	}
	ts = text_check_max(line, len, c->legacy ? QUN_MAX_TEXT : QUN_MAX_TEXT_V2);
	if (ts == TEXT_TOO_LONG)
		say_too_long(c, len);
	else if (ts != TEXT_OK)
		say(stderr, c, UI_BAD_INPUT, qerr_text(c->lang, QERR_TEXT_INVALID, (int)ts), NULL);
	else if (c->legacy)
		send_request(c, V1_CHAT, line, 0);
	else
		forward(c, IPC_SAY, line, len);
	return INPUT_MORE;
}

/*
 * Split what arrived on stdin into lines and handle each.  buf holds a
 * partial line between calls; a line longer than INPUT_MAX is refused
 * whole.  Returns INPUT_QUIT at a quit command or end of input.
 */
static enum input_result read_input(struct client *c, char *buf, size_t *have, int *overlong)
{
	ssize_t n;
	char *nl;

	n = read(STDIN_FILENO, buf + *have, INPUT_MAX - *have);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? INPUT_MORE : INPUT_QUIT;
	if (n == 0)
		return INPUT_QUIT;
	*have += (size_t)n;
	while ((nl = memchr(buf, '\n', *have)) != NULL) {
		size_t len = (size_t)(nl - buf);
		enum input_result r = INPUT_MORE;

		*nl = '\0';
		if (len > 0 && buf[len - 1] == '\r')
			buf[--len] = '\0';
		if (*overlong)
			say_too_long(c, INPUT_MAX);
		else
			r = handle_input(c, buf, len);
		*overlong = 0;
		*have -= (size_t)(nl - buf) + 1;
		memmove(buf, nl + 1, *have);
		if (r == INPUT_QUIT)
			return r;
		prompt(c);
	}
	if (*have == INPUT_MAX) {
		*overlong = 1;
		*have = 0;
	}
	return INPUT_MORE;
}

/*
 * The sending process: read the user's lines and send them, a keepalive
 * every c->keepalive seconds, until the user quits (quit, /quit, Ctrl-D,
 * Ctrl-C, SIGTERM, SIGHUP) or the receiver ends (kicked, server closed).
 * Returns the program's exit status.
 */
static int sender_main(struct client *c, int sigfd)
{
	static char buf[INPUT_MAX + 1];
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
	                      {.fd = sigfd, .events = POLLIN}};
	struct signalfd_siginfo si;
	size_t have = 0;
	int overlong = 0, status;

	prompt(c);
	for (;;) {
		int r = poll(p, 2, c->legacy ? (int)c->keepalive * 1000 : -1);

		if (r < 0 && errno != EINTR)
			return quit(c, sigfd);
		if (r == 0) {
			send_request(c, V1_PING, NULL, 0);
			continue;
		}
		if (p[1].revents & POLLIN) {
			while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo != SIGCHLD)
					return quit(c, sigfd);
				status = reap_receiver(c, 0);
				if (status >= 0) {
					/* Kicked or the server closed (EXIT), or the receiver died.
					 */
					if (c->legacy &&
					    (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
						send_request(c, V1_QUIT, NULL, 0);
					return status_to_exit(status);
				}
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_input(c, buf, &have, &overlong) == INPUT_QUIT)
				return quit(c, sigfd);
		}
	}
}

int main(int argc, char **argv)
{
	struct client c;
	char err[256];
	sigset_t mask;
	int sigfd;

	const char *term;

	log_init(argv[0]);
	memset(&c, 0, sizeof c);
	parse_options(argc, argv, &c);
	c.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	term = getenv("TERM");
	c.fancy = c.tty && term != NULL && strcmp(term, "dumb") != 0;

	c.fd = net_udp_connect(c.host, c.port, err, sizeof err);
	if (c.fd < 0)
		fatalx("%s", err);
	c.np.udp = c.fd;
	c.np.lang = c.lang;
	c.np.tty = c.tty;
	c.np.fancy = c.fancy;
	c.np.host = c.host;
	c.np.port = c.port;
	if (login(&c) < 0)
		return 1;
	say(stdout, &c, UI_WELCOME, c.name, NULL);

	/* Signals are read from a signalfd by the sender; the receiver unblocks its own. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		fatal("signalfd");
	c.receiver = start_receiver(&c);
	if (c.receiver < 0) {
		send_request(&c, V1_QUIT, NULL, 0);
		fatal("fork");
	}
	return sender_main(&c, sigfd);
}
