/* qund.c - the qun chat server: options, the epoll loop, and protocol v1 on top of the room core.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
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

#include "common/buf.h"
#include "common/i18n.h"
#include "common/log.h"
#include "common/net.h"
#include "common/text.h"
#include "proto/wire1.h"
#include "proto/wire2.h"
#include "command.h"
#include "config.h"
#include "console.h"
#include "control.h"
#include "daemon.h"
#include "room.h"
#include "sanction.h"
#include "server.h"

#define QUND_VERSION "0.1.0"
#define TICK_MS      50 /* timers: retransmissions want this; expiry checks are O(1) */
/* Receive moderation (see moderate()): the pause's default and its ceiling. */
#define COALESCE_DEFAULT_US 250
#define COALESCE_MAX_US     1000

/* Room for an option's text value (paths included). */
#define OPT_TEXT PATH_MAX

struct options {
	const char *host, *port; /* point into host_buf/port_buf, or NULL host */
	char host_buf[256], port_buf[32];
	enum lang lang;
	int legacy;
	unsigned long idle_timeout, keepalive_timeout, max_members, max_per_address;
	unsigned long prefix_v4, prefix_v6; /* what --max-per-address counts as one address */
	unsigned long max_v1, v1_login_burst, v1_login_rate, v1_login_timeout; /* --legacy */
	unsigned long flood_burst, flood_rate;
	unsigned long coalesce_us; /* receive moderation's pause; 0 = never pause */
	int daemonize;
	char user[64];
	char pidfile[OPT_TEXT]; /* "" = none (in the foreground) or the default (with -d) */
	char log[OPT_TEXT];     /* "" = stderr, or syslog with -d; "syslog"; or a file */
	char control[OPT_TEXT]; /* "" = the default path; "none" = no control socket */
	int control_default;    /* control is the default path: failing to open it is not fatal */
	char control_group[64]; /* --control-group: its members may use the socket; "" = none */
	int control_self;       /* with -u, processes running as USER may use the socket too */
	gid_t control_gid;      /* control_group, resolved by main; (gid_t)-1 for none */
	/* Resolved by main from user: whom to become after binding ((uid_t)-1 for none). */
	int drop;
	uid_t uid;
	gid_t gid;
};

static const char usage_text[] =
    "usage: qund [-d] [-c FILE] [-b ADDR] [-p PORT] [--lang zh|en] [--legacy]\n"
    "            [-u USER] [--control PATH|none] [--control-group GROUP] [--control-self]\n"
    "            [--pidfile FILE] [--log FILE|syslog]\n"
    "            [--idle-timeout SECS] [--keepalive-timeout SECS] [--max-members N]\n"
    "            [--max-per-address N] [--per-address-prefix-v4 BITS]\n"
    "            [--per-address-prefix-v6 BITS] [--flood-burst N] [--flood-rate N]\n"
    "            [--max-v1 N] [--v1-login-burst N] [--v1-login-rate N]\n"
    "            [--v1-login-timeout SECS] [--coalesce USECS] [-h] [-V]\n";

