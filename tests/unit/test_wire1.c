/* test_wire1.c - unit tests of src/proto/wire1.c: parsing v1 requests, formatting events and
 * requests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/text.h"
#include "proto/wire1.h"

/* Helpers */

static enum v1_status parse_n(const char *buf, size_t len, struct v1_request *req)
{
	memset(req, 0xA5, sizeof(*req));
	return v1_parse(buf, len, req);
}

static enum v1_status parse(const char *s, struct v1_request *req)
{
	return parse_n(s, strlen(s), req);
}

static void assert_name(const struct v1_request *req, const char *want, size_t want_len)
{
	assert_int_equal(req->name_len, want_len);
	assert_memory_equal(req->name, want, want_len);
}

static void assert_text(const struct v1_request *req, const char *want, size_t want_len)
{
	assert_non_null(req->text);
	assert_int_equal(req->text_len, want_len);
	assert_memory_equal(req->text, want, want_len);
}

/* Parse s and check it is a request cmd for name with no text. */
static void assert_parses_named(const char *s, enum v1_cmd cmd, const char *name)
{
	struct v1_request req;

	assert_int_equal(parse(s, &req), V1_OK);
	assert_int_equal(req.cmd, cmd);
	assert_name(&req, name, strlen(name));
	assert_null(req.text);
}

static void assert_status(const char *s, enum v1_status want)
{
	struct v1_request req;

	assert_int_equal(parse(s, &req), want);
}

/* Build a datagram: prefix, then fill bytes up to len in total (len < size). */
static size_t fill(char *buf, size_t size, const char *prefix, char fillc, size_t len)
{
	size_t n = strlen(prefix);

	assert_true(len < size && n <= len);
	memcpy(buf, prefix, n);
	memset(buf + n, fillc, len - n);
	buf[len] = '\0';
	return len;
}

static void assert_event(enum lang lang, enum room_event ev, const char *name, const char *text,
                         const char *want)
{
	char buf[1200];
	int n;

	memset(buf, 'Z', sizeof(buf));
	n = v1_format_event(buf, sizeof(buf), lang, ev, name, text, text ? strlen(text) : 0);
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

/* v1_parse: login */

static void parse_login(void **state)
{
	(void)state;
	assert_parses_named("L alice", V1_LOGIN, "alice");
}

static void parse_login_lf(void **state)
{
	(void)state;
	assert_parses_named("L alice\n", V1_LOGIN, "alice");
}

static void parse_login_crlf(void **state)
{
	(void)state;
	assert_parses_named("L alice\r\n", V1_LOGIN, "alice");
}

static void parse_login_padding_stripped(void **state)
{
	(void)state;
	assert_parses_named("L alice   ", V1_LOGIN, "alice");
	assert_parses_named("L alice   \n", V1_LOGIN, "alice");
	assert_parses_named("L alice \r\n", V1_LOGIN, "alice");
}

static void parse_login_name_keeps_space(void **state)
{
	struct v1_request req;

	(void)state;
	/* Never cut to "al": the whole name goes to the name rules, which refuse it. */
	assert_parses_named("L al ice", V1_LOGIN, "al ice");
	assert_int_equal(parse("L al ice", &req), V1_OK);
	assert_int_equal(name_check(req.name, req.name_len), NAME_SPACE);
}

static void parse_login_name_keeps_leading_space(void **state)
{
	(void)state;
	assert_parses_named("L  alice", V1_LOGIN, " alice");
}

static void parse_login_only_one_line_ending(void **state)
{
	(void)state;
	/* One "\n" or "\r\n" is ignored; anything more is part of the name. */
	assert_parses_named("L alice\n\n", V1_LOGIN, "alice\n");
	assert_parses_named("L alice\r", V1_LOGIN, "alice\r");
}

static void parse_login_cjk(void **state)
{
	(void)state;
	assert_parses_named("L 小明\n", V1_LOGIN, "小明");
}

static void parse_login_no_name(void **state)
{
	(void)state;
	assert_status("L", V1_NO_NAME);
	assert_status("L ", V1_NO_NAME);
	assert_status("L     ", V1_NO_NAME);
	assert_status("L\n", V1_NO_NAME);
	assert_status("L \r\n", V1_NO_NAME);
}

static void parse_login_embedded_nul(void **state)
{
	struct v1_request req;

	(void)state;
	/* NUL is valid UTF-8: the parser passes it on and the name rules refuse it. */
	assert_int_equal(parse_n("L al\0ice", 8, &req), V1_OK);
	assert_int_equal(req.cmd, V1_LOGIN);
	assert_name(&req, "al\0ice", 6);
	assert_int_equal(name_check(req.name, req.name_len), NAME_CONTROL);
}

/* v1_parse: chat */

static void parse_chat(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice hello world", &req), V1_OK);
	assert_int_equal(req.cmd, V1_CHAT);
	assert_name(&req, "alice", 5);
	assert_text(&req, "hello world", 11);
}

static void parse_chat_text_keeps_leading_spaces(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice  two leading spaces", &req), V1_OK);
	assert_name(&req, "alice", 5);
	assert_text(&req, " two leading spaces", 19);
}

static void parse_chat_text_keeps_trailing_spaces(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice hi  ", &req), V1_OK);
	assert_text(&req, "hi  ", 4);
}

static void parse_chat_lf(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice hi\n", &req), V1_OK);
	assert_name(&req, "alice", 5);
	assert_text(&req, "hi", 2);
}

static void parse_chat_crlf(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice hi\r\n", &req), V1_OK);
	assert_text(&req, "hi", 2);
}

static void parse_chat_cjk(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C 小明 你好", &req), V1_OK);
	assert_name(&req, "小明", 6);
	assert_text(&req, "你好", 6);
}

static void parse_chat_no_text(void **state)
{
	(void)state;
	assert_status("C alice", V1_NO_TEXT);
}

static void parse_chat_no_text_after_space(void **state)
{
	(void)state;
	assert_status("C alice ", V1_NO_TEXT);
	assert_status("C alice\n", V1_NO_TEXT);
	assert_status("C alice \r\n", V1_NO_TEXT);
}

static void parse_chat_no_name(void **state)
{
	(void)state;
	assert_status("C", V1_NO_NAME);
	assert_status("C ", V1_NO_NAME);
}

static void parse_chat_embedded_nul(void **state)
{
	struct v1_request req;

	(void)state;
	/* Valid UTF-8, so the parser accepts it; the text rules refuse it later. */
	assert_int_equal(parse_n("C alice a\0b", 11, &req), V1_OK);
	assert_int_equal(req.cmd, V1_CHAT);
	assert_name(&req, "alice", 5);
	assert_text(&req, "a\0b", 3);
	assert_int_equal(text_check(req.text, req.text_len), TEXT_CONTROL);
}

static void parse_chat_escape_is_text(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("C alice \x1b[2J", &req), V1_OK);
	assert_text(&req, "\x1b[2J", 4);
	assert_int_equal(text_check(req.text, req.text_len), TEXT_CONTROL);
}

