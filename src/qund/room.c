/* room.c - the chat room core: who is in, who owns which name, and who gets what. No I/O. */
#include "room.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/text.h"
#include "confusable.h"

/*
 * A list of members ordered by last_heard, oldest first.  Every sign of
 * life moves a member to the tail, so the head is always the next to
 * expire and eviction costs O(1) whatever the room's size.  There is one
 * list per timeout: members that send keepalives, members that don't, and
 * v1 members that have not yet shown a client behind them (unproven).
 */
struct lru {
	struct member *head, *tail;
};

/*
 * Members per network (addr_net_key with the configured prefixes), so that
 * the per-address cap costs O(1) per login.  Open addressing with linear
 * probing; a slot holds the upper half of the network key's keyed hash
 * (the lower half chose its first slot) and its count, 8 bytes, since a
 * large room of distinct addresses has an entry per member.  A lookup
 * compares two or three slots' 32-bit tags, so about one login in 10^9
 * meets another network's count (once in some 10,000 fillings of a room
 * of 100,000), and nobody who does not know the key can make it happen: at
 * worst a login is refused early.
 * A slot is empty (count 0), in use, or deleted (NET_GONE); when used and
 * deleted slots pass half the table, it is rebuilt from the members, twice
 * as big if more than a quarter is in use.  NULL when the cap cannot bind.
 * v1 members have a table of their own: a forged v1 login must not take a
 * v2 client's place at its own address.
 */
#define NET_GONE UINT32_MAX
struct net_slot {
	uint32_t tag, count;
};
struct nets {
	struct net_slot *slot;
	size_t size, used, gone; /* size a power of two */
};

/* Hash slots of the v1 login rate limit (a /24 or /64 each, shared when two collide). */
#define V1_LIMIT_SLOTS 1024
/* Everyone together gets V1_LIMIT_ALL times one network's burst and rate. */
#define V1_LIMIT_ALL 4
/* The networks of the v1 login rate limit: a site's /24, a subscriber's /64. */
#define V1_LIMIT_PREFIX_V4 24
#define V1_LIMIT_PREFIX_V6 64

struct room {
	struct room_config cfg;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct member **by_name; /* buckets, chained through next_by_name */
	struct member **by_addr; /* buckets, chained through next_by_addr */
	size_t nbuckets;         /* a power of two, >= count */
	struct member **members; /* dense array for iteration */
	size_t count, cap;
	struct lru idle, alive;  /* never pinged / has pinged */
	struct lru unproven;     /* v1, nothing but L so far: the short v1_login_timeout */
	struct nets nets, nets1; /* members per network, for max_per_address: v2 / v1 */
	size_t v1_count;         /* members with proto 1 */
	struct bucket *v1_limit, v1_limit_all; /* v1 logins: V1_LIMIT_SLOTS by network, and all */
};

static uint64_t hash_bytes(const struct room *r, const void *p, size_t n)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, p, n, r->hash_key);
	memcpy(&h, out, sizeof h);
	return h;
}

static size_t name_bucket(const struct room *r, const char *key)
{
	return (size_t)hash_bytes(r, key, strlen(key)) & (r->nbuckets - 1);
}

/*
 * m's confusable key (confusable.h), on which the name table is keyed:
 * one member per key, so nobody joins under a look-alike of a member's
 * name.  It follows member_key()'s NUL; "" there means it is member_key().
 */
static const char *member_skel(const struct member *m)
{
	const char *key = member_key(m);
	const char *skel = key + strlen(key) + 1;

	return *skel != '\0' ? skel : key;
}

static size_t addr_bucket(const struct room *r, const struct peer_addr *a)
{
	uint8_t key[ADDR_KEY_MAX];
	size_t len = addr_key(a, key);

	return (size_t)hash_bytes(r, key, len) & (r->nbuckets - 1);
}

static void lru_remove(struct lru *l, struct member *m)
{
	if (m->lru_prev != NULL)
		m->lru_prev->lru_next = m->lru_next;
	else
		l->head = m->lru_next;
	if (m->lru_next != NULL)
		m->lru_next->lru_prev = m->lru_prev;
	else
		l->tail = m->lru_prev;
	m->lru_prev = m->lru_next = NULL;
}

