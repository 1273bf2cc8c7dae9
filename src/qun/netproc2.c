/* netproc2.c - qun's network side for protocol v2: drives the client2 engine, reports to the UI. */
#include "netproc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"
#include "proto/wire1.h"
#include "ipc.h"
#include "uilink.h"

#define QUIT_GRACE_MS 4000 /* how long we try to say goodbye once asked to leave */
/*
 * A /join or a /part waits for its answer (ROOM JOINED or PARTED, or a
 * refusing NOTICE) this long while online, at most: a new session may
 * hold it C2_REJOIN_WAIT behind the rooms it joins again.  Once we are
 * leaving, QUIT_PENDING_MS.
 */
#define PENDING_WAIT_MS (C2_REJOIN_WAIT + C2_WHO_WAIT)
#define QUIT_PENDING_MS 1000
#define HOLD_MAX        256               /* requests typed meanwhile, kept in order: at most */
#define HLINES_MAX      256               /* live lines held behind a join's history: at most */
#define HREQ_MAX        (C2_ASKS_MAX + 1) /* asks of history the engine has taken, at most */
#define SEARCH_LINES    50                /* lines one /search shows, at most */
#define PAGE_LINES      20                /* lines one /history shows by default */
_Static_assert(IPC_HISTORY_MAX == V2_HISTORY_MAX && IPC_SEARCH_MAX == C2_SEARCH_MAX,
               "the UI's bounds are not the engine's");

/* What an ask of history was for (the engine answers them in order: client2.h). */
enum hreq_kind {
	HREQ_JOIN,   /* the room's last lines, on joining it: its live lines wait */
	HREQ_PAGE,   /* /history: the lines before the oldest shown */
	HREQ_SEARCH, /* /search */
};

struct hreq {
	char room[C2_ROOM_NAME_MAX + 1]; /* JOIN PAGE: the room's name, "" for the default room */
	unsigned shown;                  /* lines of the answer shown so far */
	enum hreq_kind kind;
};

/* A live line held while its room's history is on its way (np2.hlines). */
struct hline {
	uint32_t room;
	enum room_event ev;
	char name[QUN_MAX_NAME + 1];
	size_t len;
	char text[];
};

/*
 * A request the UI sent while a /join or /part waited for its answer
 * (np2.held): it acts once the answer came, where the answer put the
 * user.  tag: the room a /join before it was to make current ("" if
 * none): a line for the current room goes there or nowhere.
 */
struct held {
	char tag[C2_ROOM_NAME_MAX + 1];
	size_t len;
	unsigned char msg[]; /* as the UI sent it (ipc.h) */
};

/*
 * The network process's state (and the engine's callbacks' context); one,
 * static.  The rooms of the session: which rooms we are in besides the
 * default room, with their ids, is the engine's table (c2.joined: it
 * keeps it to join them again in a new session, and one table cannot
 * disagree with itself); what is ours is the rest: the default room's
 * name and whether we are in it, the current room, and who wrote to us.
 */
struct np2 {
	struct net_session *s;
	struct uilink ui;
	int sigfd;
	uint64_t leave_by; /* ms: give up waiting for the server's goodbye; 0 while staying */
	int closed_reason; /* enum v2_close_reason, once the engine closed */
	char *reason;      /* during the login: where a refusal's reason goes */
	size_t reason_size;
	int in_lobby;                         /* we are in the default room */
	char lobby[C2_ROOM_NAME_MAX + 1];     /* its name, once a ROOM answer gave it; else "" */
	char current[C2_ROOM_NAME_MAX + 1];   /* where chat goes: a joined room, "" the default */
	char join_want[C2_ROOM_NAME_MAX + 1]; /* the room /join asked for: current once joined */
	char part_want[C2_ROOM_NAME_MAX + 1]; /* the room /part asked to leave */
	char who_room[C2_ROOM_NAME_MAX + 1]; /* the room the WHO in flight asks about, "" default */
	char last_from[QUN_MAX_NAME + 1];    /* who sent the last private message (for /r) */
	/*
	 * While join_want or part_want waits for its answer, what the UI
	 * sends waits here, oldest first (a line typed after "/join #dev" is
	 * for #dev, which is not current yet): release_held acts on it once
	 * the answer came, or pending_by passed.
	 */
	uint64_t pending_by; /* ms: the wait is given up; 0 until the loop starts its clock */
	struct held *held[HOLD_MAX];
	size_t nheld;
	char hold_tag[C2_ROOM_NAME_MAX + 1]; /* the tag of the next request held */
	int quit_wanted;                     /* the UI asked to leave: QUIT follows what is held */
	/*
	 * History: the asks the engine has taken, oldest first (each answered
	 * once, in order: cb_history_end), and the live lines of rooms whose
	 * history on joining is on its way, shown after it.
	 */
	struct hreq hreq[HREQ_MAX];
	size_t hreq_head, hreq_len;
	struct hline *hlines[HLINES_MAX];
	size_t nhlines;
	int lobby_history; /* the default room's history was asked for (once per run) */
};

static struct np2 np = {.in_lobby = 1};
static unsigned char msgbuf[IPC_MAX];
static char linebuf[V2_MAX_TEXT + 1024];

