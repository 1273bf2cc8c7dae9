/* test_width.c - unit tests of src/qun/width.c: column widths and libedit's layout of the edit
 * line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <string.h>
#include <wchar.h>

#include "qun/width.h"

static const wchar_t prompt[] = L"> ";

static int setup_locale(void **state)
{
	(void)state;
	/* wcwidth() knows CJK only in a UTF-8 locale, as qun's main makes sure of. */
	return setlocale(LC_CTYPE, "C.UTF-8") == NULL ? -1 : 0;
}

/* Layout of s after the "> " prompt on a screen cols wide, cursor at cur. */
static void layout(const wchar_t *s, size_t cur, int cols, struct width_pos *c, struct width_pos *e)
{
	width_edit_layout(prompt, wcslen(prompt), s, wcslen(s), cur, cols, c, e);
}

static void assert_pos(struct width_pos p, int row, int col)
{
	assert_int_equal(p.row, row);
	assert_int_equal(p.col, col);
}

/* width_cp and width_utf8 */

static void cp_ascii_is_one(void **state)
{
	(void)state;
	assert_int_equal(width_cp('a'), 1);
	assert_int_equal(width_cp(' '), 1);
	assert_int_equal(width_cp('~'), 1);
}

static void cp_cjk_is_two(void **state)
{
	(void)state;
	assert_int_equal(width_cp(0x4E2D), 2);  /* 中 */
	assert_int_equal(width_cp(0x3000), 2);  /* ideographic space */
	assert_int_equal(width_cp(0xFF21), 2);  /* fullwidth A */
	assert_int_equal(width_cp(0xAC00), 2);  /* 가 */
	assert_int_equal(width_cp(0x1F30F), 2); /* 🌏 */
}

static void cp_combining_is_zero(void **state)
{
	(void)state;
	assert_int_equal(width_cp(0x0301), 0); /* combining acute */
	assert_int_equal(width_cp(0x200B), 0); /* zero width space */
}

static void cp_controls_are_zero(void **state)
{
	(void)state;
	assert_int_equal(width_cp(0x1B), 0);
	assert_int_equal(width_cp(0x9B), 0);
	assert_int_equal(width_cp(0x110000), 0);
}

static void utf8_mixed(void **state)
{
	(void)state;
	assert_int_equal(width_utf8("", 0), 0);
	assert_int_equal(width_utf8("abc", 3), 3);
	assert_int_equal(width_utf8("你好", strlen("你好")), 4);
	assert_int_equal(width_utf8("a中b", strlen("a中b")), 4);
	assert_int_equal(width_utf8("e\xcc\x81", 3), 1); /* e + combining acute */
}

static void utf8_invalid_bytes_count_one(void **state)
{
	(void)state;
	assert_int_equal(width_utf8("\xff\xfe", 2), 2);
	assert_int_equal(width_utf8("\xe4\xb8", 2), 2); /* a cut 中 */
}

/* width_place */

static void place_narrow(void **state)
{
	struct width_pos p = {0, 0}, s;

	(void)state;
	s = width_place(&p, 1, 10);
	assert_pos(s, 0, 0);
	assert_pos(p, 0, 1);
}

static void place_reaching_margin_wraps_at_once(void **state)
{
	struct width_pos p = {0, 9}, s;

	(void)state;
	s = width_place(&p, 1, 10);
	assert_pos(s, 0, 9);
	assert_pos(p, 1, 0);
}

static void place_wide_that_does_not_fit(void **state)
{
	struct width_pos p = {0, 9}, s;

	(void)state;
	/* One column left, the character needs two: it starts the next row. */
	s = width_place(&p, 2, 10);
	assert_pos(s, 1, 0);
	assert_pos(p, 1, 2);
}

static void place_wide_that_just_fits(void **state)
{
	struct width_pos p = {0, 8}, s;

	(void)state;
	s = width_place(&p, 2, 10);
	assert_pos(s, 0, 8);
	assert_pos(p, 1, 0);
}

static void place_zero_width(void **state)
{
	struct width_pos p = {2, 3}, s;

	(void)state;
	s = width_place(&p, 0, 10);
	assert_pos(s, 2, 3);
	assert_pos(p, 2, 3);
}

static void place_bad_cols(void **state)
{
	struct width_pos p = {0, 0};

	(void)state;
	width_place(&p, 1, 0); /* treated as one column, never a division or a loop */
	assert_pos(p, 1, 0);
}

/* width_edit_layout */

static void layout_empty_line(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"", 0, 80, &c, &e);
	assert_pos(c, 0, 2);
	assert_pos(e, 0, 2);
}

static void layout_ascii_cursor_at_end(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"hello", 5, 80, &c, &e);
	assert_pos(c, 0, 7);
	assert_pos(e, 0, 7);
}

static void layout_ascii_cursor_inside(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"hello", 1, 80, &c, &e);
	assert_pos(c, 0, 3);
}

