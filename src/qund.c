/* qund.c - the qun chat server: options, the epoll loop, and protocol v1 on top of the room core.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "i18n.h"
#include "log.h"
#include "net.h"
#include "room.h"
#include "text.h"
#include "wire1.h"

#define QUND_VERSION "0.1.0"
#define SEND_BATCH   64 /* datagrams per sendmmsg() */

/* Everything the server knows, owned by main() and passed down by pointer. */
struct server {
	int udp, sigfd, tickfd, epfd;
	int console;       /* our end of the console socketpair, -1 once closed */
	pid_t console_pid; /* 0 once reaped */
	struct room *room;
	enum lang lang;
	int stopping;
	/* Counters, for the operator and the tests' eyes. */
	uint64_t drops[DROP_COUNT];
	uint64_t datagrams_in, datagrams_out, send_errors;
};

struct options {
	const char *host, *port;
	enum lang lang;
	unsigned long idle_timeout, keepalive_timeout, max_members;
};

static const char usage_text[] =
    "usage: qund [-b ADDR] [-p PORT] [--lang zh|en] [--idle-timeout SECS]\n"
    "            [--keepalive-timeout SECS] [--max-members N] [-h] [-V]\n";

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs(
		    "\n"
		    "  -b, --bind ADDR            address to listen on (default: all, IPv4 and "
		    "IPv6)\n"
		    "  -p, --port PORT            UDP port (default 8888; 0 lets the kernel "
		    "choose)\n"
		    "      --lang zh|en           language of the room's messages (default: "
		    "locale)\n"
		    "      --idle-timeout SECS    evict clients without keepalives after SECS of "
		    "silence (3600)\n"
		    "      --keepalive-timeout SECS\n"
		    "                             evict clients that sent keepalives after SECS of "
		    "silence (90)\n"
		    "      --max-members N        room capacity (1024)\n"
		    "  -h, --help                 show this help\n"
		    "  -V, --version              show the version\n"
		    "\nOperator console on standard input: TEXT, /who, /kick NAME, /quit, /help\n",
		    stdout);
	exit(status);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Parse a whole decimal number in [lo, hi]; returns -1 on anything else. */
