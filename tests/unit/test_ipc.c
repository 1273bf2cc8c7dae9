/* test_ipc.c - unit tests of src/qun/ipc.c: the messages between qun's UI and network processes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "qun/ipc.h"

static unsigned char buf[IPC_MAX + 16];

/* Helpers */

static void decode_ok(size_t len, struct ipc_msg *m)
{
	assert_int_equal(ipc_decode(buf, len, m), IPC_OK);
}

static void assert_decodes(const void *bytes, size_t len, enum ipc_status want)
{
	struct ipc_msg m;

	assert_int_equal(ipc_decode(bytes, len, &m), want);
}

static int line(enum ipc_line_kind kind, unsigned flags, const char *name, unsigned name_at,
                const char *text)
{
	return ipc_encode_line(buf, sizeof buf, kind, flags, name, name ? strlen(name) : 0, name_at,
	                       text, strlen(text));
}

/* LINE */

static void line_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, "alice", 0, "alice 说：你好");
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_LINE);
	assert_int_equal(m.kind, IPC_LINE_CHAT);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.name_at, 0);
	assert_int_equal(m.name_len, 5);
	assert_memory_equal(m.name, "alice", 5);
	assert_int_equal(m.text_len, strlen("alice 说：你好"));
	assert_memory_equal(m.text, "alice 说：你好", m.text_len);
}

static void line_exact_bytes(void **state)
{
	static const unsigned char want[] = {
	    'L', IPC_LINE_ACTION, IPC_LINE_SELF, 0, 2, 0, 1, 'a', 0, 5, '*', ' ', 'a', ' ', 'x'};
	int n;

	(void)state;
	n = line(IPC_LINE_ACTION, IPC_LINE_SELF, "a", 2, "* a x");
	assert_int_equal(n, sizeof want);
	assert_memory_equal(buf, want, sizeof want);
}

static void line_without_name(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = line(IPC_LINE_NOTICE, 0, NULL, IPC_NO_NAME_AT, "服务器即将关闭");
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.kind, IPC_LINE_NOTICE);
	assert_int_equal(m.name_at, IPC_NO_NAME_AT);
	assert_int_equal(m.name_len, 0);
}

static void line_name_outside_text(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	/* A name that is not in the text is allowed with IPC_NO_NAME_AT. */
	n = line(IPC_LINE_JOIN, 0, "bob", IPC_NO_NAME_AT, "someone joined");
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.name_len, 3);
}

static void line_keeps_raw_bytes(void **state)
{
	static const char raw[] = "x\033[2J\xff\xc2\x9b\0y";
	struct ipc_msg m;
	int n;

	(void)state;
	/* The format carries any bytes: the UI sanitises where it shows them. */
	n = ipc_encode_line(buf, sizeof buf, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT, raw,
	                    sizeof raw - 1);
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.text_len, sizeof raw - 1);
	assert_memory_equal(m.text, raw, sizeof raw - 1);
}

static void line_empty_text(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = line(IPC_LINE_NOTICE, 0, NULL, IPC_NO_NAME_AT, "");
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.text_len, 0);
}

static void line_encode_refuses_bad_values(void **state)
{
	(void)state;
	assert_int_equal(line(IPC_LINE_KIND_COUNT, 0, NULL, IPC_NO_NAME_AT, "x"), -1);
	assert_int_equal(line(IPC_LINE_CHAT, 0x80, NULL, IPC_NO_NAME_AT, "x"), -1);
	/* name_at must point at the name. */
	assert_int_equal(line(IPC_LINE_CHAT, 0, "bob", 0, "alice: hi"), -1);
	assert_int_equal(line(IPC_LINE_CHAT, 0, "alice", 6, "alice: hi"), -1);
	assert_int_equal(line(IPC_LINE_CHAT, 0, "", 0, "alice: hi"), -1);
	assert_int_equal(line(IPC_LINE_CHAT, 0, "hi!", 7, "alice: hi"), -1);
}

static void line_encode_too_small(void **state)
{
	unsigned char small[10];

	(void)state;
	assert_int_equal(
	    ipc_encode_line(small, sizeof small, IPC_LINE_CHAT, 0, "a", 1, 0, "a: 12345", 8), -1);
	assert_int_equal(ipc_encode_line(NULL, 0, IPC_LINE_CHAT, 0, NULL, 0, IPC_NO_NAME_AT, "", 0),
	                 -1);
}

