/* wire2.c - protocol v2: the datagram and reliable-message codecs (big-endian, bounds-checked). */
#include "wire2.h"

#include <string.h>

#include "common/crc32.h"

/* A cursor over a byte buffer; every read or write checks the bounds and sets bad on overrun. */
struct cur {
	uint8_t *w;       /* writing */
	const uint8_t *r; /* reading */
	size_t len, off;
	int bad;
};

static uint64_t get_n(struct cur *c, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (c->bad || c->len - c->off < n) {
		c->bad = 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		v = (v << 8) | c->r[c->off + i];
	c->off += n;
	return v;
}

static const uint8_t *get_bytes(struct cur *c, size_t n)
{
	const uint8_t *p = c->r + c->off;

	if (c->bad || c->len - c->off < n) {
		c->bad = 1;
		return NULL;
	}
	c->off += n;
	return p;
}

static void put_n(struct cur *c, uint64_t v, size_t n)
{
	size_t i;

	if (c->bad || c->len - c->off < n) {
		c->bad = 1;
		return;
	}
	for (i = 0; i < n; i++)
		c->w[c->off + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	c->off += n;
}

static void put_bytes(struct cur *c, const void *p, size_t n)
{
	if (c->bad || c->len - c->off < n) {
		c->bad = 1;
		return;
	}
	if (n > 0)
		memcpy(c->w + c->off, p, n);
	c->off += n;
}

int v2_is_v2(const uint8_t *buf, size_t len)
{
	return len > 0 && buf[0] == V2_MAGIC;
}

static void get_cookie(struct cur *c, uint8_t cookie[V2_COOKIE_LEN])
{
	const uint8_t *p = get_bytes(c, V2_COOKIE_LEN);

	if (p != NULL)
		memcpy(cookie, p, V2_COOKIE_LEN);
}

/* The type-specific body; returns V2_OK or a status. Reading stops exactly at the end. */
static enum v2_status parse_body(struct cur *c, struct v2_packet *p)
{
	const uint8_t *q;

	switch (p->type) {
	case V2_HELLO:
		p->nonce = get_n(c, 8);
		break;
	case V2_COOKIE:
		p->nonce = get_n(c, 8);
		get_cookie(c, p->cookie);
		break;
	case V2_LOGIN:
		p->nonce = get_n(c, 8);
		get_cookie(c, p->cookie);
		p->name_len = (size_t)get_n(c, 1);
		p->name = (const char *)get_bytes(c, p->name_len);
		break;
	case V2_WELCOME:
		p->nonce = get_n(c, 8);
		p->sid = get_n(c, 8);
		p->keepalive = (uint16_t)get_n(c, 2);
		p->max_message = (uint16_t)get_n(c, 2);
		p->features = (uint8_t)(p->max_message >> V2_FEATURES_SHIFT);
		p->max_message &= V2_MAX_MESSAGE_MASK;
		break;
	case V2_REFUSE:
		p->nonce = get_n(c, 8);
		p->code = (uint8_t)get_n(c, 1);
		p->detail = (uint8_t)get_n(c, 1);
		p->reason_len = c->len - c->off;
		p->reason = (const char *)get_bytes(c, p->reason_len);
		break;
	case V2_DATA:
	case V2_ACK:
	case V2_PING:
		p->sid = get_n(c, 8);
		p->seq = (uint32_t)get_n(c, 4);
		p->ack = (uint32_t)get_n(c, 4);
		p->ack_bits = (uint32_t)get_n(c, 4);
		if (c->bad)
			return V2_BAD_LENGTH;
		p->payload_len = c->len - c->off;
		q = get_bytes(c, p->payload_len);
		p->payload = q;
		if (p->type == V2_DATA ? p->seq == 0 || p->payload_len == 0
		                       : p->seq != 0 || p->payload_len != 0)
			return V2_BAD_FIELD;
		break;
	case V2_CLOSE:
		p->sid = get_n(c, 8);
		p->code = (uint8_t)get_n(c, 1);
		break;
	case V2_CHALLENGE:
	case V2_REBIND:
		p->sid = get_n(c, 8);
		get_cookie(c, p->cookie);
		break;
	default:
		return V2_BAD_TYPE;
	}
	if (c->bad || c->off != c->len)
		return V2_BAD_LENGTH;
	return V2_OK;
}

enum v2_status v2_parse(const uint8_t *buf, size_t len, struct v2_packet *p)
{
	struct cur c = {.r = buf, .len = len};

	if (!v2_is_v2(buf, len))
		return V2_NOT_V2;
	if (len > V2_MAX_BODY)
		return V2_TOO_LONG; /* a body, without its CRC: at most 1196 bytes */
	if (len < 3)
		return V2_BAD_LENGTH;
	if (buf[1] != V2_VERSION)
		return V2_BAD_VERSION;
	memset(p, 0, sizeof *p);
	p->type = (enum v2_type)buf[2];
	c.off = 3;
	return parse_body(&c, p);
}

size_t v2_encode(const struct v2_packet *p, uint8_t *buf, size_t size)
{
	struct cur c = {.w = buf, .len = size < V2_MAX_BODY ? size : V2_MAX_BODY};

	put_n(&c, V2_MAGIC, 1);
	put_n(&c, V2_VERSION, 1);
	put_n(&c, (uint64_t)p->type, 1);
	switch (p->type) {
	case V2_HELLO:
		put_n(&c, p->nonce, 8);
		break;
	case V2_COOKIE:
		put_n(&c, p->nonce, 8);
		put_bytes(&c, p->cookie, V2_COOKIE_LEN);
		break;
	case V2_LOGIN:
		if (p->name_len > 255)
			return 0;
		put_n(&c, p->nonce, 8);
		put_bytes(&c, p->cookie, V2_COOKIE_LEN);
		put_n(&c, p->name_len, 1);
		put_bytes(&c, p->name, p->name_len);
		break;
	case V2_WELCOME:
		put_n(&c, p->nonce, 8);
		put_n(&c, p->sid, 8);
		if (p->max_message > V2_MAX_MESSAGE_MASK || p->features > V2_FEATURES_ALL)
			return 0;
		put_n(&c, p->keepalive, 2);
		put_n(&c, (uint64_t)p->features << V2_FEATURES_SHIFT | p->max_message, 2);
		break;
	case V2_REFUSE:
		put_n(&c, p->nonce, 8);
		put_n(&c, p->code, 1);
		put_n(&c, p->detail, 1);
		put_bytes(&c, p->reason, p->reason_len);
		break;
	case V2_DATA:
	case V2_ACK:
	case V2_PING:
		put_n(&c, p->sid, 8);
		put_n(&c, p->seq, 4);
		put_n(&c, p->ack, 4);
		put_n(&c, p->ack_bits, 4);
		put_bytes(&c, p->payload, p->type == V2_DATA ? p->payload_len : 0);
		break;
	case V2_CLOSE:
		put_n(&c, p->sid, 8);
		put_n(&c, p->code, 1);
		break;
	case V2_CHALLENGE:
	case V2_REBIND:
		put_n(&c, p->sid, 8);
		put_bytes(&c, p->cookie, V2_COOKIE_LEN);
		break;
	default:
		return 0;
	}
	return c.bad ? 0 : c.off;
}

size_t v2_seal(uint8_t *buf, size_t n, size_t size)
{
	uint32_t crc;

	if (n == 0 || n > QUN_MAX_DATAGRAM - V2_CHECK_LEN || size < n + V2_CHECK_LEN)
		return 0; /* nothing encoded (the encoder failed), or no room */
	crc = crc32_ieee(buf, n);
	buf[n] = (uint8_t)(crc >> 24);
	buf[n + 1] = (uint8_t)(crc >> 16);
	buf[n + 2] = (uint8_t)(crc >> 8);
	buf[n + 3] = (uint8_t)crc;
	return n + V2_CHECK_LEN;
}

size_t v2_unseal(const uint8_t *buf, size_t n)
{
	uint32_t want;

	if (n < 3 + V2_CHECK_LEN || n > QUN_MAX_DATAGRAM)
		return 0;
	n -= V2_CHECK_LEN;
	want = (uint32_t)buf[n] << 24 | (uint32_t)buf[n + 1] << 16 | (uint32_t)buf[n + 2] << 8 |
	       buf[n + 3];
	return crc32_ieee(buf, n) == want ? n : 0;
}

const char *v2_status_str(enum v2_status st)
{
	switch (st) {
	case V2_OK:
		return "ok";
	case V2_NOT_V2:
		return "not v2";
	case V2_BAD_VERSION:
		return "unknown version";
	case V2_BAD_TYPE:
		return "unknown type";
	case V2_BAD_LENGTH:
		return "bad length";
	case V2_TOO_LONG:
		return "datagram too long";
	case V2_BAD_FIELD:
		return "bad field";
	}
	return "unknown status";
}

/* Whether MEMBERS names (length byte, then that many bytes; no empty name) fill buf exactly. */
static int members_fit(const char *buf, size_t len)
{
	size_t off = 0, n;

	while (off < len) {
		n = (unsigned char)buf[off];
		if (n == 0 || n > len - off - 1)
			return 0;
		off += 1 + n;
	}
	return 1;
}

/* Whether ROOM entries (id, members, name length, name; no empty name) fill buf exactly. */
static int rooms_fit(const char *buf, size_t len, size_t *count)
{
	size_t off = 0, n;

	*count = 0;
	while (off < len) {
		if (len - off < V2_ROOM_ENTRY)
			return 0;
		n = (unsigned char)buf[off + V2_ROOM_ENTRY - 1];
		if (n == 0 || n > len - off - V2_ROOM_ENTRY)
			return 0;
		if (buf[off] == 0 && buf[off + 1] == 0 && buf[off + 2] == 0 && buf[off + 3] == 0)
			return 0; /* room id 0 is no room */
		off += V2_ROOM_ENTRY + n;
		(*count)++;
	}
	return 1;
}

/*
 * The fields before the text of a message of kind m->kind; 0, or -1 for
 * an unknown kind, -2 for a field no encoder makes.
 */
static int parse_head(struct cur *c, struct v2_msg *m)
{
	switch (m->kind) {
	case V2_K_SAY:
	case V2_K_ME:
	case V2_K_TELL:
		m->flags = (uint8_t)get_n(c, 1);
		if (m->flags & V2_ID)
			m->id = (uint32_t)get_n(c, 4);
		if (m->kind != V2_K_TELL && (m->flags & V2_ROOM))
			m->room = (uint32_t)get_n(c, 4);
		if (m->kind == V2_K_TELL) {
			m->name_len = (size_t)get_n(c, 1);
			m->name = (const char *)get_bytes(c, m->name_len);
		}
		return 0;
	case V2_K_QUIT:
	case V2_K_ROOMS:
		if (m->kind == V2_K_ROOMS)
			m->flags = (uint8_t)get_n(c, 1);
		return 0;
	case V2_K_WHO:
		if (c->len - c->off >= 4) { /* a room's members, not the default room's */
			m->room = (uint32_t)get_n(c, 4);
			if (m->room == 0)
				return -2; /* "no room" is said by leaving the id out */
		}
		return 0;
	case V2_K_JOIN:
		m->name_len = (size_t)get_n(c, 1);
		m->name = (const char *)get_bytes(c, m->name_len);
		return 0;
	case V2_K_PART:
		m->room = (uint32_t)get_n(c, 4);
		return 0;
	case V2_K_MEMBERS:
		m->total = (uint32_t)get_n(c, 4);
		m->flags = (uint8_t)get_n(c, 1);
		return 0;
	case V2_K_REVENT:
	case V2_K_EVENT:
	case V2_K_HLINE: /* REVENT with the time it was said */
		if (m->kind != V2_K_EVENT)
			m->room = (uint32_t)get_n(c, 4);
		m->event_id = get_n(c, 8);
		if (m->kind == V2_K_HLINE)
			m->at = get_n(c, 8);
		m->event = (uint8_t)get_n(c, 1);
		m->flags = (uint8_t)get_n(c, 1);
		m->name_len = (size_t)get_n(c, 1);
		m->name = (const char *)get_bytes(c, m->name_len);
		return 0;
	case V2_K_PRIVATE:
		m->event_id = get_n(c, 8);
		m->flags = (uint8_t)get_n(c, 1);
		if (m->flags & V2_STORED)
			m->at = get_n(c, 8);
		m->name_len = (size_t)get_n(c, 1);
		m->name = (const char *)get_bytes(c, m->name_len);
		return 0;
	case V2_K_HISTORY:
		m->room = (uint32_t)get_n(c, 4);
		m->what = (uint8_t)get_n(c, 1);
		m->event_id = get_n(c, 8);
		m->count = (uint16_t)get_n(c, 2);
		return 0;
	case V2_K_SEARCH:
		m->count = (uint16_t)get_n(c, 2);
		return 0;
	case V2_K_HEND:
		m->room = (uint32_t)get_n(c, 4);
		m->count = (uint16_t)get_n(c, 2);
		m->flags = (uint8_t)get_n(c, 1);
		return 0;
	case V2_K_ROOM:
		m->flags = (uint8_t)get_n(c, 1);
		m->what = (uint8_t)get_n(c, 1);
		return 0;
	case V2_K_NOTICE:
		m->code = (uint8_t)get_n(c, 1);
		m->detail = (uint8_t)get_n(c, 1);
		return 0;
	}
	return -1;
}

/* The checks on a parsed message's fields that its lengths alone do not make. */
static enum v2_status check_fields(const struct v2_msg *m)
{
	size_t rooms;

	switch (m->kind) {
	case V2_K_JOIN:
	case V2_K_TELL:
	case V2_K_PRIVATE:
		return m->name_len > 0 ? V2_OK : V2_BAD_FIELD;
	case V2_K_PART:
	case V2_K_REVENT:
	case V2_K_HLINE:
		return m->room != 0 ? V2_OK : V2_BAD_FIELD;
	case V2_K_SEARCH:
		return m->count >= 1 && m->count <= V2_HISTORY_MAX && m->text_len > 0
		           ? V2_OK
		           : V2_BAD_FIELD;
	case V2_K_HISTORY:
		return m->room != 0 && m->what < V2_HIST_COUNT && m->count >= 1 &&
		               m->count <= V2_HISTORY_MAX
		           ? V2_OK
		           : V2_BAD_FIELD;
	case V2_K_SAY:
	case V2_K_ME:
		return !(m->flags & V2_ROOM) || m->room != 0 ? V2_OK : V2_BAD_FIELD;
	case V2_K_MEMBERS:
		return members_fit(m->text, m->text_len) ? V2_OK : V2_BAD_LENGTH;
	case V2_K_ROOM:
		if (!rooms_fit(m->text, m->text_len, &rooms))
			return V2_BAD_LENGTH;
		if (m->what >= V2_ROOM_WHAT_COUNT)
			return V2_BAD_FIELD;
		if ((m->what == V2_ROOM_JOINED || m->what == V2_ROOM_PARTED) && rooms != 1)
			return V2_BAD_FIELD;
		return V2_OK;
	default:
		return V2_OK;
	}
}

/* Kinds that end with their last field: no text after it. */
static int ends_bare(enum v2_kind k)
{
	return k == V2_K_QUIT || k == V2_K_WHO || k == V2_K_JOIN || k == V2_K_PART ||
	       k == V2_K_ROOMS || k == V2_K_HISTORY || k == V2_K_HEND;
}

enum v2_status v2_msg_parse(const uint8_t *buf, size_t len, struct v2_msg *m)
{
	struct cur c = {.r = buf, .len = len};

	memset(m, 0, sizeof *m);
	m->kind = (enum v2_kind)get_n(&c, 1);
	switch (parse_head(&c, m)) {
	case -1:
		return c.bad ? V2_BAD_LENGTH : V2_BAD_TYPE;
	case -2:
		return V2_BAD_FIELD;
	default:
		break;
	}
	if (c.bad)
		return V2_BAD_LENGTH;
	if (ends_bare(m->kind)) {
		if (c.off != len)
			return V2_BAD_LENGTH;
	} else {
		m->text_len = len - c.off;
		m->text = (const char *)get_bytes(&c, m->text_len);
	}
	return check_fields(m);
}

int v2_rooms_next(const struct v2_msg *m, size_t *pos, uint32_t *id, uint32_t *members,
                  const char **name, size_t *len)
{
	const uint8_t *p = (const uint8_t *)m->text;
	size_t n;

	if (*pos >= m->text_len || m->text_len - *pos < V2_ROOM_ENTRY)
		return 0;
	p += *pos;
	n = p[V2_ROOM_ENTRY - 1];
	if (n == 0 || n > m->text_len - *pos - V2_ROOM_ENTRY)
		return 0; /* cannot happen after v2_msg_parse; never read past the end */
	*id = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	*members = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	*name = (const char *)p + V2_ROOM_ENTRY;
	*len = n;
	*pos += V2_ROOM_ENTRY + n;
	return 1;
}

int v2_room_put(char *buf, size_t size, size_t *used, uint32_t id, uint32_t members,
                const char *name, size_t len)
{
	struct cur c = {.w = (uint8_t *)buf, .len = size, .off = *used};

	if (id == 0 || len == 0 || len > 255)
		return -1;
	put_n(&c, id, 4);
	put_n(&c, members, 4);
	put_n(&c, len, 1);
	put_bytes(&c, name, len);
	if (c.bad)
		return -1;
	*used = c.off;
	return 0;
}

int v2_members_next(const struct v2_msg *m, size_t *pos, const char **name, size_t *len)
{
	const uint8_t *p = (const uint8_t *)m->text;
	size_t n;

	if (*pos >= m->text_len)
		return 0;
	n = p[*pos];
	if (n == 0 || n > m->text_len - *pos - 1)
		return 0; /* cannot happen after v2_msg_parse; never read past the end */
	*name = m->text + *pos + 1;
	*len = n;
	*pos += 1 + n;
	return 1;
}

/* A length byte and a name of at most 255 bytes. */
static void put_name(struct cur *c, const char *name, size_t len)
{
	if (len > 255) {
		c->bad = 1;
		return;
	}
	put_n(c, len, 1);
	put_bytes(c, name, len);
}

/* The fields before the text (mirror of parse_head); -1 for a kind we cannot encode. */
static int encode_head(struct cur *c, const struct v2_msg *m)
{
	size_t rooms;

	switch (m->kind) {
	case V2_K_SAY:
	case V2_K_ME:
	case V2_K_TELL:
		put_n(c, m->flags, 1);
		if (m->flags & V2_ID)
			put_n(c, m->id, 4);
		if (m->kind != V2_K_TELL && (m->flags & V2_ROOM)) {
			if (m->room == 0)
				return -1; /* room 0 is said by leaving the flag out */
			put_n(c, m->room, 4);
		}
		if (m->kind == V2_K_TELL)
			put_name(c, m->name, m->name_len);
		return 0;
	case V2_K_QUIT:
		return 0;
	case V2_K_ROOMS:
		put_n(c, m->flags, 1);
		return 0;
	case V2_K_WHO:
		if (m->room != 0)
			put_n(c, m->room, 4);
		return 0;
	case V2_K_JOIN:
		put_name(c, m->name, m->name_len);
		return 0;
	case V2_K_PART:
		put_n(c, m->room, 4);
		return 0;
	case V2_K_MEMBERS:
		if (!members_fit(m->text, m->text_len))
			return -1;
		put_n(c, m->total, 4);
		put_n(c, m->flags, 1);
		return 0;
	case V2_K_REVENT:
	case V2_K_EVENT:
	case V2_K_HLINE:
		if (m->kind != V2_K_EVENT)
			put_n(c, m->room, 4);
		put_n(c, m->event_id, 8);
		if (m->kind == V2_K_HLINE)
			put_n(c, m->at, 8);
		put_n(c, m->event, 1);
		put_n(c, m->flags, 1);
		put_name(c, m->name, m->name_len);
		return 0;
	case V2_K_PRIVATE:
		put_n(c, m->event_id, 8);
		put_n(c, m->flags, 1);
		if (m->flags & V2_STORED)
			put_n(c, m->at, 8);
		put_name(c, m->name, m->name_len);
		return 0;
	case V2_K_HISTORY:
		put_n(c, m->room, 4);
		put_n(c, m->what, 1);
		put_n(c, m->event_id, 8);
		put_n(c, m->count, 2);
		return 0;
	case V2_K_SEARCH:
		put_n(c, m->count, 2);
		return 0;
	case V2_K_HEND:
		put_n(c, m->room, 4);
		put_n(c, m->count, 2);
		put_n(c, m->flags, 1);
		return 0;
	case V2_K_ROOM:
		if (!rooms_fit(m->text, m->text_len, &rooms))
			return -1;
		put_n(c, m->flags, 1);
		put_n(c, m->what, 1);
		return 0;
	case V2_K_NOTICE:
		put_n(c, m->code, 1);
		put_n(c, m->detail, 1);
		return 0;
	}
	return -1;
}

size_t v2_msg_encode(const struct v2_msg *m, uint8_t *buf, size_t size)
{
	struct cur c = {.w = buf, .len = size};

	put_n(&c, (uint64_t)m->kind, 1);
	if (encode_head(&c, m) < 0)
		return 0;
	if (!ends_bare(m->kind))
		put_bytes(&c, m->text, m->text_len);
	return c.bad ? 0 : c.off;
}

size_t utf8_prefix(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* Step back over continuation bytes to the start of the cut character. */
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}
