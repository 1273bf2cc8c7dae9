/* wire1.c - protocol v1 (the lesson's plain-text datagrams): the parser and the formatters. */
#include "wire1.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"

/* Drop one trailing "\n" or "\r\n", as `nc -u` sends. */
static size_t strip_line_ending(const char *buf, size_t len)
{
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	return len;
}

static size_t strip_trailing_spaces(const char *s, size_t len)
{
	while (len > 0 && s[len - 1] == ' ')
		len--;
	return len;
}

/*
 * W's optional part number: if s[0..len) ends in a space and a number of
 * 1..V1_WHO_MAX_PARTS (no leading zero), store it in *part and return the
 * length of what precedes it, less trailing spaces; else return len and
 * leave *part alone.  Anything else stays in the name, which the name
 * rules then refuse, as they refused it before parts existed.
 */
static size_t split_who_part(const char *s, size_t len, unsigned *part)
{
	size_t at = len;
	unsigned v = 0;

	while (at > 0 && s[at - 1] >= '0' && s[at - 1] <= '9' && len - at < 3)
		at--;
	if (at == len || at == 0 || s[at - 1] != ' ' || s[at] == '0' || len - at > 2)
		return len;
	for (size_t i = at; i < len; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > V1_WHO_MAX_PARTS)
		return len;
	*part = v;
	return strip_trailing_spaces(s, at - 1);
}

enum v1_status v1_parse(const char *buf, size_t len, struct v1_request *req)
{
	const char *rest, *sp;
	size_t rest_len;

	if (len > QUN_MAX_DATAGRAM)
		return V1_TOO_LONG;
	len = strip_line_ending(buf, len);
	if (len == 0)
		return V1_EMPTY;
	if (!utf8_valid(buf, len))
		return V1_BAD_UTF8;
	if (buf[0] != V1_LOGIN && buf[0] != V1_CHAT && buf[0] != V1_QUIT && buf[0] != V1_PING &&
	    buf[0] != V1_WHO && buf[0] != V1_ACTION)
		return V1_UNKNOWN;
	if (len > 1 && buf[1] != ' ')
		return V1_UNKNOWN;

	req->cmd = (enum v1_cmd)buf[0];
	req->text = NULL;
	req->text_len = 0;
	rest = len > 2 ? buf + 2 : buf + len;
	rest_len = len > 2 ? len - 2 : 0;

	req->part = 0;
	if (req->cmd != V1_CHAT && req->cmd != V1_ACTION) {
		req->name = rest;
		req->name_len = strip_trailing_spaces(rest, rest_len);
		if (req->cmd == V1_WHO)
			req->name_len = split_who_part(rest, req->name_len, &req->part);
		return req->name_len == 0 ? V1_NO_NAME : V1_OK;
	}
	sp = memchr(rest, ' ', rest_len);
	req->name = rest;
	req->name_len = sp != NULL ? (size_t)(sp - rest) : rest_len;
	if (req->name_len == 0)
		return V1_NO_NAME;
	if (sp == NULL || sp + 1 == rest + rest_len)
		return V1_NO_TEXT;
	req->text = sp + 1;
	req->text_len = (size_t)(rest + rest_len - req->text);
	return V1_OK;
}

const char *v1_status_str(enum v1_status st)
{
	switch (st) {
	case V1_OK:
		return "ok";
	case V1_EMPTY:
		return "empty datagram";
	case V1_TOO_LONG:
		return "datagram too long";
	case V1_BAD_UTF8:
		return "invalid UTF-8";
	case V1_UNKNOWN:
		return "unknown command";
	case V1_NO_NAME:
		return "missing name";
	case V1_NO_TEXT:
		return "missing text";
	}
	return "unknown status";
}

/*
 * Each line is [a prefix] + [the name] + a fixed phrase + [the text], so
 * the table holds only the fixed parts and no format string ever comes
 * from data.
 */
struct event_shape {
	const char *prefix;
	int with_name, with_text;
	const char *phrase[2]; /* [0] Chinese, [1] English */
};

