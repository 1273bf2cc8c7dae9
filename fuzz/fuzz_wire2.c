/* fuzz_wire2.c - libFuzzer harness for protocol v2's datagram and message codecs
 * (src/proto/wire2.c). */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "proto/wire2.h"
#include "fuzzlib.h"

static void *xalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	FZ_CHECK(p != NULL, "out of memory");
	return p;
}

/* The encoding of a parsed datagram is the datagram itself, byte for byte. */
static void roundtrip_packet(const uint8_t *buf, size_t len)
{
	struct v2_packet p;
	enum v2_status st = v2_parse(buf, len, &p);
	uint8_t *out;
	size_t n;

	FZ_CHECK(v2_status_str(st) != NULL, "no string for status %d", st);
	FZ_CHECK(v2_is_v2(buf, len) || st == V2_NOT_V2, "not v2 but status %d", st);
	if (st != V2_OK)
		return;
	FZ_CHECK(len <= QUN_MAX_DATAGRAM, "%zu bytes accepted", len);
	out = xalloc(len);
	n = v2_encode(&p, out, len);
	FZ_CHECK(n == len && memcmp(out, buf, len) == 0,
	         "type 0x%02x: re-encoded as %zu bytes, not %zu", p.type, n, len);
	/* One byte less room must fail cleanly, never write past the end (ASan watches). */
	FZ_CHECK(v2_encode(&p, out, len - 1) == 0, "encoded into too small a buffer");
	free(out);
	if (p.type == V2_DATA)
		FZ_CHECK(p.seq != 0 && p.payload_len > 0, "DATA with seq 0 or no payload");
	if (p.type == V2_LOGIN)
		FZ_CHECK(p.name_len == len - 28, "LOGIN name length");
}

/* The same for a reliable message (a DATA payload). */
static void roundtrip_msg(const uint8_t *buf, size_t len)
{
	struct v2_msg m;
	enum v2_status st = v2_msg_parse(buf, len, &m);
	uint8_t *out;
	size_t n;

	FZ_CHECK(st == V2_OK || st == V2_BAD_TYPE || st == V2_BAD_LENGTH || st == V2_BAD_FIELD,
	         "message status %d", st);
	if (st != V2_OK)
		return;
	FZ_CHECK(m.text_len <= len && (m.text_len == 0 || (const uint8_t *)m.text >= buf),
	         "text outside the message");
	out = xalloc(len);
	n = v2_msg_encode(&m, out, len);
	FZ_CHECK(n == len && memcmp(out, buf, len) == 0,
	         "kind 0x%02x: re-encoded as %zu bytes, not %zu", m.kind, n, len);
	if (len > 0)
		FZ_CHECK(v2_msg_encode(&m, out, len - 1) == 0,
		         "message encoded into too small a buffer");
	free(out);
}

/*
 * Fields chosen by the input, encoded into a buffer of a chosen size: the
 * encoder never writes past it, and what it writes parses to the same fields.
 */
static void encode_fields(struct fz *f)
{
	static const enum v2_type types[] = {V2_HELLO,  V2_COOKIE,    V2_LOGIN, V2_WELCOME,
	                                     V2_REFUSE, V2_DATA,      V2_ACK,   V2_PING,
	                                     V2_CLOSE,  V2_CHALLENGE, V2_REBIND};
	struct v2_packet p, q;
	const uint8_t *bytes, *ck;
	size_t size = fz_u16(f) % (QUN_MAX_DATAGRAM + 64), n, blen;
	uint8_t *out;

	memset(&p, 0, sizeof p);
	p.type = types[fz_u8(f) % (sizeof types / sizeof types[0])];
	p.nonce = fz_u64(f);
	p.sid = fz_u64(f);
	p.seq = fz_u32(f);
	p.ack = fz_u32(f);
	p.ack_bits = fz_u32(f);
	p.keepalive = fz_u16(f);
	p.max_message = fz_u16(f);
	p.code = fz_u8(f);
	p.detail = fz_u8(f);
	if (fz_bytes(f, V2_COOKIE_LEN, &ck) == V2_COOKIE_LEN)
		memcpy(p.cookie, ck, V2_COOKIE_LEN);
	blen = fz_bytes(f, fz_u16(f) % 1400, &bytes);
	p.name = p.reason = (const char *)bytes;
	p.payload = bytes;
	p.name_len = p.reason_len = p.payload_len = blen;
	out = xalloc(size);
	n = v2_encode(&p, out, size);
	FZ_CHECK(n <= size && n <= QUN_MAX_DATAGRAM, "encoded %zu bytes into %zu", n, size);
	if (n > 0 && v2_parse(out, n, &q) == V2_OK) {
		FZ_CHECK(q.type == p.type, "type changed");
		if (q.type == V2_DATA)
			FZ_CHECK(q.seq == p.seq && q.ack == p.ack && q.ack_bits == p.ack_bits &&
			             q.sid == p.sid && q.payload_len == p.payload_len &&
			             memcmp(q.payload, p.payload, p.payload_len) == 0,
			         "DATA fields changed");
		if (q.type == V2_LOGIN)
			FZ_CHECK(q.nonce == p.nonce && q.name_len == p.name_len &&
			             memcmp(q.cookie, p.cookie, V2_COOKIE_LEN) == 0,
			         "LOGIN fields changed");
		if (q.type == V2_WELCOME)
			FZ_CHECK(q.nonce == p.nonce && q.sid == p.sid &&
			             q.keepalive == p.keepalive && q.max_message == p.max_message,
			         "WELCOME fields changed");
	}
	free(out);
}

/* Splitting text for long messages never cuts a character and never overshoots. */
static void check_prefix(const uint8_t *buf, size_t len, size_t max)
{
	const char *s = (const char *)buf;
	size_t k = utf8_prefix(s, len, max);

	FZ_CHECK(k <= len && (k <= max || len <= max), "prefix %zu of %zu, max %zu", k, len, max);
	if (len <= max)
		FZ_CHECK(k == len, "whole text fits but prefix is %zu", k);
	if (utf8_valid(s, len)) {
		FZ_CHECK(utf8_valid(s, k) && utf8_valid(s + k, len - k), "cut inside a character");
		if (max >= 4 && len > 0)
			FZ_CHECK(k > 0, "no progress splitting valid text");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;

	roundtrip_packet(data, size);
	roundtrip_msg(data, size);
	if (size > 0)
		check_prefix(data + 1, size - 1, data[0] % 16 == 0 ? data[0] * 8u : data[0] % 16);
	fz_init(&f, data, size);
	encode_fields(&f);
	return 0;
}