/* v1_parse: quit and ping */

static void parse_quit(void **state)
{
	(void)state;
	assert_parses_named("Q alice", V1_QUIT, "alice");
	assert_parses_named("Q alice  \n", V1_QUIT, "alice");
}

static void parse_quit_no_name(void **state)
{
	(void)state;
	assert_status("Q", V1_NO_NAME);
	assert_status("Q ", V1_NO_NAME);
}

static void parse_ping(void **state)
{
	(void)state;
	assert_parses_named("P alice", V1_PING, "alice");
	assert_parses_named("P alice\r\n", V1_PING, "alice");
}

static void parse_ping_no_name(void **state)
{
	(void)state;
	assert_status("P", V1_NO_NAME);
	assert_status("P \n", V1_NO_NAME);
}

/* v1_parse: empty and unknown */

static void parse_empty(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n("", 0, &req), V1_EMPTY);
}

static void parse_empty_line(void **state)
{
	(void)state;
	assert_status("\n", V1_EMPTY);
	assert_status("\r\n", V1_EMPTY);
}

static void parse_unknown_command(void **state)
{
	(void)state;
	assert_status("X alice", V1_UNKNOWN);
	assert_status("Z", V1_UNKNOWN);
	assert_status("hello", V1_UNKNOWN);
}

static void parse_command_without_space(void **state)
{
	(void)state;
	assert_status("LX", V1_UNKNOWN);
	assert_status("Lalice", V1_UNKNOWN);
	assert_status("Calice hi", V1_UNKNOWN);
}

static void parse_lowercase_command(void **state)
{
	(void)state;
	assert_status("l alice", V1_UNKNOWN);
	assert_status("c alice hi", V1_UNKNOWN);
}

static void parse_leading_space(void **state)
{
	(void)state;
	assert_status(" L alice", V1_UNKNOWN);
}

static void parse_fullwidth_command_letter(void **state)
{
	(void)state;
	assert_status("Ｌ alice", V1_UNKNOWN); /* fullwidth L */
}

/* v1_parse: bad UTF-8 */

static void parse_bad_utf8_in_name(void **state)
{
	(void)state;
	assert_status("L al\xff"
	              "ice",
	              V1_BAD_UTF8);
	assert_status("Q \xc0\x80", V1_BAD_UTF8);
	assert_status("P \xed\xa0\x80", V1_BAD_UTF8);
	assert_status("C \xfe hi", V1_BAD_UTF8);
}

static void parse_bad_utf8_in_text(void **state)
{
	(void)state;
	assert_status("C alice hi \xff", V1_BAD_UTF8);
	assert_status("C alice \xf4\x90\x80\x80", V1_BAD_UTF8);
}

static void parse_bad_utf8_in_padding(void **state)
{
	(void)state;
	assert_status("L alice  \xff  ", V1_BAD_UTF8);
}

static void parse_bad_utf8_before_command(void **state)
{
	(void)state;
	assert_status("\xff"
	              "L alice",
	              V1_BAD_UTF8);
}

static void parse_cut_in_chinese_char(void **state)
{
	/* "C alice 你好" cut inside 好, as a reader that truncates would leave it. */
	const char *s = "C alice 你好";
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n(s, strlen(s) - 1, &req), V1_BAD_UTF8);
	assert_int_equal(parse_n(s, strlen(s) - 2, &req), V1_BAD_UTF8);
	assert_int_equal(parse_n(s, strlen(s) - 3, &req), V1_OK);
}

static void parse_cut_in_chinese_name(void **state)
{
	const char *s = "L 小明";
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n(s, strlen(s) - 1, &req), V1_BAD_UTF8);
}

