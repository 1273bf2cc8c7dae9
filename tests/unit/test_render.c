/* test_render.c - unit tests of src/qun/render.c: how a line of the room reaches the screen, safe.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "qun/render.h"

static char out[8192];
static const struct render_style plain = {0, 0};
static const struct render_style mono = {0, 1};
static const struct render_style colour = {1, 1};

static struct tm at(int h, int m)
{
	struct tm t;

	memset(&t, 0, sizeof t);
	t.tm_hour = h;
	t.tm_min = m;
	t.tm_mday = 1;
	t.tm_year = 126;
	return t;
}

static size_t render(const struct render_style *st, enum ipc_line_kind kind, const char *name,
                     unsigned name_at, const char *text)
{
	struct tm t = at(9, 5);

	return render_line(out, sizeof out, st, &t, kind, 0, name, name ? strlen(name) : 0, name_at,
	                   text, strlen(text));
}

/* No byte of the output is a control except ESC starting one of our SGR sequences "ESC [ digits ;
 * m". */
static void assert_only_our_escapes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p == 0x1B) {
			assert_int_equal(p[1], '[');
			p += 2;
			while ((*p >= '0' && *p <= '9') || *p == ';')
				p++;
			assert_int_equal(*p, 'm');
			continue;
		}
		assert_false(*p < 0x20 || *p == 0x7F);
		/* No C1 control (U+0080..U+009F is C2 80..C2 9F) and no bidi override. */
		if (p[0] == 0xC2)
			assert_false(p[1] >= 0x80 && p[1] <= 0x9F);
		if (p[0] == 0xE2 && p[1] == 0x80)
			assert_false(p[2] >= 0xAA && p[2] <= 0xAE);
		if (p[0] == 0xE2 && p[1] == 0x81)
			assert_false(p[2] >= 0xA6 && p[2] <= 0xA9);
	}
}

/* Plain mode: the room's line as it is */

static void plain_is_the_line_itself(void **state)
{
	(void)state;
	render(&plain, IPC_LINE_CHAT, "alice", 0, "alice 说：你好");
	assert_string_equal(out, "alice 说：你好");
	render(&plain, IPC_LINE_JOIN, "bob", 0, "bob 进入了聊天室");
	assert_string_equal(out, "bob 进入了聊天室");
	render(&plain, IPC_LINE_ERROR, NULL, IPC_NO_NAME_AT, "名字已被占用");
	assert_string_equal(out, "名字已被占用");
}

static void plain_sanitises(void **state)
{
	(void)state;
	render(&plain, IPC_LINE_NOTICE, NULL, IPC_NO_NAME_AT, "x\033[31my\rz");
	assert_string_equal(out, "x^[[31my^Mz");
}

/* Decorations */

static void stamp_and_chat(void **state)
{
	(void)state;
	render(&mono, IPC_LINE_CHAT, "alice", 0, "alice: hi");
	assert_string_equal(out, "[09:05] alice: hi");
}

static void system_lines_marked(void **state)
{
	static const enum ipc_line_kind sys[] = {IPC_LINE_JOIN, IPC_LINE_LEAVE, IPC_LINE_TIMEOUT,
	                                         IPC_LINE_KICK, IPC_LINE_NOTICE};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof sys / sizeof sys[0]; i++) {
		render(&mono, sys[i], "bob", 0, "bob left");
		assert_string_equal(out, "[09:05] -!- bob left");
		assert_true(render_is_system(sys[i]));
	}
	assert_false(render_is_system(IPC_LINE_CHAT));
	assert_false(render_is_system(IPC_LINE_ADMIN));
}

static void errors_marked(void **state)
{
	(void)state;
	render(&mono, IPC_LINE_ERROR, NULL, IPC_NO_NAME_AT, "not sent: too long");
	assert_string_equal(out, "[09:05] !!! not sent: too long");
}

static void no_time_no_stamp(void **state)
{
	(void)state;
	render_line(out, sizeof out, &mono, NULL, IPC_LINE_CHAT, 0, NULL, 0, IPC_NO_NAME_AT, "hi",
	            2);
	assert_string_equal(out, "hi");
}

/* Colour */

static void colour_name_span(void **state)
{
	char want[128];

	(void)state;
	render(&colour, IPC_LINE_CHAT, "alice", 0, "alice: hi");
	snprintf(want, sizeof want, "\033[2m[09:05] \033[0m\033[1m\033[%dmalice\033[0m: hi",
	         (int)(render_name_colour("alice", 5) < 6
	                   ? 31 + render_name_colour("alice", 5)
	                   : 91 + render_name_colour("alice", 5) - 6));
	assert_string_equal(out, want);
	assert_only_our_escapes(out);
}

