/* console.h - the operator's console: a child process that reads stdin and feeds the server's loop.
 */
#ifndef QUN_CONSOLE_H
#define QUN_CONSOLE_H

#include <stddef.h>
#include <sys/types.h>

/* Longest console line passed on whole; longer lines arrive cut to this and are refused as too
 * long. */
#define CONSOLE_MAX_LINE 4096

/*
 * Fork the console child.  It reads lines from standard input and sends
 * each, without its line ending, as one message over an AF_UNIX
 * SOCK_SEQPACKET socketpair, so message boundaries are the line
 * boundaries.  It exits when standard input ends, when the server's end
 * of the socketpair closes, or (through PR_SET_PDEATHSIG) when the server
 * dies, so it never outlives the server as an orphan.
 *
 * In the parent, standard input is replaced by /dev/null so that only the
 * child reads it.  Returns the child's pid and stores the parent's end of
 * the socketpair in *fd, or returns -1 with a reason in err.  Call it with
 * the signals the server handles blocked; the child unblocks them.
 */
pid_t console_start(int *fd, char *err, size_t errlen);

#endif
