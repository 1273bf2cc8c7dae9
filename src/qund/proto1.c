/* proto1.c - qund's protocol v1 layer: parse the lesson's text datagrams, reply, and relay as text
 * lines. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/text.h"
#include "proto/wire1.h"
#include "proto/wire2.h"
#include "proto1.h"
#include "sanction.h"
#include "server.h"

/*
 * The most qund sends to a source address it has not validated, in answer
 * to one request of req_len bytes: QUIC's anti-amplification limit (RFC
 * 9000, section 8), AMPLIFY times what that source sent.  It bounds every
 * refusal to an address that is not a member, and the whole answer to a
 * W: v1 source addresses are spoofable, a member's as much as a
 * stranger's (docs/PROTOCOL.md, "No amplification"; THREATS.md S3).
 */
#define AMPLIFY ((size_t)3)

static size_t reply_budget(size_t req_len)
{
	return AMPLIFY * (req_len < QUN_MAX_DATAGRAM ? req_len : (size_t)QUN_MAX_DATAGRAM);
}

/*
 * Refuse a W within its budget: what v1_reply does for a stranger (the
 * reason if it fits, else ERR, else nothing), even to a member.
 */
static void refuse_who(struct server *s, struct outcome *o, size_t req_len)
{
	o->reply_to_member = 0;
	server_deliver(s, o, req_len);
}

/* A request that failed to parse: refuse with a reason, or drop, per docs/PROTOCOL.md. */
static void refuse_malformed(struct server *s, const struct peer_addr *from, const char *buf,
                             size_t len, enum v1_status st)
{
	const struct member *m = room_find_addr(s->room, from);
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.reply_to = *from;
	o.reply_to_member = m != NULL;
	o.reply_proto = m != NULL ? m->proto : 1;
	o.reply_data = m != NULL ? m->data : NULL;
	o.reply = REPLY_ERR;
	o.err = QERR_BAD_REQUEST;
	if (st == V1_TOO_LONG)
		o.err = QERR_TOO_LONG;
	else if (st == V1_NO_NAME && buf[0] == V1_LOGIN) {
		o.err = QERR_NAME_INVALID;
		o.err_detail = NAME_EMPTY;
	} else if (st == V1_BAD_UTF8 && buf[0] == V1_LOGIN) {
		o.err = QERR_NAME_INVALID;
		o.err_detail = NAME_BAD_UTF8;
	} else if (st == V1_BAD_UTF8 && (buf[0] == V1_CHAT || buf[0] == V1_ACTION)) {
		o.err = QERR_TEXT_INVALID;
		o.err_detail = TEXT_BAD_UTF8;
	} else if (st == V1_NO_TEXT) {
		o.err = QERR_TEXT_INVALID;
		o.err_detail = TEXT_EMPTY;
	}
	/* A malformed W, even from a member's address, is held to the W's budget (send_who). */
	if (len > 0 && buf[0] == V1_WHO && o.reply_to_member) {
		refuse_who(s, &o, len);
		return;
	}
	/* Strangers get an answer only to a login attempt of sane size; the rest is noise. */
	if (!o.reply_to_member && (len == 0 || buf[0] != V1_LOGIN || st == V1_TOO_LONG)) {
		o.reply = REPLY_NONE;
		o.drop = st == V1_TOO_LONG ? DROP_TOO_LONG : DROP_MALFORMED;
	}
	server_deliver(s, &o, len);
}

/*
 * The operator's bans and mutes (sanction.h), asked before the room sees
 * a parsed request.  A banned address gets nothing but a refusal to its
 * logins; a banned name cannot log in; a muted member's chat is refused
 * to it and relayed to nobody.  (A member caught by a new ban was kicked
 * when the ban was made.)  Returns 1 if the request ends here.
 */