static int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_LANG = 256, OPT_IDLE, OPT_KEEPALIVE, OPT_MAX };
	static const struct option longopts[] = {
	    {"bind", required_argument, NULL, 'b'},
	    {"port", required_argument, NULL, 'p'},
	    {"lang", required_argument, NULL, OPT_LANG},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE},
	    {"keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE},
	    {"max-members", required_argument, NULL, OPT_MAX},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opt->host = NULL;
	opt->port = "8888";
	opt->lang = lang_from_env();
	opt->idle_timeout = 3600;
	opt->keepalive_timeout = 90;
	opt->max_members = 1024;
	while ((c = getopt_long(argc, argv, "b:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			opt->host = optarg;
			break;
		case 'p':
			opt->port = optarg;
			break;
		case OPT_LANG:
			if (lang_parse(optarg, &opt->lang) < 0) {
				log_warnx("--lang: expected zh or en, got \"%s\"", optarg);
				usage(2);
			}
			break;
		case OPT_IDLE:
			if (parse_ulong(optarg, 1, 86400 * 365, &opt->idle_timeout) < 0) {
				log_warnx(
				    "--idle-timeout: expected seconds (1 or more), got \"%s\"",
				    optarg);
				usage(2);
			}
			break;
		case OPT_KEEPALIVE:
			if (parse_ulong(optarg, 1, 86400 * 365, &opt->keepalive_timeout) < 0) {
				log_warnx(
				    "--keepalive-timeout: expected seconds (1 or more), got \"%s\"",
				    optarg);
				usage(2);
			}
			break;
		case OPT_MAX:
			if (parse_ulong(optarg, 1, 1000000, &opt->max_members) < 0) {
				log_warnx("--max-members: expected 1..1000000, got \"%s\"", optarg);
				usage(2);
			}
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("qund %s\n", QUND_VERSION);
			exit(0);
		default:
			usage(2);
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		usage(2);
	}
}

/*
 * Send one datagram.  A failure concerns one peer only (unreachable,
 * buffer full): it is counted and never stops the caller.
 */
static void send_to(struct server *s, const struct peer_addr *to, const char *buf, size_t len)
{
	ssize_t n;

	do
		n = sendto(s->udp, buf, len, 0, (const struct sockaddr *)&to->sa, to->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		s->send_errors++;
	else
		s->datagrams_out++;
}

/*
 * Send buf to every member but `exclude`, SEND_BATCH datagrams per
 * sendmmsg().  The text was formatted once by the caller; one failed
 * recipient is skipped and counted, and the rest still get it.
 */
static void broadcast(struct server *s, const char *buf, size_t len, const struct member *exclude)
{
	struct mmsghdr msgs[SEND_BATCH];
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	size_t i, total = room_count(s->room), k = 0, done;

	for (i = 0; i <= total; i++) {
		const struct member *m = i < total ? room_member(s->room, i) : NULL;

		if (m != NULL && m != exclude) {
			memset(&msgs[k], 0, sizeof msgs[k]);
			msgs[k].msg_hdr.msg_name = (void *)(uintptr_t)&m->addr.sa;
			msgs[k].msg_hdr.msg_namelen = m->addr.len;
			msgs[k].msg_hdr.msg_iov = &iov;
			msgs[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		if (k == SEND_BATCH || (i == total && k > 0)) {
			for (done = 0; done < k;) {
				int n = sendmmsg(s->udp, msgs + done, (unsigned)(k - done), 0);

				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0) {
					/* The first of the rest failed: count it, go on after it.
					 */
					s->send_errors++;
					done++;
				} else {
					s->datagrams_out += (uint64_t)n;
					done += (size_t)n;
				}
			}
			k = 0;
		}
	}
}

/*
 * Send the reply an outcome asks for.  A refusal to an address that is
 * not a member is never larger than the request that caused it (req_len):
 * if the reason does not fit, "ERR" goes instead, or nothing.
 */
static void send_reply(struct server *s, const struct outcome *o, size_t req_len)
{
	const char *text;
	size_t len;

	switch (o->reply) {
	case REPLY_NONE:
		return;
	case REPLY_OK:
		text = V1_REPLY_OK;
		break;
	case REPLY_EXIT:
		text = V1_REPLY_EXIT;
		break;
	case REPLY_ERR:
	default:
		text = qerr_text(s->lang, o->err, o->err_detail);
		break;
	}
	len = strlen(text);
	if (!o->reply_to_member && len > req_len) {
		text = V1_REPLY_ERR;
		len = strlen(text);
		if (len > req_len)
			return;
	}
	send_to(s, &o->reply_to, text, len);
}

static void log_event(const struct server *s, const struct outcome *o)
{
	char a[ADDR_STRLEN];

	(void)s;
	switch (o->event) {
	case V1_EV_JOIN:
		log_info("%s joined from %s", o->name, addr_format(&o->reply_to, a, sizeof a));
		break;
	case V1_EV_LEAVE:
		log_info("%s left", o->name);
		break;
	case V1_EV_TIMEOUT:
		log_info("%s timed out", o->name);
		break;
	case V1_EV_KICK:
		log_info("%s was kicked by the operator", o->name);
		break;
	default:
		break;
	}
}

/* Carry out an outcome: the reply, then the event formatted once for everyone it concerns. */
static void deliver(struct server *s, const struct outcome *o, size_t req_len)
{
	char line[QUN_MAX_DATAGRAM + 1];
	int n;

	if (o->drop != DROP_NONE)
		s->drops[o->drop]++;
	send_reply(s, o, req_len);
	if (!o->has_event)
		return;
	log_event(s, o);
	n = v1_format_event(line, sizeof line, s->lang, o->event, o->name, o->text, o->text_len);
	if (n < 0 || n > QUN_MAX_DATAGRAM) {
		log_warnx("event for %s does not fit in a datagram; not sent", o->name);
		return;
	}
	broadcast(s, line, (size_t)n, o->exclude);
}

/* A request that failed to parse: refuse with a reason, or drop, per docs/PROTOCOL.md. */
static void refuse_malformed(struct server *s, const struct peer_addr *from, const char *buf,
                             size_t len, enum v1_status st)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.reply_to = *from;
	o.reply_to_member = room_find_addr(s->room, from) != NULL;
	o.reply = REPLY_ERR;
	o.err = QERR_BAD_REQUEST;
	if (st == V1_TOO_LONG)
		o.err = QERR_TOO_LONG;
	else if (st == V1_NO_NAME && buf[0] == V1_LOGIN) {
		o.err = QERR_NAME_INVALID;
		o.err_detail = NAME_EMPTY;
	} else if (st == V1_BAD_UTF8 && buf[0] == V1_LOGIN) {
		o.err = QERR_NAME_INVALID;
		o.err_detail = NAME_BAD_UTF8;
	} else if (st == V1_BAD_UTF8 && buf[0] == V1_CHAT) {
		o.err = QERR_TEXT_INVALID;
		o.err_detail = TEXT_BAD_UTF8;
	} else if (st == V1_NO_TEXT) {
		o.err = QERR_TEXT_INVALID;
		o.err_detail = TEXT_EMPTY;
	}
	/* Strangers get an answer only to a login attempt of sane size; the rest is noise. */
	if (!o.reply_to_member && (len == 0 || buf[0] != V1_LOGIN || st == V1_TOO_LONG)) {
		o.reply = REPLY_NONE;
		o.drop = st == V1_TOO_LONG ? DROP_TOO_LONG : DROP_MALFORMED;
	}
	deliver(s, &o, len);
}

/*
 * W name (docs/PROTOCOL.md, "Extensions"): the member list, to the member
 * who asked and to nobody else, in as many WHO datagrams as it takes.
 * Like C and Q it is taken only from the address that owns the name, so
 * the answer (up to 30 datagrams for a full room) only ever goes to a
 * member's own address, never to a stranger's.
 */
static void send_who(struct server *s, const struct peer_addr *from, const struct v1_request *req)
{
	static const char *names[V1_WHO_MAX_NAMES];
	char buf[QUN_MAX_DATAGRAM + 1];
	const struct member *m = room_find_addr(s->room, from);
	size_t i, total = room_count(s->room), count = 0, next = 0;
	unsigned part, parts;
	int n;

	if (m == NULL || m != room_find_name(s->room, req->name, req->name_len)) {
		s->drops[m == NULL ? DROP_NOT_MEMBER : DROP_WRONG_NAME]++;
		return;
	}
	for (i = 0; i < total && count < V1_WHO_MAX_NAMES; i++)
		names[count++] = room_member(s->room, i)->name;
	parts = v1_who_parts(names, count);
	for (part = 1; part <= parts; part++) {
		n = v1_format_who(buf, sizeof buf, part, parts, total, names, count, &next);
		if (n > 0)
			send_to(s, from, buf, (size_t)n);
	}
}

/* One datagram of len bytes (the real length, even if more than we read). */
static void handle_datagram(struct server *s, const struct peer_addr *from, const char *buf,
                            size_t len)
{
	struct v1_request req;
	struct outcome o;
	enum v1_status st;
	uint64_t now = now_ms();

	s->datagrams_in++;
	st = v1_parse(buf, len, &req);
	if (st != V1_OK) {
		refuse_malformed(s, from, buf, len, st);
		return;
	}
	switch (req.cmd) {
	case V1_LOGIN:
		room_join(s->room, from, req.name, req.name_len, now, &o);
		break;
	case V1_CHAT:
		room_say(s->room, from, req.name, req.name_len, req.text, req.text_len, now, &o);
		break;
	case V1_QUIT:
		room_quit(s->room, from, req.name, req.name_len, now, &o);
		break;
	case V1_WHO:
		send_who(s, from, &req);
		return;
	case V1_ACTION:
		/* Checked and relayed like C, shown as "* NAME TEXT" (PROTOCOL.md, "Extensions").
		 */
		room_say(s->room, from, req.name, req.name_len, req.text, req.text_len, now, &o);
		if (o.has_event)
			o.event = V1_EV_ACTION;
		break;
	case V1_PING:
	default:
		room_ping(s->room, from, req.name, req.name_len, now, &o);
		break;
	}
	deliver(s, &o, len);
}

/* Read every waiting datagram.  MSG_TRUNC makes recvfrom report the full length of an oversized
 * one. */
static void on_udp(struct server *s)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	struct peer_addr from;
	ssize_t n;

	for (;;) {
		memset(&from, 0, sizeof from);
		from.len = sizeof from.sa;
		n = recvfrom(s->udp, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from.sa,
		             &from.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvfrom");
			return;
		}
		/* An oversized datagram's bytes beyond buf are gone: parse sees only its length. */
		handle_datagram(s, &from, buf, (size_t)n);
	}
}

static void cmd_who(struct server *s)
{
	size_t i, n = room_count(s->room);
	char a[ADDR_STRLEN];

	if (s->lang == LANG_ZH)
		printf("在线 %zu 人：\n", n);
	else
		printf("%zu member(s) online:\n", n);
	for (i = 0; i < n; i++) {
		const struct member *m = room_member(s->room, i);

		printf("  %s %s\n", m->name, addr_format(&m->addr, a, sizeof a));
	}
	fflush(stdout);
}

static void cmd_kick(struct server *s, const char *name, size_t len)
{
	struct outcome o;

	while (len > 0 && name[len - 1] == ' ')
		len--;
	if (len == 0) {
		log_warnx(s->lang == LANG_ZH ? "用法：/kick 名字" : "usage: /kick NAME");
		return;
	}
	if (room_kick(s->room, name, len, &o) < 0) {
		log_warnx(s->lang == LANG_ZH ? "没有这个人：%.*s" : "no such member: %.*s",
		          (int)len, name);
		return;
	}
	deliver(s, &o, 0);
}

static void cmd_say(struct server *s, const char *text, size_t len)
{
	enum text_status ts = text_check(text, len);
	struct outcome o;

	if (ts == TEXT_EMPTY)
		return; /* an empty line at the console is nothing to say */
	if (ts != TEXT_OK) {
		log_warnx("%s", qerr_text(s->lang, QERR_TEXT_INVALID, (int)ts));
		return;
	}
	room_admin(s->room, text, len, &o);
	deliver(s, &o, 0);
}

/* One line from the operator's console. */
static void console_line(struct server *s, const char *line, size_t len)
{
	if (len >= 4 && memcmp(line, "/who", 4) == 0 && (len == 4 || line[4] == ' '))
		cmd_who(s);
	else if (len >= 6 && memcmp(line, "/kick ", 6) == 0)
		cmd_kick(s, line + 6, len - 6);
	else if (len == 5 && memcmp(line, "/kick", 5) == 0)
		cmd_kick(s, "", 0);
	else if (len == 5 && memcmp(line, "/quit", 5) == 0)
		s->stopping = 1;
	else if (len == 5 && memcmp(line, "/help", 5) == 0)
		log_info(s->lang == LANG_ZH
		             ? "控制台命令：文字（以管理员身份发言）、/who、/kick 名字、"
		               "/quit、/help"
		             : "console: TEXT (speak as the admin), /who, /kick NAME, "
		               "/quit, /help");
	else if (len > 0 && line[0] == '/')
		log_warnx(s->lang == LANG_ZH
		              ? "未知命令：%.*s（/who、/kick 名字、/quit、/help）"
		              : "unknown command: %.*s (/who, /kick NAME, /quit, /help)",
		          (int)len, line);
	else
		cmd_say(s, line, len);
}

static void on_console(struct server *s)
{
	char line[CONSOLE_MAX_LINE + 1];
	ssize_t n;

	n = recv(s->console, line, sizeof line - 1, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* The console child is gone (end of input): serve on without it. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->console, NULL);
		close(s->console);
		s->console = -1;
		return;
	}
	line[n] = '\0';
	console_line(s, line, (size_t)n);
}

/* Reap every child that has ended, saying how a console that failed went. */
static void reap_children(struct server *s)
{
	pid_t pid;
	int status;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == s->console_pid)
			s->console_pid = 0;
		if (WIFSIGNALED(status))
			log_warnx("console process %ld killed by signal %d", (long)pid,
			          WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("console process %ld exited with status %d", (long)pid,
			          WEXITSTATUS(status));
	}
}

