/* proto1.h - qund's protocol v1 layer (the lesson's text datagrams), as the core calls it. */
#ifndef QUN_PROTO1_H
#define QUN_PROTO1_H

#include "server.h"

/*
 * Protocol v1 (docs/PROTOCOL.md): requests are parsed and carried out
 * through the room at once, replies and lines sent at once, except the
 * room's lines to many members, which are queued (server_queue) and go
 * with the next flush.  Stateless beyond the room: no flush or tick.
 */
extern const struct proto_ops proto1_ops;

#endif
