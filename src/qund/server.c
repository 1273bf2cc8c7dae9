/* server.c - what both protocol layers share: the clock, sending, and carrying out the room's
 * outcomes. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/sizes.h"
#include "command.h"
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

void server_sendmmsg(struct server *s, struct mmsghdr *msgs, unsigned count)
{
	unsigned done = 0;

	while (done < count) {
		int n = sendmmsg(s->udp, msgs + done, count - done, 0);

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
	server_sendmmsg(s, q.msgs, q.n);
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
	ssize_t n;

	if (q.n > 0)
		server_flush(s);
	do
		n = sendto(s->udp, buf, len, 0, (const struct sockaddr *)&to->sa, to->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		s->st.send_errors++;
	else
		s->st.datagrams_out++;
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
	char a[ADDR_STRLEN], tmp[32];
	unsigned long held = 0;
	uint64_t now = now_ms();

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
			         addr_format(&o->reply_to, a, sizeof a),
			         command_drop_name((size_t)o->drop, tmp, sizeof tmp),
			         held ? " (and more, not logged)" : "");
	}
}

void server_deliver(struct server *s, const struct outcome *o, size_t req_len)
{
	if (o->drop != DROP_NONE)
		s->st.drops[o->drop]++;
	log_refusal(s, o);
	if (o->reply != REPLY_NONE) {
		if (o->reply_proto == 2)
			p2_reply(s, o);
		else
			v1_reply(s, o, req_len);
	}
	if (!o->has_event)
		return;
	log_event(o);
	s->event_id++;
	v1_broadcast(s, o);
	p2_broadcast(s, o);
}
