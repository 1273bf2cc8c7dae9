/* width.c - terminal column widths with wcwidth(), and libedit's layout of its edit line. Pure. */
#include "width.h"

#include <wctype.h>

#include "common/text.h"

int width_cp(uint32_t cp)
{
	int w;

	if (cp > 0x10FFFF)
		return 0;
	w = wcwidth((wchar_t)cp);
	return w < 0 ? 0 : w;
}

size_t width_utf8(const char *s, size_t n)
{
	size_t i = 0, k, cols = 0;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0) {
			cols++;
			k = 1;
		} else {
			cols += (size_t)width_cp(cp);
		}
		i += k;
	}
	return cols;
}

struct width_pos width_place(struct width_pos *p, int w, int cols)
{
	struct width_pos start;

	if (cols < 1)
		cols = 1;
	if (w > 1 && p->col + w > cols) {
		/* libedit pads the rest of the row with spaces and starts a new one. */
		p->row++;
		p->col = 0;
	}
	start = *p;
	p->col += w;
	if (p->col >= cols) {
		p->row++;
		p->col = 0;
	}
	return start;
}

/* Place one buffer character as libedit's re_addc() shows it; returns where it starts. */
static struct width_pos place_edit_char(struct width_pos *p, wchar_t c, int cols)
{
	struct width_pos start = *p;
	int i, n;

	if (c == L'\n') {
		/* A literal newline (Ctrl-V Ctrl-J): libedit goes on at the start of the next row.
		 */
		p->row++;
		p->col = 0;
		return start;
	}
	if (c == L'\t') {
		/* Spaces up to the next tab stop, at least one. */
		do
			width_place(p, 1, cols);
		while ((p->col & 7) != 0);
		return start;
	}
	if (c < 0x100 && iswcntrl((wint_t)c)) {
		n = 2; /* ^X */
	} else if (iswprint((wint_t)c)) {
		int w = wcwidth(c);

		return width_place(p, w < 0 ? 0 : w, cols);
	} else {
		/* As libedit's ct_visual_width(): \U+XXXX, or one more digit above U+FFFF. */
		n = c > 0xFFFF ? 8 : 7;
	}
	for (i = 0; i < n; i++)
		width_place(p, 1, cols);
	return start;
}

void width_edit_layout(const wchar_t *prompt, size_t plen, const wchar_t *s, size_t n, size_t cur,
                       int cols, struct width_pos *cursor, struct width_pos *end)
{
	struct width_pos p = {0, 0};
	size_t i;

	for (i = 0; i < plen; i++)
		place_edit_char(&p, prompt[i], cols);
	*cursor = p;
	for (i = 0; i < n; i++) {
		struct width_pos start = place_edit_char(&p, s[i], cols);

		if (i == cur)
			*cursor = start;
	}
	if (cur >= n)
		*cursor = p;
	*end = p;
}
