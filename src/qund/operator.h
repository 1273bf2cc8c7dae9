/* operator.h - the operator's side wired to the server: console lines and control requests. */
#ifndef QUN_OPERATOR_H
#define QUN_OPERATOR_H

#include <stddef.h>

#include "common/buf.h"
#include "control.h"
#include "server.h"

/*
 * Both run one command of command.h against the server: what it does to
 * the room goes out with the loop's next flush.
 */

/* One line from the operator's console: the reply on stdout, an error to the log. */
void operator_console_line(struct server *s, const char *line, size_t len);

/*
 * One request on the control socket (a control_fn, ctx the server): the
 * reply appended to reply, the status returned; who asked (SO_PEERCRED)
 * and what is logged, the request made safe for a terminal first.
 */
int operator_control_request(void *ctx, const struct control_peer *peer, const char *line,
                             size_t len, struct buf *reply);

#endif
