/* client2.h - the client side of protocol v2 as a state machine: login, reliable chat, keepalive,
 * reconnect. Pure. */
#ifndef QUN_CLIENT2_H
#define QUN_CLIENT2_H

#include <stddef.h>
#include <stdint.h>

#include "common/sizes.h"
#include "proto/events.h"
#include "proto/rel.h"
#include "proto/wire2.h"

enum c2_state {
	C2_IDLE,  /* nothing started */
	C2_HELLO, /* waiting for COOKIE */
	C2_LOGIN, /* waiting for WELCOME or REFUSE */
	C2_ONLINE,
	C2_REFUSED,     /* the server said no: see the refusal callback */
	C2_UNREACHABLE, /* the first login got no answer at all */
	C2_CLOSED,      /* quit confirmed, kicked or server shut down: see closed() */
};

/*
 * Rooms (docs/ROOMS.md).  A room's name is '#' and a name that passes the
 * name rules: at most C2_ROOM_NAME_MAX bytes.  The engine keeps the rooms
 * it is in besides the default room (to join them again in a new session),
 * at most C2_MAX_ROOMS: as many as qund lets a member be in (its
 * --max-rooms-per-member is at most 1000, the default room included), so
 * every ROOM JOINED of a real server is kept.  It keeps the last event id
 * shown per room for as many rooms and the default room.  A new session
 * queues its declaration and one JOIN per room before what the user typed
 * (all into one queue of REL_QUEUE_MAX): what the user may queue shrinks
 * by a place per room (out_has_room in client2.c), and a JOIN the table
 * has no place for is refused (C2_ROOMS_FULL).
 */
#define C2_ROOM_NAME_MAX (QUN_MAX_NAME + 1)
#define C2_MAX_ROOMS     1000
#define C2_LIST_MAX      1024  /* rooms one ROOM answer (MINE, ALL) is kept with, at most */
#define C2_REJOIN_WAIT   10000 /* ms a new session waits for the rooms it joins again */
#define C2_ROOMS_FULL    (-2)  /* c2_join: the engine keeps C2_MAX_ROOMS rooms already */

/* Why messages were given up (the unsent callback). */
enum c2_unsent_why {
	C2_UNSENT_REJOIN, /* a new session could not join its room again */
	C2_UNSENT_GONE,   /* its room was left (parted, kicked, closed) before it could go */
	C2_UNSENT_QUIT,   /* the session ended (quit) before it could go */
};

/* One room of a ROOM answer: its id, its size and its name (NUL-terminated, valid). */
struct c2_room_info {
	uint32_t id, members;
	char name[C2_ROOM_NAME_MAX + 1];
};

