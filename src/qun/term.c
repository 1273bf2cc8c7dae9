/* term.c - the UI's terminal: libedit below incoming lines, or kernel-edited or plain lines. */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "common/log.h"
#include "keys.h"
#include "width.h"

/*
 * How the TUI keeps the input line intact while the room talks.
 *
 * libedit runs in its unbuffered mode (EL_UNBUFFERED): el_wgets() handles
 * one key and returns, so the UI's own poll() loop stays in charge and
 * libedit never blocks it.  We chose this over the readline-compatible
 * rl_callback_*() interface because we need the EditLine itself: the
 * line and cursor (el_wline) to know how many rows the input takes, our
 * own completion function, our own read function, and no hidden global
 * state or signal handlers.
 *
 * To print a line above the input we take the input off the screen: go
 * to column 0, up as many rows as the cursor is below the prompt's row
 * (computed with wcwidth() exactly as libedit lays the line out, see
 * width.c), and clear to the end of the screen (erase_up).  Then we print, and
 * EL_REFRESH redraws prompt and input from where the cursor now is: it
 * forgets what it had drawn and assumes it starts at row 0, column 0,
 * which is now true.  Nothing libedit has drawn is left behind and
 * nothing we print is overwritten.
 *
 * libedit gets its input from our buffer, never from stdin itself, and
 * only a whole key at a time (keys.c): an arrow's ESC [ A may come in two
 * reads, and a message printed between them must not make libedit give
 * up the half it has (it would drop the ESC and insert "[A").  What is
 * not a whole key yet waits in the buffer for the next read.
 */

/* src/limits.h takes the place of <limits.h> here, so the two sizes we need are our own. */
#define PATH_SIZE 4096 /* Linux's PATH_MAX */
#define MB_SIZE   16   /* glibc's MB_LEN_MAX: bytes of the longest multibyte character */

#define PROMPT_DEFAULT "> "
#define PROMPT_MAX     128 /* bytes of a prompt (term_set_prompt cuts a longer one) */

struct term {
	enum term_mode mode;
	FILE *out;
	char prompt[PROMPT_MAX];      /* UTF-8, as LINE mode writes it */
	wchar_t prompt_w[PROMPT_MAX]; /* the same, as libedit draws it */
	/* TUI */
	EditLine *el;
	HistoryW *hist;
	char hist_path[PATH_SIZE];
	term_complete_fn complete;
	void *arg;
	unsigned char keys[256]; /* read from stdin, not yet given to libedit */
	size_t keys_len;
	int hidden; /* the input line is off the screen */
	int reset;  /* a line was entered: start a fresh one at term_show() */
	int eof;    /* stdin ended or failed */
	struct termios saved, raw;
	int saved_ok;
	/* LINE and PLAIN */
	char in[TERM_INPUT_MAX + 1];
	size_t have;
	int overlong, in_eof, prompt_shown;
	int out_failed; /* plain mode: writing the room's lines failed (a closed pipe) */
};

/* For the atexit() handler: the settings to put back if the program ends without term_close(). */
static struct termios *restore_at_exit;

static void restore_terminal(void)
{
	if (restore_at_exit != NULL)
		tcsetattr(STDIN_FILENO, TCSANOW, restore_at_exit);
}

enum term_mode term_detect(void)
{
	const char *term = getenv("TERM");

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return TERM_PLAIN;
	if (term == NULL || *term == '\0' || strcmp(term, "dumb") == 0)
		return TERM_LINE;
	return TERM_TUI;
}

/*
 * mkdir -p for the directories of path (not its last component), private to
 * the user.  Returns 0 only when path's own directory is then a directory
 * of this user that nobody else may write: anything else (another user's
 * directory, a shared one, a symbolic link) and the history stays in memory,
 * since others could plant or read the file there.
 */
static int make_parents(const char *path)
{
	char dir[PATH_SIZE];
	struct stat st;
	size_t i, n = strlen(path), last = 0;

	if (n >= sizeof dir)
		return -1;
	memcpy(dir, path, n + 1);
	for (i = 1; i < n; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -1;
		dir[i] = '/';
		last = i;
	}
	if (last == 0)
		return -1;
	dir[last] = '\0';
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return -1;
	return 0;
}

