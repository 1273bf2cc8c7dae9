/* test_wire2.c - unit tests of src/proto/wire2.c: v2 datagrams and reliable messages, byte for
 * byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/crc32.h"
#include "proto/wire2.h"

/* Room for any datagram plus a tail that must stay untouched. */
#define BUFSZ (QUN_MAX_DATAGRAM + 64)

/* Helpers */

/* A cookie with a different value in every byte, so a shifted field shows. */
static void set_cookie(uint8_t cookie[V2_COOKIE_LEN])
{
	int i;

	for (i = 0; i < V2_COOKIE_LEN; i++)
		cookie[i] = (uint8_t)(0xC0 + i);
}

static enum v2_status parse(const uint8_t *buf, size_t len, struct v2_packet *p)
{
	memset(p, 0xA5, sizeof(*p));
	return v2_parse(buf, len, p);
}

static enum v2_status status_of(const uint8_t *buf, size_t len)
{
	struct v2_packet p;

	return parse(buf, len, &p);
}

/*
 * Encode p into an exactly sized heap buffer for every size below want_len
 * (ASan catches a write past it) and check each is refused with 0.
 */
static void assert_encode_refuses_short(const struct v2_packet *p, size_t want_len)
{
	size_t size, n;
	uint8_t *buf;

	for (size = 0; size < want_len; size++) {
		buf = malloc(size > 0 ? size : 1);
		assert_non_null(buf);
		n = v2_encode(p, buf, size);
		free(buf);
		assert_int_equal(n, 0);
	}
}

/*
 * Encode p, check it gives exactly want (and writes nothing after it), that
 * every shorter buffer is refused, and parse it back into out.
 */
static void assert_round_trip(const struct v2_packet *p, const uint8_t *want, size_t want_len,
                              uint8_t buf[BUFSZ], struct v2_packet *out)
{
	size_t n;

	memset(buf, 0x5A, BUFSZ);
	n = v2_encode(p, buf, BUFSZ);
	assert_int_equal(n, want_len);
	assert_memory_equal(buf, want, want_len);
	assert_int_equal(buf[want_len], 0x5A);

	/* An exactly sized buffer is enough. */
	memset(buf, 0x5A, BUFSZ);
	assert_int_equal(v2_encode(p, buf, want_len), want_len);
	assert_memory_equal(buf, want, want_len);

	assert_encode_refuses_short(p, want_len);

	assert_int_equal(parse(buf, want_len, out), V2_OK);
	assert_int_equal(out->type, p->type);
}

/* Every prefix of want shorter than fixed (but with the magic) is V2_BAD_LENGTH. */
static void assert_truncations_bad(const uint8_t *want, size_t fixed)
{
	size_t len;

	for (len = 1; len < fixed; len++)
		assert_int_equal(status_of(want, len), V2_BAD_LENGTH);
}

/* want with one more byte is V2_BAD_LENGTH (or another status for some types). */
static void assert_trailing(const uint8_t *want, size_t len, enum v2_status st)
{
	uint8_t buf[BUFSZ];

	assert_true(len < BUFSZ);
	memcpy(buf, want, len);
	buf[len] = 0x00;
	assert_int_equal(status_of(buf, len + 1), st);
	buf[len] = 0xFF;
	assert_int_equal(status_of(buf, len + 1), st);
}

/* A session datagram (DATA, ACK or PING) built by hand. */
static size_t session_bytes(uint8_t *buf, uint8_t type, uint32_t seq, const void *payload,
                            size_t payload_len)
{
	static const uint8_t hdr[V2_SESSION_HDR] = {
	    0xFE, 0x02, 0x00,                               /* header; type set below */
	    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* session id */
	    0x00, 0x00, 0x00, 0x00,                         /* seq set below */
	    0x21, 0x22, 0x23, 0x24,                         /* ack */
	    0x31, 0x32, 0x33, 0x34,                         /* ack bits */
	};

	memcpy(buf, hdr, sizeof(hdr));
	buf[2] = type;
	buf[11] = (uint8_t)(seq >> 24);
	buf[12] = (uint8_t)(seq >> 16);
	buf[13] = (uint8_t)(seq >> 8);
	buf[14] = (uint8_t)seq;
	if (payload_len > 0)
		memcpy(buf + V2_SESSION_HDR, payload, payload_len);
	return V2_SESSION_HDR + payload_len;
}

/* Bytes of the handshake and short types, with a distinct value in every byte. */

static const uint8_t hello_bytes[11] = {0xFE, 0x02, 0x01, 0x01, 0x02, 0x03,
                                        0x04, 0x05, 0x06, 0x07, 0x08};

static const uint8_t cookie_bytes[27] = {
    0xFE, 0x02, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xC0, 0xC1, 0xC2,
    0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF,
};

static const uint8_t login_bytes[33] = {
    0xFE, 0x02, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA,
    0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0x05, 'a',  'l',  'i',  'c',  'e',
};

static const uint8_t welcome_bytes[23] = {
    0xFE, 0x02, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x11,
    0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x00, 0x19, 0x04, 0xB0,
};

/* REFUSE with code 4 (room full), detail 0 and the reason "满了" (6 bytes). */
static const uint8_t refuse_bytes[19] = {
    0xFE, 0x02, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x04, 0x00, 0xE6, 0xBB, 0xA1, 0xE4, 0xBA, 0x86,
};

static const uint8_t close_bytes[12] = {0xFE, 0x02, 0x13, 0x11, 0x12, 0x13,
                                        0x14, 0x15, 0x16, 0x17, 0x18, 0x02};

static const uint8_t challenge_bytes[27] = {
    0xFE, 0x02, 0x14, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0xC0, 0xC1, 0xC2,
    0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF,
};

static const uint8_t rebind_bytes[27] = {
    0xFE, 0x02, 0x15, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0xC0, 0xC1, 0xC2,
    0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF,
};

#define NONCE 0x0102030405060708ULL
#define SID   0x1112131415161718ULL

/* v2_is_v2 */

static void is_v2_magic(void **state)
{
	const uint8_t v2[] = {0xFE}, v1[] = {'L', ' ', 'a'};

	(void)state;
	assert_int_equal(v2_is_v2(v2, 1), 1);
	assert_int_equal(v2_is_v2(hello_bytes, sizeof(hello_bytes)), 1);
	assert_int_equal(v2_is_v2(v1, sizeof(v1)), 0);
	assert_int_equal(v2_is_v2(v2, 0), 0);
}

/* Round trips: exact bytes, exact sizes, refused short buffers, fields back. */

static void hello_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_HELLO;
	p.nonce = NONCE;
	assert_round_trip(&p, hello_bytes, 11, buf, &out);
	assert_true(out.nonce == NONCE);
}

static void cookie_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_COOKIE;
	p.nonce = NONCE;
	set_cookie(p.cookie);
	assert_round_trip(&p, cookie_bytes, 27, buf, &out);
	assert_true(out.nonce == NONCE);
	assert_memory_equal(out.cookie, p.cookie, V2_COOKIE_LEN);
}

static void login_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_LOGIN;
	p.nonce = NONCE;
	set_cookie(p.cookie);
	p.name = "alice";
	p.name_len = 5;
	assert_round_trip(&p, login_bytes, 28 + 5, buf, &out);
	assert_true(out.nonce == NONCE);
	assert_memory_equal(out.cookie, p.cookie, V2_COOKIE_LEN);
	assert_int_equal(out.name_len, 5);
	/* The name points into the caller's buffer, not a copy. */
	assert_ptr_equal(out.name, (const char *)buf + 28);
	assert_memory_equal(out.name, "alice", 5);
}

static void login_round_trip_cjk_name(void **state)
{
	struct v2_packet p, out;
	uint8_t want[28 + 6], buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_LOGIN;
	p.nonce = NONCE;
	set_cookie(p.cookie);
	p.name = "小明";
	p.name_len = 6;
	memcpy(want, login_bytes, 27);
	want[27] = 6;
	memcpy(want + 28, "小明", 6);
	assert_round_trip(&p, want, sizeof(want), buf, &out);
	assert_int_equal(out.name_len, 6);
	assert_memory_equal(out.name, "小明", 6);
}

