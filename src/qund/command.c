/* command.c - the operator's commands, their texts in both languages, and their text and JSON
 * replies. */
#include "command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/text.h"
#include "proto/wire1.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The operator's texts live here rather than in i18n.c: they are seen
 * only by whoever runs the server, never on the wire, and they change
 * with the command set.  Like i18n.c's UI texts they take "%s"
 * placeholders filled by ui_format(), never printf directives.
 */
enum msg {
	M_WHO_HEADER,  /* %s = count */
	M_SENT,        /* %s = count */
	M_KICKED,      /* %s = name */
	M_NO_SUCH,     /* %s = name */
	M_BANNED_FOR,  /* %s = target, %s = duration */
	M_BANNED,      /* %s = target */
	M_ALSO_KICKED, /* %s = names */
	M_UNBANNED,
	M_NOT_BANNED,
	M_MUTED_FOR,
	M_MUTED,
	M_UNMUTED,
	M_NOT_MUTED,
	M_BAD_TARGET,   /* %s = target */
	M_BAD_PREFIX,   /* %s = target */
	M_BAD_DURATION, /* %s = text */
	M_FULL,
	M_SHUTDOWN,
	M_UNKNOWN, /* %s = command */
	M_USAGE,   /* %s = synopsis */
	M_BANS,
	M_MUTES,
	M_NONE,
	M_EXPIRES, /* %s = duration */
	M_FOREVER,
	M_STATS_MEMBERS,
	M_STATS_UPTIME,
	M_STATS_IN,
	M_STATS_OUT,
	M_STATS_SEND_ERRORS,
	M_STATS_RETRANS,
	M_STATS_HEAP,
	M_STATS_WAKEUPS,
	M_STATS_PAUSES,
	M_STATS_PAUSES_CUT,
	M_STATS_ACKS_APART,
	M_STATS_DROPS,
	M_STATS_BANS,
	M_STATS_MUTES,
	M_HELP,
	M_NO_ROOM,       /* %s = room */
	M_NOT_IN_ROOM,   /* %s = name, %s = room */
	M_ROOM_WHO,      /* %s = room, %s = count */
	M_ROOMS,         /* %s = count */
	M_ROOM_CREATED,  /* %s = room */
	M_ROOM_CLOSED,   /* %s = room, %s = count */
	M_ROOM_KICKED,   /* %s = name, %s = room */
	M_LOBBY_STAYS,   /* %s = room */
	M_ROOM_BAD_NAME, /* %s = room, %s = why */
	M_ROOMS_FULL,
	M_STATS_STORE, /* %s = ok, failing or none */
	M_NO_STORE,
	M_PURGED, /* %s = count, %s = room or name */
	M_COUNT
};

static const char *const msgs[M_COUNT][2] = {
    [M_WHO_HEADER] = {"在线 %s 人：", "%s member(s) online:"},
    [M_SENT] = {"已发送给 %s 人", "sent to %s member(s)"},
    [M_KICKED] = {"已请出 %s", "kicked %s"},
    [M_NO_SUCH] = {"没有这个人：%s", "no such member: %s"},
    [M_BANNED_FOR] = {"已禁止 %s，时长 %s", "banned %s for %s"},
    [M_BANNED] = {"已禁止 %s，直到解除", "banned %s until unbanned"},
    [M_ALSO_KICKED] = {"已请出：%s", "kicked: %s"},
    [M_UNBANNED] = {"已解除禁止：%s", "unbanned %s"},
    [M_NOT_BANNED] = {"没有被禁止：%s", "not banned: %s"},
    [M_MUTED_FOR] = {"已禁言 %s，时长 %s", "muted %s for %s"},
    [M_MUTED] = {"已禁言 %s，直到解除", "muted %s until unmuted"},
    [M_UNMUTED] = {"已解除禁言：%s", "unmuted %s"},
    [M_NOT_MUTED] = {"没有被禁言：%s", "not muted: %s"},
    [M_BAD_TARGET] = {"不是有效的名字或地址：%s", "not a valid name or address: %s"},
    [M_BAD_PREFIX] = {"地址前缀无效：%s", "bad address prefix: %s"},
    [M_BAD_DURATION] = {"时长无效：%s（例如 90、90s、15m、2h、7d、2w）",
                        "bad duration: %s (e.g. 90, 90s, 15m, 2h, 7d, 2w)"},
    [M_FULL] = {"条目太多，请先解除一些", "too many entries; lift some first"},
    [M_SHUTDOWN] = {"正在关闭服务器", "shutting down"},
    [M_UNKNOWN] = {"未知命令：%s（输入 help 查看命令）", "unknown command: %s (try help)"},
    [M_USAGE] = {"用法：%s", "usage: %s"},
    [M_BANS] = {"禁止：", "bans:"},
    [M_MUTES] = {"禁言：", "mutes:"},
    [M_NONE] = {"  （无）", "  (none)"},
    [M_EXPIRES] = {"剩余 %s", "expires in %s"},
    [M_FOREVER] = {"直到解除", "until lifted"},
    [M_STATS_MEMBERS] = {"在线人数：%s", "members: %s"},
    [M_STATS_UPTIME] = {"运行时间：%s", "uptime: %s"},
    [M_STATS_IN] = {"收到数据报：%s", "datagrams in: %s"},
    [M_STATS_OUT] = {"发出数据报：%s", "datagrams out: %s"},
    [M_STATS_SEND_ERRORS] = {"发送失败：%s", "send errors: %s"},
    [M_STATS_RETRANS] = {"重传：%s", "retransmissions: %s"},
    [M_STATS_HEAP] = {"已用内存：%s 字节", "heap in use: %s bytes"},
    [M_STATS_WAKEUPS] = {"接收唤醒：%s", "receive wake-ups: %s"},
    [M_STATS_PAUSES] = {"合并等待：%s", "coalescing pauses: %s"},
    [M_STATS_PAUSES_CUT] = {"被聊天提前结束的合并等待：%s", "pauses ended early by chat: %s"},
    [M_STATS_ACKS_APART] = {"确认包套接字读入：%s", "datagrams read from the ACK socket: %s"},
    [M_STATS_DROPS] = {"丢弃（按原因）：", "drops by reason:"},
    [M_STATS_BANS] = {"禁止条目：%s", "bans: %s"},
    [M_STATS_MUTES] = {"禁言条目：%s", "mutes: %s"},
    [M_HELP] = {"命令：", "commands:"},
    [M_NO_ROOM] = {"没有这个聊天室：%s", "no such room: %s"},
    [M_NOT_IN_ROOM] = {"%s 不在 %s", "%s is not in %s"},
    [M_ROOM_WHO] = {"%s 有 %s 人：", "%s has %s member(s):"},
    [M_ROOMS] = {"聊天室 %s 个：", "%s room(s):"},
    [M_ROOM_CREATED] = {"已建立常设聊天室 %s", "%s is a permanent room"},
    [M_ROOM_CLOSED] = {"已关闭 %s（请出 %s 人）", "closed %s (%s member(s) parted)"},
    [M_ROOM_KICKED] = {"已把 %s 请出 %s", "kicked %s from %s"},
    [M_LOBBY_STAYS] = {"默认聊天室 %s 不能关闭", "the default room %s cannot be closed"},
    [M_ROOM_BAD_NAME] = {"不是有效的聊天室名：%s（%s）", "not a valid room name: %s (%s)"},
    [M_ROOMS_FULL] = {"聊天室已经太多", "too many rooms"},
    [M_STATS_STORE] = {"存储：%s", "store: %s"},
    [M_NO_STORE] = {"没有历史记录（qund --store 没有设置，或存储出错）",
                    "no history (qund has no --store, or its store is failing)"},
    [M_PURGED] = {"已删除 %s 条记录：%s", "deleted %s line(s): %s"},
};

