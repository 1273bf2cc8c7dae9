/* operator.c - the operator's side wired to the server: console lines and control requests as
 * commands. */
#include "operator.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/text.h"
#include "command.h"
#include "control.h"
#include "history.h"
#include "room.h"
#include "rooms.h"

/* An outcome of a command (a kick, the operator's words): sent with the loop's next flush. */
static void cmd_deliver(void *ctx, const struct outcome *o)
{
	server_deliver(ctx, o, 0);
}

static void add_drop(struct cmd_stats *st, const char *name, size_t i, uint64_t count)
{
	struct cmd_drop *d;

	if (st->ndrops >= CMD_MAX_DROPS)
		return;
	d = &st->drops[st->ndrops++];
	if (name != NULL)
		snprintf(d->name, sizeof d->name, "%s", name);
	else
		snprintf(d->name, sizeof d->name, "server_%zu", i);
	d->count = count;
}

/*
 * The memory malloc has handed out and not had back: the main arena's
 * chunks in use plus the blocks it mapped on its own (qund has one
 * thread, so one arena).  Unlike RSS it leaves out freed memory that
 * malloc keeps for later, so it shows what the members cost now.  Under
 * AddressSanitizer malloc is ASan's, whose mallinfo2 is all zeros: ask
 * its allocator instead (make check runs the tests that read this under
 * ASan too).
 */
#ifdef __SANITIZE_ADDRESS__
size_t __sanitizer_get_current_allocated_bytes(void); /* NOLINT(bugprone-reserved-identifier) */

static uint64_t heap_in_use(void)
{
	return (uint64_t)__sanitizer_get_current_allocated_bytes();
}
#else
static uint64_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}
#endif

static void cmd_stats(void *ctx, struct cmd_stats *st)
{
	const struct server *s = ctx;
	size_t i;

	st->uptime_ms = server_now(s) - s->started;
	st->datagrams_in = s->st.datagrams_in;
	st->datagrams_out = s->st.datagrams_out;
	st->send_errors = s->st.send_errors;
	st->retransmissions = s->st.retransmits;
	st->heap_bytes = heap_in_use();
	st->udp_wakeups = s->st.udp_wakeups;
	st->rx_pauses = s->st.rx_pauses;
	st->rx_pauses_cut = s->st.rx_pauses_cut;
	st->acks_apart = s->st.acks_apart;

#ifdef QUN_TRACE
	st->traced = 1;
	for (i = 0; i < TRACE_STAGES; i++) {
		st->trace[i].name = trace_stage_name((enum trace_stage)i);
		st->trace[i].n = s->trace.hist[i].n;
		st->trace[i].p50_us = trace_percentile(&s->trace, (enum trace_stage)i, 50);
		st->trace[i].p99_us = trace_percentile(&s->trace, (enum trace_stage)i, 99);
		st->trace[i].max_us = s->trace.hist[i].max_us;
	}
	st->trace_deferred = s->trace.deferred;
#endif
	for (i = 1; i < DROP_COUNT; i++)
		add_drop(st, room_drop_name((enum drop_reason)i), i, s->st.drops[i]);
	for (i = 0; i < SDROP_COUNT; i++)
		add_drop(st, server_sdrop_name((enum srv_drop)i), i, s->st.sdrops[i]);
}

static size_t cmd_room_size(void *ctx, const struct channel *c)
{
	return rooms_size(ctx, c);
}

static void cmd_room_say(void *ctx, struct channel *c, const char *text, size_t len)
{
	rooms_admin(ctx, c, text, len);
}

static int cmd_room_kick(void *ctx, const struct member *m, struct channel *c, const char *reason,
                         size_t len)
{
	return rooms_kick(ctx, m, c, reason, len);
}

static size_t cmd_room_close(void *ctx, struct channel *c)
{
	return rooms_close(ctx, c);
}

static void cmd_sanctions_changed(void *ctx)
{
	history_sanctions(ctx);
}

static void cmd_room_pinned(void *ctx, struct channel *c, int on)
{
	history_permanent(ctx, c->id, on);
}

