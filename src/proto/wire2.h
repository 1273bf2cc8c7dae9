/* wire2.h - protocol v2 datagrams and reliable messages: parse and encode. Pure; see
 * docs/PROTOCOL-v2.md. */
#ifndef QUN_WIRE2_H
#define QUN_WIRE2_H

#include <stddef.h>
#include <stdint.h>

#include "common/sizes.h"

#define V2_MAGIC       0xFE
#define V2_VERSION     2
#define V2_COOKIE_LEN  16
#define V2_SESSION_HDR 23 /* header + session id + seq + ack + ack bits */
#define V2_CHECK_LEN   4  /* CRC-32 trailer on every datagram */
#define V2_MAX_BODY    (QUN_MAX_DATAGRAM - V2_CHECK_LEN) /* a datagram less its trailer */
#define V2_MAX_PAYLOAD (V2_MAX_BODY - V2_SESSION_HDR)    /* largest DATA payload */
#define V2_MAX_TEXT    QUN_MAX_TEXT_V2 /* longest message, split over several DATA */
#define V2_MORE        0x01            /* SAY/EVENT flag: the text continues in the next DATA */
#define V2_ID          0x02            /* SAY/ME/TELL flag: a 4-byte message id follows the flags */
#define V2_ROOM        0x04            /* SAY/ME flag: a 4-byte room id follows (docs/ROOMS.md) */
/*
 * WELCOME's last field: the longest message in its low 12 bits, the
 * server's features in its high 4 (a server older than the features
 * sends them all clear, and a client older than them ignores the field).
 */
#define V2_MAX_MESSAGE_MASK 0x0FFF
#define V2_FEATURES_SHIFT   12
#define V2_FEATURES_ALL     0xF
#define V2_F_MSG_ID         0x1 /* takes SAY/ME with V2_ID and shows each id once */
#define V2_F_ROOMS          0x2 /* has rooms and private messages (docs/ROOMS.md) */
#define V2_F_HISTORY        0x4 /* keeps history: takes HISTORY (docs/HISTORY.md) */
#define V2_LOBBY            1   /* the default room's id: every server's first room */
/*
 * How far behind the last id taken a message id still counts as one taken
 * before (serial arithmetic): a client re-sends at most what it had in
 * flight, fewer messages than the send window's 33 DATA.
 */
#define V2_ID_WINDOW 64

enum v2_type {
	V2_HELLO = 0x01,
	V2_COOKIE = 0x02,
	V2_LOGIN = 0x03,
	V2_WELCOME = 0x04,
	V2_REFUSE = 0x05,
	V2_DATA = 0x10,
	V2_ACK = 0x11,
	V2_PING = 0x12,
	V2_CLOSE = 0x13,
	V2_CHALLENGE = 0x14,
	V2_REBIND = 0x15,
};

enum v2_close_reason {
	V2_CLOSE_UNKNOWN = 0,
	V2_CLOSE_QUIT = 1,
	V2_CLOSE_KICKED = 2,
	V2_CLOSE_TIMEOUT = 3,
	V2_CLOSE_SHUTDOWN = 4,
	V2_CLOSE_SLOW = 5,
};

/* One datagram, parsed.  Pointers point into the caller's buffer. */
struct v2_packet {
	enum v2_type type;
	uint64_t nonce;                /* HELLO COOKIE LOGIN WELCOME REFUSE */
	uint64_t sid;                  /* WELCOME and session types */
	uint8_t cookie[V2_COOKIE_LEN]; /* COOKIE LOGIN CHALLENGE REBIND */
	const char *name;              /* LOGIN */
	size_t name_len;
	uint16_t keepalive, max_message; /* WELCOME; max_message <= V2_MAX_MESSAGE_MASK */
	uint8_t features;                /* WELCOME: V2_F_* (<= V2_FEATURES_ALL) */
	uint8_t code, detail;            /* REFUSE; code is also CLOSE's reason */
	const char *reason;              /* REFUSE */
	size_t reason_len;
	uint32_t seq, ack, ack_bits; /* DATA ACK PING */
	const uint8_t *payload;      /* DATA */
	size_t payload_len;
};

enum v2_status {
	V2_OK = 0,
	V2_NOT_V2, /* first byte is not the magic: maybe v1 */
	V2_BAD_VERSION,
	V2_BAD_TYPE,
	V2_BAD_LENGTH, /* too short for its type, or trailing bytes */
	V2_TOO_LONG,   /* over QUN_MAX_DATAGRAM */
	V2_BAD_FIELD,  /* DATA with seq 0, ACK/PING with seq != 0, empty DATA */
};

/* Returns 1 if the datagram claims to be v2 (its first byte is the magic). */
int v2_is_v2(const uint8_t *buf, size_t len);

/* Parse one datagram.  On any status but V2_OK, *p is unspecified. */
enum v2_status v2_parse(const uint8_t *buf, size_t len, struct v2_packet *p);

