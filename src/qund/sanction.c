/* sanction.c - bans and mutes: small arrays scanned linearly, with expiry on the caller's clock. */
#include "sanction.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "confusable.h"

/*
 * One array per kind.  The operator adds entries by hand, so there are
 * few; SANCTION_MAX bounds them all the same.  A linear scan of the
 * address bans on every datagram is cheaper at these sizes than any
 * index, and it has no worst case an attacker can choose.
 */
struct sanctions {
	struct sanction *list[SANCTION_KINDS];
	size_t count[SANCTION_KINDS], cap[SANCTION_KINDS];
	/*
	 * Beside each entry of list: a name's confusable key (confusable.h),
	 * made when the entry is, so that a ban on alice also holds against
	 * аlice (Cyrillic а); NULL for an address, or if ICU failed (then the
	 * entry matches its normalised key only).
	 */
	char **skel[SANCTION_KINDS];
};

struct sanctions *sanction_new(void)
{
	return xcalloc(1, sizeof(struct sanctions));
}

void sanction_free(struct sanctions *s)
{
	int k;

	if (s == NULL)
		return;
	for (k = 0; k < SANCTION_KINDS; k++) {
		size_t i;

		for (i = 0; i < s->count[k]; i++)
			free(s->skel[k][i]);
		free(s->skel[k]);
		free(s->list[k]);
	}
	free(s);
}

static int in_force(const struct sanction *e, uint64_t now)
{
	return e->until == 0 || e->until > now;
}

int sanction_parse_duration(const char *s, size_t n, uint64_t *ms)
{
	uint64_t v = 0, unit = 1000;
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > SANCTION_MAX_MS)
			return -1;
		i++;
	}
	if (i == 0)
		return -1;
	if (i < n) {
		switch (s[i]) {
		case 's':
			break;
		case 'm':
			unit = 60ULL * 1000;
			break;
		case 'h':
			unit = 3600ULL * 1000;
			break;
		case 'd':
			unit = 86400ULL * 1000;
			break;
		case 'w':
			unit = 7ULL * 86400 * 1000;
			break;
		default:
			return -1;
		}
		if (++i != n)
			return -1;
	}
	if (v == 0 || v > SANCTION_MAX_MS / unit)
		return -1;
	*ms = v * unit;
	return 0;
}

char *sanction_format_duration(uint64_t ms, char *buf, size_t size)
{
	static const struct {
		char unit;
		uint64_t secs;
	} units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
	uint64_t secs = (ms + 999) / 1000;
	size_t i, o = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (secs == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		uint64_t q = secs / units[i].secs;
		int k;

		if (q == 0)
			continue;
		secs -= q * units[i].secs;
		k = snprintf(buf + o, size - o, "%llu%c", (unsigned long long)q, units[i].unit);
		if (k < 0 || (size_t)k >= size - o)
			break; /* what fits is a prefix of the whole; size 32 always fits */
		o += (size_t)k;
	}
	return buf;
}

/*
 * Parse an address target into e (family, masked bytes, prefix, canonical
 * text).  Returns 1 if it is an address, 0 if it is not one (a name), -1
 * if it is an address with a bad prefix.
 */
static int parse_addr(const char *target, size_t n, struct sanction *e)
{
	char text[SANCTION_TARGET_MAX], host[INET6_ADDRSTRLEN];
	const char *slash;
	size_t hlen, i;
	unsigned long prefix = 0;
	uint8_t bytes[16];
	int family, maxbits, have_prefix = 0;

	if (n == 0 || n >= sizeof text)
		return 0;
	memcpy(text, target, n);
	text[n] = '\0';
	slash = memchr(text, '/', n);
	hlen = slash != NULL ? (size_t)(slash - text) : n;
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
		memmove(text, text + 1, hlen - 2);
		memmove(text + hlen - 2, text + hlen, n - hlen + 1);
		hlen -= 2;
		n -= 2;
		slash = hlen < n ? text + hlen : NULL;
	}
	if (hlen >= sizeof host)
		return 0;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, bytes) == 1) {
		family = 4;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, host, bytes) == 1) {
		family = 6;
		maxbits = 128;
	} else {
		return 0;
	}
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0')
			return -1;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			prefix = prefix * 10 + (unsigned long)(*p - '0');
			if (prefix > 128)
				return -1;
		}
		if (prefix > (unsigned long)maxbits)
			return -1;
		have_prefix = 1;
	}
	if (!have_prefix)
		prefix = (unsigned long)maxbits;
	/* An IPv4-mapped IPv6 address is the IPv4 address, as addr_key() sees peers. */
	if (family == 6 && prefix >= 96 && memcmp(bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		memmove(bytes, bytes + 12, 4);
		family = 4;
		maxbits = 32;
		prefix -= 96;
	}
	memset(e->addr, 0, sizeof e->addr);
	memcpy(e->addr, bytes, family == 4 ? 4 : 16);
	for (i = prefix; i < (size_t)maxbits; i++)
		e->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	e->family = (uint8_t)family;
	e->prefix = (unsigned)prefix;
	inet_ntop(family == 4 ? AF_INET : AF_INET6, e->addr, host, sizeof host);
	if (prefix == (unsigned long)maxbits)
		snprintf(e->target, sizeof e->target, "%s", host);
	else
		snprintf(e->target, sizeof e->target, "%s/%lu", host, prefix);
	return 1;
}

