/* fuzz_client2.c - libFuzzer harness for the v2 client state machine (src/qun/client2.c) against a
 * hostile server. */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "proto/wire2.h"
#include "qun/client2.h"
#include "fuzzlib.h"

/*
 * The input plays the server (and the user).  The server side keeps just
 * enough state to be convincing when it wants to be: the client's nonce
 * (read from c->nonce, as a server would from HELLO), its session id, a
 * receiving struct rel for the client's DATA (so its acks are right), and
 * the next seq and event id of its own.  Any field can instead be forged.
 * After every step the engine's state and everything it sent or reported
 * are checked.
 */
#define HZ_ROOMS 8

struct harness {
	struct c2 c;
	uint64_t now;
	struct rel srv_rx;   /* the server's view of the client's DATA */
	uint32_t srv_seq;    /* next DATA seq from the server */
	uint64_t event_id;   /* next room event id from the server */
	int net_up;          /* the client's datagrams reach the server */
	uint64_t last_shown; /* c->last_event_id seen so far */
	uint8_t features;    /* of the server's last WELCOME that took */
	int srv_has_id;      /* srv_last_id holds the id of a message the server took */
	uint32_t srv_last_id;
	unsigned long who_asks, who_answers; /* c2_who calls that returned 0; who callbacks */
	unsigned long hist_asks;             /* c2_history and c2_search calls not answered yet */
	unsigned srv_hist;      /* HISTORY and SEARCH the server took, not answered (steering) */
	uint32_t srv_hist_room; /* the last one's room (0: a SEARCH) */
	uint64_t srv_hist_id;   /* the next HLINE's id */
	/* Rooms: the harness's rooms are ids 1..HZ_ROOMS (others are forged). */
	uint64_t revent_id[HZ_ROOMS + 1];  /* next REVENT id per room */
	uint64_t room_shown[HZ_ROOMS + 1]; /* the last REVENT id shown per room, this session */
};

static void srv_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct harness *h = ctx;
	struct v2_msg m;

	int rooms = (h->features & V2_F_ROOMS) != 0;

	FZ_CHECK(v2_msg_parse(data, len, &m) == V2_OK &&
	             (m.kind == V2_K_SAY || m.kind == V2_K_QUIT || m.kind == V2_K_ME ||
	              m.kind == V2_K_WHO || m.kind == V2_K_JOIN || m.kind == V2_K_PART ||
	              m.kind == V2_K_ROOMS || m.kind == V2_K_TELL || m.kind == V2_K_HISTORY ||
	              m.kind == V2_K_SEARCH),
	         "the client sent a payload of kind 0x%02x", len > 0 ? data[0] : 0);
	FZ_CHECK((m.kind != V2_K_HISTORY && m.kind != V2_K_SEARCH) || (h->features & V2_F_HISTORY),
	         "the client sent kind 0x%02x to a server without history", data[0]);
	if (m.kind == V2_K_HISTORY || m.kind == V2_K_SEARCH) {
		h->srv_hist++; /* answered by hist_payload, mostly (server_data) */
		h->srv_hist_room = m.room;
		return;
	}
	/* Rooms' kinds, a room in SAY or WHO: only to a server that has rooms. */
	FZ_CHECK(rooms || (m.room == 0 && m.kind != V2_K_JOIN && m.kind != V2_K_PART &&
	                   m.kind != V2_K_ROOMS && m.kind != V2_K_TELL),
	         "the client sent kind 0x%02x (room %u) to a server without rooms", data[0],
	         m.room);
	if (m.kind == V2_K_JOIN)
		FZ_CHECK(c2_room_name_check(m.name, m.name_len) == NAME_OK,
		         "JOIN of a name that is no room's");
	if (m.kind != V2_K_SAY && m.kind != V2_K_ME && m.kind != V2_K_TELL)
		return;
	if (m.kind == V2_K_TELL)
		FZ_CHECK(name_check(m.name, m.name_len) == NAME_OK, "TELL to a name that is none");
	FZ_CHECK(m.text_len > 0 && m.text_len <= V2_SAY_CHUNK && utf8_valid(m.text, m.text_len),
	         "the client sent a SAY piece of %zu bytes, not whole UTF-8", m.text_len);
	FZ_CHECK(!(m.flags & V2_ID) == !(h->features & V2_F_MSG_ID),
	         "a SAY piece with%s an id to a server with features 0x%x",
	         (m.flags & V2_ID) ? "" : "out", h->features);
	if (!(m.flags & V2_ID) || (m.flags & V2_MORE))
		return;
	/* Within one session the client's messages come in order, each id once. */
	FZ_CHECK(!h->srv_has_id || (int32_t)(m.id - h->srv_last_id) > 0,
	         "message id %u after %u in one session", m.id, h->srv_last_id);
	h->srv_has_id = 1;
	h->srv_last_id = m.id;
}

