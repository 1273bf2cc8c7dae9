/* command.h - the operator's commands (say, who, kick, ban, ...): one implementation for console
 * and socket. */
#ifndef QUN_COMMAND_H
#define QUN_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/i18n.h"
#include "channel.h"
#include "room.h"
#include "sanction.h"
#include "store.h"
#include "trace.h"

enum cmd_format { CMD_TEXT = 0, CMD_JSON };

/* Also the control socket's status line and qunctl's exit status. */
enum cmd_status { CMD_OK = 0, CMD_FAILED = 1, CMD_USAGE = 2 };

/* Most drop reasons stats can show. */
#define CMD_MAX_DROPS 32

/*
 * What `stats` reports; the server fills what it counts (drops as named
 * counters, so that a protocol layer can add reasons without this file
 * knowing), the rest is computed here.
 */
struct cmd_stats {
	uint64_t uptime_ms;
	uint64_t datagrams_in, datagrams_out, send_errors, retransmissions;
	uint64_t heap_bytes; /* malloc'd memory in use, not counting freed chunks kept */
	uint64_t udp_wakeups, rx_pauses; /* receive moderation (loop.c) */
	uint64_t rx_pauses_cut;          /* pauses that a datagram on the chat socket ended */
	uint64_t acks_apart;             /* datagrams read from the ACK socket (steer.h) */
	/* Stage times of chat messages (trace.h): only a TRACE=1 build fills them. */
	int traced;
	struct cmd_trace {
		const char *name;
		uint64_t n, p50_us, p99_us, max_us;
	} trace[TRACE_STAGES];
	uint64_t trace_deferred;
	size_t ndrops;
	struct cmd_drop {
		char name[24];
		uint64_t count;
	} drops[CMD_MAX_DROPS];
};

/*
 * The server as the commands see it: its room and sanctions, and three
 * ways back into it.  deliver() carries out an outcome of the room (sends
 * the reply and the event); stats() fills the counters; shutdown() asks
 * the server to stop once the current request is answered.  now is the
 * room's clock (monotonic ms).
 */
struct cmd_server {
	struct room *room;
	struct channels *channels; /* the rooms (channel.h), the default room among them */
	struct sanctions *sanctions;
	enum lang lang;
	uint64_t now;
	void *ctx;
	void (*deliver)(void *ctx, const struct outcome *o);
	void (*stats)(void *ctx, struct cmd_stats *st);
	void (*shutdown)(void *ctx);
	/*
	 * The rooms (rooms.h): members in c (the default room: everyone);
	 * the operator's words in c; kick m out of c (not the default room;
	 * -1 if m is not in it); close c (not the default room), returning
	 * how many members it had.
	 */
	size_t (*room_size)(void *ctx, const struct channel *c);
	void (*room_say)(void *ctx, struct channel *c, const char *text, size_t len);
	int (*room_kick)(void *ctx, const struct member *m, struct channel *c, const char *reason,
	                 size_t len);
	size_t (*room_close)(void *ctx, struct channel *c);
	/*
	 * What the server keeps (history.h), each may be NULL: bans or mutes
	 * changed; room c made permanent (on 1); and a room's last n lines
	 * (at most STORE_MAX_GET), -1 if there is no store or it failed.
	 */
	void (*sanctions_changed)(void *ctx);
	void (*room_pinned)(void *ctx, struct channel *c, int on);
	int (*history)(void *ctx, const struct channel *c, unsigned n, store_line_fn fn,
	               void *fn_ctx);
	/* Every line of room c, oldest first (-1 as history); purge a room's or a name's lines. */
	int (*export_room)(void *ctx, const struct channel *c, store_line_fn fn, void *fn_ctx);
	int (*purge)(void *ctx, const struct channel *c, const char *name);
	const char *store_state; /* "ok", "failing" or "none" */
};

/*
 * Run one command line, "NAME ARGS" (see qunctl(8) for the list), and
 * append its reply to out: human-readable text in the server's language,
 * or one JSON object (with "ok" and, on failure, "error"; always English)
 * and a newline.  Returns CMD_OK, CMD_FAILED (the command could not be
 * done: no such member, ...) or CMD_USAGE (unknown command, bad
 * arguments).
 */
enum cmd_status command_run(const struct cmd_server *srv, const char *line, size_t len,
                            enum cmd_format fmt, struct buf *out);

/*
 * A request from the control socket: a command line, optionally preceded
 * by "--json " for the JSON reply.
 */
enum cmd_status command_control(const struct cmd_server *srv, const char *line, size_t len,
                                struct buf *out);

/*
 * A line typed at the stdin console: "/NAME ARGS" runs a command ("/quit"
 * is shutdown); any other line is said to the room as the operator, and
 * prints nothing when that works.  The reply goes to out; on CMD_OK it
 * belongs on standard output, otherwise it is an error for the log.
 */
enum cmd_status command_console(const struct cmd_server *srv, const char *line, size_t len,
                                struct buf *out);

#endif
