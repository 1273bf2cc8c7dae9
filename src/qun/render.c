/* render.c - a line of the room for the screen: stamp, name colours, marks; made safe. Pure. */
#include "render.h"

#include <string.h>

#include "common/sizes.h"
#include "common/text.h"

#define SGR_RESET "\033[0m"
#define SGR_DIM   "\033[2m"
#define SGR_BOLD  "\033[1m"
#define SGR_RED   "\033[31m"
#define SGR_ADMIN "\033[1;33m"
/* Room always kept at the end of out for closing what was opened. */
#define CLOSE_ROOM (sizeof SGR_RESET * 2)

/* Foreground colours for names: the six colours, normal and bright (no black, white or grey). */
static const char *const palette[RENDER_PALETTE] = {
    "\033[31m", "\033[32m", "\033[33m", "\033[34m", "\033[35m", "\033[36m",
    "\033[91m", "\033[92m", "\033[93m", "\033[94m", "\033[95m", "\033[96m",
};

unsigned render_name_colour(const char *name, size_t len)
{
	char key[QUN_MAX_NAME + 1];
	uint32_t h = 2166136261u; /* FNV-1a, 32 bits */
	int n;
	size_t i;

	n = len <= QUN_MAX_NAME ? name_normalize(name, len, key, sizeof key) : -1;
	if (n < 0) {
		/* Not a valid name: hash the bytes as they are, still stable. */
		for (i = 0; i < len; i++)
			h = (h ^ (unsigned char)name[i]) * 16777619u;
	} else {
		for (i = 0; i < (size_t)n; i++)
			h = (h ^ (unsigned char)key[i]) * 16777619u;
	}
	return h % RENDER_PALETTE;
}

int render_is_system(enum ipc_line_kind kind)
{
	return kind == IPC_LINE_JOIN || kind == IPC_LINE_LEAVE || kind == IPC_LINE_TIMEOUT ||
	       kind == IPC_LINE_KICK || kind == IPC_LINE_NOTICE;
}

/* A bounded appender that keeps CLOSE_ROOM bytes (and the NUL) free for closing sequences. */
struct out {
	char *p;
	size_t size, len;
};

/* Append s[0..n) whole if it fits before the reserved room; returns 1 if it did. */
static int add(struct out *o, const char *s, size_t n)
{
	if (o->len + CLOSE_ROOM + 1 > o->size || n > o->size - CLOSE_ROOM - 1 - o->len)
		return 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 1;
}

static void add_str(struct out *o, const char *s)
{
	add(o, s, strlen(s));
}

/* Append untrusted text, sanitised; cut at a whole character or escape if it does not fit. */
static void add_safe(struct out *o, const char *s, size_t n)
{
	if (o->len + CLOSE_ROOM + 1 > o->size)
		return;
	o->len += text_sanitize(s, n, o->p + o->len, o->size - CLOSE_ROOM - o->len);
}

/* Append a closing sequence, using the reserved room. */
static void add_close(struct out *o)
{
	size_t n = sizeof SGR_RESET - 1;

	if (o->size > o->len + n) {
		memcpy(o->p + o->len, SGR_RESET, n);
		o->len += n;
		o->p[o->len] = '\0';
	}
}

size_t render_line(char *out, size_t size, const struct render_style *st, const struct tm *when,
                   enum ipc_line_kind kind, unsigned flags, const char *name, size_t name_len,
                   unsigned name_at, const char *text, size_t text_len)
{
	struct out o = {out, size, 0};
	int sys = render_is_system(kind), err = kind == IPC_LINE_ERROR;
	int whole =
	    st->colour && (sys || err || kind == IPC_LINE_ADMIN || (flags & IPC_LINE_HISTORY));
	/* A line of history is dimmed whole, as a system line is: said before, not now. */
	const char *style = err ? SGR_RED : kind == IPC_LINE_ADMIN ? SGR_ADMIN : SGR_DIM;
	char stamp[16];

	if (size == 0)
		return 0;
	out[0] = '\0';
	if (st->decorate && when != NULL && strftime(stamp, sizeof stamp, "[%H:%M] ", when) > 0) {
		if (st->colour)
			add_str(&o, SGR_DIM);
		add_str(&o, stamp);
		if (st->colour)
			add_str(&o, SGR_RESET);
	}
	/* Whole-line style for system lines, errors and the operator; names still get their colour.
	 */
	if (whole)
		add_str(&o, style);
	if (st->decorate && (sys || err))
		add_str(&o, err ? "!!! " : "-!- ");
	if (name_at == IPC_NO_NAME_AT || name_at > text_len || name_len > text_len - name_at ||
	    name_len == 0 || !st->colour) {
		add_safe(&o, text, text_len);
	} else {
		add_safe(&o, text, name_at);
		add_str(&o, SGR_BOLD);
		add_str(&o, palette[render_name_colour(name, name_len)]);
		add_safe(&o, text + name_at, name_len);
		add_close(&o);
		if (whole)
			add_str(&o, style);
		add_safe(&o, text + name_at + name_len, text_len - name_at - name_len);
	}
	if (whole)
		add_close(&o);
	return o.len;
}
