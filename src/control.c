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

#include "log.h"

struct conn {
	int fd;
	struct control_peer peer;
	char in[CONTROL_MAX_REQUEST + 1];
	size_t inlen;
	struct buf out; /* status line and body, once the request has run */
	size_t sent;
	int writing;  /* the request has run: sending the reply */
	int draining; /* the reply is out: reading what is left until the client closes */
	uint64_t deadline;
};

struct control {
	int listen_fd, epfd;
	char *path;
	control_fn fn;
	void *ctx;
	struct conn *conns[CONTROL_MAX_CLIENTS];
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

int control_open(struct control **out, const char *path, control_fn fn, void *ctx, char *err,
                 size_t errlen)
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
	if (chown(c->path, uid, gid) < 0) {
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

/* The request is complete: run it and start the reply. */
static void conn_run(struct control *c, struct conn *k, size_t len, int too_long)
{
	int st;

	buf_init(&k->out, CONTROL_MAX_REPLY);
	buf_puts(&k->out, "0\n");
	if (too_long) {
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