static void login_round_trip_empty_name(void **state)
{
	struct v2_packet p, out;
	uint8_t want[28], buf[BUFSZ];

	(void)state;
	/* The wire carries any length; the name rules are the room's business. */
	memset(&p, 0, sizeof(p));
	p.type = V2_LOGIN;
	p.nonce = NONCE;
	set_cookie(p.cookie);
	p.name = "";
	memcpy(want, login_bytes, 27);
	want[27] = 0;
	assert_round_trip(&p, want, 28, buf, &out);
	assert_int_equal(out.name_len, 0);
}

static void login_round_trip_longest_name(void **state)
{
	struct v2_packet p, out;
	uint8_t want[28 + 255], buf[BUFSZ];
	char name[255];

	(void)state;
	memset(name, 'n', sizeof(name));
	memset(&p, 0, sizeof(p));
	p.type = V2_LOGIN;
	p.nonce = NONCE;
	set_cookie(p.cookie);
	p.name = name;
	p.name_len = sizeof(name);
	memcpy(want, login_bytes, 27);
	want[27] = 255;
	memcpy(want + 28, name, sizeof(name));
	assert_round_trip(&p, want, sizeof(want), buf, &out);
	assert_int_equal(out.name_len, 255);
	assert_memory_equal(out.name, name, 255);
}

static void welcome_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_WELCOME;
	p.nonce = NONCE;
	p.sid = SID;
	p.keepalive = 25;
	p.max_message = 1200;
	assert_round_trip(&p, welcome_bytes, 23, buf, &out);
	assert_true(out.nonce == NONCE);
	assert_true(out.sid == SID);
	assert_int_equal(out.keepalive, 25);
	assert_int_equal(out.max_message, 1200);
}

static void refuse_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_REFUSE;
	p.nonce = NONCE;
	p.code = 4;
	p.detail = 0;
	p.reason = "满了";
	p.reason_len = 6;
	assert_round_trip(&p, refuse_bytes, 13 + 6, buf, &out);
	assert_true(out.nonce == NONCE);
	assert_int_equal(out.code, 4);
	assert_int_equal(out.detail, 0);
	assert_int_equal(out.reason_len, 6);
	assert_ptr_equal(out.reason, (const char *)buf + 13);
	assert_memory_equal(out.reason, "满了", 6);
}

static void refuse_round_trip_empty_reason(void **state)
{
	struct v2_packet p, out;
	uint8_t want[13], buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_REFUSE;
	p.nonce = NONCE;
	p.code = 2;
	p.detail = 7;
	memcpy(want, refuse_bytes, 11);
	want[11] = 2;
	want[12] = 7;
	assert_round_trip(&p, want, 13, buf, &out);
	assert_int_equal(out.code, 2);
	assert_int_equal(out.detail, 7);
	assert_int_equal(out.reason_len, 0);
}

static void data_round_trip(void **state)
{
	const uint8_t payload[] = {V2_K_SAY, 0x00, 'h', 'i'};
	struct v2_packet p, out;
	uint8_t want[BUFSZ], buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(want, V2_DATA, 0x41424344, payload, sizeof(payload));
	assert_int_equal(n, 23 + 4);
	memset(&p, 0, sizeof(p));
	p.type = V2_DATA;
	p.sid = SID;
	p.seq = 0x41424344;
	p.ack = 0x21222324;
	p.ack_bits = 0x31323334;
	p.payload = payload;
	p.payload_len = sizeof(payload);
	assert_round_trip(&p, want, n, buf, &out);
	assert_true(out.sid == SID);
	assert_int_equal(out.seq, 0x41424344);
	assert_int_equal(out.ack, 0x21222324);
	assert_int_equal(out.ack_bits, 0x31323334);
	assert_int_equal(out.payload_len, 4);
	assert_ptr_equal(out.payload, buf + V2_SESSION_HDR);
	assert_memory_equal(out.payload, payload, 4);
}

static void ack_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t want[BUFSZ], buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(want, V2_ACK, 0, NULL, 0);
	assert_int_equal(n, V2_SESSION_HDR);
	memset(&p, 0, sizeof(p));
	p.type = V2_ACK;
	p.sid = SID;
	p.ack = 0x21222324;
	p.ack_bits = 0x31323334;
	assert_round_trip(&p, want, 23, buf, &out);
	assert_true(out.sid == SID);
	assert_int_equal(out.seq, 0);
	assert_int_equal(out.ack, 0x21222324);
	assert_int_equal(out.ack_bits, 0x31323334);
	assert_int_equal(out.payload_len, 0);
}

static void ping_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t want[BUFSZ], buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(want, V2_PING, 0, NULL, 0);
	memset(&p, 0, sizeof(p));
	p.type = V2_PING;
	p.sid = SID;
	p.ack = 0x21222324;
	p.ack_bits = 0x31323334;
	assert_round_trip(&p, want, n, buf, &out);
	assert_int_equal(n, 23);
	assert_true(out.sid == SID);
	assert_int_equal(out.ack, 0x21222324);
	assert_int_equal(out.ack_bits, 0x31323334);
}

static void close_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_CLOSE;
	p.sid = SID;
	p.code = V2_CLOSE_KICKED;
	assert_round_trip(&p, close_bytes, 12, buf, &out);
	assert_true(out.sid == SID);
	assert_int_equal(out.code, V2_CLOSE_KICKED);
}

static void challenge_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_CHALLENGE;
	p.sid = SID;
	set_cookie(p.cookie);
	assert_round_trip(&p, challenge_bytes, 27, buf, &out);
	assert_true(out.sid == SID);
	assert_memory_equal(out.cookie, p.cookie, V2_COOKIE_LEN);
}

static void rebind_round_trip(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_REBIND;
	p.sid = SID;
	set_cookie(p.cookie);
	assert_round_trip(&p, rebind_bytes, 27, buf, &out);
	assert_true(out.sid == SID);
	assert_memory_equal(out.cookie, p.cookie, V2_COOKIE_LEN);
}

static void integers_are_big_endian(void **state)
{
	const uint8_t want[23] = {0xFE, 0x02, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00,
	                          0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	                          0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00};
	struct v2_packet p;
	uint8_t buf[BUFSZ];

	(void)state;
	/* Small values land in the last byte of their field, bit 31 in the first. */
	memset(&p, 0, sizeof(p));
	p.type = V2_ACK;
	p.sid = 1;
	p.ack = 0x100;
	p.ack_bits = 0x80000000u;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 23);
	assert_memory_equal(buf, want, 23);
	assert_int_equal(parse(want, 23, &p), V2_OK);
	assert_true(p.sid == 1);
	assert_int_equal(p.ack, 0x100);
	assert_int_equal(p.ack_bits, 0x80000000u);
}

static void welcome_extreme_values(void **state)
{
	struct v2_packet p, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = V2_WELCOME;
	p.nonce = UINT64_MAX;
	p.sid = 0x8000000000000001ULL;
	p.keepalive = UINT16_MAX;
	p.max_message = V2_MAX_MESSAGE_MASK;
	p.features = V2_FEATURES_ALL;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 23);
	assert_int_equal(buf[11], 0x80);
	assert_int_equal(buf[18], 0x01);
	assert_int_equal(buf[21], 0xFF);
	assert_int_equal(buf[22], 0xFF);
	assert_int_equal(parse(buf, 23, &out), V2_OK);
	assert_true(out.nonce == UINT64_MAX);
	assert_true(out.sid == 0x8000000000000001ULL);
	assert_int_equal(out.keepalive, UINT16_MAX);
	assert_int_equal(out.max_message, V2_MAX_MESSAGE_MASK);
	assert_int_equal(out.features, V2_FEATURES_ALL);
	/* Values the field cannot hold are refused, not cut. */
	p.max_message = V2_MAX_MESSAGE_MASK + 1;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
	p.max_message = 4000;
	p.features = V2_FEATURES_ALL + 1;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
}

/* An older server's WELCOME (4000, features clear) and a newer one's (message ids). */
static void welcome_features_in_the_high_bits(void **state)
{
	uint8_t buf[23] = {V2_MAGIC, V2_VERSION, V2_WELCOME};
	struct v2_packet out;

	(void)state;
	buf[21] = 0x0F; /* 4000 = 0x0FA0 */
	buf[22] = 0xA0;
	assert_int_equal(parse(buf, 23, &out), V2_OK);
	assert_int_equal(out.max_message, 4000);
	assert_int_equal(out.features, 0);
	buf[21] = 0x1F;
	assert_int_equal(parse(buf, 23, &out), V2_OK);
	assert_int_equal(out.max_message, 4000);
	assert_int_equal(out.features, V2_F_MSG_ID);
}