/* v1_parse: length */

static void parse_1200_bytes_ok(void **state)
{
	char buf[1300];
	size_t n = fill(buf, sizeof(buf), "L alice", ' ', 1200);
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n(buf, n, &req), V1_OK);
	assert_int_equal(req.cmd, V1_LOGIN);
	assert_name(&req, "alice", 5);
}

static void parse_1200_byte_chat_ok(void **state)
{
	char buf[1300];
	size_t n = fill(buf, sizeof(buf), "C alice ", 'x', 1200);
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n(buf, n, &req), V1_OK);
	assert_int_equal(req.text_len, 1192);
	/* Longer than a message may be: the text rules refuse it, not the parser. */
	assert_int_equal(text_check(req.text, req.text_len), TEXT_TOO_LONG);
}

static void parse_1201_bytes_too_long(void **state)
{
	char buf[1300];
	size_t n = fill(buf, sizeof(buf), "L alice", ' ', 1201);
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n(buf, n, &req), V1_TOO_LONG);
	n = fill(buf, sizeof(buf), "C alice ", 'x', 1201);
	assert_int_equal(parse_n(buf, n, &req), V1_TOO_LONG);
}

static void parse_reads_only_len(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse_n("L alicebob", 7, &req), V1_OK);
	assert_name(&req, "alice", 5);
	assert_int_equal(parse_n("C alice hi\xff", 10, &req), V1_OK);
	assert_text(&req, "hi", 2);
}

static void parse_status_strings(void **state)
{
	int i;

	(void)state;
	for (i = V1_OK; i <= V1_NO_TEXT; i++) {
		assert_non_null(v1_status_str((enum v1_status)i));
		assert_true(v1_status_str((enum v1_status)i)[0] != '\0');
	}
}

/* v1_format_event: Chinese */

static void event_join_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_JOIN, "alice", NULL, "alice 进入了聊天室");
}

static void event_say_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_SAY, "alice", "hi", "alice 说：hi");
}

static void event_leave_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_LEAVE, "alice", NULL, "alice 退出了聊天室");
}

static void event_timeout_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_TIMEOUT, "alice", NULL, "alice 退出了聊天室（超时）");
}

static void event_kick_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_KICK, "alice", NULL, "alice 被管理员请出了聊天室");
}

static void event_admin_zh(void **state)
{
	(void)state;
	/* The operator's line, whatever name is passed. */
	assert_event(LANG_ZH, EV_ADMIN, "alice", "x", "管理员 说：x");
	assert_event(LANG_ZH, EV_ADMIN, "", "x", "管理员 说：x");
}

static void event_shutdown_zh(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_SHUTDOWN, "", NULL, "服务器即将关闭");
}

/* v1_format_event: English */

static void event_join_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_JOIN, "alice", NULL, "alice joined the room");
}

static void event_say_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_SAY, "alice", "hi", "alice: hi");
}

static void event_leave_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_LEAVE, "alice", NULL, "alice left the room");
}

static void event_timeout_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_TIMEOUT, "alice", NULL, "alice left the room (timed out)");
}

static void event_kick_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_KICK, "alice", NULL, "alice was removed by the admin");
}

static void event_admin_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_ADMIN, "alice", "x", "[admin] x");
	assert_event(LANG_EN, EV_ADMIN, "", "x", "[admin] x");
}

static void event_shutdown_en(void **state)
{
	(void)state;
	assert_event(LANG_EN, EV_SHUTDOWN, "", NULL, "the server is shutting down");
}

/* v1_format_event: details */

static void event_say_uses_text_len(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_event(buf, sizeof(buf), LANG_EN, EV_SAY, "alice", "hello", 2),
	                 9);
	assert_string_equal(buf, "alice: he");
}

static void event_say_cjk(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_SAY, "小明", "你好", "小明 说：你好");
}

static void event_exact_fit(void **state)
{
	char buf[16];

	(void)state;
	/* "alice: hi" is 9 bytes and its NUL one more. */
	assert_int_equal(v1_format_event(buf, 10, LANG_EN, EV_SAY, "alice", "hi", 2), 9);
	assert_string_equal(buf, "alice: hi");
}

static void event_buffer_too_small(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(v1_format_event(buf, 9, LANG_EN, EV_SAY, "alice", "hi", 2), -1);
	assert_int_equal(v1_format_event(buf, 5, LANG_EN, EV_JOIN, "alice", NULL, 0), -1);
	assert_int_equal(v1_format_event(buf, 10, LANG_ZH, EV_SHUTDOWN, "", NULL, 0), -1);
}

static void event_buffer_zero(void **state)
{
	char buf[4] = "XYZ";

	(void)state;
	assert_int_equal(v1_format_event(buf, 0, LANG_EN, EV_SAY, "alice", "hi", 2), -1);
}

static void event_longest_say(void **state)
{
	/* 32-byte name, 1000-byte text: "NAME 说：TEXT" is 1039 bytes (limits.h). */
	char name[QUN_MAX_NAME + 1], text[QUN_MAX_TEXT], buf[1100];

	(void)state;
	memset(name, 'n', QUN_MAX_NAME);
	name[QUN_MAX_NAME] = '\0';
	memset(text, 't', sizeof(text));
	assert_int_equal(v1_format_event(buf, 1040, LANG_ZH, EV_SAY, name, text, QUN_MAX_TEXT),
	                 1039);
	assert_int_equal(strlen(buf), 1039);
	assert_int_equal(v1_format_event(buf, 1039, LANG_ZH, EV_SAY, name, text, QUN_MAX_TEXT), -1);
}

