/* members.c - the client's sorted set of member names: add, remove, complete a prefix. Pure. */
#include "members.h"

#include <string.h>

#include "common/text.h"

void members_clear(struct members *m)
{
	m->count = 0;
}

/* Index of the member whose normalised name is key, or -1. */
static long find_key(const struct members *m, const char *key)
{
	char k[QUN_MAX_NAME + 1];
	size_t i;

	for (i = 0; i < m->count; i++) {
		if (name_normalize(m->name[i], strlen(m->name[i]), k, sizeof k) >= 0 &&
		    strcmp(k, key) == 0)
			return (long)i;
	}
	return -1;
}

static void remove_at(struct members *m, size_t i)
{
	memmove(m->name[i], m->name[i + 1], (m->count - i - 1) * sizeof m->name[0]);
	m->count--;
}

int members_add(struct members *m, const char *name, size_t len)
{
	char key[QUN_MAX_NAME + 1];
	long at;
	size_t i;

	if (name_check(name, len) != NAME_OK || name_normalize(name, len, key, sizeof key) < 0)
		return -1;
	at = find_key(m, key);
	if (at >= 0) {
		if (strlen(m->name[at]) == len && memcmp(m->name[at], name, len) == 0)
			return 0;
		remove_at(m, (size_t)at);
	} else if (m->count == MEMBERS_MAX) {
		return -1;
	}
	/* Insertion sort keeps the list in byte order: /who and completion show it as is. */
	for (i = m->count; i > 0; i--) {
		size_t plen = strlen(m->name[i - 1]);
		int c = memcmp(m->name[i - 1], name, plen < len ? plen : len);

		if (c < 0 || (c == 0 && plen <= len))
			break;
		memcpy(m->name[i], m->name[i - 1], sizeof m->name[0]);
	}
	memcpy(m->name[i], name, len);
	m->name[i][len] = '\0';
	m->count++;
	return 1;
}

int members_remove(struct members *m, const char *name, size_t len)
{
	char key[QUN_MAX_NAME + 1];
	long at;

	if (len > QUN_MAX_NAME || name_normalize(name, len, key, sizeof key) < 0)
		return 0;
	at = find_key(m, key);
	if (at < 0)
		return 0;
	remove_at(m, (size_t)at);
	return 1;
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Length of the common prefix of the strings a and b, ASCII letters compared without case. */
static size_t common_len(const char *a, const char *b)
{
	size_t i = 0;

	while (a[i] != '\0' && ascii_lower((unsigned char)a[i]) == ascii_lower((unsigned char)b[i]))
		i++;
	return i;
}

/* Whether the string s starts with p[0..plen), ASCII letters compared without case. */
static int starts_with(const char *s, const char *p, size_t plen)
{
	size_t i;

	for (i = 0; i < plen; i++)
		if (s[i] == '\0' ||
		    ascii_lower((unsigned char)s[i]) != ascii_lower((unsigned char)p[i]))
			return 0;
	return 1;
}

size_t members_complete(const struct members *m, const char *prefix, size_t plen,
                        const char **matches, size_t max, char *common, size_t common_size)
{
	const char *first = NULL;
	size_t i, found = 0, clen = 0;

	for (i = 0; i < m->count; i++) {
		const char *n = m->name[i];

		if (!starts_with(n, prefix, plen))
			continue;
		if (found < max)
			matches[found] = n;
		if (first == NULL) {
			first = n;
			clen = strlen(n);
		} else {
			size_t c = common_len(first, n);

			clen = c < clen ? c : clen;
		}
		found++;
	}
	if (common_size == 0)
		return found;
	if (clen >= common_size)
		clen = common_size - 1;
	/* Never end in the middle of a UTF-8 character: back off to its first byte. */
	while (first != NULL && clen > 0 && ((unsigned char)first[clen] & 0xC0) == 0x80)
		clen--;
	if (clen > 0)
		memcpy(common, first, clen);
	common[clen] = '\0';
	return found;
}