static int cmd_history(void *ctx, const struct channel *c, unsigned n, store_line_fn fn,
                       void *fn_ctx)
{
	struct server *s = ctx;

	if (s->store == NULL)
		return -1;
	history_commit(s); /* what this pass said is history too */
	return store_history(s->store, c->id, STORE_LATEST, 0, n, fn, fn_ctx);
}

/* Every line of a room: pages of the store's largest, after the last line of the one before. */
struct exporting {
	store_line_fn fn;
	void *ctx;
	uint64_t last;
	int n;
};

static void export_one(void *ctx, const struct store_line *l)
{
	struct exporting *x = ctx;

	x->fn(x->ctx, l);
	x->last = l->event;
	x->n++;
}

static int cmd_export(void *ctx, const struct channel *c, store_line_fn fn, void *fn_ctx)
{
	struct server *s = ctx;
	struct exporting x = {fn, fn_ctx, 0, 0};
	int got;

	if (s->store == NULL || s->store_failing)
		return -1;
	history_commit(s);
	do {
		got = store_history(s->store, c->id, STORE_AFTER, x.last, STORE_MAX_GET, export_one,
		                    &x);
	} while (got == STORE_MAX_GET);
	return got < 0 ? -1 : x.n;
}

static int cmd_purge(void *ctx, const struct channel *c, const char *name)
{
	struct server *s = ctx;
	char key[QUN_MAX_NAME + 1];

	if (s->store == NULL || s->store_failing)
		return -1;
	history_commit(s);
	if (name != NULL && name_normalize(name, strlen(name), key, sizeof key) < 0)
		return -1;
	return store_purge(s->store, c != NULL ? c->id : 0, name != NULL ? key : NULL);
}

static void cmd_shutdown(void *ctx)
{
	struct server *s = ctx;

	s->stopping = 1;
}

/* The server as the operator's commands (command.h) see it. */
static void cmd_server_init(struct server *s, struct cmd_server *cs)
{
	memset(cs, 0, sizeof *cs);
	cs->room = s->room;
	cs->sanctions = s->sanctions;
	cs->lang = s->lang;
	cs->now = server_now(s);
	cs->ctx = s;
	cs->deliver = cmd_deliver;
	cs->stats = cmd_stats;
	cs->shutdown = cmd_shutdown;
	cs->channels = s->channels;
	cs->room_size = cmd_room_size;
	cs->room_say = cmd_room_say;
	cs->room_kick = cmd_room_kick;
	cs->room_close = cmd_room_close;
	cs->sanctions_changed = cmd_sanctions_changed;
	cs->room_pinned = cmd_room_pinned;
	cs->history = cmd_history;
	cs->export_room = cmd_export;
	cs->purge = cmd_purge;
	cs->store_state = history_state(s);
}

void operator_console_line(struct server *s, const char *line, size_t len)
{
	struct cmd_server cs;
	struct buf out;
	enum cmd_status st;

	cmd_server_init(s, &cs);
	buf_init(&out, CONTROL_MAX_REPLY);
	st = command_console(&cs, line, len, &out);
	if (out.len > 0 && st == CMD_OK) {
		fwrite(out.data, 1, out.len, stdout);
		fflush(stdout);
	} else if (out.len > 0) {
		log_warnx("%.*s", (int)(out.len - (out.data[out.len - 1] == '\n')), out.data);
	}
	buf_free(&out);
}

int operator_control_request(void *ctx, const struct control_peer *peer, const char *line,
                             size_t len, struct buf *reply)
{
	struct server *s = ctx;
	struct cmd_server cs;
	enum cmd_status st;
	char safe[256];

	cmd_server_init(s, &cs);
	st = command_control(&cs, line, len, reply);
	text_sanitize(line, len < 200 ? len : 200, safe, sizeof safe);
	log_info("control: uid %ld gid %ld pid %ld: %s%s: %s", (long)peer->uid, (long)peer->gid,
	         (long)peer->pid, safe, len > 200 ? "..." : "",
	         st == CMD_OK       ? "done"
	         : st == CMD_FAILED ? "failed"
	                            : "refused");
	return (int)st;
}