static void on_signal(struct server *s)
{
	struct signalfd_siginfo si;
	ssize_t n;

	while ((n = read(s->sigfd, &si, sizeof si)) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap_children(s);
		else
			s->stopping = 1;
	}
}

static void on_tick(struct server *s)
{
	uint64_t expirations;
	struct outcome o;

	if (read(s->tickfd, &expirations, sizeof expirations) < 0)
		return;
	while (room_expire(s->room, now_ms(), &o))
		deliver(s, &o, 0);
}

/* Tell every member the server is closing, then EXIT, so their clients end cleanly. */
static void say_goodbye(struct server *s)
{
	char line[QUN_MAX_DATAGRAM + 1];
	int n = v1_format_event(line, sizeof line, s->lang, V1_EV_SHUTDOWN, "", NULL, 0);

	if (n > 0)
		broadcast(s, line, (size_t)n, NULL);
	broadcast(s, V1_REPLY_EXIT, strlen(V1_REPLY_EXIT), NULL);
}

/* Stop the console child (if still there) and wait for it, so nothing is left behind. */
static void stop_console(struct server *s)
{
	int status;

	if (s->console_pid > 0) {
		kill(s->console_pid, SIGTERM);
		while (waitpid(s->console_pid, &status, 0) < 0 && errno == EINTR)
			;
		s->console_pid = 0;
	}
	if (s->console >= 0)
		close(s->console);
	s->console = -1;
}

