/* wire1.h - protocol v1 (the lesson's plain-text datagrams): parse and format. Pure. */
#ifndef QUN_WIRE1_H
#define QUN_WIRE1_H

#include <stddef.h>

#include "common/i18n.h"
#include "common/sizes.h"
#include "events.h"

/* Client-to-server commands (docs/PROTOCOL.md, "Requests"). */
enum v1_cmd {
	V1_LOGIN = 'L', /* L name */
	V1_CHAT = 'C',  /* C name text */
	V1_QUIT = 'Q',  /* Q name */
	V1_PING = 'P',  /* P name: keepalive, no reply */
	/* Extensions (docs/PROTOCOL.md, "Extensions"). */
	V1_WHO = 'W',    /* W name: who is online, answered with WHO datagrams */
	V1_ACTION = 'A', /* A name text: an action (/me), relayed as "* NAME TEXT" */
};

enum v1_status {
	V1_OK = 0,
	V1_EMPTY,    /* nothing but an optional line ending */
	V1_TOO_LONG, /* more than QUN_MAX_DATAGRAM bytes */
	V1_BAD_UTF8, /* the datagram is not valid UTF-8 */
	V1_UNKNOWN,  /* not one of L, C, Q, P, W, A followed by a space */
	V1_NO_NAME,  /* command without a name */
	V1_NO_TEXT,  /* C without text */
};

/* A parsed request.  name and text point into the caller's buffer. */
struct v1_request {
	enum v1_cmd cmd;
	const char *name;
	size_t name_len;
	const char *text; /* C and A only; NULL otherwise */
	size_t text_len;
	unsigned part; /* W only: the part of the answer asked for, 1..V1_WHO_MAX_PARTS; else 0 */
};

/*
 * Parse one datagram buf[0..len).  One trailing "\n" or "\r\n" is ignored
 * (what `nc -u` sends).  For L, Q, P and W the name is everything after
 * the command and its space, less trailing spaces (padding), so "L al ice"
 * yields the name "al ice", which the name rules then refuse; for C and A
 * the name ends at the first space after it and the text is everything
 * after that space, kept byte for byte.  W may end in a part number (1 to
 * V1_WHO_MAX_PARTS, in decimal without leading zeros, after a space and
 * before the padding): "W alice 3" asks for part 3 of alice's answer; a
 * last word that is not such a number stays in the name, as before.  Name
 * and text rules are not applied here: see text.h.  On any status but
 * V1_OK, *req is unspecified.
 */
enum v1_status v1_parse(const char *buf, size_t len, struct v1_request *req);

/* Short English description of a status, for logs and tests. */
const char *v1_status_str(enum v1_status st);

/*
 * Format event ev about name (and text, for SAY, ADMIN, ACTION, and KICK's reason) in lang into
 * buf.  Returns the length (no NUL is counted; one is written), or -1 if
 * it does not fit in size bytes.
 */
int v1_format_event(char *buf, size_t size, enum lang lang, enum room_event ev, const char *name,
                    const char *text, size_t text_len);

/* The fixed replies. */
#define V1_REPLY_OK   "OK"
#define V1_REPLY_EXIT "EXIT"
/* Sent instead of a refusal that would be larger than the request (docs/PROTOCOL.md). */
#define V1_REPLY_ERR "ERR"

/*
 * Format a request "CMD name[ text]" into buf, padded with trailing spaces
 * to at least pad_to bytes (0 for none; C and A, which carry text, may not
 * be padded).  For W, text is the part asked for, in decimal, or NULL.
 * Returns the length, or -1 if it does not fit in size bytes or
 * QUN_MAX_DATAGRAM.
 */
int v1_format_request(char *buf, size_t size, enum v1_cmd cmd, const char *name, const char *text,
                      size_t pad_to);

/*
 * Extensions, client side: recognising what the server sends.
 *
 * v1_parse_event recognises an event line of the table in
 * docs/PROTOCOL.md, in either language (a client does not know the
 * server's), plus the ACTION extension.  The name must pass the name rules
 * and the text of SAY, ADMIN and ACTION must not be empty.  Where v1 is
 * ambiguous (English "a: joined the room" is "a" saying "joined the room",
 * or the join of a member named "a:"), chat wins, so that no member can
 * make their words look like a system notice.
 * Returns 0 and fills *l, or -1 for any other line (OK, EXIT, a refusal, a
 * WHO answer, invalid UTF-8, anything unknown).
 */
struct v1_line {
	enum room_event ev;
	const char *name; /* NULL for ADMIN and SHUTDOWN */
	size_t name_len;
	size_t name_at;   /* where name starts in the line */
	const char *text; /* SAY, ADMIN, ACTION; NULL otherwise */
	size_t text_len;
	int lang; /* the language it is in (enum lang), or -1 for ACTION, which has none */
};
int v1_parse_event(const char *buf, size_t len, struct v1_line *l);

/* Returns 1 if buf[0..len) is one of the server's refusals (either language) or ERR, else 0. */
int v1_is_refusal(const char *buf, size_t len);

/*
 * The WHO answer (extension): "WHO PART/PARTS TOTAL NAME NAME ...", one or
 * more datagrams of at most QUN_MAX_DATAGRAM bytes.  TOTAL counts the
 * room; at most V1_WHO_MAX_NAMES names are listed, in at most
 * V1_WHO_MAX_PARTS parts.  The names fill each part greedily, in order,
 * within V1_WHO_BUDGET bytes (a space and the name each), so the number of
 * parts is known before the first is sent.
 */
#define V1_WHO_MAX_NAMES  1024
#define V1_WHO_MAX_PARTS  64
#define V1_WHO_HEADER_MAX 30 /* "WHO 64/64 " and a 20-digit total */
#define V1_WHO_BUDGET     (QUN_MAX_DATAGRAM - V1_WHO_HEADER_MAX)

/* Number of parts (at least 1) for names[0..count); names past V1_WHO_MAX_NAMES are not counted. */
unsigned v1_who_parts(const char *const *names, size_t count);

/*
 * Format part `part` of `parts` into buf, taking names from names[*next]
 * on and advancing *next past those it took.  Call it for parts 1..parts
 * in order, starting with *next = 0.  Returns the length, or -1 if the
 * part numbers are out of range or buf is too small.
 */
int v1_format_who(char *buf, size_t size, unsigned part, unsigned parts, unsigned long total,
                  const char *const *names, size_t count, size_t *next);

/*
 * Format part `part` alone (1-based, as v1_format_who would number it),
 * in at most `max` bytes: the part's own names, less those at its end
 * that would pass `max`.  This is how qund answers one W without ever
 * sending more than a multiple of the request's size.  buf must hold
 * QUN_MAX_DATAGRAM + 1 bytes.  Returns the length, or -1 if part is not
 * in 1..v1_who_parts(names, count) or not even the header fits in max.
 */
int v1_format_who_part(char *buf, size_t size, size_t max, unsigned part, unsigned long total,
                       const char *const *names, size_t count);

struct v1_who {
	unsigned part, parts;
	unsigned long total;
	const char *names; /* space-separated, possibly empty */
	size_t names_len;
};

/* Parse a WHO answer.  Returns 0, or -1 if buf is not a well-formed one. */
int v1_parse_who(const char *buf, size_t len, struct v1_who *w);

#endif
