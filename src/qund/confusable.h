/* confusable.h - look-alike names: the key of Unicode TR39's confusable skeleton, through ICU. */
#ifndef QUN_CONFUSABLE_H
#define QUN_CONFUSABLE_H

#include <stddef.h>

#include "common/sizes.h"
#include "common/text.h"

/*
 * The longest key of a name of up to QUN_MAX_NAME bytes, without the NUL.
 * No code point's key is longer than 10 times its UTF-8 (U+FDFA, 3 bytes,
 * becomes 30 under ICU 72), and a key is about the keys of its code points
 * put together; tests/unit/test_confusable.c checks every code point, alone
 * and repeated to QUN_MAX_NAME bytes, with the ICU it is built with.  A
 * name whose key would not fit is refused, never cut.
 */
#define CONFUSABLE_KEY_MAX (10 * QUN_MAX_NAME)

/*
 * Write the key of the name s[0..n) to out, NUL-terminated: its NFKC_Casefold
 * form (ICU's unorm2), then the confusable skeleton of Unicode TR39 of that
 * (ICU's uspoof_getSkeleton), both again until the text stops changing (at
 * most 6 rounds), since the skeleton keeps case (0 becomes O).  Names that
 * look alike have one key: "alice", "Alice", "Ａｌｉｃｅ", "𝐚𝐥𝐢𝐜𝐞" and
 * "аlice" (Cyrillic а) all have "alice"; "r00t" has "root"; "admin",
 * "аdmin" and "adrnin" have "adrnin".  A key is for comparing, never for
 * showing.  Equal name_normalize() forms always have equal keys, and the
 * key of a key is itself.
 *
 * Returns the key's length (at least 1 for a name that passes name_check),
 * or -1 if n is 0 or over QUN_MAX_NAME, s is not valid UTF-8 or holds a
 * NUL, the key does not fit in outsz bytes with its NUL, or ICU fails; out
 * then holds "" (if outsz > 0).
 *
 * The first call opens ICU's checker, once for the process; it stays open
 * until confusable_close(), which exit() calls (atexit).  One thread only.
 * About 0.3 us per round for a short name: for logins and the operator's
 * commands, not for every datagram.
 */
int confusable_key(const char *s, size_t n, char *out, size_t outsz);

/*
 * The name rules of the server: name_check()'s, then those that need
 * Unicode's data.  A name whose key is a reserved name's key ("аdmin",
 * "𝐚𝐝𝐦𝐢𝐧", "∗"), or starts with "[", is NAME_RESERVED; one whose key is
 * empty is NAME_CONTROL (it would render as nothing).  When ICU fails the
 * name is NAME_RESERVED: a name whose look-alikes cannot be known is not
 * handed out.  On NAME_OK, key (keysz >= CONFUSABLE_KEY_MAX + 1) holds the
 * name's key; otherwise its contents are unspecified.
 */
enum name_status confusable_name_check(const char *s, size_t n, char *key, size_t keysz);

/*
 * Close ICU's checker and free ICU's caches (u_cleanup), so that valgrind
 * and LeakSanitizer find nothing left; the next confusable_key() opens
 * them again.  Registered with atexit() by the first open.
 */
void confusable_close(void);

#endif
