/* fuzz_text.c - libFuzzer harness for the text rules: UTF-8, names, messages, the terminal
 * sanitiser (src/common/text.c), and the look-alike key of names (src/qund/confusable.c). */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "qund/confusable.h"
#include "fuzzlib.h"

/*
 * An independent UTF-8 check, written from the table in RFC 3629 section 4
 * rather than from text.c, so that the two can disagree.  Returns the
 * length of the valid sequence at s, or 0.
 */
static size_t rfc3629_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] <= 0x7F)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static int rfc3629_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = rfc3629_seq(s + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Every code point of valid s, checked against pred; returns 1 if pred holds for none. */
static int none_is(const char *s, size_t n, int (*pred)(uint32_t))
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || pred(cp))
			return 0;
		i += k;
	}
	return 1;
}

static int is_name_forbidden(uint32_t cp)
{
	return cp_is_space(cp) || cp_is_control(cp) || cp_is_bidi(cp) || cp_is_invisible(cp);
}

static int is_text_forbidden(uint32_t cp)
{
	return cp_is_control(cp) || cp_is_bidi(cp);
}

/*
 * What the terminal must never get from the network (THREATS.md S10); the
 * invisible characters emoji are made of are let through on purpose.
 */
static int is_unprintable(uint32_t cp)
{
	return cp_is_control(cp) || cp_is_bidi(cp) ||
	       (cp_is_invisible(cp) && !cp_is_emoji_glue(cp));
}

static void check_decode(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	FZ_CHECK(utf8_valid(s, n) == rfc3629_valid(u, n), "utf8_valid disagrees with RFC 3629");
	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		FZ_CHECK(k == rfc3629_seq(u + i, n - i), "utf8_decode length %zu at %zu", k, i);
		if (k == 0) {
			i++;
			continue;
		}
		FZ_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF), "decoded U+%X", cp);
		FZ_CHECK(k == (cp < 0x80      ? 1u
		               : cp < 0x800   ? 2u
		               : cp < 0x10000 ? 3u
		                              : 4u),
		         "U+%X in %zu bytes (overlong)", cp, k);
		i += k;
	}
}

static void check_name(const char *s, size_t n)
{
	char key[QUN_MAX_NAME + 1], key2[QUN_MAX_NAME + 1];
	enum name_status st = name_check(s, n);
	int len, len2;

	FZ_CHECK(name_status_str(st) != NULL, "no string for name status %d", st);
	if (st != NAME_OK)
		return;
	FZ_CHECK(n >= 1 && n <= QUN_MAX_NAME, "name of %zu bytes accepted", n);
	FZ_CHECK(utf8_valid(s, n) && none_is(s, n, is_name_forbidden),
	         "name with a forbidden character accepted");
	len = name_normalize(s, n, key, sizeof key);
	FZ_CHECK(len > 0 && (size_t)len <= n && strlen(key) == (size_t)len, "normalised to %d",
	         len);
	len2 = name_normalize(key, (size_t)len, key2, sizeof key2);
	FZ_CHECK(len2 == len && strcmp(key, key2) == 0, "normalising is not idempotent");
	FZ_CHECK(name_check(key, (size_t)len) == NAME_OK, "the normalised form breaks the rules");
}

/*
 * The look-alike key: defined exactly for 1..QUN_MAX_NAME bytes of valid
 * UTF-8, within CONFUSABLE_KEY_MAX, the same for the normalised form, its
 * own key; the server's name rules are name_check's plus reserved keys.
 */
static void check_key(const char *s, size_t n)
{
	char key[CONFUSABLE_KEY_MAX + 1], key2[CONFUSABLE_KEY_MAX + 1], norm[QUN_MAX_NAME + 1];
	int len = confusable_key(s, n, key, sizeof key), len2;
	enum name_status st = name_check(s, n), cst;

	if (n == 0 || n > QUN_MAX_NAME || memchr(s, 0, n) != NULL || !utf8_valid(s, n)) {
		FZ_CHECK(len == -1 && key[0] == '\0', "a key (%d) for a non-name", len);
		FZ_CHECK(confusable_name_check(s, n, key2, sizeof key2) == st,
		         "the server's name rules differ from name_check on a bad name");
		return;
	}
	FZ_CHECK(len >= 0 && len <= CONFUSABLE_KEY_MAX && strlen(key) == (size_t)len,
	         "key of %d bytes", len);
	FZ_CHECK(utf8_valid(key, (size_t)len), "the key is not UTF-8");
	if ((size_t)len <= QUN_MAX_NAME && len > 0) {
		len2 = confusable_key(key, (size_t)len, key2, sizeof key2);
		FZ_CHECK(len2 == len && strcmp(key, key2) == 0, "the key of the key differs");
	}
	cst = confusable_name_check(s, n, key2, sizeof key2);
	if (st != NAME_OK) {
		FZ_CHECK(cst == st, "name status %d became %d", st, cst);
		return;
	}
	FZ_CHECK(len > 0, "a name with an empty key");
	FZ_CHECK(cst == NAME_OK || cst == NAME_RESERVED, "name status %d for a valid name", cst);
	if (cst == NAME_OK)
		FZ_CHECK(strcmp(key, key2) == 0, "confusable_name_check's key differs");
	len2 = name_normalize(s, n, norm, sizeof norm);
	FZ_CHECK(len2 > 0 && confusable_key(norm, (size_t)len2, key2, sizeof key2) == len &&
	             strcmp(key, key2) == 0,
	         "the normalised form has another key");
}

static void check_text(const char *s, size_t n, size_t max)
{
	enum text_status st = text_check_max(s, n, max);

	FZ_CHECK(text_status_str(st) != NULL, "no string for text status %d", st);
	if (max == QUN_MAX_TEXT)
		FZ_CHECK(st == text_check(s, n), "text_check differs from text_check_max");
	if (st != TEXT_OK)
		return;
	FZ_CHECK(n >= 1 && n <= max, "text of %zu bytes accepted (max %zu)", n, max);
	FZ_CHECK(utf8_valid(s, n) && none_is(s, n, is_text_forbidden),
	         "text with a control character accepted");
}

/* The sanitiser's output is safe for a terminal, fits, and is NUL-terminated. */
static void check_sanitize(const char *s, size_t n, size_t outsz)
{
	char *out = malloc(outsz == 0 ? 1 : outsz);
	size_t len;

	FZ_CHECK(out != NULL, "out of memory");
	len = text_sanitize(s, n, out, outsz);
	if (outsz == 0) {
		FZ_CHECK(len == 0, "wrote %zu bytes into nothing", len);
		free(out);
		return;
	}
	FZ_CHECK(len < outsz && out[len] == '\0' && strlen(out) == len,
	         "sanitised %zu bytes into %zu", len, outsz);
	FZ_CHECK(utf8_valid(out, len), "sanitised text is not UTF-8");
	FZ_CHECK(none_is(out, len, is_unprintable), "sanitised text has a control character");
	if (outsz > 10 * n)
		FZ_CHECK(len >= n, "sanitised text lost bytes with room to spare");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t n;

	if (size == 0)
		return 0;
	/* The first byte picks sizes; the rest is the text. */
	s = (const char *)data + 1;
	n = size - 1;
	check_decode(s, n);
	check_name(s, n);
	check_key(s, n);
	check_text(s, n, QUN_MAX_TEXT);
	check_text(s, n, QUN_MAX_TEXT_V2);
	check_text(s, n, data[0]);
	check_sanitize(s, n, data[0]);
	check_sanitize(s, n, 10 * n + 1);
	return 0;
}