static void cb_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct np2 *n = ctx;

	(void)send(n->s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * The id of the current room, to tell its lines from others': V2_LOBBY
 * for the default room, 0 if we are not in it any more.  While a new
 * session joins it again its id is not known (0 or an old one: struct
 * c2_joined), and no line of it can come.
 */
static uint32_t current_id(const struct np2 *n)
{
	const struct c2 *c = &n->s->engine;
	int i;

	if (n->current[0] == '\0')
		return V2_LOBBY;
	i = c2_room_index(c, n->current);
	return i < 0 ? 0 : c->joined[i].id;
}

/*
 * Whether the current room is not ours any more (so it moves:
 * move_current).  A room being joined again is still ours.
 */
static int current_gone(const struct np2 *n)
{
	return n->current[0] != '\0' && c2_room_index(&n->s->engine, n->current) < 0;
}

/* Whether room (a valid name) is the current room. */
static int is_current(const struct np2 *n, const char *room)
{
	if (n->current[0] != '\0')
		return c2_same_room(n->current, room);
	return n->lobby[0] != '\0' && c2_same_room(n->lobby, room);
}

/* A room's name for a line's mark: the default room's, a joined room's, else "?" and the id. */
static void room_label(const struct np2 *n, uint32_t room, char *out, size_t size)
{
	const struct c2 *c = &n->s->engine;
	size_t i;

	if (room == V2_LOBBY && n->lobby[0] != '\0') {
		snprintf(out, size, "%s", n->lobby);
		return;
	}
	for (i = 0; i < c->njoined; i++)
		if (c->joined[i].id == room && !c->joined[i].rejoining) {
			snprintf(out, size, "%s", c->joined[i].name);
			return;
		}
	snprintf(out, size, "?%lu", (unsigned long)room);
}

/*
 * A room event as a LINE, phrased in our own language as v1 phrases it,
 * marked "[#room] " when it is not the current room's (or always, with
 * label_all), then mark (a line of history's, or NULL).  The text is
 * passed on raw: the UI makes it safe where it shows it.
 */
static void emit_marked(struct np2 *n, uint32_t room, enum room_event ev, unsigned flags,
                        const char *mark, int label_all, const char *name, const char *text,
                        size_t len)
{
	char label[C2_ROOM_NAME_MAX + 16];
	size_t name_len = name != NULL ? strlen(name) : 0, at = ev == EV_ACTION ? 2 : 0;
	int pre = 0, k;

	if (label_all || room != current_id(n)) {
		room_label(n, room, label, sizeof label);
		pre = snprintf(linebuf, sizeof linebuf, "[%s] ", label);
	}
	if (mark != NULL)
		pre += snprintf(linebuf + pre, sizeof linebuf - (size_t)pre, "%s", mark);
	k = v1_format_event(linebuf + pre, sizeof linebuf - (size_t)pre, n->ui.lang, ev, name, text,
	                    len);
	if (k < 0)
		return;
	if (ev == EV_ADMIN || ev == EV_SHUTDOWN || name_len == 0)
		uilink_line(&n->ui, uilink_line_kind(ev), flags, NULL, 0, IPC_NO_NAME_AT, linebuf,
		            (size_t)pre + (size_t)k);
	else
		uilink_line(&n->ui, uilink_line_kind(ev), flags, name, name_len,
		            (unsigned)(at + (size_t)pre), linebuf, (size_t)pre + (size_t)k);
}

static void emit_event(struct np2 *n, uint32_t room, enum room_event ev, unsigned flags,
                       const char *name, const char *text, size_t len)
{
	emit_marked(n, room, ev, flags, NULL, 0, name, text, len);
}

/* The id of the room named room ("" the default room), 0 while it has none (client2.h). */
static uint32_t room_id(const struct np2 *n, const char *room)
{
	const struct c2 *c = &n->s->engine;
	int i;

	if (room[0] == '\0')
		return V2_LOBBY;
	i = c2_room_index(c, room);
	return i < 0 || c->joined[i].rejoining ? 0 : c->joined[i].id;
}

/* Whether room's history on joining is on its way: its live lines wait for it. */
static int history_holds(const struct np2 *n, uint32_t room)
{
	size_t i;

	for (i = 0; i < n->hreq_len; i++) {
		const struct hreq *r = &n->hreq[(n->hreq_head + i) % HREQ_MAX];

		if (r->kind == HREQ_JOIN && room_id(n, r->room) == room)
			return 1;
	}
	return 0;
}

/* A live event: shown, or held behind its room's history (shown as it is past HLINES_MAX). */
static void live_event(struct np2 *n, uint32_t room, enum room_event ev, const char *name,
                       const char *text, size_t len)
{
	struct hline *h;

	if (n->nhlines == HLINES_MAX || !history_holds(n, room)) {
		emit_event(n, room, ev, 0, name, text, len);
		return;
	}
	h = xmalloc(sizeof *h + len);
	h->room = room;
	h->ev = ev;
	snprintf(h->name, sizeof h->name, "%s", name != NULL ? name : "");
	h->len = len;
	if (len > 0)
		memcpy(h->text, text, len);
	n->hlines[n->nhlines++] = h;
}

/* Show the held live lines whose rooms' history is in, in the order they came. */
static void release_lines(struct np2 *n)
{
	size_t i, k = 0;

	for (i = 0; i < n->nhlines; i++) {
		struct hline *h = n->hlines[i];

		if (history_holds(n, h->room)) {
			n->hlines[k++] = h;
			continue;
		}
		emit_event(n, h->room, h->ev, 0, h->name, h->text, h->len);
		free(h);
	}
	n->nhlines = k;
}

static void cb_event(void *ctx, enum room_event ev, const char *name, const char *text, size_t len)
{
	live_event(ctx, V2_LOBBY, ev, name, text, len);
}

static void cb_room_event(void *ctx, uint32_t room, enum room_event ev, const char *name,
                          const char *text, size_t len)
{
	live_event(ctx, room, ev, name, text, len);
}

/*
 * When a line was said (wall-clock ms): "18:01" today, "12-06 18:01"
 * another day this year (or always, with date), else "2025-12-06 18:01".
 */
static void format_when(uint64_t at, int date, char *out, size_t size)
{
	time_t t = (time_t)(at / 1000), now = time(NULL);
	struct tm w, today;

	if (localtime_r(&t, &w) == NULL || localtime_r(&now, &today) == NULL) {
		snprintf(out, size, "?");
		return;
	}
	if (w.tm_year != today.tm_year)
		strftime(out, size, "%Y-%m-%d %H:%M", &w);
	else if (date || w.tm_yday != today.tm_yday)
		strftime(out, size, "%m-%d %H:%M", &w);
	else
		strftime(out, size, "%H:%M", &w);
}

/* A line of history: marked (and dimmed: IPC_LINE_HISTORY), for the ask at the front. */
static void cb_history(void *ctx, uint32_t room, uint64_t id, uint64_t at, enum room_event ev,
                       const char *name, const char *text, size_t len)
{
	struct np2 *n = ctx;
	struct hreq *r = &n->hreq[n->hreq_head];
	char when[32], mark[96];

	(void)id;
	if (n->hreq_len == 0)
		return; /* cannot happen: the engine passes on only what was asked */
	format_when(at, r->kind == HREQ_SEARCH, when, sizeof when);
	ui_format(mark, sizeof mark, ui_text(n->s->lang, UI_HISTORY_MARK), when, NULL);
	emit_marked(n, room, ev, IPC_LINE_HISTORY, mark, r->kind == HREQ_SEARCH, name, text, len);
	r->shown++;
}

/* The answer at the front is over: a line saying how it ended; held live lines go. */
static void cb_history_end(void *ctx, uint32_t room, unsigned count, unsigned flags, int answered)
{
	struct np2 *n = ctx;
	struct hreq r;
	char num[32];

	(void)room;
	(void)count;
	if (n->hreq_len == 0)
		return;
	r = n->hreq[n->hreq_head];
	n->hreq_head = (n->hreq_head + 1) % HREQ_MAX;
	n->hreq_len--;
	if (answered && (flags & V2_HEND_UNAVAILABLE))
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_HISTORY_UNAVAILABLE, NULL, NULL);
	else if (!answered && r.kind != HREQ_JOIN)
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_NO_ANSWER,
		            r.kind == HREQ_SEARCH ? "/search" : "/history", NULL);
	if (r.kind == HREQ_SEARCH && answered && !(flags & V2_HEND_UNAVAILABLE)) {
		snprintf(num, sizeof num, "%u", r.shown);
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_SEARCH_FOUND, num, NULL);
	} else if (r.kind != HREQ_SEARCH && r.shown > 0) {
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_HISTORY_END, NULL, NULL);
	}
	if (r.kind == HREQ_PAGE && answered && (flags & V2_HEND_START))
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_HISTORY_START, NULL, NULL);
	release_lines(n);
}