static void lru_append(struct lru *l, struct member *m)
{
	m->lru_prev = l->tail;
	m->lru_next = NULL;
	if (l->tail != NULL)
		l->tail->lru_next = m;
	else
		l->head = m;
	l->tail = m;
}

static struct lru *lru_of(struct room *r, const struct member *m)
{
	return m->keepalive ? &r->alive : m->unproven ? &r->unproven : &r->idle;
}

/* Move m to the list its new flags say, at the young end: call it before touch(). */
static void relist(struct room *r, struct member *m, int keepalive, int unproven)
{
	lru_remove(lru_of(r, m), m);
	m->keepalive = (uint8_t)keepalive;
	m->unproven = (uint8_t)unproven;
	lru_append(lru_of(r, m), m);
}

/* Record a sign of life: the member moves to the young end of its list. */
static void touch(struct room *r, struct member *m, uint64_t now)
{
	lru_remove(lru_of(r, m), m);
	m->last_heard = now;
	lru_append(lru_of(r, m), m);
}

struct room *room_new(const struct room_config *cfg, const unsigned char hash_key[16])
{
	struct room *r = xcalloc(1, sizeof *r);

	r->cfg = *cfg;
	if (r->cfg.prefix_v4 == 0)
		r->cfg.prefix_v4 = 32;
	if (r->cfg.prefix_v6 == 0)
		r->cfg.prefix_v6 = 64;
	if (r->cfg.v1_login_timeout == 0 || r->cfg.v1_login_timeout > r->cfg.idle_timeout)
		r->cfg.v1_login_timeout = r->cfg.idle_timeout;
	memcpy(r->hash_key, hash_key, sizeof r->hash_key);
	r->nbuckets = 64;
	r->by_name = xcalloc(r->nbuckets, sizeof *r->by_name);
	r->by_addr = xcalloc(r->nbuckets, sizeof *r->by_addr);
	if (r->cfg.v1_login_burst > 0)
		r->v1_limit = xcalloc(V1_LIMIT_SLOTS, sizeof *r->v1_limit);
	/* Counting per network costs memory; where the cap cannot bind, it is not done. */
	if (r->cfg.max_per_address > 0 && r->cfg.max_per_address < r->cfg.max_members) {
		r->nets.size = r->nets1.size = 64;
		r->nets.slot = xcalloc(r->nets.size, sizeof *r->nets.slot);
		r->nets1.slot = xcalloc(r->nets1.size, sizeof *r->nets1.slot);
	}
	return r;
}

void room_free(struct room *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->count; i++)
		free(r->members[i]);
	free(r->members);
	free(r->by_name);
	free(r->by_addr);
	free(r->nets.slot);
	free(r->nets1.slot);
	free(r->v1_limit);
	free(r);
}

/* Double the bucket arrays and rehash, keeping the load factor at most 1. */
static void grow_tables(struct room *r)
{
	size_t i;

	free(r->by_name);
	free(r->by_addr);
	r->nbuckets *= 2;
	r->by_name = xcalloc(r->nbuckets, sizeof *r->by_name);
	r->by_addr = xcalloc(r->nbuckets, sizeof *r->by_addr);
	for (i = 0; i < r->count; i++) {
		struct member *m = r->members[i];
		size_t b = name_bucket(r, member_skel(m));

		m->next_by_name = r->by_name[b];
		r->by_name[b] = m;
		b = addr_bucket(r, &m->addr);
		m->next_by_addr = r->by_addr[b];
		r->by_addr[b] = m;
	}
}

/* The member whose confusable key is skel, if any. */
static struct member *find_key(const struct room *r, const char *skel)
{
	struct member *m;

	for (m = r->by_name[name_bucket(r, skel)]; m != NULL; m = m->next_by_name)
		if (strcmp(member_skel(m), skel) == 0)
			return m;
	return NULL;
}

