/* room.h - the chat room core: members by name and by address, who gets what. Pure, no I/O. */
#ifndef QUN_ROOM_H
#define QUN_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/bucket.h"
#include "common/i18n.h"
#include "common/sizes.h"
#include "proto/events.h"

struct channel;

/*
 * A member, allocated at the length of its name: a large room is mostly
 * idle members, and two 33-byte arrays were a third of each one
 * (docs/PERFORMANCE.md counts an idle member's bytes).
 */
struct member {
	uint8_t keepalive; /* has sent P at least once (v2 members: always) */
	uint8_t proto;     /* 1 or 2: the protocol it speaks (set by the caller) */
	uint8_t key_off;   /* private: the key is at name + key_off (0: the name is its own key) */
	uint8_t unproven;  /* private: a v1 member that has sent no P, C or A since its L */
	struct peer_addr addr;
	uint32_t slot;       /* private: index in the dense member array */
	uint64_t last_heard; /* ms, any valid datagram from this member */
	void *data;          /* the caller's per-member state (v2: its session) */
	struct bucket flood; /* flood control */
	/* Private to room.c. */
	struct member *next_by_name;
	struct member *next_by_addr;
	struct member *lru_prev; /* silence list, oldest first (see room.c) */
	struct member *lru_next;
	/*
	 * The name as the member typed it, NUL-terminated, then (unless it is
	 * the same) its normalised key, on which uniqueness is decided.
	 */
	char name[];
};

/*
 * The budget (docs/PERFORMANCE.md, "Memory of an idle member"): with a
 * name of up to 15 bytes that is its own key, one 128-byte malloc chunk.
 */
_Static_assert(sizeof(struct member) <= 104, "struct member outgrew an idle member's budget");

/* The normalised form of m's name: what uniqueness and lookups use. */
static inline const char *member_key(const struct member *m)
{
	return m->name + m->key_off;
}

/* Why a datagram was dropped without any effect (counted by the server). */
enum drop_reason {
	DROP_NONE = 0,
	DROP_NOT_MEMBER, /* C, Q or P from an address that is not logged in */
	DROP_WRONG_NAME, /* C, Q or P naming someone other than the sender */
	DROP_MALFORMED,  /* unparseable datagram that got no reply */
	DROP_TOO_LONG,   /* over QUN_MAX_DATAGRAM and not from a member */
	DROP_COUNT
};

/* The name of a drop reason, for stats and logs ("not_member"); NULL if unknown. */
const char *room_drop_name(enum drop_reason reason);

enum reply_kind { REPLY_NONE = 0, REPLY_OK, REPLY_EXIT, REPLY_ERR };

/*
 * What a room operation decided: at most one reply (to reply_to) and at
 * most one event for the rest of the room.  The caller formats and sends;
 * the room never does I/O.  Strings are copies, valid after the member
 * they describe has gone.
 */
struct outcome {
	enum drop_reason drop;
	enum reply_kind reply;
	enum qerr err;  /* REPLY_ERR only */
	int err_detail; /* name_status or text_status, per err */
	struct peer_addr reply_to;
	int reply_to_member; /* 1 if reply_to is (or just was) a member */
	int reply_proto;     /* that member's proto and data, copied: */
	void *reply_data;    /* the member itself may be gone */
	int has_event;
	enum room_event event;
	char name[QUN_MAX_NAME + 1];
	const char *text; /* SAY and ADMIN: points at the caller's text */
	size_t text_len;
	const struct member *exclude; /* a member that must not get the event */
	struct channel *chan; /* the caller's: the event's room, NULL for the default room */
};

struct room_config {
	size_t max_members;
	size_t max_per_address;     /* members from one address, as the two prefixes below say */
	unsigned flood_burst;       /* messages at once ... */
	unsigned flood_rate;        /* ... then this many per second */
	uint64_t keepalive_timeout; /* ms of silence before a member that sent P is evicted */
	uint64_t idle_timeout;      /* ms of silence before any other member is evicted */
	/*
	 * What max_per_address calls one address: an IPv4 address's first
	 * prefix_v4 bits, an IPv6 address's first prefix_v6 (0: 32 and 64).
	 * v1 members are counted apart from the others, so that forged v1
	 * logins from an address cannot keep its v2 clients out.
	 */
	unsigned prefix_v4, prefix_v6;
	/*
	 * Protocol v1 cannot authenticate a source, so room_join_v1 contains
	 * it: at most max_v1 v1 members (0: no cap of its own); new ones at
	 * most v1_login_burst at once and then v1_login_rate per second from
	 * one source network (an IPv4 /24, an IPv6 /64), and four times both
	 * from everyone together (burst 0: no rate limit); and a v1 member that
	 * has sent no P, C or A since its L is evicted after v1_login_timeout
	 * ms of silence (0, or more than idle_timeout: idle_timeout).
	 */
	size_t max_v1;
	unsigned v1_login_burst, v1_login_rate;
	uint64_t v1_login_timeout;
};

