/* buf.c - the capped, growable text buffer of buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->overflow = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL; returns -1 (and sets overflow) past max. */
static int reserve(struct buf *b, size_t n)
{
	size_t need;

	if (b->overflow || n > b->max - b->len) {
		b->overflow = 1;
		return -1;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < need)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return 0;
}

void buf_add(struct buf *b, const char *p, size_t n)
{
	if (reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->overflow = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		buf_add(b, small, (size_t)n);
		return;
	}
	/* Longer than the stack buffer: format straight into the reserved space. */
	if (reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_json_str(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	buf_add(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c != '"' && c != '\\' && c >= 0x20 && c != 0x7f)
			continue;
		/* Copy the plain run before this byte in one piece, then its escape. */
		buf_add(b, s + run, i - run);
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			buf_add(b, esc, 2);
		} else {
			buf_printf(b, "\\u%04x", c);
		}
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
	buf_add(b, "\"", 1);
}