/* Every datagram the client sends is checked; with the network up it reaches the server. */
static void cb_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct harness *h = ctx;
	struct v2_packet p;

	FZ_CHECK(len <= QUN_MAX_DATAGRAM, "the client sent %zu bytes", len);
	FZ_CHECK(v2_parse(buf, v2_unseal(buf, len), &p) == V2_OK,
	         "the client sent a malformed datagram (or a bad CRC-32)");
	FZ_CHECK(p.type == V2_HELLO || p.type == V2_LOGIN || p.type == V2_DATA ||
	             p.type == V2_ACK || p.type == V2_PING || p.type == V2_REBIND,
	         "the client sent type 0x%02x", p.type);
	if (p.type == V2_LOGIN)
		FZ_CHECK(p.name_len <= QUN_MAX_NAME, "LOGIN with a name of %zu bytes", p.name_len);
	if (!h->net_up || p.type != V2_DATA)
		return;
	rel_on_data(&h->srv_rx, p.seq, p.payload, p.payload_len, srv_deliver, h);
}

static void cb_event(void *ctx, enum room_event ev, const char *name, const char *text, size_t len)
{
	struct harness *h = ctx;

	FZ_CHECK(ev <= EV_ACTION, "event %d shown", ev);
	FZ_CHECK(strlen(name) <= QUN_MAX_NAME, "a name of %zu bytes shown", strlen(name));
	FZ_CHECK(len <= V2_MAX_TEXT && (len == 0 || text != NULL), "a text of %zu bytes shown",
	         len);
	FZ_CHECK(h->c.last_event_id == 0 || h->c.last_event_id > h->last_shown,
	         "event %llu shown after %llu", (unsigned long long)h->c.last_event_id,
	         (unsigned long long)h->last_shown);
	h->last_shown = h->c.last_event_id;
}

/* A REVENT shown: once per room, in its order (the harness's rooms; forged ones unchecked). */
static void cb_room_event(void *ctx, uint32_t room, enum room_event ev, const char *name,
                          const char *text, size_t len)
{
	struct harness *h = ctx;
	size_t i;

	FZ_CHECK(room != 0 && ev <= EV_ACTION, "room %u event %d shown", room, ev);
	FZ_CHECK(strlen(name) <= QUN_MAX_NAME, "a name of %zu bytes shown", strlen(name));
	FZ_CHECK(len <= V2_MAX_TEXT && (len == 0 || text != NULL), "a text of %zu bytes shown",
	         len);
	if (room == V2_LOBBY || room > HZ_ROOMS)
		return; /* the default room is EVENT's too: cb_event checks it */
	for (i = 0; i < h->c.nseen && h->c.seen[i].room != room; i++)
		;
	FZ_CHECK(i < h->c.nseen, "room %u shown without its last id kept", room);
	FZ_CHECK(h->c.seen[i].last_id == 0 || h->c.seen[i].last_id > h->room_shown[room],
	         "room %u: event %llu shown after %llu", room,
	         (unsigned long long)h->c.seen[i].last_id, (unsigned long long)h->room_shown[room]);
	h->room_shown[room] = h->c.seen[i].last_id;
}

