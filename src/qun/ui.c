/* ui.c - qun's UI process: one poll loop over signals, the network process and the keyboard. */
#include "ui.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/text.h"
#include "ipc.h"
#include "members.h"
#include "render.h"

/*
 * ms the network process has to end after QUIT, counted from when we last
 * handled something it sent: it may still be emptying its queue of the
 * room's lines into a UI that shows them slowly (a slow reader of our
 * output), and uilink_exited waits for us the same way.  It gives up on
 * the server itself at about 3 s (v1) or 4 s (v2).
 */
#define QUIT_WAIT 5000
/* ms it has in all after QUIT, however much it still sends */
#define QUIT_LIMIT 60000
/* ms it has to end after saying EXITED */
#define EXIT_WAIT 2000

/* The UI's state; one, owned by ui_run. */
struct ui {
	const struct ui_config *cfg;
	struct term *term;
	struct render_style style;
	struct members members; /* who we know is in the room: for completion */
	int quitting;           /* QUIT sent */
	int input_done;         /* stdin ended or the terminal hung up: read no more */
	int ipc_closed;         /* the network process closed its end */
	uint64_t deadline;      /* ms (monotonic) by which the child must be gone; 0: none */
	uint64_t quit_limit;    /* ms: QUIT's deadline is never put past this */
	int exited;             /* EXITED came, with how */
	enum ipc_exit how;
	int reaped, killed;
	unsigned who_shown; /* /who answers the user is waiting to see */
	int reconnecting;
	/*
	 * Flow control towards the network process: a request the socketpair
	 * had no room for waits here, input is not read until it is out, and
	 * a QUIT asked for meanwhile follows it.  Nothing typed is dropped.
	 */
	size_t pending_len; /* 0: nothing waiting */
	int quit_pending;
	unsigned char pending[IPC_MAX];
};

static unsigned char msgbuf[IPC_MAX];
static char screen[4 * IPC_MAX + 256];
static char text[MEMBERS_MAX * (QUN_MAX_NAME + 4) + 1024];

/* Show a line: time-stamped, coloured and made safe by render_line(). */
static void show(struct ui *u, enum ipc_line_kind kind, unsigned flags, const char *name,
                 size_t name_len, unsigned name_at, const char *s, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	const struct tm *when = localtime_r(&now, &tm);

	render_line(screen, sizeof screen, &u->style, when, kind, flags, name, name_len, name_at, s,
	            len);
	term_print(u->term, screen, kind == IPC_LINE_ERROR);
}

/* Show one of our own texts, its placeholders filled. */
static void show_text(struct ui *u, enum ipc_line_kind kind, enum ui_text t, const char *a,
                      const char *b)
{
	ui_format(text, sizeof text, ui_text(u->cfg->lang, t), a, b);
	show(u, kind, 0, NULL, 0, IPC_NO_NAME_AT, text, strlen(text));
}

/*
 * Try to send one request now.  Returns 0 when it is out (or can never go:
 * the network process is gone, and SIGCHLD tells the rest), -1 when the
 * socketpair is full and it must wait for POLLOUT.
 */