/* Names of the room's drop reasons, as stats shows them; a reason added later shows as its number.
 */

/* One command being run: where its reply goes and in which form. */
struct call {
	const struct cmd_server *srv;
	enum cmd_format fmt;
	enum lang lang; /* of the texts: the server's, but English in JSON */
	struct buf *out;
};

typedef enum cmd_status (*cmd_fn)(struct call *c, const char *args, size_t n);

struct command {
	const char *name;
	cmd_fn run;
	const char *synopsis;
};

/* Longest piece of an operator's input echoed back in a message. */
#define ECHO_MAX 64

/* Fill a text template (ui_format) into out. */
static void text(const struct call *c, enum msg m, const char *a, const char *b, char *out,
                 size_t size)
{
	ui_format(out, size, msgs[m][c->lang == LANG_ZH ? 0 : 1], a, b);
}

/* Copy s[0..n) as a C string for a message, at most ECHO_MAX bytes, marking a cut with "...". */
static char *echo(const char *s, size_t n, char out[ECHO_MAX + 4])
{
	size_t k = n;

	if (k > ECHO_MAX) {
		k = ECHO_MAX;
		while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--; /* never cut a UTF-8 sequence */
	}
	memcpy(out, s, k);
	memcpy(out + k, k < n ? "..." : "", k < n ? 4 : 1);
	return out;
}

/* Reply with an error given as a finished text: the line, or {"ok":false,"error":...}.  Returns st.
 */
static enum cmd_status fail_raw(struct call *c, enum cmd_status st, const char *line)
{
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":false,\"error\":");
		buf_json_str(c->out, line, strlen(line));
		buf_puts(c->out, "}\n");
	} else {
		buf_printf(c->out, "%s\n", line);
	}
	return st;
}

/* Reply with an error from the message table.  Returns st. */
static enum cmd_status fail(struct call *c, enum cmd_status st, enum msg m, const char *a,
                            const char *b)
{
	char line[512];

	text(c, m, a, b, line, sizeof line);
	return fail_raw(c, st, line);
}

/* A line of text output (text format only). */
static void say_line(struct call *c, enum msg m, const char *a, const char *b)
{
	char line[512];

	text(c, m, a, b, line, sizeof line);
	buf_printf(c->out, "%s\n", line);
}

static enum cmd_status usage_of(struct call *c, const char *synopsis)
{
	return fail(c, CMD_USAGE, M_USAGE, synopsis, NULL);
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Split the first blank-separated word off s[0..n); *rest is what follows it, leading blanks
 * skipped. */
static void split(const char *s, size_t n, const char **w, size_t *wn, const char **rest,
                  size_t *rn)
{
	size_t i = 0, j;

	while (i < n && is_blank(s[i]))
		i++;
	for (j = i; j < n && !is_blank(s[j]); j++)
		;
	*w = s + i;
	*wn = j - i;
	while (j < n && is_blank(s[j]))
		j++;
	*rest = s + j;
	*rn = n - j;
}

static size_t trim_right(const char *s, size_t n)
{
	while (n > 0 && is_blank(s[n - 1]))
		n--;
	return n;
}

static void json_u64(struct buf *out, const char *key, uint64_t v, int comma)
{
	buf_printf(out, "%s\"%s\":%llu", comma ? "," : "", key, (unsigned long long)v);
}

/* "expires_in_s": seconds left, or null for a sanction without end. */
static void json_expiry(struct buf *out, uint64_t until, uint64_t now)
{
	if (until == 0)
		buf_puts(out, ",\"expires_in_s\":null");
	else
		json_u64(out, "expires_in_s", (until - now + 999) / 1000, 1);
}

/* Validate an operator's text (say, kick reason, shutdown message); on failure the reply says why.
 */
static int check_text(struct call *c, const char *s, size_t n, enum cmd_status *st)
{
	enum text_status ts = text_check(s, n);

	if (ts == TEXT_OK)
		return 0;
	*st = fail_raw(c, CMD_FAILED, qerr_text(c->lang, QERR_TEXT_INVALID, (int)ts));
	return -1;
}

/* Whether a word names a room: it starts with '#' (what a member's name never does). */
static int is_room_word(const char *w, size_t n)
{
	return n > 0 && w[0] == '#';
}

/*
 * The room a '#' word names; NULL, with the reply saying why (no such
 * room), if none.
 */
static struct channel *room_arg(struct call *c, const char *w, size_t n, enum cmd_status *st)
{
	struct channel *ch = channels_find(c->srv->channels, w, n);
	char e[ECHO_MAX + 4];

	if (ch == NULL)
		*st = fail(c, CMD_FAILED, M_NO_ROOM, echo(w, n, e), NULL);
	return ch;
}

static int is_lobby(const struct call *c, const struct channel *ch)
{
	return ch == channels_default(c->srv->channels);
}

/* The operator speaks in room ch (NULL: the default room, which is everyone). */
static enum cmd_status say_in(struct call *c, struct channel *ch, const char *args, size_t n)
{
	enum cmd_status st;
	char count[24];
	size_t members;