/* v2_parse: not v2, version, type */

static void parse_empty_not_v2(void **state)
{
	const uint8_t buf[1] = {0xFE};

	(void)state;
	assert_int_equal(status_of(buf, 0), V2_NOT_V2);
}

static void parse_v1_not_v2(void **state)
{
	const uint8_t buf[] = {'L', ' ', 'a', 'l', 'i', 'c', 'e'};
	const uint8_t zero[23] = {0};

	(void)state;
	assert_int_equal(status_of(buf, sizeof(buf)), V2_NOT_V2);
	assert_int_equal(status_of(zero, sizeof(zero)), V2_NOT_V2);
}

static void parse_header_too_short(void **state)
{
	(void)state;
	assert_int_equal(status_of(hello_bytes, 1), V2_BAD_LENGTH);
	assert_int_equal(status_of(hello_bytes, 2), V2_BAD_LENGTH);
}

static void parse_bad_version(void **state)
{
	const uint8_t versions[] = {0x00, 0x01, 0x03, 0xFE, 0xFF};
	uint8_t buf[11];
	size_t i;

	(void)state;
	memcpy(buf, hello_bytes, sizeof(buf));
	for (i = 0; i < sizeof(versions); i++) {
		buf[1] = versions[i];
		assert_int_equal(status_of(buf, sizeof(buf)), V2_BAD_VERSION);
	}
}

static void parse_unknown_type(void **state)
{
	const uint8_t types[] = {0x00, 0x06, 0x0F, 0x16, 0x20, 0x80, 0xFF};
	uint8_t buf[27];
	size_t i;

	(void)state;
	memcpy(buf, cookie_bytes, sizeof(buf));
	for (i = 0; i < sizeof(types); i++) {
		buf[2] = types[i];
		assert_int_equal(status_of(buf, sizeof(buf)), V2_BAD_TYPE);
		assert_int_equal(status_of(buf, 3), V2_BAD_TYPE);
	}
}

/* v2_parse: every truncation of every type */

static void truncated_hello(void **state)
{
	(void)state;
	assert_truncations_bad(hello_bytes, 11);
}

static void truncated_cookie(void **state)
{
	(void)state;
	assert_truncations_bad(cookie_bytes, 27);
}

static void truncated_login(void **state)
{
	(void)state;
	/* Below 28 the fixed part is cut; 28..32 cut the 5-byte name. */
	assert_truncations_bad(login_bytes, sizeof(login_bytes));
}

static void truncated_welcome(void **state)
{
	(void)state;
	assert_truncations_bad(welcome_bytes, 23);
}

static void truncated_refuse(void **state)
{
	(void)state;
	/* The reason is the rest of the datagram: only the fixed 13 bytes can be cut. */
	assert_truncations_bad(refuse_bytes, 13);
}

static void truncated_data(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	session_bytes(buf, V2_DATA, 1, "x", 1);
	assert_truncations_bad(buf, V2_SESSION_HDR);
}

static void truncated_ack(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	session_bytes(buf, V2_ACK, 0, NULL, 0);
	assert_truncations_bad(buf, V2_SESSION_HDR);
}

static void truncated_ping(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	session_bytes(buf, V2_PING, 0, NULL, 0);
	assert_truncations_bad(buf, V2_SESSION_HDR);
}

static void truncated_close(void **state)
{
	(void)state;
	assert_truncations_bad(close_bytes, 12);
}

static void truncated_challenge(void **state)
{
	(void)state;
	assert_truncations_bad(challenge_bytes, 27);
}

static void truncated_rebind(void **state)
{
	(void)state;
	assert_truncations_bad(rebind_bytes, 27);
}

/* v2_parse: trailing bytes */

static void trailing_hello(void **state)
{
	(void)state;
	assert_trailing(hello_bytes, 11, V2_BAD_LENGTH);
}

static void trailing_cookie(void **state)
{
	(void)state;
	assert_trailing(cookie_bytes, 27, V2_BAD_LENGTH);
}

static void trailing_login(void **state)
{
	(void)state;
	assert_trailing(login_bytes, sizeof(login_bytes), V2_BAD_LENGTH);
}

static void trailing_welcome(void **state)
{
	(void)state;
	assert_trailing(welcome_bytes, 23, V2_BAD_LENGTH);
}

static void trailing_close(void **state)
{
	(void)state;
	assert_trailing(close_bytes, 12, V2_BAD_LENGTH);
}

static void trailing_challenge(void **state)
{
	(void)state;
	assert_trailing(challenge_bytes, 27, V2_BAD_LENGTH);
}

static void trailing_rebind(void **state)
{
	(void)state;
	assert_trailing(rebind_bytes, 27, V2_BAD_LENGTH);
}

static void login_name_len_past_end(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	memcpy(buf, login_bytes, sizeof(login_bytes));
	buf[27] = 6; /* one more than the 5 bytes that follow */
	assert_int_equal(status_of(buf, sizeof(login_bytes)), V2_BAD_LENGTH);
	buf[27] = 255;
	assert_int_equal(status_of(buf, sizeof(login_bytes)), V2_BAD_LENGTH);
	assert_int_equal(status_of(buf, 28), V2_BAD_LENGTH);
}

static void login_name_len_short_of_end(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	memcpy(buf, login_bytes, sizeof(login_bytes));
	buf[27] = 4; /* one byte of the name left over */
	assert_int_equal(status_of(buf, sizeof(login_bytes)), V2_BAD_LENGTH);
}

/* v2_parse: session fields */

static void data_seq_zero(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_DATA, 0, "x", 1);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

static void data_empty(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_DATA, 1, NULL, 0);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

static void data_one_byte_payload(void **state)
{
	struct v2_packet p;
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_DATA, 1, "\x02", 1);
	assert_int_equal(parse(buf, n, &p), V2_OK);
	assert_int_equal(p.seq, 1);
	assert_int_equal(p.payload_len, 1);
}

static void ack_seq_nonzero(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_ACK, 1, NULL, 0);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
	n = session_bytes(buf, V2_ACK, 0x80000000u, NULL, 0);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

static void ack_with_payload(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_ACK, 0, "x", 1);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

static void ping_seq_nonzero(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_PING, 7, NULL, 0);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

static void ping_with_payload(void **state)
{
	uint8_t buf[BUFSZ];
	size_t n;

	(void)state;
	n = session_bytes(buf, V2_PING, 0, "xy", 2);
	assert_int_equal(status_of(buf, n), V2_BAD_FIELD);
}

/* v2_parse: size limit */

static void parse_largest_data(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM], buf[BUFSZ];
	struct v2_packet p;
	size_t n;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	n = session_bytes(buf, V2_DATA, 1, payload, V2_MAX_PAYLOAD);
	assert_int_equal(n, V2_MAX_BODY);
	assert_int_equal(parse(buf, n, &p), V2_OK);
	assert_int_equal(p.payload_len, V2_MAX_PAYLOAD);
}

static void parse_too_long_data(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM], buf[BUFSZ];
	size_t n;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	n = session_bytes(buf, V2_DATA, 1, payload, V2_MAX_PAYLOAD + 1);
	assert_int_equal(n, V2_MAX_BODY + 1);
	assert_int_equal(status_of(buf, n), V2_TOO_LONG);
	assert_int_equal(status_of(buf, BUFSZ), V2_TOO_LONG);
}

static void parse_too_long_refuse(void **state)
{
	uint8_t buf[BUFSZ];

	(void)state;
	memset(buf, 'r', sizeof(buf));
	memcpy(buf, refuse_bytes, 13);
	assert_int_equal(status_of(buf, V2_MAX_BODY), V2_OK);
	assert_int_equal(status_of(buf, V2_MAX_BODY + 1), V2_TOO_LONG);
}

/* v2_encode: refusals */