static int send_now(struct ui *u, const unsigned char *msg, size_t len)
{
	ssize_t n;

	do
		n = send(u->cfg->ipc, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? -1 : 0;
}

/*
 * Send a request to the network process without blocking.  When the
 * socketpair is full the request waits in u->pending and the main loop
 * stops reading input until it is out (flush_pending), so the only request
 * that can arrive meanwhile is a QUIT (a signal, the end of input): it is
 * remembered and sent next.
 */
static void request(struct ui *u, enum ipc_type type, const char *s, size_t len)
{
	int n;

	if (u->ipc_closed)
		return;
	if (u->pending_len > 0) {
		if (type == IPC_QUIT)
			u->quit_pending = 1;
		return;
	}
	n = ipc_encode_request(msgbuf, sizeof msgbuf, type, s, len);
	if (n <= 0 || send_now(u, msgbuf, (size_t)n) == 0)
		return;
	memcpy(u->pending, msgbuf, (size_t)n);
	u->pending_len = (size_t)n;
}

static void request_quit(struct ui *u)
{
	uint64_t now = now_ms();

	if (u->quitting)
		return;
	u->quitting = 1;
	u->deadline = now + QUIT_WAIT;
	u->quit_limit = now + QUIT_LIMIT;
	request(u, IPC_QUIT, NULL, 0);
}

/* Whether line is the command cmd, alone or followed only by spaces. */
static int is_cmd(const char *line, const char *cmd)
{
	size_t n = strlen(cmd);

	if (strncmp(line, cmd, n) != 0)
		return 0;
	line += n;
	while (*line == ' ')
		line++;
	return *line == '\0';
}

/*
 * Say text (SAY or ME) if it passes the text rules with the session's
 * length limit; otherwise refuse it here and now, before anything typed
 * after it is sent.  The network process checks again.
 */
static void say(struct ui *u, enum ipc_type type, const char *s, size_t len)
{
	enum text_status ts = text_check_max(s, len, u->cfg->max_text);
	char have[32], limit[32];

	if (ts == TEXT_TOO_LONG) {
		snprintf(have, sizeof have, "%zu", len);
		snprintf(limit, sizeof limit, "%zu", u->cfg->max_text);
		show_text(u, IPC_LINE_ERROR, UI_TOO_LONG, have, limit);
	} else if (ts != TEXT_OK) {
		show_text(u, IPC_LINE_ERROR, UI_BAD_INPUT,
		          qerr_text(u->cfg->lang, QERR_TEXT_INVALID, (int)ts), NULL);
	} else {
		request(u, type, s, len);
	}
}

/* One line the user entered: a command, or chat for the network process to send. */
static void on_line(struct ui *u, const char *line, size_t len)
{
	term_history_add(u->term, line);
	if (len == 0)
		return;
	if (is_cmd(line, "/quit") || is_cmd(line, "quit")) {
		request_quit(u);
	} else if (is_cmd(line, "/help")) {
		show_text(u, IPC_LINE_NOTICE, UI_HELP, NULL, NULL);
	} else if (is_cmd(line, "/who")) {
		u->who_shown++;
		request(u, IPC_ASK_WHO, NULL, 0);
	} else if (strncmp(line, "/me", 3) == 0 && (line[3] == '\0' || line[3] == ' ')) {
		const char *action = line[3] == ' ' ? line + 4 : line + 3;

		if (*action == '\0')
			show_text(u, IPC_LINE_ERROR, UI_ME_USAGE, NULL, NULL);
		else
			say(u, IPC_ME, action, strlen(action));
	} else if (line[0] == '/' && line[1] == '/') {
		say(u, IPC_SAY, line + 1, len - 1); /* "//x" says "/x" */
	} else if (line[0] == '/') {
		char cmd[64];
		size_t n = strcspn(line, " ");

		/* Never sent as chat: a mistyped command must not reach the room. */
		snprintf(cmd, sizeof cmd, "%.*s", (int)(n < 48 ? n : 48), line);
		show_text(u, IPC_LINE_ERROR, UI_UNKNOWN_CMD, cmd, NULL);
	} else {
		say(u, IPC_SAY, line, len);
	}
}

static void on_input(struct ui *u, int can_read)
{
	static char line[TERM_INPUT_MAX + 1];
	enum term_input r;
	size_t len;

	while ((r = term_read(u->term, can_read, line, sizeof line, &len)) != TERM_NONE) {
		can_read = 0;
		if (r == TERM_GOT_LINE) {
			on_line(u, line, len);
		} else if (r == TERM_OVERLONG) {
			show_text(u, IPC_LINE_ERROR, UI_BAD_INPUT,
			          qerr_text(u->cfg->lang, QERR_TEXT_INVALID, TEXT_TOO_LONG), NULL);
		} else {
			/* End of input: Ctrl-D, or the pipe closed.  Leave, as /quit does. */
			u->input_done = 1;
			request_quit(u);
			return;
		}
		if (u->quitting || u->pending_len > 0)
			return; /* the rest stays buffered in the terminal until the request is out
			         */
	}
}

/* The socketpair has room again: send what waited, then the lines typed meanwhile. */
static void flush_pending(struct ui *u)
{
	if (u->pending_len == 0 || send_now(u, u->pending, u->pending_len) < 0)
		return;
	u->pending_len = 0;
	if (u->quit_pending) {
		u->quit_pending = 0;
		request(u, IPC_QUIT, NULL, 0);
	}
	if (!u->quitting && !u->input_done && u->pending_len == 0)
		on_input(u, 0);
}

/* The /who answer: it refreshes what completion knows, and is shown if the user asked. */
static void on_who(struct ui *u, const struct ipc_msg *m)
{
	static struct members got;
	static char names[MEMBERS_MAX * (QUN_MAX_NAME + 4) + 1];
	const char *name, *sep = u->cfg->lang == LANG_ZH ? "、" : ", ";
	char count[32];
	size_t pos = 0, len, i, o = 0;

	members_clear(&got);
	while (ipc_who_next(m, &pos, &name, &len))
		members_add(&got, name, len);
	if (m->who_status == IPC_WHO_COMPLETE)
		memcpy(&u->members, &got, sizeof got);
	else
		for (i = 0; i < got.count; i++)
			members_add(&u->members, got.name[i], strlen(got.name[i]));
	if (u->who_shown == 0)
		return;
	u->who_shown--;
	if (m->who_status == IPC_WHO_NO_REPLY) {
		show_text(u, IPC_LINE_ERROR, UI_WHO_NO_REPLY, NULL, NULL);
		return;
	}
	names[0] = '\0';
	for (i = 0; i < got.count; i++) {
		int n =
		    snprintf(names + o, sizeof names - o, "%s%s", i > 0 ? sep : "", got.name[i]);

		if (n < 0 || (size_t)n >= sizeof names - o)
			break;
		o += (size_t)n;
	}
	snprintf(count, sizeof count, "%lu", (unsigned long)m->total);
	show_text(u, IPC_LINE_NOTICE, m->who_status == IPC_WHO_COMPLETE ? UI_WHO : UI_WHO_PARTIAL,
	          count, names);
}

static void on_event(struct ui *u, const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_LINE:
		switch (m->kind) {
		case IPC_LINE_JOIN:
			members_add(&u->members, m->name, m->name_len);
			break;
		case IPC_LINE_LEAVE:
		case IPC_LINE_TIMEOUT:
		case IPC_LINE_KICK:
			members_remove(&u->members, m->name, m->name_len);
			break;
		case IPC_LINE_CHAT:
		case IPC_LINE_ACTION:
			if (m->name_len > 0)
				members_add(&u->members, m->name, m->name_len);
			break;
		default:
			break;
		}
		/* Plain mode shows the room's lines only: one line in, one line out. */
		if (u->cfg->mode == TERM_PLAIN && (m->flags & IPC_LINE_SELF))
			break;
		show(u, m->kind, m->flags, m->name, m->name_len, m->name_at, m->text, m->text_len);
		break;
	case IPC_WHO:
		on_who(u, m);
		break;
	case IPC_STATE:
		if (m->state == IPC_RECONNECTING && !u->reconnecting)
			show_text(u, IPC_LINE_NOTICE, UI_RECONNECTING, NULL, NULL);
		else if (m->state == IPC_CONNECTED && u->reconnecting)
			show_text(u, IPC_LINE_NOTICE, UI_RECONNECTED, NULL, NULL);
		else if (m->state == IPC_CLOSED)
			show_text(u, IPC_LINE_NOTICE, UI_SERVER_CLOSED, NULL, NULL);
		u->reconnecting = m->state == IPC_RECONNECTING;
		break;
	case IPC_EXITED:
		u->exited = 1;
		u->how = m->how;
		if (u->deadline == 0 || u->deadline > now_ms() + EXIT_WAIT)
			u->deadline = now_ms() + EXIT_WAIT;
		break;
	default:
		break; /* a request type: not for us */
	}
}