static void line_encode_str_too_long(void **state)
{
	static char big[IPC_STR_MAX + 1];

	(void)state;
	memset(big, 'x', sizeof big);
	assert_int_equal(ipc_encode_line(buf, sizeof buf, IPC_LINE_NOTICE, 0, NULL, 0,
	                                 IPC_NO_NAME_AT, big, sizeof big),
	                 -1);
	/* The longest str fits. */
	assert_true(ipc_encode_line(buf, sizeof buf, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT,
	                            big, IPC_STR_MAX - 16) > 0);
}

static void line_decode_bad_kind(void **state)
{
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, NULL, IPC_NO_NAME_AT, "x");
	buf[1] = IPC_LINE_KIND_COUNT;
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
}

static void line_decode_bad_flags(void **state)
{
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, NULL, IPC_NO_NAME_AT, "x");
	buf[2] = 0x04;
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
}

static void line_decode_name_at_mismatch(void **state)
{
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, "al", 0, "al: x");
	buf[4] = 1; /* name_at 1: "l:" is not "al" */
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
	buf[4] = 4; /* past what the text holds */
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
	buf[3] = 0x12; /* far past the end */
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
}

static void line_decode_cut_anywhere(void **state)
{
	size_t i;
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, "alice", 0, "alice: hello");
	for (i = 1; i < (size_t)n; i++)
		assert_decodes(buf, i, IPC_SHORT);
}

static void line_decode_trailing(void **state)
{
	int n;

	(void)state;
	n = line(IPC_LINE_CHAT, 0, "alice", 0, "alice: hello");
	buf[n] = 'Z';
	assert_decodes(buf, (size_t)n + 1, IPC_TRAILING);
}

/* WHO */

static void who_round_trip(void **state)
{
	static const char *const names[] = {"alice", "小明", "bob"};
	struct ipc_msg m;
	const char *name;
	size_t pos = 0, len;
	int n, i = 0;

	(void)state;
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_COMPLETE, 7, "#dev", 4, names, 3);
	assert_true(n > 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_WHO);
	assert_int_equal(m.name_len, 4);
	assert_memory_equal(m.name, "#dev", 4);
	assert_int_equal(m.who_status, IPC_WHO_COMPLETE);
	assert_int_equal(m.total, 7);
	assert_int_equal(m.count, 3);
	while (ipc_who_next(&m, &pos, &name, &len)) {
		assert_int_equal(len, strlen(names[i]));
		assert_memory_equal(name, names[i], len);
		i++;
	}
	assert_int_equal(i, 3);
}

static void who_empty(void **state)
{
	struct ipc_msg m;
	const char *name;
	size_t pos = 0, len;
	int n;

	(void)state;
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_NO_REPLY, 0, NULL, 0, NULL, 0);
	assert_int_equal(n, 10);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.who_status, IPC_WHO_NO_REPLY);
	assert_int_equal(m.count, 0);
	assert_false(ipc_who_next(&m, &pos, &name, &len));
}

static void who_total_big_endian(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_PARTIAL, 0x01020304u, NULL, 0, NULL, 0);
	assert_int_equal(buf[2], 1);
	assert_int_equal(buf[5], 4);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.total, 0x01020304u);
	assert_int_equal(m.who_status, IPC_WHO_PARTIAL);
}

static void who_count_must_match(void **state)
{
	static const char *const names[] = {"alice", "bob"};
	int n;

	(void)state;
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_COMPLETE, 2, NULL, 0, names, 2);
	buf[9] = 3; /* says three names, holds two */
	assert_decodes(buf, (size_t)n, IPC_SHORT);
	buf[9] = 1; /* says one, holds two */
	assert_decodes(buf, (size_t)n, IPC_TRAILING);
}

static void who_bad_status(void **state)
{
	int n;

	(void)state;
	assert_int_equal(ipc_encode_who(buf, sizeof buf, IPC_WHO_STATUS_COUNT, 0, NULL, 0, NULL, 0),
	                 -1);
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_COMPLETE, 0, NULL, 0, NULL, 0);
	buf[1] = IPC_WHO_STATUS_COUNT;
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
}

static void who_thousand_names_fit(void **state)
{
	static const char *names[1024];
	static const char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
	struct ipc_msg m;
	int i, n;

	(void)state;
	for (i = 0; i < 1024; i++)
		names[i] = name32;
	n = ipc_encode_who(buf, sizeof buf, IPC_WHO_COMPLETE, 1024, NULL, 0, names, 1024);
	assert_true(n > 0 && (unsigned)n <= IPC_MAX);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.count, 1024);
}

