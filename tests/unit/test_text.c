/* test_text.c - unit tests of src/common/text.c: UTF-8 decoding, name and text rules, sanitising.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/i18n.h"
#include "common/text.h"

/*
 * Helpers.  Byte strings are written with hex escapes; a literal is split
 * ("\xff" "ice") wherever a hex escape is followed by a hex digit.
 */

static size_t decode(const char *s, size_t n, uint32_t *cp)
{
	*cp = 0xDEADBEEF;
	return utf8_decode(s, n, cp);
}

static void assert_decodes(const char *s, size_t n, uint32_t want)
{
	uint32_t cp;

	assert_int_equal(decode(s, n, &cp), n);
	assert_int_equal(cp, want);
}

static void assert_rejects(const char *s, size_t n)
{
	uint32_t cp;

	assert_int_equal(decode(s, n, &cp), 0);
	assert_int_equal(utf8_valid(s, n), 0);
}

static enum name_status name(const char *s)
{
	return name_check(s, strlen(s));
}

static enum text_status text(const char *s)
{
	return text_check(s, strlen(s));
}

/* Fill buf with n copies of the string unit (all of it) and return the total length. */
static size_t repeat(char *buf, const char *unit, size_t n)
{
	size_t len = strlen(unit), i;

	for (i = 0; i < n; i++)
		memcpy(buf + i * len, unit, len);
	buf[n * len] = '\0';
	return n * len;
}

/* Sanitise s[0..n) into a buffer of outsz bytes, check the return and the result. */
static void assert_sanitizes(const char *s, size_t n, size_t outsz, const char *want)
{
	char out[256];
	size_t got;

	assert_true(outsz < sizeof(out));
	memset(out, 'Z', sizeof(out));
	got = text_sanitize(s, n, out, outsz);
	assert_string_equal(out, want);
	assert_int_equal(got, strlen(want));
	/* Nothing is written past outsz. */
	assert_int_equal(out[outsz], 'Z');
}

/* utf8_decode: valid sequences */

static void utf8_decode_ascii(void **state)
{
	(void)state;
	assert_decodes("A", 1, 0x41);
	assert_decodes("\x7f", 1, 0x7F);
}

static void utf8_decode_nul(void **state)
{
	(void)state;
	assert_decodes("\0", 1, 0);
}

static void utf8_decode_two_bytes(void **state)
{
	(void)state;
	assert_decodes("\xc3\xa9", 2, 0xE9);  /* é */
	assert_decodes("\xc2\x80", 2, 0x80);  /* smallest 2-byte */
	assert_decodes("\xdf\xbf", 2, 0x7FF); /* largest 2-byte */
}

static void utf8_decode_three_bytes(void **state)
{
	(void)state;
	assert_decodes("\xe4\xb8\xad", 3, 0x4E2D); /* 中 */
	assert_decodes("\xe0\xa0\x80", 3, 0x800);  /* smallest 3-byte */
	assert_decodes("\xed\x9f\xbf", 3, 0xD7FF); /* just below the surrogates */
	assert_decodes("\xee\x80\x80", 3, 0xE000); /* just above the surrogates */
	assert_decodes("\xef\xbf\xbf", 3, 0xFFFF); /* largest 3-byte */
}

static void utf8_decode_four_bytes(void **state)
{
	(void)state;
	assert_decodes("\xf0\x9f\x98\x80", 4, 0x1F600);  /* 😀 */
	assert_decodes("\xf0\x90\x80\x80", 4, 0x10000);  /* smallest 4-byte */
	assert_decodes("\xf4\x8f\xbf\xbf", 4, 0x10FFFF); /* largest code point */
}

static void utf8_decode_reads_one_sequence(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(decode("\xe4\xb8\xad"
	                        "abc",
	                        6, &cp),
	                 3);
	assert_int_equal(cp, 0x4E2D);
	assert_int_equal(decode("ab", 2, &cp), 1);
	assert_int_equal(cp, 'a');
}

static void utf8_decode_empty(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(decode("A", 0, &cp), 0);
}

/* utf8_decode / utf8_valid: invalid sequences */

static void utf8_overlong_two_bytes(void **state)
{
	(void)state;
	assert_rejects("\xc0\x80", 2); /* NUL */
	assert_rejects("\xc0\xaf", 2); /* '/' */
	assert_rejects("\xc1\xbf", 2); /* U+007F */
}

static void utf8_overlong_three_bytes(void **state)
{
	(void)state;
	assert_rejects("\xe0\x80\x80", 3);
	assert_rejects("\xe0\x9f\xbf", 3); /* U+07FF */
}

static void utf8_overlong_four_bytes(void **state)
{
	(void)state;
	assert_rejects("\xf0\x80\x80\x80", 4);
	assert_rejects("\xf0\x8f\xbf\xbf", 4); /* U+FFFF */
}

static void utf8_surrogates(void **state)
{
	(void)state;
	assert_rejects("\xed\xa0\x80", 3);             /* U+D800 */
	assert_rejects("\xed\xbf\xbf", 3);             /* U+DFFF */
	assert_rejects("\xed\xa0\xbd\xed\xb8\x80", 6); /* CESU-8 pair */
}