static void encode_data_largest(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM], buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	memset(&p, 0, sizeof(p));
	p.type = V2_DATA;
	p.seq = 1;
	p.payload = payload;
	p.payload_len = V2_MAX_PAYLOAD;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), V2_MAX_BODY);
}

static void encode_data_too_long(void **state)
{
	uint8_t payload[QUN_MAX_DATAGRAM], buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	memset(payload, 'p', sizeof(payload));
	memset(&p, 0, sizeof(p));
	p.type = V2_DATA;
	p.seq = 1;
	p.payload = payload;
	p.payload_len = V2_MAX_PAYLOAD + 1;
	/* The buffer is big enough; the datagram limit is not. */
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
}

static void encode_refuse_too_long(void **state)
{
	static char reason[QUN_MAX_DATAGRAM];
	uint8_t buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	memset(reason, 'r', sizeof(reason));
	memset(&p, 0, sizeof(p));
	p.type = V2_REFUSE;
	p.reason = reason;
	p.reason_len = V2_MAX_BODY - 13;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), V2_MAX_BODY);
	p.reason_len++;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
}

static void encode_login_name_too_long(void **state)
{
	char name[256];
	uint8_t buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	/* The length byte cannot say 256. */
	memset(name, 'n', sizeof(name));
	memset(&p, 0, sizeof(p));
	p.type = V2_LOGIN;
	p.name = name;
	p.name_len = sizeof(name);
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
}

static void encode_unknown_type(void **state)
{
	uint8_t buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = (enum v2_type)0x06;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
	p.type = (enum v2_type)0;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), 0);
}

static void encode_ack_ignores_payload(void **state)
{
	uint8_t buf[BUFSZ];
	struct v2_packet p;

	(void)state;
	/* An ACK never carries a payload, so it always parses back. */
	memset(&p, 0, sizeof(p));
	p.type = V2_ACK;
	p.payload = (const uint8_t *)"junk";
	p.payload_len = 4;
	assert_int_equal(v2_encode(&p, buf, sizeof(buf)), V2_SESSION_HDR);
	assert_int_equal(status_of(buf, V2_SESSION_HDR), V2_OK);
}

static void status_strings(void **state)
{
	const enum v2_status all[] = {V2_OK,         V2_NOT_V2,   V2_BAD_VERSION, V2_BAD_TYPE,
	                              V2_BAD_LENGTH, V2_TOO_LONG, V2_BAD_FIELD};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_non_null(v2_status_str(all[i]));
		assert_string_not_equal(v2_status_str(all[i]), "unknown status");
		for (j = 0; j < i; j++)
			assert_string_not_equal(v2_status_str(all[i]), v2_status_str(all[j]));
	}
	assert_string_equal(v2_status_str((enum v2_status)99), "unknown status");
}

/* v2_msg: round trips */

static enum v2_status msg_parse(const uint8_t *buf, size_t len, struct v2_msg *m)
{
	memset(m, 0xA5, sizeof(*m));
	return v2_msg_parse(buf, len, m);
}

/* Encode m to exactly want (refusing every shorter buffer) and parse it back into out. */
static void assert_msg_round_trip(const struct v2_msg *m, const uint8_t *want, size_t want_len,
                                  uint8_t buf[BUFSZ], struct v2_msg *out)
{
	size_t size, n;
	uint8_t *small;

	memset(buf, 0x5A, BUFSZ);
	assert_int_equal(v2_msg_encode(m, buf, BUFSZ), want_len);
	assert_memory_equal(buf, want, want_len);
	assert_int_equal(buf[want_len], 0x5A);
	for (size = 0; size < want_len; size++) {
		small = malloc(size > 0 ? size : 1);
		assert_non_null(small);
		n = v2_msg_encode(m, small, size);
		free(small);
		assert_int_equal(n, 0);
	}
	assert_int_equal(msg_parse(buf, want_len, out), V2_OK);
	assert_int_equal(out->kind, m->kind);
}

static void msg_say_round_trip(void **state)
{
	const uint8_t want[] = {0x01, 0x00, 0xE4, 0xBD, 0xA0, 0xE5, 0xA5, 0xBD};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SAY;
	m.text = "你好";
	m.text_len = 6;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.text_len, 6);
	assert_ptr_equal(out.text, (const char *)buf + 2);
	assert_memory_equal(out.text, "你好", 6);
}

static void msg_say_more_flag(void **state)
{
	const uint8_t want[] = {0x01, V2_MORE, 'a', 'b'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SAY;
	m.flags = V2_MORE;
	m.text = "ab";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.flags, V2_MORE);
	assert_int_equal(out.text_len, 2);
}

static void msg_say_with_id(void **state)
{
	const uint8_t want[] = {0x01, V2_ID | V2_MORE, 0x89, 0xAB, 0xCD, 0xEF, 'a', 'b'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SAY;
	m.flags = V2_ID | V2_MORE;
	m.id = 0x89ABCDEF;
	m.text = "ab";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.flags, V2_ID | V2_MORE);
	assert_int_equal(out.id, 0x89ABCDEF);
	assert_int_equal(out.text_len, 2);
	assert_memory_equal(out.text, "ab", 2);
	/* ME takes an id the same way; without the flag, no id is read. */
	m.kind = V2_K_ME;
	assert_true(v2_msg_encode(&m, buf, sizeof(buf)) == sizeof(want));
	assert_int_equal(msg_parse(buf, sizeof(want), &out), V2_OK);
	assert_int_equal(out.id, 0x89ABCDEF);
	buf[1] = 0;
	assert_int_equal(msg_parse(buf, sizeof(want), &out), V2_OK);
	assert_int_equal(out.id, 0);
	assert_int_equal(out.text_len, 6);
}

static void msg_say_with_id_cut_short(void **state)
{
	const uint8_t cut[] = {0x01, V2_ID, 0x89, 0xAB, 0xCD};
	struct v2_msg out;

	(void)state;
	assert_int_equal(msg_parse(cut, sizeof(cut), &out), V2_BAD_LENGTH);
}

static void msg_quit_round_trip(void **state)
{
	const uint8_t want[] = {0x02};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_QUIT;
	assert_msg_round_trip(&m, want, 1, buf, &out);
}

static void msg_quit_trailing(void **state)
{
	const uint8_t buf[] = {0x02, 0x00};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_event_round_trip(void **state)
{
	const uint8_t want[] = {0x81, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x00,
	                        0x05, 'a',  'l',  'i',  'c',  'e',  'h',  'e',  'l',  'l',  'o'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_EVENT;
	m.event_id = NONCE;
	m.event = 1; /* EV_SAY */
	m.name = "alice";
	m.name_len = 5;
	m.text = "hello";
	m.text_len = 5;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_true(out.event_id == NONCE);
	assert_int_equal(out.event, 1);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.name_len, 5);
	assert_ptr_equal(out.name, (const char *)buf + 12);
	assert_memory_equal(out.name, "alice", 5);
	assert_int_equal(out.text_len, 5);
	assert_ptr_equal(out.text, (const char *)buf + 17);
	assert_memory_equal(out.text, "hello", 5);
}

static void msg_event_more_flag(void **state)
{
	const uint8_t want[] = {0x81, 0, 0, 0, 0, 0, 0, 0, 0x2A, 0x01, V2_MORE, 0x01, 'b', 'x'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_EVENT;
	m.event_id = 42;
	m.event = 1;
	m.flags = V2_MORE;
	m.name = "b";
	m.name_len = 1;
	m.text = "x";
	m.text_len = 1;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.flags, V2_MORE);
	assert_true(out.event_id == 42);
}

static void msg_event_no_text(void **state)
{
	const uint8_t want[] = {0x81, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x00, 0x00, 0x01, 'b'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	/* A join carries a name and no text. */
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_EVENT;
	m.event_id = 7;
	m.event = 0; /* EV_JOIN */
	m.name = "b";
	m.name_len = 1;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.event, 0);
	assert_int_equal(out.name_len, 1);
	assert_int_equal(out.text_len, 0);
}

static void msg_notice_round_trip(void **state)
{
	const uint8_t want[] = {0x82, 0x08, 0x00, 's', 'l', 'o', 'w'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_NOTICE;
	m.code = 8; /* QERR_FLOOD */
	m.text = "slow";
	m.text_len = 4;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.code, 8);
	assert_int_equal(out.detail, 0);
	assert_int_equal(out.text_len, 4);
	assert_memory_equal(out.text, "slow", 4);
}

static void msg_notice_detail(void **state)
{
	const uint8_t want[] = {0x82, 0x05, 0x03};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_NOTICE;
	m.code = 5;
	m.detail = 3;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.code, 5);
	assert_int_equal(out.detail, 3);
	assert_int_equal(out.text_len, 0);
}