static void __attribute__((noreturn)) usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	if (status == 0)
		fputs(
		    "\n"
		    "  -d, --daemon               run in the background (double fork; no console)\n"
		    "  -c, --config FILE          read settings from FILE (qund.conf(5)); flags "
		    "win\n"
		    "  -b, --bind ADDR            address to listen on (default: all, IPv4 and "
		    "IPv6)\n"
		    "  -p, --port PORT            UDP port (default 8888; 0 lets the kernel "
		    "choose)\n"
		    "      --lang zh|en           language of the room's messages (default: "
		    "locale)\n"
		    "      --legacy               also accept protocol v1 (the lesson's clients, "
		    "nc)\n"
		    "  -u, --user USER            when started as root, run as USER after binding\n"
		    "      --control PATH|none    operator control socket (default:\n"
		    "                             $RUNTIME_DIRECTORY/qund.sock or "
		    "/run/qun/qund.sock)\n"
		    "      --control-group GROUP  members of GROUP may use the control socket "
		    "(besides root)\n"
		    "      --control-self         with -u, so may processes running as USER\n"
		    "      --pidfile FILE         pid file, locked (default with -d: beside the "
		    "socket)\n"
		    "      --log FILE|syslog      log to FILE (reopened on SIGHUP) or to syslog\n"
		    "                             (default: stderr, or syslog with -d)\n"
		    "      --idle-timeout SECS    evict clients without keepalives after SECS of "
		    "silence (3600)\n"
		    "      --keepalive-timeout SECS\n"
		    "                             evict clients that sent keepalives after SECS of "
		    "silence (90)\n"
		    "      --max-members N        room capacity (1024)\n"
		    "      --max-per-address N    members from one IP address (8), where ...\n"
		    "      --per-address-prefix-v4 BITS\n"
		    "                             ... an IPv4 address is its first BITS bits (32)\n"
		    "      --per-address-prefix-v6 BITS\n"
		    "                             ... and an IPv6 address its first BITS (64)\n"
		    "      --flood-burst N        messages a member may send at once (5)\n"
		    "      --flood-rate N         ... and then per second (2)\n"
		    "      --max-v1 N             with --legacy: v1 members at most (64)\n"
		    "      --v1-login-burst N     new v1 members at once from one /24 or /64 "
		    "(32) ...\n"
		    "      --v1-login-rate N      ... then per second (4); four times both in "
		    "total\n"
		    "      --v1-login-timeout SECS\n"
		    "                             evict a v1 member that sent no P, C or A since "
		    "its L\n"
		    "                             after SECS of silence (30)\n"
		    "      --coalesce USECS       under heavy load, let a trickle of datagrams\n"
		    "                             gather for USECS before reading it (250; 0: "
		    "off)\n"
		    "  -h, --help                 show this help\n"
		    "  -V, --version              show the version\n"
		    "\nOperator console on standard input: TEXT, /who, /kick NAME, /quit, /help,\n"
		    "and every qunctl(8) command as /COMMAND.\n",
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

enum {
	OPT_LANG = 256,
	OPT_IDLE,
	OPT_KEEPALIVE,
	OPT_MAX,
	OPT_LEGACY,
	OPT_PER_ADDR,
	OPT_BURST,
	OPT_RATE,
	OPT_PIDFILE,
	OPT_LOG,
	OPT_CONTROL,
	OPT_CONTROL_GROUP,
	OPT_CONTROL_SELF,
	OPT_COALESCE,
	OPT_PREFIX_V4,
	OPT_PREFIX_V6,
	OPT_MAX_V1,
	OPT_V1_BURST,
	OPT_V1_RATE,
	OPT_V1_TIMEOUT,
};

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
    {"daemon", no_argument, NULL, 'd'},
    {"user", required_argument, NULL, 'u'},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"log", required_argument, NULL, OPT_LOG},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"control-group", required_argument, NULL, OPT_CONTROL_GROUP},
    {"control-self", no_argument, NULL, OPT_CONTROL_SELF},
    {"coalesce", required_argument, NULL, OPT_COALESCE},
    {"per-address-prefix-v4", required_argument, NULL, OPT_PREFIX_V4},
    {"per-address-prefix-v6", required_argument, NULL, OPT_PREFIX_V6},
    {"max-v1", required_argument, NULL, OPT_MAX_V1},
    {"v1-login-burst", required_argument, NULL, OPT_V1_BURST},
    {"v1-login-rate", required_argument, NULL, OPT_V1_RATE},
    {"v1-login-timeout", required_argument, NULL, OPT_V1_TIMEOUT},
    /* Not keys of the configuration file: */
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
/* The long options before "config" are the configuration file's keys (qund.conf(5)). */
#define CONFIG_KEYS_MAX (sizeof longopts / sizeof longopts[0])
#define SHORTOPTS       "b:c:dp:u:hV"

/* A numeric option's value; -1 with a clear complaint in err. */
static int numeric_option(const char *name, const char *arg, unsigned long lo, unsigned long hi,
                          unsigned long *out, char *err, size_t errlen)
{
	if (parse_ulong(arg, lo, hi, out) == 0)
		return 0;
	snprintf(err, errlen, "%s: expected a number from %lu to %lu, got \"%s\"", name, lo, hi,
	         arg);
	return -1;
}

/* Copy a text option's value; -1 with a reason if it is empty or does not fit. */
static int text_option(char *dst, size_t size, const char *name, const char *v, char *err,
                       size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n >= size) {
		snprintf(err, errlen, "%s: expected 1 to %zu bytes", name, size - 1);
		return -1;
	}
	memcpy(dst, v, n + 1);
	return 0;
}

/*
 * Apply one setting, from a flag or from the configuration file: the one
 * place that knows what each option means.  arg is the value ("yes" or
 * "no" for a switch).  Returns 0, or -1 with the reason in err.
 */