static int v1_sanctioned(struct server *s, const struct peer_addr *from,
                         const struct v1_request *req, size_t req_len, uint64_t now)
{
	const struct member *m = room_find_addr(s->room, from);
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.reply_to = *from;
	o.reply_to_member = m != NULL;
	o.reply_proto = 1;
	if (sanction_is_banned(s->sanctions, req->cmd == V1_LOGIN ? req->name : NULL, req->name_len,
	                       from, now)) {
		s->st.sdrops[SDROP_BANNED]++;
		if (req->cmd == V1_LOGIN) {
			o.reply = REPLY_ERR;
			o.err = QERR_BANNED;
		}
	} else if ((req->cmd == V1_CHAT || req->cmd == V1_ACTION) && m != NULL &&
	           sanction_is_muted(s->sanctions, m->name, strlen(m->name), now)) {
		s->st.sdrops[SDROP_MUTED]++;
		o.reply = REPLY_ERR;
		o.err = QERR_MUTED;
	} else {
		return 0;
	}
	server_deliver(s, &o, req_len);
	return 1;
}

/*
 * W name [part] (docs/PROTOCOL.md, "Extensions"): one part of the member
 * list, to the member who asked and to nobody else, in one datagram of at
 * most reply_budget(req_len) bytes.  Without a part number it is part 1;
 * past the last part, the last.  Only from the address that owns the name;
 * a W for part 1 costs a flood-control token (it starts a list), a W for a
 * later part does not (room_who), since its answer is bounded anyway.
 */
static void send_who(struct server *s, const struct peer_addr *from, const struct v1_request *req,
                     uint64_t now, size_t req_len)
{
	static const char *names[V1_WHO_MAX_NAMES];
	char buf[QUN_MAX_DATAGRAM + 1];
	size_t i, total, count = 0;
	unsigned part = req->part > 1 ? req->part : 1, parts;
	struct outcome o;
	int n;

	if (room_who(s->room, from, req->name, req->name_len, part == 1, now, &o) == NULL) {
		refuse_who(s, &o, req_len);
		return;
	}
	total = room_count(s->room);
	for (i = 0; i < total && count < V1_WHO_MAX_NAMES; i++)
		names[count++] = room_member(s->room, i)->name;
	parts = v1_who_parts(names, count);
	if (part > parts)
		part = parts; /* the room shrank since the asker learnt the number of parts */
	n = v1_format_who_part(buf, sizeof buf, reply_budget(req_len), part, total, names, count);
	if (n > 0)
		server_send(s, from, buf, (size_t)n);
}

static void v1_handle(struct server *s, const struct peer_addr *from, const uint8_t *data,
                      size_t len)
{
	const char *buf = (const char *)data;
	struct v1_request req;
	struct outcome o;
	enum v1_status st;
	uint64_t now = server_now(s);
	const struct member *m;

	/*
	 * A v2 member's address speaking v1 is a forgery (v1 trusts source
	 * addresses; v2 members must not inherit that weakness): drop it.
	 */
	m = room_find_addr(s->room, from);
	if (m != NULL && m->proto == 2) {
		s->st.drops[DROP_WRONG_NAME]++;
		return;
	}
	st = v1_parse(buf, len, &req);
	if (st != V1_OK) {
		refuse_malformed(s, from, buf, len, st);
		return;
	}
	if (v1_sanctioned(s, from, &req, len, now))
		return;
	switch (req.cmd) {
	case V1_LOGIN:
		/* v1 logins are contained: their own cap, rate and short leash (room.h). */
		room_join_v1(s->room, from, req.name, req.name_len, now, &o);
		break;
	case V1_CHAT:
		room_say(s->room, from, req.name, req.name_len, req.text, req.text_len, now, &o);
		break;
	case V1_QUIT:
		room_quit(s->room, from, req.name, req.name_len, now, &o);
		break;
	case V1_WHO:
		send_who(s, from, &req, now, len);
		return;
	case V1_ACTION:
		/* Checked and relayed like C, shown as "* NAME TEXT" (PROTOCOL.md, "Extensions").
		 */
		room_say(s->room, from, req.name, req.name_len, req.text, req.text_len, now, &o);
		if (o.has_event)
			o.event = EV_ACTION;
		break;
	case V1_PING:
	default:
		room_ping(s->room, from, req.name, req.name_len, now, &o);
		break;
	}
	server_deliver(s, &o, len);
}

