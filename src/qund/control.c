/* control.c - the control socket's server side: accept, read one line, run it, write the reply. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/safefile.h"
#include "common/text.h"

struct conn {
	int fd;
	struct control_peer peer;
	char in[CONTROL_MAX_REQUEST + 1];
	size_t inlen;
	struct buf out; /* status line and body, once the request has run */
	size_t sent;
	int allowed;  /* the peer may use the socket (struct control_config) */
	int writing;  /* the request has run: sending the reply */
	int draining; /* the reply is out: reading what is left until the client closes */
	uint64_t deadline;
};

struct control {
	int listen_fd, epfd;
	char *path;
	control_fn fn;
	void *ctx;
	struct control_config cfg; /* group_name points at group_name below */
	char group_name[64];
	/* Refusals are logged at most 5 in 10 s: any local process may provoke them. */
	struct ratelimit denied_log;
	uint64_t now; /* of the current control_run */
	struct conn *conns[CONTROL_MAX_CLIENTS];
};

/*
 * The refusal, in Chinese and English ("%s" placeholders for ui_format:
 * the caller's uid, then who may).  The operator's texts live beside their
 * code, as command.c's do.
 */
static const char *const denied_text[2] = {
    "拒绝访问：uid %s 无权使用 qund 的控制套接字（可以使用的：%s；见 qund(8) 的 "
    "--control-group）",
    "permission denied: uid %s may not use qund's control socket (allowed: %s; see "
    "--control-group in qund(8))",
};

/* Fill sa with path; -1 if it does not fit in sun_path. */
static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof sa->sun_path)
		return -1;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/*
 * Is a server answering on the socket at path?  1 yes, 0 no (nobody
 * listens: a leftover), -1 cannot tell (reason in err).
 */
static int socket_alive(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	if (rc == 0 || errno == EAGAIN) {
		close(fd);
		return 1;
	}
	rc = errno;
	close(fd);
	if (rc == ECONNREFUSED)
		return 0;
	snprintf(err, errlen, "%s: %s", sa->sun_path, strerror(rc));
	return -1;
}

/* Bind fd to path with mode 0660 from the start (umask), taking over a dead socket. */
static int bind_path(int fd, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	mode_t old;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		/* 0117 leaves 0660: never a moment when others could connect. */
		old = umask(0117);
		rc = bind(fd, (const struct sockaddr *)sa, sizeof *sa);
		umask(old);
		if (rc == 0)
			break;
		if (errno != EADDRINUSE) {
			snprintf(err, errlen, "bind %s: %s", sa->sun_path, strerror(errno));
			return -1;
		}
		if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", sa->sun_path);
			return -1;
		}
		switch (socket_alive(sa, err, errlen)) {
		case 1:
			snprintf(err, errlen, "another server is listening on %s", sa->sun_path);
			return -1;
		case 0:
			if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
				snprintf(err, errlen, "remove stale %s: %s", sa->sun_path,
				         strerror(errno));
				return -1;
			}
			break;
		default:
			return -1;
		}
	}
	if (rc != 0) {
		snprintf(err, errlen, "bind %s: address in use", sa->sun_path);
		return -1;
	}
	if (chmod(sa->sun_path, 0660) < 0) {
		snprintf(err, errlen, "chmod %s: %s", sa->sun_path, strerror(errno));
		unlink(sa->sun_path);
		return -1;
	}
	return 0;
}