static int set_option(struct options *opt, int id, const char *arg, char *err, size_t errlen)
{
	switch (id) {
	case 'b':
		if (text_option(opt->host_buf, sizeof opt->host_buf, "--bind", arg, err, errlen) <
		    0)
			return -1;
		opt->host = opt->host_buf;
		return 0;
	case 'p':
		if (text_option(opt->port_buf, sizeof opt->port_buf, "--port", arg, err, errlen) <
		    0)
			return -1;
		opt->port = opt->port_buf;
		return 0;
	case OPT_LANG:
		if (lang_parse(arg, &opt->lang) == 0)
			return 0;
		snprintf(err, errlen, "--lang: expected zh or en, got \"%s\"", arg);
		return -1;
	case OPT_IDLE:
		return numeric_option("--idle-timeout", arg, 1, 86400UL * 365, &opt->idle_timeout,
		                      err, errlen);
	case OPT_KEEPALIVE:
		return numeric_option("--keepalive-timeout", arg, 1, 86400UL * 365,
		                      &opt->keepalive_timeout, err, errlen);
	case OPT_MAX:
		return numeric_option("--max-members", arg, 1, 1000000, &opt->max_members, err,
		                      errlen);
	case OPT_PER_ADDR:
		return numeric_option("--max-per-address", arg, 1, 1000000, &opt->max_per_address,
		                      err, errlen);
	case OPT_BURST:
		return numeric_option("--flood-burst", arg, 1, 1000000, &opt->flood_burst, err,
		                      errlen);
	case OPT_RATE:
		return numeric_option("--flood-rate", arg, 1, 1000000, &opt->flood_rate, err,
		                      errlen);
	case OPT_COALESCE:
		return numeric_option("--coalesce", arg, 0, COALESCE_MAX_US, &opt->coalesce_us, err,
		                      errlen);
	case OPT_PREFIX_V4:
		return numeric_option("--per-address-prefix-v4", arg, 1, 32, &opt->prefix_v4, err,
		                      errlen);
	case OPT_PREFIX_V6:
		return numeric_option("--per-address-prefix-v6", arg, 1, 128, &opt->prefix_v6, err,
		                      errlen);
	case OPT_MAX_V1:
		return numeric_option("--max-v1", arg, 1, 1000000, &opt->max_v1, err, errlen);
	case OPT_V1_BURST:
		return numeric_option("--v1-login-burst", arg, 1, 1000000, &opt->v1_login_burst,
		                      err, errlen);
	case OPT_V1_RATE:
		return numeric_option("--v1-login-rate", arg, 1, 1000000, &opt->v1_login_rate, err,
		                      errlen);
	case OPT_V1_TIMEOUT:
		return numeric_option("--v1-login-timeout", arg, 1, 86400UL * 365,
		                      &opt->v1_login_timeout, err, errlen);
	case OPT_LEGACY:
		opt->legacy = strcmp(arg, "no") != 0;
		return 0;
	case 'd':
		opt->daemonize = strcmp(arg, "no") != 0;
		return 0;
	case 'u':
		return text_option(opt->user, sizeof opt->user, "--user", arg, err, errlen);
	case OPT_PIDFILE:
		return text_option(opt->pidfile, sizeof opt->pidfile, "--pidfile", arg, err,
		                   errlen);
	case OPT_LOG:
		return text_option(opt->log, sizeof opt->log, "--log", arg, err, errlen);
	case OPT_CONTROL:
		return text_option(opt->control, sizeof opt->control, "--control", arg, err,
		                   errlen);
	case OPT_CONTROL_GROUP:
		return text_option(opt->control_group, sizeof opt->control_group, "--control-group",
		                   arg, err, errlen);
	case OPT_CONTROL_SELF:
		opt->control_self = strcmp(arg, "no") != 0;
		return 0;
	default:
		snprintf(err, errlen, "option %d cannot be set here", id);
		return -1;
	}
}

static int apply_config(void *ctx, int id, const char *value, char *err, size_t errlen)
{
	return set_option(ctx, id, value, err, errlen);
}

/* Make a relative path absolute, since a daemon works from "/".  -1 with a reason if too long. */
static int absolutize(char *path, size_t size, char *err, size_t errlen)
{
	char cwd[PATH_MAX], tmp[OPT_TEXT];
	int n;

	if (path[0] == '\0' || path[0] == '/' || strcmp(path, "none") == 0 ||
	    strcmp(path, "syslog") == 0)
		return 0;
	if (getcwd(cwd, sizeof cwd) == NULL) {
		snprintf(err, errlen, "getcwd: %s", strerror(errno));
		return -1;
	}
	n = snprintf(tmp, sizeof tmp, "%s/%s", cwd, path);
	if (n < 0 || (size_t)n >= sizeof tmp || (size_t)n >= size) {
		snprintf(err, errlen, "path too long: %s/%s", cwd, path);
		return -1;
	}
	memcpy(path, tmp, (size_t)n + 1);
	return 0;
}

