/* qund.c - the qun chat server: options, the epoll loop, and protocol v1 on top of the room core. */
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
#include "server.h"
#include "wire1.h"
#include "wire2.h"

#define QUND_VERSION "0.1.0"
#define TICK_MS 50 /* timers: retransmissions want this; expiry checks are O(1) */

struct options {
	const char *host, *port;
	enum lang lang;
	int legacy;
	unsigned long idle_timeout, keepalive_timeout, max_members, max_per_address;
	unsigned long flood_burst, flood_rate;
};

static const char usage_text[] =
	"usage: qund [-b ADDR] [-p PORT] [--lang zh|en] [--legacy] [--idle-timeout SECS]\n"
	"            [--keepalive-timeout SECS] [--max-members N] [--max-per-address N]\n"
	"            [--flood-burst N] [--flood-rate N] [-h] [-V]\n";

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs("\n"
		      "  -b, --bind ADDR            address to listen on (default: all, IPv4 and IPv6)\n"
		      "  -p, --port PORT            UDP port (default 8888; 0 lets the kernel choose)\n"
		      "      --lang zh|en           language of the room's messages (default: locale)\n"
		      "      --legacy               also accept protocol v1 (the lesson's clients, nc)\n"
		      "      --idle-timeout SECS    evict clients without keepalives after SECS of "
		      "silence (3600)\n"
		      "      --keepalive-timeout SECS\n"
		      "                             evict clients that sent keepalives after SECS of "
		      "silence (90)\n"
		      "      --max-members N        room capacity (1024)\n"
		      "      --max-per-address N    members from one IP address (8)\n"
		      "      --flood-burst N        messages a member may send at once (5)\n"
		      "      --flood-rate N         ... and then per second (2)\n"
		      "  -h, --help                 show this help\n"
		      "  -V, --version              show the version\n"
		      "\nOperator console on standard input: TEXT, /who, /kick NAME, /quit, /help\n",
		      stdout);
	exit(status);
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