/* v1_format_request */

static void request_login(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_LOGIN, "alice", NULL, 0), 7);
	assert_memory_equal(buf, "L alice", 7);
}

static void request_chat(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_CHAT, "alice", "hello world", 0),
	                 19);
	assert_memory_equal(buf, "C alice hello world", 19);
}

static void request_quit_and_ping(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_QUIT, "alice", NULL, 0), 7);
	assert_memory_equal(buf, "Q alice", 7);
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_PING, "alice", NULL, 0), 7);
	assert_memory_equal(buf, "P alice", 7);
}

static void request_login_padded(void **state)
{
	char buf[200], want[200];
	struct v1_request req;

	(void)state;
	fill(want, sizeof(want), "L alice", ' ', 100);
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_LOGIN, "alice", NULL, 100), 100);
	assert_memory_equal(buf, want, 100);
	/* The server sees the same name. */
	assert_int_equal(parse_n(buf, 100, &req), V1_OK);
	assert_name(&req, "alice", 5);
}

static void request_quit_padded(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_QUIT, "bob", NULL, 10), 10);
	assert_memory_equal(buf, "Q bob     ", 10);
}

static void request_pad_shorter_than_request(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_LOGIN, "alice", NULL, 3), 7);
	assert_memory_equal(buf, "L alice", 7);
}

static void request_padded_to_max(void **state)
{
	char buf[1300];
	struct v1_request req;

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_LOGIN, "alice", NULL, 1200), 1200);
	assert_int_equal(parse_n(buf, 1200, &req), V1_OK);
	assert_name(&req, "alice", 5);
}

static void request_padded_past_max(void **state)
{
	char buf[1300];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_LOGIN, "alice", NULL, 1201), -1);
}

static void request_chat_at_max(void **state)
{
	char buf[1300], text[1300];

	(void)state;
	/* "C alice " is 8 bytes. */
	memset(text, 'x', 1192);
	text[1192] = '\0';
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_CHAT, "alice", text, 0), 1200);
}

static void request_chat_past_max(void **state)
{
	char buf[1300], text[1300];

	(void)state;
	memset(text, 'x', 1193);
	text[1193] = '\0';
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_CHAT, "alice", text, 0), -1);
}

static void request_buffer_too_small(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, 6, V1_LOGIN, "alice", NULL, 0), -1);
	assert_int_equal(v1_format_request(buf, 0, V1_LOGIN, "alice", NULL, 0), -1);
	assert_int_equal(v1_format_request(buf, 20, V1_LOGIN, "alice", NULL, 50), -1);
	assert_int_equal(v1_format_request(buf, 10, V1_CHAT, "alice", "hello", 0), -1);
}

static void request_round_trip(void **state)
{
	char buf[64];
	struct v1_request req;
	int n;

	(void)state;
	n = v1_format_request(buf, sizeof(buf), V1_CHAT, "小明", " hi ", 0);
	assert_true(n > 0);
	assert_int_equal(parse_n(buf, (size_t)n, &req), V1_OK);
	assert_int_equal(req.cmd, V1_CHAT);
	assert_name(&req, "小明", 6);
	assert_text(&req, " hi ", 4);
}

/* Extensions (docs/PROTOCOL.md, "Extensions"): W, A, and what the client recognises. */

static void parse_who_request(void **state)
{
	(void)state;
	assert_parses_named("W alice", V1_WHO, "alice");
	assert_parses_named("W alice  \n", V1_WHO, "alice");
	assert_status("W", V1_NO_NAME);
	assert_status("W ", V1_NO_NAME);
	assert_status("Walice", V1_UNKNOWN);
	assert_status("w alice", V1_UNKNOWN);
}

/* W's part number: last, after a space, before the padding; 1..64 without a leading zero. */
static void parse_who_part(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("W alice", &req), V1_OK);
	assert_int_equal(req.part, 0);
	assert_int_equal(parse("W alice 3", &req), V1_OK);
	assert_name(&req, "alice", 5);
	assert_int_equal(req.part, 3);
	assert_int_equal(parse("W 小明 64     \n", &req), V1_OK);
	assert_name(&req, "小明", 6);
	assert_int_equal(req.part, 64);
	assert_int_equal(parse("W 12", &req), V1_OK); /* a name of digits, no part */
	assert_name(&req, "12", 2);
	assert_int_equal(req.part, 0);
	assert_int_equal(parse("W al ice 2", &req), V1_OK); /* the name rules refuse "al ice" */
	assert_name(&req, "al ice", 6);
	assert_int_equal(req.part, 2);
	/* Not a part: it stays in the name, which the name rules then refuse. */
	assert_parses_named("W alice 0", V1_WHO, "alice 0");
	assert_parses_named("W alice 03", V1_WHO, "alice 03");
	assert_parses_named("W alice 65", V1_WHO, "alice 65");
	assert_parses_named("W alice 100", V1_WHO, "alice 100");
	assert_parses_named("W alice x2", V1_WHO, "alice x2");
	assert_parses_named("L alice 2", V1_LOGIN, "alice 2"); /* W only */
	assert_status("W  2", V1_NO_NAME);
}