/* name in the runtime directory: $RUNTIME_DIRECTORY (systemd; the first of several) or /run/qun. */
static int runtime_path(char *out, size_t size, const char *name)
{
	const char *rd = getenv("RUNTIME_DIRECTORY");
	size_t n = rd != NULL ? strcspn(rd, ":") : 0;
	int k;

	if (n > 0 && rd[0] == '/')
		k = snprintf(out, size, "%.*s/%s", (int)n, rd, name);
	else
		k = snprintf(out, size, "/run/qun/%s", name);
	return k < 0 || (size_t)k >= size ? -1 : 0;
}

/* -c FILE: the file's keys are the long options before "config". */
static void load_config(const char *path, struct options *opt)
{
	struct config_key keys[CONFIG_KEYS_MAX];
	char err[PATH_MAX + 256];
	size_t i;

	for (i = 0; strcmp(longopts[i].name, "config") != 0; i++) {
		keys[i].name = longopts[i].name;
		keys[i].takes_value = longopts[i].has_arg == required_argument;
		keys[i].id = longopts[i].val;
	}
	if (config_load(path, keys, i, apply_config, opt, err, sizeof err) < 0) {
		log_warnx("%s", err);
		exit(2);
	}
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	const char *config = NULL;
	char err[PATH_MAX + 256];
	int c;

	memset(opt, 0, sizeof *opt);
	opt->host = NULL;
	opt->port = "8888";
	opt->lang = lang_from_env();
	opt->idle_timeout = 3600;
	opt->keepalive_timeout = 90;
	opt->max_members = 1024;
	opt->max_per_address = 8;
	opt->prefix_v4 = 32; /* one IPv4 address: hosts rarely get more than one */
	opt->prefix_v6 = 64; /* one IPv6 /64: what a host gets to pick addresses from */
	opt->max_v1 = 64;
	opt->v1_login_burst = 32; /* a classroom behind one /24 logs in at once */
	opt->v1_login_rate = 4;
	opt->v1_login_timeout = 30;
	opt->flood_burst = 5;
	opt->flood_rate = 2;
	opt->coalesce_us = COALESCE_DEFAULT_US;
	opt->legacy = 0;

	/* First pass: -c only (and -h, -V, unknown options), so the file comes before the flags. */
	while ((c = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("qund %s\n", QUND_VERSION);
			exit(0);
		case '?':
		case ':':
			usage(2);
		default:
			break;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument \"%s\"", argv[optind]);
		usage(2);
	}
	if (config != NULL)
		load_config(config, opt);

	/* Second pass: the flags, over whatever the file said. */
	optind = 0;
	while ((c = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
		if (c == 'c')
			continue;
		if (set_option(opt, c, optarg != NULL ? optarg : "yes", err, sizeof err) < 0) {
			log_warnx("%s", err);
			usage(2);
		}
	}

	if (opt->control[0] == '\0') {
		opt->control_default = 1;
		if (runtime_path(opt->control, sizeof opt->control, "qund.sock") < 0) {
			log_warnx("$RUNTIME_DIRECTORY is too long");
			exit(2);
		}
	}
	if (opt->daemonize && opt->pidfile[0] == '\0' &&
	    runtime_path(opt->pidfile, sizeof opt->pidfile, "qund.pid") < 0) {
		log_warnx("$RUNTIME_DIRECTORY is too long");
		exit(2);
	}
	if (absolutize(opt->control, sizeof opt->control, err, sizeof err) < 0 ||
	    absolutize(opt->pidfile, sizeof opt->pidfile, err, sizeof err) < 0 ||
	    absolutize(opt->log, sizeof opt->log, err, sizeof err) < 0) {
		log_warnx("%s", err);
		exit(2);
	}
}

#define RECV_BATCH  64 /* datagrams per recvmmsg() */
#define RECV_ROUNDS 16 /* batches per wake-up before the timers and the console get a turn */

/*
 * Read the waiting datagrams, RECV_BATCH per recvmmsg(), and after each
 * batch send what it caused (v2's DATA and acknowledgements, v1's lines:
 * once per batch, not once per datagram).  Flushing per batch, not once
 * the socket is empty, is what keeps output going while input never
 * stops: a v2 room of 2,150 members being filled kept every recvmmsg
 * full, so nothing was sent, every queue overflowed, and the whole room
 * was evicted as too slow.  After RECV_ROUNDS batches the event loop gets
 * the CPU back (epoll reports the socket again).  MSG_TRUNC makes each
 * msg_len the full length of its datagram, so an oversized one is seen as
 * such and refused whole.  The buffers are static: the server is one
 * thread, and 77 KB is too much for the stack.
 */
static int on_udp(struct server *s)
{
	static char buf[RECV_BATCH][QUN_MAX_DATAGRAM + 1];
	static struct peer_addr from[RECV_BATCH];
	static struct mmsghdr msgs[RECV_BATCH];
	static struct iovec iov[RECV_BATCH];
	int i, n, round, total = 0;

	for (round = 0; round < RECV_ROUNDS; round++) {
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
		total += n;
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
		p2_flush(s);
		if (n < RECV_BATCH)
			break; /* the queue is empty: no need to ask again for EAGAIN */
	}
	return total;
}

#define MODERATE_INPUT (2000 * TICK_MS / 1000) /* a tick's datagrams that turn it on */
#define MODERATE_FEW   16 /* a wake-up that read fewer datagrams than this was a trickle */

/*
 * Receive moderation: the user-space form of a network card's rx-usecs.
 * In a busy v2 room most datagrams are acknowledgements, and they come
 * as a trickle: 5,000 members at 100,000 deliveries/s woke qund 15,000
 * times a second for three datagrams each, and the wake-ups (a context
 * switch, and on a virtual machine an interrupt between cores) cost more
 * than the datagrams (docs/PERFORMANCE.md).  So while the last tick read
 * more than 2,000 datagrams a second, a wake-up that read fewer than
 * MODERATE_FEW is followed by a pause of --coalesce microseconds, in
 * which the next ones gather into one batch.  The switch is the input
 * rate, not the wake-ups: the pauses themselves bring the wake-ups down,
 * and a switch on them turned the pauses off every other tick.  The
 * price is latency: a chat message that arrives meanwhile waits up to the
 * pause (measured in docs/PERFORMANCE.md, "Receive moderation").  Below
 * the switch's rate nothing changes.  A wake-up whose work took the pause's
 * length already (a fan-out to thousands) is not followed by one: the
 * next datagrams gathered meanwhile.  Signals, the timer, the console and
 * the control socket wait too, which at about 1 ms at most (the kernel's
 * timer slack adds 50 us or more to a sleep) is harmless.  Anyone can
 * switch it on with 100 junk datagrams per tick; the cost is bounded by
 * the pause.  Called after each wake-up on the UDP socket with the number
 * of datagrams it read and the microseconds reading and answering them
 * took.
 */
static void moderate(struct server *s, int nread, uint64_t busy_us)
{
	struct timespec pause = {0, (long)s->coalesce_us * 1000};

	s->st.udp_wakeups++;
	s->tick_input += (unsigned)nread;
	if (!s->moderating || s->coalesce_us == 0 || nread >= MODERATE_FEW ||
	    busy_us >= s->coalesce_us)
		return;
	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
	s->st.rx_pauses++;
}

/* Once per tick: moderate the next ticks' input if the input since the last was heavy. */
static void moderate_tick(struct server *s, uint64_t expirations)
{
	s->moderating =
	    s->tick_input > MODERATE_INPUT * expirations; /* a late tick covers several */
	s->tick_input = 0;
}

/* The UDP socket is readable: read, answer, and moderate the next wake-up. */
static void on_udp_ready(struct server *s)
{
	uint64_t t0 = now_us();
	int n = on_udp(s);

	moderate(s, n, now_us() - t0);
}

static void cmd_deliver(void *ctx, const struct outcome *o)
{
	struct server *s = ctx;

	server_deliver(s, o, 0);
	p2_flush(s);
}

/* The server's drop reasons by name, for stats (the room's are command_drop_name()'s). */
static const char *const server_drop_names[SDROP_COUNT] = {
    [SDROP_V1_DISABLED] = "v1_disabled",
    [SDROP_V2_MALFORMED] = "v2_malformed",
    [SDROP_V2_BAD_COOKIE] = "v2_bad_cookie",
    [SDROP_V2_UNKNOWN_SID] = "v2_unknown_sid",
    [SDROP_V2_WRONG_ADDR] = "v2_wrong_addr",
    [SDROP_RATE_LIMITED] = "rate_limited",
    [SDROP_BANNED] = "banned",
    [SDROP_MUTED] = "muted",
    [SDROP_V2_REPEAT] = "v2_repeat",
    [SDROP_V2_REPLAY] = "v2_replay",
};

static void add_drop(struct cmd_stats *st, const char *name, size_t i, uint64_t count)
{
	struct cmd_drop *d;

	if (st->ndrops >= CMD_MAX_DROPS)
		return;
	d = &st->drops[st->ndrops++];
	if (name != NULL)
		snprintf(d->name, sizeof d->name, "%s", name);
	else
		snprintf(d->name, sizeof d->name, "server_%zu", i);
	d->count = count;
}

/*
 * The memory malloc has handed out and not had back: the main arena's
 * chunks in use plus the blocks it mapped on its own (qund has one
 * thread, so one arena).  Unlike RSS it leaves out freed memory that
 * malloc keeps for later, so it shows what the members cost now.  Under
 * AddressSanitizer malloc is ASan's, whose mallinfo2 is all zeros: ask
 * its allocator instead (make check runs the tests that read this under
 * ASan too).
 */
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void); /* NOLINT(bugprone-reserved-identifier) */

