/* test_config.c - unit tests of src/qund/config.c: the `key = value` grammar and its errors, with
 * line numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qund/config.h"

enum { K_PORT = 1, K_BIND, K_DAEMON, K_LOG };

static const struct config_key keys[] = {
    {"port", 1, K_PORT},
    {"bind", 1, K_BIND},
    {"daemon", 0, K_DAEMON},
    {"log", 1, K_LOG},
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* What apply() saw, in order. */
struct seen {
	int n;
	int id[16];
	char value[16][CONFIG_MAX_LINE + 1];
	int refuse_id; /* apply() fails for this id */
};

static int apply(void *ctx, int id, const char *value, char *err, size_t errlen)
{
	struct seen *s = ctx;

	if (id == s->refuse_id) {
		snprintf(err, errlen, "bad value \"%s\"", value);
		return -1;
	}
	assert_true(s->n < 16);
	s->id[s->n] = id;
	snprintf(s->value[s->n], sizeof s->value[0], "%s", value);
	s->n++;
	return 0;
}

static int parse(const char *text, struct seen *s, char *err, size_t errlen)
{
	return config_parse(text, strlen(text), "test.conf", keys, NKEYS, apply, s, err, errlen);
}

static void empty_file_is_fine(void **state)
{
	struct seen s = {0};
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 0);
}

static void settings_in_file_order(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port = 9000\nbind=127.0.0.1\n", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.id[0], K_PORT);
	assert_string_equal(s.value[0], "9000");
	assert_int_equal(s.id[1], K_BIND);
	assert_string_equal(s.value[1], "127.0.0.1");
}

static void blanks_around_key_and_value_are_ignored(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("  \tport\t =   9000  \t\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "9000");
}

static void comments_and_blank_lines(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("# qund.conf\n\n   \n\t# port = 1\nport = 2\n", &s, err, sizeof err),
	                 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.value[0], "2");
}

static void hash_inside_value_is_kept(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("log = /var/log/qun#1.log\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "/var/log/qun#1.log");
}

static void value_may_contain_equals_and_spaces(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("log = /tmp/a b=c.log\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "/tmp/a b=c.log");
}

static void quotes_keep_blanks(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("log = \" /tmp/x \"\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], " /tmp/x ");
}

static void crlf_line_ends(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port = 1\r\nbind = ::1\r\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "1");
	assert_string_equal(s.value[1], "::1");
}

static void last_line_without_newline(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port = 1\nport = 7", &s, err, sizeof err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.value[1], "7");
}

static void switch_spellings(void **state)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	char text[64], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct seen s = {0};

		snprintf(text, sizeof text, "daemon = %s\n", yes[i]);
		assert_int_equal(parse(text, &s, err, sizeof err), 0);
		assert_string_equal(s.value[0], "yes");
		snprintf(text, sizeof text, "daemon = %s\n", no[i]);
		assert_int_equal(parse(text, &s, err, sizeof err), 0);
		assert_string_equal(s.value[1], "no");
	}
}

static void switch_with_other_value_is_an_error(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port = 1\ndaemon = maybe\n", &s, err, sizeof err), -1);
	assert_string_equal(
	    err, "test.conf:2: \"daemon\" is a switch: expected yes or no, got \"maybe\"");
}

static void unknown_key_names_line(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port = 1\n\n# c\nprot = 2\nport = 3\n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:4: unknown key \"prot\"");
	/* It stops there: nothing after the bad line was applied. */
	assert_int_equal(s.n, 1);
}

static void key_match_is_exact(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("Port = 1\n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:1: unknown key \"Port\"");
	assert_int_equal(parse("por = 1\n", &s, err, sizeof err), -1);
	assert_int_equal(parse("portx = 1\n", &s, err, sizeof err), -1);
}

static void missing_equals(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port 9000\n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:1: expected \"key = value\"");
}

static void missing_key(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("\n = 9000\n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:2: missing key before '='");
}

static void missing_value(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("port =   \n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:1: missing value for \"port\"");
}

