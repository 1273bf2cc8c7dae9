/* server.c - what both protocol layers share: the clock, sending, and carrying out the room's outcomes. */
#include <errno.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "server.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void server_send(struct server *s, const struct peer_addr *to, const void *buf, size_t len)
{
	ssize_t n;

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
	case V1_EV_JOIN:
		log_info("%s joined from %s", o->name, addr_format(&o->reply_to, a, sizeof a));
		break;
	case V1_EV_LEAVE:
		log_info("%s left", o->name);
		break;
	case V1_EV_TIMEOUT:
		log_info("%s timed out", o->name);
		break;
	case V1_EV_KICK:
		log_info("%s was kicked by the operator", o->name);
		break;
	default:
		break;
	}
}

void server_deliver(struct server *s, const struct outcome *o, size_t req_len)
{
	if (o->drop != DROP_NONE)
		s->st.drops[o->drop]++;
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