static void msg_me_round_trip(void **state)
{
	const uint8_t want[] = {0x03, 0x00, 'w', 'a', 'v', 'e', 's'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_ME;
	m.text = "waves";
	m.text_len = 5;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.kind, V2_K_ME);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.text_len, 5);
	assert_memory_equal(out.text, "waves", 5);
}

static void msg_me_more_flag(void **state)
{
	const uint8_t want[] = {0x03, 0x01, 'x'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_ME;
	m.flags = V2_MORE;
	m.text = "x";
	m.text_len = 1;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.flags, V2_MORE);
}

static void msg_who_round_trip(void **state)
{
	const uint8_t want[] = {0x04};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_WHO;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.kind, V2_K_WHO);
}

static void msg_who_with_trailing_byte(void **state)
{
	const uint8_t buf[] = {0x04, 0x00};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_members_round_trip(void **state)
{
	const uint8_t want[] = {0x83, 0x00, 0x00, 0x01, 0x02, 0x01, 0x03,
	                        'b',  'o',  'b',  0x02, 'a',  'l'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];
	const char *name;
	size_t pos = 0, len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_MEMBERS;
	m.total = 258;
	m.flags = V2_MORE;
	m.text = "\x03"
	         "bob"
	         "\x02"
	         "al";
	m.text_len = 7;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.total, 258);
	assert_int_equal(out.flags, V2_MORE);
	assert_int_equal(v2_members_next(&out, &pos, &name, &len), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(name, "bob", 3);
	assert_int_equal(v2_members_next(&out, &pos, &name, &len), 1);
	assert_int_equal(len, 2);
	assert_memory_equal(name, "al", 2);
	assert_int_equal(v2_members_next(&out, &pos, &name, &len), 0);
}

static void msg_members_empty_list(void **state)
{
	const uint8_t want[] = {0x83, 0x00, 0x00, 0x00, 0x00, 0x00};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];
	const char *name;
	size_t pos = 0, len;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_MEMBERS;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.text_len, 0);
	assert_int_equal(v2_members_next(&out, &pos, &name, &len), 0);
}

static void msg_members_cut_name(void **state)
{
	/* The last length byte promises 5 bytes; 2 are there. */
	const uint8_t buf[] = {0x83, 0, 0, 0, 2, 0, 0x01, 'a', 0x05, 'b', 'c'};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_members_zero_length_name(void **state)
{
	const uint8_t buf[] = {0x83, 0, 0, 0, 1, 0, 0x00};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_members_short_header(void **state)
{
	const uint8_t buf[] = {0x83, 0, 0, 0, 1};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_members_encode_refuses_bad_list(void **state)
{
	struct v2_msg m;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_MEMBERS;
	m.text = "\x09"
	         "bob";
	m.text_len = 4;
	assert_int_equal(v2_msg_encode(&m, buf, sizeof(buf)), 0);
}

/* v2_msg: errors */

static void msg_empty(void **state)
{
	const uint8_t buf[1] = {V2_K_SAY};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, 0, &m), V2_BAD_LENGTH);
}

static void msg_bad_kind(void **state)
{
	const uint8_t kinds[] = {0x00, 0x0B, 0x7F, 0x80, 0x89, 0xFF};
	uint8_t buf[16];
	struct v2_msg m;
	size_t i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(kinds); i++) {
		buf[0] = kinds[i];
		assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_TYPE);
		assert_int_equal(msg_parse(buf, 1, &m), V2_BAD_TYPE);
	}
}

static void msg_truncated_say(void **state)
{
	const uint8_t buf[] = {0x01};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, 1, &m), V2_BAD_LENGTH);
}

static void msg_truncated_event(void **state)
{
	const uint8_t buf[] = {0x81, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	                       0x01, 0x00, 0x05, 'a',  'l',  'i',  'c',  'e'};
	struct v2_msg m;
	size_t len;

	(void)state;
	/* Every cut before the end of the name; the full one (no text) is fine. */
	for (len = 1; len < sizeof(buf); len++)
		assert_int_equal(msg_parse(buf, len, &m), V2_BAD_LENGTH);
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_OK);
}

static void msg_event_name_len_past_end(void **state)
{
	const uint8_t buf[] = {0x81, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0xFF, 'a', 'b'};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, sizeof(buf), &m), V2_BAD_LENGTH);
}

static void msg_truncated_notice(void **state)
{
	const uint8_t buf[] = {0x82, 0x01};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(buf, 1, &m), V2_BAD_LENGTH);
	assert_int_equal(msg_parse(buf, 2, &m), V2_BAD_LENGTH);
}

static void msg_encode_event_name_too_long(void **state)
{
	char name[256];
	uint8_t buf[BUFSZ];
	struct v2_msg m;

	(void)state;
	memset(name, 'n', sizeof(name));
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_EVENT;
	m.name = name;
	m.name_len = sizeof(name);
	assert_int_equal(v2_msg_encode(&m, buf, sizeof(buf)), 0);
}

static void msg_encode_unknown_kind(void **state)
{
	uint8_t buf[BUFSZ];
	struct v2_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = (enum v2_kind)0x0B;
	assert_int_equal(v2_msg_encode(&m, buf, sizeof(buf)), 0);
}

/* Chunk sizes: a full chunk makes a datagram of exactly QUN_MAX_DATAGRAM bytes. */

/* Wrap payload in a DATA and return the datagram's length (0 if refused). */
static size_t data_len(const uint8_t *payload, size_t len, uint8_t buf[BUFSZ])
{
	struct v2_packet p;

	memset(&p, 0, sizeof(p));
	p.type = V2_DATA;
	p.sid = SID;
	p.seq = 1;
	p.payload = payload;
	p.payload_len = len;
	return v2_encode(&p, buf, BUFSZ);
}

static void say_chunk_fills_datagram(void **state)
{
	static char text[V2_SAY_CHUNK + 1];
	uint8_t payload[BUFSZ], buf[BUFSZ];
	struct v2_packet p;
	struct v2_msg m;
	size_t n;

	(void)state;
	memset(text, 't', sizeof(text));
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SAY;
	m.flags = V2_MORE;
	m.text = text;
	m.text_len = V2_SAY_CHUNK;
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(n, V2_MAX_PAYLOAD);
	assert_int_equal(data_len(payload, n, buf), V2_MAX_BODY);
	assert_int_equal(parse(buf, V2_MAX_BODY, &p), V2_OK);
	assert_int_equal(msg_parse(p.payload, p.payload_len, &m), V2_OK);
	assert_int_equal(m.text_len, V2_SAY_CHUNK);
	assert_int_equal(m.flags, V2_MORE);

	/* One byte more does not fit. */
	m.kind = V2_K_SAY;
	m.text = text;
	m.text_len = V2_SAY_CHUNK + 1;
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(n, V2_MAX_PAYLOAD + 1);
	assert_int_equal(data_len(payload, n, buf), 0);

	/* With a message id, V2_SAY_ID_CHUNK fills it. */
	m.flags = V2_MORE | V2_ID;
	m.id = 7;
	m.text_len = V2_SAY_ID_CHUNK;
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(n, V2_MAX_PAYLOAD);
	m.text_len = V2_SAY_ID_CHUNK + 1;
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(data_len(payload, n, buf), 0);
}