/* A numeric option's value, or a clear complaint and the usage. */
static void numeric_option(const char *name, const char *arg, unsigned long lo, unsigned long hi,
                           unsigned long *out)
{
	if (parse_ulong(arg, lo, hi, out) < 0) {
		log_warnx("%s: expected a number from %lu to %lu, got \"%s\"", name, lo, hi, arg);
		usage(2);
	}
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_LANG = 256, OPT_IDLE, OPT_KEEPALIVE, OPT_MAX, OPT_LEGACY, OPT_PER_ADDR,
	       OPT_BURST, OPT_RATE };
	static const struct option longopts[] = {
		{"bind", required_argument, NULL, 'b'},
		{"port", required_argument, NULL, 'p'},
		{"lang", required_argument, NULL, OPT_LANG},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"keepalive-timeout", required_argument, NULL, OPT_KEEPALIVE},
		{"max-members", required_argument, NULL, OPT_MAX},
		{"max-per-address", required_argument, NULL, OPT_PER_ADDR},
		{"flood-burst", required_argument, NULL, OPT_BURST},
		{"flood-rate", required_argument, NULL, OPT_RATE},
		{"legacy", no_argument, NULL, OPT_LEGACY},
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
	opt->max_per_address = 8;
	opt->flood_burst = 5;
	opt->flood_rate = 2;
	opt->legacy = 0;
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
				log_warnx("--idle-timeout: expected seconds (1 or more), got \"%s\"", optarg);
				usage(2);
			}
			break;
		case OPT_KEEPALIVE:
			if (parse_ulong(optarg, 1, 86400 * 365, &opt->keepalive_timeout) < 0) {
				log_warnx("--keepalive-timeout: expected seconds (1 or more), got \"%s\"",
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
		case OPT_PER_ADDR:
			numeric_option("--max-per-address", optarg, 1, 1000000, &opt->max_per_address);
			break;
		case OPT_BURST:
			numeric_option("--flood-burst", optarg, 1, 1000000, &opt->flood_burst);
			break;
		case OPT_RATE:
			numeric_option("--flood-rate", optarg, 1, 1000000, &opt->flood_rate);
			break;
		case OPT_LEGACY:
			opt->legacy = 1;
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

#define RECV_BATCH 64 /* datagrams per recvmmsg() */

/*
 * Read every waiting datagram, RECV_BATCH per recvmmsg(), then flush v2
 * (so acknowledgements and DATA go out once per batch, not once per
 * datagram).  MSG_TRUNC makes each msg_len the full length of its datagram,
 * so an oversized one is seen as such and refused whole.  The buffers are
 * static: the server is one thread, and 77 KB is too much for the stack.
 */
static void on_udp(struct server *s)
{
	static char buf[RECV_BATCH][QUN_MAX_DATAGRAM + 1];
	static struct peer_addr from[RECV_BATCH];
	static struct mmsghdr msgs[RECV_BATCH];
	static struct iovec iov[RECV_BATCH];
	int i, n;

	for (;;) {
		for (i = 0; i < RECV_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof buf[i];
			memset(&from[i], 0, sizeof from[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
			msgs[i].msg_hdr.msg_name = &from[i].sa;
			msgs[i].msg_hdr.msg_namelen = sizeof from[i].sa;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(s->udp, msgs, RECV_BATCH, MSG_TRUNC | MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvmmsg");
			break;
		}
		for (i = 0; i < n; i++) {
			const uint8_t *d = (const uint8_t *)buf[i];
			size_t len = msgs[i].msg_len;

			from[i].len = msgs[i].msg_hdr.msg_namelen;
			s->st.datagrams_in++;
			if (v2_is_v2(d, len))
				p2_handle(s, &from[i], d, len);
			else if (s->legacy)
				v1_handle(s, &from[i], buf[i], len);
			else
				s->st.sdrops[SDROP_V1_DISABLED]++;
		}
		if (n < RECV_BATCH)
			break; /* the queue is empty: no need to ask again for EAGAIN */
	}
	p2_flush(s);
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
		log_warnx(s->lang == LANG_ZH ? "没有这个人：%.*s" : "no such member: %.*s", (int)len,
		          name);
		return;
	}
	server_deliver(s, &o, 0);
	p2_flush(s);
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
	server_deliver(s, &o, 0);
	p2_flush(s);
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
		log_info(s->lang == LANG_ZH ? "控制台命令：文字（以管理员身份发言）、/who、/kick 名字、"
		                              "/quit、/help"
		                            : "console: TEXT (speak as the admin), /who, /kick NAME, "
		                              "/quit, /help");
	else if (len > 0 && line[0] == '/')
		log_warnx(s->lang == LANG_ZH ? "未知命令：%.*s（/who、/kick 名字、/quit、/help）"
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
			log_warnx("console process %ld killed by signal %d", (long)pid, WTERMSIG(status));
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
		server_deliver(s, &o, 0);
	p2_tick(s);
	p2_flush(s);
}

/* Tell every member, in its protocol, that the server is closing, and end its session. */
static void say_goodbye(struct server *s)
{
	v1_goodbye(s);
	p2_goodbye(s);
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

/* A periodic timer drives retransmissions and evictions. */
static int make_tick(void)
{
	struct itimerspec its = {
		.it_interval = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L},
		.it_value = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L},
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
		.max_per_address = opt->max_per_address,
		.flood_burst = (unsigned)opt->flood_burst,
		.flood_rate = (unsigned)opt->flood_rate,
		.keepalive_timeout = (uint64_t)opt->keepalive_timeout * 1000,
		.idle_timeout = (uint64_t)opt->idle_timeout * 1000,
	};
	unsigned char key[16];
	char err[256], name[ADDR_STRLEN];
	int rcvbuf = 8 << 20;
	sigset_t mask;

	s->lang = opt->lang;
	s->legacy = opt->legacy;
	s->console = -1;
	s->udp = net_udp_bind(opt->host, opt->port, err, sizeof err);
	if (s->udp < 0)
		fatalx("cannot listen on %s port %s: %s", opt->host ? opt->host : "*", opt->port,
		       err);
	/*
	 * A large receive buffer: a broadcast to N v2 members brings N acks
	 * back at once, and the default (about 200 KB, a few hundred small
	 * datagrams) would drop them.  The kernel caps it at net.core.rmem_max.
	 */
	if (setsockopt(s->udp, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
		log_warn("SO_RCVBUF");
	randombytes_buf(key, sizeof key);
	s->room = room_new(&cfg, key);
	s->p2 = p2_new(s, now_ms());

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0)
		fatal("signalfd");
	s->tickfd = make_tick();
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
	p2_free(s.p2);
	room_free(s.room);
	close(s.epfd);
	close(s.tickfd);
	close(s.sigfd);
	close(s.udp);
	return 0;
}