static struct member *find_addr(const struct room *r, const struct peer_addr *a)
{
	struct member *m;

	for (m = r->by_addr[addr_bucket(r, a)]; m != NULL; m = m->next_by_addr)
		if (addr_equal(&m->addr, a))
			return m;
	return NULL;
}

/*
 * The member with name, or with a look-alike of it: the operator's "kick
 * alice" reaches аlice (Cyrillic а) when she is the one online.  A key
 * has one member, so the exact name, when online, is the one found.
 */
static struct member *find_name(const struct room *r, const char *name, size_t name_len)
{
	char skel[CONFUSABLE_KEY_MAX + 1];

	if (confusable_key(name, name_len, skel, sizeof skel) < 0)
		return NULL;
	return find_key(r, skel);
}

const struct member *room_find_name(const struct room *r, const char *name, size_t name_len)
{
	return find_name(r, name, name_len);
}

const struct member *room_find_addr(const struct room *r, const struct peer_addr *addr)
{
	return find_addr(r, addr);
}

size_t room_count(const struct room *r)
{
	return r->count;
}

size_t room_count_v1(const struct room *r)
{
	return r->v1_count;
}

/* ---- members per network (struct nets) ---- */

static uint64_t net_hash(const struct room *r, const struct peer_addr *a)
{
	uint8_t key[ADDR_NET_MAX];
	size_t len = addr_net_key(a, r->cfg.prefix_v4, r->cfg.prefix_v6, key);

	return hash_bytes(r, key, len);
}

/*
 * The slot of the network whose key hashed to h (*found 1), or the slot
 * it would take (*found 0): the first deleted one on its run, else the
 * empty one that ends the run.  A run always ends: at most half the slots
 * are used or deleted.
 */
static size_t net_find(const struct nets *t, uint64_t h, int *found)
{
	size_t mask = t->size - 1, i = (size_t)h & mask, take = SIZE_MAX;
	uint32_t tag = (uint32_t)(h >> 32);

	for (;; i = (i + 1) & mask) {
		const struct net_slot *sl = &t->slot[i];

		if (sl->count == 0) {
			*found = 0;
			return take != SIZE_MAX ? take : i;
		}
		if (sl->count == NET_GONE) {
			if (take == SIZE_MAX)
				take = i;
		} else if (sl->tag == tag) {
			*found = 1;
			return i;
		}
	}
}

static void net_insert(struct nets *t, uint64_t h)
{
	int found;
	size_t i = net_find(t, h, &found);

	if (found) {
		t->slot[i].count++;
		return;
	}
	if (t->slot[i].count == NET_GONE)
		t->gone--;
	t->slot[i].tag = (uint32_t)(h >> 32);
	t->slot[i].count = 1;
	t->used++;
}

/* The table that counts members of m's protocol: v1 apart from the rest. */
static struct nets *nets_of(struct room *r, int v1)
{
	return v1 ? &r->nets1 : &r->nets;
}

/* Count member m's network (m is already in r->members), rebuilding the table when due. */
static void nets_add(struct room *r, const struct member *m)
{
	struct nets *t = nets_of(r, m->proto == 1);
	size_t i;

	if (t->slot == NULL)
		return;
	if ((t->used + t->gone + 1) * 2 <= t->size) {
		net_insert(t, net_hash(r, &m->addr));
		return;
	}
	/* Rebuilt from the members (m among them): the slots keep too little to rehash. */
	if ((t->used + 1) * 4 > t->size)
		t->size *= 2;
	free(t->slot);
	t->slot = xcalloc(t->size, sizeof *t->slot);
	t->used = t->gone = 0;
	for (i = 0; i < r->count; i++)
		if ((r->members[i]->proto == 1) == (m->proto == 1))
			net_insert(t, net_hash(r, &r->members[i]->addr));
}