int term_history_path(char *buf, size_t size)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG spec: a relative XDG_STATE_HOME is invalid and ignored. */
	if (state != NULL && state[0] == '/')
		n = snprintf(buf, size, "%s/qun/history", state);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(buf, size, "%s/.local/state/qun/history", home);
	else
		return -1;
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Columns of the terminal, as the kernel knows them now. */
static int term_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* UTF-8 of wide characters s[0..n) into out; returns the length, or -1 if it does not fit. */
static int wide_to_utf8(const wchar_t *s, size_t n, char *out, size_t size)
{
	char mb[MB_SIZE];
	mbstate_t st;
	size_t i, o = 0, k;

	memset(&st, 0, sizeof st);
	for (i = 0; i < n; i++) {
		k = wcrtomb(mb, s[i], &st);
		if (k == (size_t)-1)
			continue; /* not representable: dropped, as libedit would not show it either
			           */
		if (o + k >= size)
			return -1;
		memcpy(out + o, mb, k);
		o += k;
	}
	out[o] = '\0';
	return (int)o;
}

/* Wide characters of UTF-8 s into out (NUL-terminated); invalid bytes are skipped. */
static void utf8_to_wide(const char *s, wchar_t *out, size_t size)
{
	mbstate_t st;
	size_t o = 0, k, n = strlen(s);

	memset(&st, 0, sizeof st);
	while (n > 0 && o + 1 < size) {
		k = mbrtowc(&out[o], s, n, &st);
		if (k == (size_t)-1 || k == (size_t)-2) {
			memset(&st, 0, sizeof st);
			k = 1;
		} else {
			if (k == 0)
				break;
			o++;
		}
		s += k;
		n -= k;
	}
	out[o] = L'\0';
}

static wchar_t *prompt_fn(EditLine *el)
{
	struct term *t;

	el_get(el, EL_CLIENTDATA, &t);
	return t->prompt_w;
}

/*
 * Go up `rows` rows to column 0 and clear from there to the end of the
 * screen.  Not with a plain ESC [ J from there: when that row is the top
 * of the screen it clears the whole screen, which tmux (scroll-on-clear)
 * and others answer by pushing everything into the scrollback, leaving a
 * copy of the input line there.  So: clear this row, and below it from
 * the next row, coming back with save/restore cursor (correct on the
 * bottom row too, where moving down does nothing).
 */
static void erase_up(struct term *t, int rows)
{
	fputs("\r", t->out);
	if (rows > 0)
		fprintf(t->out, "\033[%dA", rows);
	fputs("\033[2K\0337\033[B\033[J\0338", t->out);
}

/*
 * Take the input line off the screen (TUI): the cursor goes to column 0
 * of the prompt's row and everything below is cleared.
 */
static void hide(struct term *t)
{
	const LineInfoW *li;
	struct width_pos cur, end;

	if (t->mode != TERM_TUI || t->hidden)
		return;
	li = el_wline(t->el);
	width_edit_layout(t->prompt_w, wcslen(t->prompt_w), li->buffer,
	                  (size_t)(li->lastchar - li->buffer), (size_t)(li->cursor - li->buffer),
	                  term_cols(), &cur, &end);
	erase_up(t, cur.row);
	t->hidden = 1;
}

/* Take n bytes off the front of the key buffer. */
static void keys_take(struct term *t, size_t n)
{
	memmove(t->keys, t->keys + n, t->keys_len - n);
	t->keys_len -= n;
}

/*
 * libedit's read function: one character from the key buffer, decoded
 * from UTF-8.  Returns 1 with *wc, or -1 when the buffer has nothing
 * more: read_tui hands libedit only whole keys, so that happens only
 * where libedit's idea of a key is longer than keys.c's, and then the
 * key is given up as before.  Never reads stdin, never blocks.
 */
static int read_char(EditLine *el, wchar_t *wc)
{
	struct term *t;
	mbstate_t st;
	size_t k;

	el_get(el, EL_CLIENTDATA, &t);
	while (t->keys_len > 0) {
		memset(&st, 0, sizeof st);
		k = mbrtowc(wc, (const char *)t->keys, t->keys_len, &st);
		if (k == (size_t)-2)
			return -1; /* the rest of a character not read yet (see above) */
		if (k == (size_t)-1) {
			keys_take(t, 1); /* not UTF-8: dropped, never put in the line */
			continue;
		}
		if (k == 0) {
			*wc = L'\0';
			k = 1;
		}
		keys_take(t, k);
		return 1;
	}
	return -1;
}