static void utf8_above_max(void **state)
{
	(void)state;
	assert_rejects("\xf4\x90\x80\x80", 4); /* U+110000 */
	assert_rejects("\xf5\x80\x80\x80", 4);
	assert_rejects("\xf7\xbf\xbf\xbf", 4);
}

static void utf8_stray_continuation(void **state)
{
	(void)state;
	assert_rejects("\x80", 1);
	assert_rejects("\xbf", 1);
	assert_rejects("\xb8\xad", 2); /* 中 without its lead byte */
}

static void utf8_cut_short(void **state)
{
	(void)state;
	assert_rejects("\xc3", 1);
	assert_rejects("\xe4\xb8", 2);
	assert_rejects("\xe4", 1);
	assert_rejects("\xf0\x9f\x98", 3);
	/* n cuts a sequence that continues in memory. */
	assert_rejects("\xe4\xb8\xad", 2);
}

static void utf8_bad_continuation(void **state)
{
	(void)state;
	assert_rejects("\xc3"
	               "A",
	               2);
	assert_rejects("\xe4"
	               "AA",
	               3);
	assert_rejects("\xe4\xb8"
	               "A",
	               3);
	assert_rejects("\xc3\xc3", 2);
	assert_rejects("\xf0\x9f\x98"
	               "A",
	               4);
}

static void utf8_fe_ff(void **state)
{
	(void)state;
	assert_rejects("\xfe", 1);
	assert_rejects("\xff", 1);
	assert_rejects("\xfe\xff", 2);
	/* Old 5- and 6-byte forms. */
	assert_rejects("\xf8\x88\x80\x80\x80", 5);
	assert_rejects("\xfc\x84\x80\x80\x80\x80", 6);
}

static void utf8_valid_empty(void **state)
{
	(void)state;
	assert_int_equal(utf8_valid("", 0), 1);
}

static void utf8_valid_mixed(void **state)
{
	const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z";

	(void)state;
	assert_int_equal(utf8_valid(s, strlen(s)), 1);
	assert_int_equal(utf8_valid("a\0b", 3), 1);
}

static void utf8_valid_bad_in_middle(void **state)
{
	(void)state;
	assert_int_equal(utf8_valid("abc\xff"
	                            "def",
	                            7),
	                 0);
	assert_int_equal(utf8_valid("ab\xc0\x80"
	                            "cd",
	                            6),
	                 0);
	assert_int_equal(utf8_valid("ab\xed\xa0\x80"
	                            "cd",
	                            7),
	                 0);
}

static void utf8_valid_cut_at_end(void **state)
{
	(void)state;
	assert_int_equal(utf8_valid("ab\xe4\xb8", 4), 0);
	/* Only n bytes are looked at. */
	assert_int_equal(utf8_valid("ab\xe4\xb8\xad", 4), 0);
	assert_int_equal(utf8_valid("ab\xe4\xb8\xad"
	                            "\xff",
	                            5),
	                 1);
}

/* Code point classes */

static void cp_control(void **state)
{
	(void)state;
	assert_true(cp_is_control(0x00));
	assert_true(cp_is_control(0x09));
	assert_true(cp_is_control(0x0A));
	assert_true(cp_is_control(0x0D));
	assert_true(cp_is_control(0x1B));
	assert_true(cp_is_control(0x1F));
	assert_true(cp_is_control(0x7F));
	assert_true(cp_is_control(0x80));
	assert_true(cp_is_control(0x85));
	assert_true(cp_is_control(0x9B));
	assert_true(cp_is_control(0x9F));
}

static void cp_not_control(void **state)
{
	(void)state;
	assert_false(cp_is_control(0x20));
	assert_false(cp_is_control('A'));
	assert_false(cp_is_control(0x7E));
	assert_false(cp_is_control(0xA0));
	assert_false(cp_is_control(0x4E2D));
	assert_false(cp_is_control(0x200D));
}

static void cp_bidi(void **state)
{
	uint32_t cp;

	(void)state;
	assert_true(cp_is_bidi(0x200E));
	assert_true(cp_is_bidi(0x200F));
	assert_true(cp_is_bidi(0x061C));
	for (cp = 0x202A; cp <= 0x202E; cp++)
		assert_true(cp_is_bidi(cp));
	for (cp = 0x2066; cp <= 0x2069; cp++)
		assert_true(cp_is_bidi(cp));
}

static void cp_not_bidi(void **state)
{
	(void)state;
	assert_false(cp_is_bidi('A'));
	assert_false(cp_is_bidi(0x200D));
	assert_false(cp_is_bidi(0x2029));
	assert_false(cp_is_bidi(0x202F));
	assert_false(cp_is_bidi(0x2065));
	assert_false(cp_is_bidi(0x206A));
	assert_false(cp_is_bidi(0x4E2D));
}

static void cp_space(void **state)
{
	uint32_t cp;

	(void)state;
	assert_true(cp_is_space(0x20));
	assert_true(cp_is_space(0xA0));
	assert_true(cp_is_space(0x1680));
	for (cp = 0x2000; cp <= 0x200A; cp++)
		assert_true(cp_is_space(cp));
	assert_true(cp_is_space(0x202F));
	assert_true(cp_is_space(0x205F));
	assert_true(cp_is_space(0x3000));
}