	if (n == 0)
		return usage_of(c, "say [#ROOM] TEXT");
	if (check_text(c, args, n, &st) < 0)
		return st;
	if (ch == NULL)
		ch = channels_default(c->srv->channels);
	members = c->srv->room_size(c->srv->ctx, ch);
	c->srv->room_say(c->srv->ctx, ch, args, n);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true");
		json_u64(c->out, "recipients", members, 1);
		buf_puts(c->out, "}\n");
	} else {
		snprintf(count, sizeof count, "%zu", members);
		say_line(c, M_SENT, count, NULL);
	}
	return CMD_OK;
}

/*
 * say [#ROOM] TEXT: in the room named, or without one in the default
 * room, which everyone is in (so every member hears it once).  A first
 * word that starts with '#' names a room; to say such a word in the
 * default room, name the default room first.
 */
static enum cmd_status cmd_say(struct call *c, const char *args, size_t n)
{
	const char *w, *rest;
	size_t wn, rn;
	struct channel *ch = NULL;
	enum cmd_status st;

	split(args, n, &w, &wn, &rest, &rn);
	if (is_room_word(w, wn)) {
		ch = room_arg(c, w, wn, &st);
		if (ch == NULL)
			return st;
		args = rest;
		n = rn;
	}
	return say_in(c, ch, args, n);
}

/* Member i of room ch (NULL: the default room, everyone). */
static const struct member *member_at(const struct call *c, const struct channel *ch, size_t i)
{
	return ch == NULL ? room_member(c->srv->room, i) : channel_member(ch, i);
}

/* who [#ROOM]: everyone (the default room), or the members of a room. */
static enum cmd_status cmd_who(struct call *c, const char *args, size_t n)
{
	const struct room *r = c->srv->room;
	struct channel *ch = NULL;
	size_t i, count;
	char a[ADDR_STRLEN], num[24];
	enum cmd_status st;

	n = trim_right(args, n);
	if (n != 0 && !is_room_word(args, n))
		return usage_of(c, "who [#ROOM]");
	if (n != 0 && (ch = room_arg(c, args, n, &st)) == NULL)
		return st;
	if (ch != NULL && is_lobby(c, ch))
		ch = NULL;
	count = ch == NULL ? room_count(r) : channel_count(ch);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true");
		if (ch != NULL) {
			buf_puts(c->out, ",\"room\":");
			buf_json_str(c->out, ch->name, strlen(ch->name));
		}
		json_u64(c->out, "count", count, 1);
		buf_puts(c->out, ",\"members\":[");
		for (i = 0; i < count; i++) {
			const struct member *m = member_at(c, ch, i);
			uint64_t idle =
			    c->srv->now > m->last_heard ? c->srv->now - m->last_heard : 0;

			buf_puts(c->out, i ? ",{\"name\":" : "{\"name\":");
			buf_json_str(c->out, m->name, strlen(m->name));
			buf_puts(c->out, ",\"addr\":");
			addr_format(&m->addr, a, sizeof a);
			buf_json_str(c->out, a, strlen(a));
			json_u64(c->out, "idle_s", idle / 1000, 1);
			buf_printf(c->out, ",\"keepalive\":%s,\"muted\":%s}",
			           m->keepalive ? "true" : "false",
			           sanction_is_muted(c->srv->sanctions, m->name, strlen(m->name),
			                             c->srv->now)
			               ? "true"
			               : "false");
		}
		buf_puts(c->out, "]}\n");
		return CMD_OK;
	}
	/* The console's historic format: scripts and tests read it. */
	snprintf(num, sizeof num, "%zu", count);
	if (ch == NULL)
		say_line(c, M_WHO_HEADER, num, NULL);
	else
		say_line(c, M_ROOM_WHO, ch->name, num);
	for (i = 0; i < count; i++) {
		const struct member *m = member_at(c, ch, i);

		buf_printf(c->out, "  %s %s\n", m->name, addr_format(&m->addr, a, sizeof a));
	}
	return CMD_OK;
}

/* rooms: every room, its id, its size, and whether it stays while empty. */
static enum cmd_status cmd_rooms(struct call *c, const char *args, size_t n)
{
	size_t i, count = channels_count(c->srv->channels);
	char num[24];

	(void)args;
	if (trim_right(args, n) != 0)
		return usage_of(c, "rooms");
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true");
		json_u64(c->out, "count", count, 1);
		buf_puts(c->out, ",\"rooms\":[");
	} else {
		snprintf(num, sizeof num, "%zu", count);
		say_line(c, M_ROOMS, num, NULL);
	}
	for (i = 0; i < count; i++) {
		const struct channel *ch = channels_at(c->srv->channels, i);
		size_t size = c->srv->room_size(c->srv->ctx, ch);

		if (c->fmt == CMD_JSON) {
			buf_puts(c->out, i ? ",{\"name\":" : "{\"name\":");
			buf_json_str(c->out, ch->name, strlen(ch->name));
			json_u64(c->out, "id", ch->id, 1);
			json_u64(c->out, "members", size, 1);
			buf_printf(c->out, ",\"permanent\":%s,\"default\":%s}",
			           ch->permanent ? "true" : "false",
			           is_lobby(c, ch) ? "true" : "false");
		} else {
			buf_printf(c->out, "  %s %zu%s\n", ch->name, size,
			           is_lobby(c, ch) ? " *"
			           : ch->permanent ? " +"
			                           : "");
		}
	}
	if (c->fmt == CMD_JSON)
		buf_puts(c->out, "]}\n");
	return CMD_OK;
}

/* One line of history for the operator: text, or a JSON object, as the call asks. */
struct history_out {
	struct call *c;
	int n;
	const char *room; /* export: the room's name on every line */
};

static const char *event_name(int kind)
{
	static const char *const names[] = {"join", "say",   "leave",    "timeout",
	                                    "kick", "admin", "shutdown", "action"};

	return kind >= 0 && (size_t)kind < NELEM(names) ? names[kind] : "other";
}

static void history_line(void *ctx, const struct store_line *l)
{
	struct history_out *h = ctx;
	struct call *c = h->c;
	static char line[8192], safe[8192 * 4 + 1];
	char when[32];
	time_t t = (time_t)(l->at / 1000);
	struct tm tm;
	int k;

	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, h->n++ ? ",{" : "{");
		json_u64(c->out, "id", l->event, 0);
		json_u64(c->out, "at_ms", l->at, 1);
		buf_printf(c->out, ",\"kind\":\"%s\",\"name\":", event_name(l->kind));
		buf_json_str(c->out, l->name, strlen(l->name));
		buf_puts(c->out, ",\"text\":");
		buf_json_str(c->out, l->text, l->text_len);
		buf_puts(c->out, "}");
		return;
	}
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	k = v1_format_event(line, sizeof line, c->lang, (enum room_event)l->kind, l->name, l->text,
	                    l->text_len);
	if (k < 0)
		return;
	text_sanitize(line, (size_t)k, safe, sizeof safe); /* from the network: no raw controls */
	buf_printf(c->out, "  %s %s\n", when, safe);
	h->n++;
}

