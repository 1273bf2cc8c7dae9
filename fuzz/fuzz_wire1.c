/* fuzz_wire1.c - libFuzzer harness for protocol v1's parser and formatters (src/proto/wire1.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "proto/wire1.h"
#include "fuzzlib.h"

/* A NUL-terminated copy of s[0..n), so it can go where a C string is expected. */
static char *cstr(const char *s, size_t n)
{
	char *c = malloc(n + 1);

	FZ_CHECK(c != NULL, "out of memory");
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

/*
 * A request that parsed: its fields lie inside the datagram, follow the
 * grammar of docs/PROTOCOL.md, and, when they pass the name and text
 * rules, format back into a request that parses to the same fields.
 */
static void check_request(const char *buf, size_t len, const struct v1_request *req)
{
	char out[QUN_MAX_DATAGRAM + 1];
	struct v1_request again;
	char *name, *text = NULL, part[16];
	int n;

	FZ_CHECK(req->cmd == V1_LOGIN || req->cmd == V1_CHAT || req->cmd == V1_QUIT ||
	             req->cmd == V1_PING || req->cmd == V1_WHO || req->cmd == V1_ACTION,
	         "cmd %d", req->cmd);
	FZ_CHECK((int)req->cmd == buf[0], "cmd %c from a datagram starting %c", req->cmd, buf[0]);
	FZ_CHECK(req->name > buf && req->name_len > 0 && req->name + req->name_len <= buf + len,
	         "name outside the datagram");
	FZ_CHECK(req->name == buf + 2, "name does not start after the command and its space");
	if (req->cmd == V1_CHAT || req->cmd == V1_ACTION) {
		FZ_CHECK(req->text != NULL && req->text_len > 0 &&
		             req->text == req->name + req->name_len + 1 &&
		             req->text + req->text_len <= buf + len,
		         "text outside the datagram");
		FZ_CHECK(memchr(req->name, ' ', req->name_len) == NULL, "space in a C or A name");
	} else {
		FZ_CHECK(req->text == NULL && req->text_len == 0, "text on a %c", req->cmd);
		FZ_CHECK(req->name[req->name_len - 1] != ' ', "trailing space kept in the name");
	}
	if (name_check(req->name, req->name_len) != NAME_OK)
		return;
	if ((req->cmd == V1_CHAT || req->cmd == V1_ACTION) &&
	    text_check(req->text, req->text_len) != TEXT_OK)
		return;
	name = cstr(req->name, req->name_len);
	if (req->text != NULL)
		text = cstr(req->text, req->text_len);
	if (req->cmd == V1_WHO && req->part > 0) {
		FZ_CHECK(req->part <= V1_WHO_MAX_PARTS, "W part %u accepted", req->part);
		snprintf(part, sizeof part, "%u", req->part);
		text = strdup(part);
		FZ_CHECK(text != NULL, "out of memory");
	}
	n = v1_format_request(out, sizeof out, req->cmd, name, text, 0);
	FZ_CHECK(n > 0, "a valid request does not format");
	FZ_CHECK(v1_parse(out, (size_t)n, &again) == V1_OK, "formatted request does not parse");
	FZ_CHECK(again.cmd == req->cmd && again.name_len == req->name_len &&
	             memcmp(again.name, req->name, req->name_len) == 0,
	         "name changed in a round trip");
	FZ_CHECK(again.text_len == req->text_len &&
	             (req->text == NULL || memcmp(again.text, req->text, req->text_len) == 0),
	         "text changed in a round trip");
	FZ_CHECK(again.cmd != V1_WHO || again.part == req->part, "W part changed in a round trip");
	free(name);
	free(text);
}

/* Format every event with the input as name and text into a buffer of a chosen size. */
static void check_events(const char *buf, size_t len, size_t size)
{
	char *name = cstr(buf, len < QUN_MAX_NAME ? len : QUN_MAX_NAME);
	char *out = malloc(size + 1);
	int ev, lang, n;

	FZ_CHECK(out != NULL, "out of memory");
	for (lang = LANG_ZH; lang <= LANG_EN; lang++) {
		for (ev = EV_JOIN; ev <= EV_ACTION + 1; ev++) {
			n = v1_format_event(out, size, (enum lang)lang, (enum room_event)ev, name,
			                    buf, len);
			if (ev > EV_ACTION || size == 0) {
				FZ_CHECK(n == -1, "event %d formatted into %zu bytes", ev, size);
				continue;
			}
			if (n < 0)
				continue;
			FZ_CHECK((size_t)n < size && out[n] == '\0', "event %d: %d bytes in %zu",
			         ev, n, size);
		}
	}
	free(out);
	free(name);
}

/*
 * What a client makes of the line as a server's (v1_parse_event,
 * v1_parse_who): a recognised event names a valid name inside the line,
 * its text inside the line too; a WHO answer's parts are in range.
 */
static void check_client_side(const char *buf, size_t len)
{
	struct v1_line l;
	struct v1_who w;

	if (v1_parse_event(buf, len, &l) == 0) {
		FZ_CHECK(l.ev <= EV_ACTION, "event %d recognised", l.ev);
		if (l.name != NULL)
			FZ_CHECK(l.name == buf + l.name_at && l.name_at + l.name_len <= len &&
			             name_check(l.name, l.name_len) == NAME_OK,
			         "a recognised event's name is not a valid name in the line");
		if (l.text != NULL)
			FZ_CHECK(l.text >= buf && l.text + l.text_len <= buf + len &&
			             l.text_len > 0,
			         "a recognised event's text is not in the line");
	}
	if (v1_parse_who(buf, len, &w) == 0)
		FZ_CHECK(w.part >= 1 && w.part <= w.parts && w.parts <= V1_WHO_MAX_PARTS &&
		             w.names + w.names_len == buf + len,
		         "WHO part %u/%u accepted", w.part, w.parts);
	(void)v1_is_refusal(buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct v1_request req;
	enum v1_status st;

	memset(&req, 0xA5, sizeof req);
	st = v1_parse(buf, size, &req);
	FZ_CHECK(st <= V1_NO_TEXT, "status %d", st);
	FZ_CHECK(v1_status_str(st) != NULL, "no string for status %d", st);
	if (size > QUN_MAX_DATAGRAM)
		FZ_CHECK(st == V1_TOO_LONG, "%zu bytes accepted", size);
	if (st == V1_OK) {
		FZ_CHECK(utf8_valid(buf, size), "invalid UTF-8 parsed");
		check_request(buf, size, &req);
	}
	if (size > 0)
		check_events(buf + 1, size - 1, (size_t)data[0] * 8);
	check_client_side(buf, size);
	return 0;
}