/* One part alone, in a budget: the same names as v1_format_who's part, less what passes it. */
static void who_one_part_in_a_budget(void **state)
{
	static const char *names[80];
	static const char name31[] = "abcdefghijklmnopqrstuvwxyz01234";
	char buf[QUN_MAX_DATAGRAM + 1], whole[QUN_MAX_DATAGRAM + 1];
	size_t next = 0;
	int i, n;

	(void)state;
	for (i = 0; i < 80; i++)
		names[i] = name31;
	assert_int_equal(v1_who_parts(names, 80), 3);
	assert_true(v1_format_who(whole, sizeof(whole), 1, 3, 80, names, 80, &next) > 0);
	assert_true(v1_format_who(whole, sizeof(whole), 2, 3, 80, names, 80, &next) > 0);
	n = v1_format_who_part(buf, sizeof(buf), QUN_MAX_DATAGRAM, 2, 80, names, 80);
	assert_int_equal(n, (int)strlen(whole));
	assert_string_equal(buf, whole);
	/* 3 x "W a 2": the header and one name of 31 bytes (12 + 32 = 44 > 27: none). */
	assert_int_equal(v1_format_who_part(buf, sizeof(buf), 27, 2, 80, names, 80), 10);
	assert_string_equal(buf, "WHO 2/3 80");
	n = v1_format_who_part(buf, sizeof(buf), (size_t)60, 1, 80, names, 80);
	assert_true(n > 0 && n <= 60);
	assert_string_equal(buf, "WHO 1/3 80 abcdefghijklmnopqrstuvwxyz01234");
	assert_int_equal(v1_format_who_part(buf, sizeof(buf), 9, 1, 80, names, 80), -1);
	assert_int_equal(v1_format_who_part(buf, sizeof(buf), 1200, 0, 80, names, 80), -1);
	assert_int_equal(v1_format_who_part(buf, sizeof(buf), 1200, 4, 80, names, 80), -1);
	assert_int_equal(v1_format_who_part(buf, 100, 1200, 1, 80, names, 80), -1);
	assert_int_equal(v1_format_who_part(buf, sizeof(buf), 9, 1, 0, NULL, 0), 9);
	assert_string_equal(buf, "WHO 1/1 0");
}

/* W's part formats and parses back; it is padded like L. */
static void format_who_request(void **state)
{
	char buf[QUN_MAX_DATAGRAM + 1];
	struct v1_request req;
	int n;

	(void)state;
	n = v1_format_request(buf, sizeof(buf), V1_WHO, "alice", "7", QUN_MAX_DATAGRAM);
	assert_int_equal(n, QUN_MAX_DATAGRAM);
	assert_int_equal(parse_n(buf, (size_t)n, &req), V1_OK);
	assert_name(&req, "alice", 5);
	assert_int_equal(req.part, 7);
}

static void parse_action_request(void **state)
{
	struct v1_request req;

	(void)state;
	assert_int_equal(parse("A alice waves at 小明", &req), V1_OK);
	assert_int_equal(req.cmd, V1_ACTION);
	assert_name(&req, "alice", 5);
	assert_text(&req, "waves at 小明", strlen("waves at 小明"));
	assert_status("A alice", V1_NO_TEXT);
	assert_status("A alice ", V1_NO_TEXT);
	assert_status("A", V1_NO_NAME);
	assert_status("A  waves", V1_NO_NAME);
}

static void request_action(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_ACTION, "bob", "waves", 0), 11);
	assert_string_equal(buf, "A bob waves");
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_ACTION, "bob", NULL, 0), -1);
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_ACTION, "bob", "x", 20), -1);
	assert_int_equal(v1_format_request(buf, sizeof(buf), V1_WHO, "bob", NULL, 0), 5);
	assert_string_equal(buf, "W bob");
}

static void event_action_both_languages(void **state)
{
	(void)state;
	assert_event(LANG_ZH, EV_ACTION, "小明", "挥手", "* 小明 挥手");
	assert_event(LANG_EN, EV_ACTION, "alice", "waves", "* alice waves");
}

/* Parse line s; check its event, name (NULL for none) and text (NULL for none). */
static void assert_line(const char *s, enum room_event ev, const char *name, const char *text)
{
	struct v1_line l;

	assert_int_equal(v1_parse_event(s, strlen(s), &l), 0);
	assert_int_equal(l.ev, ev);
	if (name == NULL) {
		assert_null(l.name);
	} else {
		assert_int_equal(l.name_len, strlen(name));
		assert_memory_equal(l.name, name, l.name_len);
		assert_ptr_equal(l.name, s + l.name_at);
	}
	if (text == NULL) {
		assert_null(l.text);
	} else {
		assert_int_equal(l.text_len, strlen(text));
		assert_memory_equal(l.text, text, l.text_len);
	}
}

static void assert_not_line(const char *s)
{
	struct v1_line l;

	assert_int_equal(v1_parse_event(s, strlen(s), &l), -1);
}

static void line_kick_with_reason(void **state)
{
	(void)state;
	assert_line("alice 被管理员请出了聊天室（刷屏）", EV_KICK, "alice", "刷屏");
	assert_line("alice was removed by the admin (spam)", EV_KICK, "alice", "spam");
	assert_not_line("alice 被管理员请出了聊天室（）");
	assert_not_line("alice was removed by the admin (spam");
	assert_not_line("alice was removed by the admin spam");
}

