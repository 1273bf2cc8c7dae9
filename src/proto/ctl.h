/* ctl.h - the control socket's conversation, shared by qund (the server end) and qunctl. */
#ifndef QUN_CTL_H
#define QUN_CTL_H

/*
 * qunctl(8): a client connects to qund's AF_UNIX stream socket, sends one
 * line (at most CONTROL_MAX_REQUEST bytes, ended by "\n" or by shutting
 * down its side), and reads the reply until the server closes: a status
 * line "0" (done), "1" (failed), "2" (bad request) or "3" (the caller may
 * not use the socket), then the body, at most CONTROL_MAX_REPLY bytes.
 */
#define CONTROL_MAX_REQUEST 4096
#define CONTROL_MAX_REPLY   (64u << 20)
/* The status line for a caller that may not use the socket (qunctl exits with it). */
#define CONTROL_DENIED 3

#endif
