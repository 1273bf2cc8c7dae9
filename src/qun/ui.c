/* ui.c - qun's UI process: one poll loop over signals, the network process and the keyboard. */
#include "ui.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
/*
 * Rooms the UI keeps for completion (as many as a member may be in: qund's
 * --max-rooms-per-member is at most 1000), and a room's name's size.
 */
#define UI_ROOMS_MAX 1024
#define UI_ROOM_SIZE (QUN_MAX_NAME + 2)

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
	/* The rooms we are in (ROOMS events), for completion; valid names only. */
	char rooms[UI_ROOMS_MAX][UI_ROOM_SIZE];
	size_t nrooms;
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
 * Send the request encoded in msgbuf (n bytes; nothing if n <= 0) to the
 * network process without blocking.  When the socketpair is full the
 * request waits in u->pending and the main loop stops reading input until
 * it is out (flush_pending), so the only request that can arrive meanwhile
 * is a QUIT (a signal, the end of input): request() remembers it, and it
 * is sent next.
 */
static void request_encoded(struct ui *u, int n)
{
	if (u->ipc_closed || u->pending_len > 0 || n <= 0 || send_now(u, msgbuf, (size_t)n) == 0)
		return;
	memcpy(u->pending, msgbuf, (size_t)n);
	u->pending_len = (size_t)n;
}