/* Note an ask of history the engine took (c2_history_in, c2_search returned 0). */
static void hreq_push(struct np2 *n, enum hreq_kind kind, const char *room)
{
	struct hreq *r = &n->hreq[(n->hreq_head + n->hreq_len++) % HREQ_MAX];

	memset(r, 0, sizeof *r);
	r->kind = kind;
	snprintf(r->room, sizeof r->room, "%s", room);
}

/* On joining room ("" the default room): its last lines, if the server keeps them. */
static void join_history(struct np2 *n, const char *room)
{
	struct c2 *c = &n->s->engine;

	if (!c2_has_history(c) || n->s->history == 0 || n->hreq_len == HREQ_MAX)
		return;
	if (c2_history_in(c, room[0] != '\0' ? room : NULL, V2_HIST_LATEST, 0, n->s->history) == 0)
		hreq_push(n, HREQ_JOIN, room);
}

/*
 * A private line from template tmpl (UI_PRIVATE_FROM or _TO: the
 * member's name, then the text), with the name's place for colouring;
 * the text goes in raw, any bytes (the UI makes it safe).
 */
static void emit_private(struct np2 *n, const char *tmpl, unsigned flags, const char *name,
                         const char *text, size_t len)
{
	const char *p1 = strstr(tmpl, "%s"), *p2;
	size_t name_len = strlen(name), o, mid, rest;

	if (p1 == NULL || (p2 = strstr(p1 + 2, "%s")) == NULL)
		return;
	o = (size_t)(p1 - tmpl);
	mid = (size_t)(p2 - (p1 + 2));
	rest = strlen(p2 + 2);
	if (o + name_len + mid + len + rest > sizeof linebuf)
		return; /* cannot happen: the text is at most V2_MAX_TEXT */
	memcpy(linebuf, tmpl, o);
	memcpy(linebuf + o, name, name_len);
	memcpy(linebuf + o + name_len, p1 + 2, mid);
	memcpy(linebuf + o + name_len + mid, text, len);
	memcpy(linebuf + o + name_len + mid + len, p2 + 2, rest);
	uilink_line(&n->ui, IPC_LINE_CHAT, flags, name, name_len, (unsigned)o, linebuf,
	            o + name_len + mid + len + rest);
}

static void cb_private(void *ctx, uint64_t number, uint64_t at, const char *from, const char *text,
                       size_t len)
{
	struct np2 *n = ctx;

	char when[32], tmpl[256];
	const char *stored, *p;

	(void)number;
	snprintf(n->last_from, sizeof n->last_from, "%s", from);
	if (at == 0) {
		emit_private(n, ui_text(n->s->lang, UI_PRIVATE_FROM), 0, from, text, len);
		return;
	}
	/* Kept while we were away: when it was said goes in the first place, the rest stays. */
	format_when(at, 1, when, sizeof when);
	stored = ui_text(n->s->lang, UI_PRIVATE_STORED);
	p = strstr(stored, "%s");
	if (p == NULL)
		return; /* cannot happen: the text has its three places */
	snprintf(tmpl, sizeof tmpl, "%.*s%s%s", (int)(p - stored), stored, when, p + 2);
	emit_private(n, tmpl, 0, from, text, len);
}

/* Tell the UI the current room and the rooms we are in (ipc.h, ROOMS). */
static void send_rooms(struct np2 *n)
{
	const struct c2 *c = &n->s->engine;
	const char *names[C2_MAX_ROOMS + 1];
	size_t count = 0, i;
	unsigned flags = n->current[0] == '\0' ? IPC_ROOMS_DEFAULT : 0;

	if (n->in_lobby && n->lobby[0] != '\0')
		names[count++] = n->lobby;
	for (i = 0; i < c->njoined; i++)
		names[count++] = c->joined[i].name;
	uilink_rooms(&n->ui, flags, flags ? n->lobby : n->current, names, count);
}