static void empty_quotes_are_an_empty_value(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(parse("log = \"\"\n", &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "");
}

static void apply_error_gets_line_number(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	s.refuse_id = K_BIND;
	assert_int_equal(parse("port = 1\nbind = nowhere\n", &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:2: bad value \"nowhere\"");
}

static void nul_byte_is_an_error(void **state)
{
	struct seen s = {0};
	char err[256];
	static const char text[] = "port = 1\nbind = a\0b\n";

	(void)state;
	assert_int_equal(config_parse(text, sizeof text - 1, "test.conf", keys, NKEYS, apply, &s,
	                              err, sizeof err),
	                 -1);
	assert_string_equal(err, "test.conf:2: NUL byte in the file");
	assert_int_equal(s.n, 0);
}

static void over_long_line_is_an_error(void **state)
{
	struct seen s = {0};
	char err[256];
	char *text = malloc(CONFIG_MAX_LINE + 32);

	(void)state;
	memcpy(text, "log = ", 6);
	memset(text + 6, 'x', CONFIG_MAX_LINE);
	strcpy(text + 6 + CONFIG_MAX_LINE, "\n");
	assert_int_equal(parse(text, &s, err, sizeof err), -1);
	assert_string_equal(err, "test.conf:1: line longer than 1024 bytes");
	free(text);
}

static void longest_line_is_fine(void **state)
{
	struct seen s = {0};
	char err[256];
	char *text = malloc(CONFIG_MAX_LINE + 32);

	(void)state;
	memcpy(text, "log = ", 6);
	memset(text + 6, 'x', CONFIG_MAX_LINE - 6);
	strcpy(text + CONFIG_MAX_LINE, "\n");
	assert_int_equal(parse(text, &s, err, sizeof err), 0);
	assert_int_equal(strlen(s.value[0]), CONFIG_MAX_LINE - 6);
	free(text);
}

static void long_unknown_key_is_cut_in_message(void **state)
{
	struct seen s = {0};
	char err[256], text[300];

	(void)state;
	memset(text, 'k', 200);
	strcpy(text + 200, " = 1\n");
	assert_int_equal(parse(text, &s, err, sizeof err), -1);
	assert_true(strlen(err) < 120);
}

static void load_reads_a_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", err[256];
	struct seen s = {0};
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "port = 4242\n", 12), 12);
	close(fd);
	assert_int_equal(config_load(path, keys, NKEYS, apply, &s, err, sizeof err), 0);
	assert_string_equal(s.value[0], "4242");
	unlink(path);
}

static void load_missing_file(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(
	    config_load("/nonexistent/qund.conf", keys, NKEYS, apply, &s, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent/qund.conf: No such file or directory");
}

static void load_refuses_huge_file(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX", err[256];
	struct seen s = {0};
	char *junk = calloc(1, CONFIG_MAX_FILE + 1);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	memset(junk, '\n', CONFIG_MAX_FILE + 1);
	assert_int_equal(write(fd, junk, CONFIG_MAX_FILE + 1), CONFIG_MAX_FILE + 1);
	close(fd);
	assert_int_equal(config_load(path, keys, NKEYS, apply, &s, err, sizeof err), -1);
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
	free(junk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_file_is_fine),
	    cmocka_unit_test(settings_in_file_order),
	    cmocka_unit_test(blanks_around_key_and_value_are_ignored),
	    cmocka_unit_test(comments_and_blank_lines),
	    cmocka_unit_test(hash_inside_value_is_kept),
	    cmocka_unit_test(value_may_contain_equals_and_spaces),
	    cmocka_unit_test(quotes_keep_blanks),
	    cmocka_unit_test(crlf_line_ends),
	    cmocka_unit_test(last_line_without_newline),
	    cmocka_unit_test(switch_spellings),
	    cmocka_unit_test(switch_with_other_value_is_an_error),
	    cmocka_unit_test(unknown_key_names_line),
	    cmocka_unit_test(key_match_is_exact),
	    cmocka_unit_test(missing_equals),
	    cmocka_unit_test(missing_key),
	    cmocka_unit_test(missing_value),
	    cmocka_unit_test(empty_quotes_are_an_empty_value),
	    cmocka_unit_test(apply_error_gets_line_number),
	    cmocka_unit_test(nul_byte_is_an_error),
	    cmocka_unit_test(over_long_line_is_an_error),
	    cmocka_unit_test(longest_line_is_fine),
	    cmocka_unit_test(long_unknown_key_is_cut_in_message),
	    cmocka_unit_test(load_reads_a_file),
	    cmocka_unit_test(load_missing_file),
	    cmocka_unit_test(load_refuses_huge_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
