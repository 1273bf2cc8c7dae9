/* wire1.c - protocol v1 (the lesson's plain-text datagrams): the parser and the formatters. */
#include "wire1.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

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
	if (buf[0] != V1_LOGIN && buf[0] != V1_CHAT && buf[0] != V1_QUIT && buf[0] != V1_PING)
		return V1_UNKNOWN;
	if (len > 1 && buf[1] != ' ')
		return V1_UNKNOWN;

	req->cmd = (enum v1_cmd)buf[0];
	req->text = NULL;
	req->text_len = 0;
	rest = len > 2 ? buf + 2 : buf + len;
	rest_len = len > 2 ? len - 2 : 0;

	if (req->cmd != V1_CHAT) {
		req->name = rest;
		req->name_len = strip_trailing_spaces(rest, rest_len);
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
 * Each line is [the name] + a fixed phrase + [the text], so the table holds
 * only the phrases and no format string ever comes from data.
 */
struct event_shape {
	int with_name, with_text;
	const char *phrase[2]; /* [0] Chinese, [1] English */
};

static const struct event_shape event_shapes[] = {
    [V1_EV_JOIN] = {1, 0, {" 进入了聊天室", " joined the room"}},
    [V1_EV_SAY] = {1, 1, {" 说：", ": "}},
    [V1_EV_LEAVE] = {1, 0, {" 退出了聊天室", " left the room"}},
    [V1_EV_TIMEOUT] = {1, 0, {" 退出了聊天室（超时）", " left the room (timed out)"}},
    [V1_EV_KICK] = {1, 0, {" 被管理员请出了聊天室", " was removed by the admin"}},
    [V1_EV_ADMIN] = {0, 1, {"管理员 说：", "[admin] "}},
    [V1_EV_SHUTDOWN] = {0, 0, {"服务器即将关闭", "the server is shutting down"}},
};

int v1_format_event(char *buf, size_t size, enum lang lang, enum v1_event ev, const char *name,
                    const char *text, size_t text_len)
{
	const struct event_shape *e;
	int n;

	if ((unsigned)ev >= sizeof event_shapes / sizeof event_shapes[0] || size == 0)
		return -1;
	if (text_len > INT_MAX)
		return -1;
	e = &event_shapes[ev];
	if (ev == V1_EV_KICK && text != NULL && text_len > 0)
		/* The operator's reason for a kick, in brackets after the notice. */
		n = snprintf(buf, size, "%s%s%s%.*s%s", name, e->phrase[lang == LANG_ZH ? 0 : 1],
		             lang == LANG_ZH ? "（" : " (", (int)text_len, text,
		             lang == LANG_ZH ? "）" : ")");
	else
		n = snprintf(buf, size, "%s%s%.*s", e->with_name ? name : "",
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

	if (cmd == V1_CHAT) {
		if (text == NULL || pad_to != 0)
			return -1;
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