/*
 * Encode p (the fields its type uses) into buf.  Returns the length, or 0
 * if it would not fit in size bytes or in V2_MAX_BODY (room is left for
 * the trailer that v2_seal adds).
 */
size_t v2_encode(const struct v2_packet *p, uint8_t *buf, size_t size);

/*
 * The integrity trailer.  Every v2 datagram on the wire is a body (what
 * v2_encode makes and v2_parse reads) followed by the CRC-32 of the body,
 * big-endian, so that a datagram damaged on the way (a bit flip the UDP
 * checksum missed, a truncation) is dropped instead of shown or obeyed.
 * v2_seal appends it to buf[0..n) (size is buf's size) and returns the new
 * length, or 0 if it does not fit.  v2_unseal checks it and returns the
 * body's length, or 0 if the datagram is too short or damaged.
 */
size_t v2_seal(uint8_t *buf, size_t n, size_t size);
size_t v2_unseal(const uint8_t *buf, size_t n);

const char *v2_status_str(enum v2_status st);

/* Reliable message kinds (the first byte of a DATA payload). */
enum v2_kind {
	V2_K_SAY = 0x01,
	V2_K_QUIT = 0x02,
	V2_K_ME = 0x03,  /* an action ("/me waves"): like SAY, relayed as event ACTION */
	V2_K_WHO = 0x04, /* who is online (in a room)? answered with MEMBERS */
	/* Rooms and private messages (docs/ROOMS.md): only to a server with V2_F_ROOMS. */
	V2_K_JOIN = 0x05,  /* join (and make) a room by name: answered with ROOM */
	V2_K_PART = 0x06,  /* leave a room by id: answered with ROOM */
	V2_K_ROOMS = 0x07, /* my rooms, or every room (V2_ROOMS_ALL); also "I know rooms" */
	V2_K_TELL = 0x08,  /* a private message to one member, by name */
	/* History (docs/HISTORY.md): only to a server with V2_F_HISTORY. */
	V2_K_HISTORY = 0x09, /* a room's lines around an event id: answered with HLINE... HEND */
	V2_K_SEARCH = 0x0A,  /* lines of my rooms with every word: HLINE... HEND (room 0) */
	V2_K_EVENT = 0x81,
	V2_K_NOTICE = 0x82,
	V2_K_MEMBERS = 0x83, /* the answer to WHO, in as many pieces as it takes */
	V2_K_REVENT = 0x84,  /* EVENT in a room: a room id before EVENT's fields */
	V2_K_ROOM = 0x85,    /* rooms: the answer to JOIN, PART and ROOMS */
	V2_K_PRIVATE = 0x86, /* a private message to us */
	V2_K_HLINE = 0x87,   /* a line of history: REVENT with the time it was said */
	V2_K_HEND = 0x88,    /* the end of a HISTORY answer */
};

/* HISTORY's `what`: which lines (IRCv3 chathistory's LATEST, BEFORE, AFTER). */
enum v2_history_what { V2_HIST_LATEST = 0, V2_HIST_BEFORE = 1, V2_HIST_AFTER = 2, V2_HIST_COUNT };
#define V2_HISTORY_MAX 200 /* lines one HISTORY is answered with, at most */
/* HEND flags. */
#define V2_HEND_START       0x01 /* nothing older is kept: the room's beginning */
#define V2_HEND_UNAVAILABLE 0x02 /* the server keeps no history, or cannot read it now */
/* PRIVATE flag: kept while we were away; the time it was said (8) follows the flags. */
#define V2_STORED 0x02

/* ROOMS flags. */
#define V2_ROOMS_ALL     0x01 /* every room on the server, not only mine */
#define V2_ROOMS_HISTORY 0x02 /* I know HISTORY and PRIVATE's STORED: give me what was kept */
/* A ROOM answer lists at most this many rooms (the oldest first), as MEMBERS does names. */
#define V2_ROOMS_LIST_MAX 1024

/* ROOM's `what`: why these rooms are listed. */
enum v2_room_what {
	V2_ROOM_MINE = 0,   /* the answer to ROOMS: the rooms I am in */
	V2_ROOM_ALL = 1,    /* the answer to ROOMS with V2_ROOMS_ALL */
	V2_ROOM_JOINED = 2, /* I am in this room now (JOIN, or the operator put me there) */
	V2_ROOM_PARTED = 3, /* I am no longer in this room (PART, a kick, the room closed) */
	V2_ROOM_WHAT_COUNT
};

/* MEMBERS: at most this many names in all, each a length byte and the name. */
#define V2_WHO_MAX_NAMES 1024

