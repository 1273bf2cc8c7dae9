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

enum v2_status v2_msg_parse(const uint8_t *buf, size_t len, struct v2_msg *m)
{
	struct cur c = {.r = buf, .len = len};

	memset(m, 0, sizeof *m);
	m->kind = (enum v2_kind)get_n(&c, 1);
	switch (m->kind) {
	case V2_K_SAY:
	case V2_K_ME:
		m->flags = (uint8_t)get_n(&c, 1);
		if (m->flags & V2_ID)
			m->id = (uint32_t)get_n(&c, 4);
		break;
	case V2_K_QUIT:
	case V2_K_WHO:
		break;
	case V2_K_MEMBERS:
		m->total = (uint32_t)get_n(&c, 4);
		m->flags = (uint8_t)get_n(&c, 1);
		break;
	case V2_K_EVENT:
		m->event_id = get_n(&c, 8);
		m->event = (uint8_t)get_n(&c, 1);
		m->flags = (uint8_t)get_n(&c, 1);
		m->name_len = (size_t)get_n(&c, 1);
		m->name = (const char *)get_bytes(&c, m->name_len);
		break;
	case V2_K_NOTICE:
		m->code = (uint8_t)get_n(&c, 1);
		m->detail = (uint8_t)get_n(&c, 1);
		break;
	default:
		return c.bad ? V2_BAD_LENGTH : V2_BAD_TYPE;
	}
	if (c.bad)
		return V2_BAD_LENGTH;
	if (m->kind == V2_K_QUIT || m->kind == V2_K_WHO)
		return c.off == len ? V2_OK : V2_BAD_LENGTH;
	m->text_len = len - c.off;
	m->text = (const char *)get_bytes(&c, m->text_len);
	if (m->kind == V2_K_MEMBERS && !members_fit(m->text, m->text_len))
		return V2_BAD_LENGTH;
	return V2_OK;
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

size_t v2_msg_encode(const struct v2_msg *m, uint8_t *buf, size_t size)
{
	struct cur c = {.w = buf, .len = size};

	put_n(&c, (uint64_t)m->kind, 1);
	switch (m->kind) {
	case V2_K_SAY:
	case V2_K_ME:
		put_n(&c, m->flags, 1);
		if (m->flags & V2_ID)
			put_n(&c, m->id, 4);
		put_bytes(&c, m->text, m->text_len);
		break;
	case V2_K_QUIT:
	case V2_K_WHO:
		break;
	case V2_K_MEMBERS:
		if (!members_fit(m->text, m->text_len))
			return 0;
		put_n(&c, m->total, 4);
		put_n(&c, m->flags, 1);
		put_bytes(&c, m->text, m->text_len);
		break;
	case V2_K_EVENT:
		if (m->name_len > 255)
			return 0;
		put_n(&c, m->event_id, 8);
		put_n(&c, m->event, 1);
		put_n(&c, m->flags, 1);
		put_n(&c, m->name_len, 1);
		put_bytes(&c, m->name, m->name_len);
		put_bytes(&c, m->text, m->text_len);
		break;
	case V2_K_NOTICE:
		put_n(&c, m->code, 1);
		put_n(&c, m->detail, 1);
		put_bytes(&c, m->text, m->text_len);
		break;
	default:
		return 0;
	}
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
