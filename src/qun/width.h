/* width.h - terminal columns of text (wcwidth), and where libedit puts each character. Pure. */
#ifndef QUN_WIDTH_H
#define QUN_WIDTH_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/*
 * Everything here depends on LC_CTYPE being a UTF-8 locale (qun's main
 * makes sure of it): wcwidth() is what terminals and libedit use to
 * decide that 中 takes two columns and a combining accent none.
 */

/* Columns of code point cp: wcwidth(), with anything it calls unprintable counted as 0. */
int width_cp(uint32_t cp);

/* Columns of UTF-8 text s[0..n); each byte that is not valid UTF-8 counts as one column. */
size_t width_utf8(const char *s, size_t n);

/* A position on the screen, relative to where a line starts: row 0, column 0. */
struct width_pos {
	int row, col;
};

/*
 * Put a character `w` columns wide at *p on a screen `cols` wide, as
 * libedit's refresh does: a wide character that does not fit in what is
 * left of the row goes to the start of the next one, and reaching the
 * right margin moves to the next row at once.  Returns where the
 * character starts; *p becomes the position after it.
 */
struct width_pos width_place(struct width_pos *p, int w, int cols);

/*
 * Lay out an edit line as libedit draws it: the prompt prompt[0..plen),
 * then the buffer s[0..n), on a screen `cols` wide, starting at row 0,
 * column 0.  Tabs go to the next multiple of 8, controls show as ^X and
 * other unprintable characters as \U+XXXX, as libedit shows them.
 * *cursor gets the position of buffer character `cur` (n for the end of
 * the line) and *end the position after the last character, which is
 * where libedit leaves its last row: the line takes end->row + 1 rows.
 */
void width_edit_layout(const wchar_t *prompt, size_t plen, const wchar_t *s, size_t n, size_t cur,
                       int cols, struct width_pos *cursor, struct width_pos *end);

#endif