/* libedit editor function bound to Tab: ask the UI, then change the word or show candidates. */
static unsigned char complete_fn(EditLine *el, int ch)
{
	static char word[TERM_INPUT_MAX + 1], repl[256], show[TERM_INPUT_MAX * 2];
	static wchar_t wrepl[256];
	const LineInfoW *li = el_wline(el);
	const wchar_t *start = li->cursor;
	struct term *t;
	int r, n;

	(void)ch;
	el_get(el, EL_CLIENTDATA, &t);
	while (start > li->buffer && start[-1] != L' ')
		start--;
	n = wide_to_utf8(start, (size_t)(li->cursor - start), word, sizeof word);
	if (n < 0 || t->complete == NULL)
		return CC_REFRESH_BEEP;
	repl[0] = show[0] = '\0';
	r = t->complete(t->arg, word, (size_t)n, start == li->buffer, repl, sizeof repl, show,
	                sizeof show);
	if (r == 0)
		return CC_REFRESH_BEEP;
	if (r & TERM_COMPLETE_SHOW) {
		hide(t);
		fputs(show, t->out);
		fputs("\r\n", t->out);
		el_set(el, EL_REFRESH);
		t->hidden = 0;
	}
	if (r & TERM_COMPLETE_REPLACE) {
		el_wdeletestr(el, (int)(li->cursor - start));
		utf8_to_wide(repl, wrepl, sizeof wrepl / sizeof wrepl[0]);
		if (el_winsertstr(el, wrepl) < 0)
			return CC_REFRESH_BEEP;
	}
	return CC_REFRESH;
}

static void history_save(struct term *t)
{
	char tmp[PATH_SIZE + 8];
	HistEventW ev;
	FILE *f;
	int fd, n;

	if (t->hist == NULL || t->hist_path[0] == '\0')
		return;
	n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", t->hist_path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return;
	/*
	 * What people said is private: the file is the user's alone (mkostemp
	 * makes it 0600, new, with a name of its own, so two qun saving at
	 * once do not write into one temporary), and it replaces the old one
	 * whole.
	 */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return;
	}
	history_w(t->hist, &ev, H_SAVE_FP, f);
	if (fclose(f) == 0)
		rename(tmp, t->hist_path);
	else
		unlink(tmp);
}

static int open_tui(struct term *t, const char *history_path)
{
	static const wchar_t *const binds[][2] = {
	    {L"^I", L"qun-complete"},
	    {L"^W", L"ed-delete-prev-word"},
	    {L"\\e[1;5D", L"ed-prev-word"},
	    {L"\\e[1;5C", L"em-next-word"},
	    {L"\\e[H", L"ed-move-to-beg"},
	    {L"\\e[F", L"ed-move-to-end"},
	    {L"\\eOH", L"ed-move-to-beg"},
	    {L"\\eOF", L"ed-move-to-end"},
	    {L"\\e[1~", L"ed-move-to-beg"},
	    {L"\\e[4~", L"ed-move-to-end"},
	    {L"\\e[7~", L"ed-move-to-beg"},
	    {L"\\e[8~", L"ed-move-to-end"},
	    {L"\\e[3~", L"ed-delete-next-char"},
	};
	HistEventW ev;
	size_t i;

	if (tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		t->saved_ok = 1;
		restore_at_exit = &t->saved;
	}
	t->el = el_init("qun", stdin, stdout, stderr);
	if (t->el == NULL)
		return -1;
	el_set(t->el, EL_CLIENTDATA, t);
	el_set(t->el, EL_SIGNAL, 0); /* signals are the UI's, read from its signalfd */
	el_wset(t->el, EL_EDITOR, L"emacs");
	el_wset(t->el, EL_PROMPT, prompt_fn);
	el_set(t->el, EL_GETCFN, read_char);
	t->hist = history_winit();
	if (t->hist != NULL) {
		history_w(t->hist, &ev, H_SETSIZE, 1000);
		history_w(t->hist, &ev, H_SETUNIQUE, 1);
		if (history_path != NULL && make_parents(history_path) == 0) {
			snprintf(t->hist_path, sizeof t->hist_path, "%s", history_path);
			history_w(t->hist, &ev, H_LOAD, t->hist_path);
		}
		el_wset(t->el, EL_HIST, history_w, t->hist);
	}
	el_wset(t->el, EL_ADDFN, L"qun-complete", L"complete a member's name", complete_fn);
	for (i = 0; i < sizeof binds / sizeof binds[0]; i++)
		el_wset(t->el, EL_BIND, binds[i][0], binds[i][1], NULL);
	el_source(t->el, NULL); /* the user's ~/.editrc, if any, has the last word */
	atexit(restore_terminal);
	/* Raw mode, and the prompt drawn: from now on el_wgets() takes one key at a time. */
	el_set(t->el, EL_UNBUFFERED, 1);
	fflush(t->out);
	return 0;
}