struct v2_msg {
	enum v2_kind kind;
	uint8_t flags;     /* SAY ME TELL EVENT REVENT PRIVATE MEMBERS ROOM: V2_MORE; SAY ME TELL:
	                      V2_ID; SAY ME: V2_ROOM; ROOMS: V2_ROOMS_ALL */
	uint32_t id;       /* SAY ME TELL with V2_ID: the client's message id */
	uint32_t room;     /* SAY ME with V2_ROOM, PART, WHO (0: none given), REVENT */
	uint32_t total;    /* MEMBERS: members in the room */
	uint64_t event_id; /* EVENT REVENT; PRIVATE: the private message's number */
	uint8_t event;     /* EVENT REVENT: enum room_event */
	uint8_t what;      /* ROOM: enum v2_room_what; HISTORY: enum v2_history_what */
	uint64_t at;       /* HLINE, PRIVATE with V2_STORED: wall-clock ms it was said */
	uint16_t count;    /* HISTORY SEARCH: lines wanted (1..V2_HISTORY_MAX); HEND: lines sent */
	const char *name;  /* EVENT REVENT PRIVATE: who; JOIN: the room; TELL: to whom */
	size_t name_len;
	/*
	 * SAY ME TELL EVENT REVENT PRIVATE NOTICE; MEMBERS: the names, each
	 * length-prefixed; ROOM: the rooms (v2_rooms_next)
	 */
	const char *text;
	size_t text_len;
	uint8_t code, detail; /* NOTICE: enum qerr and its detail */
};

/*
 * Parse a DATA payload.  Returns V2_OK, V2_BAD_TYPE (unknown kind),
 * V2_BAD_LENGTH (cut short, bytes after QUIT, WHO, JOIN, PART or ROOMS,
 * or MEMBERS names or ROOM entries that do not add up to the payload's
 * end) or V2_BAD_FIELD (an empty name in JOIN or TELL, room id 0, a ROOM
 * `what` out of range, or JOINED/PARTED not naming exactly one room).
 */
enum v2_status v2_msg_parse(const uint8_t *buf, size_t len, struct v2_msg *m);

/* Encode a message; returns its length or 0 if it does not fit in size. */
size_t v2_msg_encode(const struct v2_msg *m, uint8_t *buf, size_t size);

/* Largest text that fits in one DATA for a SAY, and for an EVENT naming a name of name_len bytes.
 */
#define V2_SAY_CHUNK     (V2_MAX_PAYLOAD - 2)
#define V2_SAY_ID_CHUNK  (V2_SAY_CHUNK - 4)   /* the same, with a message id */
#define V2_MEMBERS_CHUNK (V2_MAX_PAYLOAD - 6) /* bytes of names in one MEMBERS */
#define V2_ROOM_CHUNK    (V2_MAX_PAYLOAD - 3) /* bytes of entries in one ROOM */
#define V2_ROOM_ENTRY    9                    /* an entry's bytes before its name */
/* SAY ME text in one DATA with an id and a room; REVENT text naming a name of name_len bytes. */
#define V2_SAY_ROOM_CHUNK         (V2_SAY_ID_CHUNK - 4)
#define V2_REVENT_CHUNK(name_len) (V2_EVENT_CHUNK(name_len) - 4)
/* TELL text in one DATA (with an id) to a name of name_len bytes; PRIVATE text from one. */
#define V2_TELL_CHUNK(name_len)    (V2_MAX_PAYLOAD - 7 - (name_len))
#define V2_PRIVATE_CHUNK(name_len) (V2_MAX_PAYLOAD - 19 - (name_len)) /* with V2_STORED */
#define V2_HLINE_CHUNK(name_len)   (V2_REVENT_CHUNK(name_len) - 8)

/*
 * Walk the rooms of a parsed ROOM: start with *pos = 0; each call returns
 * 1 and the next room (its id, members and name, not NUL-terminated), or
 * 0 after the last.  v2_msg_parse has checked that the entries fill the
 * payload exactly.  v2_room_put appends one entry to buf[*used..size),
 * returning -1 (and changing nothing) if it does not fit (or id is 0, or
 * the name is empty or over 255 bytes).
 */
int v2_rooms_next(const struct v2_msg *m, size_t *pos, uint32_t *id, uint32_t *members,
                  const char **name, size_t *len);
int v2_room_put(char *buf, size_t size, size_t *used, uint32_t id, uint32_t members,
                const char *name, size_t len);

/*
 * Walk the names of a parsed MEMBERS: start with *pos = 0; each call
 * returns 1 and the next name (not NUL-terminated), or 0 after the last.
 * v2_msg_parse has checked that the length bytes fill the payload exactly.
 */
int v2_members_next(const struct v2_msg *m, size_t *pos, const char **name, size_t *len);
#define V2_EVENT_CHUNK(name_len) (V2_MAX_PAYLOAD - 12 - (name_len))

/*
 * Length of the longest prefix of s[0..n) that is at most max bytes and
 * does not end inside a UTF-8 sequence (for splitting long text).
 */
size_t utf8_prefix(const char *s, size_t n, size_t max);

#endif