static uint64_t heap_in_use(void)
{
	return (uint64_t)__sanitizer_get_current_allocated_bytes();
}
#else
static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}
#endif

static void cmd_stats(void *ctx, struct cmd_stats *st)
{
	const struct server *s = ctx;
	char tmp[32];
	size_t i;

	st->uptime_ms = now_ms() - s->started;
	st->datagrams_in = s->st.datagrams_in;
	st->datagrams_out = s->st.datagrams_out;
	st->send_errors = s->st.send_errors;
	st->retransmissions = s->st.retransmits;
	st->heap_bytes = heap_in_use();
	st->udp_wakeups = s->st.udp_wakeups;
	st->rx_pauses = s->st.rx_pauses;

	for (i = 1; i < DROP_COUNT; i++)
		add_drop(st, command_drop_name(i, tmp, sizeof tmp), i, s->st.drops[i]);
	for (i = 0; i < SDROP_COUNT; i++)
		add_drop(st, server_drop_names[i], i, s->st.sdrops[i]);
}

static void cmd_shutdown(void *ctx)
{
	struct server *s = ctx;

	s->stopping = 1;
}

/* The server as the operator's commands (command.h) see it. */
static void cmd_server_init(struct server *s, struct cmd_server *cs)
{
	memset(cs, 0, sizeof *cs);
	cs->room = s->room;
	cs->sanctions = s->sanctions;
	cs->lang = s->lang;
	cs->now = now_ms();
	cs->ctx = s;
	cs->deliver = cmd_deliver;
	cs->stats = cmd_stats;
	cs->shutdown = cmd_shutdown;
}