static void event_chunk_fills_datagram(void **state)
{
	static char text[V2_EVENT_CHUNK(32) + 1];
	const char name[] = "abcdefghijklmnopqrstuvwxyz012345";
	uint8_t payload[BUFSZ], buf[BUFSZ];
	struct v2_packet p;
	struct v2_msg m;
	size_t n;

	(void)state;
	assert_int_equal(strlen(name), QUN_MAX_NAME);
	memset(text, 't', sizeof(text));
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_EVENT;
	m.event_id = UINT64_MAX;
	m.event = 1;
	m.name = name;
	m.name_len = QUN_MAX_NAME;
	m.text = text;
	m.text_len = V2_EVENT_CHUNK(QUN_MAX_NAME);
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(n, V2_MAX_PAYLOAD);
	assert_int_equal(data_len(payload, n, buf), V2_MAX_BODY);
	assert_int_equal(parse(buf, V2_MAX_BODY, &p), V2_OK);
	assert_int_equal(msg_parse(p.payload, p.payload_len, &m), V2_OK);
	assert_int_equal(m.name_len, QUN_MAX_NAME);
	assert_int_equal(m.text_len, V2_EVENT_CHUNK(QUN_MAX_NAME));

	m.kind = V2_K_EVENT;
	m.name = name;
	m.text = text;
	m.text_len = V2_EVENT_CHUNK(QUN_MAX_NAME) + 1;
	n = v2_msg_encode(&m, payload, sizeof(payload));
	assert_int_equal(data_len(payload, n, buf), 0);
}

/* utf8_prefix */

static void utf8_prefix_fits(void **state)
{
	(void)state;
	assert_int_equal(utf8_prefix("hello", 5, 5), 5);
	assert_int_equal(utf8_prefix("hello", 5, 100), 5);
	assert_int_equal(utf8_prefix("你好", 6, 6), 6);
	assert_int_equal(utf8_prefix("你好", 6, 7), 6);
	assert_int_equal(utf8_prefix("", 0, 0), 0);
}

static void utf8_prefix_ascii(void **state)
{
	(void)state;
	assert_int_equal(utf8_prefix("hello", 5, 3), 3);
	assert_int_equal(utf8_prefix("hello", 5, 0), 0);
}

static void utf8_prefix_never_cuts_cjk(void **state)
{
	const char s[] = "你好世界，聊天室"; /* 8 characters of 3 bytes */
	size_t n = strlen(s), max, k;

	(void)state;
	assert_int_equal(n, 24);
	for (max = 0; max < n; max++) {
		k = utf8_prefix(s, n, max);
		assert_true(k <= max);
		assert_int_equal(k % 3, 0);
		assert_true(k + 3 > max); /* the longest such prefix */
	}
}

static void utf8_prefix_four_byte(void **state)
{
	const char s[] = "a\xF0\x9F\x98\x80"
	                 "b"; /* a, U+1F600, b */

	(void)state;
	assert_int_equal(utf8_prefix(s, 6, 1), 1);
	assert_int_equal(utf8_prefix(s, 6, 2), 1);
	assert_int_equal(utf8_prefix(s, 6, 3), 1);
	assert_int_equal(utf8_prefix(s, 6, 4), 1);
	assert_int_equal(utf8_prefix(s, 6, 5), 5);
}

static void utf8_prefix_splits_long_text(void **state)
{
	static char text[V2_MAX_TEXT], back[V2_MAX_TEXT];
	size_t n = 0, off = 0, got = 0, k, chunks = 0;

	(void)state;
	/* 4000 bytes of mixed 1- and 3-byte characters, cut into SAY chunks. */
	while (n + 3 <= sizeof(text)) {
		memcpy(text + n, n % 2 ? "x" : "字", n % 2 ? 1 : 3);
		n += n % 2 ? 1 : 3;
	}
	while (off < n) {
		k = utf8_prefix(text + off, n - off, V2_SAY_CHUNK);
		assert_true(k > 0 && k <= V2_SAY_CHUNK);
		if (off + k < n) /* the next chunk starts on a character */
			assert_int_not_equal((unsigned char)text[off + k] & 0xC0, 0x80);
		memcpy(back + got, text + off, k);
		got += k;
		off += k;
		chunks++;
	}
	assert_int_equal(got, n);
	assert_memory_equal(back, text, n);
	assert_int_equal(chunks, (n + V2_SAY_CHUNK - 1) / V2_SAY_CHUNK);
}

/* The integrity trailer (v2_seal / v2_unseal). */

static void seal_appends_crc32_big_endian(void **state)
{
	uint8_t buf[16] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};

	(void)state;
	/* CRC-32 of "123456789" is the standard check value 0xCBF43926. */
	assert_int_equal(v2_seal(buf, 9, sizeof(buf)), 13);
	assert_int_equal(buf[9], 0xCB);
	assert_int_equal(buf[10], 0xF4);
	assert_int_equal(buf[11], 0x39);
	assert_int_equal(buf[12], 0x26);
	assert_int_equal(v2_unseal(buf, 13), 9);
}

/* The CRC one bit at a time, straight from the definition: what crc32_ieee must equal. */
static uint32_t crc_bitwise(const uint8_t *b, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	int k;

	while (n-- > 0) {
		c ^= *b++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xFFFFFFFFu;
}

/* Eight bytes at a time, then the tail: every length and alignment gives the definition's CRC. */
static void crc32_matches_the_definition_at_every_length_and_offset(void **state)
{
	uint8_t buf[300];
	uint32_t x = 12345;
	size_t i, off, n;

	(void)state;
	for (i = 0; i < sizeof buf; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (off = 0; off < 8; off++)
		for (n = 0; n + off <= 290; n++)
			assert_int_equal(crc32_ieee(buf + off, n), crc_bitwise(buf + off, n));
	assert_int_equal(crc32_ieee("123456789", 9), 0xCBF43926u);
}

static void seal_refuses_empty_and_full(void **state)
{
	static uint8_t buf[QUN_MAX_DATAGRAM + 8];

	(void)state;
	assert_int_equal(v2_seal(buf, 0, sizeof(buf)), 0); /* a failed encode stays failed */
	assert_int_equal(v2_seal(buf, 9, 12), 0);          /* no room for the trailer */
	assert_int_equal(v2_seal(buf, V2_MAX_BODY, sizeof(buf)), QUN_MAX_DATAGRAM);
	assert_int_equal(v2_seal(buf, V2_MAX_BODY + 1, sizeof(buf)), 0);
}

static void unseal_rejects_damage(void **state)
{
	uint8_t buf[32];
	size_t n, i;
	int bit;

	(void)state;
	memset(buf, 0x5A, sizeof(buf));
	buf[0] = V2_MAGIC;
	buf[1] = V2_VERSION;
	n = v2_seal(buf, 20, sizeof(buf));
	assert_int_equal(v2_unseal(buf, n), 20);
	/* Every single bit flip anywhere is caught. */
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(v2_unseal(buf, n), 0);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* So is a datagram cut short, or one too short to carry a trailer. */
	assert_int_equal(v2_unseal(buf, n - 1), 0);
	assert_int_equal(v2_unseal(buf, 6), 0);
	assert_int_equal(v2_unseal(buf, 0), 0);
}

/* ---- rooms and private messages (docs/ROOMS.md) ---- */

static void msg_join_round_trip(void **state)
{
	const uint8_t want[] = {0x05, 0x04, '#', 'd', 'e', 'v'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_JOIN;
	m.name = "#dev";
	m.name_len = 4;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.name_len, 4);
	assert_memory_equal(out.name, "#dev", 4);
}

static void msg_join_refuses_empty_name_and_trailing_bytes(void **state)
{
	const uint8_t empty[] = {0x05, 0x00};
	const uint8_t trailing[] = {0x05, 0x01, '#', 'x'};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(empty, sizeof(empty), &m), V2_BAD_FIELD);
	assert_int_equal(msg_parse(trailing, sizeof(trailing), &m), V2_BAD_LENGTH);
}

static void msg_part_and_rooms_round_trip(void **state)
{
	const uint8_t part[] = {0x06, 0x00, 0x00, 0x01, 0x02};
	const uint8_t rooms[] = {0x07, 0x01};
	const uint8_t part0[] = {0x06, 0x00, 0x00, 0x00, 0x00};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_PART;
	m.room = 258;
	assert_msg_round_trip(&m, part, sizeof(part), buf, &out);
	assert_int_equal(out.room, 258);
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_ROOMS;
	m.flags = V2_ROOMS_ALL;
	assert_msg_round_trip(&m, rooms, sizeof(rooms), buf, &out);
	assert_int_equal(out.flags, V2_ROOMS_ALL);
	assert_int_equal(msg_parse(part0, sizeof(part0), &out), V2_BAD_FIELD);
	assert_int_equal(msg_parse(rooms, 1, &out), V2_BAD_LENGTH);
}

static void msg_who_of_a_room(void **state)
{
	const uint8_t want[] = {0x04, 0x00, 0x00, 0x00, 0x07};
	const uint8_t two[] = {0x04, 0x00, 0x07};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_WHO;
	m.room = 7;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.room, 7);
	assert_int_equal(msg_parse(two, sizeof(two), &out), V2_BAD_LENGTH);
	assert_int_equal(msg_parse((const uint8_t[]){0x04, 0, 0, 0, 0}, 5, &out), V2_BAD_FIELD);
}

