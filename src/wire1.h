/* wire1.h - protocol v1 (the lesson's plain-text datagrams): parse and format. Pure. */
#ifndef QUN_WIRE1_H
#define QUN_WIRE1_H

#include <stddef.h>

#include "i18n.h"
#include "sizes.h"

/* Client-to-server commands (docs/PROTOCOL.md, "Requests"). */
enum v1_cmd {
	V1_LOGIN = 'L', /* L name */
	V1_CHAT = 'C',  /* C name text */
	V1_QUIT = 'Q',  /* Q name */
	V1_PING = 'P',  /* P name: keepalive, no reply */
};

enum v1_status {
	V1_OK = 0,
	V1_EMPTY,    /* nothing but an optional line ending */
	V1_TOO_LONG, /* more than QUN_MAX_DATAGRAM bytes */
	V1_BAD_UTF8, /* the datagram is not valid UTF-8 */
	V1_UNKNOWN,  /* not one of L, C, Q, P followed by a space */
	V1_NO_NAME,  /* command without a name */
	V1_NO_TEXT,  /* C without text */
};

/* A parsed request.  name and text point into the caller's buffer. */
struct v1_request {
	enum v1_cmd cmd;
	const char *name;
	size_t name_len;
	const char *text; /* C only; NULL otherwise */
	size_t text_len;
};

/*
 * Parse one datagram buf[0..len).  One trailing "\n" or "\r\n" is ignored
 * (what `nc -u` sends).  For L, Q and P the name is everything after the
 * command and its space, less trailing spaces (padding), so "L al ice"
 * yields the name "al ice", which the name rules then refuse; for C the
 * name ends at the first space after it and the text is everything after
 * that space, kept byte for byte.  Name and text rules are not applied
 * here: see text.h.  On any status but V1_OK, *req is unspecified.
 */
enum v1_status v1_parse(const char *buf, size_t len, struct v1_request *req);

/* Short English description of a status, for logs and tests. */
const char *v1_status_str(enum v1_status st);

/* The server's lines to clients (docs/PROTOCOL.md, "Replies and events"). */
enum v1_event {
	V1_EV_JOIN,     /* NAME 进入了聊天室 */
	V1_EV_SAY,      /* NAME 说：TEXT */
	V1_EV_LEAVE,    /* NAME 退出了聊天室 */
	V1_EV_TIMEOUT,  /* NAME 退出了聊天室（超时） */
	V1_EV_KICK,     /* NAME 被管理员请出了聊天室, or ...（REASON） given a text */
	V1_EV_ADMIN,    /* 管理员 说：TEXT */
	V1_EV_SHUTDOWN, /* 服务器即将关闭 */
};

/*
 * Format event ev about name (and text, for SAY and ADMIN) in lang into
 * buf.  Returns the length (no NUL is counted; one is written), or -1 if
 * it does not fit in size bytes.
 */
int v1_format_event(char *buf, size_t size, enum lang lang, enum v1_event ev, const char *name,
                    const char *text, size_t text_len);

/* The fixed replies. */
#define V1_REPLY_OK   "OK"
#define V1_REPLY_EXIT "EXIT"
/* Sent instead of a refusal that would be larger than the request (docs/PROTOCOL.md). */
#define V1_REPLY_ERR "ERR"

/*
 * Format a request "CMD name[ text]" into buf, padded with trailing spaces
 * to at least pad_to bytes (0 for none; only L, Q, P may be padded).
 * Returns the length, or -1 if it does not fit in size bytes or
 * QUN_MAX_DATAGRAM.
 */
int v1_format_request(char *buf, size_t size, enum v1_cmd cmd, const char *name, const char *text,
                      size_t pad_to);

#endif