/* One line from the operator's console: replies on stdout, errors to the log. */
static void console_line(struct server *s, const char *line, size_t len)
{
	struct cmd_server cs;
	struct buf out;
	enum cmd_status st;

	cmd_server_init(s, &cs);
	buf_init(&out, CONTROL_MAX_REPLY);
	st = command_console(&cs, line, len, &out);
	if (out.len > 0 && st == CMD_OK) {
		fwrite(out.data, 1, out.len, stdout);
		fflush(stdout);
	} else if (out.len > 0) {
		log_warnx("%.*s", (int)(out.len - (out.data[out.len - 1] == '\n')), out.data);
	}
	buf_free(&out);
}

/*
 * One request on the control socket.  Who asked (SO_PEERCRED) and what
 * is logged, the request made safe for a terminal first.
 */
static int on_control_request(void *ctx, const struct control_peer *peer, const char *line,
                              size_t len, struct buf *reply)
{
	struct server *s = ctx;
	struct cmd_server cs;
	enum cmd_status st;
	char safe[256];

	cmd_server_init(s, &cs);
	st = command_control(&cs, line, len, reply);
	text_sanitize(line, len < 200 ? len : 200, safe, sizeof safe);
	log_info("control: uid %ld gid %ld pid %ld: %s%s: %s", (long)peer->uid, (long)peer->gid,
	         (long)peer->pid, safe, len > 200 ? "..." : "",
	         st == CMD_OK       ? "done"
	         : st == CMD_FAILED ? "failed"
	                            : "refused");
	return (int)st;
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
	char err[PATH_MAX + 64];

	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			reap_children(s);
		} else if (si.ssi_signo == SIGHUP) {
			if (log_reopen(err, sizeof err) < 0)
				log_warnx("SIGHUP: cannot reopen the log, keeping the old file: %s",
				          err);
			else
				log_info("SIGHUP: log reopened");
		} else {
			log_info("SIG%s: stopping", sigabbrev_np((int)si.ssi_signo));
			s->stopping = 1;
		}
	}
}

