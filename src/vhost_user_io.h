/* Moving whole vhost-user messages, fds included, over a non-blocking
 * AF_UNIX stream socket.  Once a message has started to arrive the rest
 * must follow within the timeout: a front-end that sends half a message and
 * stalls cannot wedge the thread that serves it. */
#ifndef VSOCK_VHOST_USER_IO_H
#define VSOCK_VHOST_USER_IO_H

#include "vhost_user_msg.h"

enum vu_recv_result {
	VU_RECV_ERROR = -1, /* closed, stalled, oversized or broken: logged */
	VU_RECV_NONE = 0,   /* no message pending */
	VU_RECV_MSG = 1,    /* *msg holds a message and msg->nfds fds */
};

/* Reads one message.  On VU_RECV_MSG the caller owns msg->fds; on any other
 * result no fd is left open. */
enum vu_recv_result vu_msg_recv(int fd, struct vu_msg *msg, int timeout_ms);
/* Sends header + payload (hdr->size bytes) and fds with MSG_NOSIGNAL,
 * waiting up to timeout_ms for socket space.  Returns 0 or -errno. */
int vu_msg_send(int fd, const struct vu_msg_hdr *hdr, const void *payload,
		const int *fds, unsigned nfds, int timeout_ms);
/* Closes every fd still in msg (slots set to -1 were taken). */
void vu_msg_close_fds(struct vu_msg *msg);

#endif
