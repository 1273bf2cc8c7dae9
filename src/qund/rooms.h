/* rooms.h - rooms and private messages on the server: v2's room requests, a room's fan-out, the
 * operator's room commands. */
#ifndef QUN_ROOMS_H
#define QUN_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/wire2.h"
#include "room.h"

struct channel;
struct server;
struct session;

/*
 * docs/ROOMS.md is the model.  The default room is everyone on the server
 * (struct room): its events go out as before (proto1.c, proto2.c) and
 * nobody leaves it but by leaving the server.  The other rooms are
 * channel.h's, with v2 members only; each member's list of them is its
 * session's (session.h, struct session_rooms).  Everything here runs only on a server with rooms
 * (s->channels not NULL).
 */

/*
 * JOIN, PART or ROOMS from ss: answered to ss (ROOM or a NOTICE), told to
 * the room.  declaring: this is the request by which ss declared that it
 * knows rooms (a ROOMS then is free; it is how every session starts).
 */
void rooms_request(struct server *s, struct session *ss, const struct v2_msg *m, int declaring);

/* WHO of room id (not the default room) from ss, which has paid for it: MEMBERS or a NOTICE. */
void rooms_who(struct server *s, struct session *ss, uint32_t id);

/*
 * The room a SAY or ME of ss names by id: *out is NULL for the default
 * room.  Returns -1, with a NOTICE queued to ss, if there is no such room
 * or ss is not in it.
 */
int rooms_where(struct server *s, struct session *ss, uint32_t id, struct channel **out);

/* A private message from ss to the member named to: PRIVATE to it, or a NOTICE to ss. */
void rooms_tell(struct server *s, struct session *ss, const char *to, const char *text, size_t len);

/* An event of another room than the default (o->chan): REVENT to its members but o->exclude. */
void rooms_broadcast(struct server *s, const struct outcome *o);

/*
 * ss's member is leaving the server for the reason o says (its event:
 * LEAVE, TIMEOUT, KICK): each of its rooms is told so, and left.
 */
void rooms_leave_all(struct server *s, struct session *ss, const struct outcome *o);

/* ss's client started a new session on its address: a new member, in the default room only. */
void rooms_restart(struct server *s, struct session *ss);

/* For the operator (command.h).  The members in room c, the default room included. */
size_t rooms_size(const struct server *s, const struct channel *c);

/* The operator speaks in room c (NULL: the default room, which is everyone). */
void rooms_admin(struct server *s, struct channel *c, const char *text, size_t len);

/*
 * The operator removes member m from room c (not the default room): KICK
 * to the room, the kicked member included, then ROOM PARTED to it.
 * Returns -1 if m is not in c.
 */
int rooms_kick(struct server *s, const struct member *m, struct channel *c, const char *reason,
               size_t len);

/*
 * The operator closes room c (not the default room): each member is told
 * and parted, and the room is gone.  Returns how many members it had.
 */
size_t rooms_close(struct server *s, struct channel *c);

#endif