static void who_next_on_other_type(void **state)
{
	struct ipc_msg m;
	const char *name;
	size_t pos = 0, len;
	int n;

	(void)state;
	n = line(IPC_LINE_NOTICE, 0, NULL, IPC_NO_NAME_AT, "x");
	decode_ok((size_t)n, &m);
	assert_false(ipc_who_next(&m, &pos, &name, &len));
}

/* STATE and EXITED */

static void state_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_state(buf, sizeof buf, IPC_RECONNECTING);
	assert_int_equal(n, 2);
	decode_ok(2, &m);
	assert_int_equal(m.type, IPC_STATE);
	assert_int_equal(m.state, IPC_RECONNECTING);
}

static void state_bad_value(void **state)
{
	static const unsigned char bad[] = {'S', IPC_STATE_COUNT};
	static const unsigned char cut[] = {'S'};

	(void)state;
	assert_int_equal(ipc_encode_state(buf, sizeof buf, IPC_STATE_COUNT), -1);
	assert_decodes(bad, sizeof bad, IPC_BAD_VALUE);
	assert_decodes(cut, sizeof cut, IPC_SHORT);
}

static void exited_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_exited(buf, sizeof buf, IPC_EXIT_UNCONFIRMED);
	assert_int_equal(n, 2);
	decode_ok(2, &m);
	assert_int_equal(m.type, IPC_EXITED);
	assert_int_equal(m.how, IPC_EXIT_UNCONFIRMED);
}

static void exited_bad_value(void **state)
{
	static const unsigned char bad[] = {'X', IPC_EXIT_COUNT};
	static const unsigned char extra[] = {'X', IPC_EXIT_ENDED, 0};

	(void)state;
	assert_int_equal(ipc_encode_exited(buf, sizeof buf, IPC_EXIT_COUNT), -1);
	assert_decodes(bad, sizeof bad, IPC_BAD_VALUE);
	assert_decodes(extra, sizeof extra, IPC_TRAILING);
}

/* Requests */

static void say_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_request(buf, sizeof buf, IPC_SAY, "你好，世界", strlen("你好，世界"));
	assert_int_equal(n, 3 + (int)strlen("你好，世界"));
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_SAY);
	assert_memory_equal(m.text, "你好，世界", m.text_len);
}

static void me_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_request(buf, sizeof buf, IPC_ME, "waves", 5);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_ME);
	assert_int_equal(m.text_len, 5);
}

static void bare_requests(void **state)
{
	static const unsigned char who[] = {'w', 0, 0};
	struct ipc_msg m;

	(void)state;
	/* A WHO of the current room: an empty room name. */
	assert_int_equal(ipc_encode_request(buf, sizeof buf, IPC_ASK_WHO, NULL, 0), 3);
	assert_memory_equal(buf, who, 3);
	decode_ok(3, &m);
	assert_int_equal(m.type, IPC_ASK_WHO);
	assert_int_equal(m.name_len, 0);
	assert_int_equal(ipc_encode_request(buf, sizeof buf, IPC_QUIT, NULL, 0), 1);
	decode_ok(1, &m);
	assert_int_equal(m.type, IPC_QUIT);
}

static void request_encode_refusals(void **state)
{
	(void)state;
	assert_int_equal(ipc_encode_request(buf, sizeof buf, IPC_QUIT, "x", 1), -1);
	assert_int_equal(ipc_encode_request(buf, sizeof buf, IPC_LINE, "x", 1), -1);
	assert_int_equal(ipc_encode_request(buf, sizeof buf, IPC_SAY, NULL, 3), -1);
	assert_int_equal(ipc_encode_request(buf, 2, IPC_SAY, "abc", 3), -1);
}

static void request_trailing(void **state)
{
	static const unsigned char quit_extra[] = {'q', 0};
	static const unsigned char say_extra[] = {'s', 0, 1, 'a', 'b'};
	static const unsigned char say_cut[] = {'s', 0, 5, 'a'};

	(void)state;
	assert_decodes(quit_extra, sizeof quit_extra, IPC_TRAILING);
	assert_decodes(say_extra, sizeof say_extra, IPC_TRAILING);
	assert_decodes(say_cut, sizeof say_cut, IPC_SHORT);
}

/* Rooms and private messages */

static void rooms_round_trip(void **state)
{
	static const char *const names[] = {"#大厅", "#dev"};
	struct ipc_msg m;
	const char *name;
	size_t pos = 0, len;
	int n;

	(void)state;
	n = ipc_encode_rooms(buf, sizeof buf, 0, "#dev", 4, names, 2);
	assert_int_equal(n, 1 + 1 + 2 + 4 + 2 + 2 + (int)strlen("#大厅") + 2 + 4);
	assert_int_equal(buf[0], 'R');
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_ROOMS);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.name_len, 4);
	assert_memory_equal(m.name, "#dev", 4);
	assert_int_equal(m.count, 2);
	assert_true(ipc_who_next(&m, &pos, &name, &len));
	assert_int_equal(len, strlen("#大厅"));
	assert_memory_equal(name, "#大厅", len);
	assert_true(ipc_who_next(&m, &pos, &name, &len));
	assert_memory_equal(name, "#dev", 4);
	assert_false(ipc_who_next(&m, &pos, &name, &len));
}