static void colour_action_name_inside(void **state)
{
	(void)state;
	render(&colour, IPC_LINE_ACTION, "bob", 2, "* bob waves");
	assert_non_null(strstr(out, "* \033[1m\033["));
	assert_non_null(strstr(out, "bob\033[0m waves"));
}

static void colour_system_dimmed_and_closed(void **state)
{
	size_t n;

	(void)state;
	n = render(&colour, IPC_LINE_JOIN, "bob", 0, "bob joined the room");
	assert_non_null(strstr(out, "\033[2m-!- "));
	assert_string_equal(out + n - 4, "\033[0m");
	assert_only_our_escapes(out);
}

static void colour_error_red(void **state)
{
	(void)state;
	render(&colour, IPC_LINE_ERROR, NULL, IPC_NO_NAME_AT, "bad");
	assert_non_null(strstr(out, "\033[31m!!! bad\033[0m"));
}

static void colour_admin_bold(void **state)
{
	(void)state;
	render(&colour, IPC_LINE_ADMIN, NULL, IPC_NO_NAME_AT, "[admin] hello");
	assert_non_null(strstr(out, "\033[1;33m[admin] hello\033[0m"));
}

static void colour_ignores_bad_name_at(void **state)
{
	(void)state;
	render(&colour, IPC_LINE_CHAT, "alice", 40, "alice: hi");
	assert_null(strstr(out, "\033[1m"));
	assert_non_null(strstr(out, "alice: hi"));
}

static void name_colour_stable(void **state)
{
	unsigned c = render_name_colour("alice", 5);

	(void)state;
	assert_true(c < RENDER_PALETTE);
	assert_int_equal(render_name_colour("alice", 5), c);
	assert_int_equal(render_name_colour("Alice", 5), c);
	assert_int_equal(render_name_colour("ＡＬＩＣＥ", strlen("ＡＬＩＣＥ")), c);
	/* Different names are spread over the palette. */
	assert_true(render_name_colour("bob", 3) != c || render_name_colour("carol", 5) != c);
	assert_true(render_name_colour("\xff\xfe", 2) < RENDER_PALETTE);
}

/* Hostile text (THREATS.md S10, S11) */

static void hostile_text_is_visible_escapes(void **state)
{
	static const char hostile[] = "evil \x1b]0;pwned\x07 \x1b[2J \xc2\x9b"
	                              "31m \x9b"
	                              "1m \xe2\x80\xae"
	                              "abc \xff end\r\nnext";
	struct tm t = at(12, 0);

	(void)state;
	render_line(out, sizeof out, &colour, &t, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT,
	            hostile, sizeof hostile - 1);
	assert_only_our_escapes(out);
	assert_non_null(strstr(out, "^[]0;pwned^G"));
	assert_non_null(strstr(out, "^[[2J"));
	assert_non_null(strstr(out, "\\u{009B}31m"));
	assert_non_null(strstr(out, "\\x9B1m"));
	assert_non_null(strstr(out, "\\u{202E}abc"));
	assert_non_null(strstr(out, "\\xFF end^M^Jnext"));
}

static void hostile_name_span(void **state)
{
	static const char text[] = "x\033[2Jy: hi";

	(void)state;
	/* Even a name span that holds controls is only ever shown sanitised. */
	render_line(out, sizeof out, &colour, NULL, IPC_LINE_CHAT, 0, "x\033[2Jy", 6, 0, text,
	            sizeof text - 1);
	assert_only_our_escapes(out);
	assert_non_null(strstr(out, "x^[[2Jy"));
}

/* The SGR sequence that opens name's colour. */
static const char *name_sgr(const char *name)
{
	static char sgr[16];
	unsigned c = render_name_colour(name, strlen(name));

	snprintf(sgr, sizeof sgr, "\033[%um", c < 6 ? 31 + c : 91 + c - 6);
	return sgr;
}

/*
 * What follows a coloured name is as untrusted as the rest: ESC, BEL, a C1
 * CSI, a bidi override, CR, LF and NUL after the name's closing SGR all
 * come out as visible escapes, in chat, action and system lines alike.
 */