/*
 * Create an empty room.  hash_key seeds the keyed hash (SipHash via
 * libsodium) of both tables, so that nobody who does not know it can
 * choose names or ports that collide.  Never returns NULL.
 */
struct room *room_new(const struct room_config *cfg, const unsigned char hash_key[16]);
void room_free(struct room *r);

/*
 * The operations.  Each fills *o completely.  name/text are the raw
 * fields of a request; now is a monotonic time in ms.
 *
 * room_join:  a new name from a new address joins (OK to it, JOIN to the
 *             others); the same name again from its own address gets OK
 *             again and nothing else; otherwise a refusal saying why.
 * room_say:   SAY to everyone but the sender, only if addr owns name and
 *             text passes the text rules; a member with a bad text gets a
 *             refusal; anyone else is dropped.
 * room_quit:  EXIT to the sender and LEAVE to the others, only if addr
 *             owns name; otherwise dropped.
 * room_ping:  refreshes the member and marks it as sending keepalives.
 * room_kick:  the operator removes a member by name: EXIT to it, KICK to
 *             the others.  Returns -1 (and o->reply NONE) if no such member.
 * room_admin: ADMIN text to every member.
 */
void room_join(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o);
/*
 * room_join for a v1 login, attached as proto 1 (no room_attach needed).
 * A new member is also refused (QERR_V1_BUSY) when max_v1 v1 members are
 * in, or when its source network or everyone together has used up the v1
 * login rate; only a login that succeeds takes a token.  It starts
 * unproven: the short v1_login_timeout holds until its first P, C or A.
 */
void room_join_v1(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
                  uint64_t now, struct outcome *o);
void room_say(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
              const char *text, size_t text_len, uint64_t now, struct outcome *o);
void room_quit(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o);
/*
 * A member asks who is online (v1 W, v2 WHO).  Taken only from the
 * address that owns the name, like SAY.  Starting a list (take_token 1)
 * costs a flood-control token, since a list is work and many datagrams;
 * v1's requests for a later part of one (take_token 0) do not, since each
 * is answered by one datagram of bounded size.  Returns the member if the
 * caller may answer; else NULL, with *o saying why (a drop, or a flood
 * refusal to reply).  No event either way.
 */
const struct member *room_who(struct room *r, const struct peer_addr *addr, const char *name,
                              size_t name_len, int take_token, uint64_t now, struct outcome *o);
void room_ping(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o);
int room_kick(struct room *r, const char *name, size_t name_len, struct outcome *o);

/*
 * A sign of life from member m, which the caller already holds (a v2
 * session's member): what room_ping does for its owner, without looking
 * the address and name up again.
 */
void room_touch(struct room *r, const struct member *m, uint64_t now);
void room_admin(struct room *r, const char *text, size_t text_len, struct outcome *o);

/*
 * Evict one member whose silence has passed its timeout, filling *o with
 * a TIMEOUT event for the others and EXIT for the evicted address.  Returns 1 if one was evicted, 0
 * if none is due.  Call it until it returns 0.
 */
int room_expire(struct room *r, uint64_t now, struct outcome *o);

/* Milliseconds until the next member could expire (UINT64_MAX if empty). */
uint64_t room_next_expiry(const struct room *r, uint64_t now);

/*
 * The caller's bookkeeping on a member: its protocol and a pointer the
 * room hands back in outcomes (reply_proto, reply_data) and never uses.
 */
void room_attach(struct room *r, const struct member *m, int proto, void *data);

/*
 * Move member m to a new address (a v2 client whose NAT mapping changed,
 * after it proved the new address).  Returns -1 if another member has it,
 * or if the move would put more than max_per_address members in the new
 * address's network.
 */
int room_rebind(struct room *r, const struct member *m, const struct peer_addr *addr);

/* Evict m as if it had timed out (a recipient too slow to keep up). Fills *o like room_expire. */
void room_evict(struct room *r, const struct member *m, struct outcome *o);

/* Lookups, O(1) on average.  NULL if absent. */
const struct member *room_find_name(const struct room *r, const char *name, size_t name_len);
const struct member *room_find_addr(const struct room *r, const struct peer_addr *addr);

/* Iteration: members 0..room_count()-1 in no particular order; any change invalidates it. */
size_t room_count(const struct room *r);
/* Members that speak v1 (proto 1). */
size_t room_count_v1(const struct room *r);
const struct member *room_member(const struct room *r, size_t i);

#endif