static void msg_say_in_a_room_round_trip(void **state)
{
	const uint8_t want[] = {0x01, 0x06, 0x00, 0x00, 0x00, 0x09,
	                        0x00, 0x00, 0x00, 0x03, 'h',  'i'};
	const uint8_t room0[] = {0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 'h'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SAY;
	m.flags = V2_ID | V2_ROOM;
	m.id = 9;
	m.room = 3;
	m.text = "hi";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.id, 9);
	assert_int_equal(out.room, 3);
	assert_int_equal(out.text_len, 2);
	assert_int_equal(msg_parse(room0, sizeof(room0), &out), V2_BAD_FIELD);
	/* What the parser refuses, the encoder does not make. */
	m.room = 0;
	assert_int_equal(v2_msg_encode(&m, buf, BUFSZ), 0);
}

static void msg_tell_round_trip(void **state)
{
	const uint8_t want[] = {0x08, 0x03, 0x00, 0x00, 0x00, 0x01, 0x03, 'b', 'o', 'b', 'y', 'o'};
	const uint8_t noname[] = {0x08, 0x00, 0x00, 'y', 'o'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_TELL;
	m.flags = V2_MORE | V2_ID;
	m.id = 1;
	m.name = "bob";
	m.name_len = 3;
	m.text = "yo";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_memory_equal(out.name, "bob", 3);
	assert_memory_equal(out.text, "yo", 2);
	assert_int_equal(msg_parse(noname, sizeof(noname), &out), V2_BAD_FIELD);
}

static void msg_revent_round_trip(void **state)
{
	const uint8_t want[] = {0x84, 0x00, 0x00, 0x00, 0x02, 0,    0,   0,   0,  0,
	                        0,    0x01, 0x00, 0x01, 0x00, 0x01, 'a', 'h', 'i'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_REVENT;
	m.room = 2;
	m.event_id = 256;
	m.event = 1;
	m.name = "a";
	m.name_len = 1;
	m.text = "hi";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.room, 2);
	assert_int_equal(out.event_id, 256);
	assert_int_equal(out.event, 1);
}

static void msg_private_round_trip(void **state)
{
	const uint8_t want[] = {0x86, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x01, 0x01, 'a', 'y', 'o'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_PRIVATE;
	m.event_id = 5;
	m.flags = V2_MORE;
	m.name = "a";
	m.name_len = 1;
	m.text = "yo";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.event_id, 5);
	assert_int_equal(out.flags, V2_MORE);
}

static void msg_room_list_round_trip(void **state)
{
	const uint8_t want[] = {0x85, 0x01, 0x01, 0, 0, 0, 1, 0, 0, 0, 3,   0x02, '#',
	                        'a',  0,    0,    0, 9, 0, 0, 0, 1, 3, '#', 'b',  'c'};
	char list[64];
	size_t used = 0, pos = 0, len;
	uint32_t id, members;
	const char *name;
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	assert_int_equal(v2_room_put(list, sizeof list, &used, 1, 3, "#a", 2), 0);
	assert_int_equal(v2_room_put(list, sizeof list, &used, 9, 1, "#bc", 3), 0);
	assert_int_equal(v2_room_put(list, used + 5, &used, 9, 1, "#bc", 3), -1);
	assert_int_equal(v2_room_put(list, sizeof list, &used, 0, 1, "#bc", 3), -1);
	assert_int_equal(used, 23);
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_ROOM;
	m.flags = V2_MORE;
	m.what = V2_ROOM_ALL;
	m.text = list;
	m.text_len = used;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.what, V2_ROOM_ALL);
	assert_int_equal(v2_rooms_next(&out, &pos, &id, &members, &name, &len), 1);
	assert_int_equal(id, 1);
	assert_int_equal(members, 3);
	assert_int_equal(len, 2);
	assert_int_equal(v2_rooms_next(&out, &pos, &id, &members, &name, &len), 1);
	assert_int_equal(id, 9);
	assert_memory_equal(name, "#bc", 3);
	assert_int_equal(v2_rooms_next(&out, &pos, &id, &members, &name, &len), 0);
}

static void msg_room_refuses_what_cannot_be(void **state)
{
	/* JOINED with two rooms; an unknown what; an entry cut short; an empty name. */
	const uint8_t two[] = {0x85, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 1,  1,
	                       '#',  0,    0,    0, 2, 0, 0, 0, 1, 1, '#'};
	const uint8_t what[] = {0x85, 0x00, 0x04};
	const uint8_t cut[] = {0x85, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 3, '#'};
	const uint8_t empty[] = {0x85, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0};
	const uint8_t none[] = {0x85, 0x00, 0x03};
	struct v2_msg m;

	(void)state;
	assert_int_equal(msg_parse(two, sizeof(two), &m), V2_BAD_FIELD);
	assert_int_equal(msg_parse(what, sizeof(what), &m), V2_BAD_FIELD);
	assert_int_equal(msg_parse(cut, sizeof(cut), &m), V2_BAD_LENGTH);
	assert_int_equal(msg_parse(empty, sizeof(empty), &m), V2_BAD_LENGTH);
	assert_int_equal(msg_parse(none, sizeof(none), &m), V2_BAD_FIELD);
	assert_int_equal(msg_parse(what, 2, &m), V2_BAD_LENGTH);
	/* An empty list of mine is a fine answer: in no room at all. */
	assert_int_equal(msg_parse((const uint8_t[]){0x85, 0x00, 0x00}, 3, &m), V2_OK);
	/* Room id 0 names no room. */
	assert_int_equal(
	    msg_parse((const uint8_t[]){0x85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, '#'}, 13, &m),
	    V2_BAD_LENGTH);
	/* A private line from nobody. */
	assert_int_equal(
	    msg_parse((const uint8_t[]){0x86, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 'x'}, 12, &m),
	    V2_BAD_FIELD);
}

/* ---- history (docs/HISTORY.md) ---- */

static void msg_history_round_trip(void **state)
{
	const uint8_t want[] = {0x09, 0, 0, 0, 2, 0x01, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 50};
	const uint8_t bad_what[] = {0x09, 0, 0, 0, 2, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
	const uint8_t zero[] = {0x09, 0, 0, 0, 2, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t many[] = {0x09, 0, 0, 0, 2, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 201};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_HISTORY;
	m.room = 2;
	m.what = V2_HIST_BEFORE;
	m.event_id = 256;
	m.count = 50;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.what, V2_HIST_BEFORE);
	assert_int_equal(out.event_id, 256);
	assert_int_equal(out.count, 50);
	assert_int_equal(msg_parse(bad_what, sizeof(bad_what), &out), V2_BAD_FIELD);
	assert_int_equal(msg_parse(zero, sizeof(zero), &out), V2_BAD_FIELD);
	assert_int_equal(msg_parse(many, sizeof(many), &out), V2_BAD_FIELD);
	assert_int_equal(msg_parse(want, sizeof(want) - 1, &out), V2_BAD_LENGTH);
}

static void msg_hline_and_hend_round_trip(void **state)
{
	const uint8_t hline[] = {0x87, 0, 0, 0, 1, 0,    0,    0, 0, 0, 0,   0,   7,  0,
	                         0,    0, 0, 0, 0, 0x03, 0xE8, 1, 0, 1, 'a', 'h', 'i'};
	const uint8_t hend[] = {0x87 + 1, 0, 0, 0, 1, 0, 3, V2_HEND_START};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_HLINE;
	m.room = 1;
	m.event_id = 7;
	m.at = 1000;
	m.event = 1;
	m.name = "a";
	m.name_len = 1;
	m.text = "hi";
	m.text_len = 2;
	assert_msg_round_trip(&m, hline, sizeof(hline), buf, &out);
	assert_int_equal(out.at, 1000);
	assert_int_equal(out.event_id, 7);
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_HEND;
	m.room = 1;
	m.count = 3;
	m.flags = V2_HEND_START;
	assert_msg_round_trip(&m, hend, sizeof(hend), buf, &out);
	assert_int_equal(out.count, 3);
	assert_int_equal(out.flags, V2_HEND_START);
}

static void msg_search_round_trip(void **state)
{
	const uint8_t want[] = {0x0A, 0, 20, 'a', ' ', 'b'};
	const uint8_t empty[] = {0x0A, 0, 20};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_SEARCH;
	m.count = 20;
	m.text = "a b";
	m.text_len = 3;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.count, 20);
	assert_int_equal(msg_parse(empty, sizeof(empty), &out), V2_BAD_FIELD); /* no words */
}