/*
 * What the network process has sent: IPC_BATCH messages at most, so a
 * flood of them does not keep the keyboard and signals waiting; the rest
 * is read next round.  Once the child is reaped there is no next round:
 * then everything, for what it said last (EXITED) is there.  Returns how
 * many messages came.
 */
static int on_ipc(struct ui *u)
{
	struct ipc_msg m;
	ssize_t n;
	int i, got = 0;

	for (i = 0; !u->ipc_closed && (u->reaped || i < IPC_BATCH); i++) {
		n = recv(u->cfg->ipc, msgbuf, sizeof msgbuf, MSG_DONTWAIT);
		/*
		 * ECONNRESET: the child ended with a request of ours unread.
		 * Linux reports that once, ahead of the messages it sent
		 * before it ended, which are still there to read.
		 */
		if (n < 0 && (errno == EINTR || errno == ECONNRESET))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			u->ipc_closed = 1; /* it is ending: SIGCHLD tells the rest */
			break;
		}
		got++;
		if (ipc_decode(msgbuf, (size_t)n, &m) == IPC_OK)
			on_event(u, &m);
	}
	return got;
}

/* Reap the network process if it has ended (or wait for it, with block). */
static void reap(struct ui *u, int block)
{
	int status;
	pid_t r;

	if (u->reaped)
		return;
	do
		r = waitpid(u->cfg->child, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == u->cfg->child || (r < 0 && errno == ECHILD))
		u->reaped = 1;
}

