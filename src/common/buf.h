/* buf.h - a growable text buffer with a hard size cap, for replies built piece by piece. */
#ifndef QUN_BUF_H
#define QUN_BUF_H

#include <stddef.h>

/*
 * data is always NUL-terminated (once anything was added) and len never
 * exceeds max.  An addition that would pass max adds nothing and sets
 * overflow, so a caller checks once at the end instead of after every
 * piece, and nothing is ever silently cut in the middle.
 */
struct buf {
	char *data;
	size_t len, cap, max;
	int overflow;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const char *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Append s[0..n) as a JSON string, quotes included: '"', '\\' and every
 * byte below 0x20 (and DEL) are escaped; other bytes are copied, so valid
 * UTF-8 stays valid UTF-8.
 */
void buf_json_str(struct buf *b, const char *s, size_t n);

#endif
