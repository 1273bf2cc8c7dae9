/* term.h - the UI's terminal: a libedit input line kept below incoming lines, or plain lines. */
#ifndef QUN_TERM_H
#define QUN_TERM_H

#include <stddef.h>

/* Longest input line taken; a longer one is refused whole, never cut and sent in part. */
#define TERM_INPUT_MAX 4096

enum term_mode {
	TERM_TUI,   /* stdin and stdout a terminal that takes escapes: libedit, redraws, colour */
	TERM_LINE,  /* a terminal that does not (TERM=dumb or unset): the kernel edits lines,
	               qun writes no escape sequence at all */
	TERM_PLAIN, /* stdin or stdout is not a terminal: one line in, one line out, no prompt */
};

/* The mode the environment calls for. */
enum term_mode term_detect(void);

/*
 * Where the input history is kept: $XDG_STATE_HOME/qun/history, or
 * ~/.local/state/qun/history when XDG_STATE_HOME is unset or not an
 * absolute path.  Writes the path to buf; returns 0, or -1 if there is no
 * home directory to put it in or buf is too small.
 */
int term_history_path(char *buf, size_t size);

/*
 * Tab completion, answered by the UI: word[0..len) is the word before the
 * cursor (UTF-8), line_start says whether it starts the line.  Return 0
 * for nothing to complete (the terminal beeps), or TERM_COMPLETE_REPLACE
 * to put repl in the word's place, and/or TERM_COMPLETE_SHOW to show the
 * line `show` (the candidates) above the input line.
 */
#define TERM_COMPLETE_REPLACE 1
#define TERM_COMPLETE_SHOW    2
typedef int (*term_complete_fn)(void *arg, const char *word, size_t len, int line_start, char *repl,
                                size_t replsz, char *show, size_t showsz);

struct term;

/*
 * Take over the terminal in the given mode.  In TUI mode: libedit in its
 * unbuffered mode on stdin and stdout (emacs keys, history from
 * history_path if not NULL, completion through complete), the prompt
 * drawn; the terminal's settings are saved and restored by term_close(),
 * and by an atexit() handler should the program end another way.  If
 * libedit cannot start, LINE mode is used instead.  Never returns NULL.
 */
struct term *term_open(enum term_mode mode, const char *history_path, term_complete_fn complete,
                       void *arg);

enum term_mode term_mode(const struct term *t);

enum term_input {
	TERM_NONE,     /* nothing complete yet */
	TERM_GOT_LINE, /* line holds one line, without its ending, NUL-terminated */
	TERM_EOF,      /* end of input: Ctrl-D on an empty line, or stdin closed */
	TERM_OVERLONG, /* a line longer than TERM_INPUT_MAX was typed, and dropped */
};

/*
 * Take input.  With can_read, stdin is readable (poll said so) and is read
 * once (in TUI mode: every key waiting); without, only lines already read
 * are returned.  Returns one line per call: call it again (without
 * can_read) until TERM_NONE.
 */
enum term_input term_read(struct term *t, int can_read, char *line, size_t size, size_t *len);

/*
 * Whether input already read waits to be handled: whole keys (TUI mode,
 * where term_read hands libedit at most 4,096 keys per call, so a long
 * paste takes several) or a complete line.  The caller must then call
 * term_read without waiting for stdin: nothing more may ever come there.
 */
int term_pending(const struct term *t);

/*
 * Show one line above the input line: `line` must already be safe for the
 * terminal (see render.h) and carry no line ending.  In TUI mode the input
 * line is taken off the screen first and comes back at term_show(); in
 * plain mode to_stderr sends it to stderr.  Flushes only at term_show().
 */
void term_print(struct term *t, const char *line, int to_stderr);

/*
 * Whether a line could not be written to standard output in plain mode
 * (whoever read it is gone: a closed pipe, a full disk).  The room's lines
 * would be lost from then on, so the UI leaves.
 */
int term_output_failed(const struct term *t);

/* Bring back the input line (or the prompt) after term_print()s or input, and flush. */
void term_show(struct term *t);

/*
 * The prompt before the input line (TUI and LINE modes; plain mode has
 * none): prompt must be safe for the terminal (see render.h); NULL or ""
 * puts back the default, "> ".  A longer prompt than 127 bytes is cut.
 * The new prompt is drawn at the next term_show() (LINE mode: the next
 * time the prompt is written).
 */
void term_set_prompt(struct term *t, const char *prompt);

/* The window changed size: redraw the input line for the new width. */
void term_resize(struct term *t);

/* Before the process stops (Ctrl-Z): the terminal as it was.  After: ours again. */
void term_suspend(struct term *t);
void term_resume(struct term *t);

/* Remember a line the user entered (TUI mode), in memory and in the history file. */
void term_history_add(struct term *t, const char *line);

/* Give the terminal back as it was found (input line off the screen, settings restored) and free t.
 */
void term_close(struct term *t);

#endif
