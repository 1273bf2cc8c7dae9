/* config.h - qund's configuration file: `key = value` lines, each key one of the long options. */
#ifndef QUN_CONFIG_H
#define QUN_CONFIG_H

#include <stddef.h>

/* Largest configuration file read, and longest line in it. */
#define CONFIG_MAX_FILE (64UL * 1024)
#define CONFIG_MAX_LINE 1024

/*
 * A key the file may set.  The table is the program's own list of long
 * options, so that every key is also a flag and they cannot drift apart:
 * `port = 9000` in the file means exactly `--port 9000`.
 */
struct config_key {
	const char *name;
	int takes_value; /* 0: a switch, whose value in the file is yes/no */
	int id;          /* passed back to apply() */
};

/*
 * Called once per setting, in file order.  value is NUL-terminated; for a
 * switch it is "yes" or "no" whatever spelling the file used.  Returns 0,
 * or -1 with a reason in err (which config_parse prefixes with the file
 * name and line number).
 */
typedef int (*config_apply_fn)(void *ctx, int id, const char *value, char *err, size_t errlen);

/*
 * Parse text[0..len) and call apply for every setting.  The grammar
 * (qund.conf(5)): one setting per line, `key = value`, blanks around key
 * and value ignored; a value may be wrapped in double quotes to keep its
 * leading or trailing blanks; empty lines and lines whose first non-blank
 * is '#' are comments; CRLF line ends are accepted.  Errors (unknown key,
 * missing '=' or value, a switch with a value that is not yes/no/true/
 * false/on/off/1/0, a NUL byte, a line over CONFIG_MAX_LINE) stop the
 * parse: returns -1 with "NAME:LINE: reason" in err, where NAME is fname.
 * Returns 0 when every line was applied.  Pure: no I/O.
 */
int config_parse(const char *text, size_t len, const char *fname, const struct config_key *keys,
                 size_t nkeys, config_apply_fn apply, void *ctx, char *err, size_t errlen);

/* Read the file at path (at most CONFIG_MAX_FILE bytes) and config_parse it. */
int config_load(const char *path, const struct config_key *keys, size_t nkeys,
                config_apply_fn apply, void *ctx, char *err, size_t errlen);

#endif