/* What the engine tells its owner.  Any callback may be NULL. */
struct c2_callbacks {
	void *ctx;
	/* Put a datagram on the wire (the owner's connected socket). */
	void (*send)(void *ctx, const uint8_t *buf, size_t len);
	/* A complete room event, long text already rejoined; each shown once, in room order. */
	void (*event)(void *ctx, enum room_event ev, const char *name, const char *text,
	              size_t len);
	/* A refusal meant for us alone (flooding, invalid text...). */
	void (*notice)(void *ctx, int code, int detail, const char *text, size_t len);
	/* The login was refused (code is enum qerr; text the server's reason). */
	void (*refused)(void *ctx, int code, int detail, const char *text, size_t len);
	/* We lost the server and are trying again (reconnecting = 1), or are back (0). */
	void (*link)(void *ctx, int reconnecting);
	/* The session ended for good: enum v2_close_reason. */
	void (*closed)(void *ctx, int reason);
	/*
	 * The answer to one c2_who: total members in the room, and the names
	 * that passed the name rules (at most V2_WHO_MAX_NAMES), all pieces
	 * joined; or answered 0 (total 0, no names) when none came within
	 * C2_WHO_WAIT ms (the server refused it as flooding, say).  Called
	 * exactly once per c2_who that returned 0, in order.
	 */
	void (*who)(void *ctx, int answered, uint32_t total, const char *const *names,
	            size_t count);
	/*
	 * Rooms, only from a server with V2_F_ROOMS.  room_event: a REVENT,
	 * like event but in room `room`, each shown once per room in its
	 * order.  rooms: a ROOM answer (what is enum v2_room_what), its pieces
	 * joined, the rooms whose names pass the room rules; `again` is 1 for
	 * what the engine did itself: the answers to the ROOMS that declares a
	 * new session and to the JOINs that take it back to its rooms, and a
	 * PARTED it makes up for a room it could not take it back to (or one
	 * being parted when the session ended).  private_msg: a PRIVATE, its
	 * pieces joined; from passed the name rules.  unsent: count messages
	 * for room were given up, for the reason why (enum c2_unsent_why):
	 * room is the room's name, "" for the default room, or the member's
	 * name (no '#') for a private message.
	 */
	void (*room_event)(void *ctx, uint32_t room, enum room_event ev, const char *name,
	                   const char *text, size_t len);
	void (*rooms)(void *ctx, int what, const struct c2_room_info *rooms, size_t count,
	              int again);
	void (*private_msg)(void *ctx, uint64_t number, uint64_t at, const char *from,
	                    const char *text, size_t len);
	void (*unsent)(void *ctx, const char *room, unsigned count, int why);
	/*
	 * History, only from a server with V2_F_HISTORY (docs/HISTORY.md).
	 * history: one line of the answer to a c2_history or c2_search, its
	 * pieces joined, in room `room` (the server's id), said at `at`
	 * (wall-clock ms); a line of a HISTORY answer whose event id was
	 * shown already in this session (live or as history) is not passed
	 * on.  history_end: the answer is over: answered 1 with HEND's room
	 * (0 for a SEARCH), count and flags (V2_HEND_*), or answered 0 when
	 * none came within C2_WHO_WAIT ms of its last line (refused, or lost
	 * with its session).  Called exactly once per c2_history or c2_search
	 * that returned 0, in order.  private_msg's `at` is the time a line
	 * kept for us while we were away was said (V2_STORED), 0 for a live one.
	 */
	void (*history)(void *ctx, uint32_t room, uint64_t event_id, uint64_t at,
	                enum room_event ev, const char *name, const char *text, size_t len);
	void (*history_end)(void *ctx, uint32_t room, unsigned count, unsigned flags, int answered);
};

/*
 * A room we are in besides the default room, as the engine keeps it for a
 * new session.  While rejoining, id is the old session's (or 0 once
 * another room took it): not the room's id any more; the engine holds
 * what is said there by the room's name until the new id is known.
 */
struct c2_joined {
	uint32_t id;
	char name[C2_ROOM_NAME_MAX + 1];
	char key[C2_ROOM_NAME_MAX + 1]; /* the name's normalised form (compared), "" if none */
	int rejoining; /* a new session sent its JOIN; its ROOM JOINED has not come */
	int parting;   /* c2_part asked to leave it: not joined again in a new session */
};

/*
 * The events shown in one room (event ids are per room): the last, and the
 * oldest (history shows older ones; 0 while none was shown).
 */
struct c2_seen {
	uint32_t room;
	uint64_t last_id;
	uint64_t first_id;
	uint64_t used; /* when it was last used, in c2.seen_tick: the oldest makes way */
};

/* A message of ours the server has not acknowledged whole (client2.c). */
struct c2_out;

/*
 * Asks whose answers come one at a time (PROTOCOL-v2.md: WHO, ROOMS ALL,
 * HISTORY and SEARCH share one answer in flight per session; a second is
 * refused as flooding): those made while one is in flight wait here, at
 * most C2_ASKS_MAX.  kind: V2_K_WHO (the WHO of who_asks), V2_K_ROOMS
 * (ALL), V2_K_HISTORY, V2_K_SEARCH.
 */
#define C2_ASKS_MAX   16
#define C2_SEARCH_MAX 240 /* bytes of a SEARCH's words, at most */
struct c2_ask {
	uint64_t ref;   /* HISTORY: the event id */
	uint32_t room;  /* HISTORY: the room's id when room_name is "" (V2_LOBBY: the default) */
	uint16_t count; /* HISTORY SEARCH */
	uint8_t kind, what;
	char room_name[C2_ROOM_NAME_MAX + 1];
	char words[C2_SEARCH_MAX + 1];
};

/*
 * First login: handshake datagrams go 1 s apart.  We give up after
 * C2_TRIES_REFUSED of them if the kernel reports the port unreachable
 * (nothing listens there), else after C2_TRIES_SILENT: silence may only be
 * a lossy network, and a login must survive 30% loss.
 */