static int add_fd(struct server *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* The tick drives evictions: once a second, or faster when timeouts are a few seconds (tests). */
static int make_tick(const struct options *opt)
{
	unsigned long shortest =
	    opt->keepalive_timeout < opt->idle_timeout ? opt->keepalive_timeout : opt->idle_timeout;
	long ns = shortest < 10 ? 200000000L : 0;
	struct itimerspec its = {
	    .it_interval = {.tv_sec = ns ? 0 : 1, .tv_nsec = ns},
	    .it_value = {.tv_sec = ns ? 0 : 1, .tv_nsec = ns},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void setup(struct server *s, const struct options *opt)
{
	struct room_config cfg = {
	    .max_members = opt->max_members,
	    .keepalive_timeout = (uint64_t)opt->keepalive_timeout * 1000,
	    .idle_timeout = (uint64_t)opt->idle_timeout * 1000,
	};
	unsigned char key[16];
	char err[256], name[ADDR_STRLEN];
	sigset_t mask;

	s->lang = opt->lang;
	s->console = -1;
	s->udp = net_udp_bind(opt->host, opt->port, err, sizeof err);
	if (s->udp < 0)
		fatalx("cannot listen on %s port %s: %s", opt->host ? opt->host : "*", opt->port,
		       err);
	randombytes_buf(key, sizeof key);
	s->room = room_new(&cfg, key);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0)
		fatal("signalfd");
	s->tickfd = make_tick(opt);
	if (s->tickfd < 0)
		fatal("timerfd");
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		fatal("epoll_create1");
	if (add_fd(s, s->udp) < 0 || add_fd(s, s->sigfd) < 0 || add_fd(s, s->tickfd) < 0)
		fatal("epoll_ctl");

	/* The first line of output is the contract with scripts: where we listen. */
	printf("listening on %s\n", net_local_name(s->udp, name, sizeof name));
	fflush(stdout);

	s->console_pid = console_start(&s->console, err, sizeof err);
	if (s->console_pid < 0) {
		log_warnx("no operator console: %s", err);
		s->console_pid = 0;
	} else if (add_fd(s, s->console) < 0) {
		fatal("epoll_ctl");
	}
}

static void serve(struct server *s)
{
	struct epoll_event evs[8];
	int i, n;

	while (!s->stopping) {
		n = epoll_wait(s->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (i = 0; i < n && !s->stopping; i++) {
			int fd = evs[i].data.fd;

			if (fd == s->udp)
				on_udp(s);
			else if (fd == s->sigfd)
				on_signal(s);
			else if (fd == s->tickfd)
				on_tick(s);
			else if (fd == s->console)
				on_console(s);
		}
	}
}

int main(int argc, char **argv)
{
	struct server s;
	struct options opt;

	log_init(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &opt);
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");

	memset(&s, 0, sizeof s);
	setup(&s, &opt);
	serve(&s);

	log_info("shutting down");
	say_goodbye(&s);
	stop_console(&s);
	room_free(s.room);
	close(s.epfd);
	close(s.tickfd);
	close(s.sigfd);
	close(s.udp);
	return 0;
}
