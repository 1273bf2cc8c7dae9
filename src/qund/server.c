/* server.c - qund's core: sending through the io table, carrying out the room's outcomes. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/sizes.h"
#include "channel.h"
#include "server.h"

/* The send queue: one slot per datagram, its bytes and its address copied in. */
static struct {
	struct mmsghdr msgs[SERVER_BATCH];
	struct iovec iov[SERVER_BATCH];
	struct peer_addr to[SERVER_BATCH];
	uint8_t buf[SERVER_BATCH][QUN_MAX_DATAGRAM];
	unsigned n;
	int ready; /* the headers point at their slots: see queue_init() */
} q;

uint64_t server_now(const struct server *s)
{
	return s->io->now_ms(s->io->ctx);
}

/* Send msgs[0..count) through io->send; a datagram that fails is counted and skipped. */
static void send_all(struct server *s, struct mmsghdr *msgs, unsigned count)
{
	unsigned done = 0;

	while (done < count) {
		int n = s->io->send(s->io->ctx, msgs + done, count - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The first of the rest failed: count it, go on after it. */
			s->st.send_errors++;
			done++;
		} else {
			s->st.datagrams_out += (uint64_t)n;
			done += (unsigned)n;
		}
	}
}

void server_flush(struct server *s)
{
	if (q.n > 0 && s->keep != NULL)
		s->keep->commit(s); /* nothing leaves before what it shows is kept */
	send_all(s, q.msgs, q.n);
	q.n = 0;
}

/* Point each slot's header at its own address and buffer, once. */
static void queue_init(void)
{
	unsigned i;

	for (i = 0; i < SERVER_BATCH; i++) {
		q.iov[i].iov_base = q.buf[i];
		q.msgs[i].msg_hdr.msg_name = &q.to[i].sa;
		q.msgs[i].msg_hdr.msg_iov = &q.iov[i];
		q.msgs[i].msg_hdr.msg_iovlen = 1;
	}
	q.ready = 1;
}

void server_queue(struct server *s, const struct peer_addr *to, const void *buf, size_t len)
{
	unsigned i = q.n;

	if (len > QUN_MAX_DATAGRAM)
		return;
	if (!q.ready)
		queue_init();
	memcpy(q.buf[i], buf, len);
	q.to[i] = *to;
	q.iov[i].iov_len = len;
	q.msgs[i].msg_hdr.msg_namelen = to->len;
	if (++q.n == SERVER_BATCH)
		server_flush(s);
}

void server_send(struct server *s, const struct peer_addr *to, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	struct mmsghdr m = {.msg_hdr = {.msg_name = (void *)(uintptr_t)&to->sa,
	                                .msg_namelen = to->len,
	                                .msg_iov = &iov,
	                                .msg_iovlen = 1}};

	if (q.n > 0)
		server_flush(s);
	if (s->keep != NULL)
		s->keep->commit(s);
	send_all(s, &m, 1);
}

static void log_event(const struct outcome *o)
{
	char a[ADDR_STRLEN];

	switch (o->event) {
	case EV_JOIN:
		log_info("%s joined from %s", o->name, addr_format(&o->reply_to, a, sizeof a));
		break;
	case EV_LEAVE:
		log_info("%s left", o->name);
		break;
	case EV_TIMEOUT:
		log_info("%s timed out", o->name);
		break;
	case EV_KICK:
		if (o->text_len > 0)
			log_info("%s was kicked by the operator (%.*s)", o->name, (int)o->text_len,
			         o->text);
		else
			log_info("%s was kicked by the operator", o->name);
		break;
	default:
		break;
	}
}

/*
 * Log a refusal or a drop by its reason.  Anyone can provoke these at
 * will, so each reason has its own rate limit (REFUSAL_BURST per
 * REFUSAL_WINDOW ms), and the next line that gets through says that some
 * were held back.
 */
#define REFUSAL_BURST  5
#define REFUSAL_WINDOW 10000
static void log_refusal(struct server *s, const struct outcome *o)
{
	char a[ADDR_STRLEN];
	unsigned long held = 0;
	uint64_t now = server_now(s);

	if (o->reply == REPLY_ERR && (unsigned)o->err < QERR_COUNT) {
		if (ratelimit_allow(&s->refusal_rl[o->err], now, REFUSAL_BURST, REFUSAL_WINDOW,
		                    &held))
			log_info("refused %s: %s%s", addr_format(&o->reply_to, a, sizeof a),
			         qerr_text(LANG_EN, o->err, o->err_detail),
			         held ? " (and more, not logged)" : "");
	} else if (o->drop != DROP_NONE && (unsigned)o->drop < DROP_COUNT) {
		if (ratelimit_allow(&s->drop_rl[o->drop], now, REFUSAL_BURST, REFUSAL_WINDOW,
		                    &held))
			log_info("dropped a datagram from %s: %s%s",
			         addr_format(&o->reply_to, a, sizeof a), room_drop_name(o->drop),
			         held ? " (and more, not logged)" : "");
	}
}