#define C2_TRIES_REFUSED 5
#define C2_TRIES_SILENT  15
#define C2_MAX_BACKOFF   8000 /* ms between reconnection attempts, at most */
/*
 * Delayed acknowledgements (PROTOCOL-v2.md, "Reliability"): DATA is
 * acknowledged once C2_ACK_EVERY are unacknowledged, or C2_ACK_DELAY ms
 * after the first of them arrived, or at once when something is missing
 * or repeated; anything we send carries the ack anyway.  Why: every ACK
 * is a datagram the server must read, and in a big room each member gets
 * a DATA only every few tens of ms, so only the longest delay the protocol
 * allows lets one ACK cover several (numbers: docs/PERFORMANCE.md,
 * "Acknowledgement delay").  8 is a quarter of the server's window of 33.
 */
#define C2_ACK_EVERY     8
#define C2_ACK_DELAY     REL_MAX_ACK_DELAY
#define C2_WHO_WAIT      5000 /* ms a WHO may wait for its answer before it is called unanswered */
#define C2_QUIT_WHO_WAIT 1000 /* ms, as long once we are leaving */

struct c2 {
	struct c2_callbacks cb;
	char name[QUN_MAX_NAME + 1];
	uint64_t nonce, sid;
	uint8_t cookie[V2_COOKIE_LEN];
	struct rel rel;
	uint64_t next_try; /* ms: next handshake datagram */
	uint64_t backoff;  /* ms */
	uint64_t last_heard, last_sent;
	uint64_t keepalive;     /* ms of our silence before a PING */
	uint64_t last_event_id; /* highest event shown in the default room */
	unsigned unacked;       /* DATA received since our last ack */
	int ack_now;            /* something is missing or repeated: ack at the next poll */
	uint64_t ack_since;     /* ms: when the first of the unacked DATA arrived */
	/*
	 * What we said that the server has not acknowledged whole, oldest
	 * first: a ring of messages (SAY, ME, WHO, QUIT).  A new session
	 * sends each again whole, even a piece the old one had acknowledged,
	 * since the server forgets a message cut in two with its session; the
	 * message id lets it drop the ones it had taken already.
	 */
	struct c2_out **out;
	size_t out_head, out_len, out_cap;
	size_t out_pieces; /* DATA the messages in out take: at most REL_QUEUE_MAX */
	/*
	 * WHO, one in flight: every ask made while it is (asking again before
	 * its answer came would be refused as flooding: PROTOCOL-v2.md, "/me
	 * and /who") shares its answer, at most a round trip old.
	 */
	uint64_t who_by; /* ms: the WHO in flight is given up; 0 until c2_poll sets it */
	/* An event arriving in pieces. */
	char asm_text[V2_MAX_TEXT];
	size_t asm_len;
	/* A MEMBERS answer arriving in pieces: names NUL-terminated one after another. */
	char who_store[V2_WHO_MAX_NAMES * (QUN_MAX_NAME + 1)];
	size_t who_used, who_count;
	char who_name[C2_ROOM_NAME_MAX + 1]; /* the WHO in flight's room by name (who_room) */
	/* Rooms (a server with V2_F_ROOMS). */
	struct c2_joined joined[C2_MAX_ROOMS];
	size_t njoined;
	uint64_t rejoin_by; /* ms: rooms not joined again by then are given up; 0: none */
	size_t setup_sent;  /* DATA the new session sent before out (ROOMS, JOINs) */
	struct c2_seen seen[C2_MAX_ROOMS + 1];
	size_t nseen;
	uint64_t seen_tick;
	struct c2_room_info list[C2_LIST_MAX]; /* a ROOM answer arriving in pieces */
	size_t list_count;
	char priv_text[V2_MAX_TEXT]; /* a PRIVATE arriving in pieces */
	size_t priv_len;
	/* History (a server with V2_F_HISTORY): asks waiting for the one answer in flight. */
	struct c2_ask asks[C2_ASKS_MAX];
	size_t ask_head, ask_len;
	uint64_t ask_by;   /* ms: the answer in flight is given up; 0: not started */
	uint64_t hist_low; /* the oldest id the HISTORY answer in flight passed on (0: none yet) */
	char hist_text[V2_MAX_TEXT]; /* an HLINE arriving in pieces */
	size_t hist_len;
	/* The small ones together, so that they pad nothing between them. */
	enum c2_state state;
	int ever_online; /* reconnect (not give up) once we have been in */
	int tries;       /* handshake datagrams sent in this attempt series */
	int unreachable; /* the kernel said the server's port is closed */
	int quitting;
	int quit_waits;     /* c2_quit came while a WHO was in flight: QUIT follows its answer */
	uint32_t next_id;   /* the next message's id (V2_ID): random start, then one up each */
	unsigned who_asks;  /* asks sharing the WHO in flight (see who_by) */
	int asm_active;     /* an event is arriving in pieces (asm_text) */
	uint32_t who_room;  /* the room of the WHO in flight (0: the default room), or who_name */
	uint32_t asm_room;  /* the room of the event arriving in pieces */
	int holding;        /* messages in out are held (see add_out in client2.c) */
	int declare_answer; /* the ROOMS that declared this session is not answered yet */
	int list_active;
	int priv_active;
	int hist_active; /* an HLINE is arriving in pieces (hist_text) */
	int who_waits;   /* the WHO of who_asks waits in asks for the answer in flight */
	uint32_t hist_room;
	uint32_t hist_low_room; /* hist_low's room */
	uint8_t list_what;
	uint8_t features; /* the server's V2_F_*, from its last WELCOME */
	uint8_t ask_kind; /* the answer in flight besides a WHO: V2_K_ROOMS, _HISTORY, _SEARCH; 0 */
};

