/* i18n.h - the user-visible texts of qund and qun in Chinese and English. */
#ifndef QUN_I18N_H
#define QUN_I18N_H

#include <stddef.h>

enum lang { LANG_ZH = 0, LANG_EN = 1 };

/*
 * Parse "zh" or "en" (a locale such as "zh_CN.UTF-8" also works).  Returns
 * 0 and sets *out, or -1 for anything else.
 */
int lang_parse(const char *s, enum lang *out);

/* The language of the environment: LC_ALL, LC_MESSAGES, LANG in that order; zh* is Chinese. */
enum lang lang_from_env(void);

/* Why the server refused a request: one code per reason a user can act on. */
enum qerr {
	QERR_NONE = 0,
	QERR_NAME_TAKEN,   /* someone else has this name */
	QERR_NAME_INVALID, /* detail: enum name_status */
	QERR_OTHER_NAME,   /* this address is logged in under another name */
	QERR_ROOM_FULL,
	QERR_TEXT_INVALID, /* detail: enum text_status */
	QERR_TOO_LONG,     /* datagram over QUN_MAX_DATAGRAM bytes */
	QERR_BAD_REQUEST,  /* unknown command or missing field */
	QERR_FLOOD,        /* over the flood-control rate */
	QERR_TOO_MANY,     /* too many members from this IP address */
	QERR_BANNED,       /* the operator banned this name or address */
	QERR_MUTED,        /* the operator muted this name */
	QERR_V1_BUSY,      /* v1 only: the v1 members' cap or login rate (room_join_v1) */
	/* Rooms and private messages (docs/ROOMS.md). */
	QERR_NO_SUCH_ROOM,   /* no room by that name or id */
	QERR_ROOM_LIMIT,     /* you are in as many rooms as a member may be */
	QERR_TOO_MANY_ROOMS, /* the server has as many rooms as it may */
	QERR_ROOM_NAME,      /* detail: enum name_status (0: the '#' is missing) */
	QERR_NOT_ONLINE,     /* a private message to a name nobody online has */
	QERR_NO_PRIVATE,     /* a private message to a member whose client cannot show it */
	QERR_NOT_IN_ROOM,    /* saying in, parting or asking about a room you are not in */
	QERR_ROOM_CLOSED,    /* the operator closed a room you were in */
	QERR_LOBBY_STAYS,    /* the default room is left only by leaving the server */
	QERR_STORE,          /* the server's store fails: no new room for now (history.h) */
	QERR_KEPT,           /* not a refusal: a private line kept for a member who is away */
	QERR_COUNT
};

/*
 * The full human-readable reason for err (with detail where the code has
 * one), in lang.  Never NULL.
 */
const char *qerr_text(enum lang lang, enum qerr err, int detail);

/* Fixed texts shown by the programs themselves (not sent on the wire). */
enum ui_text {
	UI_ASK_NAME, /* 请输入姓名： */
	UI_WELCOME,  /* %s = name */
	UI_NO_REPLY, /* %s = host, %s = port */
	UI_REFUSED,  /* %s = reason */
	UI_QUIT_UNCONFIRMED,
	UI_SERVER_CLOSED,
	UI_KICKED,
	UI_TOO_LONG,  /* %s = length, %s = limit */
	UI_BAD_INPUT, /* %s = reason */
	UI_HELP,
	UI_UNKNOWN_CMD, /* %s = command */
	UI_LEFT,
	UI_RECONNECTING,
	UI_RECONNECTED,
	UI_NOTICE,      /* %s = the server's reason */
	UI_WHO,         /* %s = count, %s = names */
	UI_WHO_PARTIAL, /* %s = count, %s = names */
	UI_WHO_NO_REPLY,
	UI_ME_USAGE,
	UI_NET_DIED,
	UI_LOST,           /* %s = how many */
	UI_LEGACY_WARNING, /* qund --legacy: what protocol v1 exposes */
	/* Rooms and private messages (docs/ROOMS.md). */
	UI_NO_ROOMS,
	UI_JOIN_USAGE,
	UI_PART_USAGE,
	UI_ROOMS_USAGE,
	UI_WHO_USAGE,
	UI_MSG_USAGE,
	UI_REPLY_USAGE,
	UI_NO_REPLY_TO,
	UI_NOT_IN_ROOM,     /* %s = room */
	UI_BAD_ROOM,        /* %s = reason */
	UI_ROOM_JOINED,     /* %s = room, %s = members */
	UI_ROOM_PARTED,     /* %s = room */
	UI_ROOMS_MINE,      /* %s = rooms */
	UI_ROOMS_ALL,       /* %s = rooms */
	UI_ROOM_LOST,       /* %s = room */
	UI_UNSENT,          /* %s = room: could not rejoin it */
	UI_UNSENT_GONE,     /* %s = room: left before it went */
	UI_UNSENT_NO_ROOMS, /* %s = member: a private message the new server cannot take */
	UI_UNSENT_QUIT,     /* %s = room or member: the session ended first */
	UI_UNSENT_JOIN,     /* %s = room: typed after a /join of it that failed */
	UI_ROOMS_FULL,      /* %s = room, %s = how many rooms qun keeps */
	UI_NO_ANSWER,       /* %s = the command ("/join #dev") */
	UI_PRIVATE_FROM,    /* %s = sender (first: the UI colours it), %s = text */
	UI_PRIVATE_TO,      /* %s = recipient (first), %s = text */
	UI_PRIVATE_STORED,  /* %s = when, %s = sender (the UI colours it), %s = text */
	UI_HISTORY_MARK,    /* %s = when: the mark before a line of history */
	UI_HISTORY_END,     /* after the lines of history shown on joining */
	UI_HISTORY_NONE,    /* the server keeps no history */
	UI_HISTORY_UNAVAILABLE,
	UI_HISTORY_START, /* nothing earlier is kept */
	UI_HISTORY_USAGE,
	UI_SEARCH_USAGE,
	UI_SEARCH_FOUND, /* %s = how many */
	UI_COUNT
};

/*
 * The UI texts carry "%s" placeholders (never other printf directives):
 * ui_format copies tmpl to out, replacing the first "%s" with a and the
 * second with b (NULL counts as ""), cut to fit size and NUL-terminated.
 * Texts are not printf formats so that no format string ever depends on
 * the language.  Returns the length written.
 */
const char *ui_text(enum lang lang, enum ui_text t);
size_t ui_format(char *out, size_t size, const char *tmpl, const char *a, const char *b);

#endif