/* The current room was left: the default room if we are in it, else the first joined room. */
static void move_current(struct np2 *n)
{
	const struct c2 *c = &n->s->engine;

	if (!n->in_lobby && c->njoined > 0)
		snprintf(n->current, sizeof n->current, "%s", c->joined[0].name);
	else
		n->current[0] = '\0';
}

/* "#大厅 (5)、#dev (2)": a ROOM answer's rooms as one line's list. */
static void list_rooms(const struct np2 *n, const struct c2_room_info *r, size_t count, char *out,
                       size_t size)
{
	const char *sep = n->s->lang == LANG_ZH ? "、" : ", ";
	size_t i, o = 0;
	int k;

	out[0] = '\0';
	for (i = 0; i < count; i++) {
		k = snprintf(out + o, size - o, "%s%s (%lu)", i > 0 ? sep : "", r[i].name,
		             (unsigned long)r[i].members);
		if (k < 0 || (size_t)k >= size - o) {
			out[o] = '\0';
			break; /* cannot happen: out holds C2_LIST_MAX rooms */
		}
		o += (size_t)k;
	}
}

/* Note the default room's name and whether we are in it from a list of rooms. */
static void learn_lobby(struct np2 *n, const struct c2_room_info *r, size_t count, int mine)
{
	size_t i;

	if (mine)
		n->in_lobby = 0;
	for (i = 0; i < count; i++)
		if (r[i].id == V2_LOBBY) {
			snprintf(n->lobby, sizeof n->lobby, "%s", r[i].name);
			if (mine)
				n->in_lobby = 1;
		}
}

/* A list of rooms (list_rooms) is one LINE, not cut: "#name (members)" and a separator each. */
_Static_assert(C2_LIST_MAX *(C2_ROOM_NAME_MAX + 16) + 64 <= UILINK_TEXT_MAX,
               "a list of rooms does not fit a LINE");

/* A ROOM answer (client2.h, rooms): the session's rooms change, and the user is told. */
static void cb_rooms(void *ctx, int what, const struct c2_room_info *r, size_t count, int again)
{
	static char list[C2_LIST_MAX * (C2_ROOM_NAME_MAX + 16) + 1];
	struct np2 *n = ctx;
	char members[32];

	switch (what) {
	case V2_ROOM_JOINED:
		learn_lobby(n, r, 1, 0);
		if (r->id == V2_LOBBY)
			n->in_lobby = 1;
		if (n->join_want[0] != '\0' && c2_same_room(n->join_want, r->name)) {
			/* The answer to /join (or to a new session's JOIN of it): it is current. */
			n->join_want[0] = '\0';
			if (r->id == V2_LOBBY)
				n->current[0] = '\0';
			else
				snprintf(n->current, sizeof n->current, "%s", r->name);
		}
		snprintf(members, sizeof members, "%lu", (unsigned long)r->members);
		if (!again) {
			uilink_text(&n->ui, IPC_LINE_NOTICE, UI_ROOM_JOINED, r->name, members);
			join_history(n, r->id == V2_LOBBY ? "" : r->name);
		}
		break;
	case V2_ROOM_PARTED:
		if (r->id == V2_LOBBY)
			n->in_lobby = 0;
		if (again && !c2_same_room(n->part_want, r->name))
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_ROOM_LOST, r->name, NULL);
		else
			uilink_text(&n->ui, IPC_LINE_NOTICE, UI_ROOM_PARTED, r->name, NULL);
		if (c2_same_room(n->part_want, r->name))
			n->part_want[0] = '\0';
		if (c2_same_room(n->join_want, r->name))
			n->join_want[0] = '\0'; /* joined and parted again (client2.h, c2_join) */
		if (current_gone(n) || (n->current[0] == '\0' && r->id == V2_LOBBY))
			move_current(n);
		break;
	case V2_ROOM_MINE:
	case V2_ROOM_ALL:
		learn_lobby(n, r, count, what == V2_ROOM_MINE);
		if (again && n->in_lobby && !n->lobby_history) {
			n->lobby_history =
			    1; /* the first session's: later ones show each line once */
			join_history(n, "");
		}
		if (again)
			break; /* the answer to the declaration of a new session: for us only */
		list_rooms(n, r, count, list, sizeof list);
		uilink_text(&n->ui, IPC_LINE_NOTICE,
		            what == V2_ROOM_MINE ? UI_ROOMS_MINE : UI_ROOMS_ALL, list, NULL);
		break;
	default:
		break;
	}
	if (current_gone(n))
		move_current(n);
	send_rooms(n);
}

/* Messages the engine gave up (client2.h, unsent): one line each, saying why. */
static void cb_unsent(void *ctx, const char *room, unsigned count, int why)
{
	struct np2 *n = ctx;
	enum ui_text t = UI_UNSENT;

	if (room[0] == '\0')
		room = n->lobby[0] != '\0' ? n->lobby : "?";
	if (why == C2_UNSENT_QUIT)
		t = UI_UNSENT_QUIT;
	else if (why == C2_UNSENT_GONE)
		t = room[0] == '#' ? UI_UNSENT_GONE : UI_UNSENT_NO_ROOMS;
	while (count-- > 0)
		uilink_text(&n->ui, IPC_LINE_ERROR, t, room, NULL);
}

/* Whether a NOTICE of code can be the refusal of a JOIN (part 0) or a PART (part 1). */
static int refuses(int code, int part)
{
	switch (code) {
	case QERR_FLOOD:
		return 1;
	case QERR_ROOM_FULL:
	case QERR_ROOM_LIMIT:
	case QERR_TOO_MANY_ROOMS:
	case QERR_ROOM_NAME:
	case QERR_BAD_REQUEST:
		return !part;
	case QERR_NO_SUCH_ROOM:
	case QERR_NOT_IN_ROOM:
	case QERR_LOBBY_STAYS:
		return part;
	default:
		return 0;
	}
}