struct term *term_open(enum term_mode mode, const char *history_path, term_complete_fn complete,
                       void *arg)
{
	struct term *t = xcalloc(1, sizeof *t);

	t->mode = mode;
	t->out = stdout;
	snprintf(t->prompt, sizeof t->prompt, "%s", PROMPT_DEFAULT);
	utf8_to_wide(t->prompt, t->prompt_w, PROMPT_MAX);
	t->complete = complete;
	t->arg = arg;
	if (mode == TERM_TUI && open_tui(t, history_path) < 0)
		t->mode = TERM_LINE;
	if (t->mode != TERM_TUI)
		term_show(t);
	return t;
}

int term_output_failed(const struct term *t)
{
	return t->out_failed;
}

enum term_mode term_mode(const struct term *t)
{
	return t->mode;
}

/* After Enter: libedit has moved below the line; take the line's rows off the screen. */
static void erase_entered(struct term *t, const wchar_t *buf, size_t n)
{
	struct width_pos cur, end;

	width_edit_layout(t->prompt_w, wcslen(t->prompt_w), buf, n, n, term_cols(), &cur, &end);
	erase_up(t, end.row + 1);
	t->hidden = 1;
	t->reset = 1;
}

/*
 * One read of what stdin has into the key buffer (poll said it is
 * readable).  Returns 1 if bytes came; 0 if none did; sets eof at the end
 * of input or on an error.
 */
static int keys_fill(struct term *t)
{
	ssize_t r;

	if (t->keys_len == sizeof t->keys)
		return 0; /* full of whole keys: they go first */
	do
		r = read(STDIN_FILENO, t->keys + t->keys_len, sizeof t->keys - t->keys_len);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (r <= 0) {
		t->eof = 1;
		return 0;
	}
	t->keys_len += (size_t)r;
	return 1;
}

static int stdin_ready(void)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

/*
 * Keys to libedit, one whole key per el_wgets(), until a line is complete
 * or no whole key is left: with can_read, stdin is read first, and again
 * while it has more (a paste is many keys).  A key not yet whole stays in
 * the buffer for the next call.
 */
static enum term_input read_tui(struct term *t, int can_read, char *line, size_t size, size_t *len)
{
	const wchar_t *buf;
	int n, keys, shown = 0;

	if (can_read && !t->eof)
		keys_fill(t);
	for (keys = 0; keys < 4096 && !t->eof; keys++) {
		if (keys_length(t->keys, t->keys_len) == 0) {
			if (!stdin_ready() || !keys_fill(t))
				break;
			continue;
		}
		if (!shown) {
			/* libedit edits what it believes is on the screen: put the line back first.
			 */
			term_show(t);
			shown = 1;
		}
		buf = el_wgets(t->el, &n);
		if (buf == NULL || n <= 0)
			continue;
		if (n == 1 && buf[0] == 4) {
			/* Ctrl-D on an empty line: libedit's end of file. */
			hide(t);
			return TERM_EOF;
		}
		if (buf[n - 1] != L'\n')
			continue;
		erase_entered(t, buf, (size_t)n - 1);
		n = wide_to_utf8(buf, (size_t)n - 1, line,
		                 size < TERM_INPUT_MAX + 1 ? size : TERM_INPUT_MAX + 1);
		if (n < 0)
			return TERM_OVERLONG;
		*len = (size_t)n;
		return TERM_GOT_LINE;
	}
	if (t->eof && can_read) {
		hide(t);
		return TERM_EOF;
	}
	return TERM_NONE;
}

/* One complete line from the LINE/PLAIN buffer, or TERM_NONE. */
static enum term_input next_buffered(struct term *t, char *line, size_t size, size_t *len)
{
	char *nl = memchr(t->in, '\n', t->have);
	size_t n, used;

	if (nl == NULL) {
		if (!t->in_eof || t->have == 0)
			return t->in_eof ? TERM_EOF : TERM_NONE;
		/* A last line without its newline, at end of input: still a line. */
		nl = t->in + t->have;
		used = t->have;
	} else {
		used = (size_t)(nl - t->in) + 1;
	}
	n = (size_t)(nl - t->in);
	if (n > 0 && t->in[n - 1] == '\r')
		n--;
	if (t->overlong || n + 1 > size) {
		t->overlong = 0;
		memmove(t->in, t->in + used, t->have - used);
		t->have -= used;
		return TERM_OVERLONG;
	}
	memcpy(line, t->in, n);
	line[n] = '\0';
	*len = n;
	memmove(t->in, t->in + used, t->have - used);
	t->have -= used;
	t->prompt_shown = 0;
	return TERM_GOT_LINE;
}

enum term_input term_read(struct term *t, int can_read, char *line, size_t size, size_t *len)
{
	enum term_input r;
	ssize_t n;