static void cb_rooms(void *ctx, int what, const struct c2_room_info *r, size_t count, int again)
{
	size_t i;

	(void)ctx;
	FZ_CHECK(what >= 0 && what < V2_ROOM_WHAT_COUNT && (again == 0 || again == 1),
	         "rooms %d again %d", what, again);
	FZ_CHECK(count <= C2_LIST_MAX, "%zu rooms", count);
	FZ_CHECK((what != V2_ROOM_JOINED && what != V2_ROOM_PARTED) || count == 1,
	         "JOINED or PARTED of %zu rooms", count);
	for (i = 0; i < count; i++)
		FZ_CHECK(r[i].id != 0 &&
		             c2_room_name_check(r[i].name, strlen(r[i].name)) == NAME_OK,
		         "a room %u with a name that is no room's", r[i].id);
}

/* A line of history: of a HISTORY or SEARCH asked (and not answered yet). */
static void cb_history(void *ctx, uint32_t room, uint64_t id, uint64_t at, enum room_event ev,
                       const char *name, const char *text, size_t len)
{
	struct harness *h = ctx;

	(void)id;
	(void)at;
	FZ_CHECK(h->hist_asks > 0, "a line of history nobody asked for");
	FZ_CHECK(room != 0 && ev <= EV_ACTION, "history room %u event %d shown", room, ev);
	FZ_CHECK(strlen(name) <= QUN_MAX_NAME, "a name of %zu bytes in history", strlen(name));
	FZ_CHECK(len <= V2_MAX_TEXT && (len == 0 || text != NULL), "a history text of %zu bytes",
	         len);
}

/* The end of one answer: exactly once per ask taken. */
static void cb_history_end(void *ctx, uint32_t room, unsigned count, unsigned flags, int answered)
{
	struct harness *h = ctx;

	(void)room;
	(void)count;
	(void)flags;
	(void)answered;
	FZ_CHECK(h->hist_asks > 0, "a history answer ended that nobody asked for");
	h->hist_asks--;
}

static void cb_private(void *ctx, uint64_t number, uint64_t at, const char *from, const char *text,
                       size_t len)
{
	(void)ctx;
	(void)number;
	(void)at;
	FZ_CHECK(name_check(from, strlen(from)) == NAME_OK, "a private message from no name");
	FZ_CHECK(len <= V2_MAX_TEXT && (len == 0 || text != NULL), "a private text of %zu bytes",
	         len);
}

static void cb_unsent(void *ctx, const char *room, unsigned count, int why)
{
	(void)ctx;
	FZ_CHECK(count > 0 &&
	             (room[0] == '\0' || c2_room_name_check(room, strlen(room)) == NAME_OK ||
	              name_check(room, strlen(room)) == NAME_OK),
	         "%u unsent for a room (or member) that is none", count);
	FZ_CHECK(why == C2_UNSENT_REJOIN || why == C2_UNSENT_GONE || why == C2_UNSENT_QUIT,
	         "unsent for reason %d", why);
}

static void cb_text(void *ctx, int code, int detail, const char *text, size_t len)
{
	(void)ctx;
	(void)code;
	(void)detail;
	FZ_CHECK(len <= QUN_MAX_DATAGRAM && (len == 0 || text != NULL), "a text of %zu bytes", len);
}

/*
 * A /who answer: every name passed the name rules, there are not too
 * many, and no ask is answered twice.
 */
static void cb_who(void *ctx, int answered, uint32_t total, const char *const *names, size_t count)
{
	struct harness *h = ctx;
	size_t i;

	(void)total;
	FZ_CHECK(++h->who_answers <= h->who_asks, "%lu /who answers to %lu asks", h->who_answers,
	         h->who_asks);
	FZ_CHECK(answered || count == 0, "an unanswered /who with %zu names", count);
	FZ_CHECK(count <= V2_WHO_MAX_NAMES, "a /who answer of %zu names", count);
	for (i = 0; i < count; i++)
		FZ_CHECK(name_check(names[i], strlen(names[i])) == NAME_OK,
		         "a /who answer with an invalid name");
}

static void cb_link(void *ctx, int reconnecting)
{
	(void)ctx;
	FZ_CHECK(reconnecting == 0 || reconnecting == 1, "link %d", reconnecting);
}

static void cb_closed(void *ctx, int reason)
{
	struct harness *h = ctx;

	FZ_CHECK(h->c.state == C2_CLOSED, "closed (%d) in state %d", reason, h->c.state);
}

