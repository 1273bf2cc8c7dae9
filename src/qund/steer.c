/* steer.c - a classic BPF program on qund's SO_REUSEPORT group: v2 ACKs to their own socket. */
#include "steer.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/wire2.h"

/*
 * Run by the kernel on each datagram's UDP payload (the reuseport hook
 * pulls the UDP header first); the value is the socket's index in the
 * group.  A load past the payload's end ends the program with 0:
 * STEER_REST.  Offsets: docs/PROTOCOL-v2.md, "Session datagrams".
 */
static struct sock_filter acks_apart[] = {
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0), /* the magic */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, V2_MAGIC, 0, 3),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 2), /* the type */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, V2_ACK, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, STEER_ACKS),
    BPF_STMT(BPF_RET | BPF_K, STEER_REST),
};

int steer_acks(int fd, char *err, size_t errlen)
{
	struct sock_fprog prog;

	memset(&prog, 0, sizeof prog); /* the padding after len goes to the kernel too */
	prog.len = sizeof acks_apart / sizeof acks_apart[0];
	prog.filter = acks_apart;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0) {
		snprintf(err, errlen, "SO_ATTACH_REUSEPORT_CBPF: %s", strerror(errno));
		return -1;
	}
	return 0;
}
