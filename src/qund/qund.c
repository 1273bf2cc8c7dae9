/* qund.c - the qun chat server's main: set up (socket, room, protocols, operator), serve, tear
 * down.
 */
#include <errno.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "common/i18n.h"
#include "common/log.h"
#include "common/net.h"
#include "channel.h"
#include "console.h"
#include "control.h"
#include "daemon.h"
#include "history.h"
#include "loop.h"
#include "operator.h"
#include "options.h"
#include "proto1.h"
#include "proto2.h"
#include "room.h"
#include "sanction.h"
#include "server.h"
#include "steer.h"

/* Tell every member, in its protocol, that the server is closing, and end its session. */
static void say_goodbye(struct server *s)
{
	server_goodbye(s);
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
	    control_open(&s->ctl, opt->control, &cfg, operator_control_request, s, err,
	                 sizeof err) < 0) {
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

/*
 * The UDP sockets: one SO_REUSEPORT group of two, with the kernel putting
 * ACKs in the second (steer.h), so that the loop reads chat ahead of them.
 */
static void listen_udp(struct server *s, const struct options *opt)
{
	int fds[STEER_SOCKETS], rcvbuf = 8 << 20, i;
	char err[256];

	if (net_udp_bind_group(opt->host, opt->port, fds, STEER_SOCKETS, err, sizeof err) < 0)
		fatalx("cannot listen on %s port %s: %s", opt->host ? opt->host : "*", opt->port,
		       err);
	s->steered = steer_acks(fds[STEER_REST], err, sizeof err) == 0;
	if (!s->steered)
		log_warnx("ACKs not steered to their own socket, so chat may queue behind them, "
		          "and no receive moderation: %s",
		          err);
	s->udp = fds[STEER_REST];
	s->udp_acks = fds[STEER_ACKS];
	for (i = 0; i < STEER_SOCKETS; i++) {
		/*
		 * A large receive buffer: a broadcast to N v2 members brings N
		 * acks back at once, and the default (about 200 KB, a few
		 * hundred small datagrams) would drop them.  The kernel caps it
		 * at net.core.rmem_max.
		 */
		if (setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
			log_warn("SO_RCVBUF");
#ifdef QUN_TRACE
		/* The kernel's receive time of each datagram, for trace.h's first stage. */
		if (setsockopt(fds[i], SOL_SOCKET, SO_TIMESTAMPNS, &(int){1}, sizeof(int)) < 0)
			log_warn("SO_TIMESTAMPNS");
#endif
	}
}

/*
 * The store (history.h), as the user qund runs as, so that the files
 * SQLite makes beside it are that user's.  A file that is refused (not
 * ours, damaged, newer) stops qund with the reason: it is never touched.
 */
static void open_store(struct server *s, const struct options *opt)
{
	char err[PATH_MAX + 256];

	int rc;

	if (strcmp(opt->store, "none") == 0)
		return;
	s->history_days = (unsigned)opt->history_days;
	s->history_max = opt->history_max;
	rc = history_open(s, opt->store, (enum store_sync)opt->store_sync, err, sizeof err);
	if (rc < 0)
		fatalx("store: %s", err);
	if (rc > 0)
		log_warnx("history: %s; the room goes on without history until qund restarts", err);
	else
		log_info("history is kept in %s", opt->store);
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
	/* A member's default room is one of its rooms (--max-rooms-per-member). */
	struct channel_config ccfg = {
	    .max_per_member = (unsigned)opt->max_rooms_per - 1,
	    .max_members =
	        (unsigned)(opt->max_room_members > 0 && opt->max_room_members < opt->max_members
	                       ? opt->max_room_members
	                       : opt->max_members),
	    .max_channels = (unsigned)opt->max_rooms,
	    .max_name = (unsigned)opt->max_room_name,
	};
	unsigned char key[16];
	char err[256], name[ADDR_STRLEN];
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
	listen_udp(s, opt);
	randombytes_buf(key, sizeof key);
	s->room = room_new(&cfg, key);
	s->p2 = p2_new(s);
	s->channels = channels_new(&ccfg, opt->lobby); /* the name was checked (options.c) */
	s->rooms_burst = (unsigned)opt->max_rooms_per; /* a new session rejoins them all at once */
	if (s->channels == NULL)
		fatalx("--lobby: not a room name");
	s->proto[2] = &proto2_ops;
	if (s->legacy)
		s->proto[1] = &proto1_ops;
	s->sanctions = sanction_new();
	open_control(s, opt);
	if (opt->drop)
		become_user(opt);
	open_store(s, opt);

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
	s->tickfd = loop_make_tick();
	if (s->tickfd < 0)
		fatal("timerfd");
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		fatal("epoll_create1");
	if (loop_add_fd(s, s->udp) < 0 || loop_add_fd(s, s->udp_acks) < 0 ||
	    loop_add_fd(s, s->sigfd) < 0 || loop_add_fd(s, s->tickfd) < 0 ||
	    (s->ctl != NULL && loop_add_fd(s, control_fd(s->ctl)) < 0))
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
	} else if (loop_add_fd(s, s->console) < 0) {
		fatal("epoll_ctl");
	}
}

/* The real clock and the real socket, for the core (server.h, struct server_io). */
static uint64_t io_now(void *ctx)
{
	(void)ctx;
	return now_ms();
}

static int io_send(void *ctx, struct mmsghdr *msgs, unsigned count)
{
	const struct server *s = ctx;

	return sendmmsg(s->udp, msgs, count, 0);
}

static struct server_io io = {.now_ms = io_now, .send = io_send};

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
	options_parse(argc, argv, &opt);
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
	io.ctx = &s;
	s.io = &io;
	s.started = server_now(&s);
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
	loop_run(&s);

	log_info("shutting down");
	say_goodbye(&s);
	stop_console(&s);
	if (control_close(s.ctl, err, sizeof err) < 0)
		log_warnx("%s", err);
	if (pidfile_remove(&pf, err, sizeof err) < 0)
		log_warnx("%s", err);
	history_close(&s);
	p2_free(s.p2);
	channels_free(s.channels);
	sanction_free(s.sanctions);
	room_free(s.room);
	close(s.epfd);
	close(s.tickfd);
	close(s.sigfd);
	close(s.udp);
	close(s.udp_acks);
	return 0;
}
