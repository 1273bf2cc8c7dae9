/* confusable.c - look-alike names: NFKC_Casefold, then TR39's confusable skeleton, through ICU. */
#include "confusable.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uclean.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/uspoof.h>

#include "common/log.h"

/* UTF-16 units: never more than UTF-8 bytes for the same text, so these hold any key. */
#define KEY_UNITS (CONFUSABLE_KEY_MAX + 1)

/* ICU's objects and the keys of the reserved names, made once by open_icu(). */
static USpoofChecker *checker;
static const UNormalizer2 *nfkc_cf; /* ICU's singleton: not ours to close */
static char (*reserved_keys)[CONFUSABLE_KEY_MAX + 1];
static size_t nreserved;

/* Rounds at most: ICU 72 needs 4 for U+2030 ‰ (3 that change the text, 1 that finds it stable). */
#define MAX_ROUNDS 6

/* One round: the skeleton of the NFKC_Casefold form of in[0..n), into out; -1 if ICU fails. */
static int32_t fold_skeleton(const UChar *in, int32_t n, UChar *out)
{
	UChar folded[KEY_UNITS];
	UErrorCode e = U_ZERO_ERROR;
	int32_t len;

	len = unorm2_normalize(nfkc_cf, in, n, folded, KEY_UNITS, &e);
	if (U_FAILURE(e))
		return -1;
	e = U_ZERO_ERROR;
	/* The type argument is ignored since ICU 58: there is one table for all cases. */
	len = uspoof_getSkeleton(checker, 0, folded, len, out, KEY_UNITS, &e);
	return U_FAILURE(e) ? -1 : len;
}

/*
 * The key of valid UTF-8 s[0..n), n <= QUN_MAX_NAME, into out; -1 if ICU
 * fails or out is short.  Rounds repeat until the text stops changing:
 * TR39's prototypes keep their case (0 becomes O, ‰ becomes "o/OO"), so
 * one round after case folding would leave "r00t" apart from "root".
 */
static int key_of(const char *s, size_t n, char *out, size_t outsz)
{
	UChar a[KEY_UNITS], b[KEY_UNITS];
	int32_t la = 0, lb, lout = 0;
	UErrorCode e = U_ZERO_ERROR;
	int i, same = 0;

	u_strFromUTF8(a, KEY_UNITS, &la, s, (int32_t)n, &e);
	if (U_FAILURE(e))
		return -1;
	for (i = 0; i < MAX_ROUNDS && !same; i++) {
		lb = fold_skeleton(a, la, b);
		if (lb < 0)
			return -1;
		same = lb == la && memcmp(a, b, (size_t)la * sizeof *a) == 0;
		memcpy(a, b, (size_t)lb * sizeof *a);
		la = lb;
	}
	e = U_ZERO_ERROR;
	u_strToUTF8(out, (int32_t)outsz, &lout, a, la, &e);
	/* A key that fills out exactly leaves no room for the NUL: a warning, not a failure. */
	if (U_FAILURE(e) || e == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	return (int)lout;
}

/* Open the checker and key the reserved names, unless done; -1 (nothing open) if ICU fails. */
static int open_icu(void)
{
	static int registered;
	UErrorCode e = U_ZERO_ERROR;
	size_t i, n;

	if (checker != NULL)
		return 0;
	nfkc_cf = unorm2_getNFKCCasefoldInstance(&e);
	if (U_FAILURE(e))
		return -1;
	checker = uspoof_open(&e);
	if (U_FAILURE(e)) {
		checker = NULL;
		return -1;
	}
	for (n = 0; name_reserved(n) != NULL; n++)
		;
	reserved_keys = xcalloc(n, sizeof *reserved_keys);
	nreserved = n;
	for (i = 0; i < n; i++) {
		const char *w = name_reserved(i);

		if (key_of(w, strlen(w), reserved_keys[i], sizeof reserved_keys[i]) < 0) {
			confusable_close();
			return -1;
		}
	}
	if (!registered) {
		registered = 1;
		atexit(confusable_close);
	}
	return 0;
}

void confusable_close(void)
{
	if (checker != NULL)
		uspoof_close(checker);
	checker = NULL;
	nfkc_cf = NULL;
	free(reserved_keys);
	reserved_keys = NULL;
	nreserved = 0;
	u_cleanup();
}

int confusable_key(const char *s, size_t n, char *out, size_t outsz)
{
	int len;

	if (outsz > 0)
		out[0] = '\0';
	if (n == 0 || n > QUN_MAX_NAME || outsz == 0 || memchr(s, 0, n) != NULL ||
	    !utf8_valid(s, n) || open_icu() < 0)
		return -1;
	len = key_of(s, n, out, outsz);
	if (len < 0)
		out[0] = '\0';
	return len;
}

enum name_status confusable_name_check(const char *s, size_t n, char *key, size_t keysz)
{
	enum name_status st = name_check(s, n);
	int len;
	size_t i;

	if (st != NAME_OK)
		return st;
	len = confusable_key(s, n, key, keysz);
	if (len < 0)
		return NAME_RESERVED;
	if (len == 0)
		return NAME_CONTROL;
	/* English operator lines start "[admin] ": no key may start with a bracket either. */
	if (key[0] == '[')
		return NAME_RESERVED;
	for (i = 0; i < nreserved; i++)
		if (strcmp(key, reserved_keys[i]) == 0)
			return NAME_RESERVED;
	return NAME_OK;
}
