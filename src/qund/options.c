/* options.c - qund's settings: the command line and qund.conf(5), through one option table. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "channel.h"
#include "config.h"
#include "store.h"

static const char usage_text[] =
    "usage: qund [-d] [-c FILE] [-b ADDR] [-p PORT] [--lang zh|en] [--legacy]\n"
    "            [-u USER] [--control PATH|none] [--control-group GROUP] [--control-self]\n"
    "            [--pidfile FILE] [--log FILE|syslog]\n"
    "            [--idle-timeout SECS] [--keepalive-timeout SECS] [--max-members N]\n"
    "            [--max-per-address N] [--per-address-prefix-v4 BITS]\n"
    "            [--per-address-prefix-v6 BITS] [--flood-burst N] [--flood-rate N]\n"
    "            [--max-v1 N] [--v1-login-burst N] [--v1-login-rate N]\n"
    "            [--v1-login-timeout SECS] [--coalesce USECS] [--lobby #NAME]\n"
    "            [--max-rooms-per-member N] [--max-rooms N] [--max-room-members N]\n"
    "            [--max-room-name BYTES] [--store PATH|none] [--store-sync off|normal|full]\n"
    "            [--history-days N] [--history-max N] [-h] [-V]\n";

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
		    "      --coalesce USECS       under heavy load, let a trickle of ACKs\n"
		    "                             gather for USECS before reading it (250; 0: "
		    "off)\n"
		    "      --lobby #NAME          the default room's name (#大厅)\n"
		    "      --max-rooms-per-member N\n"
		    "                             rooms one member may be in at once, the default "
		    "room\n"
		    "                             included (20)\n"
		    "      --max-rooms N          rooms on the server at once (1024)\n"
		    "      --max-room-members N   members in one room (default: --max-members)\n"
		    "      --max-room-name BYTES  a new room's name after the # (32, at most 32)\n"
		    "      --store PATH|none      keep history, rooms and bans in PATH (SQLite)\n"
		    "                             (default: none, for now: docs/HISTORY.md)\n"
		    "      --store-sync off|normal|full\n"
		    "                             what a power loss may cost (normal: the last\n"
		    "                             lines; full: nothing, an fsync per pass)\n"
		    "      --history-days N       forget lines older than N days (90; 0: never)\n"
		    "      --history-max N        keep at most N lines per room (100000; 0: all)\n"
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
	OPT_LOBBY,
	OPT_MAX_ROOMS_PER,
	OPT_MAX_ROOMS,
	OPT_MAX_ROOM_MEMBERS,
	OPT_MAX_ROOM_NAME,
	OPT_STORE,
	OPT_STORE_SYNC,
	OPT_HISTORY_DAYS,
	OPT_HISTORY_MAX,
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
    {"lobby", required_argument, NULL, OPT_LOBBY},
    {"max-rooms-per-member", required_argument, NULL, OPT_MAX_ROOMS_PER},
    {"max-rooms", required_argument, NULL, OPT_MAX_ROOMS},
    {"max-room-members", required_argument, NULL, OPT_MAX_ROOM_MEMBERS},
    {"max-room-name", required_argument, NULL, OPT_MAX_ROOM_NAME},
    {"store", required_argument, NULL, OPT_STORE},
    {"store-sync", required_argument, NULL, OPT_STORE_SYNC},
    {"history-days", required_argument, NULL, OPT_HISTORY_DAYS},
    {"history-max", required_argument, NULL, OPT_HISTORY_MAX},
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
	char key[CHANNEL_KEY_MAX + 1];
	enum name_status why = NAME_OK;

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
	case OPT_LOBBY:
		if (channel_name_check(arg, strlen(arg), key, &why) != CHANNEL_OK) {
			snprintf(err, errlen, "--lobby: \"%s\" is not a room name: %s", arg,
			         why != NAME_OK ? qerr_text(LANG_EN, QERR_NAME_INVALID, (int)why)
			                        : "it must start with #");
			return -1;
		}
		return text_option(opt->lobby, sizeof opt->lobby, "--lobby", arg, err, errlen);
	case OPT_MAX_ROOMS_PER:
		return numeric_option("--max-rooms-per-member", arg, 1, 1000, &opt->max_rooms_per,
		                      err, errlen);
	case OPT_MAX_ROOMS:
		return numeric_option("--max-rooms", arg, 1, 65536, &opt->max_rooms, err, errlen);
	case OPT_MAX_ROOM_MEMBERS:
		return numeric_option("--max-room-members", arg, 1, 1000000, &opt->max_room_members,
		                      err, errlen);
	case OPT_MAX_ROOM_NAME:
		return numeric_option("--max-room-name", arg, 1, CHANNEL_NAME_MAX,
		                      &opt->max_room_name, err, errlen);
	case OPT_STORE:
		return text_option(opt->store, sizeof opt->store, "--store", arg, err, errlen);
	case OPT_STORE_SYNC: {
		enum store_sync sync;

		if (store_sync_parse(arg, &sync) < 0) {
			snprintf(err, errlen,
			         "--store-sync: expected off, normal or full, got \"%s\"", arg);
			return -1;
		}
		opt->store_sync = (int)sync;
		return 0;
	}
	case OPT_HISTORY_DAYS:
		return numeric_option("--history-days", arg, 0, 36500, &opt->history_days, err,
		                      errlen);
	case OPT_HISTORY_MAX:
		return numeric_option("--history-max", arg, 0, 1000000000, &opt->history_max, err,
		                      errlen);
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

void options_parse(int argc, char **argv, struct options *opt)
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
	snprintf(opt->lobby, sizeof opt->lobby, "%s", "#大厅");
	opt->max_rooms_per = 20;
	opt->max_rooms = 1024;
	opt->max_room_name = CHANNEL_NAME_MAX;
	snprintf(opt->store, sizeof opt->store, "%s", "none");
	opt->store_sync = STORE_SYNC_NORMAL;
	opt->history_days = 90;
	opt->history_max = 100000;
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
	if ((strcmp(opt->store, "none") != 0 &&
	     absolutize(opt->store, sizeof opt->store, err, sizeof err) < 0) ||
	    absolutize(opt->control, sizeof opt->control, err, sizeof err) < 0 ||
	    absolutize(opt->pidfile, sizeof opt->pidfile, err, sizeof err) < 0 ||
	    absolutize(opt->log, sizeof opt->log, err, sizeof err) < 0) {
		log_warnx("%s", err);
		exit(2);
	}
}
