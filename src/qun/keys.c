/* keys.c - where the next key ends in bytes read from a terminal: escape sequences, UTF-8. Pure. */
#include "keys.h"

#define ESC 0x1b

/* Bytes of the UTF-8 character that starts with lead; 1 for a byte no character starts with. */
static size_t utf8_length(unsigned char lead)
{
	if (lead >= 0xC2 && lead <= 0xDF)
		return 2;
	if (lead >= 0xE0 && lead <= 0xEF)
		return 3;
	if (lead >= 0xF0 && lead <= 0xF4)
		return 4;
	return 1;
}

/* A CSI, b[0..1] being ESC [: up to its final byte (0x40..0x7E), ECMA-48's grammar. */
static size_t csi_length(const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 2; i < n; i++) {
		if (b[i] >= 0x40 && b[i] <= 0x7E)
			return i + 1;
		if (b[i] < 0x20 || b[i] > 0x3F)
			return i; /* cannot be in a CSI: it ended, broken, before this byte */
		if (i + 1 >= KEYS_SEQ_MAX)
			return i + 1;
	}
	return 0;
}

/* A key that is not Meta: a character, a CSI or SS3, or an ESC before anything else. */
static size_t plain_length(const unsigned char *b, size_t n)
{
	size_t k;

	if (n == 0)
		return 0;
	if (b[0] != ESC) {
		k = utf8_length(b[0]);
		return n >= k ? k : 0;
	}
	if (n < 2)
		return 0; /* a lone ESC: what follows says what it is */
	if (b[1] == '[')
		return csi_length(b, n);
	if (b[1] == 'O')
		return n >= 3 ? 3 : 0;
	return 1;
}

size_t keys_length(const unsigned char *b, size_t n)
{
	size_t k;

	if (n >= 2 && b[0] == ESC && b[1] != '[' && b[1] != 'O') {
		/* Meta: ESC and one key, an escape sequence too (ESC ESC [ A) */
		k = plain_length(b + 1, n - 1);
		return k > 0 ? k + 1 : 0;
	}
	return plain_length(b, n);
}
