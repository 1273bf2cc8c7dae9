/* events.h - the room's events, the same in both protocols: what the codecs carry and the room
 * decides. */
#ifndef QUN_EVENTS_H
#define QUN_EVENTS_H

/*
 * One code per kind of thing that happens in the room.  v1 formats each
 * as a line (proto/wire1.h, docs/PROTOCOL.md, "Replies and events"); v2
 * carries the code in EVENT and the client phrases it (docs/PROTOCOL-v2.md).
 * Codes are on the wire in v2: new ones go at the end, and a client
 * ignores a code it does not know.
 */
enum room_event {
	EV_JOIN,     /* NAME 进入了聊天室 */
	EV_SAY,      /* NAME 说：TEXT */
	EV_LEAVE,    /* NAME 退出了聊天室 */
	EV_TIMEOUT,  /* NAME 退出了聊天室（超时） */
	EV_KICK,     /* NAME 被管理员请出了聊天室, or ...（REASON） given a text */
	EV_ADMIN,    /* 管理员 说：TEXT */
	EV_SHUTDOWN, /* 服务器即将关闭 */
	EV_ACTION,   /* * NAME TEXT (both languages; an extension) */
};

#endif