static void layout_cjk(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"你好世界", 2, 80, &c, &e);
	assert_pos(c, 0, 6); /* "> " + 你好 */
	assert_pos(e, 0, 10);
}

static void layout_wraps_rows(void **state)
{
	struct width_pos c, e;

	(void)state;
	/* 2 + 25 = 27 columns on a 10-column screen: rows 0, 1, 2. */
	layout(L"abcdefghijklmnopqrstuvwxy", 25, 10, &c, &e);
	assert_pos(c, 2, 7);
	assert_pos(e, 2, 7);
	layout(L"abcdefghijklmnopqrstuvwxy", 8, 10, &c, &e);
	assert_pos(c, 1, 0);
}

static void layout_exact_fill_moves_to_next_row(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"abcdefgh", 8, 10, &c, &e);
	assert_pos(c, 1, 0);
	assert_pos(e, 1, 0);
}

static void layout_wide_char_at_margin(void **state)
{
	struct width_pos c, e;

	(void)state;
	/* "> abcdefg" is 9 columns; 中 does not fit in the last one. */
	layout(L"abcdefg中x", 7, 10, &c, &e);
	assert_pos(c, 1, 0);
	assert_pos(e, 1, 3);
	layout(L"abcdefg中x", 9, 10, &c, &e);
	assert_pos(c, 1, 3);
}

static void layout_all_wide_on_odd_width(void **state)
{
	struct width_pos c, e;

	(void)state;
	/* 9 columns: "> " then 3 x 中 on row 0 (8 columns), the 4th on row 1. */
	layout(L"中中中中", 3, 9, &c, &e);
	assert_pos(c, 1, 0);
	assert_pos(e, 1, 2);
}

static void layout_control_shown_as_caret(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"a\x01"
	       L"b",
	       3, 80, &c, &e);
	assert_pos(e, 0, 2 + 1 + 2 + 1);
}

static void layout_tab_to_next_stop(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"a\tb", 2, 80, &c, &e);
	assert_pos(c, 0, 8);
	assert_pos(e, 0, 9);
}

static void layout_unprintable_as_code(void **state)
{
	struct width_pos c, e;

	(void)state;
	/* Unassigned U+0378 shows as \U+0378 (7 columns); U+10FFFF as \U+10FFFF (8). */
	layout(L"\x0378", 1, 80, &c, &e);
	assert_pos(e, 0, 2 + 7);
	layout(L"\U0010FFFF", 1, 80, &c, &e);
	assert_pos(e, 0, 2 + 8);
	/* A noncharacter above U+FFFF (a valid name may hold one): 8 columns too. */
	layout(L"\U0001FFFE", 1, 80, &c, &e);
	assert_pos(e, 0, 2 + 8);
}

static void layout_newline_starts_a_row(void **state)
{
	struct width_pos c, e;

	(void)state;
	/* "ab", a literal newline, "c": libedit shows c at the start of the next row. */
	layout(L"ab\ncd", 4, 80, &c, &e);
	assert_pos(c, 1, 1);
	assert_pos(e, 1, 2);
}

static void layout_combining(void **state)
{
	struct width_pos c, e;

	(void)state;
	layout(L"e\x0301x", 2, 80, &c, &e);
	assert_pos(c, 0, 3);
	assert_pos(e, 0, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cp_ascii_is_one),
	    cmocka_unit_test(cp_cjk_is_two),
	    cmocka_unit_test(cp_combining_is_zero),
	    cmocka_unit_test(cp_controls_are_zero),
	    cmocka_unit_test(utf8_mixed),
	    cmocka_unit_test(utf8_invalid_bytes_count_one),
	    cmocka_unit_test(place_narrow),
	    cmocka_unit_test(place_reaching_margin_wraps_at_once),
	    cmocka_unit_test(place_wide_that_does_not_fit),
	    cmocka_unit_test(place_wide_that_just_fits),
	    cmocka_unit_test(place_zero_width),
	    cmocka_unit_test(place_bad_cols),
	    cmocka_unit_test(layout_empty_line),
	    cmocka_unit_test(layout_ascii_cursor_at_end),
	    cmocka_unit_test(layout_ascii_cursor_inside),
	    cmocka_unit_test(layout_cjk),
	    cmocka_unit_test(layout_wraps_rows),
	    cmocka_unit_test(layout_exact_fill_moves_to_next_row),
	    cmocka_unit_test(layout_wide_char_at_margin),
	    cmocka_unit_test(layout_all_wide_on_odd_width),
	    cmocka_unit_test(layout_control_shown_as_caret),
	    cmocka_unit_test(layout_tab_to_next_stop),
	    cmocka_unit_test(layout_unprintable_as_code),
	    cmocka_unit_test(layout_newline_starts_a_row),
	    cmocka_unit_test(layout_combining),
	};

	return cmocka_run_group_tests(tests, setup_locale, NULL);
}