/* Ctrl-Z: put the terminal back and stop, the network process with us; carry on at SIGCONT. */
static void suspend(struct ui *u)
{
	term_suspend(u->term);
	kill(u->cfg->child, SIGSTOP);
	raise(SIGSTOP);
	/* cppcheck-suppress unreachableCode ; raise(SIGSTOP) returns when SIGCONT resumes us */
	kill(u->cfg->child, SIGCONT);
	term_resume(u->term);
}

static void on_signal(struct ui *u)
{
	struct signalfd_siginfo si;

	while (read(u->cfg->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(u, 0);
			break;
		case SIGWINCH:
			term_resize(u->term);
			break;
		case SIGTSTP:
			suspend(u);
			break;
		case SIGHUP:
			u->input_done = 1; /* the terminal is gone */
			request_quit(u);
			break;
		default: /* SIGINT, SIGTERM, SIGQUIT */
			request_quit(u);
			break;
		}
	}
}

/* Tab: complete a command at the start of the line, or a member's name. */
static int complete(void *arg, const char *word, size_t len, int line_start, char *repl,
                    size_t replsz, char *shown, size_t showsz)
{
	static const char *const cmds[] = {"/help", "/me", "/quit", "/who"};
	static const char *matches[MEMBERS_MAX];
	struct ui *u = arg;
	char common[QUN_MAX_NAME + 1];
	size_t n = 0, i, o = 0;

	if (line_start && len > 0 && word[0] == '/') {
		for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			if (strncmp(cmds[i], word, len) == 0)
				matches[n++] = cmds[i];
		if (n == 1)
			snprintf(repl, replsz, "%s ", matches[0]);
	} else {
		n = members_complete(&u->members, word, len, matches, MEMBERS_MAX, common,
		                     sizeof common);
		if (n == 1)
			snprintf(repl, replsz, "%s%s", matches[0], line_start ? ": " : " ");
		else if (n > 1 && strlen(common) > len) {
			snprintf(repl, replsz, "%s", common);
			return TERM_COMPLETE_REPLACE;
		}
	}
	if (n == 0)
		return 0;
	if (n == 1)
		return TERM_COMPLETE_REPLACE;
	/* Several, and nothing more in common: show them.  Names passed the name rules: safe. */
	shown[0] = '\0';
	for (i = 0; i < n && i < MEMBERS_MAX; i++) {
		int k = snprintf(shown + o, showsz - o, "%s%s", i > 0 ? "  " : "", matches[i]);

		if (k < 0 || (size_t)k >= showsz - o)
			break;
		o += (size_t)k;
	}
	return TERM_COMPLETE_SHOW;
}