static void msg_private_kept_for_later(void **state)
{
	const uint8_t want[] = {0x86, 0, 0, 0, 0, 0,    0,    0, 9,   V2_STORED, 0,
	                        0,    0, 0, 0, 0, 0x07, 0xD0, 1, 'b', 'y',       'o'};
	struct v2_msg m, out;
	uint8_t buf[BUFSZ];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.kind = V2_K_PRIVATE;
	m.event_id = 9;
	m.flags = V2_STORED;
	m.at = 2000;
	m.name = "b";
	m.name_len = 1;
	m.text = "yo";
	m.text_len = 2;
	assert_msg_round_trip(&m, want, sizeof(want), buf, &out);
	assert_int_equal(out.at, 2000);
	assert_memory_equal(out.name, "b", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(seal_appends_crc32_big_endian),
	    cmocka_unit_test(crc32_matches_the_definition_at_every_length_and_offset),
	    cmocka_unit_test(seal_refuses_empty_and_full),
	    cmocka_unit_test(unseal_rejects_damage),
	    cmocka_unit_test(is_v2_magic),
	    cmocka_unit_test(hello_round_trip),
	    cmocka_unit_test(cookie_round_trip),
	    cmocka_unit_test(login_round_trip),
	    cmocka_unit_test(login_round_trip_cjk_name),
	    cmocka_unit_test(login_round_trip_empty_name),
	    cmocka_unit_test(login_round_trip_longest_name),
	    cmocka_unit_test(welcome_round_trip),
	    cmocka_unit_test(refuse_round_trip),
	    cmocka_unit_test(refuse_round_trip_empty_reason),
	    cmocka_unit_test(data_round_trip),
	    cmocka_unit_test(ack_round_trip),
	    cmocka_unit_test(ping_round_trip),
	    cmocka_unit_test(close_round_trip),
	    cmocka_unit_test(challenge_round_trip),
	    cmocka_unit_test(rebind_round_trip),
	    cmocka_unit_test(integers_are_big_endian),
	    cmocka_unit_test(welcome_extreme_values),
	    cmocka_unit_test(welcome_features_in_the_high_bits),
	    cmocka_unit_test(parse_empty_not_v2),
	    cmocka_unit_test(parse_v1_not_v2),
	    cmocka_unit_test(parse_header_too_short),
	    cmocka_unit_test(parse_bad_version),
	    cmocka_unit_test(parse_unknown_type),
	    cmocka_unit_test(truncated_hello),
	    cmocka_unit_test(truncated_cookie),
	    cmocka_unit_test(truncated_login),
	    cmocka_unit_test(truncated_welcome),
	    cmocka_unit_test(truncated_refuse),
	    cmocka_unit_test(truncated_data),
	    cmocka_unit_test(truncated_ack),
	    cmocka_unit_test(truncated_ping),
	    cmocka_unit_test(truncated_close),
	    cmocka_unit_test(truncated_challenge),
	    cmocka_unit_test(truncated_rebind),
	    cmocka_unit_test(trailing_hello),
	    cmocka_unit_test(trailing_cookie),
	    cmocka_unit_test(trailing_login),
	    cmocka_unit_test(trailing_welcome),
	    cmocka_unit_test(trailing_close),
	    cmocka_unit_test(trailing_challenge),
	    cmocka_unit_test(trailing_rebind),
	    cmocka_unit_test(login_name_len_past_end),
	    cmocka_unit_test(login_name_len_short_of_end),
	    cmocka_unit_test(data_seq_zero),
	    cmocka_unit_test(data_empty),
	    cmocka_unit_test(data_one_byte_payload),
	    cmocka_unit_test(ack_seq_nonzero),
	    cmocka_unit_test(ack_with_payload),
	    cmocka_unit_test(ping_seq_nonzero),
	    cmocka_unit_test(ping_with_payload),
	    cmocka_unit_test(parse_largest_data),
	    cmocka_unit_test(parse_too_long_data),
	    cmocka_unit_test(parse_too_long_refuse),
	    cmocka_unit_test(encode_data_largest),
	    cmocka_unit_test(encode_data_too_long),
	    cmocka_unit_test(encode_refuse_too_long),
	    cmocka_unit_test(encode_login_name_too_long),
	    cmocka_unit_test(encode_unknown_type),
	    cmocka_unit_test(encode_ack_ignores_payload),
	    cmocka_unit_test(status_strings),
	    cmocka_unit_test(msg_say_round_trip),
	    cmocka_unit_test(msg_say_more_flag),
	    cmocka_unit_test(msg_say_with_id),
	    cmocka_unit_test(msg_say_with_id_cut_short),
	    cmocka_unit_test(msg_quit_round_trip),
	    cmocka_unit_test(msg_quit_trailing),
	    cmocka_unit_test(msg_event_round_trip),
	    cmocka_unit_test(msg_event_more_flag),
	    cmocka_unit_test(msg_event_no_text),
	    cmocka_unit_test(msg_notice_round_trip),
	    cmocka_unit_test(msg_notice_detail),
	    cmocka_unit_test(msg_empty),
	    cmocka_unit_test(msg_me_round_trip),
	    cmocka_unit_test(msg_me_more_flag),
	    cmocka_unit_test(msg_who_round_trip),
	    cmocka_unit_test(msg_who_with_trailing_byte),
	    cmocka_unit_test(msg_members_round_trip),
	    cmocka_unit_test(msg_members_empty_list),
	    cmocka_unit_test(msg_members_cut_name),
	    cmocka_unit_test(msg_members_zero_length_name),
	    cmocka_unit_test(msg_members_short_header),
	    cmocka_unit_test(msg_members_encode_refuses_bad_list),
	    cmocka_unit_test(msg_bad_kind),
	    cmocka_unit_test(msg_truncated_say),
	    cmocka_unit_test(msg_truncated_event),
	    cmocka_unit_test(msg_event_name_len_past_end),
	    cmocka_unit_test(msg_truncated_notice),
	    cmocka_unit_test(msg_encode_event_name_too_long),
	    cmocka_unit_test(msg_encode_unknown_kind),
	    cmocka_unit_test(say_chunk_fills_datagram),
	    cmocka_unit_test(event_chunk_fills_datagram),
	    cmocka_unit_test(msg_join_round_trip),
	    cmocka_unit_test(msg_join_refuses_empty_name_and_trailing_bytes),
	    cmocka_unit_test(msg_part_and_rooms_round_trip),
	    cmocka_unit_test(msg_who_of_a_room),
	    cmocka_unit_test(msg_say_in_a_room_round_trip),
	    cmocka_unit_test(msg_tell_round_trip),
	    cmocka_unit_test(msg_revent_round_trip),
	    cmocka_unit_test(msg_private_round_trip),
	    cmocka_unit_test(msg_room_list_round_trip),
	    cmocka_unit_test(msg_room_refuses_what_cannot_be),
	    cmocka_unit_test(msg_history_round_trip),
	    cmocka_unit_test(msg_hline_and_hend_round_trip),
	    cmocka_unit_test(msg_private_kept_for_later),
	    cmocka_unit_test(msg_search_round_trip),
	    cmocka_unit_test(utf8_prefix_fits),
	    cmocka_unit_test(utf8_prefix_ascii),
	    cmocka_unit_test(utf8_prefix_never_cuts_cjk),
	    cmocka_unit_test(utf8_prefix_four_byte),
	    cmocka_unit_test(utf8_prefix_splits_long_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