static void cp_not_space(void **state)
{
	(void)state;
	assert_false(cp_is_space('A'));
	assert_false(cp_is_space('_'));
	assert_false(cp_is_space(0x200B)); /* zero-width space is a format character */
	assert_false(cp_is_space(0x4E2D));
	assert_false(cp_is_space(0xFF3F));
}

static void cp_invisible(void **state)
{
	uint32_t cp;

	(void)state;
	assert_true(cp_is_invisible(0xAD));
	assert_true(cp_is_invisible(0x180E));
	for (cp = 0x200B; cp <= 0x200D; cp++)
		assert_true(cp_is_invisible(cp));
	for (cp = 0x2060; cp <= 0x2064; cp++)
		assert_true(cp_is_invisible(cp));
	assert_true(cp_is_invisible(0xFEFF));
}

static void cp_not_invisible(void **state)
{
	(void)state;
	assert_false(cp_is_invisible('A'));
	assert_false(cp_is_invisible(0x20));
	assert_false(cp_is_invisible(0x4E2D));
	assert_false(cp_is_invisible(0x1F600));
}

/* name_check */

static void name_ok_ascii(void **state)
{
	(void)state;
	assert_int_equal(name("alice"), NAME_OK);
	assert_int_equal(name("a"), NAME_OK);
	assert_int_equal(name("Bob_42-x.y"), NAME_OK);
}

static void name_ok_cjk(void **state)
{
	(void)state;
	assert_int_equal(name("小明"), NAME_OK);
}

static void name_empty(void **state)
{
	(void)state;
	assert_int_equal(name_check("", 0), NAME_EMPTY);
	assert_int_equal(name_check("alice", 0), NAME_EMPTY);
}

static void name_32_bytes_ok(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(repeat(buf, "a", 32), 32);
	assert_int_equal(name(buf), NAME_OK);
}

static void name_33_bytes_too_long(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(repeat(buf, "a", 33), 33);
	assert_int_equal(name(buf), NAME_TOO_LONG);
}

static void name_10_cjk_ok(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(repeat(buf, "中", 10), 30);
	assert_int_equal(name(buf), NAME_OK);
}

static void name_11_cjk_too_long(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(repeat(buf, "中", 11), 33);
	assert_int_equal(name(buf), NAME_TOO_LONG);
}

static void name_bad_utf8(void **state)
{
	(void)state;
	assert_int_equal(name("al\xff"
	                      "ice"),
	                 NAME_BAD_UTF8);
	assert_int_equal(name("\xc0\x80"), NAME_BAD_UTF8);
	assert_int_equal(name("\xed\xa0\x80"), NAME_BAD_UTF8);
	assert_int_equal(name("ab\xe4\xb8"), NAME_BAD_UTF8);
}

static void name_ascii_space(void **state)
{
	(void)state;
	assert_int_equal(name("al ice"), NAME_SPACE);
	assert_int_equal(name(" alice"), NAME_SPACE);
	assert_int_equal(name("alice "), NAME_SPACE);
}

static void name_ideographic_space(void **state)
{
	(void)state;
	assert_int_equal(name("al\xe3\x80\x80ice"), NAME_SPACE); /* U+3000 */
}

static void name_nbsp(void **state)
{
	(void)state;
	assert_int_equal(name("al\xc2\xa0ice"), NAME_SPACE); /* U+00A0 */
}

static void name_other_unicode_spaces(void **state)
{
	(void)state;
	assert_int_equal(name("al\xe2\x80\x80ice"), NAME_SPACE); /* U+2000 */
	assert_int_equal(name("al\xe2\x80\x83ice"), NAME_SPACE); /* U+2003 em space */
	assert_int_equal(name("al\xe2\x80\x8a"
	                      "ice"),
	                 NAME_SPACE); /* U+200A */
}

static void name_tab(void **state)
{
	(void)state;
	assert_int_equal(name("al\tice"), NAME_CONTROL);
}

static void name_esc(void **state)
{
	(void)state;
	assert_int_equal(name("al\x1b[31mice"), NAME_CONTROL);
}

static void name_nul(void **state)
{
	(void)state;
	assert_int_equal(name_check("al\0ice", 6), NAME_CONTROL);
}

static void name_cr_lf(void **state)
{
	(void)state;
	assert_int_equal(name("alice\n"), NAME_CONTROL);
	assert_int_equal(name("alice\r"), NAME_CONTROL);
}

static void name_del(void **state)
{
	(void)state;
	assert_int_equal(name("al\x7f"
	                      "ice"),
	                 NAME_CONTROL);
}

static void name_c1(void **state)
{
	(void)state;
	assert_int_equal(name("al\xc2\x85ice"), NAME_CONTROL); /* U+0085 NEL */
	assert_int_equal(name("al\xc2\x9b"
	                      "ice"),
	                 NAME_CONTROL); /* U+009B CSI */
}

static void name_bidi_override(void **state)
{
	(void)state;
	assert_int_equal(name("al\xe2\x80\xae"
	                      "ice"),
	                 NAME_CONTROL); /* U+202E */
	assert_int_equal(name("al\xe2\x81\xa6"
	                      "ice"),
	                 NAME_CONTROL); /* U+2066 */
	assert_int_equal(name("al\xe2\x80\x8f"
	                      "ice"),
	                 NAME_CONTROL); /* U+200F */
}