static const struct event_shape event_shapes[] = {
    [EV_JOIN] = {"", 1, 0, {" 进入了聊天室", " joined the room"}},
    [EV_SAY] = {"", 1, 1, {" 说：", ": "}},
    [EV_LEAVE] = {"", 1, 0, {" 退出了聊天室", " left the room"}},
    [EV_TIMEOUT] = {"", 1, 0, {" 退出了聊天室（超时）", " left the room (timed out)"}},
    [EV_KICK] = {"", 1, 0, {" 被管理员请出了聊天室", " was removed by the admin"}},
    [EV_ADMIN] = {"", 0, 1, {"管理员 说：", "[admin] "}},
    [EV_SHUTDOWN] = {"", 0, 0, {"服务器即将关闭", "the server is shutting down"}},
    [EV_ACTION] = {"* ", 1, 1, {" ", " "}},
};

#define NSHAPES (sizeof event_shapes / sizeof event_shapes[0])

int v1_format_event(char *buf, size_t size, enum lang lang, enum room_event ev, const char *name,
                    const char *text, size_t text_len)
{
	const struct event_shape *e;
	int n;

	if ((unsigned)ev >= NSHAPES || size == 0)
		return -1;
	if (text_len > INT_MAX)
		return -1;
	e = &event_shapes[ev];
	if (ev == EV_KICK && text != NULL && text_len > 0)
		/* The operator's reason for a kick, in brackets after the notice. */
		n = snprintf(buf, size, "%s%s%s%.*s%s", name, e->phrase[lang == LANG_ZH ? 0 : 1],
		             lang == LANG_ZH ? "（" : " (", (int)text_len, text,
		             lang == LANG_ZH ? "）" : ")");
	else
		n = snprintf(buf, size, "%s%s%s%.*s", e->prefix, e->with_name ? name : "",
		             e->phrase[lang == LANG_ZH ? 0 : 1], e->with_text ? (int)text_len : 0,
		             e->with_text ? text : "");
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

int v1_format_request(char *buf, size_t size, enum v1_cmd cmd, const char *name, const char *text,
                      size_t pad_to)
{
	size_t limit = size < QUN_MAX_DATAGRAM + 1 ? size : QUN_MAX_DATAGRAM + 1;
	int n;

	if (cmd == V1_CHAT || cmd == V1_ACTION) {
		if (text == NULL || pad_to != 0)
			return -1;
		n = snprintf(buf, limit, "%c %s %s", (char)cmd, name, text);
	} else if (cmd == V1_WHO && text != NULL) {
		n = snprintf(buf, limit, "%c %s %s", (char)cmd, name, text);
	} else {
		n = snprintf(buf, limit, "%c %s", (char)cmd, name);
	}
	/* cppcheck-suppress knownConditionTrueFalse ; false positive: n is snprintf's, unknown */
	if (n < 0 || (size_t)n >= limit)
		return -1;
	if (pad_to > (size_t)n) {
		if (pad_to >= limit)
			return -1;
		memset(buf + n, ' ', pad_to - (size_t)n);
		n = (int)pad_to;
		buf[n] = '\0';
	}
	return n;
}

/* Whether buf[0..len) starts with the string p. */
static int has_prefix(const char *buf, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(buf, p, n) == 0;
}

static int fill_line(struct v1_line *l, int lang, enum room_event ev, const char *name,
                     size_t name_len, size_t name_at, const char *text, size_t text_len)
{
	if (name != NULL && name_check(name, name_len) != NAME_OK)
		return -1;
	if (text != NULL && text_len == 0)
		return -1;
	l->ev = ev;
	l->lang = lang;
	l->name = name;
	l->name_len = name != NULL ? name_len : 0;
	l->name_at = name_at;
	l->text = text;
	l->text_len = text != NULL ? text_len : 0;
	return 0;
}

/* "* NAME TEXT": the name ends at the first space after the prefix. */
static int parse_action(const char *buf, size_t len, struct v1_line *l)
{
	const struct event_shape *e = &event_shapes[EV_ACTION];
	size_t pre = strlen(e->prefix);
	const char *name = buf + pre, *sp;

	if (!has_prefix(buf, len, e->prefix))
		return -1;
	sp = memchr(name, ' ', len - pre);
	if (sp == NULL)
		return -1;
	return fill_line(l, -1, EV_ACTION, name, (size_t)(sp - name), pre, sp + 1,
	                 (size_t)(buf + len - sp - 1));
}

/* A kick's reason after its notice: "（REASON）" or " (REASON)", as v1_format_event writes it. */
static int parse_kick_reason(const char *buf, size_t name_len, const char *r, size_t rlen, int lang,
                             struct v1_line *l)
{
	const char *open = lang == LANG_ZH ? "（" : " (", *close = lang == LANG_ZH ? "）" : ")";
	size_t ol = strlen(open), cl = strlen(close);

	if (rlen <= ol + cl || !has_prefix(r, rlen, open) || memcmp(r + rlen - cl, close, cl) != 0)
		return -1;
	return fill_line(l, lang, EV_KICK, buf, name_len, 0, r + ol, rlen - ol - cl);
}

/*
 * NAME + phrase [+ text].  A name has no space and every phrase has one,
 * so the first space of the line fixes where the name ends: the phrase's
 * own first space lines up with it.
 */
static int parse_named(const char *buf, size_t len, enum room_event ev, int lang, struct v1_line *l)
{
	const struct event_shape *e = &event_shapes[ev];
	const char *phrase = e->phrase[lang], *sp = memchr(buf, ' ', len), *psp;
	size_t plen = strlen(phrase), name_end, rest;

	psp = strchr(phrase, ' ');
	if (sp == NULL || psp == NULL || (size_t)(sp - buf) < (size_t)(psp - phrase))
		return -1;
	name_end = (size_t)(sp - buf) - (size_t)(psp - phrase);
	if (name_end == 0 || !has_prefix(buf + name_end, len - name_end, phrase))
		return -1;
	rest = len - name_end - plen;
	if (ev == EV_KICK && rest > 0)
		return parse_kick_reason(buf, name_end, buf + name_end + plen, rest, lang, l);
	if (!e->with_text)
		return rest == 0 ? fill_line(l, lang, ev, buf, name_end, 0, NULL, 0) : -1;
	return fill_line(l, lang, ev, buf, name_end, 0, buf + name_end + plen, rest);
}

int v1_parse_event(const char *buf, size_t len, struct v1_line *l)
{
	/* Chat first: see wire1.h for why. */
	static const enum room_event named[] = {EV_SAY, EV_JOIN, EV_LEAVE, EV_TIMEOUT, EV_KICK};
	size_t i;
	int lang;

	if (len == 0 || len > QUN_MAX_DATAGRAM || !utf8_valid(buf, len))
		return -1;
	for (lang = 0; lang < 2; lang++) {
		const char *shut = event_shapes[EV_SHUTDOWN].phrase[lang];
		const char *admin = event_shapes[EV_ADMIN].phrase[lang];

		if (len == strlen(shut) && memcmp(buf, shut, len) == 0)
			return fill_line(l, lang, EV_SHUTDOWN, NULL, 0, 0, NULL, 0);
		if (has_prefix(buf, len, admin))
			return fill_line(l, lang, EV_ADMIN, NULL, 0, 0, buf + strlen(admin),
			                 len - strlen(admin));
	}
	/* "*" is a reserved name, so a line starting "* " is never another event. */
	if (parse_action(buf, len, l) == 0)
		return 0;
	for (i = 0; i < sizeof named / sizeof named[0]; i++)
		for (lang = 0; lang < 2; lang++)
			if (parse_named(buf, len, named[i], lang, l) == 0)
				return 0;
	return -1;
}

static int equals(const char *buf, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(buf, s, len) == 0;
}

int v1_is_refusal(const char *buf, size_t len)
{
	int err, detail, lang;

	if (equals(buf, len, V1_REPLY_ERR))
		return 1;
	for (lang = LANG_ZH; lang <= LANG_EN; lang++) {
		for (err = QERR_NONE + 1; err < QERR_COUNT; err++) {
			int details = err == QERR_NAME_INVALID   ? NAME_RESERVED
			              : err == QERR_TEXT_INVALID ? TEXT_CONTROL
			                                         : 0;

			for (detail = 0; detail <= details; detail++)
				if (equals(buf, len,
				           qerr_text((enum lang)lang, (enum qerr)err, detail)))
					return 1;
		}
	}
	return 0;
}

/* A part holds names while a space and the name still fit in the budget. */
static size_t pack_part(const char *const *names, size_t count, size_t from)
{
	size_t used = 0, i;

	if (count > V1_WHO_MAX_NAMES)
		count = V1_WHO_MAX_NAMES;
	for (i = from; i < count; i++) {
		size_t cost = 1 + strlen(names[i]);

		if (used + cost > V1_WHO_BUDGET)
			break;
		used += cost;
	}
	return i;
}

unsigned v1_who_parts(const char *const *names, size_t count)
{
	size_t from = 0, lim = count < V1_WHO_MAX_NAMES ? count : V1_WHO_MAX_NAMES;
	unsigned parts = 0;

	do {
		from = pack_part(names, count, from);
		parts++;
		/* cppcheck-suppress knownConditionTrueFalse ; false positive: pack_part advances
		 * from */
	} while (from < lim && parts < V1_WHO_MAX_PARTS);
	return parts;
}

int v1_format_who(char *buf, size_t size, unsigned part, unsigned parts, unsigned long total,
                  const char *const *names, size_t count, size_t *next)
{
	size_t end, i, limit = size < QUN_MAX_DATAGRAM + 1 ? size : QUN_MAX_DATAGRAM + 1;
	int n;

	if (part < 1 || part > parts || parts > V1_WHO_MAX_PARTS || size == 0)
		return -1;
	n = snprintf(buf, limit, "WHO %u/%u %lu", part, parts, total);
	/* cppcheck-suppress knownConditionTrueFalse ; false positive: n is snprintf's, unknown */
	if (n < 0 || (size_t)n >= limit || n > V1_WHO_HEADER_MAX)
		return -1;
	end = pack_part(names, count, *next);
	for (i = *next; i < end; i++) {
		size_t k = strlen(names[i]);

		if ((size_t)n + 1 + k >= limit)
			return -1;
		buf[n++] = ' ';
		memcpy(buf + n, names[i], k);
		n += (int)k;
	}
	buf[n] = '\0';
	*next = end;
	return n;
}

int v1_format_who_part(char *buf, size_t size, size_t max, unsigned part, unsigned long total,
                       const char *const *names, size_t count)
{
	unsigned parts = v1_who_parts(names, count), k;
	size_t from = 0, end, i;
	int n;

	if (part < 1 || part > parts || size < QUN_MAX_DATAGRAM + 1)
		return -1;
	if (max > QUN_MAX_DATAGRAM)
		max = QUN_MAX_DATAGRAM;
	for (k = 1; k < part; k++)
		from = pack_part(names, count, from);
	end = pack_part(names, count, from);
	n = snprintf(buf, size, "WHO %u/%u %lu", part, parts, total);
	/* cppcheck-suppress knownConditionTrueFalse ; false positive: n is snprintf's, unknown */
	if (n < 0 || (size_t)n > max)
		return -1;
	for (i = from; i < end; i++) {
		size_t len = strlen(names[i]);

		if ((size_t)n + 1 + len > max)
			break;
		buf[n++] = ' ';
		memcpy(buf + n, names[i], len);
		n += (int)len;
	}
	buf[n] = '\0';
	return n;
}

/* A decimal number of 1..9 digits at *p; advances *p past it. */
static int parse_num(const char **p, const char *end, unsigned long *v)
{
	const char *s = *p;

	*v = 0;
	while (s < end && *s >= '0' && *s <= '9' && s - *p < 9)
		*v = *v * 10 + (unsigned long)(*s++ - '0');
	if (s == *p || (s < end && *s >= '0' && *s <= '9'))
		return -1;
	*p = s;
	return 0;
}

int v1_parse_who(const char *buf, size_t len, struct v1_who *w)
{
	const char *p = buf + 4, *end = buf + len;
	unsigned long part, parts, total;

	if (len > QUN_MAX_DATAGRAM || !has_prefix(buf, len, "WHO "))
		return -1;
	if (parse_num(&p, end, &part) < 0 || p == end || *p++ != '/' ||
	    parse_num(&p, end, &parts) < 0 || p == end || *p++ != ' ' ||
	    parse_num(&p, end, &total) < 0)
		return -1;
	if (part < 1 || part > parts || parts > V1_WHO_MAX_PARTS)
		return -1;
	if (p < end && *p++ != ' ')
		return -1;
	w->part = (unsigned)part;
	w->parts = (unsigned)parts;
	w->total = total;
	w->names = p;
	w->names_len = (size_t)(end - p);
	return 0;
}