static void line_every_event_chinese(void **state)
{
	(void)state;
	assert_line("alice 进入了聊天室", EV_JOIN, "alice", NULL);
	assert_line("alice 说：你好 世界", EV_SAY, "alice", "你好 世界");
	assert_line("alice 退出了聊天室", EV_LEAVE, "alice", NULL);
	assert_line("alice 退出了聊天室（超时）", EV_TIMEOUT, "alice", NULL);
	assert_line("alice 被管理员请出了聊天室", EV_KICK, "alice", NULL);
	assert_line("管理员 说：18:00 重启", EV_ADMIN, NULL, "18:00 重启");
	assert_line("服务器即将关闭", EV_SHUTDOWN, NULL, NULL);
}

static void line_every_event_english(void **state)
{
	(void)state;
	assert_line("bob joined the room", EV_JOIN, "bob", NULL);
	assert_line("bob: hi there", EV_SAY, "bob", "hi there");
	assert_line("bob left the room", EV_LEAVE, "bob", NULL);
	assert_line("bob left the room (timed out)", EV_TIMEOUT, "bob", NULL);
	assert_line("bob was removed by the admin", EV_KICK, "bob", NULL);
	assert_line("[admin] hello all", EV_ADMIN, NULL, "hello all");
	assert_line("the server is shutting down", EV_SHUTDOWN, NULL, NULL);
}

static void line_language_reported(void **state)
{
	struct v1_line l;

	(void)state;
	assert_int_equal(v1_parse_event("a 说：x", strlen("a 说：x"), &l), 0);
	assert_int_equal(l.lang, LANG_ZH);
	assert_int_equal(v1_parse_event("a: x", 4, &l), 0);
	assert_int_equal(l.lang, LANG_EN);
	assert_int_equal(v1_parse_event("* a x", 5, &l), 0);
	assert_int_equal(l.lang, -1);
}

static void line_action(void **state)
{
	(void)state;
	assert_line("* alice waves at bob", EV_ACTION, "alice", "waves at bob");
	assert_line("* 小明 挥手", EV_ACTION, "小明", "挥手");
	assert_not_line("* alice");
	assert_not_line("* alice ");
	assert_not_line("* ");
}

static void line_round_trips_format(void **state)
{
	static const enum room_event evs[] = {EV_JOIN, EV_SAY,   EV_LEAVE,    EV_TIMEOUT,
	                                      EV_KICK, EV_ADMIN, EV_SHUTDOWN, EV_ACTION};
	char buf[1200];
	struct v1_line l;
	size_t i;
	int lang, n;

	(void)state;
	for (lang = LANG_ZH; lang <= LANG_EN; lang++) {
		for (i = 0; i < sizeof evs / sizeof evs[0]; i++) {
			n = v1_format_event(buf, sizeof(buf), (enum lang)lang, evs[i], "小明",
			                    "说 something: 你好", strlen("说 something: 你好"));
			assert_true(n > 0);
			assert_int_equal(v1_parse_event(buf, (size_t)n, &l), 0);
			assert_int_equal(l.ev, evs[i]);
		}
	}
}

static void line_chat_wins_when_ambiguous(void **state)
{
	(void)state;
	/* "a" saying "joined the room", or a member "a:" joining: chat, never a notice. */
	assert_line("a: joined the room", EV_SAY, "a", "joined the room");
	/* A chat text that looks like an event stays the chat of its sender. */
	assert_line("bob 说：carol 进入了聊天室", EV_SAY, "bob", "carol 进入了聊天室");
	assert_line("bob: * carol waves", EV_SAY, "bob", "* carol waves");
}

static void line_not_an_event(void **state)
{
	(void)state;
	assert_not_line("");
	assert_not_line("OK");
	assert_not_line("EXIT");
	assert_not_line("ERR");
	assert_not_line("名字已被占用");
	assert_not_line("WHO 1/1 2 alice bob");
	assert_not_line("hello");
	assert_not_line("alice 说：");               /* no text */
	assert_not_line("管理员 说：");              /* no text */
	assert_not_line("alice 进入了聊天室吗");     /* not the exact phrase */
	assert_not_line(" 进入了聊天室");            /* no name */
	assert_not_line("admin 说：hi");             /* a reserved name */
	assert_not_line("al\033[2Jice 说：hi");      /* a control in the name */
	assert_not_line("alice\xe2\x80\xae 说：hi"); /* a bidi override in the name */
	assert_not_line("abcdefghijklmnopqrstuvwxyz0123456 说：hi"); /* 33 bytes */
}

static void line_invalid_utf8(void **state)
{
	struct v1_line l;

	(void)state;
	assert_int_equal(v1_parse_event("alice 说：\xff", strlen("alice 说：\xff"), &l), -1);
	assert_int_equal(v1_parse_event("a\0 说：x", 9, &l), -1);
}

static void refusals_recognised(void **state)
{
	(void)state;
	assert_true(v1_is_refusal("ERR", 3));
	assert_true(v1_is_refusal("名字已被占用", strlen("名字已被占用")));
	assert_true(v1_is_refusal("name already taken", strlen("name already taken")));
	assert_true(v1_is_refusal("该名字已保留", strlen("该名字已保留")));
	assert_true(v1_is_refusal("message must not contain control characters",
	                          strlen("message must not contain control characters")));
	assert_true(v1_is_refusal("datagram too long (at most 1200 bytes)",
	                          strlen("datagram too long (at most 1200 bytes)")));
	assert_false(v1_is_refusal("OK", 2));
	assert_false(v1_is_refusal("alice 说：名字已被占用", strlen("alice 说：名字已被占用")));
	assert_false(v1_is_refusal("", 0));
}

