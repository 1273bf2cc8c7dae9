/* sanction.h - the operator's bans (by name or address) and mutes (by name), with expiry. Pure, no
 * I/O. */
#ifndef QUN_SANCTION_H
#define QUN_SANCTION_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/sizes.h"

/*
 * The server consults these before the room: a banned name or address
 * cannot log in (and an address ban silences everything from it), and a
 * muted name cannot speak.  The interface knows nothing of protocol
 * versions: it sees names, peer addresses and a clock, so v1 and v2 ask
 * the same questions.
 *
 * Times are milliseconds on the caller's monotonic clock (the one the room
 * uses).  Sanctions live in memory only: a restart lifts them.
 */

/* Most entries of each kind: bounded, so that a runaway script cannot grow memory without end. */
#define SANCTION_MAX 1024
/* Longest duration accepted: ten years. */
#define SANCTION_MAX_MS (3650ULL * 24 * 3600 * 1000)
/* Room for a target's text: a name, or "ffff:...:ffff/128". */
#define SANCTION_TARGET_MAX 64

enum sanction_kind { SANCTION_BAN_NAME = 0, SANCTION_BAN_ADDR, SANCTION_MUTE, SANCTION_KINDS };

struct sanction {
	enum sanction_kind kind;
	/* A name as the operator typed it, or an address in canonical form ("10.0.0.0/8", "::1").
	 */
	char target[SANCTION_TARGET_MAX];
	char key[QUN_MAX_NAME + 1]; /* names: the normalised form (text.h) */
	uint8_t family;             /* addresses: 4 or 6 */
	uint8_t addr[16];           /* addresses: the network, host bits cleared */
	unsigned prefix;            /* addresses: bits that must match (32 or 128 for one host) */
	uint64_t until;             /* when it lapses; 0 = until lifted */
};

enum sanction_status {
	SANCTION_OK = 0,
	SANCTION_UPDATED,   /* it was already there: its expiry was replaced */
	SANCTION_BAD_NAME,  /* the target breaks the name rules */
	SANCTION_BAD_ADDR,  /* an address with a bad prefix length */
	SANCTION_FULL,      /* SANCTION_MAX entries of this kind already */
	SANCTION_NOT_FOUND, /* unban/unmute of something not in force */
};

struct sanctions;

/* An empty set.  Never returns NULL (allocation failure aborts, see log.h). */
struct sanctions *sanction_new(void);
void sanction_free(struct sanctions *s);

/*
 * Parse a duration: a whole number followed by an optional unit, s
 * (default), m, h, d or w; "90", "15m", "2h", "7d".  Zero and anything over
 * SANCTION_MAX_MS are refused.  Returns 0 and sets *ms, or -1.
 */
int sanction_parse_duration(const char *s, size_t n, uint64_t *ms);

/* Print a duration in ms as "2h5m", "45s", "3d" (whole seconds, rounded up) into buf. Returns buf.
 */
char *sanction_format_duration(uint64_t ms, char *buf, size_t size);

/*
 * Is target[0..n) an address?  An IPv4 or IPv6 address (brackets
 * allowed), optionally followed by /PREFIX, is; anything else is a name.
 * Returns 1 for an address, 0 for a name.
 */
int sanction_is_addr_target(const char *target, size_t n);

/*
 * Write the form target[0..n) is kept in (an address in canonical form,
 * "10.0.0.0/8" for "10.1.2.3/8"; a name as given) into out.  Returns -1 if
 * it is neither a valid address nor a valid name (out then holds "").
 */
int sanction_canonical(const char *target, size_t n, char *out, size_t size);

/*
 * Ban target[0..n) (an address per sanction_is_addr_target, else a name)
 * for duration ms from now (0: until unbanned).  Banning again replaces
 * the expiry and returns SANCTION_UPDATED.  On success, *kind (if not
 * NULL) says which kind of ban it was.
 */
enum sanction_status sanction_ban(struct sanctions *s, const char *target, size_t n, uint64_t now,
                                  uint64_t duration, enum sanction_kind *kind);
enum sanction_status sanction_unban(struct sanctions *s, const char *target, size_t n,
                                    uint64_t now);

/* Mute name[0..n) for duration ms (0: until unmuted); muting again replaces the expiry. */
enum sanction_status sanction_mute(struct sanctions *s, const char *name, size_t n, uint64_t now,
                                   uint64_t duration);
enum sanction_status sanction_unmute(struct sanctions *s, const char *name, size_t n, uint64_t now);

/*
 * 1 if a ban in force at now covers the name (compared in normalised
 * form; NULL to check the address alone) or the address (NULL to check
 * the name alone), else 0.  An IPv4-mapped IPv6 address counts as IPv4.
 */
int sanction_is_banned(const struct sanctions *s, const char *name, size_t name_len,
                       const struct peer_addr *addr, uint64_t now);

/* 1 if name[0..n) is muted at now, else 0. */
int sanction_is_muted(const struct sanctions *s, const char *name, size_t n, uint64_t now);

/* Forget every entry that has lapsed by now; returns how many went. */
size_t sanction_expire(struct sanctions *s, uint64_t now);

/* Listing: entries of a kind, 0..count-1, in no particular order; any change invalidates it. */
size_t sanction_count(const struct sanctions *s, enum sanction_kind kind);
const struct sanction *sanction_get(const struct sanctions *s, enum sanction_kind kind, size_t i);

/* Short English description of a status, for replies and logs. */
const char *sanction_status_str(enum sanction_status st);

#endif
