/* A vhost-user front-end (QEMU docs/interop/vhost-user.rst), the part of a
 * VMM that drives a back-end over its Unix socket: framing, fd passing,
 * REPLY_ACK, and one helper per message the rig needs.  rig_vu_send_raw()
 * lets a test send anything at all, including lies about sizes and fds. */
#ifndef RIG_VU_H
#define RIG_VU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rig_mem.h"

enum rig_vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
};

#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u
#define VU_HDR_SIZE 12u
#define VU_MAX_PAYLOAD 4096u
#define VU_MAX_FDS 32u

#define VU_F_PROTOCOL_FEATURES 30 /* virtio feature bit */
#define VU_PROTO_F_MQ 0
#define VU_PROTO_F_REPLY_ACK 3
#define VU_PROTO_F_CONFIG 9

#define VU_VRING_NOFD_MASK (1u << 8)

struct rig_vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct {
			uint32_t index;
			uint32_t num;
		} state;
		struct {
			uint32_t offset;
			uint32_t size;
			uint32_t flags;
			uint8_t data[VU_MAX_PAYLOAD - 12];
		} config;
		uint8_t raw[VU_MAX_PAYLOAD];
	} payload;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

struct rig_vu {
	int fd;                   /* -1 when not connected */
	int timeout_ms;           /* for each reply */
	uint64_t features;        /* acked with SET_FEATURES */
	uint64_t protocol_features;
	bool reply_ack;           /* REPLY_ACK negotiated: ask for acks */
};

/* Connects to a back-end's socket.  Returns 0 or -errno. */
int rig_vu_connect(struct rig_vu *vu, const char *path, int timeout_ms);
void rig_vu_close(struct rig_vu *vu);

/* Sends one message: a header whose size field is size_field, followed by
 * exactly len payload bytes, with nfds fds.  Returns 0 or -errno. */
int rig_vu_send_raw(struct rig_vu *vu, uint32_t request, uint32_t flags,
		    uint32_t size_field, const void *payload, size_t len,
		    const int *fds, unsigned nfds);
/* Receives one message (the caller closes msg->fds).  Returns 0, -ETIMEDOUT,
 * -ECONNRESET (peer closed) or -EPROTO (malformed). */
int rig_vu_recv(struct rig_vu *vu, struct rig_vu_msg *msg);
/* Waits until the back-end closes the connection, discarding anything it
 * sends.  Returns 0 or -ETIMEDOUT. */
int rig_vu_wait_closed(struct rig_vu *vu, int timeout_ms);

/* Sends a request the way QEMU does: with NEED_REPLY when REPLY_ACK is
 * negotiated, then reads the reply (for GET_* messages, into *reply, which
 * may then be NULL only if no reply is expected) or the ack.  Returns 0,
 * -EIO for a NACK, or another -errno. */
int rig_vu_request(struct rig_vu *vu, uint32_t request, const void *payload,
		   size_t len, const int *fds, unsigned nfds,
		   struct rig_vu_msg *reply);

int rig_vu_get_u64(struct rig_vu *vu, uint32_t request, uint64_t *out);
int rig_vu_set_u64(struct rig_vu *vu, uint32_t request, uint64_t value);
int rig_vu_set_features(struct rig_vu *vu, uint64_t features);
int rig_vu_set_protocol_features(struct rig_vu *vu, uint64_t features);
/* Reads size bytes of config space at offset; *got is the size in the
 * reply (0 = refused). */
int rig_vu_get_config(struct rig_vu *vu, uint32_t offset, uint32_t size,
		      void *out, uint32_t *got);
int rig_vu_set_mem_table(struct rig_vu *vu, const struct rig_mem *mem);
int rig_vu_set_vring_state(struct rig_vu *vu, uint32_t request, uint32_t index,
			   uint32_t num);
int rig_vu_get_vring_base(struct rig_vu *vu, uint32_t index, uint32_t *num);
int rig_vu_set_vring_addr(struct rig_vu *vu, uint32_t index, uint64_t desc_uva,
			  uint64_t used_uva, uint64_t avail_uva);
/* SET_VRING_KICK / CALL / ERR; fd < 0 sends the "no fd" flag. */
int rig_vu_set_vring_fd(struct rig_vu *vu, uint32_t request, uint32_t index,
			int fd);

#endif
