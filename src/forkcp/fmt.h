/* fmt.h - text for people: file names made safe to print, byte counts. Pure. */
#ifndef QUN_FORKCP_FMT_H
#define QUN_FORKCP_FMT_H

#include "run.h"

#include <stddef.h>

#define HUMANSZ 48 /* "1023.9 GiB", with room for any long long */

/*
 * Write a printable form of NAME into OUT (OUTLEN >= 8 bytes): control bytes
 * and backslashes become octal or backslash escapes, so a hostile file name
 * cannot move the cursor or recolour the terminal.  A name too long for OUT
 * is cut and ends in "...".
 */
void printable(char *out, size_t outlen, const char *name);

/* V bytes for people ("512 B", "1.5 GiB") into BUF, of HUMANSZ bytes. */
void fmt_bytes(char *buf, double v);

#endif