static void on_tick(struct server *s)
{
	uint64_t expirations;
	struct outcome o;

	if (read(s->tickfd, &expirations, sizeof expirations) < 0)
		return;
	moderate_tick(s, expirations);
	while (room_expire(s->room, now_ms(), &o))
		server_deliver(s, &o, 0);
	p2_tick(s);
	p2_flush(s);
	sanction_expire(s->sanctions, now_ms());
	if (s->ctl != NULL)
		control_tick(s->ctl, now_ms());
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

/*
 * Open the control socket (control.h).  The default path is a convenience:
 * a foreground qund started by someone who cannot write /run/qun still
 * serves, without it.  An explicit path, or any path for a daemon, must
 * work.  When we are to drop privileges, the socket (and a directory we
 * made for it) goes to that user, who must be able to remove it at exit;
 * the socket's group is the control group, if there is one, so that its
 * members get through the file's mode.  Who may use it: root; whoever
 * started qund, unless it becomes another user with -u (then that user
 * only with --control-self: other processes may run as it); the control
 * group's members.
 */
static void open_control(struct server *s, const struct options *opt)
{
	const struct control_config cfg = {
	    .user = opt->uid,
	    .allow_self = !opt->drop || opt->control_self,
	    .group = opt->control_gid,
	    .group_name = opt->control_group,
	    .lang = opt->lang,
	};
	gid_t group = opt->control_gid != (gid_t)-1 ? opt->control_gid : opt->gid;
	char err[PATH_MAX + 256];

	if (strcmp(opt->control, "none") == 0)
		return;
	if (rundir_prepare(opt->control, opt->uid, opt->gid, err, sizeof err) < 0 ||
	    control_open(&s->ctl, opt->control, &cfg, on_control_request, s, err, sizeof err) < 0) {
		s->ctl = NULL;
		if (opt->control_default && !opt->daemonize) {
			log_warnx("no control socket: %s (see --control)", err);
			return;
		}
		fatalx("control socket: %s", err);
	}
	if (control_chown(s->ctl, opt->uid, group, err, sizeof err) < 0)
		fatalx("%s", err);
}

/* -u: all that needs root is done (port bound, files made); become the user for good. */
static void become_user(const struct options *opt)
{
	char err[PATH_MAX + 64];

	if (log_chown(opt->uid, opt->gid, err, sizeof err) < 0)
		fatalx("%s", err);
	if (priv_drop(opt->uid, opt->gid, err, sizeof err) < 0)
		fatalx("cannot become %s: %s", opt->user, err);
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
	    .prefix_v4 = (unsigned)opt->prefix_v4,
	    .prefix_v6 = (unsigned)opt->prefix_v6,
	    .max_v1 = opt->max_v1,
	    .v1_login_burst = (unsigned)opt->v1_login_burst,
	    .v1_login_rate = (unsigned)opt->v1_login_rate,
	    .v1_login_timeout = (uint64_t)opt->v1_login_timeout * 1000,
	};
	unsigned char key[16];
	char err[256], name[ADDR_STRLEN];
	int rcvbuf = 8 << 20;
	sigset_t mask;

	s->lang = opt->lang;
	s->legacy = opt->legacy;
	s->coalesce_us = (unsigned)opt->coalesce_us;
	/* Three keepalives fit in the timeout, and never more often than the usual 25 s. */
	s->keepalive_hint =
	    opt->keepalive_timeout / 3 < 25 ? (unsigned)opt->keepalive_timeout / 3 : 25;
	if (s->keepalive_hint == 0)
		s->keepalive_hint = 1;
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
	s->sanctions = sanction_new();
	open_control(s, opt);
	if (opt->drop)
		become_user(opt);

	/* Dispositions inherited as "ignore" (nohup) would discard these before signalfd saw them.
	 */
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
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
	if (add_fd(s, s->udp) < 0 || add_fd(s, s->sigfd) < 0 || add_fd(s, s->tickfd) < 0 ||
	    (s->ctl != NULL && add_fd(s, control_fd(s->ctl)) < 0))
		fatal("epoll_ctl");

	/* The first line of output is the contract with scripts: where we listen. */
	printf("listening on %s\n", net_local_name(s->udp, name, sizeof name));
	fflush(stdout);
	/* Whoever turned v1 on is told, every time, what it lets anyone on the path do. */
	if (s->legacy)
		log_warnx("%s", ui_text(s->lang, UI_LEGACY_WARNING));

	if (opt->daemonize)
		return; /* a daemon's standard input is /dev/null: no console */
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
				on_udp_ready(s);
			else if (fd == s->sigfd)
				on_signal(s);
			else if (fd == s->tickfd)
				on_tick(s);
			else if (fd == s->console)
				on_console(s);
			else if (s->ctl != NULL && fd == control_fd(s->ctl))
				control_run(s->ctl, now_ms());
		}
	}
}