static void cb_notice(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct np2 *n = ctx;
	char line[QUN_MAX_DATAGRAM + 64];
	char reason[QUN_MAX_DATAGRAM + 1];

	(void)detail;
	snprintf(reason, sizeof reason, "%.*s", (int)len, text);
	ui_format(line, sizeof line, ui_text(n->s->lang, UI_NOTICE), reason, NULL);
	uilink_line(&n->ui, IPC_LINE_ERROR, 0, NULL, 0, IPC_NO_NAME_AT, line, strlen(line));
	/*
	 * The answer to the /join or /part we wait for, as far as we can
	 * tell: the server answers in order, and nothing typed after it has
	 * gone (np2.held).
	 */
	if (n->join_want[0] != '\0' && refuses(code, 0))
		n->join_want[0] = '\0';
	else if (n->part_want[0] != '\0' && refuses(code, 1))
		n->part_want[0] = '\0';
}

static void cb_refused(void *ctx, int code, int detail, const char *text, size_t len)
{
	struct np2 *n = ctx;

	(void)code;
	(void)detail;
	if (n->reason != NULL)
		snprintf(n->reason, n->reason_size, "%.*s", (int)len, text);
}

static void cb_link(void *ctx, int reconnecting)
{
	struct np2 *n = ctx;

	uilink_state(&n->ui, reconnecting ? IPC_RECONNECTING : IPC_CONNECTED);
}

static void cb_closed(void *ctx, int reason)
{
	struct np2 *n = ctx;

	n->closed_reason = reason;
	if (reason == V2_CLOSE_KICKED)
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_KICKED, NULL, NULL);
	else if (reason == V2_CLOSE_SHUTDOWN)
		uilink_text(&n->ui, IPC_LINE_NOTICE, UI_SERVER_CLOSED, NULL, NULL);
}

static void cb_who(void *ctx, int answered, uint32_t total, const char *const *names, size_t count)
{
	struct np2 *n = ctx;

	uilink_who(&n->ui, answered ? IPC_WHO_COMPLETE : IPC_WHO_NO_REPLY, total, n->who_room,
	           names, count);
}

/* Read the waiting datagrams, IPC_BATCH at most, into the engine (one c2_poll acks them all). */
static void drain_socket(struct np2 *n)
{
	uint8_t buf[QUN_MAX_DATAGRAM + 1];
	ssize_t k;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		k = recv(n->s->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
		if (k < 0 && errno == ECONNREFUSED)
			c2_on_unreachable(&n->s->engine);
		else if (k < 0 && errno != EINTR)
			return;
		else if (k > 0 && (size_t)k <= QUN_MAX_DATAGRAM)
			c2_on_datagram(&n->s->engine, buf, (size_t)k, now_ms());
	}
}

/* ms to wait until `until`, at most a second (the loop re-checks its state at least that often). */
static int wait_ms(uint64_t until, uint64_t now)
{
	uint64_t d = until > now ? until - now : 0;

	return d > 1000 ? 1000 : (int)d;
}

enum net_login_result np2_login(struct net_session *s, char *reason, size_t size)
{
	struct c2_callbacks cb = {.ctx = &np,
	                          .send = cb_send,
	                          .event = cb_event,
	                          .notice = cb_notice,
	                          .refused = cb_refused,
	                          .link = cb_link,
	                          .closed = cb_closed,
	                          .who = cb_who,
	                          .room_event = cb_room_event,
	                          .rooms = cb_rooms,
	                          .private_msg = cb_private,
	                          .unsent = cb_unsent,
	                          .history = cb_history,
	                          .history_end = cb_history_end};
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	struct c2 *c = &s->engine;

	/*
	 * The UI's end exists already (net_connect): anything the room says
	 * between our WELCOME and the fork waits there for the UI.
	 */
	np.s = s;
	np.ui.fd = s->ipc[1];
	np.ui.lang = s->lang;
	np.ui.wait_ms = UILINK_WAIT_MS;
	np.reason = reason;
	np.reason_size = size;
	if (size > 0)
		reason[0] = '\0';
	if (c->cb.send == NULL)
		c2_init(c, s->name, s->keepalive, &cb);
	c2_start(c, s->name, now_ms());
	s->max_text = V2_MAX_TEXT;
	for (;;) {
		uint64_t next = c2_poll(c, now_ms());

		if (c->state == C2_ONLINE)
			return NET_LOGIN_OK;
		if (c->state == C2_REFUSED)
			return NET_LOGIN_REFUSED;
		if (c->state == C2_UNREACHABLE)
			return NET_LOGIN_NO_REPLY;
		if (poll(&p, 1, wait_ms(next, now_ms())) > 0)
			drain_socket(&np);
		if (c->state == C2_ONLINE)
			return NET_LOGIN_OK;
	}
}

/* Copy a room's name (checked to fit already, where it matters), cut to size if not. */
static void copy_name(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Whether text passes the text rules; if not, the UI is told why. */
static int text_ok(struct np2 *n, const char *text, size_t len)
{
	enum text_status ts = text_check_max(text, len, V2_MAX_TEXT);
	char have[32], limit[32];

	if (ts == TEXT_TOO_LONG) {
		snprintf(have, sizeof have, "%zu", len);
		snprintf(limit, sizeof limit, "%d", V2_MAX_TEXT);
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_TOO_LONG, have, limit);
		return 0;
	}
	if (ts != TEXT_OK) {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_INPUT,
		            qerr_text(n->s->lang, QERR_TEXT_INVALID, (int)ts), NULL);
		return 0;
	}
	return 1;
}

/* The engine refused to queue: the queue is full (a long outage), refused now, not lost later. */
static void queue_full(struct np2 *n)
{
	uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_INPUT, qerr_text(n->s->lang, QERR_FLOOD, 0),
	            NULL);
}

/*
 * Say (or act, with me) what the UI sent, after the text rules, in the
 * current room; echo it for the user's record.
 */