/* A whole number from 1 to STORE_MAX_GET; -1 for anything else. */
static int parse_count(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < 1 || v > STORE_MAX_GET)
		return -1;
	*out = v;
	return 0;
}

/* history #ROOM [N]: a room's last N lines (20; at most 200), oldest first. */
static enum cmd_status cmd_history(struct call *c, const char *args, size_t n)
{
	const char *w, *rest;
	size_t wn, rn;
	unsigned long count = 20;
	struct channel *ch;
	struct history_out h = {c, 0, NULL};
	enum cmd_status st;
	char num[24];

	split(args, n, &w, &wn, &rest, &rn);
	rn = trim_right(rest, rn);
	snprintf(num, sizeof num, "%.*s", (int)(rn < sizeof num ? rn : sizeof num - 1), rest);
	if (!is_room_word(w, wn) || (rn > 0 && parse_count(num, &count) < 0))
		return usage_of(c, c->lang == LANG_ZH ? "history #聊天室 [条数]"
		                                      : "history #ROOM [N]");
	if ((ch = room_arg(c, w, wn, &st)) == NULL)
		return st;
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"room\":");
		buf_json_str(c->out, ch->name, strlen(ch->name));
		buf_puts(c->out, ",\"lines\":[");
	}
	if (c->srv->history == NULL ||
	    c->srv->history(c->srv->ctx, ch, (unsigned)count, history_line, &h) < 0) {
		if (c->fmt == CMD_JSON)
			buf_reset(c->out);
		return fail(c, CMD_FAILED, M_NO_STORE, NULL, NULL);
	}
	if (c->fmt == CMD_JSON)
		buf_puts(c->out, "]}\n");
	return CMD_OK;
}

/* One line of an export: a JSON object of its own (JSON Lines), whatever the format. */
static void export_line(void *ctx, const struct store_line *l)
{
	struct history_out *h = ctx;
	struct buf *out = h->c->out;

	buf_puts(out, "{\"room\":");
	buf_json_str(out, h->room, strlen(h->room));
	json_u64(out, "id", l->event, 1);
	json_u64(out, "at_ms", l->at, 1);
	buf_printf(out, ",\"kind\":\"%s\",\"name\":", event_name(l->kind));
	buf_json_str(out, l->name, strlen(l->name));
	buf_puts(out, ",\"text\":");
	buf_json_str(out, l->text, l->text_len);
	buf_puts(out, "}\n");
	h->n++;
}

/* export #ROOM: every line of the room, oldest first, as JSON Lines (qunctl export > f). */
static enum cmd_status cmd_export(struct call *c, const char *args, size_t n)
{
	struct history_out h = {c, 0, NULL};
	struct channel *ch;
	enum cmd_status st;

	n = trim_right(args, n);
	if (!is_room_word(args, n))
		return usage_of(c, c->lang == LANG_ZH ? "export #聊天室" : "export #ROOM");
	if ((ch = room_arg(c, args, n, &st)) == NULL)
		return st;
	h.room = ch->name;
	if (c->srv->export_room == NULL ||
	    c->srv->export_room(c->srv->ctx, ch, export_line, &h) < 0) {
		buf_reset(c->out);
		return fail(c, CMD_FAILED, M_NO_STORE, NULL, NULL);
	}
	return CMD_OK;
}

/* purge #ROOM|NAME: forget a room's history, or everything a member said and was told. */
static enum cmd_status cmd_purge(struct call *c, const char *args, size_t n)
{
	struct channel *ch = NULL;
	enum cmd_status st;
	char target[QUN_MAX_NAME + 2], num[24], e[ECHO_MAX + 4];
	int got;

	n = trim_right(args, n);
	if (n == 0 || memchr(args, ' ', n) != NULL)
		return usage_of(c, c->lang == LANG_ZH ? "purge #聊天室|名字" : "purge #ROOM|NAME");
	if (is_room_word(args, n) && (ch = room_arg(c, args, n, &st)) == NULL)
		return st;
	if (ch == NULL && name_check(args, n) != NAME_OK)
		return fail(c, CMD_FAILED, M_BAD_TARGET, echo(args, n, e), NULL);
	snprintf(target, sizeof target, "%.*s", (int)n, args);
	got = c->srv->purge != NULL ? c->srv->purge(c->srv->ctx, ch, ch ? NULL : target) : -1;
	if (got < 0)
		return fail(c, CMD_FAILED, M_NO_STORE, NULL, NULL);
	log_info("the operator purged %d line(s) of %s", got, target);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true");
		json_u64(c->out, "deleted", (uint64_t)got, 1);
		buf_puts(c->out, "}\n");
	} else {
		snprintf(num, sizeof num, "%d", got);
		say_line(c, M_PURGED, num, target);
	}
	return CMD_OK;
}

/* A room's name that fails the rules, with the rule: the reply says why. */
static enum cmd_status bad_room_name(struct call *c, const char *w, size_t n)
{
	char key[CHANNEL_KEY_MAX + 1], e[ECHO_MAX + 4];
	enum name_status why = NAME_OK;

	if (channel_name_check(w, n, key, &why) == CHANNEL_OK)
		why = NAME_TOO_LONG; /* the rules hold, --max-room-name does not */
	return fail(c, CMD_FAILED, M_ROOM_BAD_NAME, echo(w, n, e),
	            qerr_text(c->lang, QERR_ROOM_NAME, (int)why));
}

/* room create #ROOM: a room that stays while empty; room close #ROOM: everyone out, room gone. */
static enum cmd_status cmd_room(struct call *c, const char *args, size_t n)
{
	const char *verb, *w, *rest;
	size_t vn, wn, rn, parted;
	struct channel *ch;
	enum cmd_status st;
	char name[CHANNEL_NAME_MAX + 2], num[24];