	if (t->mode == TERM_TUI)
		return read_tui(t, can_read, line, size, len);
	r = next_buffered(t, line, size, len);
	if (r != TERM_NONE || !can_read || t->in_eof)
		return r;
	n = read(STDIN_FILENO, t->in + t->have, TERM_INPUT_MAX - t->have);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return TERM_NONE;
	if (n <= 0) {
		t->in_eof = 1;
	} else {
		t->have += (size_t)n;
		if (t->have == TERM_INPUT_MAX && memchr(t->in, '\n', t->have) == NULL) {
			/* A line longer than we hold: drop what we have, refuse it when it ends. */
			t->overlong = 1;
			t->have = 0;
		}
	}
	return next_buffered(t, line, size, len);
}

int term_pending(const struct term *t)
{
	if (t->mode == TERM_TUI)
		return !t->eof && keys_length(t->keys, t->keys_len) > 0;
	return memchr(t->in, '\n', t->have) != NULL || (t->in_eof && t->have > 0);
}

void term_print(struct term *t, const char *line, int to_stderr)
{
	switch (t->mode) {
	case TERM_TUI:
		hide(t);
		fputs(line, t->out);
		fputs("\r\n", t->out);
		break;
	case TERM_LINE:
		/* No escapes here: return to column 0 over the prompt and write the line. */
		if (t->prompt_shown)
			fputs("\r", t->out);
		fputs(line, t->out);
		fputs("\n", t->out);
		t->prompt_shown = 0;
		break;
	case TERM_PLAIN:
		fputs(line, to_stderr ? stderr : t->out);
		fputs("\n", to_stderr ? stderr : t->out);
		fflush(to_stderr ? stderr : t->out);
		if (!to_stderr && ferror(t->out))
			t->out_failed = 1;
		break;
	}
}

void term_show(struct term *t)
{
	if (t->mode == TERM_TUI && t->hidden) {
		/*
		 * The window may have changed size before its SIGWINCH is read:
		 * draw for the size it has now, the size hide() measured with.
		 */
		el_resize(t->el);
		if (t->reset) {
			/* libedit's own way to start a new line: out of unbuffered mode and back.
			 */
			el_set(t->el, EL_UNBUFFERED, 0);
			el_set(t->el, EL_UNBUFFERED, 1);
			t->reset = 0;
		} else {
			el_set(t->el, EL_REFRESH);
		}
		t->hidden = 0;
	} else if (t->mode == TERM_LINE && !t->prompt_shown && !t->in_eof) {
		fputs(t->prompt, t->out);
		t->prompt_shown = 1;
	}
	fflush(t->out);
}

void term_set_prompt(struct term *t, const char *prompt)
{
	if (prompt == NULL || *prompt == '\0')
		prompt = PROMPT_DEFAULT;
	if (strcmp(prompt, t->prompt) == 0)
		return;
	/* Off the screen as it was laid out with the old prompt; term_show draws the new one. */
	hide(t);
	snprintf(t->prompt, sizeof t->prompt, "%s", prompt);
	utf8_to_wide(t->prompt, t->prompt_w, PROMPT_MAX);
}

void term_resize(struct term *t)
{
	if (t->mode != TERM_TUI)
		return;
	/* A terminal that reflows (tmux, most today) keeps the cursor on its character: measure
	 * anew. */
	hide(t);
	el_resize(t->el);
	term_show(t);
}

void term_suspend(struct term *t)
{
	if (t->mode != TERM_TUI)
		return;
	hide(t);
	fflush(t->out);
	if (tcgetattr(STDIN_FILENO, &t->raw) == 0 && t->saved_ok)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
}

void term_resume(struct term *t)
{
	if (t->mode != TERM_TUI)
		return;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &t->raw);
	el_resize(t->el);
	term_show(t);
}

void term_history_add(struct term *t, const char *line)
{
	static wchar_t wline[TERM_INPUT_MAX + 1];
	HistEventW ev;

	if (t->mode != TERM_TUI || t->hist == NULL || line[0] == '\0')
		return;
	utf8_to_wide(line, wline, sizeof wline / sizeof wline[0]);
	history_w(t->hist, &ev, H_ENTER, wline);
	/* Saved at once, so a killed qun loses nothing the user typed. */
	history_save(t);
}

void term_close(struct term *t)
{
	if (t->mode == TERM_TUI) {
		hide(t);
		fflush(t->out);
		history_save(t);
		el_end(t->el); /* puts back the settings libedit found */
		if (t->hist != NULL)
			history_wend(t->hist);
		if (t->saved_ok)
			tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
		restore_at_exit = NULL;
	} else if (t->mode == TERM_LINE && t->prompt_shown) {
		fputs("\r", t->out);
	}
	fflush(t->out);
	free(t);
}
