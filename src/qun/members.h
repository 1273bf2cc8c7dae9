/* members.h - the client's list of who is in the room, for /who and tab completion. Pure. */
#ifndef QUN_MEMBERS_H
#define QUN_MEMBERS_H

#include <stddef.h>

#include "common/sizes.h"

/* As many names as one /who answer carries at most (docs/PROTOCOL.md, "Extensions"). */
#define MEMBERS_MAX 1024

/*
 * A set of valid member names, sorted by byte value, unique on the
 * normalised form (so "Alice" and "alice" are one member, as in the room).
 * Fed by the events the UI sees: joins add, leaves remove, a /who answer
 * replaces the lot.  About 34 KiB; one lives in the UI process.
 */
struct members {
	char name[MEMBERS_MAX][QUN_MAX_NAME + 1];
	size_t count;
};

void members_clear(struct members *m);

/*
 * Add name[0..len).  A name that breaks the name rules (text.h) is not
 * added: the list only ever holds what a server could have accepted.  A
 * name already there under another case is replaced by this spelling.
 * Returns 1 if added or respelled, 0 if it was there, -1 if invalid or the
 * set is full.
 */
int members_add(struct members *m, const char *name, size_t len);

/* Remove the member whose normalised name equals name's.  Returns 1 if one was removed, else 0. */
int members_remove(struct members *m, const char *name, size_t len);

/*
 * Tab completion.  Finds the members whose names start with prefix (ASCII
 * letters compared without case, as names are), in sorted order: up to
 * max of them go into matches (pointers into m).  common gets the longest
 * prefix all the matches share, spelled as the first match spells it,
 * cut at a whole UTF-8 character (common is "" when nothing matches).
 * Returns the number of matches (which may exceed max).
 */
size_t members_complete(const struct members *m, const char *prefix, size_t plen,
                        const char **matches, size_t max, char *common, size_t common_size);

#endif