/* Stop counting member m's network (m is still in r->members). */
static void nets_remove(struct room *r, const struct member *m)
{
	struct nets *t = nets_of(r, m->proto == 1);
	int found;
	size_t i;

	if (t->slot == NULL)
		return;
	i = net_find(t, net_hash(r, &m->addr), &found);
	if (!found)
		return; /* cannot happen: every member was counted */
	if (--t->slot[i].count == 0) {
		t->slot[i].count = NET_GONE;
		t->used--;
		t->gone++;
	}
}

/* Members of one protocol (v1 or not) in a's network; 0 when the cap cannot bind. */
static size_t nets_count(const struct room *r, const struct peer_addr *a, int v1)
{
	const struct nets *t = v1 ? &r->nets1 : &r->nets;
	int found;
	size_t i;

	if (t->slot == NULL)
		return 0;
	i = net_find(t, net_hash(r, a), &found);
	return found ? t->slot[i].count : 0;
}

const struct member *room_member(const struct room *r, size_t i)
{
	return i < r->count ? r->members[i] : NULL;
}

/*
 * A new member, allocated at the length of what it keeps after struct
 * member: its name; its normalised key unless that is the name; its
 * confusable key skel, or "" if that is the normalised key (member_skel()).
 */
static struct member *add_member(struct room *r, const struct peer_addr *addr, const char *name,
                                 size_t name_len, const char *key, const char *skel, uint64_t now)
{
	size_t key_len = strlen(key), skel_len = strlen(skel);
	int same = key_len == name_len && memcmp(key, name, name_len) == 0;
	int skel_same = strcmp(skel, key) == 0;
	struct member *m = xcalloc(1, sizeof *m + name_len + 1 + (same ? 0 : key_len + 1) +
	                                  (skel_same ? 1 : skel_len + 1));
	size_t b;

	memcpy(m->name, name, name_len);
	m->name[name_len] = '\0';
	if (!same) {
		m->key_off = (uint8_t)(name_len + 1);
		memcpy(m->name + m->key_off, key, key_len + 1);
	}
	if (!skel_same) /* else the zeroed byte after the key is the "" */
		memcpy(m->name + m->key_off + key_len + 1, skel, skel_len + 1);
	m->addr = *addr;
	m->last_heard = now;
	if (r->count == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->members = xrealloc(r->members, r->cap * sizeof *r->members);
	}
	m->slot = (uint32_t)r->count;
	r->members[r->count++] = m;
	if (r->count > r->nbuckets)
		grow_tables(r); /* rehashes m too */
	else {
		b = name_bucket(r, member_skel(m));
		m->next_by_name = r->by_name[b];
		r->by_name[b] = m;
		b = addr_bucket(r, &m->addr);
		m->next_by_addr = r->by_addr[b];
		r->by_addr[b] = m;
	}
	lru_append(&r->idle, m);
	return m;
}

static void unlink_chain(struct member **head, struct member *m, int by_name)
{
	struct member **pp;

	for (pp = head; *pp != NULL; pp = by_name ? &(*pp)->next_by_name : &(*pp)->next_by_addr) {
		if (*pp == m) {
			*pp = by_name ? m->next_by_name : m->next_by_addr;
			return;
		}
	}
}

/* Remove m from every index and free it; the last member takes its slot. */
static void remove_member(struct room *r, struct member *m)
{
	struct member *last = r->members[r->count - 1];

	nets_remove(r, m);
	if (m->proto == 1)
		r->v1_count--;
	unlink_chain(&r->by_name[name_bucket(r, member_skel(m))], m, 1);
	unlink_chain(&r->by_addr[addr_bucket(r, &m->addr)], m, 0);
	lru_remove(lru_of(r, m), m);
	last->slot = m->slot;
	r->members[m->slot] = last;
	r->count--;
	free(m);
}

static void outcome_init(struct outcome *o, const struct peer_addr *to)
{
	memset(o, 0, sizeof *o);
	if (to != NULL)
		o->reply_to = *to;
}

/* The reply goes to member m: note who it is, for the caller's protocol layer. */
static void reply_member(struct outcome *o, const struct member *m)
{
	o->reply_to = m->addr;
	o->reply_to_member = 1;
	o->reply_proto = m->proto;
	o->reply_data = m->data;
}

