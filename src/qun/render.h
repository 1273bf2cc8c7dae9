/* render.h - how qun shows a line of the room: stamp, name colours, marks, made safe. Pure. */
#ifndef QUN_RENDER_H
#define QUN_RENDER_H

#include <stddef.h>
#include <time.h>

#include "ipc.h"

struct render_style {
	int colour;   /* SGR colours: a colour terminal and NO_COLOR unset */
	int decorate; /* time stamp and marks; off in plain mode, where a line is the room's own */
};

/* Number of colours names are drawn in. */
#define RENDER_PALETTE 12

/*
 * The colour of a name, 0..RENDER_PALETTE-1: a hash (FNV-1a) of its
 * normalised form, so a name has the same colour on every run, on every
 * machine, in every case spelling.
 */
unsigned render_name_colour(const char *name, size_t len);

/*
 * Write one screen line into out (always NUL-terminated when size > 0)
 * and return its length.  With decorate: "[HH:MM] " from *when (none if
 * when is NULL), then "-!- " before system lines (join, leave, timeout,
 * kick, notice) and "!!! " before errors.  Then text, made safe with
 * text_sanitize(): no byte of it reaches the terminal as a control, an
 * escape or a bidi override.  With colour, the span of text where the
 * name is (name_at, see ipc.h) is drawn in the name's colour, system lines
 * are dimmed, errors are red and the operator is bold; the only escape
 * sequences in out are these SGR sequences of our own, and every one that
 * is opened is closed, even when out is too small and the text is cut
 * (at a whole character or escape).
 */
size_t render_line(char *out, size_t size, const struct render_style *st, const struct tm *when,
                   enum ipc_line_kind kind, unsigned flags, const char *name, size_t name_len,
                   unsigned name_at, const char *text, size_t text_len);

/* Whether a kind is a system line (shown apart from chat). */
int render_is_system(enum ipc_line_kind kind);

#endif