static void check(const struct harness *h)
{
	const struct c2 *c = &h->c;

	FZ_CHECK(c->state <= C2_CLOSED, "state %d", c->state);
	FZ_CHECK(memchr(c->name, '\0', sizeof c->name) != NULL, "name not terminated");
	FZ_CHECK(c->asm_len <= sizeof c->asm_text, "reassembled %zu bytes", c->asm_len);
	fz_check_rel(&c->rel, "client");
	FZ_CHECK(c->out_pieces <= REL_QUEUE_MAX, "%zu pieces kept to send again", c->out_pieces);
	FZ_CHECK(c->out_pieces + c->setup_sent >= rel_pending(&c->rel) || c->state != C2_ONLINE,
	         "%zu pieces kept (and %zu to set up) for %zu in flight or queued", c->out_pieces,
	         c->setup_sent, rel_pending(&c->rel));
	FZ_CHECK(c->njoined <= C2_MAX_ROOMS && c->nseen <= C2_MAX_ROOMS + 1 &&
	             c->list_count <= C2_LIST_MAX && c->priv_len <= sizeof c->priv_text,
	         "rooms' tables past their bounds");
	fz_check_rel(&h->srv_rx, "server");
}

/* A nonce or session id: mostly the one the client expects, sometimes another. */
static uint64_t pick(struct fz *f, uint64_t right)
{
	uint8_t how = fz_u8(f);

	if (how < 192)
		return right;
	if (how < 224)
		return right + 1;
	return fz_u64(f);
}

static void to_client(struct harness *h, const struct v2_packet *p)
{
	uint8_t buf[QUN_MAX_DATAGRAM];
	size_t n = v2_seal(buf, v2_encode(p, buf, sizeof buf), sizeof buf);

	if (n > 0)
		c2_on_datagram(&h->c, buf, n, h->now);
}

/* Session fields: the session id and the server's acks, right or forged. */
static void session_fields(struct harness *h, struct fz *f, struct v2_packet *p)
{
	p->sid = pick(f, h->c.sid);
	if (fz_u8(f) < 200) {
		rel_ack_fields(&h->srv_rx, &p->ack, &p->ack_bits);
	} else {
		p->ack = fz_u32(f);
		p->ack_bits = fz_u32(f);
	}
}

/* A DATA from the server: an EVENT, a NOTICE or raw bytes, at the right seq or not. */
/* A MEMBERS piece of up to 40 names of fuzzed bytes (any bytes: the client must check them). */
static void members_payload(struct fz *f, struct v2_msg *m, uint8_t *payload, size_t *n)
{
	static char list[V2_MEMBERS_CHUNK];
	const uint8_t *b;
	size_t used = 0, k, count = fz_u8(f) % 40;

	m->kind = V2_K_MEMBERS;
	m->total = fz_u32(f);
	m->flags = fz_u8(f) & 1;
	while (count-- > 0) {
		k = fz_bytes(f, fz_u8(f) % 36 + 1, &b);
		if (k == 0 || used + 1 + k > sizeof list)
			break;
		list[used] = (char)k;
		memcpy(list + used + 1, b, k);
		used += 1 + k;
	}
	m->text = list;
	m->text_len = used;
	*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
}

/*
 * A server with rooms: a REVENT (how 1), a ROOM (2) or a PRIVATE (3),
 * with fuzzed names (any bytes: the client must check them).
 */