static void name_zero_width_space(void **state)
{
	(void)state;
	assert_int_equal(name("al\xe2\x80\x8bice"), NAME_CONTROL); /* U+200B */
}

static void name_zero_width_joiner(void **state)
{
	(void)state;
	assert_int_equal(name("al\xe2\x80\x8dice"), NAME_CONTROL); /* U+200D */
}

static void name_soft_hyphen_and_bom(void **state)
{
	(void)state;
	assert_int_equal(name("al\xc2\xad"
	                      "ice"),
	                 NAME_CONTROL); /* U+00AD */
	assert_int_equal(name("\xef\xbb\xbf"
	                      "alice"),
	                 NAME_CONTROL); /* U+FEFF */
}

static void name_reserved_chinese(void **state)
{
	(void)state;
	assert_int_equal(name("管理员"), NAME_RESERVED);
	assert_int_equal(name("管理"), NAME_RESERVED);
	assert_int_equal(name("系统"), NAME_RESERVED);
	assert_int_equal(name("服务器"), NAME_RESERVED);
}

static void name_reserved_admin(void **state)
{
	(void)state;
	assert_int_equal(name("admin"), NAME_RESERVED);
}

static void name_reserved_admin_upper(void **state)
{
	(void)state;
	assert_int_equal(name("ADMIN"), NAME_RESERVED);
	assert_int_equal(name("Admin"), NAME_RESERVED);
}

static void name_reserved_admin_fullwidth(void **state)
{
	(void)state;
	assert_int_equal(name("ａｄｍｉｎ"), NAME_RESERVED);
	assert_int_equal(name("ＡＤＭＩＮ"), NAME_RESERVED);
}

static void name_reserved_server(void **state)
{
	(void)state;
	assert_int_equal(name("server"), NAME_RESERVED);
	assert_int_equal(name("Server"), NAME_RESERVED);
}

static void name_reserved_others(void **state)
{
	(void)state;
	assert_int_equal(name("administrator"), NAME_RESERVED);
	assert_int_equal(name("root"), NAME_RESERVED);
	assert_int_equal(name("system"), NAME_RESERVED);
	assert_int_equal(name("operator"), NAME_RESERVED);
	assert_int_equal(name("sysop"), NAME_RESERVED);
	assert_int_equal(name("qund"), NAME_RESERVED);
	assert_int_equal(name("ROOT"), NAME_RESERVED);
}

static void name_reserved_asterisk(void **state)
{
	(void)state;
	/* "*" starts an action line ("* NAME TEXT"): no member may be called that. */
	assert_int_equal(name("*"), NAME_RESERVED);
	assert_int_equal(name("＊"), NAME_RESERVED); /* fullwidth asterisk */
	assert_int_equal(name("**"), NAME_OK);
	assert_int_equal(name("*bob"), NAME_OK);
}

static void name_not_reserved_lookalike_prefix(void **state)
{
	(void)state;
	/* Only the whole normalised name is compared with the reserved list. */
	assert_int_equal(name("adminx"), NAME_OK);
	assert_int_equal(name("rooty"), NAME_OK);
}

/* name_normalize */