static void say(struct np2 *n, int me, const char *text, size_t len)
{
	uint32_t room;

	if (!text_ok(n, text, len))
		return;
	if (current_gone(n))
		move_current(n); /* cannot happen: cb_rooms moves it when it goes */
	room = current_id(n);
	/* By name: a room being joined again has no id yet, and the engine holds the line. */
	if ((me ? c2_me_in : c2_say_in)(&n->s->engine, n->current, text, len) < 0) {
		queue_full(n);
		return;
	}
	emit_event(n, room, me ? EV_ACTION : EV_SAY, IPC_LINE_SELF, n->s->name, text, len);
}

/*
 * A room's name from the UI, as name[0..len): into out with the '#' the
 * user may have left out.  Returns 0, or -1 (out empty) if it cannot be
 * one.
 */
static int room_arg(const char *name, size_t len, char *out, size_t size)
{
	int k = snprintf(out, size, "%s%.*s", len > 0 && name[0] == '#' ? "" : "#", (int)len, name);

	if (k < 0 || (size_t)k >= size || memchr(name, '\0', len) != NULL) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * The room the UI named (name_len 0: the current room): label gets its
 * name, and *lobby whether it is the default room.  Returns 0, or -1
 * after telling the UI we are not in it.  A room a new session is
 * joining again is ours: the engine acts on it by name once it is.
 */
static int named_room(struct np2 *n, const char *name, size_t name_len, char *label, size_t size,
                      int *lobby)
{
	const struct c2 *c = &n->s->engine;

	*lobby = 0;
	if (name_len == 0) {
		snprintf(label, size, "%s", n->current[0] != '\0' ? n->current : n->lobby);
		*lobby = n->current[0] == '\0';
		if (*lobby ? n->in_lobby : c2_room_index(c, n->current) >= 0)
			return 0;
	} else if (room_arg(name, name_len, label, size) == 0) {
		*lobby = n->lobby[0] != '\0' && c2_same_room(label, n->lobby);
		if (*lobby ? n->in_lobby : c2_room_index(c, label) >= 0)
			return 0;
	}
	uilink_text(&n->ui, IPC_LINE_ERROR, UI_NOT_IN_ROOM, label[0] != '\0' ? label : "?", NULL);
	return -1;
}

/* Whether the server has rooms; if not, the UI is told. */
static int need_rooms(struct np2 *n)
{
	if (c2_has_rooms(&n->s->engine))
		return 1;
	uilink_text(&n->ui, IPC_LINE_ERROR, UI_NO_ROOMS, NULL, NULL);
	return 0;
}

/* A /who [#room]: the engine answers it (cb_who), or it is refused here. */
static void ask_who(struct np2 *n, const char *name, size_t len)
{
	char room[256];
	int lobby = 1;

	if (len > 0 && !need_rooms(n)) {
		uilink_who(&n->ui, IPC_WHO_REFUSED, 0, NULL, NULL, 0);
		return;
	}
	room[0] = '\0';
	if (c2_has_rooms(&n->s->engine) && (len > 0 || n->current[0] != '\0') &&
	    named_room(n, name, len, room, sizeof room, &lobby) < 0) {
		uilink_who(&n->ui, IPC_WHO_REFUSED, 0, NULL, NULL, 0);
		return;
	}
	if (c2_who_in(&n->s->engine, lobby ? NULL : room) < 0) {
		uilink_who(&n->ui, IPC_WHO_NO_REPLY, 0, lobby ? NULL : room, NULL, 0);
		return;
	}
	copy_name(n->who_room, sizeof n->who_room, lobby ? "" : room);
}

/* /join: the answer (cb_rooms, JOINED) makes the room current. */
static void join(struct np2 *n, const char *name, size_t len)
{
	char room[256], max[32];
	int st;

	if (!need_rooms(n))
		return;
	if (len == 0 || room_arg(name, len, room, sizeof room) < 0) {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_JOIN_USAGE, NULL, NULL);
		return;
	}
	st = c2_room_name_check(room, strlen(room));
	if (st != NAME_OK) {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_ROOM,
		            qerr_text(n->s->lang, QERR_ROOM_NAME, st), NULL);
		return;
	}
	st = c2_join(&n->s->engine, room, strlen(room));
	if (st == C2_ROOMS_FULL) {
		snprintf(max, sizeof max, "%d", C2_MAX_ROOMS);
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_ROOMS_FULL, room, max);
		return;
	}
	if (st < 0) {
		queue_full(n);
		return;
	}
	copy_name(n->join_want, sizeof n->join_want, room);
	n->pending_by = 0;
}

/* /part: the answer (cb_rooms, PARTED) moves the current room if it was this one. */
static void part(struct np2 *n, const char *name, size_t len)
{
	char room[256];
	int lobby;

	if (!need_rooms(n) || named_room(n, name, len, room, sizeof room, &lobby) < 0)
		return;
	if (c2_part_in(&n->s->engine, lobby ? NULL : room) < 0) {
		queue_full(n);
		return;
	}
	copy_name(n->part_want, sizeof n->part_want, room);
	n->pending_by = 0;
}

/* A private message to name[0..name_len), echoed for the user's record. */
static void tell(struct np2 *n, const char *name, size_t name_len, const char *text, size_t len)
{
	char to[QUN_MAX_NAME + 1];
	enum name_status st = name_check(name, name_len);

	if (!need_rooms(n))
		return;
	if (st != NAME_OK) {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_BAD_INPUT,
		            qerr_text(n->s->lang, QERR_NAME_INVALID, (int)st), NULL);
		return;
	}
	if (!text_ok(n, text, len))
		return;
	if (c2_tell(&n->s->engine, name, name_len, text, len) < 0) {
		queue_full(n);
		return;
	}
	memcpy(to, name, name_len);
	to[name_len] = '\0';
	emit_private(n, ui_text(n->s->lang, UI_PRIVATE_TO), IPC_LINE_SELF, to, text, len);
}

static void reply(struct np2 *n, const char *text, size_t len)
{
	if (!need_rooms(n))
		return;
	if (n->last_from[0] == '\0') {
		uilink_text(&n->ui, IPC_LINE_ERROR, UI_NO_REPLY_TO, NULL, NULL);
		return;
	}
	tell(n, n->last_from, strlen(n->last_from), text, len);
}