	split(args, n, &verb, &vn, &w, &wn);
	wn = trim_right(w, wn);
	split(w, wn, &w, &wn, &rest, &rn);
	if (wn == 0 || rn != 0 ||
	    !((vn == 6 && memcmp(verb, "create", 6) == 0) ||
	      (vn == 5 && memcmp(verb, "close", 5) == 0)))
		return usage_of(c, "room create|close #ROOM");
	if (vn == 6) {
		enum channel_status cs = channels_create(c->srv->channels, w, wn, &ch);

		if (cs == CHANNEL_BAD_NAME)
			return bad_room_name(c, w, wn);
		if (cs == CHANNEL_UNAVAILABLE)
			return fail_raw(c, CMD_FAILED, qerr_text(c->lang, QERR_STORE, 0));
		if (cs != CHANNEL_OK)
			return fail(c, CMD_FAILED, M_ROOMS_FULL, NULL, NULL);
		if (c->srv->room_pinned != NULL)
			c->srv->room_pinned(c->srv->ctx, ch, 1);
		log_info("the operator made %s permanent", ch->name);
		if (c->fmt == CMD_JSON) {
			buf_puts(c->out, "{\"ok\":true,\"room\":");
			buf_json_str(c->out, ch->name, strlen(ch->name));
			json_u64(c->out, "id", ch->id, 1);
			buf_puts(c->out, "}\n");
		} else {
			say_line(c, M_ROOM_CREATED, ch->name, NULL);
		}
		return CMD_OK;
	}
	if ((ch = room_arg(c, w, wn, &st)) == NULL)
		return st;
	if (is_lobby(c, ch))
		return fail(c, CMD_FAILED, M_LOBBY_STAYS, ch->name, NULL);
	snprintf(name, sizeof name, "%s", ch->name);
	parted = c->srv->room_close(c->srv->ctx, ch); /* ch is gone */
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"closed\":");
		buf_json_str(c->out, name, strlen(name));
		json_u64(c->out, "parted", parted, 1);
		buf_puts(c->out, "}\n");
	} else {
		snprintf(num, sizeof num, "%zu", parted);
		say_line(c, M_ROOM_CLOSED, name, num);
	}
	return CMD_OK;
}

/* Remove the member called name[0..n) with an optional reason shown to the room; -1 if absent. */
static int kick_one(struct call *c, const char *name, size_t n, const char *reason, size_t rlen)
{
	struct outcome o;

	if (room_kick(c->srv->room, name, n, &o) < 0)
		return -1;
	o.text = rlen > 0 ? reason : NULL;
	o.text_len = rlen;
	c->srv->deliver(c->srv->ctx, &o);
	return 0;
}

static enum cmd_status cmd_kick(struct call *c, const char *args, size_t n)
{
	const struct member *m;
	const char *name, *reason, *room, *after;
	size_t nn, rn, roomn, an;
	struct channel *ch = NULL;
	char who[QUN_MAX_NAME + 1], e[ECHO_MAX + 4], rname[CHANNEL_NAME_MAX + 2];
	enum cmd_status st;
	int in_room = 0;

	split(args, n, &name, &nn, &reason, &rn);
	rn = trim_right(reason, rn);
	if (nn == 0)
		return usage_of(c, c->lang == LANG_ZH ? "kick 名字 [#聊天室] [理由]"
		                                      : "kick NAME [#ROOM] [REASON]");
	split(reason, rn, &room, &roomn, &after, &an);
	if (is_room_word(room, roomn)) {
		if ((ch = room_arg(c, room, roomn, &st)) == NULL)
			return st;
		reason = after;
		rn = an;
	}
	if (rn > 0 && check_text(c, reason, rn, &st) < 0)
		return st;
	m = room_find_name(c->srv->room, name, nn);
	if (m == NULL)
		return fail(c, CMD_FAILED, M_NO_SUCH, echo(name, nn, e), NULL);
	snprintf(who, sizeof who, "%s", m->name);
	/* The kick may close the room (its last member): keep its name for the reply. */
	snprintf(rname, sizeof rname, "%s", ch != NULL ? ch->name : "");
	if (ch != NULL && !is_lobby(c, ch)) {
		if (c->srv->room_kick(c->srv->ctx, m, ch, reason, rn) < 0)
			return fail(c, CMD_FAILED, M_NOT_IN_ROOM, who, rname);
		in_room = 1;
	} else {
		kick_one(c, name, nn, reason, rn);
	}
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"kicked\":");
		buf_json_str(c->out, who, strlen(who));
		if (rname[0] != '\0') {
			buf_puts(c->out, ",\"room\":");
			buf_json_str(c->out, rname, strlen(rname));
		}
		buf_puts(c->out, "}\n");
	} else if (in_room) {
		say_line(c, M_ROOM_KICKED, who, rname);
	} else {
		say_line(c, M_KICKED, who, NULL);
	}
	return CMD_OK;
}

/* Bans or mutes changed: the server keeps them (history.h), if it keeps anything. */
static void sanctions_changed(const struct call *c)
{
	if (c->srv->sanctions_changed != NULL)
		c->srv->sanctions_changed(c->srv->ctx);
}

/* Parse an optional duration word; 0 = none given.  Fails the call on a bad one. */
static int duration_arg(struct call *c, const char *s, size_t n, uint64_t *ms, enum cmd_status *st)
{
	char e[ECHO_MAX + 4];

	*ms = 0;
	if (n == 0)
		return 0;
	if (sanction_parse_duration(s, n, ms) == 0)
		return 0;
	*st = fail(c, CMD_USAGE, M_BAD_DURATION, echo(s, n, e), NULL);
	return -1;
}

/* The reply for a status of sanction.h that is not success; st for the caller. */
static enum cmd_status sanction_fail(struct call *c, enum sanction_status ss, const char *t,
                                     size_t tn, enum msg not_found)
{
	char e[ECHO_MAX + 4];

	switch (ss) {
	case SANCTION_BAD_ADDR:
		return fail(c, CMD_USAGE, M_BAD_PREFIX, echo(t, tn, e), NULL);
	case SANCTION_FULL:
		return fail(c, CMD_FAILED, M_FULL, NULL, NULL);
	case SANCTION_NOT_FOUND:
		return fail(c, CMD_FAILED, not_found, echo(t, tn, e), NULL);
	case SANCTION_BAD_NAME:
	default:
		return fail(c, CMD_USAGE, M_BAD_TARGET, echo(t, tn, e), NULL);
	}
}