/*
 * Send the v1 reply an outcome asks for.  A refusal to an address that is
 * not a member is at most reply_budget(req_len) bytes, req_len being the
 * size of the request that caused it: if the reason does not fit, "ERR"
 * goes instead, or nothing.  The refusal texts a login can meet are short
 * (i18n.c) so that the lesson's clients, which never pad, read the reason.
 */
static void v1_reply(struct server *s, const struct outcome *o, size_t req_len)
{
	const char *text;
	size_t len;

	switch (o->reply) {
	case REPLY_NONE:
		return;
	case REPLY_OK:
		text = V1_REPLY_OK;
		break;
	case REPLY_EXIT:
		text = V1_REPLY_EXIT;
		break;
	case REPLY_ERR:
	default:
		text = qerr_text(s->lang, o->err, o->err_detail);
		break;
	}
	len = strlen(text);
	if (!o->reply_to_member && len > reply_budget(req_len)) {
		text = V1_REPLY_ERR;
		len = strlen(text);
		if (len > reply_budget(req_len))
			return;
	}
	server_send(s, &o->reply_to, text, len);
}

/*
 * Queue one line for every v1 member but `exclude`.  It leaves with the
 * other datagrams of this receive batch, SERVER_BATCH per sendmmsg()
 * (server_flush() runs after every batch, tick and console command), so a
 * small room's broadcasts share system calls instead of paying one each.
 * A failed recipient is skipped and counted; the rest still get it.
 */
static void send_line_to_v1(struct server *s, const char *buf, size_t len,
                            const struct member *exclude)
{
	size_t i, total = room_count(s->room);

	for (i = 0; i < total; i++) {
		const struct member *m = room_member(s->room, i);

		if (m != exclude && m->proto != 2)
			server_queue(s, &m->addr, buf, len);
	}
}

/*
 * The event as v1 text lines, formatted once for all v1 members.  A v2
 * member's text may be longer than a v1 line allows: it goes out as
 * several lines of at most QUN_MAX_TEXT bytes, cut between characters.
 */
static void v1_broadcast(struct server *s, const struct outcome *o)
{
	char line[QUN_MAX_DATAGRAM + 1];
	const char *text = o->text;
	size_t left = o->text_len;
	int n;

	do {
		size_t chunk = text != NULL ? utf8_prefix(text, left, QUN_MAX_TEXT) : 0;

		if (chunk == 0 && left > 0)
			return; /* cannot happen with valid UTF-8; never loop on bad input */
		n = v1_format_event(line, sizeof line, s->lang, o->event, o->name, text, chunk);
		if (n < 0 || n > QUN_MAX_DATAGRAM) {
			log_warnx("event for %s does not fit in a datagram; not sent", o->name);
			return;
		}
		send_line_to_v1(s, line, (size_t)n, o->exclude);
		text = text != NULL ? text + chunk : NULL;
		left -= chunk;
	} while (left > 0);
}

/* Tell every v1 member the server is closing, then EXIT, so their clients end cleanly. */
static void v1_goodbye(struct server *s)
{
	char line[QUN_MAX_DATAGRAM + 1];
	int n = v1_format_event(line, sizeof line, s->lang, EV_SHUTDOWN, "", NULL, 0);

	if (n > 0)
		send_line_to_v1(s, line, (size_t)n, NULL);
	send_line_to_v1(s, V1_REPLY_EXIT, strlen(V1_REPLY_EXIT), NULL);
	server_flush(s);
}

const struct proto_ops proto1_ops = {
    .handle = v1_handle,
    .reply = v1_reply,
    .broadcast = v1_broadcast,
    .goodbye = v1_goodbye,
};