/* Whether the server keeps history; if not, the UI is told. */
static int need_history(struct np2 *n)
{
	if (c2_has_history(&n->s->engine))
		return 1;
	uilink_text(&n->ui, IPC_LINE_ERROR, UI_HISTORY_NONE, NULL, NULL);
	return 0;
}

/* /history [N]: the current room's lines before the oldest shown (its last N if none). */
static void page_history(struct np2 *n, const char *arg, size_t len)
{
	struct c2 *c = &n->s->engine;
	unsigned count = PAGE_LINES;
	uint64_t oldest;
	size_t i;

	if (!need_history(n))
		return;
	if (len > 0) {
		for (count = 0, i = 0; i < len && arg[i] >= '0' && arg[i] <= '9' && count <= 1000;
		     i++)
			count = count * 10 + (unsigned)(arg[i] - '0');
		if (i < len || count < 1 || count > V2_HISTORY_MAX) {
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_HISTORY_USAGE, NULL, NULL);
			return;
		}
	}
	if (current_gone(n))
		move_current(n);
	oldest = c2_oldest(c, n->current);
	if (n->hreq_len == HREQ_MAX ||
	    c2_history_in(c, n->current[0] != '\0' ? n->current : NULL,
	                  oldest != 0 ? V2_HIST_BEFORE : V2_HIST_LATEST, oldest, count) < 0) {
		queue_full(n);
		return;
	}
	hreq_push(n, HREQ_PAGE, n->current);
}

/* /search WORDS: the lines of my rooms with every word. */
static void search(struct np2 *n, const char *words, size_t len)
{
	if (!need_history(n) || !text_ok(n, words, len))
		return;
	if (n->hreq_len == HREQ_MAX || c2_search(&n->s->engine, words, len, SEARCH_LINES) < 0) {
		queue_full(n);
		return;
	}
	hreq_push(n, HREQ_SEARCH, "");
}

/* Whether a /join or a /part waits for its answer (what the UI sends meanwhile is held). */
static int pending(const struct np2 *n)
{
	return n->join_want[0] != '\0' || n->part_want[0] != '\0';
}

/* Leave: QUIT goes after what is held (release_held), within the quit's grace. */
static void begin_quit(struct np2 *n)
{
	if (n->leave_by != 0)
		return;
	n->leave_by = now_ms() + QUIT_GRACE_MS;
	if (pending(n) || n->nheld > 0) {
		n->quit_wanted = 1;
		return;
	}
	c2_quit(&n->s->engine);
}

/*
 * Act on one request of the UI.  tag (struct held): a line for the
 * current room, a /who or /part of it, is for that room, and is refused
 * if it is not the current room (its /join failed).
 */
static void dispatch(struct np2 *n, const struct ipc_msg *m, const char *tag)
{
	int elsewhere = tag[0] != '\0' && !is_current(n, tag);

	switch (m->type) {
	case IPC_SAY:
	case IPC_ME:
		if (elsewhere)
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_UNSENT_JOIN, tag, NULL);
		else
			say(n, m->type == IPC_ME, m->text, m->text_len);
		break;
	case IPC_ASK_WHO:
		if (elsewhere && m->name_len == 0) {
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_NOT_IN_ROOM, tag, NULL);
			uilink_who(&n->ui, IPC_WHO_REFUSED, 0, NULL, NULL, 0);
		} else {
			ask_who(n, m->name, m->name_len);
		}
		break;
	case IPC_JOIN:
		join(n, m->name, m->name_len);
		break;
	case IPC_PART:
		if (elsewhere && m->name_len == 0)
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_NOT_IN_ROOM, tag, NULL);
		else
			part(n, m->name, m->name_len);
		break;
	case IPC_LIST_ROOMS:
		if (need_rooms(n) && c2_rooms(&n->s->engine, m->all) < 0)
			queue_full(n);
		break;
	case IPC_TELL:
		tell(n, m->name, m->name_len, m->text, m->text_len);
		break;
	case IPC_REPLY:
		reply(n, m->text, m->text_len);
		break;
	case IPC_HISTORY:
		page_history(n, m->text, m->text_len);
		break;
	case IPC_SEARCH:
		search(n, m->text, m->text_len);
		break;
	case IPC_QUIT:
		begin_quit(n);
		break;
	default:
		break; /* an event type: not for us */
	}
}

/*
 * Keep request buf[0..len) (decoded: m) until the /join or /part before
 * it has its answer; refused (as a full queue) past HOLD_MAX.
 */
static void hold(struct np2 *n, const unsigned char *buf, size_t len, const struct ipc_msg *m)
{
	char room[256];
	struct held *h;

	if (n->nheld == HOLD_MAX) {
		queue_full(n);
		if (m->type == IPC_ASK_WHO)
			uilink_who(&n->ui, IPC_WHO_REFUSED, 0, NULL, NULL, 0);
		return;
	}
	if (n->nheld == 0)
		copy_name(n->hold_tag, sizeof n->hold_tag, n->join_want);
	h = xmalloc(sizeof *h + len);
	copy_name(h->tag, sizeof h->tag, n->hold_tag);
	h->len = len;
	memcpy(h->msg, buf, len);
	n->held[n->nheld++] = h;
	/* What follows a /join is for its room; what follows a /part, for wherever it leaves us. */
	if (m->type == IPC_JOIN && room_arg(m->name, m->name_len, room, sizeof room) == 0)
		copy_name(n->hold_tag, sizeof n->hold_tag, room);
	else if (m->type == IPC_JOIN || m->type == IPC_PART)
		n->hold_tag[0] = '\0';
}

/*
 * Once no /join or /part waits: act on what was held, in order, until one
 * of its own waits in turn; then leave, if the UI asked to meanwhile.
 */