/* Kick every member the ban set now covers; their names are appended to kicked ("a, b"). */
static size_t kick_banned(struct call *c, struct buf *kicked)
{
	const struct room *r = c->srv->room;
	char(*names)[QUN_MAX_NAME + 1];
	size_t i, k = 0, count = room_count(r);

	/* Collect first: each kick reorders the room's member array. */
	names = xcalloc(count ? count : 1, sizeof *names);
	for (i = 0; i < count; i++) {
		const struct member *m = room_member(r, i);

		if (sanction_is_banned(c->srv->sanctions, m->name, strlen(m->name), &m->addr,
		                       c->srv->now))
			snprintf(names[k++], sizeof names[0], "%s", m->name);
	}
	for (i = 0; i < k; i++) {
		kick_one(c, names[i], strlen(names[i]), NULL, 0);
		if (c->fmt == CMD_JSON) {
			if (i > 0)
				buf_puts(kicked, ",");
			buf_json_str(kicked, names[i], strlen(names[i]));
		} else {
			buf_printf(kicked, "%s%s", i > 0 ? ", " : "", names[i]);
		}
	}
	free(names);
	return k;
}

static enum cmd_status cmd_ban(struct call *c, const char *args, size_t n)
{
	const char *t, *d, *extra;
	size_t tn, dn, xn;
	uint64_t ms;
	enum sanction_status ss;
	enum sanction_kind kind = SANCTION_BAN_NAME;
	enum cmd_status st;
	struct buf kicked;
	char dur[32], target[SANCTION_TARGET_MAX];
	size_t nk;

	split(args, n, &t, &tn, &d, &dn);
	split(d, dn, &d, &dn, &extra, &xn);
	if (tn == 0 || xn != 0)
		return usage_of(c, c->lang == LANG_ZH ? "ban 名字|地址 [时长]"
		                                      : "ban NAME|ADDR [DURATION]");
	if (duration_arg(c, d, dn, &ms, &st) < 0)
		return st;
	ss = sanction_ban(c->srv->sanctions, t, tn, c->srv->now, ms, &kind);
	if (ss != SANCTION_OK && ss != SANCTION_UPDATED)
		return sanction_fail(c, ss, t, tn, M_NOT_BANNED);
	sanctions_changed(c);
	/* The target as stored: an address in canonical form, a name as typed. */
	sanction_canonical(t, tn, target, sizeof target);
	buf_init(&kicked, 1 << 20);
	nk = kick_banned(c, &kicked);
	sanction_format_duration(ms, dur, sizeof dur);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"banned\":");
		buf_json_str(c->out, target, strlen(target));
		buf_printf(c->out, ",\"kind\":\"%s\",\"updated\":%s",
		           kind == SANCTION_BAN_ADDR ? "address" : "name",
		           ss == SANCTION_UPDATED ? "true" : "false");
		json_expiry(c->out, ms ? c->srv->now + ms : 0, c->srv->now);
		buf_printf(c->out, ",\"kicked\":[%s]}\n", kicked.data ? kicked.data : "");
	} else {
		if (ms)
			say_line(c, M_BANNED_FOR, target, dur);
		else
			say_line(c, M_BANNED, target, NULL);
		if (nk > 0)
			say_line(c, M_ALSO_KICKED, kicked.data, NULL);
	}
	buf_free(&kicked);
	return CMD_OK;
}

static enum cmd_status cmd_unban(struct call *c, const char *args, size_t n)
{
	const char *t, *extra;
	size_t tn, xn;
	enum sanction_status ss;
	char target[SANCTION_TARGET_MAX];

	split(args, n, &t, &tn, &extra, &xn);
	if (tn == 0 || xn != 0)
		return usage_of(c, c->lang == LANG_ZH ? "unban 名字|地址" : "unban NAME|ADDR");
	ss = sanction_unban(c->srv->sanctions, t, tn, c->srv->now);
	if (ss != SANCTION_OK)
		return sanction_fail(c, ss, t, tn, M_NOT_BANNED);
	sanctions_changed(c);
	sanction_canonical(t, tn, target, sizeof target);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"unbanned\":");
		buf_json_str(c->out, target, strlen(target));
		buf_puts(c->out, "}\n");
	} else {
		say_line(c, M_UNBANNED, target, NULL);
	}
	return CMD_OK;
}

static enum cmd_status cmd_mute(struct call *c, const char *args, size_t n)
{
	const char *t, *d, *extra;
	size_t tn, dn, xn;
	uint64_t ms;
	enum sanction_status ss;
	enum cmd_status st;
	char dur[32], name[QUN_MAX_NAME + 1];

	split(args, n, &t, &tn, &d, &dn);
	split(d, dn, &d, &dn, &extra, &xn);
	if (tn == 0 || xn != 0)
		return usage_of(c,
		                c->lang == LANG_ZH ? "mute 名字 [时长]" : "mute NAME [DURATION]");
	if (duration_arg(c, d, dn, &ms, &st) < 0)
		return st;
	ss = sanction_mute(c->srv->sanctions, t, tn, c->srv->now, ms);
	if (ss != SANCTION_OK && ss != SANCTION_UPDATED)
		return sanction_fail(c, ss, t, tn, M_NOT_MUTED);
	sanctions_changed(c);
	snprintf(name, sizeof name, "%.*s", (int)tn, t);
	sanction_format_duration(ms, dur, sizeof dur);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"muted\":");
		buf_json_str(c->out, name, strlen(name));
		buf_printf(c->out, ",\"updated\":%s", ss == SANCTION_UPDATED ? "true" : "false");
		json_expiry(c->out, ms ? c->srv->now + ms : 0, c->srv->now);
		buf_puts(c->out, "}\n");
	} else if (ms) {
		say_line(c, M_MUTED_FOR, name, dur);
	} else {
		say_line(c, M_MUTED, name, NULL);
	}
	return CMD_OK;
}

static enum cmd_status cmd_unmute(struct call *c, const char *args, size_t n)
{
	const char *t, *extra;
	size_t tn, xn;
	enum sanction_status ss;
	char name[QUN_MAX_NAME + 1];

	split(args, n, &t, &tn, &extra, &xn);
	if (tn == 0 || xn != 0)
		return usage_of(c, c->lang == LANG_ZH ? "unmute 名字" : "unmute NAME");
	ss = sanction_unmute(c->srv->sanctions, t, tn, c->srv->now);
	if (ss != SANCTION_OK)
		return sanction_fail(c, ss, t, tn, M_NOT_MUTED);
	sanctions_changed(c);
	snprintf(name, sizeof name, "%.*s", (int)tn, t);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"unmuted\":");
		buf_json_str(c->out, name, strlen(name));
		buf_puts(c->out, "}\n");
	} else {
		say_line(c, M_UNMUTED, name, NULL);
	}
	return CMD_OK;
}

