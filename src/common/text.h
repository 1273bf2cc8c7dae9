/* text.h - text rules: UTF-8 validation, name and message rules, terminal sanitising. Pure. */
#ifndef QUN_TEXT_H
#define QUN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "sizes.h"

/*
 * Decode one UTF-8 sequence from s[0..n).  Strict (RFC 3629): rejects
 * overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF,
 * stray continuation bytes and sequences cut short by n.  Returns the
 * sequence length (1..4) and stores the code point, or 0 if s does not start
 * with a valid sequence (and n > 0).  n == 0 returns 0.
 */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Returns 1 if s[0..n) is entirely valid UTF-8 (n == 0 is valid), else 0. */
int utf8_valid(const char *s, size_t n);

/* Code point classes used by the rules below. */
int cp_is_control(uint32_t cp);    /* C0, DEL, C1 */
int cp_is_bidi(uint32_t cp);       /* bidi marks, embeddings, overrides, isolates */
int cp_is_space(uint32_t cp);      /* ASCII space and every Unicode space separator */
int cp_is_invisible(uint32_t cp);  /* Unicode default-ignorable: renders as nothing */
int cp_is_emoji_glue(uint32_t cp); /* ZWJ, ZWNJ, variation selectors, tags: emoji need them */

enum name_status {
	NAME_OK = 0,
	NAME_EMPTY,
	NAME_TOO_LONG, /* more than QUN_MAX_NAME bytes */
	NAME_BAD_UTF8,
	NAME_SPACE,    /* contains a space of any kind */
	NAME_CONTROL,  /* contains a control, bidi or invisible format character */
	NAME_RESERVED, /* 管理员, admin, server, ... or a look-alike */
	/*
	 * Looks like the name of someone online (the same confusable key,
	 * confusable.h) without being that name: decided by the server's
	 * room, never by name_check().
	 */
	NAME_LOOKALIKE,
};

/*
 * Check s[0..n) against the name rules of docs/PROTOCOL.md that need no
 * Unicode data: the server adds the look-alikes of reserved names
 * (confusable_name_check(), confusable.h).
 */
enum name_status name_check(const char *s, size_t n);

/*
 * The i-th reserved name (as name_normalize() writes it), or NULL past the
 * last: for comparing other forms of names with them (confusable.c).
 */
const char *name_reserved(size_t i);

/*
 * Write the normalised form of a valid name to out (NUL-terminated), the
 * key on which uniqueness is decided: fullwidth ASCII (U+FF01..U+FF5E) is
 * mapped to ASCII and ASCII letters are lower-cased, so "Alice", "ALICE" and
 * "Ａｌｉｃｅ" are one name.  The result is never longer than the input.
 * Returns the length, or -1 if s is not valid UTF-8 or out is too small.
 */
int name_normalize(const char *s, size_t n, char *out, size_t outsz);

enum text_status {
	TEXT_OK = 0,
	TEXT_EMPTY,
	TEXT_TOO_LONG, /* more than QUN_MAX_TEXT bytes */
	TEXT_BAD_UTF8,
	TEXT_CONTROL, /* C0 (CR, LF, TAB, ESC, NUL...), DEL, C1 or a bidi control */
};

/* Check a chat message s[0..n) against the text rules of docs/PROTOCOL.md. */
enum text_status text_check(const char *s, size_t n);

/* The same rules with another length limit (protocol v2 allows QUN_MAX_TEXT_V2). */
enum text_status text_check_max(const char *s, size_t n, size_t max);

/*
 * Copy untrusted text s[0..n) into out so that it is safe to write to a
 * terminal, in the manner of OpenSSH's utf8.c: valid printable UTF-8 is
 * copied; each byte of invalid UTF-8 becomes "\xNN"; C0 controls and DEL
 * become "^X" style ("^[" for ESC, "^?" for DEL); C1 controls, bidi controls
 * and invisible characters (except the joiners, variation selectors and
 * tags that emoji are made of) become "\u{XXXX}"; a backslash is copied
 * as is.  out is always NUL-terminated when outsz > 0; the copy stops before
 * a character or escape that would not fit whole.  Returns the number of
 * bytes written (excluding the NUL).
 */
size_t text_sanitize(const char *s, size_t n, char *out, size_t outsz);

/* Short English descriptions of the statuses, for logs and tests. */
const char *name_status_str(enum name_status st);
const char *text_status_str(enum text_status st);

#endif