int sanction_is_addr_target(const char *target, size_t n)
{
	struct sanction e;

	return parse_addr(target, n, &e) != 0;
}

/* Fill e as a name entry; -1 if the name breaks the rules. */
static int parse_name(const char *name, size_t n, struct sanction *e)
{
	if (name_check(name, n) != NAME_OK)
		return -1;
	if (name_normalize(name, n, e->key, sizeof e->key) < 0)
		return -1;
	memcpy(e->target, name, n);
	e->target[n] = '\0';
	return 0;
}

static int same_target(const struct sanction *a, const struct sanction *b)
{
	if (a->kind == SANCTION_BAN_ADDR)
		return a->family == b->family && a->prefix == b->prefix &&
		       memcmp(a->addr, b->addr, sizeof a->addr) == 0;
	return strcmp(a->key, b->key) == 0;
}

static struct sanction *find(struct sanctions *s, const struct sanction *e)
{
	size_t i;

	for (i = 0; i < s->count[e->kind]; i++)
		if (same_target(&s->list[e->kind][i], e))
			return &s->list[e->kind][i];
	return NULL;
}

static void remove_at(struct sanctions *s, enum sanction_kind k, size_t i)
{
	free(s->skel[k][i]);
	s->skel[k][i] = s->skel[k][s->count[k] - 1];
	s->list[k][i] = s->list[k][s->count[k] - 1];
	s->count[k]--;
}

/* A copy of the confusable key of e's name (NULL for an address, or if ICU fails). */
static char *skel_of(const struct sanction *e)
{
	char skel[CONFUSABLE_KEY_MAX + 1];
	int len;
	char *copy;

	if (e->kind == SANCTION_BAN_ADDR)
		return NULL;
	len = confusable_key(e->target, strlen(e->target), skel, sizeof skel);
	if (len < 0)
		return NULL;
	copy = xmalloc((size_t)len + 1);
	memcpy(copy, skel, (size_t)len + 1);
	return copy;
}

/* Add e, or replace the expiry of the entry with the same target. */
static enum sanction_status put(struct sanctions *s, struct sanction *e, uint64_t now,
                                uint64_t duration)
{
	struct sanction *old = find(s, e);
	enum sanction_kind k = e->kind;

	e->until = duration == 0 ? 0 : now + duration;
	if (old != NULL) {
		enum sanction_status st = in_force(old, now) ? SANCTION_UPDATED : SANCTION_OK;

		*old = *e;
		return st;
	}
	if (s->count[k] >= SANCTION_MAX) {
		sanction_expire(s, now);
		if (s->count[k] >= SANCTION_MAX)
			return SANCTION_FULL;
	}
	if (s->count[k] == s->cap[k]) {
		s->cap[k] = s->cap[k] ? s->cap[k] * 2 : 8;
		s->list[k] = xrealloc(s->list[k], s->cap[k] * sizeof *s->list[k]);
		s->skel[k] = xrealloc(s->skel[k], s->cap[k] * sizeof *s->skel[k]);
	}
	s->skel[k][s->count[k]] = skel_of(e);
	s->list[k][s->count[k]++] = *e;
	return SANCTION_OK;
}

/* Remove the entry with e's target; NOT_FOUND if there is none in force. */
static enum sanction_status lift(struct sanctions *s, const struct sanction *e, uint64_t now)
{
	struct sanction *old = find(s, e);
	int was_in_force;

	if (old == NULL)
		return SANCTION_NOT_FOUND;
	was_in_force = in_force(old, now);
	remove_at(s, e->kind, (size_t)(old - s->list[e->kind]));
	return was_in_force ? SANCTION_OK : SANCTION_NOT_FOUND;
}

/* Classify target as an address or a name ban and fill e. */
static enum sanction_status ban_entry(const char *target, size_t n, struct sanction *e)
{
	int a;

	memset(e, 0, sizeof *e);
	a = parse_addr(target, n, e);
	if (a < 0)
		return SANCTION_BAD_ADDR;
	if (a > 0) {
		e->kind = SANCTION_BAN_ADDR;
		return SANCTION_OK;
	}
	e->kind = SANCTION_BAN_NAME;
	return parse_name(target, n, e) < 0 ? SANCTION_BAD_NAME : SANCTION_OK;
}

int sanction_canonical(const char *target, size_t n, char *out, size_t size)
{
	struct sanction e;
	int ok = ban_entry(target, n, &e) == SANCTION_OK;

	if (size > 0)
		snprintf(out, size, "%s", ok ? e.target : "");
	return ok ? 0 : -1;
}