static void refuse(struct outcome *o, enum qerr err, int detail)
{
	o->reply = REPLY_ERR;
	o->err = err;
	o->err_detail = detail;
}

static void set_event(struct outcome *o, enum room_event ev, const char *name)
{
	o->has_event = 1;
	o->event = ev;
	if (name != NULL)
		snprintf(o->name, sizeof o->name, "%s", name);
}

/*
 * The member at addr, if it owns name; otherwise NULL with the drop
 * reason set.  This is the whole of v1's authentication: a name belongs
 * to the address that logged it in.
 */
static struct member *owner(struct room *r, const struct peer_addr *addr, const char *name,
                            size_t name_len, struct outcome *o)
{
	struct member *m = find_addr(r, addr);
	char key[QUN_MAX_NAME + 1];

	if (m == NULL) {
		o->drop = DROP_NOT_MEMBER;
		return NULL;
	}
	reply_member(o, m);
	if (name_len > QUN_MAX_NAME || name_normalize(name, name_len, key, sizeof key) < 0 ||
	    strcmp(key, member_key(m)) != 0) {
		o->drop = DROP_WRONG_NAME;
		return NULL;
	}
	return m;
}

/*
 * May a new v1 member from a's network join now?  A token from both its
 * network's bucket and everyone's, or from neither: a login refused by one
 * must not spend the other's.
 */
static int v1_login_allowed(struct room *r, const struct peer_addr *a, uint64_t now)
{
	uint8_t key[ADDR_NET_MAX];
	size_t len = addr_net_key(a, V1_LIMIT_PREFIX_V4, V1_LIMIT_PREFIX_V6, key);
	unsigned burst = r->cfg.v1_login_burst, rate = r->cfg.v1_login_rate;
	struct bucket *b, one, all = r->v1_limit_all;

	if (burst == 0)
		return 1;
	b = &r->v1_limit[hash_bytes(r, key, len) % V1_LIMIT_SLOTS];
	one = *b;
	if (!bucket_take(&one, now, burst, rate) ||
	    !bucket_take(&all, now, burst * V1_LIMIT_ALL, rate * V1_LIMIT_ALL))
		return 0;
	*b = one;
	r->v1_limit_all = all;
	return 1;
}

static void join(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
                 int v1, uint64_t now, struct outcome *o)
{
	char key[QUN_MAX_NAME + 1], skel[CONFUSABLE_KEY_MAX + 1];
	enum name_status ns;
	struct member *self, *holder;

	outcome_init(o, addr);
	self = find_addr(r, addr);
	if (self != NULL)
		reply_member(o, self);
	ns = confusable_name_check(name, name_len, skel, sizeof skel);
	if (ns != NAME_OK) {
		refuse(o, QERR_NAME_INVALID, (int)ns);
		return;
	}
	name_normalize(name, name_len, key, sizeof key);
	holder = find_key(r, skel);
	if (self != NULL) {
		if (self == holder && strcmp(member_key(self), key) == 0) {
			/* A retry after a lost OK: confirm again, announce nothing. */
			touch(r, self, now);
			o->reply = REPLY_OK;
		} else {
			refuse(o, QERR_OTHER_NAME, 0);
		}
		return;
	}
	if (holder != NULL) {
		/* The same name (up to ASCII case and fullwidth), or one that looks like it. */
		if (strcmp(member_key(holder), key) == 0)
			refuse(o, QERR_NAME_TAKEN, 0);
		else
			refuse(o, QERR_NAME_INVALID, NAME_LOOKALIKE);
		return;
	}
	if (r->count >= r->cfg.max_members) {
		refuse(o, QERR_ROOM_FULL, 0);
		return;
	}
	if (r->cfg.max_per_address > 0 && nets_count(r, addr, v1) >= r->cfg.max_per_address) {
		refuse(o, QERR_TOO_MANY, 0);
		return;
	}
	/* The rate last, so that only a login that succeeds spends a token. */
	if (v1 && ((r->cfg.max_v1 > 0 && r->v1_count >= r->cfg.max_v1) ||
	           !v1_login_allowed(r, addr, now))) {
		refuse(o, QERR_V1_BUSY, 0);
		return;
	}
	self = add_member(r, addr, name, name_len, key, skel, now);
	if (v1) {
		self->proto = 1;
		r->v1_count++;
		relist(r, self, 0, 1);
	}
	nets_add(r, self);
	o->reply = REPLY_OK;
	reply_member(o, self);
	set_event(o, EV_JOIN, self->name);
	o->exclude = self;
}

