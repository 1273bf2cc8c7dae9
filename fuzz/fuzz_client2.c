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
};

static void srv_deliver(void *ctx, const uint8_t *data, size_t len)
{
	struct harness *h = ctx;
	struct v2_msg m;

	FZ_CHECK(v2_msg_parse(data, len, &m) == V2_OK &&
	             (m.kind == V2_K_SAY || m.kind == V2_K_QUIT || m.kind == V2_K_ME ||
	              m.kind == V2_K_WHO),
	         "the client sent a payload of kind 0x%02x", len > 0 ? data[0] : 0);
	if (m.kind != V2_K_SAY && m.kind != V2_K_ME)
		return;
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
	FZ_CHECK(c->out_pieces >= rel_pending(&c->rel) || c->state != C2_ONLINE,
	         "%zu pieces kept for %zu in flight or queued", c->out_pieces,
	         rel_pending(&c->rel));
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
	if (kind < 200) {
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
	r = c2_say(&h->c, (const char *)text, len);
	if (len == 0 || len > V2_MAX_TEXT)
		FZ_CHECK(r == -1, "c2_say took %zu bytes", len);
	if (r == 0)
		FZ_CHECK(rel_pending(&h->c.rel) > before, "c2_say queued nothing");
}

/* The user acts (/me) or asks who is online. */
static void user_me_or_who(struct harness *h, int me, const uint8_t *text, size_t len)
{
	size_t before = rel_pending(&h->c.rel);
	int r;

	if (me && !utf8_valid((const char *)text, len))
		return;
	r = me ? c2_me(&h->c, (const char *)text, len) : c2_who(&h->c);
	if (me && (len == 0 || len > V2_MAX_TEXT))
		FZ_CHECK(r == -1, "c2_me took %zu bytes", len);
	if (r == 0 && me)
		FZ_CHECK(rel_pending(&h->c.rel) > before, "c2_me queued nothing");
	if (!me && r == 0)
		h->who_asks++; /* it shares the answer of a WHO in flight, or queued its own */
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
			FZ_CHECK(rel_pending(&h->c.rel) <= h->c.out_pieces &&
			             (rel_pending(&h->c.rel) > 0) == (h->c.out_len > 0),
			         "%zu pieces kept (%zu messages), %zu sent again", h->c.out_pieces,
			         h->c.out_len, rel_pending(&h->c.rel));
			rel_free(&h->srv_rx);
			rel_init(&h->srv_rx);
			h->srv_seq = 1;
			h->features = p.features;
			h->srv_has_id = 0;
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