/* Set up for logging in as name; nothing is sent until c2_start. keepalive in seconds. */
void c2_init(struct c2 *c, const char *name, unsigned keepalive, const struct c2_callbacks *cb);
void c2_free(struct c2 *c);

/*
 * Begin (or begin again, with another name) logging in at time now: a new
 * stay, so what an earlier one had not sent is dropped, and a /who of it
 * is answered as unanswered.
 */
void c2_start(struct c2 *c, const char *name, uint64_t now);

/* One datagram from the server. */
void c2_on_datagram(struct c2 *c, const uint8_t *buf, size_t len, uint64_t now);

/*
 * Queue text to say in room (V2_LOBBY: the default room; any other only
 * to a server with V2_F_ROOMS), split into pieces when longer than one
 * datagram, with the next message id if the server takes ids.  Returns -1
 * if it is over V2_MAX_TEXT bytes, the queue is full, or room is not the
 * default room and the server has no rooms.  Accepted while reconnecting:
 * it goes out once the session is back.  In a new session, a message for
 * a room other than the default room waits until the room is joined
 * again (its id may have changed: the server may have restarted), and is
 * given up (the unsent callback) if it is not within C2_REJOIN_WAIT.
 */
int c2_say(struct c2 *c, uint32_t room, const char *text, size_t len);

/*
 * Queue an action ("/me waves"): like c2_say, relayed to the room as the
 * ACTION event.  Returns -1 under the same conditions.
 */
int c2_me(struct c2 *c, uint32_t room, const char *text, size_t len);

/*
 * c2_say and c2_me in the room named room: a room of c->joined (named as
 * c2_room_index finds it), or the default room for NULL or "".  Returns
 * -1 also if room is not in c->joined.  The message names the room by
 * name until it goes: one for a room being joined again waits for the
 * room's new id (its old one may be another room's now), and is given up
 * (unsent) if the room is left or not joined again first.
 */
int c2_say_in(struct c2 *c, const char *room, const char *text, size_t len);
int c2_me_in(struct c2 *c, const char *room, const char *text, size_t len);

/*
 * Ask who is online in room (0 or V2_LOBBY: the default room, asked as
 * before rooms); the answer comes to the who callback.  While a WHO is in
 * flight, an ask for the same room shares its answer.  Returns -1 if the
 * queue is full, a WHO for another room is in flight, or room is another
 * room and the server has none.  Accepted while reconnecting, like
 * c2_say; a WHO for another room than the default one that a new session
 * would have to ask again is answered unanswered instead.
 */
int c2_who(struct c2 *c, uint32_t room);

/*
 * c2_who of the room named room (NULL or "": the default room), as
 * c2_say_in names it: a WHO for a room being joined again waits for it
 * (its answer's clock starts when it goes) and is answered unanswered if
 * the room is not joined again.  -1 also if room is not in c->joined.
 */
int c2_who_in(struct c2 *c, const char *room);