static void hostile_text_after_coloured_name(void **state)
{
	static const char chat[] = "alice: \x1b[2J\x07 \xc2\x9b"
	                           "31m \xe2\x80\xae"
	                           "abc\r\n\0end";
	static const char action[] = "* bob waves\x1b]0;pwned\x07\xe2\x80\xae!\n";
	static const char kick[] = "bob was removed by the admin (\x1b[31m\r\0\xc2\x85)";
	char want[256];
	size_t n;

	(void)state;
	n = render_line(out, sizeof out, &colour, NULL, IPC_LINE_CHAT, 0, "alice", 5, 0, chat,
	                sizeof chat - 1);
	snprintf(want, sizeof want,
	         "\033[1m%salice\033[0m: ^[[2J^G \\u{009B}31m \\u{202E}abc^M^J^@end",
	         name_sgr("alice"));
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_only_our_escapes(out);

	n = render_line(out, sizeof out, &colour, NULL, IPC_LINE_ACTION, 0, "bob", 3, 2, action,
	                sizeof action - 1);
	snprintf(want, sizeof want, "* \033[1m%sbob\033[0m waves^[]0;pwned^G\\u{202E}!^J",
	         name_sgr("bob"));
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_only_our_escapes(out);

	n = render_line(out, sizeof out, &colour, NULL, IPC_LINE_KICK, 0, "bob", 3, 0, kick,
	                sizeof kick - 1);
	snprintf(want, sizeof want,
	         "\033[2m-!- \033[1m%sbob\033[0m\033[2m was removed by the admin "
	         "(^[[31m^M^@\\u{0085})\033[0m",
	         name_sgr("bob"));
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_only_our_escapes(out);
}

static void nul_in_text(void **state)
{
	static const char text[] = "a\0b";

	(void)state;
	render_line(out, sizeof out, &mono, NULL, IPC_LINE_NOTICE, 0, NULL, 0, IPC_NO_NAME_AT, text,
	            3);
	assert_string_equal(out, "-!- a^@b");
}

/* Bounds */

static void small_buffer_closes_escapes(void **state)
{
	char small[40];
	size_t n;
	struct tm t = at(1, 2);

	(void)state;
	n = render_line(small, sizeof small, &colour, &t, IPC_LINE_JOIN, 0, "bob", 3, 0,
	                "bob joined the room and a very long tail follows", 48);
	assert_true(n < sizeof small);
	assert_int_equal(strlen(small), n);
	assert_string_equal(small + n - 4, "\033[0m");
	assert_only_our_escapes(small);
}

static void small_buffer_never_cuts_a_character(void **state)
{
	char small[10];
	size_t n;

	(void)state;
	n = render_line(small, sizeof small, &plain, NULL, IPC_LINE_CHAT, 0, NULL, 0,
	                IPC_NO_NAME_AT, "你好你好你好", strlen("你好你好你好"));
	assert_int_equal(n % 3, 0);
	assert_int_equal(strlen(small), n);
}

static void tiny_buffers(void **state)
{
	char one[1], none[1] = {'x'};

	(void)state;
	assert_int_equal(render_line(one, 1, &colour, NULL, IPC_LINE_CHAT, 0, "a", 1, 0, "a: b", 4),
	                 0);
	assert_string_equal(one, "");
	assert_int_equal(
	    render_line(none, 0, &colour, NULL, IPC_LINE_CHAT, 0, NULL, 0, IPC_NO_NAME_AT, "a", 1),
	    0);
	assert_int_equal(none[0], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plain_is_the_line_itself),
	    cmocka_unit_test(plain_sanitises),
	    cmocka_unit_test(stamp_and_chat),
	    cmocka_unit_test(system_lines_marked),
	    cmocka_unit_test(errors_marked),
	    cmocka_unit_test(no_time_no_stamp),
	    cmocka_unit_test(colour_name_span),
	    cmocka_unit_test(colour_action_name_inside),
	    cmocka_unit_test(colour_system_dimmed_and_closed),
	    cmocka_unit_test(colour_error_red),
	    cmocka_unit_test(colour_admin_bold),
	    cmocka_unit_test(colour_ignores_bad_name_at),
	    cmocka_unit_test(name_colour_stable),
	    cmocka_unit_test(hostile_text_is_visible_escapes),
	    cmocka_unit_test(hostile_name_span),
	    cmocka_unit_test(hostile_text_after_coloured_name),
	    cmocka_unit_test(nul_in_text),
	    cmocka_unit_test(small_buffer_closes_escapes),
	    cmocka_unit_test(small_buffer_never_cuts_a_character),
	    cmocka_unit_test(tiny_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