enum sanction_status sanction_ban(struct sanctions *s, const char *target, size_t n, uint64_t now,
                                  uint64_t duration, enum sanction_kind *kind)
{
	struct sanction e;
	enum sanction_status st = ban_entry(target, n, &e);

	if (st != SANCTION_OK)
		return st;
	st = put(s, &e, now, duration);
	if (kind != NULL && (st == SANCTION_OK || st == SANCTION_UPDATED))
		*kind = e.kind;
	return st;
}

enum sanction_status sanction_unban(struct sanctions *s, const char *target, size_t n, uint64_t now)
{
	struct sanction e;
	enum sanction_status st = ban_entry(target, n, &e);

	return st != SANCTION_OK ? st : lift(s, &e, now);
}

enum sanction_status sanction_mute(struct sanctions *s, const char *name, size_t n, uint64_t now,
                                   uint64_t duration)
{
	struct sanction e;

	memset(&e, 0, sizeof e);
	e.kind = SANCTION_MUTE;
	if (parse_name(name, n, &e) < 0)
		return SANCTION_BAD_NAME;
	return put(s, &e, now, duration);
}

enum sanction_status sanction_unmute(struct sanctions *s, const char *name, size_t n, uint64_t now)
{
	struct sanction e;

	memset(&e, 0, sizeof e);
	e.kind = SANCTION_MUTE;
	if (parse_name(name, n, &e) < 0)
		return SANCTION_BAD_NAME;
	return lift(s, &e, now);
}

/* 1 if the first `bits` bits of a and b agree. */
static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xffu << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/*
 * Whether an entry of kind k in force at now names name[0..n) or a
 * look-alike of it: the same normalised key, or the same confusable key.
 * Computing the confusable key (about 0.3 us) happens only while some
 * entry of the kind exists; for mutes that is once per message then.
 */
static int name_listed(const struct sanctions *s, enum sanction_kind k, const char *name, size_t n,
                       uint64_t now)
{
	char key[QUN_MAX_NAME + 1], skel[CONFUSABLE_KEY_MAX + 1];
	int have_skel;
	size_t i;

	if (s->count[k] == 0 || n > QUN_MAX_NAME || name_normalize(name, n, key, sizeof key) < 0)
		return 0;
	have_skel = confusable_key(name, n, skel, sizeof skel) >= 0;
	for (i = 0; i < s->count[k]; i++) {
		const char *es = s->skel[k][i];

		if (in_force(&s->list[k][i], now) &&
		    (strcmp(s->list[k][i].key, key) == 0 ||
		     (have_skel && es != NULL && strcmp(es, skel) == 0)))
			return 1;
	}
	return 0;
}

int sanction_is_banned(const struct sanctions *s, const char *name, size_t name_len,
                       const struct peer_addr *addr, uint64_t now)
{
	uint8_t key[ADDR_KEY_MAX];
	size_t i, len;

	if (name != NULL && name_listed(s, SANCTION_BAN_NAME, name, name_len, now))
		return 1;
	if (addr == NULL || s->count[SANCTION_BAN_ADDR] == 0)
		return 0;
	/* addr_key: family (4 or 6), port (2 bytes), then the address bytes. */
	len = addr_key(addr, key);
	if (len == 0)
		return 0;
	for (i = 0; i < s->count[SANCTION_BAN_ADDR]; i++) {
		const struct sanction *e = &s->list[SANCTION_BAN_ADDR][i];

		if (e->family == key[0] && in_force(e, now) &&
		    prefix_match(e->addr, key + 3, e->prefix))
			return 1;
	}
	return 0;
}

int sanction_is_muted(const struct sanctions *s, const char *name, size_t n, uint64_t now)
{
	return name_listed(s, SANCTION_MUTE, name, n, now);
}

size_t sanction_expire(struct sanctions *s, uint64_t now)
{
	size_t gone = 0, i;
	int k;

	for (k = 0; k < SANCTION_KINDS; k++) {
		for (i = 0; i < s->count[k];) {
			if (in_force(&s->list[k][i], now)) {
				i++;
				continue;
			}
			remove_at(s, (enum sanction_kind)k, i);
			gone++;
		}
	}
	return gone;
}

size_t sanction_count(const struct sanctions *s, enum sanction_kind kind)
{
	return (unsigned)kind < SANCTION_KINDS ? s->count[kind] : 0;
}

const struct sanction *sanction_get(const struct sanctions *s, enum sanction_kind kind, size_t i)
{
	if ((unsigned)kind >= SANCTION_KINDS || i >= s->count[kind])
		return NULL;
	return &s->list[kind][i];
}

const char *sanction_status_str(enum sanction_status st)
{
	switch (st) {
	case SANCTION_OK:
		return "ok";
	case SANCTION_UPDATED:
		return "updated";
	case SANCTION_BAD_NAME:
		return "not a valid name or address";
	case SANCTION_BAD_ADDR:
		return "bad address prefix";
	case SANCTION_FULL:
		return "too many entries";
	case SANCTION_NOT_FOUND:
		return "not in force";
	}
	return "unknown status";
}