static void rooms_default_flag_and_bad_values(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_rooms(buf, sizeof buf, IPC_ROOMS_DEFAULT, "#大厅", strlen("#大厅"), NULL, 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.flags, IPC_ROOMS_DEFAULT);
	assert_int_equal(m.count, 0);
	assert_int_equal(ipc_encode_rooms(buf, sizeof buf, 0x80, "", 0, NULL, 0), -1);
	buf[1] = 0x02; /* a flag nobody defined */
	assert_decodes(buf, (size_t)n, IPC_BAD_VALUE);
	buf[1] = IPC_ROOMS_DEFAULT;
	assert_decodes(buf, (size_t)n - 1, IPC_SHORT);
}

/* JOIN, PART, REPLY and WHO carry one str, in name (rooms) or text (REPLY). */
static void room_requests_round_trip(void **state)
{
	static const unsigned char join[] = {'j', 0, 4, '#', 'd', 'e', 'v'};
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_request(buf, sizeof buf, IPC_JOIN, "#dev", 4);
	assert_int_equal(n, sizeof join);
	assert_memory_equal(buf, join, sizeof join);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_JOIN);
	assert_memory_equal(m.name, "#dev", m.name_len);
	n = ipc_encode_request(buf, sizeof buf, IPC_PART, NULL, 0);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_PART);
	assert_int_equal(m.name_len, 0);
	n = ipc_encode_request(buf, sizeof buf, IPC_ASK_WHO, "#技术部", strlen("#技术部"));
	decode_ok((size_t)n, &m);
	assert_int_equal(m.name_len, strlen("#技术部"));
	n = ipc_encode_request(buf, sizeof buf, IPC_REPLY, "ok", 2);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_REPLY);
	assert_int_equal(m.text_len, 2);
	assert_memory_equal(m.text, "ok", 2);
}

static void list_rooms_round_trip(void **state)
{
	static const unsigned char bad[] = {'o', 2};
	struct ipc_msg m;

	(void)state;
	assert_int_equal(ipc_encode_list_rooms(buf, sizeof buf, 1), 2);
	decode_ok(2, &m);
	assert_int_equal(m.type, IPC_LIST_ROOMS);
	assert_int_equal(m.all, 1);
	assert_int_equal(ipc_encode_list_rooms(buf, sizeof buf, 0), 2);
	decode_ok(2, &m);
	assert_int_equal(m.all, 0);
	assert_decodes(bad, sizeof bad, IPC_BAD_VALUE);
}

static void tell_round_trip(void **state)
{
	static const unsigned char want[] = {'t', 0, 3, 'b', 'o', 'b', 0, 2, 'h', 'i'};
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_tell(buf, sizeof buf, "bob", 3, "hi", 2);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	decode_ok((size_t)n, &m);
	assert_int_equal(m.type, IPC_TELL);
	assert_memory_equal(m.name, "bob", m.name_len);
	assert_memory_equal(m.text, "hi", m.text_len);
	assert_decodes(want, sizeof want - 1, IPC_SHORT);
	assert_int_equal(ipc_encode_tell(buf, 5, "bob", 3, "hi", 2), -1);
}

/* Anything */

static void decode_empty(void **state)
{
	(void)state;
	assert_decodes(buf, 0, IPC_EMPTY);
}

static void decode_too_long(void **state)
{
	(void)state;
	buf[0] = 'q';
	assert_decodes(buf, IPC_MAX + 1, IPC_TOO_LONG);
}

static void decode_unknown_type(void **state)
{
	static const unsigned char z[] = {'Z', 0, 0};
	static const unsigned char nul[] = {0};

	(void)state;
	assert_decodes(z, sizeof z, IPC_BAD_TYPE);
	assert_decodes(nul, sizeof nul, IPC_BAD_TYPE);
}

