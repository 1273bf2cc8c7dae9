/* qun.c - the terminal client: options, login, then the network and UI processes (fork). */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/i18n.h"
#include "common/log.h"
#include "common/sizes.h"
#include "common/text.h"
#include "netproc.h"
#include "term.h"
#include "ui.h"

#define QUN_VERSION "0.1.0"

static const char usage_text[] =
    "usage: qun [-s HOST] [-p PORT] [--lang zh|en] [--legacy] [--keepalive SECS]\n"
    "           [--history N] [NAME]\n";

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs(
		    "\n"
		    "  -s, --server HOST     server to join (default 127.0.0.1)\n"
		    "  -p, --port PORT       server's UDP port (default 8888)\n"
		    "      --lang zh|en      language of qun's own messages (default: locale)\n"
		    "      --legacy          speak protocol v1 (the lesson's servers)\n"
		    "      --keepalive SECS  seconds between keepalives (default 25)\n"
		    "      --history N       lines of history shown on joining a room (default "
		    "50,\n"
		    "                        at most 200; 0: none), from a server that keeps them\n"
		    "  -h, --help            show this help\n"
		    "  -V, --version         show the version\n"
		    "\nIn the room: type a line to send it; /help, /who, /me ACTION, /quit\n"
		    "(or quit, Ctrl-D, Ctrl-C).  Tab completes names; Up and Down recall lines.\n",
		    stdout);
	exit(status);
}

/* Print UI text t with its placeholders filled, and a newline, to stream; flushed. */
static void say(FILE *stream, enum lang lang, enum ui_text t, const char *a, const char *b)
{
	char line[1024];

	ui_format(line, sizeof line, ui_text(lang, t), a, b);
	fprintf(stream, "%s\n", line);
	fflush(stream);
}

/* Print a fixed line (a refusal reason, say) and a newline to stream; flushed. */
static void say_plain(FILE *stream, const char *text)
{
	fprintf(stream, "%s\n", text);
	fflush(stream);
}

static void parse_options(int argc, char **argv, struct net_session *c)
{
	enum { OPT_LANG = 256, OPT_KEEPALIVE, OPT_LEGACY, OPT_HISTORY };
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"lang", required_argument, NULL, OPT_LANG},
	    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
	    {"legacy", no_argument, NULL, OPT_LEGACY},
	    {"history", required_argument, NULL, OPT_HISTORY},
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
	c->history = 50;
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
		case OPT_HISTORY:
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || *optarg < '0' || *optarg > '9' ||
			    v > V2_HISTORY_MAX) {
				log_warnx("--history: expected 0..%d lines, got \"%s\"",
				          V2_HISTORY_MAX, optarg);
				usage(2);
			}
			c->history = (unsigned)v;
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
static int ask_name(struct net_session *s)
{
	char line[256];
	enum name_status ns;
	ssize_t n;

	for (;;) {
		fputs(ui_text(s->lang, UI_ASK_NAME), stdout);
		fflush(stdout);
		n = read_line_blocking(line, sizeof line);
		if (n == -1)
			return -1;
		ns = n == -2 ? NAME_TOO_LONG : name_check(line, (size_t)n);
		if (ns == NAME_OK) {
			strcpy(s->name, line);
			return 0;
		}
		say_plain(stderr, qerr_text(s->lang, QERR_NAME_INVALID, (int)ns));
	}
}

/* Log in, asking for a name (again) until the server takes one.  Returns -1 to give up. */
static int login(struct net_session *s)
{
	char reason[QUN_MAX_DATAGRAM + 1], safe[QUN_MAX_DATAGRAM * 4 + 1];
	enum name_status ns;

	if (s->name[0] != '\0' && (ns = name_check(s->name, strlen(s->name))) != NAME_OK) {
		say_plain(stderr, qerr_text(s->lang, QERR_NAME_INVALID, (int)ns));
		s->name[0] = '\0';
	}
	for (;;) {
		if (s->name[0] == '\0' && ask_name(s) < 0)
			return -1;
		switch (net_login(s, reason, sizeof reason)) {
		case NET_LOGIN_OK:
			return 0;
		case NET_LOGIN_NO_REPLY:
			say(stderr, s->lang, UI_NO_REPLY, s->host, s->port);
			return -1;
		case NET_LOGIN_REFUSED:
			text_sanitize(reason, strlen(reason), safe, sizeof safe);
			say(stderr, s->lang, UI_REFUSED, safe, NULL);
			s->name[0] = '\0';
			break;
		}
	}
}

/*
 * qun speaks UTF-8 on the wire whatever the locale, and libedit and
 * wcwidth() need a UTF-8 LC_CTYPE to edit and measure CJK text: take the
 * user's locale, and where its character set is not UTF-8, C.UTF-8.
 */
static void setup_locale(void)
{
	setlocale(LC_ALL, "");
	if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

/* The UI's last words for a network process that died (ui.h): the protocol's own. */
static void farewell(void *ctx)
{
	net_farewell(ctx);
}

int main(int argc, char **argv)
{
	static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGWINCH, SIGCHLD};
	static struct net_session s;
	struct ui_config ui;
	char err[256];
	sigset_t mask;
	size_t i;

	log_init(argv[0]);
	setup_locale();
	memset(&s, 0, sizeof s);
	parse_options(argc, argv, &s);

	if (net_connect(&s, err, sizeof err) < 0)
		fatalx("%s", err);
	if (login(&s) < 0)
		return 1;
	say(stdout, s.lang, UI_WELCOME, s.name, NULL);

	/* From here on signals are read from a signalfd by the UI; the network process sets its
	 * own. */
	sigemptyset(&mask);
	for (i = 0; i < sizeof handled / sizeof handled[0]; i++)
		sigaddset(&mask, handled[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	memset(&ui, 0, sizeof ui);
	ui.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ui.sigfd < 0) {
		net_farewell(&s);
		fatal("signalfd");
	}
	ui.child = net_start(&s, err, sizeof err);
	if (ui.child < 0) {
		net_farewell(&s);
		fatalx("%s", err);
	}
	ui.ipc = s.ipc[0];
	ui.lang = s.lang;
	ui.mode = term_detect();
	ui.max_text = s.max_text;
	ui.farewell = farewell;
	ui.farewell_ctx = &s;
	return ui_run(&ui);
}