int control_open(struct control **out, const char *path, const struct control_config *cfg,
                 control_fn fn, void *ctx, char *err, size_t errlen)
{
	struct epoll_event ev;
	struct sockaddr_un sa;
	struct control *c;
	int fd;

	if (unix_addr(&sa, path) < 0) {
		snprintf(err, errlen, "control socket path is empty or longer than %zu bytes: %s",
		         sizeof sa.sun_path - 1, path);
		return -1;
	}
	if (safefile_check_dir(path, cfg->user, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_path(fd, &sa, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	if (listen(fd, CONTROL_MAX_CLIENTS) < 0) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	c = xcalloc(1, sizeof *c);
	c->listen_fd = fd;
	c->fn = fn;
	c->ctx = ctx;
	c->cfg = *cfg;
	snprintf(c->group_name, sizeof c->group_name, "%s",
	         cfg->group_name != NULL ? cfg->group_name : "");
	c->cfg.group_name = c->group_name;
	c->path = xmalloc(strlen(path) + 1);
	memcpy(c->path, path, strlen(path) + 1);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL; /* NULL marks the listening socket */
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		control_close(c, NULL, 0);
		return -1;
	}
	*out = c;
	return 0;
}

int control_fd(const struct control *c)
{
	return c->epfd;
}

const char *control_path(const struct control *c)
{
	return c->path;
}

int control_chown(struct control *c, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct stat st;

	/* Nothing to change: no chown at all (a systemd unit may forbid the call). */
	if (lstat(c->path, &st) == 0 && (uid == (uid_t)-1 || st.st_uid == uid) &&
	    (gid == (gid_t)-1 || st.st_gid == gid))
		return 0;
	if (lchown(c->path, uid, gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", c->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void conn_close(struct control *c, size_t slot)
{
	struct conn *k = c->conns[slot];

	if (k == NULL)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	buf_free(&k->out);
	free(k);
	c->conns[slot] = NULL;
}

/* Send what is left of the reply; returns 1 when done (or hopeless), 0 to wait for EPOLLOUT. */
static int conn_write(struct conn *k)
{
	while (k->sent < k->out.len) {
		ssize_t n = send(k->fd, k->out.data + k->sent, k->out.len - k->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1; /* the client went away: nothing more to do for it */
		k->sent += (size_t)n;
	}
	return 1;
}

/* Who may use the socket, in lang: "root, uid 65534 (qund's own), members of group qunadm". */
static void describe_allowed(const struct control *c, enum lang lang, char *out, size_t size)
{
	size_t n;

	n = (size_t)snprintf(out, size, "root");
	if (c->cfg.allow_self && geteuid() != 0 && n < size)
		n += (size_t)snprintf(out + n, size - n,
		                      lang == LANG_ZH ? "、uid %ld（qund 自己）"
		                                      : ", uid %ld (qund's own)",
		                      (long)geteuid());
	if (c->cfg.group != (gid_t)-1 && n < size)
		snprintf(out + n, size - n,
		         lang == LANG_ZH ? "、%s 组的成员" : ", members of group %s",
		         c->group_name[0] != '\0' ? c->group_name : "?");
}

/*
 * The peer may not use the socket: the reply is the refusal (JSON if the
 * request asked for it) and the log says who tried what.
 */
static int conn_deny(struct control *c, struct conn *k, const char *line, size_t len)
{
	char uid[24], allowed[256], text[512], safe[256], more[64] = "";
	int json = len >= 6 && memcmp(line, "--json", 6) == 0 && (len == 6 || line[6] == ' ');
	enum lang lang = json ? LANG_EN : c->cfg.lang;
	unsigned long held;

	snprintf(uid, sizeof uid, "%ld", (long)k->peer.uid);
	describe_allowed(c, lang, allowed, sizeof allowed);
	ui_format(text, sizeof text, denied_text[lang == LANG_ZH ? 0 : 1], uid, allowed);
	if (json) {
		buf_puts(&k->out, "{\"ok\":false,\"error\":");
		buf_json_str(&k->out, text, strlen(text));
		buf_puts(&k->out, "}\n");
	} else {
		buf_printf(&k->out, "%s\n", text);
	}
	if (ratelimit_allow(&c->denied_log, c->now, 5, 10000, &held)) {
		text_sanitize(line, len < 200 ? len : 200, safe, sizeof safe);
		describe_allowed(c, LANG_EN, allowed, sizeof allowed);
		if (held > 0)
			snprintf(more, sizeof more, " (%lu refusals before it not logged)", held);
		log_warnx("control: refused uid %ld gid %ld pid %ld (allowed: %s): %s%s%s",
		          (long)k->peer.uid, (long)k->peer.gid, (long)k->peer.pid, allowed, safe,
		          len > 200 ? "..." : "", more);
	}
	return CONTROL_DENIED;
}

/* The request is complete: run it (if the peer may) and start the reply. */
static void conn_run(struct control *c, struct conn *k, size_t len, int too_long)
{
	int st;

	buf_init(&k->out, CONTROL_MAX_REPLY);
	buf_puts(&k->out, "0\n");
	if (!k->allowed) {
		st = conn_deny(c, k, k->in, too_long ? CONTROL_MAX_REQUEST : len);
	} else if (too_long) {
		st = 2;
		buf_printf(&k->out, "request longer than %d bytes\n", CONTROL_MAX_REQUEST);
	} else {
		k->in[len] = '\0';
		st = c->fn(c->ctx, &k->peer, k->in, len, &k->out);
	}
	if (k->out.overflow) {
		buf_reset(&k->out);
		buf_puts(&k->out, "1\nreply too large\n");
	} else {
		k->out.data[0] = (char)('0' + (st >= 0 && st <= 9 ? st : 1));
	}
	k->writing = 1;
}

/* Read what is there; returns 1 if the connection should be closed now. */
static int conn_read(struct control *c, struct conn *k)
{
	for (;;) {
		size_t room = CONTROL_MAX_REQUEST - k->inlen;
		char *nl;
		ssize_t n;

		if (room == 0) {
			conn_run(c, k, 0, 1);
			return 0;
		}
		n = recv(k->fd, k->in + k->inlen, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return 1;
		if (n == 0) {
			/* End of the request without a newline: the line is what came. */
			if (k->inlen == 0)
				return 1;
			conn_run(c, k, k->inlen, 0);
			return 0;
		}
		nl = memchr(k->in + k->inlen, '\n', (size_t)n);
		k->inlen += (size_t)n;
		if (nl != NULL) {
			size_t len = (size_t)(nl - k->in);

			if (len > 0 && k->in[len - 1] == '\r')
				len--;
			conn_run(c, k, len, 0);
			return 0;
		}
	}
}

/*
 * After the reply: discard whatever the client still sends (an over-long
 * request, a second line) until it closes.  Closing with unread input
 * would make the kernel reset the connection, and the client could lose
 * the reply it had not read yet.  Returns 1 when the client has closed.
 */
static int conn_drain(struct conn *k)
{
	char sink[1024];

	for (;;) {
		ssize_t n = recv(k->fd, sink, sizeof sink, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
	}
}

static void conn_event(struct control *c, size_t slot)
{
	struct conn *k = c->conns[slot];
	struct epoll_event ev;

	if (k->draining) {
		if (conn_drain(k))
			conn_close(c, slot);
		return;
	}
	if (!k->writing && conn_read(c, k)) {
		conn_close(c, slot);
		return;
	}
	if (!k->writing)
		return;
	memset(&ev, 0, sizeof ev);
	ev.data.ptr = k;
	if (conn_write(k)) {
		/* All sent: our side is done; wait for the client's end (bounded by the deadline).
		 */
		shutdown(k->fd, SHUT_WR);
		k->draining = 1;
		if (conn_drain(k)) {
			conn_close(c, slot);
			return;
		}
		ev.events = EPOLLIN;
		epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
		return;
	}
	ev.events = EPOLLOUT;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/*
 * Is the peer on fd one of the group's members?  Its primary gid, then
 * its supplementary groups as the kernel saw them when it connected
 * (SO_PEERGROUPS), not as /etc/group says now.
 */
static int peer_in_group(int fd, const struct control_peer *peer, gid_t group)
{
	gid_t few[64], *list = few;
	socklen_t len = sizeof few;
	size_t i;
	int found = 0;

	if (peer->gid == group)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, list, &len) < 0) {
		if (errno != ERANGE)
			return 0;
		list = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, list, &len) < 0) {
			free(list);
			return 0;
		}
	}
	for (i = 0; i < len / sizeof *list; i++)
		if (list[i] == group)
			found = 1;
	if (list != few)
		free(list);
	return found;
}

/* May the peer on fd use the socket?  Root always; our own uid and the group as configured. */
static int peer_allowed(const struct control *c, int fd, const struct control_peer *peer)
{
	if (peer->uid == (uid_t)-1)
		return 0; /* unknown: SO_PEERCRED failed */
	if (peer->uid == 0)
		return 1;
	if (c->cfg.allow_self && peer->uid == geteuid())
		return 1;
	return c->cfg.group != (gid_t)-1 && peer_in_group(fd, peer, c->cfg.group);
}

static void accept_all(struct control *c, uint64_t now)
{
	static const char busy[] = "1\ntoo many control connections; try again\n";
	struct epoll_event ev;
	struct ucred cred;
	socklen_t clen;
	size_t slot;
	int fd;

	for (;;) {
		fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("control socket: accept");
			return;
		}
		for (slot = 0; slot < CONTROL_MAX_CLIENTS && c->conns[slot] != NULL; slot++)
			;
		if (slot == CONTROL_MAX_CLIENTS) {
			/* Best effort: it is turned away whether or not this gets through. */
			(void)send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->conns[slot] = xcalloc(1, sizeof *c->conns[slot]);
		c->conns[slot]->fd = fd;
		c->conns[slot]->deadline = now + CONTROL_TIMEOUT_MS;
		memset(&cred, 0, sizeof cred);
		clen = sizeof cred;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
			c->conns[slot]->peer.pid = cred.pid;
			c->conns[slot]->peer.uid = cred.uid;
			c->conns[slot]->peer.gid = cred.gid;
		} else {
			c->conns[slot]->peer.uid = (uid_t)-1;
			c->conns[slot]->peer.gid = (gid_t)-1;
		}
		c->conns[slot]->allowed = peer_allowed(c, fd, &c->conns[slot]->peer);
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.ptr = c->conns[slot];
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("control socket: epoll_ctl");
			conn_close(c, slot);
		}
	}
}

void control_run(struct control *c, uint64_t now)
{
	struct epoll_event evs[CONTROL_MAX_CLIENTS + 1];
	size_t slot;
	int i, n;

	c->now = now;
	n = epoll_wait(c->epfd, evs, CONTROL_MAX_CLIENTS + 1, 0);
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL) {
			accept_all(c, now);
			continue;
		}
		/* The connection may have been closed by an earlier event of this batch. */
		for (slot = 0; slot < CONTROL_MAX_CLIENTS; slot++)
			if (c->conns[slot] == evs[i].data.ptr)
				break;
		if (slot < CONTROL_MAX_CLIENTS)
			conn_event(c, slot);
	}
}

void control_tick(struct control *c, uint64_t now)
{
	size_t slot;

	for (slot = 0; slot < CONTROL_MAX_CLIENTS; slot++)
		if (c->conns[slot] != NULL && now >= c->conns[slot]->deadline)
			conn_close(c, slot);
}

int control_close(struct control *c, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	size_t slot;
	int rc = 0;

	if (c == NULL)
		return 0;
	for (slot = 0; slot < CONTROL_MAX_CLIENTS; slot++) {
		struct conn *k = c->conns[slot];

		if (k == NULL)
			continue;
		/* A reply still going out (say, to "shutdown") gets one bounded, blocking try. */
		if (k->writing && !k->draining) {
			int flags = fcntl(k->fd, F_GETFL);

			if (flags >= 0 && fcntl(k->fd, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
			    setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0)
				conn_write(k);
		}
		conn_close(c, slot);
	}
	if (c->listen_fd >= 0) {
		/*
		 * Unlink while still listening: a newcomer probing the path
		 * meanwhile finds us alive and backs off, instead of taking the
		 * path over just before we remove it from under it.
		 */
		if (unlink(c->path) < 0 && errno != ENOENT) {
			if (err != NULL)
				snprintf(err, errlen, "remove %s: %s", c->path, strerror(errno));
			rc = -1;
		}
		close(c->listen_fd);
	}
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->path);
	free(c);
	return rc;
}
