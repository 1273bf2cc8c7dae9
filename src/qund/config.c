/* config.c - parse qund.conf(5): `key = value` lines, applied through the option table. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const struct config_key *lookup(const struct config_key *keys, size_t nkeys, const char *k,
                                       size_t n)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, k, n) == 0)
			return &keys[i];
	return NULL;
}

/* "yes" or "no" for the spellings of a switch's value; NULL for anything else. */
static const char *switch_value(const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcmp(v, yes[i]) == 0)
			return "yes";
		if (strcmp(v, no[i]) == 0)
			return "no";
	}
	return NULL;
}

/*
 * Parse one line (no line end) and apply it.  Returns 0, or -1 with the
 * reason (without the file and line) in err.
 */
static int parse_line(const char *line, size_t n, const struct config_key *keys, size_t nkeys,
                      config_apply_fn apply, void *ctx, char *err, size_t errlen)
{
	char value[CONFIG_MAX_LINE + 1];
	const struct config_key *key;
	const char *eq, *v;
	size_t ks, ke, vs, ve;

	for (ks = 0; ks < n && is_blank(line[ks]); ks++)
		;
	if (ks == n || line[ks] == '#')
		return 0;
	eq = memchr(line, '=', n);
	if (eq == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	for (ke = (size_t)(eq - line); ke > ks && is_blank(line[ke - 1]); ke--)
		;
	if (ke == ks) {
		snprintf(err, errlen, "missing key before '='");
		return -1;
	}
	key = lookup(keys, nkeys, line + ks, ke - ks);
	if (key == NULL) {
		snprintf(err, errlen, "unknown key \"%.*s\"", (int)(ke - ks > 64 ? 64 : ke - ks),
		         line + ks);
		return -1;
	}
	for (vs = (size_t)(eq - line) + 1; vs < n && is_blank(line[vs]); vs++)
		;
	for (ve = n; ve > vs && is_blank(line[ve - 1]); ve--)
		;
	if (ve - vs >= 2 && line[vs] == '"' && line[ve - 1] == '"') {
		vs++;
		ve--;
	} else if (ve == vs) {
		snprintf(err, errlen, "missing value for \"%s\"", key->name);
		return -1;
	}
	memcpy(value, line + vs, ve - vs);
	value[ve - vs] = '\0';
	v = value;
	if (!key->takes_value) {
		v = switch_value(value);
		if (v == NULL) {
			snprintf(err, errlen,
			         "\"%s\" is a switch: expected yes or no, got \"%.64s\"", key->name,
			         value);
			return -1;
		}
	}
	return apply(ctx, key->id, v, err, errlen);
}

int config_parse(const char *text, size_t len, const char *fname, const struct config_key *keys,
                 size_t nkeys, config_apply_fn apply, void *ctx, char *err, size_t errlen)
{
	char why[512];
	size_t start = 0, lineno = 0;

	if (memchr(text, '\0', len) != NULL) {
		const char *z = memchr(text, '\0', len);
		size_t i;

		for (i = 0, lineno = 1; text + i < z; i++)
			lineno += text[i] == '\n';
		snprintf(err, errlen, "%s:%zu: NUL byte in the file", fname, lineno);
		return -1;
	}
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - text) : len, n = end - start;

		lineno++;
		if (n > 0 && text[end - 1] == '\r')
			n--;
		if (n > CONFIG_MAX_LINE) {
			snprintf(err, errlen, "%s:%zu: line longer than %d bytes", fname, lineno,
			         CONFIG_MAX_LINE);
			return -1;
		}
		why[0] = '\0';
		if (parse_line(text + start, n, keys, nkeys, apply, ctx, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", fname, lineno, why);
			return -1;
		}
		start = end + 1;
	}
	return 0;
}

int config_load(const char *path, const struct config_key *keys, size_t nkeys,
                config_apply_fn apply, void *ctx, char *err, size_t errlen)
{
	char *text;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = xmalloc(CONFIG_MAX_FILE + 1);
	for (;;) {
		n = read(fd, text + len, CONFIG_MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			free(text);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE) {
			snprintf(err, errlen, "%s: larger than %lu bytes", path, CONFIG_MAX_FILE);
			close(fd);
			free(text);
			return -1;
		}
	}
	close(fd);
	rc = config_parse(text, len, path, keys, nkeys, apply, ctx, err, errlen);
	free(text);
	return rc;
}