/*
 * Rooms and private messages: only to a server with V2_F_ROOMS (each
 * returns -1 otherwise, or when the queue is full), queued and sent again
 * in a new session like c2_say.  c2_join: join (or make) the room named
 * name[0..len) ('#' and a name; the server checks it); the answer is a
 * ROOM JOINED or a notice; C2_ROOMS_FULL (nothing queued) if the room is
 * not one of c->joined and C2_MAX_ROOMS are.  A ROOM JOINED for a room
 * there is no place for is not passed on: the engine parts it again.
 * c2_part: leave a room by id (its answer ROOM PARTED); a room being
 * parted is not joined again in a new session.  c2_part_in: the same by
 * name, as c2_say_in (NULL or "": the default room, which the server
 * refuses to part); a room being joined again is parted under its new id.
 * c2_rooms: list my rooms (all = 0) or every room (one answer in flight,
 * as c2_history waits).  c2_tell: a private
 * message to the member named name, in pieces of V2_TELL_CHUNK; -1 also
 * for an empty name or text, or one over V2_MAX_TEXT.
 */
int c2_join(struct c2 *c, const char *name, size_t len);
int c2_part(struct c2 *c, uint32_t room);
int c2_part_in(struct c2 *c, const char *room);
int c2_rooms(struct c2 *c, int all);
int c2_tell(struct c2 *c, const char *name, size_t name_len, const char *text, size_t len);

/* Whether the server of the last WELCOME has rooms and private messages. */
int c2_has_rooms(const struct c2 *c);

/*
 * History: only to a server with V2_F_HISTORY (each returns -1 otherwise,
 * when count is not 1..V2_HISTORY_MAX, or when C2_ASKS_MAX asks wait).
 * c2_history: a room's lines (what: enum v2_history_what, ref the event
 * id for BEFORE and AFTER), of room (an id: V2_LOBBY the default room);
 * c2_history_in: of the room named room, as c2_say_in names it (NULL or
 * "": the default room; -1 also if not in c->joined), asked by name so a
 * room being joined again is asked once it is.  c2_search: the lines of
 * my rooms with every word of words[0..len) (at most C2_SEARCH_MAX bytes).
 * Each waits its turn behind the answer in flight (WHO, ROOMS ALL,
 * HISTORY, SEARCH: one at a time), and is answered through the history
 * and history_end callbacks.  A new session answers the one in flight as
 * unanswered.  c2_oldest: the oldest event id shown in the room named
 * room (NULL or "": the default room) in this session, 0 if none.
 */
int c2_history(struct c2 *c, uint32_t room, int what, uint64_t ref, unsigned count);
int c2_history_in(struct c2 *c, const char *room, int what, uint64_t ref, unsigned count);
int c2_search(struct c2 *c, const char *words, size_t len, unsigned count);
int c2_has_history(const struct c2 *c);
uint64_t c2_oldest(struct c2 *c, const char *room);

/*
 * Pure helpers on rooms' names.  c2_room_name_check: NAME_OK if
 * name[0..len) is a room's name ('#' and a name: then the name's status),
 * NAME_EMPTY without the '#'.  c2_same_room: whether two valid names are
 * one room (on the member key, as the server compares them).
 * c2_room_index: the index in c->joined of the room named name, or -1.
 */
int c2_room_name_check(const char *name, size_t len);
int c2_same_room(const char *a, const char *b);
int c2_room_index(const struct c2 *c, const char *name);

/* The socket reported ECONNREFUSED: nothing listens at the server's port (for now). */
void c2_on_unreachable(struct c2 *c);

/*
 * Ask to leave; the server's CLOSE (quit confirmed) ends the session.
 * A WHO in flight is answered first (or given up after C2_QUIT_WHO_WAIT
 * ms), since the server forgets what it owes a session that quits; QUIT
 * goes after the messages held for rooms being joined again, which wait
 * C2_QUIT_WHO_WAIT ms more at most (then they are given up, unsent).
 * Offline (reconnecting), the session ends at once, and every message
 * not sent yet is reported unsent (C2_UNSENT_QUIT).
 */
void c2_quit(struct c2 *c);

/*
 * Run the timers at now: handshake retries and reconnection, reliable
 * retransmission, keepalive, dead-server detection, pending acks.
 * Returns the time (ms) by which it wants to be called again.
 */
uint64_t c2_poll(struct c2 *c, uint64_t now);

#endif
