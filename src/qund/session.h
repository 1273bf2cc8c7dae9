/* session.h - a v2 member's session, shared by the protocol layer (proto2.c) and the rooms
 * (rooms.c).
 */
#ifndef QUN_SESSION_H
#define QUN_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "common/bucket.h"
#include "common/i18n.h"
#include "common/sizes.h"
#include "proto/rel.h"
#include "proto/wire2.h"
#include "channel.h"
#include "room.h"

struct proto2;

/*
 * A session's rooms besides the default room, and what joining and
 * parting them costs: a bucket of its own, so that a new session can take
 * its client back to every room at once (SESSION_ROOMS_BURST) while
 * joining and parting, each an event for a whole room, stay rare (one a
 * second), and chat's bucket is not spent on them.
 */
struct session_rooms {
	struct seats seats;
	struct bucket changes;
};
#define SESSION_ROOMS_RATE 1 /* joins and parts a second, after the burst */

/* The rooms ss is in besides the default room; NULL if it never asked for one. */
#define SESSION_SEATS(ss) ((ss)->rooms != NULL ? &(ss)->rooms->seats : NULL)

/*
 * A long SAY, ME or TELL being put together from its pieces: only while
 * one is arriving.  Every piece names the same room (or member): the
 * first piece's, kept here.
 */
struct reassembly {
	size_t len;
	uint32_t room;             /* SAY ME: V2_ROOM's id, 0 without */
	char to[QUN_MAX_NAME + 1]; /* TELL: to whom, NUL-terminated */
	char text[V2_MAX_TEXT];
};

/*
 * One v2 member's protocol state; the room member holds a pointer to it
 * (member->data).  Every member of a large room has one and most are
 * idle, so it is kept within 120 bytes, a 128-byte malloc chunk
 * (glibc: size + 8, rounded up to 16; docs/PERFORMANCE.md counts an idle
 * member's bytes): what only a busy session needs is allocated on demand
 * (the reliability windows, the reassembly, the rooms), and the lists of dirty and busy sessions
 * are arrays in struct proto2 rather than links in every session.
 */
struct session {
	uint64_t sid, nonce;
	const struct member *m;
	struct rel rel;
	struct reassembly *asm_text; /* NULL unless a long message is arriving */
	struct session *next_sid;    /* the session-id table's chain */
	/*
	 * The seq of the last MEMBERS of the last WHO answered (0: none): until
	 * the client has acknowledged it, the next WHO is refused (answer_who).
	 */
	uint32_t who_seq;
	unsigned
	    asm_kind : 8; /* enum v2_kind, SAY ME or TELL: what the pieces being reassembled make */
	unsigned asm_overflow : 1;
	unsigned quit_requested : 1; /* QUIT arrived: acted on after the DATA is processed */
	unsigned doomed : 1;         /* its queue overflowed: evict after the broadcast */
	unsigned dirty : 1;          /* on the dirty list: has something to send or acknowledge */
	unsigned busy : 1;           /* on the busy list (see struct proto2) */
	unsigned said_valid : 1;     /* said_id holds a message id (V2_ID) */
	unsigned aware : 1; /* sent ROOMS: gets REVENT and PRIVATE, never EVENT (rooms.c) */
	uint32_t busy_at;   /* its index in the busy list, while busy */
	/*
	 * The id of the last message with an id this client's sessions said
	 * (kept when a re-login replaces the session): a message at most
	 * V2_ID_WINDOW behind it was taken already, before a reconnection.
	 */
	uint32_t said_id;
	struct session_rooms *rooms; /* made on its first room request; NULL: none yet */
};

/* The budget (docs/PERFORMANCE.md, "Memory of an idle member"): a 128-byte malloc chunk. */
_Static_assert(sizeof(struct session) <= 120, "struct session outgrew an idle member's budget");

/*
 * What proto2.c lends rooms.c.  Each queues a reliable message to one
 * session (sent at the next flush); an overflowing queue dooms the
 * session, as any message would.  p2_queue_msg encodes m (one DATA:
 * it must fit V2_MAX_PAYLOAD) and returns -1 if it could not;
 * p2_queue_members queues a list of names as MEMBERS pieces (total is
 * the room's size) and marks the answer as the session's one list in
 * flight (p2_list_busy says whether the last one is still unacknowledged,
 * when a new list is refused as flooding).
 */
void p2_queue_blob(struct proto2 *p, struct session *ss, struct blob *b);
int p2_queue_msg(struct proto2 *p, struct session *ss, const struct v2_msg *m);
void p2_notice(struct proto2 *p, struct session *ss, enum qerr err, int detail);
void p2_queue_members(struct proto2 *p, struct session *ss, const char *const *names, size_t count,
                      size_t total);
int p2_list_busy(const struct session *ss);
/*
 * Encode head (an EVENT, REVENT or PRIVATE) with text in pieces of at most
 * chunk bytes (MORE on all but the last) into out[0..max); returns how
 * many.  The caller queues them (p2_queue_blob) and unrefs each.
 */
size_t p2_pieces(const struct v2_msg *head, size_t chunk, const char *text, size_t len,
                 struct blob **out, size_t max);
void p2_list_sent(struct session *ss);

#endif