/* List one kind of sanction, as text lines or as a JSON array. */
static void list_kind(struct call *c, enum sanction_kind kind)
{
	const struct sanctions *s = c->srv->sanctions;
	size_t i, n = sanction_count(s, kind);
	char dur[32], line[128];

	for (i = 0; i < n; i++) {
		const struct sanction *e = sanction_get(s, kind, i);

		if (c->fmt == CMD_JSON) {
			buf_puts(c->out, i ? ",{\"target\":" : "{\"target\":");
			buf_json_str(c->out, e->target, strlen(e->target));
			buf_printf(c->out, ",\"kind\":\"%s\"",
			           kind == SANCTION_BAN_ADDR ? "address" : "name");
			json_expiry(c->out, e->until, c->srv->now);
			buf_puts(c->out, "}");
			continue;
		}
		if (e->until == 0)
			text(c, M_FOREVER, NULL, NULL, line, sizeof line);
		else
			text(c, M_EXPIRES,
			     sanction_format_duration(e->until - c->srv->now, dur, sizeof dur),
			     NULL, line, sizeof line);
		buf_printf(c->out, "  %s (%s)\n", e->target, line);
	}
}

static enum cmd_status cmd_bans(struct call *c, const char *args, size_t n)
{
	struct sanctions *s = c->srv->sanctions;

	(void)args;
	if (n != 0)
		return usage_of(c, "bans");
	sanction_expire(s, c->srv->now);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"bans\":[");
		list_kind(c, SANCTION_BAN_NAME);
		if (sanction_count(s, SANCTION_BAN_NAME) && sanction_count(s, SANCTION_BAN_ADDR))
			buf_puts(c->out, ",");
		list_kind(c, SANCTION_BAN_ADDR);
		buf_puts(c->out, "],\"mutes\":[");
		list_kind(c, SANCTION_MUTE);
		buf_puts(c->out, "]}\n");
		return CMD_OK;
	}
	say_line(c, M_BANS, NULL, NULL);
	if (sanction_count(s, SANCTION_BAN_NAME) + sanction_count(s, SANCTION_BAN_ADDR) == 0)
		say_line(c, M_NONE, NULL, NULL);
	list_kind(c, SANCTION_BAN_NAME);
	list_kind(c, SANCTION_BAN_ADDR);
	say_line(c, M_MUTES, NULL, NULL);
	if (sanction_count(s, SANCTION_MUTE) == 0)
		say_line(c, M_NONE, NULL, NULL);
	list_kind(c, SANCTION_MUTE);
	return CMD_OK;
}

static void stat_line(struct call *c, enum msg m, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	say_line(c, m, num, NULL);
}

/* stats' "trace" object: each stage's count and times (trace.h), in a TRACE=1 build. */
static void json_trace(struct buf *out, const struct cmd_stats *st)
{
	size_t i;

	buf_puts(out, ",\"trace\":{");
	for (i = 0; i < TRACE_STAGES; i++)
		buf_printf(out,
		           "%s\"%s\":{\"n\":%llu,\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu}",
		           i ? "," : "", st->trace[i].name, (unsigned long long)st->trace[i].n,
		           (unsigned long long)st->trace[i].p50_us,
		           (unsigned long long)st->trace[i].p99_us,
		           (unsigned long long)st->trace[i].max_us);
	buf_printf(out, ",\"deferred\":%llu}", (unsigned long long)st->trace_deferred);
}

static enum cmd_status cmd_stats(struct call *c, const char *args, size_t n)
{
	const struct sanctions *s = c->srv->sanctions;
	struct cmd_stats st;
	size_t i, bans, mutes;
	char dur[32];

	(void)args;
	if (n != 0)
		return usage_of(c, "stats");
	memset(&st, 0, sizeof st);
	c->srv->stats(c->srv->ctx, &st);
	sanction_expire(c->srv->sanctions, c->srv->now);
	bans = sanction_count(s, SANCTION_BAN_NAME) + sanction_count(s, SANCTION_BAN_ADDR);
	mutes = sanction_count(s, SANCTION_MUTE);
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true");
		json_u64(c->out, "members", room_count(c->srv->room), 1);
		json_u64(c->out, "uptime_s", st.uptime_ms / 1000, 1);
		json_u64(c->out, "datagrams_in", st.datagrams_in, 1);
		json_u64(c->out, "datagrams_out", st.datagrams_out, 1);
		json_u64(c->out, "send_errors", st.send_errors, 1);
		json_u64(c->out, "retransmissions", st.retransmissions, 1);
		json_u64(c->out, "heap_bytes", st.heap_bytes, 1);
		json_u64(c->out, "udp_wakeups", st.udp_wakeups, 1);
		json_u64(c->out, "rx_pauses", st.rx_pauses, 1);
		json_u64(c->out, "rx_pauses_cut", st.rx_pauses_cut, 1);
		json_u64(c->out, "acks_apart", st.acks_apart, 1);
		buf_puts(c->out, ",\"drops\":{");
		for (i = 0; i < st.ndrops && i < CMD_MAX_DROPS; i++) {
			buf_puts(c->out, i ? "," : "");
			buf_json_str(c->out, st.drops[i].name, strnlen(st.drops[i].name, 24));
			buf_printf(c->out, ":%llu", (unsigned long long)st.drops[i].count);
		}
		buf_puts(c->out, "}");
		json_u64(c->out, "bans", bans, 1);
		json_u64(c->out, "mutes", mutes, 1);
		buf_printf(c->out, ",\"store\":\"%s\"",
		           c->srv->store_state != NULL ? c->srv->store_state : "none");
		if (st.traced)
			json_trace(c->out, &st);
		buf_puts(c->out, "}\n");
		return CMD_OK;
	}
	stat_line(c, M_STATS_MEMBERS, room_count(c->srv->room));
	say_line(c, M_STATS_UPTIME,
	         sanction_format_duration(st.uptime_ms / 1000 * 1000, dur, sizeof dur), NULL);
	stat_line(c, M_STATS_IN, st.datagrams_in);
	stat_line(c, M_STATS_OUT, st.datagrams_out);
	stat_line(c, M_STATS_SEND_ERRORS, st.send_errors);
	stat_line(c, M_STATS_RETRANS, st.retransmissions);
	stat_line(c, M_STATS_HEAP, st.heap_bytes);
	stat_line(c, M_STATS_WAKEUPS, st.udp_wakeups);
	stat_line(c, M_STATS_PAUSES, st.rx_pauses);
	stat_line(c, M_STATS_PAUSES_CUT, st.rx_pauses_cut);
	stat_line(c, M_STATS_ACKS_APART, st.acks_apart);
	say_line(c, M_STATS_DROPS, NULL, NULL);
	for (i = 0; i < st.ndrops && i < CMD_MAX_DROPS; i++)
		buf_printf(c->out, "  %.24s: %llu\n", st.drops[i].name,
		           (unsigned long long)st.drops[i].count);
	stat_line(c, M_STATS_BANS, bans);
	stat_line(c, M_STATS_MUTES, mutes);
	say_line(c, M_STATS_STORE, c->srv->store_state != NULL ? c->srv->store_state : "none",
	         NULL);
	if (st.traced) {
		buf_puts(c->out, "trace (us: n p50 p99 max):\n");
		for (i = 0; i < TRACE_STAGES; i++)
			buf_printf(c->out, "  %s: %llu %llu %llu %llu\n", st.trace[i].name,
			           (unsigned long long)st.trace[i].n,
			           (unsigned long long)st.trace[i].p50_us,
			           (unsigned long long)st.trace[i].p99_us,
			           (unsigned long long)st.trace[i].max_us);
		buf_printf(c->out, "  deferred copies: %llu\n",
		           (unsigned long long)st.trace_deferred);
	}
	return CMD_OK;
}