static void rooms_payload(struct harness *h, struct fz *f, int how, struct v2_msg *m,
                          uint8_t *payload, size_t *n)
{
	static char list[V2_ROOM_CHUNK];
	const uint8_t *name, *text;
	uint8_t idhow;
	size_t used = 0, count, k;

	m->flags = fz_u8(f) & 1;
	if (how == 1) {
		m->kind = V2_K_REVENT;
		m->room = fz_u8(f) % (HZ_ROOMS + 2); /* 0 and HZ_ROOMS + 1: forged */
		idhow = fz_u8(f);
		k = m->room <= HZ_ROOMS ? m->room : 0;
		m->event_id = idhow < 200   ? ++h->revent_id[k]
		              : idhow < 230 ? h->revent_id[k]
		                            : fz_u64(f);
		m->event = fz_u8(f) % 9;
		m->name_len = fz_bytes(f, fz_u8(f) % 40, &name);
		m->name = (const char *)name;
	} else if (how == 2) {
		m->kind = V2_K_ROOM;
		m->what = fz_u8(f) % (V2_ROOM_WHAT_COUNT + 1);
		count = fz_u8(f) % 6;
		while (count-- > 0) {
			uint32_t id = fz_u8(f) % (HZ_ROOMS + 1), members = fz_u32(f);
			char rn[64] = "#";
			size_t drop; /* 1: no '#' */

			k = fz_bytes(f, fz_u8(f) % 40 + 1, &name);
			memcpy(rn + 1, name, k);
			drop = fz_u8(f) < 32;
			if (v2_room_put(list, sizeof list, &used, id, members, rn + drop,
			                k + 1 - drop) < 0)
				break;
		}
		m->text = list;
		m->text_len = used;
		*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
		return;
	} else if ((idhow = fz_u8(f)) < 100) {
		m->kind = V2_K_PRIVATE;
		m->event_id = fz_u64(f);
		if (idhow < 50) {
			m->flags |= V2_STORED; /* kept while we were away */
			m->at = fz_u64(f);
		}
		m->name_len = fz_bytes(f, fz_u8(f) % 40, &name);
		m->name = (const char *)name;
	} else if (idhow < 200) {
		m->kind = V2_K_HLINE; /* history: asked for or not */
		m->room = fz_u8(f) % (HZ_ROOMS + 2);
		m->event_id = fz_u8(f) < 200 ? fz_u8(f) : fz_u64(f);
		m->at = fz_u64(f);
		m->event = fz_u8(f) % 9;
		m->name_len = fz_bytes(f, fz_u8(f) % 40, &name);
		m->name = (const char *)name;
	} else {
		m->kind = V2_K_HEND;
		m->room = fz_u8(f) % (HZ_ROOMS + 2);
		m->count = fz_u16(f);
		m->flags = fz_u8(f);
		*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
		return;
	}
	m->text_len = fz_bytes(f, fz_u16(f) % 1200, &text);
	m->text = (const char *)text;
	*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
}

/*
 * A piece of the answer to a HISTORY or SEARCH the server took: HLINEs
 * of its room (ids going up, some in MORE pieces), then its HEND.
 */
static void hist_payload(struct harness *h, struct fz *f, struct v2_msg *m, uint8_t *payload,
                         size_t *n)
{
	const uint8_t *name, *text;
	uint8_t how = fz_u8(f);

	m->room = h->srv_hist_room != 0 ? h->srv_hist_room : (uint32_t)(fz_u8(f) % HZ_ROOMS + 1);
	if (how < 64) {
		m->kind = V2_K_HEND;
		m->room = h->srv_hist_room;
		m->count = fz_u8(f);
		m->flags = fz_u8(f) & 3;
		h->srv_hist--;
		*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
		return;
	}
	m->kind = V2_K_HLINE;
	m->event_id = how < 200 ? ++h->srv_hist_id : fz_u8(f);
	m->at = fz_u64(f);
	m->event = fz_u8(f) % 9;
	m->flags = fz_u8(f) & V2_MORE;
	m->name_len = fz_bytes(f, fz_u8(f) % 20, &name);
	m->name = (const char *)name;
	m->text_len = fz_bytes(f, fz_u16(f) % 1100, &text);
	m->text = (const char *)text;
	*n = v2_msg_encode(m, payload, QUN_MAX_DATAGRAM - V2_SESSION_HDR);
}