static int use_colour(enum term_mode mode)
{
	const char *no = getenv("NO_COLOR");

	/* https://no-color.org: set and not empty means no colour. */
	return mode == TERM_TUI && (no == NULL || *no == '\0');
}

/* The exit status and the last words, once the network process is gone. */
static int finish(struct ui *u)
{
	FILE *out = stdout;
	enum ui_text t = UI_LEFT;
	int status = 0;

	if (!u->exited || u->killed) {
		/* It died without its goodbye (or we had to kill it): say it for it. */
		if (u->cfg->farewell != NULL)
			u->cfg->farewell(u->cfg->farewell_ctx);
		t = u->quitting ? UI_QUIT_UNCONFIRMED : UI_NET_DIED;
		out = stderr;
		status = 1;
	} else if (u->how == IPC_EXIT_UNCONFIRMED) {
		t = UI_QUIT_UNCONFIRMED;
		out = stderr;
		status = 1;
	}
	ui_format(text, sizeof text, ui_text(u->cfg->lang, t), NULL, NULL);
	fprintf(out, "%s\n", text);
	fflush(out);
	return status;
}

int ui_run(const struct ui_config *cfg)
{
	static struct ui u;
	char hist[4096];
	struct pollfd p[3];
	uint64_t now;
	int n, timeout, more, got;

	memset(&u, 0, sizeof u);
	u.cfg = cfg;
	u.term = term_open(cfg->mode, term_history_path(hist, sizeof hist) == 0 ? hist : NULL,
	                   complete, &u);
	u.style.colour = use_colour(term_mode(u.term));
	u.style.decorate = term_mode(u.term) != TERM_PLAIN;
	/* Ask who is here, quietly: completion knows the room from the start. */
	request(&u, IPC_ASK_WHO, NULL, 0);

	while (!u.reaped) {
		now = now_ms();
		if (u.deadline != 0 && now >= u.deadline) {
			kill(cfg->child, SIGKILL);
			u.killed = 1;
			reap(&u, 1);
			break;
		}
		timeout = u.deadline != 0 ? (int)(u.deadline - now) : -1;
		/* Keys or lines already read (a long paste) go on without waiting for more. */
		more = !u.input_done && !u.quitting && u.pending_len == 0 && term_pending(u.term);
		if (more)
			timeout = 0;
		p[0] = (struct pollfd){.fd = cfg->sigfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = u.ipc_closed ? -1 : cfg->ipc,
		                       .events = POLLIN | (u.pending_len > 0 ? POLLOUT : 0)};
		p[2] = (struct pollfd){
		    .fd = u.input_done || u.quitting || u.pending_len > 0 ? -1 : STDIN_FILENO,
		    .events = POLLIN};
		n = poll(p, 3, timeout);
		if (n < 0) {
			if (errno != EINTR)
				request_quit(&u);
			continue;
		}
		/* n == 0 (the timeout, or `more`): every revents is 0, only `more` acts below. */
		if (p[0].revents & POLLIN)
			on_signal(&u);
		/* After a reap too: what the child said before it ended is still in the socket. */
		got = 0;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR) || u.reaped)
			got = on_ipc(&u);
		if (p[1].revents & POLLOUT)
			flush_pending(&u);
		if (!u.reaped && !u.quitting && !u.input_done &&
		    p[2].revents & (POLLIN | POLLHUP | POLLERR))
			on_input(&u, 1);
		else if (more && !u.reaped && !u.quitting && !u.input_done && u.pending_len == 0)
			on_input(&u, 0);
		term_show(u.term);
		if (term_output_failed(u.term) && !u.input_done) {
			u.input_done = 1; /* nobody reads what the room says: leave */
			request_quit(&u);
		}
		/* Shown what it sent after QUIT: it is emptying its queue into us, not hung. */
		if (got > 0 && u.quitting && !u.exited) {
			now = now_ms() + QUIT_WAIT;
			u.deadline = now < u.quit_limit ? now : u.quit_limit;
		}
	}
	term_close(u.term);
	return finish(&u);
}