static enum cmd_status cmd_shutdown(struct call *c, const char *args, size_t n)
{
	struct outcome o;
	enum cmd_status st;

	n = trim_right(args, n);
	if (n > 0) {
		if (check_text(c, args, n, &st) < 0)
			return st;
		room_admin(c->srv->room, args, n, &o);
		c->srv->deliver(c->srv->ctx, &o);
	}
	c->srv->shutdown(c->srv->ctx);
	if (c->fmt == CMD_JSON)
		buf_puts(c->out, "{\"ok\":true,\"shutdown\":true}\n");
	else
		say_line(c, M_SHUTDOWN, NULL, NULL);
	return CMD_OK;
}

static enum cmd_status cmd_help(struct call *c, const char *args, size_t n);

static const struct command commands[] = {
    {"say", cmd_say, "say [#ROOM] TEXT"},
    {"who", cmd_who, "who [#ROOM]"},
    {"kick", cmd_kick, "kick NAME [#ROOM] [REASON]"},
    {"rooms", cmd_rooms, "rooms"},
    {"room", cmd_room, "room create|close #ROOM"},
    {"history", cmd_history, "history #ROOM [N]"},
    {"export", cmd_export, "export #ROOM"},
    {"purge", cmd_purge, "purge #ROOM|NAME"},
    {"ban", cmd_ban, "ban NAME|ADDR [DURATION]"},
    {"unban", cmd_unban, "unban NAME|ADDR"},
    {"mute", cmd_mute, "mute NAME [DURATION]"},
    {"unmute", cmd_unmute, "unmute NAME"},
    {"bans", cmd_bans, "bans"},
    {"stats", cmd_stats, "stats"},
    {"shutdown", cmd_shutdown, "shutdown [MESSAGE]"},
    {"help", cmd_help, "help"},
};

static enum cmd_status cmd_help(struct call *c, const char *args, size_t n)
{
	size_t i;

	(void)args;
	(void)n;
	if (c->fmt == CMD_JSON) {
		buf_puts(c->out, "{\"ok\":true,\"commands\":[");
		for (i = 0; i < NELEM(commands); i++) {
			if (i > 0)
				buf_puts(c->out, ",");
			buf_json_str(c->out, commands[i].synopsis, strlen(commands[i].synopsis));
		}
		buf_puts(c->out, "]}\n");
		return CMD_OK;
	}
	say_line(c, M_HELP, NULL, NULL);
	for (i = 0; i < NELEM(commands); i++)
		buf_printf(c->out, "  %s\n", commands[i].synopsis);
	return CMD_OK;
}

enum cmd_status command_run(const struct cmd_server *srv, const char *line, size_t len,
                            enum cmd_format fmt, struct buf *out)
{
	struct call c = {srv, fmt, fmt == CMD_JSON ? LANG_EN : srv->lang, out};
	const char *w, *args;
	size_t wn, an, i;
	char e[ECHO_MAX + 4];

	split(line, len, &w, &wn, &args, &an);
	for (i = 0; i < NELEM(commands); i++)
		if (strlen(commands[i].name) == wn && memcmp(commands[i].name, w, wn) == 0)
			return commands[i].run(&c, args, an);
	if (wn == 0)
		return fail(&c, CMD_USAGE, M_UNKNOWN, "\"\"", NULL);
	return fail(&c, CMD_USAGE, M_UNKNOWN, echo(w, wn, e), NULL);
}

enum cmd_status command_control(const struct cmd_server *srv, const char *line, size_t len,
                                struct buf *out)
{
	static const char json[] = "--json";
	const char *w, *rest;
	size_t wn, rn;

	split(line, len, &w, &wn, &rest, &rn);
	if (wn == sizeof json - 1 && memcmp(w, json, wn) == 0)
		return command_run(srv, rest, rn, CMD_JSON, out);
	return command_run(srv, line, len, CMD_TEXT, out);
}

enum cmd_status command_console(const struct cmd_server *srv, const char *line, size_t len,
                                struct buf *out)
{
	struct call c = {srv, CMD_TEXT, srv->lang, out};
	const char *w, *args;
	size_t wn, an;
	enum cmd_status st;

	if (len == 0)
		return CMD_OK; /* an empty line at the console is nothing to say */
	if (line[0] != '/') {
		/*
		 * Plain speech, always in the default room (a '#' word is text
		 * here): the operator sees what they typed, so success prints
		 * nothing.
		 */
		st = say_in(&c, NULL, line, len);
		if (st == CMD_OK)
			buf_reset(out);
		return st;
	}
	split(line + 1, len - 1, &w, &wn, &args, &an);
	if (wn == 4 && memcmp(w, "quit", 4) == 0)
		return cmd_shutdown(&c, args, an);
	if (wn == 3 && memcmp(w, "who", 3) == 0 && !is_room_word(args, an))
		return cmd_who(&c, "", 0); /* "/who" ignored its arguments, and still does */
	return command_run(srv, line + 1, len - 1, CMD_TEXT, out);
}