/* A request of ipc_encode_request()'s kinds. */
static void request(struct ui *u, enum ipc_type type, const char *s, size_t len)
{
	if (u->ipc_closed)
		return;
	if (u->pending_len > 0) {
		if (type == IPC_QUIT)
			u->quit_pending = 1;
		return;
	}
	request_encoded(u, ipc_encode_request(msgbuf, sizeof msgbuf, type, s, len));
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
 * Whether line is the command cmd, alone or followed by a space; *arg is
 * then what follows, spaces skipped.
 */
static int cmd_arg(const char *line, const char *cmd, const char **arg)
{
	size_t n = strlen(cmd);

	if (strncmp(line, cmd, n) != 0 || (line[n] != '\0' && line[n] != ' '))
		return 0;
	line += n;
	while (*line == ' ')
		line++;
	*arg = line;
	return 1;
}

/* The length of arg without the spaces at its end; *words is how many words it has. */
static size_t trim_arg(const char *arg, int *words)
{
	size_t n = strlen(arg), i;

	while (n > 0 && arg[n - 1] == ' ')
		n--;
	*words = n > 0;
	for (i = 0; i < n; i++)
		if (arg[i] == ' ' && arg[i + 1] != ' ')
			(*words)++;
	return n;
}

/*
 * /join, /part, /who with a room: a room's name ('#' added when the user
 * left it out, as qun(1) says), or none; at most one word.  Returns 0,
 * or -1 (usage) if there are more words or the name is too long.
 */
static int room_arg(const char *arg, char *room, size_t size)
{
	int words, k;
	size_t n = trim_arg(arg, &words);

	room[0] = '\0';
	if (words == 0)
		return 0;
	if (words > 1)
		return -1;
	k = snprintf(room, size, "%s%.*s", arg[0] == '#' ? "" : "#", (int)n, arg);
	return k < 0 || (size_t)k >= size ? -1 : 0;
}

/* /msg NAME TEXT: the name is the first word, the text the rest as typed. */
static void tell(struct ui *u, const char *arg)
{
	size_t name_len = strcspn(arg, " ");
	const char *s = arg + name_len;

	while (*s == ' ')
		s++;
	if (name_len == 0 || *s == '\0') {
		show_text(u, IPC_LINE_ERROR, UI_MSG_USAGE, NULL, NULL);
		return;
	}
	if (u->ipc_closed || u->pending_len > 0)
		return;
	request_encoded(u, ipc_encode_tell(msgbuf, sizeof msgbuf, arg, name_len, s, strlen(s)));
}

/* The commands of rooms and private messages; returns 0 if line is none of them. */
static int room_command(struct ui *u, const char *line)
{
	char room[256];
	const char *arg;
	int words;

	if (cmd_arg(line, "/join", &arg)) {
		if (room_arg(arg, room, sizeof room) < 0 || room[0] == '\0')
			show_text(u, IPC_LINE_ERROR, UI_JOIN_USAGE, NULL, NULL);
		else
			request(u, IPC_JOIN, room, strlen(room));
	} else if (cmd_arg(line, "/part", &arg)) {
		if (room_arg(arg, room, sizeof room) < 0)
			show_text(u, IPC_LINE_ERROR, UI_PART_USAGE, NULL, NULL);
		else
			request(u, IPC_PART, room, strlen(room));
	} else if (cmd_arg(line, "/who", &arg)) {
		if (room_arg(arg, room, sizeof room) < 0) {
			show_text(u, IPC_LINE_ERROR, UI_WHO_USAGE, NULL, NULL);
		} else {
			u->who_shown++;
			request(u, IPC_ASK_WHO, room, strlen(room));
		}
	} else if (cmd_arg(line, "/rooms", &arg)) {
		size_t n = trim_arg(arg, &words);

		if (words == 0 || (n == 3 && strncmp(arg, "all", 3) == 0)) {
			if (!u->ipc_closed && u->pending_len == 0)
				request_encoded(
				    u, ipc_encode_list_rooms(msgbuf, sizeof msgbuf, words > 0));
		} else {
			show_text(u, IPC_LINE_ERROR, UI_ROOMS_USAGE, NULL, NULL);
		}
	} else if (cmd_arg(line, "/history", &arg)) {
		size_t n = trim_arg(arg, &words), k;
		unsigned long v = 0;

		for (k = 0; k < n && arg[k] >= '0' && arg[k] <= '9' && v <= IPC_HISTORY_MAX; k++)
			v = v * 10 + (unsigned long)(arg[k] - '0');
		if (words > 1 || k < n || (n > 0 && (v < 1 || v > IPC_HISTORY_MAX)))
			show_text(u, IPC_LINE_ERROR, UI_HISTORY_USAGE, NULL, NULL);
		else
			request(u, IPC_HISTORY, arg, n);
	} else if (cmd_arg(line, "/search", &arg)) {
		size_t n = trim_arg(arg, &words);

		if (words == 0 || n > IPC_SEARCH_MAX)
			show_text(u, IPC_LINE_ERROR, UI_SEARCH_USAGE, NULL, NULL);
		else
			request(u, IPC_SEARCH, arg, n);
	} else if (cmd_arg(line, "/msg", &arg)) {
		tell(u, arg);
	} else if (cmd_arg(line, "/r", &arg)) {
		if (*arg == '\0')
			show_text(u, IPC_LINE_ERROR, UI_REPLY_USAGE, NULL, NULL);
		else
			request(u, IPC_REPLY, arg, strlen(arg));
	} else {
		return 0;
	}
	return 1;
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
	} else if (room_command(u, line)) {
		/* done */
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
	/* Completion knows the default room's members whole; another room's add to them. */
	if (m->who_status == IPC_WHO_COMPLETE && m->name_len == 0)
		memcpy(&u->members, &got, sizeof got);
	else
		for (i = 0; i < got.count; i++)
			members_add(&u->members, got.name[i], strlen(got.name[i]));
	if (u->who_shown == 0)
		return;
	u->who_shown--;
	if (m->who_status == IPC_WHO_REFUSED)
		return; /* a line said why */
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
	/* Another room's list is marked with the room, as its lines are: "[#dev] 3 online: ..." */
	o = 0;
	if (m->name_len > 0 && m->name_len < UI_ROOM_SIZE)
		o = (size_t)snprintf(text, sizeof text, "[%.*s] ", (int)m->name_len, m->name);
	ui_format(
	    text + o, sizeof text - o,
	    ui_text(u->cfg->lang, m->who_status == IPC_WHO_COMPLETE ? UI_WHO : UI_WHO_PARTIAL),
	    count, names);
	show(u, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT, text, strlen(text));
}

/*
 * ROOMS: the prompt shows the current room (the default room keeps the
 * prompt of before rooms, "> "), and completion knows the rooms' names.
 * Only names that pass the room rules are kept or shown.
 */
static void on_rooms(struct ui *u, const struct ipc_msg *m)
{
	char prompt[4 * UI_ROOM_SIZE + 8];
	const char *name;
	size_t pos = 0, len, o;

	u->nrooms = 0;
	while (ipc_who_next(m, &pos, &name, &len) && u->nrooms < UI_ROOMS_MAX)
		if (len >= 2 && len < UI_ROOM_SIZE && name[0] == '#' &&
		    name_check(name + 1, len - 1) == NAME_OK) {
			memcpy(u->rooms[u->nrooms], name, len);
			u->rooms[u->nrooms++][len] = '\0';
		}
	if ((m->flags & IPC_ROOMS_DEFAULT) || m->name_len == 0 || m->name_len >= UI_ROOM_SIZE) {
		term_set_prompt(u->term, NULL);
		return;
	}
	o = text_sanitize(m->name, m->name_len, prompt, sizeof prompt - 3);
	memcpy(prompt + o, "> ", 3);
	term_set_prompt(u->term, prompt);
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
	case IPC_ROOMS:
		on_rooms(u, m);
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

/*
 * The rooms whose names start with word[0..len) (ASCII letters without
 * case, as names are compared): up to max in matches, their longest
 * common prefix (cut at a whole UTF-8 character) in common.  Returns how
 * many.
 */
static size_t rooms_complete(const struct ui *u, const char *word, size_t len, const char **matches,
                             size_t max, char *common, size_t size)
{
	size_t n = 0, i, k;

	common[0] = '\0';
	for (i = 0; i < u->nrooms; i++) {
		if (strlen(u->rooms[i]) < len || strncasecmp(u->rooms[i], word, len) != 0)
			continue;
		if (n == 0) {
			snprintf(common, size, "%s", u->rooms[i]);
		} else {
			for (k = 0; common[k] != '\0' && common[k] == u->rooms[i][k]; k++)
				;
			while (k > 0 && ((unsigned char)common[k] & 0xC0) == 0x80)
				k--; /* not inside a character */
			common[k] = '\0';
		}
		if (n < max)
			matches[n] = u->rooms[i];
		n++;
	}
	return n;
}

/* Tab: complete a command at the start of the line, a room's name (#...), or a member's. */
static int complete(void *arg, const char *word, size_t len, int line_start, char *repl,
                    size_t replsz, char *shown, size_t showsz)
{
	static const char *const cmds[] = {"/help",  "/history", "/join", "/me",
	                                   "/msg",   "/part",    "/quit", "/r",
	                                   "/rooms", "/search",  "/who"};
	static const char *matches[MEMBERS_MAX];
	struct ui *u = arg;
	char common[QUN_MAX_NAME + 2];
	size_t n = 0, i, o = 0;

	if (len > 0 && word[0] == '#') {
		n = rooms_complete(u, word, len, matches, MEMBERS_MAX, common, sizeof common);
		if (n == 1)
			snprintf(repl, replsz, "%s ", matches[0]);
		else if (n > 1 && strlen(common) > len) {
			snprintf(repl, replsz, "%s", common);
			return TERM_COMPLETE_REPLACE;
		}
	} else if (line_start && len > 0 && word[0] == '/') {
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
