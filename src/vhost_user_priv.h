/* Internals shared by vhost_user.c (connection, dispatch, device-wide
 * messages) and vhost_user_vring.c (per-queue messages and queue state). */
#ifndef VSOCK_VHOST_USER_PRIV_H
#define VSOCK_VHOST_USER_PRIV_H

#include "vhost_user.h"
#include "vhost_user_msg.h"

/* How long the rest of a started message, or room for a reply, may take. */
#define VU_IO_TIMEOUT_MS 1000

/* Everything the dispatcher checks before a handler runs. */
struct vu_msg_type {
	const char *name;
	/* 0 on success; -1 on a violation (already logged). */
	int (*handle)(struct vu_dev *dev, struct vu_msg *msg);
	uint32_t size;            /* exact payload size, or minimum if size_is_min */
	bool size_is_min;
	/* fds the message must carry (extra ones are closed); NULL: none. */
	unsigned (*fd_count)(const struct vu_msg *msg);
	uint64_t needs_protocol_features; /* negotiated before it is allowed */
	uint64_t needs_features;
	bool has_reply;           /* the handler answers; no REPLY_ACK */
};

/* Sends a reply to msg.  0, or -1 (logged). */
int vu_reply(struct vu_dev *dev, const struct vu_msg *msg, const void *payload,
	     uint32_t size);
/* Takes ownership of msg->fds[i] (the dispatcher closes fds not taken). */
int vu_msg_take_fd(struct vu_msg *msg, unsigned i);

/* Queue state, vhost_user_vring.c. */
void vu_queue_stop(struct vu_dev *dev, unsigned idx);
void vu_queues_stop_all(struct vu_dev *dev);
/* Starts (hooks) every queue that became ready. */
void vu_queues_refresh(struct vu_dev *dev);
/* Re-translates ring addresses.  false (logged) if they are set and memory
 * is mapped but they do not lie in it. */
bool vu_queue_translate(struct vu_dev *dev, unsigned idx);
/* Closes the queue's fds and forgets its configuration. */
void vu_queue_reset(struct vu_dev *dev, unsigned idx);
unsigned vu_vring_fd_count(const struct vu_msg *msg);

int vu_set_vring_num(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_addr(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_base(struct vu_dev *dev, struct vu_msg *msg);
int vu_get_vring_base(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_kick(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_call(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_err(struct vu_dev *dev, struct vu_msg *msg);
int vu_set_vring_enable(struct vu_dev *dev, struct vu_msg *msg);

#endif