static void decode_every_byte_value(void **state)
{
	unsigned char one[1];
	struct ipc_msg m;
	int v;

	(void)state;
	/* A one-byte message is a whole QUIT request, or bad: never a crash. */
	for (v = 0; v < 256; v++) {
		enum ipc_status st;

		one[0] = (unsigned char)v;
		st = ipc_decode(one, 1, &m);
		if (v == IPC_QUIT)
			assert_int_equal(st, IPC_OK);
		else if (v == IPC_LINE || v == IPC_WHO || v == IPC_STATE || v == IPC_EXITED ||
		         v == IPC_SAY || v == IPC_ME || v == IPC_ASK_WHO || v == IPC_ROOMS ||
		         v == IPC_JOIN || v == IPC_PART || v == IPC_LIST_ROOMS || v == IPC_TELL ||
		         v == IPC_REPLY || v == IPC_HISTORY || v == IPC_SEARCH)
			assert_int_equal(st, IPC_SHORT);
		else
			assert_int_equal(st, IPC_BAD_TYPE);
	}
}

/* /history and /search: a str each, and a LINE of history keeps its flag. */
static void history_and_search_round_trip(void **state)
{
	struct ipc_msg m;
	int n;

	(void)state;
	n = ipc_encode_request(buf, sizeof buf, IPC_HISTORY, "20", 2);
	assert_true(n > 0);
	assert_int_equal(ipc_decode(buf, (size_t)n, &m), IPC_OK);
	assert_int_equal(m.type, IPC_HISTORY);
	assert_int_equal(m.text_len, 2);
	assert_memory_equal(m.text, "20", 2);
	n = ipc_encode_request(buf, sizeof buf, IPC_SEARCH, "猫 狗", strlen("猫 狗"));
	assert_true(n > 0);
	assert_int_equal(ipc_decode(buf, (size_t)n, &m), IPC_OK);
	assert_int_equal(m.type, IPC_SEARCH);
	assert_memory_equal(m.text, "猫 狗", strlen("猫 狗"));
	n = line(IPC_LINE_CHAT, IPC_LINE_HISTORY, NULL, IPC_NO_NAME_AT, "[history 18:01] x");
	assert_int_equal(ipc_decode(buf, (size_t)n, &m), IPC_OK);
	assert_int_equal(m.flags, IPC_LINE_HISTORY);
}

static void status_strings(void **state)
{
	(void)state;
	assert_string_equal(ipc_status_str(IPC_OK), "ok");
	assert_string_equal(ipc_status_str(IPC_SHORT), "message cut short");
	assert_string_equal(ipc_status_str((enum ipc_status)99), "unknown status");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(line_round_trip),
	    cmocka_unit_test(line_exact_bytes),
	    cmocka_unit_test(line_without_name),
	    cmocka_unit_test(line_name_outside_text),
	    cmocka_unit_test(line_keeps_raw_bytes),
	    cmocka_unit_test(line_empty_text),
	    cmocka_unit_test(line_encode_refuses_bad_values),
	    cmocka_unit_test(line_encode_too_small),
	    cmocka_unit_test(line_encode_str_too_long),
	    cmocka_unit_test(line_decode_bad_kind),
	    cmocka_unit_test(line_decode_bad_flags),
	    cmocka_unit_test(history_and_search_round_trip),
	    cmocka_unit_test(line_decode_name_at_mismatch),
	    cmocka_unit_test(line_decode_cut_anywhere),
	    cmocka_unit_test(line_decode_trailing),
	    cmocka_unit_test(who_round_trip),
	    cmocka_unit_test(who_empty),
	    cmocka_unit_test(who_total_big_endian),
	    cmocka_unit_test(who_count_must_match),
	    cmocka_unit_test(who_bad_status),
	    cmocka_unit_test(who_thousand_names_fit),
	    cmocka_unit_test(who_next_on_other_type),
	    cmocka_unit_test(state_round_trip),
	    cmocka_unit_test(state_bad_value),
	    cmocka_unit_test(exited_round_trip),
	    cmocka_unit_test(exited_bad_value),
	    cmocka_unit_test(say_round_trip),
	    cmocka_unit_test(me_round_trip),
	    cmocka_unit_test(bare_requests),
	    cmocka_unit_test(request_encode_refusals),
	    cmocka_unit_test(request_trailing),
	    cmocka_unit_test(rooms_round_trip),
	    cmocka_unit_test(rooms_default_flag_and_bad_values),
	    cmocka_unit_test(room_requests_round_trip),
	    cmocka_unit_test(list_rooms_round_trip),
	    cmocka_unit_test(tell_round_trip),
	    cmocka_unit_test(decode_empty),
	    cmocka_unit_test(decode_too_long),
	    cmocka_unit_test(decode_unknown_type),
	    cmocka_unit_test(decode_every_byte_value),
	    cmocka_unit_test(status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