static void server_data(struct harness *h, struct fz *f)
{
	uint8_t payload[QUN_MAX_DATAGRAM];
	struct v2_packet p = {.type = V2_DATA};
	struct v2_msg m;
	const uint8_t *name, *text;
	uint8_t how = fz_u8(f), kind = fz_u8(f);
	size_t n;

	session_fields(h, f, &p);
	if (how < 160)
		p.seq = h->srv_seq++;
	else if (how < 200)
		p.seq = h->srv_seq > 1 ? h->srv_seq - 1 - fz_u8(f) % 4 : 1; /* a duplicate */
	else if (how < 240)
		p.seq = h->srv_seq + 1 + fz_u8(f) % 80; /* early, maybe beyond the window */
	else
		p.seq = fz_u32(f);
	if (p.seq == 0)
		p.seq = 1;
	memset(&m, 0, sizeof m);
	if (h->srv_hist > 0 && kind < 128) {
		hist_payload(h, f, &m, payload, &n);
	} else if (kind < 200 && (h->features & V2_F_ROOMS) && (kind & 3) != 0) {
		rooms_payload(h, f, kind & 3, &m, payload, &n);
	} else if (kind < 200) {
		uint8_t idhow = fz_u8(f);

		m.kind = V2_K_EVENT;
		m.event_id = idhow < 200 ? ++h->event_id : idhow < 230 ? h->event_id : fz_u64(f);
		m.event = fz_u8(f) % 8;
		m.flags = fz_u8(f) & 3;
		m.name_len = fz_bytes(f, fz_u8(f) % 40, &name);
		m.name = (const char *)name;
		m.text_len = fz_bytes(f, fz_u16(f) % 1200, &text);
		m.text = (const char *)text;
		n = v2_msg_encode(&m, payload, sizeof payload - V2_SESSION_HDR);
	} else if (kind < 230) {
		m.kind = V2_K_NOTICE;
		m.code = fz_u8(f);
		m.detail = fz_u8(f);
		m.text_len = fz_bytes(f, fz_u8(f), &text);
		m.text = (const char *)text;
		n = v2_msg_encode(&m, payload, sizeof payload - V2_SESSION_HDR);
	} else if (kind < 245) {
		members_payload(f, &m, payload, &n);
	} else {
		n = fz_bytes(f, fz_u8(f) % 64 + 1, &text);
		memcpy(payload, text, n);
	}
	if (n == 0)
		return;
	p.payload = payload;
	p.payload_len = n;
	to_client(h, &p);
}

/* The user says something (valid UTF-8 only: the caller checks text first, per client2.h). */
static void user_say(struct harness *h, const uint8_t *text, size_t len)
{
	size_t before = rel_pending(&h->c.rel);
	int r;

	if (!utf8_valid((const char *)text, len))
		return;
	r = c2_say(&h->c, V2_LOBBY, (const char *)text, len);
	if (len == 0 || len > V2_MAX_TEXT)
		FZ_CHECK(r == -1, "c2_say took %zu bytes", len);
	/* Unless it waits behind a message held for a room a new session joins again. */
	if (r == 0 && !h->c.holding)
		FZ_CHECK(rel_pending(&h->c.rel) > before, "c2_say queued nothing");
}

/* The user acts (/me) or asks who is online. */
static void user_me_or_who(struct harness *h, int me, const uint8_t *text, size_t len)
{
	size_t before = rel_pending(&h->c.rel);
	int r;

	if (me && !utf8_valid((const char *)text, len))
		return;
	r = me ? c2_me(&h->c, V2_LOBBY, (const char *)text, len) : c2_who(&h->c, 0);
	if (me && (len == 0 || len > V2_MAX_TEXT))
		FZ_CHECK(r == -1, "c2_me took %zu bytes", len);
	if (r == 0 && me && !h->c.holding)
		FZ_CHECK(rel_pending(&h->c.rel) > before, "c2_me queued nothing");
	if (!me && r == 0)
		h->who_asks++; /* it shares the answer of a WHO in flight, or queued its own */
}

/* A room of the engine's by name, for a byte with its top bit set (and rooms to pick); or NULL. */
static const char *joined_name(const struct harness *h, uint32_t b)
{
	if (!(b & 0x80) || h->c.njoined == 0)
		return NULL;
	return h->c.joined[(b & 0x7F) % h->c.njoined].name;
}

/*
 * The user of a server with rooms: joins, parts, lists, tells, says in a
 * room (by id, or by name as qun does), asks who is in one; or the
 * network goes up or down.
 */