/* WHO answers */

static void who_one_part(void **state)
{
	static const char *const names[] = {"alice", "小明", "bob"};
	char buf[1300];
	size_t next = 0;
	int n;

	(void)state;
	assert_int_equal(v1_who_parts(names, 3), 1);
	n = v1_format_who(buf, sizeof(buf), 1, 1, 3, names, 3, &next);
	assert_int_equal(n, (int)strlen("WHO 1/1 3 alice 小明 bob"));
	assert_string_equal(buf, "WHO 1/1 3 alice 小明 bob");
	assert_int_equal(next, 3);
}

static void who_empty_list(void **state)
{
	char buf[64];
	size_t next = 0;

	(void)state;
	assert_int_equal(v1_who_parts(NULL, 0), 1);
	assert_int_equal(v1_format_who(buf, sizeof(buf), 1, 1, 0, NULL, 0, &next), 9);
	assert_string_equal(buf, "WHO 1/1 0");
}

static void who_many_parts_each_fits(void **state)
{
	static const char *names[V1_WHO_MAX_NAMES];
	static const char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
	char buf[1300];
	struct v1_who w;
	size_t next = 0, seen = 0;
	unsigned parts, part;
	int i, n;

	(void)state;
	for (i = 0; i < V1_WHO_MAX_NAMES; i++)
		names[i] = name32;
	parts = v1_who_parts(names, V1_WHO_MAX_NAMES);
	assert_true(parts > 1 && parts <= V1_WHO_MAX_PARTS);
	for (part = 1; part <= parts; part++) {
		n = v1_format_who(buf, sizeof(buf), part, parts, 999999, names, V1_WHO_MAX_NAMES,
		                  &next);
		assert_true(n > 0 && n <= QUN_MAX_DATAGRAM);
		assert_int_equal(v1_parse_who(buf, (size_t)n, &w), 0);
		assert_int_equal(w.part, part);
		assert_int_equal(w.parts, parts);
		assert_int_equal(w.total, 999999);
		seen += (w.names_len + 1) / 33;
	}
	assert_int_equal(next, V1_WHO_MAX_NAMES);
	assert_int_equal(seen, V1_WHO_MAX_NAMES);
}

static void who_names_past_max_not_listed(void **state)
{
	static const char *names[V1_WHO_MAX_NAMES + 10];
	int i;

	(void)state;
	for (i = 0; i < V1_WHO_MAX_NAMES + 10; i++)
		names[i] = "x";
	/* 1024 one-letter names fit in two parts; the 10 past the limit change nothing. */
	assert_int_equal(v1_who_parts(names, V1_WHO_MAX_NAMES + 10),
	                 v1_who_parts(names, V1_WHO_MAX_NAMES));
}

static void who_format_refusals(void **state)
{
	static const char *const names[] = {"alice"};
	char buf[1300];
	size_t next = 0;

	(void)state;
	assert_int_equal(v1_format_who(buf, sizeof(buf), 0, 1, 1, names, 1, &next), -1);
	assert_int_equal(v1_format_who(buf, sizeof(buf), 2, 1, 1, names, 1, &next), -1);
	assert_int_equal(v1_format_who(buf, sizeof(buf), 1, 65, 1, names, 1, &next), -1);
	assert_int_equal(v1_format_who(buf, 12, 1, 1, 1, names, 1, &next), -1);
	assert_int_equal(v1_format_who(buf, 0, 1, 1, 1, names, 1, &next), -1);
}

static void who_parse(void **state)
{
	struct v1_who w;
	const char *s = "WHO 2/3 41 alice bob";

	(void)state;
	assert_int_equal(v1_parse_who(s, strlen(s), &w), 0);
	assert_int_equal(w.part, 2);
	assert_int_equal(w.parts, 3);
	assert_int_equal(w.total, 41);
	assert_int_equal(w.names_len, 9);
	assert_memory_equal(w.names, "alice bob", 9);
	assert_int_equal(v1_parse_who("WHO 1/1 0", 9, &w), 0);
	assert_int_equal(w.names_len, 0);
}