static void release_held(struct np2 *n)
{
	struct ipc_msg m;
	struct held *h;

	while (n->nheld > 0 && !pending(n)) {
		h = n->held[0];
		n->nheld--;
		memmove(n->held, n->held + 1, n->nheld * sizeof n->held[0]);
		if (ipc_decode(h->msg, h->len, &m) == IPC_OK)
			dispatch(n, &m, h->tag);
		free(h);
	}
	if (n->quit_wanted && n->nheld == 0 && !pending(n)) {
		n->quit_wanted = 0;
		c2_quit(&n->s->engine);
	}
}

/* We are leaving with requests still held: each message among them is told as not sent. */
static void drop_held(struct np2 *n)
{
	char to[QUN_MAX_NAME + 1];
	struct ipc_msg m;
	size_t i;

	for (i = 0; i < n->nheld; i++) {
		if (ipc_decode(n->held[i]->msg, n->held[i]->len, &m) != IPC_OK)
			continue;
		if (m.type == IPC_SAY || m.type == IPC_ME)
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_UNSENT_QUIT,
			            n->held[i]->tag[0] != '\0' ? n->held[i]->tag
			            : n->current[0] != '\0'    ? n->current
			            : n->lobby[0] != '\0'      ? n->lobby
			                                       : "?",
			            NULL);
		if (m.type == IPC_TELL || m.type == IPC_REPLY) {
			snprintf(to, sizeof to, "%.*s", (int)(m.type == IPC_TELL ? m.name_len : 0),
			         m.name);
			uilink_text(&n->ui, IPC_LINE_ERROR, UI_UNSENT_QUIT,
			            m.type == IPC_TELL ? to : n->last_from, NULL);
		}
	}
}

/*
 * The clock of the /join or /part we wait for: it runs while online (or
 * not at all once we are leaving offline); when it runs out the user is
 * told, and what was held goes (release_held).  Returns when it wants
 * the loop back.
 */
static uint64_t poll_pending(struct np2 *n, uint64_t now)
{
	char what[C2_ROOM_NAME_MAX + 8];
	int joining = n->join_want[0] != '\0';

	if (!pending(n) || (n->s->engine.state != C2_ONLINE && n->leave_by == 0)) {
		n->pending_by = 0;
		return UINT64_MAX;
	}
	if (n->s->engine.state != C2_ONLINE)
		n->pending_by = now; /* leaving, and nobody to answer */
	if (n->pending_by == 0)
		n->pending_by = now + PENDING_WAIT_MS;
	if (n->leave_by != 0 && n->pending_by > now + QUIT_PENDING_MS)
		n->pending_by = now + QUIT_PENDING_MS;
	if (now < n->pending_by)
		return n->pending_by;
	snprintf(what, sizeof what, "%s %s", joining ? "/join" : "/part",
	         joining ? n->join_want : n->part_want);
	uilink_text(&n->ui, IPC_LINE_ERROR, UI_NO_ANSWER, what, NULL);
	n->join_want[0] = '\0';
	n->part_want[0] = '\0';
	n->pending_by = 0;
	return UINT64_MAX;
}

/*
 * The requests the UI has sent, IPC_BATCH at most; held while a /join or
 * /part waits for its answer.  When the UI's end is gone, we leave on
 * our own.
 */
static void on_ipc(struct np2 *n)
{
	struct ipc_msg m;
	ssize_t k;
	int i;

	for (i = 0; i < IPC_BATCH; i++) {
		k = recv(n->ui.fd, msgbuf, sizeof msgbuf, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) {
			n->ui.gone = 1;
			begin_quit(n);
			return;
		}
		if (ipc_decode(msgbuf, (size_t)k, &m) != IPC_OK || n->leave_by != 0)
			continue;
		if (m.type != IPC_QUIT && (pending(n) || n->nheld > 0))
			hold(n, msgbuf, (size_t)k, &m);
		else
			dispatch(n, &m, "");
	}
}

static void on_signal(struct np2 *n)
{
	struct signalfd_siginfo si;

	/* SIGTERM: from the kernel when the UI died (PR_SET_PDEATHSIG), or from anyone. */
	while (read(n->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		begin_quit(n);
}

void np2_main(struct net_session *s, int ipc, int sigfd, int orphaned)
{
	struct pollfd p[3];
	struct c2 *c;

	if (s == NULL)
		_exit(
		    1); /* cannot happen (netproc.c passes its session); says so to the analyser */
	c = &s->engine;
	np.s = s;
	np.ui.fd = ipc;
	np.ui.lang = s->lang;
	np.ui.wait_ms = UILINK_WAIT_MS;
	np.sigfd = sigfd;
	np.reason = NULL;
	if (orphaned) {
		np.ui.gone = 1;
		begin_quit(&np);
	}
	while (c->state != C2_CLOSED) {
		uint64_t now = now_ms(), next, pend;

		if (np.leave_by != 0 && now >= np.leave_by) {
			drop_held(&np);
			uilink_exited(&np.ui, IPC_EXIT_UNCONFIRMED);
			_exit(1); /* the server never confirmed */
		}
		/* One place acts on what this turn settled: a /join's answer, the UI's requests. */
		pend = poll_pending(&np, now);
		release_held(&np);
		next = c2_poll(c, now);
		if (c->state == C2_CLOSED)
			break;
		if (pend < next)
			next = pend;
		if (np.leave_by != 0 && np.leave_by < next)
			next = np.leave_by;
		p[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = np.ui.gone ? -1 : ipc,
		                       .events = POLLIN | (uilink_pending(&np.ui) ? POLLOUT : 0)};
		if (poll(p, 3, wait_ms(next, now_ms())) < 0 && errno != EINTR)
			_exit(1);
		if (p[2].revents & POLLOUT)
			uilink_flush(&np.ui);
		if (p[0].revents & (POLLIN | POLLERR))
			drain_socket(&np);
		if (p[1].revents & POLLIN)
			on_signal(&np);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			on_ipc(&np);
	}
	uilink_exited(&np.ui, np.leave_by != 0 && np.closed_reason == V2_CLOSE_QUIT
	                          ? IPC_EXIT_CONFIRMED
	                          : IPC_EXIT_ENDED);
	_exit(0);
}