static void user_rooms(struct harness *h, struct fz *f)
{
	const uint8_t *b, *t;
	size_t n, k;
	uint32_t room;
	int r = 0;

	switch (fz_u8(f) % 10) {
	case 0:
		h->net_up = !h->net_up;
		return;
	case 7:
		room = fz_u8(f);
		k = fz_u8(f) % (V2_HISTORY_MAX + 2);
		r = joined_name(h, room) != NULL
		        ? c2_history_in(&h->c, joined_name(h, room), fz_u8(f) % 4, fz_u64(f),
		                        (unsigned)k)
		        : c2_history(&h->c, room % (HZ_ROOMS + 1), fz_u8(f) % 4, fz_u64(f),
		                     (unsigned)k);
		if (r == 0)
			h->hist_asks++;
		FZ_CHECK(r < 0 || c2_has_history(&h->c), "c2_history taken without history");
		return;
	case 8:
		n = fz_bytes(f, fz_u16(f) % 300, &b);
		r = c2_search(&h->c, (const char *)b, n, fz_u8(f) % (V2_HISTORY_MAX + 2));
		if (r == 0)
			h->hist_asks++;
		FZ_CHECK(r < 0 || c2_has_history(&h->c), "c2_search taken without history");
		return;
	case 1:
		n = fz_bytes(f, fz_u8(f) % 40, &b);
		/* The caller checks the name (netproc2.c): only rooms' names reach the engine. */
		if (c2_room_name_check((const char *)b, n) == NAME_OK)
			r = c2_join(&h->c, (const char *)b, n);
		break;
	case 2:
		room = fz_u8(f);
		r = joined_name(h, room) != NULL ? c2_part_in(&h->c, joined_name(h, room))
		                                 : c2_part(&h->c, room % (HZ_ROOMS + 1));
		break;
	case 3:
		r = c2_rooms(&h->c, fz_u8(f) & 1);
		break;
	case 4:
		n = fz_bytes(f, fz_u8(f) % 40, &b);
		k = fz_bytes(f, fz_u16(f) % 4200, &t);
		if (name_check((const char *)b, n) == NAME_OK && utf8_valid((const char *)t, k))
			r = c2_tell(&h->c, (const char *)b, n, (const char *)t, k);
		break;
	case 5:
	case 6:
		room = fz_u8(f);
		k = fz_bytes(f, fz_u16(f) % 4200, &t);
		if (utf8_valid((const char *)t, k) && joined_name(h, room) != NULL)
			r = c2_say_in(&h->c, joined_name(h, room), (const char *)t, k);
		else if (utf8_valid((const char *)t, k))
			r = c2_say(&h->c, room % (HZ_ROOMS + 1), (const char *)t, k);
		if (r == 0 && k == 0)
			fz_fail("c2_say took an empty text");
		break;
	default:
		room = fz_u8(f);
		r = joined_name(h, room) != NULL ? c2_who_in(&h->c, joined_name(h, room))
		                                 : c2_who(&h->c, room % (HZ_ROOMS + 1));
		if (r == 0)
			h->who_asks++;
		break;
	}
	FZ_CHECK(r == 0 || r == -1 || r == C2_ROOMS_FULL, "a rooms' call returned %d", r);
	FZ_CHECK(r < 0 || c2_has_rooms(&h->c), "a rooms' call taken without rooms");
}