static void who_parse_refusals(void **state)
{
	static const char *const bad[] = {
	    "WHO",
	    "WHO ",
	    "WHO 1",
	    "WHO 1/",
	    "WHO 1/1",
	    "WHO 1/1 ",
	    "WHO 0/1 2",
	    "WHO 2/1 2",
	    "WHO 1/65 2",
	    "WHO 1/1 x",
	    "WHO 1/1 2x",
	    "WHO a/1 2",
	    "WHO 1/1 1234567890 a",
	    "WHO  1/1 2",
	    "who 1/1 2",
	    "WHOM 1/1 2",
	    "WHO 1/1 2alice",
	};
	struct v1_who w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(v1_parse_who(bad[i], strlen(bad[i]), &w), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_login),
	    cmocka_unit_test(parse_login_lf),
	    cmocka_unit_test(parse_login_crlf),
	    cmocka_unit_test(parse_login_padding_stripped),
	    cmocka_unit_test(parse_login_name_keeps_space),
	    cmocka_unit_test(parse_login_name_keeps_leading_space),
	    cmocka_unit_test(parse_login_only_one_line_ending),
	    cmocka_unit_test(parse_login_cjk),
	    cmocka_unit_test(parse_login_no_name),
	    cmocka_unit_test(parse_login_embedded_nul),
	    cmocka_unit_test(parse_chat),
	    cmocka_unit_test(parse_chat_text_keeps_leading_spaces),
	    cmocka_unit_test(parse_chat_text_keeps_trailing_spaces),
	    cmocka_unit_test(parse_chat_lf),
	    cmocka_unit_test(parse_chat_crlf),
	    cmocka_unit_test(parse_chat_cjk),
	    cmocka_unit_test(parse_chat_no_text),
	    cmocka_unit_test(parse_chat_no_text_after_space),
	    cmocka_unit_test(parse_chat_no_name),
	    cmocka_unit_test(parse_chat_embedded_nul),
	    cmocka_unit_test(parse_chat_escape_is_text),
	    cmocka_unit_test(parse_quit),
	    cmocka_unit_test(parse_quit_no_name),
	    cmocka_unit_test(parse_ping),
	    cmocka_unit_test(parse_ping_no_name),
	    cmocka_unit_test(parse_empty),
	    cmocka_unit_test(parse_empty_line),
	    cmocka_unit_test(parse_unknown_command),
	    cmocka_unit_test(parse_command_without_space),
	    cmocka_unit_test(parse_lowercase_command),
	    cmocka_unit_test(parse_leading_space),
	    cmocka_unit_test(parse_fullwidth_command_letter),
	    cmocka_unit_test(parse_bad_utf8_in_name),
	    cmocka_unit_test(parse_bad_utf8_in_text),
	    cmocka_unit_test(parse_bad_utf8_in_padding),
	    cmocka_unit_test(parse_bad_utf8_before_command),
	    cmocka_unit_test(parse_cut_in_chinese_char),
	    cmocka_unit_test(parse_cut_in_chinese_name),
	    cmocka_unit_test(parse_1200_bytes_ok),
	    cmocka_unit_test(parse_1200_byte_chat_ok),
	    cmocka_unit_test(parse_1201_bytes_too_long),
	    cmocka_unit_test(parse_reads_only_len),
	    cmocka_unit_test(parse_status_strings),
	    cmocka_unit_test(event_join_zh),
	    cmocka_unit_test(event_say_zh),
	    cmocka_unit_test(event_leave_zh),
	    cmocka_unit_test(event_timeout_zh),
	    cmocka_unit_test(event_kick_zh),
	    cmocka_unit_test(line_kick_with_reason),
	    cmocka_unit_test(event_admin_zh),
	    cmocka_unit_test(event_shutdown_zh),
	    cmocka_unit_test(event_join_en),
	    cmocka_unit_test(event_say_en),
	    cmocka_unit_test(event_leave_en),
	    cmocka_unit_test(event_timeout_en),
	    cmocka_unit_test(event_kick_en),
	    cmocka_unit_test(event_admin_en),
	    cmocka_unit_test(event_shutdown_en),
	    cmocka_unit_test(event_say_uses_text_len),
	    cmocka_unit_test(event_say_cjk),
	    cmocka_unit_test(event_exact_fit),
	    cmocka_unit_test(event_buffer_too_small),
	    cmocka_unit_test(event_buffer_zero),
	    cmocka_unit_test(event_longest_say),
	    cmocka_unit_test(request_login),
	    cmocka_unit_test(request_chat),
	    cmocka_unit_test(request_quit_and_ping),
	    cmocka_unit_test(request_login_padded),
	    cmocka_unit_test(request_quit_padded),
	    cmocka_unit_test(request_pad_shorter_than_request),
	    cmocka_unit_test(request_padded_to_max),
	    cmocka_unit_test(request_padded_past_max),
	    cmocka_unit_test(request_chat_at_max),
	    cmocka_unit_test(request_chat_past_max),
	    cmocka_unit_test(request_buffer_too_small),
	    cmocka_unit_test(request_round_trip),
	    cmocka_unit_test(parse_who_request),
	    cmocka_unit_test(parse_who_part),
	    cmocka_unit_test(who_one_part_in_a_budget),
	    cmocka_unit_test(format_who_request),
	    cmocka_unit_test(parse_action_request),
	    cmocka_unit_test(request_action),
	    cmocka_unit_test(event_action_both_languages),
	    cmocka_unit_test(line_every_event_chinese),
	    cmocka_unit_test(line_every_event_english),
	    cmocka_unit_test(line_language_reported),
	    cmocka_unit_test(line_action),
	    cmocka_unit_test(line_round_trips_format),
	    cmocka_unit_test(line_chat_wins_when_ambiguous),
	    cmocka_unit_test(line_not_an_event),
	    cmocka_unit_test(line_invalid_utf8),
	    cmocka_unit_test(refusals_recognised),
	    cmocka_unit_test(who_one_part),
	    cmocka_unit_test(who_empty_list),
	    cmocka_unit_test(who_many_parts_each_fits),
	    cmocka_unit_test(who_names_past_max_not_listed),
	    cmocka_unit_test(who_format_refusals),
	    cmocka_unit_test(who_parse),
	    cmocka_unit_test(who_parse_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
