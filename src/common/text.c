/* text.c - text rules: strict UTF-8, names, messages, and making untrusted text safe to print. */
#include "text.h"

#include <stdio.h>
#include <string.h>

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c, min;
	size_t len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
		c = p[0] & 0x1Fu;
		min = 0x80;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		c = p[0] & 0x0Fu;
		min = 0x800;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		c = p[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3Fu);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

int utf8_valid(const char *s, size_t n)
{
	uint32_t cp;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

int cp_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

int cp_is_bidi(uint32_t cp)
{
	return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

int cp_is_space(uint32_t cp)
{
	return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/*
 * Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt):
 * characters that render as nothing, so "管理员" plus one of them would
 * look like the operator.  Names may not contain them; text may (emoji
 * need ZWJ and variation selectors).
 */
int cp_is_invisible(uint32_t cp)
{
	return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 ||
	       cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) ||
	       (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || (cp >= 0xFE00 && cp <= 0xFE0F) ||
	       cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFF8) ||
	       (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
	       (cp >= 0xE0000 && cp <= 0xE0FFF);
}

/*
 * Invisible characters that emoji sequences are built with (joiners,
 * variation selectors, tag characters of flag sequences): harmless to
 * print, and escaping them would break every such emoji on screen.
 */
int cp_is_emoji_glue(uint32_t cp)
{
	return cp == 0x200C || cp == 0x200D || (cp >= 0xFE00 && cp <= 0xFE0F) ||
	       (cp >= 0xE0020 && cp <= 0xE007F);
}

/* Fullwidth ASCII U+FF01..U+FF5E maps to ASCII 0x21..0x7E; ASCII letters fold to lower case. */
static uint32_t cp_fold(uint32_t cp)
{
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		cp -= 0xFF01 - 0x21;
	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	return cp;
}

int name_normalize(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0, k;
	uint32_t cp;

	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			return -1;
		cp = cp_fold(cp);
		if (cp < 0x80) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)cp;
		} else {
			/* Not folded: copy the original bytes. */
			if (o + k >= outsz)
				return -1;
			memcpy(out + o, s + i, k);
			o += k;
		}
		i += k;
	}
	if (o >= outsz)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* Names nobody on the network may take: the operator's and look-alikes (normalised forms). */
static const char *const reserved_names[] = {
    "管理员",
    "管理員",
    "管理",
    "系统",
    "系統",
    "服务器",
    "伺服器",
    "admin",
    "administrator",
    "root",
    "server",
    "system",
    "operator",
    "sysop",
    "qund",
    /* "*" starts an action line ("* NAME TEXT"): no name may stand in front of one. */
    "*",
};

const char *name_reserved(size_t i)
{
	return i < sizeof reserved_names / sizeof reserved_names[0] ? reserved_names[i] : NULL;
}

static int name_is_reserved(const char *s, size_t n)
{
	char key[QUN_MAX_NAME + 1];
	size_t i;

	if (name_normalize(s, n, key, sizeof key) < 0)
		return 0;
	/* English operator lines start "[admin] ": no name may start with a bracket. */
	if (key[0] == '[')
		return 1;
	for (i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
		if (strcmp(key, reserved_names[i]) == 0)
			return 1;
	return 0;
}

enum name_status name_check(const char *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	if (n == 0)
		return NAME_EMPTY;
	if (n > QUN_MAX_NAME)
		return NAME_TOO_LONG;
	if (!utf8_valid(s, n))
		return NAME_BAD_UTF8;
	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (cp_is_space(cp))
			return NAME_SPACE;
		if (cp_is_control(cp) || cp_is_bidi(cp) || cp_is_invisible(cp))
			return NAME_CONTROL;
		i += k;
	}
	if (name_is_reserved(s, n))
		return NAME_RESERVED;
	return NAME_OK;
}

enum text_status text_check(const char *s, size_t n)
{
	return text_check_max(s, n, QUN_MAX_TEXT);
}

enum text_status text_check_max(const char *s, size_t n, size_t max)
{
	size_t i = 0, k;
	uint32_t cp;

	if (n == 0)
		return TEXT_EMPTY;
	if (n > max)
		return TEXT_TOO_LONG;
	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0)
			return TEXT_BAD_UTF8;
		if (cp_is_control(cp) || cp_is_bidi(cp))
			return TEXT_CONTROL;
		i += k;
	}
	return TEXT_OK;
}

/* Append len bytes of src to out if they fit whole (leaving room for the NUL). */
static int put(char *out, size_t outsz, size_t *o, const char *src, size_t len)
{
	if (*o + len + 1 > outsz)
		return 0;
	memcpy(out + *o, src, len);
	*o += len;
	return 1;
}

size_t text_sanitize(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0, k;
	char esc[16];
	uint32_t cp;
	int ok;

	if (outsz == 0)
		return 0;
	while (i < n) {
		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0) {
			snprintf(esc, sizeof esc, "\\x%02X", (unsigned char)s[i]);
			ok = put(out, outsz, &o, esc, 4);
			k = 1;
		} else if (cp < 0x20 || cp == 0x7F) {
			esc[0] = '^';
			esc[1] = (char)(cp == 0x7F ? '?' : cp + 0x40);
			ok = put(out, outsz, &o, esc, 2);
		} else if (cp_is_control(cp) || cp_is_bidi(cp) ||
		           (cp_is_invisible(cp) && !cp_is_emoji_glue(cp))) {
			int len = snprintf(esc, sizeof esc, "\\u{%04X}", (unsigned)cp);
			ok = put(out, outsz, &o, esc, (size_t)len);
		} else {
			ok = put(out, outsz, &o, s + i, k);
		}
		if (!ok)
			break;
		i += k;
	}
	out[o] = '\0';
	return o;
}

const char *name_status_str(enum name_status st)
{
	switch (st) {
	case NAME_OK:
		return "ok";
	case NAME_EMPTY:
		return "empty name";
	case NAME_TOO_LONG:
		return "name too long";
	case NAME_BAD_UTF8:
		return "name not valid UTF-8";
	case NAME_SPACE:
		return "space in name";
	case NAME_CONTROL:
		return "control or invisible character in name";
	case NAME_RESERVED:
		return "reserved name";
	case NAME_LOOKALIKE:
		return "look-alike of a member's name";
	}
	return "unknown name status";
}

const char *text_status_str(enum text_status st)
{
	switch (st) {
	case TEXT_OK:
		return "ok";
	case TEXT_EMPTY:
		return "empty text";
	case TEXT_TOO_LONG:
		return "text too long";
	case TEXT_BAD_UTF8:
		return "text not valid UTF-8";
	case TEXT_CONTROL:
		return "control character in text";
	}
	return "unknown text status";
}
