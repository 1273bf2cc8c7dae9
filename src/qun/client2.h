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
};

/* A message of ours the server has not acknowledged whole (client2.c). */
struct c2_out;

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
	enum c2_state state;
	struct c2_callbacks cb;
	char name[QUN_MAX_NAME + 1];
	uint8_t features; /* the server's V2_F_*, from its last WELCOME */
	uint64_t nonce, sid;
	uint8_t cookie[V2_COOKIE_LEN];
	struct rel rel;
	int ever_online;   /* reconnect (not give up) once we have been in */
	int tries;         /* handshake datagrams sent in this attempt series */
	int unreachable;   /* the kernel said the server's port is closed */
	uint64_t next_try; /* ms: next handshake datagram */
	uint64_t backoff;  /* ms */
	uint64_t last_heard, last_sent;
	uint64_t keepalive;     /* ms of our silence before a PING */
	uint64_t last_event_id; /* highest room event shown */
	unsigned unacked;       /* DATA received since our last ack */
	int ack_now;            /* something is missing or repeated: ack at the next poll */
	uint64_t ack_since;     /* ms: when the first of the unacked DATA arrived */
	int quitting;
	int quit_waits;   /* c2_quit came while a WHO was in flight: QUIT follows its answer */
	uint32_t next_id; /* the next message's id (V2_ID): random start, then one up each */
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
	unsigned who_asks;
	/* An event arriving in pieces. */
	char asm_text[V2_MAX_TEXT];
	size_t asm_len;
	int asm_active;
	/* A MEMBERS answer arriving in pieces: names NUL-terminated one after another. */
	char who_store[V2_WHO_MAX_NAMES * (QUN_MAX_NAME + 1)];
	size_t who_used, who_count;
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
 * Queue text to say (split into pieces when longer than one datagram),
 * with the next message id if the server takes ids.  Returns -1 if it is
 * over V2_MAX_TEXT bytes or the queue is full.  Accepted while
 * reconnecting: it goes out once the session is back.
 */
int c2_say(struct c2 *c, const char *text, size_t len);

/*
 * Queue an action ("/me waves"): like c2_say, relayed to the room as the
 * ACTION event.  Returns -1 under the same conditions.
 */
int c2_me(struct c2 *c, const char *text, size_t len);

/*
 * Ask who is online; the answer comes to the who callback.  While a WHO
 * is in flight, an ask shares its answer.  Returns -1 if the queue is
 * full.  Accepted while reconnecting, like c2_say.
 */
int c2_who(struct c2 *c);

/* The socket reported ECONNREFUSED: nothing listens at the server's port (for now). */
void c2_on_unreachable(struct c2 *c);

/*
 * Ask to leave; the server's CLOSE (quit confirmed) ends the session.
 * A WHO in flight is answered first (or given up after C2_QUIT_WHO_WAIT
 * ms), since the server forgets what it owes a session that quits.
 */
void c2_quit(struct c2 *c);

/*
 * Run the timers at now: handshake retries and reconnection, reliable
 * retransmission, keepalive, dead-server detection, pending acks.
 * Returns the time (ms) by which it wants to be called again.
 */
uint64_t c2_poll(struct c2 *c, uint64_t now);

#endif