void room_join(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o)
{
	join(r, addr, name, name_len, 0, now, o);
}

void room_join_v1(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
                  uint64_t now, struct outcome *o)
{
	join(r, addr, name, name_len, 1, now, o);
}

void room_say(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
              const char *text, size_t text_len, uint64_t now, struct outcome *o)
{
	enum text_status ts;
	struct member *m;

	outcome_init(o, addr);
	m = owner(r, addr, name, name_len, o);
	if (m == NULL)
		return;
	touch(r, m, now);
	ts = text_check_max(text, text_len, m->proto == 2 ? QUN_MAX_TEXT_V2 : QUN_MAX_TEXT);
	if (ts != TEXT_OK) {
		refuse(o, QERR_TEXT_INVALID, (int)ts);
		return;
	}
	if (r->cfg.flood_burst > 0 &&
	    !bucket_take(&m->flood, now, r->cfg.flood_burst, r->cfg.flood_rate)) {
		refuse(o, QERR_FLOOD, 0);
		return;
	}
	/* Words relayed to the room: a client (or a forger the room can see) is there. */
	if (m->unproven)
		relist(r, m, 0, 0);
	set_event(o, EV_SAY, m->name);
	o->text = text;
	o->text_len = text_len;
	o->exclude = m;
}

const struct member *room_who(struct room *r, const struct peer_addr *addr, const char *name,
                              size_t name_len, int take_token, uint64_t now, struct outcome *o)
{
	struct member *m;

	outcome_init(o, addr);
	m = owner(r, addr, name, name_len, o);
	if (m == NULL)
		return NULL;
	touch(r, m, now);
	if (take_token && r->cfg.flood_burst > 0 &&
	    !bucket_take(&m->flood, now, r->cfg.flood_burst, r->cfg.flood_rate)) {
		refuse(o, QERR_FLOOD, 0);
		return NULL;
	}
	return m;
}

void room_quit(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o)
{
	struct member *m;

	(void)now;
	outcome_init(o, addr);
	m = owner(r, addr, name, name_len, o);
	if (m == NULL)
		return;
	o->reply = REPLY_EXIT;
	set_event(o, EV_LEAVE, m->name);
	remove_member(r, m);
}

void room_ping(struct room *r, const struct peer_addr *addr, const char *name, size_t name_len,
               uint64_t now, struct outcome *o)
{
	struct member *m;

	outcome_init(o, addr);
	m = owner(r, addr, name, name_len, o);
	if (m == NULL)
		return;
	if (!m->keepalive)
		relist(r, m, 1, 0);
	touch(r, m, now);
}

static struct member *mutable(struct room *r, const struct member *m);

void room_touch(struct room *r, const struct member *m, uint64_t now)
{
	struct member *mm = mutable(r, m);

	if (!mm->keepalive)
		relist(r, mm, 1, 0);
	touch(r, mm, now);
}

int room_kick(struct room *r, const char *name, size_t name_len, struct outcome *o)
{
	struct member *m = find_name(r, name, name_len);

	outcome_init(o, NULL);
	if (m == NULL)
		return -1;
	reply_member(o, m);
	o->reply = REPLY_EXIT;
	set_event(o, EV_KICK, m->name);
	remove_member(r, m);
	return 0;
}

void room_admin(struct room *r, const char *text, size_t text_len, struct outcome *o)
{
	(void)r;
	outcome_init(o, NULL);
	set_event(o, EV_ADMIN, NULL);
	o->text = text;
	o->text_len = text_len;
}

