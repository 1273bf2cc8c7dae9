/* loop.h - qund's event loop: one thread, epoll, one flush before each sleep. */
#ifndef QUN_LOOP_H
#define QUN_LOOP_H

#include "server.h"

#define TICK_MS 50 /* the timers' period: retransmissions want this; expiry checks are O(1) */

/* Watch fd for input in s->epfd; -1 with errno on failure. */
int loop_add_fd(struct server *s, int fd);

/* A timerfd that fires every TICK_MS (non-blocking, close-on-exec); -1 with errno on failure. */
int loop_make_tick(void);

/*
 * Serve until s->stopping: wait for the UDP socket, signals (SIGTERM and
 * SIGINT stop, SIGHUP reopens the log, SIGCHLD reaps the console), the
 * tick, the console and the control socket; after each wake-up, flush
 * what it queued (server_before_sleep).  s is set up (qund.c) with every
 * descriptor registered.
 */
void loop_run(struct server *s);

#endif