/* While a daemon starts, the pipe to the process waiting for it (daemon.h); -1 after. */
static int ready_fd = -1;

static void startup_failed(const char *msg)
{
	daemon_failed(&ready_fd, msg);
}

int main(int argc, char **argv)
{
	struct server s;
	struct options opt;
	struct pidfile pf = {.fd = -1, .path = NULL};
	char msg[DAEMON_MSG_MAX], err[PATH_MAX + 128], name[ADDR_STRLEN];

	log_init(argv[0]);
	/*
	 * A fixed threshold: large tables (the room's hash buckets and member
	 * array, from 128 KB) always come from mmap and go back to the system
	 * when a table doubles.  glibc's default raises the threshold past
	 * each freed block, so the old halves stayed in the heap: about 30
	 * bytes per member of a large room (docs/PERFORMANCE.md).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	parse_options(argc, argv, &opt);
	if (opt.daemonize)
		daemon_close_inherited();
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	opt.uid = (uid_t)-1; /* without -u: nobody to become, to trust or to hand files to */
	opt.gid = (gid_t)-1;
	if (opt.user[0] != '\0') {
		if (priv_lookup(opt.user, &opt.uid, &opt.gid, err, sizeof err) < 0)
			fatalx("--user: %s", err);
		opt.drop = 1;
	}
	opt.control_gid = (gid_t)-1;
	if (opt.control_group[0] != '\0' &&
	    group_lookup(opt.control_group, &opt.control_gid, err, sizeof err) < 0)
		fatalx("--control-group: %s", err);
	/* A log file is opened here, so that a bad path is reported on the terminal. */
	if (opt.log[0] != '\0' && strcmp(opt.log, "syslog") != 0 &&
	    log_to_file(opt.log, opt.uid, err, sizeof err) < 0)
		fatalx("--log: %s", err);
	if (opt.daemonize) {
		switch (daemon_fork(&ready_fd, msg, sizeof msg)) {
		case 1:
			/* The daemon is listening: say where, as the foreground server would. */
			printf("%s\n", msg);
			return 0;
		case -1:
			fprintf(stderr, "qund: %s\n", msg);
			return 1;
		default:
			break;
		}
		/* Until it is ready, a fatal error is also reported to the waiting process. */
		log_set_fatal_hook(startup_failed);
	}
	if (strcmp(opt.log, "syslog") == 0 || (opt.daemonize && opt.log[0] == '\0'))
		log_to_syslog();

	memset(&s, 0, sizeof s);
	s.started = now_ms();
	if (opt.pidfile[0] != '\0' &&
	    (rundir_prepare(opt.pidfile, opt.uid, opt.gid, err, sizeof err) < 0 ||
	     pidfile_create(&pf, opt.pidfile, opt.uid, err, sizeof err) < 0))
		fatalx("%s", err);
	setup(&s, &opt);
	snprintf(msg, sizeof msg, "listening on %s", net_local_name(s.udp, name, sizeof name));
	log_info("%s%s%s (pid %ld)", msg, s.ctl != NULL ? ", control socket " : "",
	         s.ctl != NULL ? control_path(s.ctl) : "", (long)getpid());
	if (opt.daemonize) {
		log_set_fatal_hook(NULL);
		daemon_ready(&ready_fd, msg);
	}
	serve(&s);

	log_info("shutting down");
	say_goodbye(&s);
	stop_console(&s);
	if (control_close(s.ctl, err, sizeof err) < 0)
		log_warnx("%s", err);
	if (pidfile_remove(&pf, err, sizeof err) < 0)
		log_warnx("%s", err);
	p2_free(s.p2);
	sanction_free(s.sanctions);
	room_free(s.room);
	close(s.epfd);
	close(s.tickfd);
	close(s.sigfd);
	close(s.udp);
	return 0;
}
