/* keys.h - where the next key ends in bytes read from a terminal: escape sequences, UTF-8. Pure. */
#ifndef QUN_KEYS_H
#define QUN_KEYS_H

#include <stddef.h>

/* A sequence longer than this is taken as ended: a broken one must not hold the input forever. */
#define KEYS_SEQ_MAX 32

/*
 * How many bytes of b[0..n) make the first key, or 0 if it is not all
 * there yet (more must be read before it is handed to the line editor).
 * A key is one UTF-8 character (an invalid byte alone), or an escape
 * sequence: ESC [ parameters intermediates final (CSI), ESC O x (SS3), or
 * ESC followed by one key (Meta).  The bytes are not checked beyond what
 * it takes to find the end; a CSI cut by a byte that cannot be in it ends
 * before that byte.
 */
size_t keys_length(const unsigned char *b, size_t n);

#endif