static void normalize_lowercases_ascii(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(name_normalize("Alice", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
	assert_int_equal(name_normalize("ALICE", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
	assert_int_equal(name_normalize("alice", 5, out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
}

static void normalize_fullwidth(void **state)
{
	/* 5 characters of 3 bytes each */
	const char *s = "Ａｌｉｃｅ";
	char out[64];

	(void)state;
	assert_int_equal(name_normalize(s, strlen(s), out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
}

static void normalize_fullwidth_range_ends(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(name_normalize("！", 3, out, sizeof(out)), 1); /* U+FF01 */
	assert_string_equal(out, "!");
	assert_int_equal(name_normalize("～", 3, out, sizeof(out)), 1); /* U+FF5E */
	assert_string_equal(out, "~");
	/* U+FF5F is past the fullwidth ASCII block: unchanged. */
	assert_int_equal(name_normalize("｟", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "｟");
}

static void normalize_cjk_unchanged(void **state)
{
	const char *s = "小明";
	char out[64];

	(void)state;
	assert_int_equal(name_normalize(s, strlen(s), out, sizeof(out)), 6);
	assert_string_equal(out, s);
}

static void normalize_non_ascii_letters_unchanged(void **state)
{
	char out[64];

	(void)state;
	/* Only ASCII letters are folded: É stays É. */
	assert_int_equal(name_normalize("\xc3\x89mile", 6, out, sizeof(out)), 6);
	assert_string_equal(out, "\xc3\x89mile");
}

static void normalize_mixed(void **state)
{
	const char *s = "Bob中Ｘ";
	char out[64];

	(void)state;
	assert_int_equal(name_normalize(s, strlen(s), out, sizeof(out)), 7);
	assert_string_equal(out, "bob中x");
}

static void normalize_invalid_utf8(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(name_normalize("al\xff"
	                                "ice",
	                                6, out, sizeof(out)),
	                 -1);
	assert_int_equal(name_normalize("\xc0\x80", 2, out, sizeof(out)), -1);
	assert_int_equal(name_normalize("ab\xe4\xb8", 4, out, sizeof(out)), -1);
}

static void normalize_out_too_small(void **state)
{
	char out[64];

	(void)state;
	/* "alice" needs 6 bytes with its NUL. */
	assert_int_equal(name_normalize("Alice", 5, out, 5), -1);
	assert_int_equal(name_normalize("Alice", 5, out, 1), -1);
	assert_int_equal(name_normalize("Alice", 5, out, 0), -1);
}

static void normalize_out_exact(void **state)
{
	const char *fw = "Ａｌｉｃｅ";
	char out[64];

	(void)state;
	assert_int_equal(name_normalize("Alice", 5, out, 6), 5);
	assert_string_equal(out, "alice");
	/* The output of a fullwidth name is shorter than its input. */
	assert_int_equal(name_normalize(fw, strlen(fw), out, 6), 5);
	assert_string_equal(out, "alice");
}

/* text_check */

static void text_ok(void **state)
{
	(void)state;
	assert_int_equal(text("hello, world"), TEXT_OK);
	assert_int_equal(text("你好"), TEXT_OK);
	assert_int_equal(text("  leading and trailing  "), TEXT_OK); /* spaces are fine */
	assert_int_equal(text("a\xe3\x80\x80"
	                      "b"),
	                 TEXT_OK); /* U+3000 too */
	assert_int_equal(text("back\\slash"), TEXT_OK);
}

static void text_empty(void **state)
{
	(void)state;
	assert_int_equal(text_check("", 0), TEXT_EMPTY);
}

static void text_1000_bytes_ok(void **state)
{
	char buf[1100];

	(void)state;
	assert_int_equal(repeat(buf, "a", 1000), 1000);
	assert_int_equal(text_check(buf, 1000), TEXT_OK);
}

static void text_1001_bytes_too_long(void **state)
{
	char buf[1100];

	(void)state;
	assert_int_equal(repeat(buf, "a", 1001), 1001);
	assert_int_equal(text_check(buf, 1001), TEXT_TOO_LONG);
}

static void text_cjk_ending_at_limit_ok(void **state)
{
	char buf[1100];

	(void)state;
	repeat(buf, "a", 997);
	memcpy(buf + 997, "中", 3);
	assert_int_equal(text_check(buf, 1000), TEXT_OK);
}

static void text_cjk_cut_at_limit(void **state)
{
	char buf[1100];

	(void)state;
	/* 998 bytes, then 中 cut after two of its three bytes: 1000 bytes. */
	repeat(buf, "a", 998);
	memcpy(buf + 998, "\xe4\xb8\xad", 3);
	assert_int_equal(text_check(buf, 1000), TEXT_BAD_UTF8);
}

static void text_cjk_across_limit_too_long(void **state)
{
	char buf[1100];

	(void)state;
	/* 999 bytes, then a whole 中: valid UTF-8, 1002 bytes. */
	repeat(buf, "a", 999);
	memcpy(buf + 999, "\xe4\xb8\xad", 3);
	assert_int_equal(text_check(buf, 1002), TEXT_TOO_LONG);
}

static void text_cr(void **state)
{
	(void)state;
	assert_int_equal(text("line\rover"), TEXT_CONTROL);
}

static void text_lf(void **state)
{
	(void)state;
	assert_int_equal(text("line\nnext"), TEXT_CONTROL);
	assert_int_equal(text("trailing\n"), TEXT_CONTROL);
}

static void text_nul(void **state)
{
	(void)state;
	assert_int_equal(text_check("a\0b", 3), TEXT_CONTROL);
}

static void text_esc(void **state)
{
	(void)state;
	assert_int_equal(text("\x1b[2J"), TEXT_CONTROL);
}

static void text_tab(void **state)
{
	(void)state;
	assert_int_equal(text("a\tb"), TEXT_CONTROL);
}

static void text_del(void **state)
{
	(void)state;
	assert_int_equal(text("a\x7f"
	                      "b"),
	                 TEXT_CONTROL);
}

static void text_c1_nel(void **state)
{
	(void)state;
	assert_int_equal(text("a\xc2\x85"
	                      "b"),
	                 TEXT_CONTROL); /* U+0085 */
}

static void text_c1_csi(void **state)
{
	(void)state;
	assert_int_equal(text("a\xc2\x9b"
	                      "31m"),
	                 TEXT_CONTROL); /* U+009B */
}

static void text_bidi_override(void **state)
{
	(void)state;
	assert_int_equal(text("abc\xe2\x80\xae"
	                      "fed"),
	                 TEXT_CONTROL); /* U+202E */
}

static void text_bidi_isolate(void **state)
{
	(void)state;
	assert_int_equal(text("abc\xe2\x81\xa6"
	                      "def"),
	                 TEXT_CONTROL); /* U+2066 */
}

static void text_zwj_allowed(void **state)
{
	(void)state;
	/* 👨‍👩 : man, ZWJ, woman */
	assert_int_equal(text("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"), TEXT_OK);
}

static void text_invalid_utf8(void **state)
{
	(void)state;
	assert_int_equal(text("hi \xff"), TEXT_BAD_UTF8);
	assert_int_equal(text("\xc0\x80"), TEXT_BAD_UTF8);
	assert_int_equal(text("\xed\xa0\x80"), TEXT_BAD_UTF8);
	assert_int_equal(text("\xf4\x90\x80\x80"), TEXT_BAD_UTF8);
}

/* text_sanitize */

static void sanitize_plain(void **state)
{
	(void)state;
	assert_sanitizes("hello", 5, 64, "hello");
}

static void sanitize_empty(void **state)
{
	(void)state;
	assert_sanitizes("", 0, 64, "");
}

static void sanitize_esc(void **state)
{
	(void)state;
	assert_sanitizes("\x1b[31mred", 8, 64, "^[[31mred");
}

static void sanitize_bel(void **state)
{
	(void)state;
	assert_sanitizes("a\x07"
	                 "b",
	                 3, 64, "a^Gb");
}

static void sanitize_del(void **state)
{
	(void)state;
	assert_sanitizes("a\x7f"
	                 "b",
	                 3, 64, "a^?b");
}

static void sanitize_other_c0(void **state)
{
	(void)state;
	assert_sanitizes("a\0b", 3, 64, "a^@b");
	assert_sanitizes("a\nb", 3, 64, "a^Jb");
	assert_sanitizes("a\rb", 3, 64, "a^Mb");
	assert_sanitizes("a\tb", 3, 64, "a^Ib");
	assert_sanitizes("\x1f", 1, 64, "^_");
}

static void sanitize_c1_csi(void **state)
{
	(void)state;
	assert_sanitizes("a\xc2\x9b"
	                 "31m",
	                 6, 64, "a\\u{009B}31m");
}

static void sanitize_bidi(void **state)
{
	(void)state;
	assert_sanitizes("abc\xe2\x80\xae"
	                 "fed",
	                 9, 64, "abc\\u{202E}fed");
	assert_sanitizes("\xe2\x81\xa6", 3, 64, "\\u{2066}");
}

static void sanitize_invisible(void **state)
{
	(void)state;
	assert_sanitizes("a\xe2\x80\x8b"
	                 "b",
	                 5, 64, "a\\u{200B}b");
	assert_sanitizes("\xef\xbb\xbf"
	                 "x",
	                 4, 64, "\\u{FEFF}x");
}

static void sanitize_invalid_byte(void **state)
{
	(void)state;
	assert_sanitizes("a\xff"
	                 "b",
	                 3, 64, "a\\xFFb");
}

static void sanitize_invalid_each_byte(void **state)
{
	(void)state;
	/* A cut 中 and an overlong NUL: every byte of invalid UTF-8 is escaped. */
	assert_sanitizes("a\xe4\xb8", 3, 64, "a\\xE4\\xB8");
	assert_sanitizes("\xc0\x80", 2, 64, "\\xC0\\x80");
	assert_sanitizes("\xed\xa0\x80", 3, 64, "\\xED\\xA0\\x80");
}

static void sanitize_cjk_passes(void **state)
{
	(void)state;
	assert_sanitizes("你好", 6, 64, "你好");
	assert_sanitizes("😀", 4, 64, "😀");
}

static void sanitize_backslash_as_is(void **state)
{
	(void)state;
	assert_sanitizes("a\\xFFb", 6, 64, "a\\xFFb");
}

static void sanitize_reads_only_n(void **state)
{
	(void)state;
	assert_sanitizes("abc\x1b", 3, 64, "abc");
}

static void sanitize_outsz_zero(void **state)
{
	char out[4] = "XYZ";

	(void)state;
	assert_int_equal(text_sanitize("hello", 5, out, 0), 0);
	assert_string_equal(out, "XYZ");
}

static void sanitize_outsz_one(void **state)
{
	(void)state;
	assert_sanitizes("hello", 5, 1, "");
}

static void sanitize_truncates_ascii(void **state)
{
	(void)state;
	assert_sanitizes("hello", 5, 4, "hel");
	assert_sanitizes("hello", 5, 6, "hello");
}

static void sanitize_never_splits_char(void **state)
{
	(void)state;
	/* "a中": 中 needs 3 bytes and the NUL one more. */
	assert_sanitizes("a\xe4\xb8\xad", 4, 4, "a");
	assert_sanitizes("a\xe4\xb8\xad", 4, 5, "a\xe4\xb8\xad");
}

static void sanitize_never_splits_caret(void **state)
{
	(void)state;
	assert_sanitizes("ab\x1b", 3, 4, "ab");
	assert_sanitizes("ab\x1b", 3, 5, "ab^[");
}

static void sanitize_never_splits_hex_escape(void **state)
{
	(void)state;
	assert_sanitizes("\xff", 1, 4, "");
	assert_sanitizes("\xff", 1, 5, "\\xFF");
}

static void sanitize_never_splits_unicode_escape(void **state)
{
	(void)state;
	/* "\u{202E}" is 8 bytes. */
	assert_sanitizes("\xe2\x80\xae", 3, 8, "");
	assert_sanitizes("\xe2\x80\xae", 3, 9, "\\u{202E}");
}

static void sanitize_stops_at_first_misfit(void **state)
{
	(void)state;
	/* The copy stops: a shorter character after one that did not fit is not copied. */
	assert_sanitizes("\xe4\xb8\xad"
	                 "a",
	                 4, 3, "");
	assert_sanitizes("x\xff"
	                 "a",
	                 3, 5, "x");
}

/* Status strings */

static void status_strings(void **state)
{
	int i;

	(void)state;
	for (i = NAME_OK; i <= NAME_LOOKALIKE; i++) {
		assert_non_null(name_status_str((enum name_status)i));
		assert_true(name_status_str((enum name_status)i)[0] != '\0');
	}
	for (i = TEXT_OK; i <= TEXT_CONTROL; i++) {
		assert_non_null(text_status_str((enum text_status)i));
		assert_true(text_status_str((enum text_status)i)[0] != '\0');
	}
}

static void sanitize_keeps_emoji_glue(void **state)
{
	(void)state;
	/* Heart with VS16, and man-ZWJ-girl: printable as they are. */
	assert_sanitizes("\xe2\x9d\xa4\xef\xb8\x8f", 6, 64, "\xe2\x9d\xa4\xef\xb8\x8f");
	assert_sanitizes("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa7", 11, 64,
	                 "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa7");
}

static void name_invisible_suffixes_refused(void **state)
{
	static const char *const names[] = {
	    "\xe7\xae\xa1\xe7\x90\x86\xe5\x91\x98\xef\xb8\x8f",     /* 管理员 + VS16 */
	    "\xe7\xae\xa1\xe7\x90\x86\xe5\x91\x98\xcd\x8f",         /* + CGJ U+034F */
	    "\xe7\xae\xa1\xe7\x90\x86\xe5\x91\x98\xe3\x85\xa4",     /* + Hangul filler */
	    "\xe7\xae\xa1\xe7\x90\x86\xe5\x91\x98\xf3\xa0\x81\x81", /* + tag A */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_int_equal(name_check(names[i], strlen(names[i])), NAME_CONTROL);
}

static void name_starting_with_bracket_reserved(void **state)
{
	(void)state;
	assert_int_equal(name_check("[admin]", 7), NAME_RESERVED);
	assert_int_equal(name_check("[x", 2), NAME_RESERVED);
	/* Fullwidth ［ normalises to [. */
	assert_int_equal(name_check("\xef\xbc\xbbx", 4), NAME_RESERVED);
	assert_int_equal(name_check("x[", 2), NAME_OK);
}

/* name_reserved: the list confusable.c keys, each refused by name_check, then NULL. */
static void name_reserved_lists_them_all(void **state)
{
	size_t i;

	(void)state;
	assert_string_equal(name_reserved(0), "管理员");
	for (i = 0; name_reserved(i) != NULL; i++)
		assert_int_equal(name_check(name_reserved(i), strlen(name_reserved(i))),
		                 NAME_RESERVED);
	assert_int_equal(i, 16);
	assert_null(name_reserved(i + 1));
	assert_null(name_reserved((size_t)-1));
}

/*
 * The look-alike reason, in both languages, reaches the lesson's client
 * whole for "L аlice" (8 bytes, 24 allowed: docs/PROTOCOL.md, "No
 * amplification"); English fits an L of 5, Chinese one of 6.
 */
static void lookalike_reason_is_short(void **state)
{
	const char *zh = qerr_text(LANG_ZH, QERR_NAME_INVALID, NAME_LOOKALIKE);
	const char *en = qerr_text(LANG_EN, QERR_NAME_INVALID, NAME_LOOKALIKE);

	(void)state;
	assert_string_equal(zh, "名字形似他人");
	assert_string_equal(en, "look-alike name");
	assert_true(strlen(zh) <= 3 * 6);
	assert_true(strlen(en) <= 3 * 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sanitize_keeps_emoji_glue),
	    cmocka_unit_test(name_invisible_suffixes_refused),
	    cmocka_unit_test(name_starting_with_bracket_reserved),
	    cmocka_unit_test(utf8_decode_ascii),
	    cmocka_unit_test(utf8_decode_nul),
	    cmocka_unit_test(utf8_decode_two_bytes),
	    cmocka_unit_test(utf8_decode_three_bytes),
	    cmocka_unit_test(utf8_decode_four_bytes),
	    cmocka_unit_test(utf8_decode_reads_one_sequence),
	    cmocka_unit_test(utf8_decode_empty),
	    cmocka_unit_test(utf8_overlong_two_bytes),
	    cmocka_unit_test(utf8_overlong_three_bytes),
	    cmocka_unit_test(utf8_overlong_four_bytes),
	    cmocka_unit_test(utf8_surrogates),
	    cmocka_unit_test(utf8_above_max),
	    cmocka_unit_test(utf8_stray_continuation),
	    cmocka_unit_test(utf8_cut_short),
	    cmocka_unit_test(utf8_bad_continuation),
	    cmocka_unit_test(utf8_fe_ff),
	    cmocka_unit_test(utf8_valid_empty),
	    cmocka_unit_test(utf8_valid_mixed),
	    cmocka_unit_test(utf8_valid_bad_in_middle),
	    cmocka_unit_test(utf8_valid_cut_at_end),
	    cmocka_unit_test(cp_control),
	    cmocka_unit_test(cp_not_control),
	    cmocka_unit_test(cp_bidi),
	    cmocka_unit_test(cp_not_bidi),
	    cmocka_unit_test(cp_space),
	    cmocka_unit_test(cp_not_space),
	    cmocka_unit_test(cp_invisible),
	    cmocka_unit_test(cp_not_invisible),
	    cmocka_unit_test(name_ok_ascii),
	    cmocka_unit_test(name_ok_cjk),
	    cmocka_unit_test(name_empty),
	    cmocka_unit_test(name_32_bytes_ok),
	    cmocka_unit_test(name_33_bytes_too_long),
	    cmocka_unit_test(name_10_cjk_ok),
	    cmocka_unit_test(name_11_cjk_too_long),
	    cmocka_unit_test(name_bad_utf8),
	    cmocka_unit_test(name_ascii_space),
	    cmocka_unit_test(name_ideographic_space),
	    cmocka_unit_test(name_nbsp),
	    cmocka_unit_test(name_other_unicode_spaces),
	    cmocka_unit_test(name_tab),
	    cmocka_unit_test(name_esc),
	    cmocka_unit_test(name_nul),
	    cmocka_unit_test(name_cr_lf),
	    cmocka_unit_test(name_del),
	    cmocka_unit_test(name_c1),
	    cmocka_unit_test(name_bidi_override),
	    cmocka_unit_test(name_zero_width_space),
	    cmocka_unit_test(name_zero_width_joiner),
	    cmocka_unit_test(name_soft_hyphen_and_bom),
	    cmocka_unit_test(name_reserved_chinese),
	    cmocka_unit_test(name_reserved_admin),
	    cmocka_unit_test(name_reserved_admin_upper),
	    cmocka_unit_test(name_reserved_admin_fullwidth),
	    cmocka_unit_test(name_reserved_server),
	    cmocka_unit_test(name_reserved_others),
	    cmocka_unit_test(name_reserved_asterisk),
	    cmocka_unit_test(name_not_reserved_lookalike_prefix),
	    cmocka_unit_test(normalize_lowercases_ascii),
	    cmocka_unit_test(normalize_fullwidth),
	    cmocka_unit_test(normalize_fullwidth_range_ends),
	    cmocka_unit_test(normalize_cjk_unchanged),
	    cmocka_unit_test(normalize_non_ascii_letters_unchanged),
	    cmocka_unit_test(normalize_mixed),
	    cmocka_unit_test(normalize_invalid_utf8),
	    cmocka_unit_test(normalize_out_too_small),
	    cmocka_unit_test(normalize_out_exact),
	    cmocka_unit_test(text_ok),
	    cmocka_unit_test(text_empty),
	    cmocka_unit_test(text_1000_bytes_ok),
	    cmocka_unit_test(text_1001_bytes_too_long),
	    cmocka_unit_test(text_cjk_ending_at_limit_ok),
	    cmocka_unit_test(text_cjk_cut_at_limit),
	    cmocka_unit_test(text_cjk_across_limit_too_long),
	    cmocka_unit_test(text_cr),
	    cmocka_unit_test(text_lf),
	    cmocka_unit_test(text_nul),
	    cmocka_unit_test(text_esc),
	    cmocka_unit_test(text_tab),
	    cmocka_unit_test(text_del),
	    cmocka_unit_test(text_c1_nel),
	    cmocka_unit_test(text_c1_csi),
	    cmocka_unit_test(text_bidi_override),
	    cmocka_unit_test(text_bidi_isolate),
	    cmocka_unit_test(text_zwj_allowed),
	    cmocka_unit_test(text_invalid_utf8),
	    cmocka_unit_test(sanitize_plain),
	    cmocka_unit_test(sanitize_empty),
	    cmocka_unit_test(sanitize_esc),
	    cmocka_unit_test(sanitize_bel),
	    cmocka_unit_test(sanitize_del),
	    cmocka_unit_test(sanitize_other_c0),
	    cmocka_unit_test(sanitize_c1_csi),
	    cmocka_unit_test(sanitize_bidi),
	    cmocka_unit_test(sanitize_invisible),
	    cmocka_unit_test(sanitize_invalid_byte),
	    cmocka_unit_test(sanitize_invalid_each_byte),
	    cmocka_unit_test(sanitize_cjk_passes),
	    cmocka_unit_test(sanitize_backslash_as_is),
	    cmocka_unit_test(sanitize_reads_only_n),
	    cmocka_unit_test(sanitize_outsz_zero),
	    cmocka_unit_test(sanitize_outsz_one),
	    cmocka_unit_test(sanitize_truncates_ascii),
	    cmocka_unit_test(sanitize_never_splits_char),
	    cmocka_unit_test(sanitize_never_splits_caret),
	    cmocka_unit_test(sanitize_never_splits_hex_escape),
	    cmocka_unit_test(sanitize_never_splits_unicode_escape),
	    cmocka_unit_test(sanitize_stops_at_first_misfit),
	    cmocka_unit_test(status_strings),
	    cmocka_unit_test(name_reserved_lists_them_all),
	    cmocka_unit_test(lookalike_reason_is_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