/* Milliseconds until the head of l is due (0 if overdue), UINT64_MAX if l is empty. */
static uint64_t lru_due(const struct lru *l, uint64_t timeout, uint64_t now)
{
	uint64_t deadline;

	if (l->head == NULL)
		return UINT64_MAX;
	deadline = l->head->last_heard + timeout;
	return deadline > now ? deadline - now : 0;
}

uint64_t room_next_expiry(const struct room *r, uint64_t now)
{
	uint64_t a = lru_due(&r->alive, r->cfg.keepalive_timeout, now);
	uint64_t b = lru_due(&r->idle, r->cfg.idle_timeout, now);
	uint64_t c = lru_due(&r->unproven, r->cfg.v1_login_timeout, now);

	a = a < b ? a : b;
	return a < c ? a : c;
}

/* The room's own, writable pointer to a member the caller holds as const. */
static struct member *mutable(struct room *r, const struct member *m)
{
	return r->members[m->slot];
}

/* Remove m with a TIMEOUT event for the others and EXIT for m (it may only be slow). */
static void evict(struct room *r, struct member *m, struct outcome *o)
{
	reply_member(o, m);
	o->reply = REPLY_EXIT;
	set_event(o, EV_TIMEOUT, m->name);
	remove_member(r, m);
}

int room_expire(struct room *r, uint64_t now, struct outcome *o)
{
	struct member *m = NULL;

	outcome_init(o, NULL);
	if (lru_due(&r->alive, r->cfg.keepalive_timeout, now) == 0)
		m = r->alive.head;
	else if (lru_due(&r->idle, r->cfg.idle_timeout, now) == 0)
		m = r->idle.head;
	else if (lru_due(&r->unproven, r->cfg.v1_login_timeout, now) == 0)
		m = r->unproven.head;
	if (m == NULL)
		return 0;
	evict(r, m, o);
	return 1;
}

void room_evict(struct room *r, const struct member *m, struct outcome *o)
{
	outcome_init(o, NULL);
	evict(r, mutable(r, m), o);
}

void room_attach(struct room *r, const struct member *m, int proto, void *data)
{
	struct member *mm = mutable(r, m);
	int moves = (mm->proto == 1) != (proto == 1); /* to the other protocol's count */

	if (moves)
		nets_remove(r, mm);
	if (mm->proto == 1)
		r->v1_count--;
	if (proto == 1)
		r->v1_count++;
	mm->proto = (uint8_t)proto; /* 1 or 2 */
	if (moves)
		nets_add(r, mm);
	mm->data = data;
	/* v2 clients always send keepalives: they live by the keepalive timeout. */
	if (proto == 2 && !mm->keepalive)
		relist(r, mm, 1, 0);
}

int room_rebind(struct room *r, const struct member *m, const struct peer_addr *addr)
{
	struct member *mm = mutable(r, m);
	int other_net = net_hash(r, addr) != net_hash(r, &mm->addr);
	size_t b;

	if (find_addr(r, addr) != NULL)
		return -1;
	if (other_net && r->cfg.max_per_address > 0 &&
	    nets_count(r, addr, mm->proto == 1) >= r->cfg.max_per_address)
		return -1;
	if (other_net)
		nets_remove(r, mm);
	unlink_chain(&r->by_addr[addr_bucket(r, &mm->addr)], mm, 0);
	mm->addr = *addr;
	b = addr_bucket(r, &mm->addr);
	mm->next_by_addr = r->by_addr[b];
	r->by_addr[b] = mm;
	if (other_net)
		nets_add(r, mm);
	return 0;
}

const char *room_drop_name(enum drop_reason reason)
{
	static const char *const names[DROP_COUNT] = {
	    [DROP_NOT_MEMBER] = "not_member",
	    [DROP_WRONG_NAME] = "wrong_name",
	    [DROP_MALFORMED] = "malformed",
	    [DROP_TOO_LONG] = "too_long",
	};

	return (unsigned)reason < DROP_COUNT ? names[reason] : NULL;
}
