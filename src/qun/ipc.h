/* ipc.h - the messages between qun's UI and network processes, encoded and decoded. Pure. */
#ifndef QUN_IPC_H
#define QUN_IPC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The two processes of qun talk over an AF_UNIX SOCK_SEQPACKET socketpair,
 * so one send is one message and boundaries are kept.  The network
 * process owns the UDP socket and everything about the wire protocol; the
 * UI process owns the terminal.  Nothing in this format depends on the
 * wire protocol: the v1 and the v2 network process (netproc1.c,
 * netproc2.c) both speak it, and the UI cannot tell them apart.
 *
 * A message is at most IPC_MAX bytes:
 *
 *   byte 0     type (enum ipc_type)
 *   byte 1..   the type's fields, in order, with no padding:
 *                u8   one byte
 *                u16  two bytes, big-endian
 *                u32  four bytes, big-endian
 *                str  a u16 length, then that many bytes (no NUL; any bytes:
 *                     text from the network is sanitised where it is shown)
 *
 * Events, network process -> UI:
 *   'L' LINE    u8 kind, u8 flags, u16 name_at, str name, str text
 *               A line to show.  text is the whole line as it is shown
 *               (for v1, the server's own line); name is the member it is
 *               about (may be empty) and name_at is where name starts in
 *               text, or IPC_NO_NAME_AT.  The UI colours that span, uses
 *               kind to style the line and JOIN/LEAVE/... to track members.
 *   'W' WHO     u8 status, u32 total, str room, u16 count, count x str name
 *               The members online (total in the room; the names that came);
 *               room is the room asked about, "" for the default room.
 *   'R' ROOMS   u8 flags, str current, u16 count, count x str name
 *               The rooms changed: current is the room chat goes to (flag
 *               IPC_ROOMS_DEFAULT: it is the default room, shown as before
 *               rooms), name the rooms we are in.  Sent whenever either
 *               changes; never by a network process without rooms.
 *   'S' STATE   u8 state
 *               The session's state changed (v2 reconnects; v1 never does).
 *   'X' EXITED  u8 how
 *               The session is over and the network process is ending.
 *
 * Requests, UI -> network process:
 *   's' SAY     str text      say text to the current room
 *   'm' ME      str text      an action ("/me waves")
 *   'w' WHO     str room      ask who is in room ("": the current room), answered
 *                             by a WHO event
 *   'q' QUIT                  leave: answered by EXITED, then the process ends
 *   'j' JOIN    str room      join a room ('#' and its name) and make it current
 *   'p' PART    str room      leave a room ("": the current room)
 *   'o' ROOMS   u8 all        list my rooms (0) or every room (1)
 *   't' TELL    str name, str text   a private message to the member name
 *   'r' REPLY   str text      a private message to whoever sent us the last one
 *   'h' HISTORY str count     the current room's lines before the oldest shown
 *                             (count: digits, "" for the default)
 *   'f' SEARCH  str words     the lines of my rooms with every word
 * The rooms' requests (and a WHO naming a room) are answered by a LINE
 * saying the server has none when it has none (v1 never has).
 *
 * A message that is cut short, has bytes left over, an unknown type or a
 * value out of range is malformed as a whole; nothing of it is used.
 */

#define IPC_MAX        65536u  /* largest message, bytes */
#define IPC_STR_MAX    65535u  /* largest str field */
#define IPC_NO_NAME_AT 0xFFFFu /* LINE: name is not inside text */
/* HISTORY: lines one /history asks for, at most; SEARCH: bytes of words, at most. */
#define IPC_HISTORY_MAX 200
#define IPC_SEARCH_MAX  240

/*
 * How many messages (or datagrams) a loop of either process reads before
 * it goes back to poll: what is left is read next round, as poll reports
 * it again, and a flood from one side cannot keep the other descriptors
 * (keyboard, signals, the other side) waiting until it stops.
 */
#define IPC_BATCH 64

enum ipc_type {
	IPC_LINE = 'L',
	IPC_WHO = 'W',
	IPC_STATE = 'S',
	IPC_EXITED = 'X',
	IPC_SAY = 's',
	IPC_ME = 'm',
	IPC_ASK_WHO = 'w',
	IPC_QUIT = 'q',
	IPC_ROOMS = 'R',
	IPC_JOIN = 'j',
	IPC_PART = 'p',
	IPC_LIST_ROOMS = 'o',
	IPC_TELL = 't',
	IPC_REPLY = 'r',
	IPC_HISTORY = 'h',
	IPC_SEARCH = 'f',
};

/* ROOMS flags. */
#define IPC_ROOMS_DEFAULT   0x01u /* the current room is the default room */
#define IPC_ROOMS_FLAGS_ALL IPC_ROOMS_DEFAULT

enum ipc_line_kind {
	IPC_LINE_CHAT = 0, /* a member spoke: name, text */
	IPC_LINE_ACTION,   /* a member's /me */
	IPC_LINE_JOIN,     /* a member entered */
	IPC_LINE_LEAVE,    /* a member quit */
	IPC_LINE_TIMEOUT,  /* a member was evicted for silence */
	IPC_LINE_KICK,     /* the operator removed a member */
	IPC_LINE_ADMIN,    /* the operator spoke */
	IPC_LINE_NOTICE,   /* anything else from the server, or a note of the network process */
	IPC_LINE_ERROR,    /* a request of ours was refused, or something failed */
	IPC_LINE_KIND_COUNT
};

/* LINE flags. */
#define IPC_LINE_SELF      0x01u /* our own message, echoed for the record */
#define IPC_LINE_HISTORY   0x02u /* a line of history (said before): shown dimmed */
#define IPC_LINE_FLAGS_ALL (IPC_LINE_SELF | IPC_LINE_HISTORY)

enum ipc_who_status {
	IPC_WHO_COMPLETE = 0, /* every name came */
	IPC_WHO_PARTIAL,      /* some parts were lost: names is a subset */
	IPC_WHO_NO_REPLY,     /* the server never answered (count is 0) */
	IPC_WHO_REFUSED,      /* not asked: a LINE just said why (count is 0) */
	IPC_WHO_STATUS_COUNT
};

enum ipc_state { IPC_CONNECTED = 0, IPC_RECONNECTING, IPC_CLOSED, IPC_STATE_COUNT };

enum ipc_exit {
	IPC_EXIT_CONFIRMED = 0, /* we quit and the server confirmed */
	IPC_EXIT_ENDED,         /* the server ended the session (kick, shutdown, eviction) */
	IPC_EXIT_UNCONFIRMED,   /* we quit and the server never confirmed */
	IPC_EXIT_COUNT
};

/* A decoded message.  Pointers point into the buffer that was decoded. */
struct ipc_msg {
	enum ipc_type type;
	/* LINE */
	enum ipc_line_kind kind;
	unsigned flags;
	unsigned name_at;
	/* LINE; WHO ASK_WHO JOIN PART: the room; ROOMS: the current room; TELL: to whom */
	const char *name;
	size_t name_len;
	/* LINE, SAY, ME, TELL, REPLY */
	const char *text;
	size_t text_len;
	/* LIST_ROOMS: every room, not only mine */
	int all;
	/* WHO, ROOMS (and flags): walk the names with ipc_who_next() */
	enum ipc_who_status who_status;
	uint32_t total;
	unsigned count;
	const unsigned char *names;
	size_t names_len;
	/* STATE */
	enum ipc_state state;
	/* EXITED */
	enum ipc_exit how;
};

enum ipc_status {
	IPC_OK = 0,
	IPC_EMPTY,     /* zero bytes */
	IPC_TOO_LONG,  /* more than IPC_MAX bytes */
	IPC_BAD_TYPE,  /* unknown type byte */
	IPC_SHORT,     /* a field is cut short */
	IPC_TRAILING,  /* bytes after the last field */
	IPC_BAD_VALUE, /* a kind, status, state, flag or name_at out of range */
};

/*
 * Encoders.  Each writes one message into buf and returns its length, or
 * -1 if it does not fit in size bytes (or IPC_MAX), a str is longer than
 * IPC_STR_MAX, or a value is out of range.  For LINE, name_at must be
 * IPC_NO_NAME_AT or name must be at text[name_at].
 */
int ipc_encode_line(void *buf, size_t size, enum ipc_line_kind kind, unsigned flags,
                    const char *name, size_t name_len, unsigned name_at, const char *text,
                    size_t text_len);
int ipc_encode_who(void *buf, size_t size, enum ipc_who_status status, uint32_t total,
                   const char *room, size_t room_len, const char *const *names, size_t count);
/* ROOMS: flags IPC_ROOMS_*, the current room's name, the names of the rooms we are in. */
int ipc_encode_rooms(void *buf, size_t size, unsigned flags, const char *current,
                     size_t current_len, const char *const *names, size_t count);
int ipc_encode_state(void *buf, size_t size, enum ipc_state state);
int ipc_encode_exited(void *buf, size_t size, enum ipc_exit how);
/*
 * SAY, ME, REPLY carry text, ASK_WHO, JOIN, PART a room's name (text may
 * be NULL when len is 0); QUIT takes text NULL and len 0.
 */
int ipc_encode_request(void *buf, size_t size, enum ipc_type type, const char *text, size_t len);
int ipc_encode_list_rooms(void *buf, size_t size, int all);
int ipc_encode_tell(void *buf, size_t size, const char *name, size_t name_len, const char *text,
                    size_t text_len);

/* Decode buf[0..len) into *m.  On any status but IPC_OK, *m is unspecified. */
enum ipc_status ipc_decode(const void *buf, size_t len, struct ipc_msg *m);

/*
 * Walk the names of a decoded WHO or ROOMS: start with *pos = 0; each
 * call returns 1 and the next name, or 0 after the last.  ipc_decode has
 * checked that exactly m->count names fill the message.
 */
int ipc_who_next(const struct ipc_msg *m, size_t *pos, const char **name, size_t *len);

/* Short English description of a status, for logs and tests. */
const char *ipc_status_str(enum ipc_status st);

#endif