/*
 * Who gets an outcome's reply, in which protocol: a member in its own; a
 * stranger (reply_proto 0) only ever asked in v1, since v2 answers its
 * strangers itself (proto2.c: COOKIE, REFUSE).
 */
static const struct proto_ops *reply_proto(const struct server *s, const struct outcome *o)
{
	int p = o->reply_proto == 0 ? 1 : o->reply_proto;

	return p > 0 && p < SERVER_PROTOS ? s->proto[p] : NULL;
}

void server_deliver(struct server *s, const struct outcome *o, size_t req_len)
{
	const struct proto_ops *rp = reply_proto(s, o);
	size_t i;

	if (o->drop != DROP_NONE)
		s->st.drops[o->drop]++;
	log_refusal(s, o);
	if (o->reply != REPLY_NONE && rp != NULL)
		rp->reply(s, o, req_len);
	if (!o->has_event)
		return;
	if (o->chan != NULL) {
		/* Another room's event: its own order, its members (v2 only: rooms.c). */
		uint64_t id = channel_next_event(o->chan);

		if (s->keep != NULL)
			s->keep->event(s, o, o->chan->id, id);
		s->proto[2]->broadcast(s, o);
		s->wake_events++;
		return;
	}
	log_event(o);
	s->event_id++;
	if (s->keep != NULL)
		s->keep->event(s, o, 1, s->event_id);
	if (o->event == EV_SAY || o->event == EV_ACTION)
		TRACE(trace_decided(&s->trace, now_us()));
	for (i = 1; i < SERVER_PROTOS; i++)
		if (s->proto[i] != NULL)
			s->proto[i]->broadcast(s, o);
	s->wake_events++;
	TRACE(trace_queued(&s->trace, now_us()));
}

void server_before_sleep(struct server *s)
{
	size_t i;
#ifdef QUN_TRACE
	uint64_t t0 = now_us(), out0 = s->st.datagrams_out;
#endif

	for (i = 1; i < SERVER_PROTOS; i++)
		if (s->proto[i] != NULL && s->proto[i]->flush != NULL)
			s->proto[i]->flush(s);
	server_flush(s);
#ifdef QUN_TRACE
	if (s->st.datagrams_out != out0) /* a flush that sent nothing is not a span of work */
		trace_span(&s->trace, TRACE_FLUSH, t0, now_us());
#endif
	TRACE(trace_flushed(&s->trace, now_us()));
}

static int tick_protos(struct server *s, int start)
{
	size_t i;
	int more = 0;

	for (i = 1; i < SERVER_PROTOS; i++)
		if (s->proto[i] != NULL && s->proto[i]->tick != NULL)
			more |= s->proto[i]->tick(s, start);
	return more;
}

int server_tick(struct server *s)
{
	return tick_protos(s, 1);
}

int server_tick_more(struct server *s)
{
	return tick_protos(s, 0);
}

void server_goodbye(struct server *s)
{
	size_t i;

	for (i = 1; i < SERVER_PROTOS; i++)
		if (s->proto[i] != NULL)
			s->proto[i]->goodbye(s);
	server_flush(s);
}

const char *server_sdrop_name(enum srv_drop reason)
{
	static const char *const names[SDROP_COUNT] = {
	    [SDROP_V1_DISABLED] = "v1_disabled",
	    [SDROP_V2_MALFORMED] = "v2_malformed",
	    [SDROP_V2_BAD_COOKIE] = "v2_bad_cookie",
	    [SDROP_V2_UNKNOWN_SID] = "v2_unknown_sid",
	    [SDROP_V2_WRONG_ADDR] = "v2_wrong_addr",
	    [SDROP_RATE_LIMITED] = "rate_limited",
	    [SDROP_BANNED] = "banned",
	    [SDROP_MUTED] = "muted",
	    [SDROP_V2_REPEAT] = "v2_repeat",
	    [SDROP_V2_REPLAY] = "v2_replay",
	};

	return (unsigned)reason < SDROP_COUNT ? names[reason] : NULL;
}