static void step(struct harness *h, struct fz *f)
{
	struct v2_packet p;
	const uint8_t *b;
	size_t n;
	char name[64];
	uint64_t next;
	int i;

	memset(&p, 0, sizeof p);
	switch (fz_u8(f) % 18) {
	case 0:
		n = fz_bytes(f, fz_u8(f) % 40, &b);
		memcpy(name, b, n);
		name[n] = '\0';
		c2_start(&h->c, name, h->now);
		break;
	case 1:
	case 2:
		h->now += fz_u8(f) < 200 ? fz_u16(f) : (uint64_t)fz_u16(f) * 1000;
		next = c2_poll(&h->c, h->now);
		FZ_CHECK(next > h->now, "c2_poll wants to run again at %llu, now %llu",
		         (unsigned long long)next, (unsigned long long)h->now);
		break;
	case 3:
		p.type = V2_COOKIE;
		p.nonce = pick(f, h->c.nonce);
		n = fz_bytes(f, V2_COOKIE_LEN, &b);
		memcpy(p.cookie, b, n);
		to_client(h, &p);
		break;
	case 4: {
		int was_online = h->c.state == C2_ONLINE;

		p.type = V2_WELCOME;
		p.nonce = pick(f, h->c.nonce);
		p.sid = fz_u8(f) % 4 + 1;
		p.keepalive = fz_u16(f);
		p.max_message = fz_u16(f) & V2_MAX_MESSAGE_MASK;
		p.features = fz_u8(f) & V2_FEATURES_ALL;
		to_client(h, &p);
		if (!was_online && h->c.state == C2_ONLINE) {
			/*
			 * A new session: the server's side starts afresh, and nothing
			 * typed is lost: every message kept goes again whole.
			 */
			size_t sent = rel_pending(&h->c.rel), setup = h->c.setup_sent;

			FZ_CHECK(sent >= setup && sent <= h->c.out_pieces + setup &&
			             (sent > setup || h->c.out_len == 0 || h->c.holding),
			         "%zu pieces kept (%zu messages), %zu sent again", h->c.out_pieces,
			         h->c.out_len, sent);
			FZ_CHECK(setup == 0 || (p.features & V2_F_ROOMS),
			         "ROOMS declared to a server without rooms");
			rel_free(&h->srv_rx);
			rel_init(&h->srv_rx);
			h->srv_seq = 1;
			h->features = p.features;
			h->srv_has_id = 0;
			memset(h->room_shown, 0, sizeof h->room_shown);
			memset(h->revent_id, 0, sizeof h->revent_id);
		}
		break;
	}
	case 5:
		p.type = V2_REFUSE;
		p.nonce = pick(f, h->c.nonce);
		p.code = fz_u8(f);
		p.detail = fz_u8(f);
		p.reason_len = fz_bytes(f, fz_u8(f), &b);
		p.reason = (const char *)b;
		to_client(h, &p);
		break;
	case 6:
	case 7:
		server_data(h, f);
		break;
	case 8:
		p.type = V2_ACK;
		session_fields(h, f, &p);
		to_client(h, &p);
		break;
	case 9:
		p.type = V2_CLOSE;
		p.sid = pick(f, h->c.sid);
		p.code = fz_u8(f) % 7;
		to_client(h, &p);
		break;
	case 10:
		p.type = V2_CHALLENGE;
		p.sid = pick(f, h->c.sid);
		n = fz_bytes(f, V2_COOKIE_LEN, &b);
		memcpy(p.cookie, b, n);
		to_client(h, &p);
		break;
	case 11:
		n = fz_bytes(f, fz_u16(f) % 1300, &b);
		c2_on_datagram(&h->c, b, n, h->now);
		break;
	case 12:
		n = fz_bytes(f, fz_u16(f) % 4200, &b);
		user_say(h, b, n);
		break;
	case 13:
		/* A user who types fast: many short lines at once. */
		n = (size_t)fz_u8(f) * 8;
		for (i = 0; (size_t)i < n; i++)
			user_say(h, (const uint8_t *)"hi", 2);
		break;
	case 14:
		c2_quit(&h->c);
		break;
	case 16:
		user_me_or_who(h, 0, NULL, 0);
		break;
	case 17:
		n = fz_bytes(f, fz_u16(f) % 4200, &b);
		user_me_or_who(h, 1, b, n);
		break;
	default:
		if (h->features & V2_F_ROOMS)
			user_rooms(h, f);
		else
			h->net_up = !h->net_up;
		break;
	}
	check(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	struct c2_callbacks cb = {
	    .ctx = &h,
	    .send = cb_send,
	    .event = cb_event,
	    .room_event = cb_room_event,
	    .rooms = cb_rooms,
	    .private_msg = cb_private,
	    .unsent = cb_unsent,
	    .history = cb_history,
	    .history_end = cb_history_end,
	    .who = cb_who,
	    .notice = cb_text,
	    .refused = cb_text,
	    .link = cb_link,
	    .closed = cb_closed,
	};
	struct fz f;

	fz_seed(1);
	memset(&h, 0, sizeof h);
	fz_init(&f, data, size);
	h.now = 1000000 + fz_u16(&f);
	h.srv_seq = 1;
	h.net_up = 1;
	rel_init(&h.srv_rx);
	c2_init(&h.c, "alice", fz_u8(&f) % 60 + 1, &cb);
	c2_start(&h.c, "alice", h.now);
	while (fz_more(&f))
		step(&h, &f);
	c2_free(&h.c);
	rel_free(&h.srv_rx);
	return 0;
}
