/* vhost-user wire format (QEMU docs/interop/vhost-user.rst): message
 * header, request codes, flags and payload layouts, in host byte order as
 * the protocol specifies.  Shared by the back-end and by test front-ends. */
#ifndef VSOCK_VHOST_USER_MSG_H
#define VSOCK_VHOST_USER_MSG_H

#include <stdint.h>

enum vu_request {
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
	VU_RESET_DEVICE = 34,
	VU_REQUEST_MAX = 48, /* table size: codes at or above are unknown */
};

/* flags: bits 0-1 version, bit 2 reply, bit 3 need-reply. */
#define VU_VERSION_MASK 0x3u
#define VU_VERSION 0x1u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VU_MAX_PAYLOAD 4096
#define VU_MAX_FDS 32

/* Virtio feature bit only vhost-user has. */
#define VU_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
#define VU_PF_MQ 0
#define VU_PF_REPLY_ACK 3
#define VU_PF_CONFIG 9
#define VU_PF_RESET_DEVICE 13

/* SET_VRING_KICK/CALL/ERR u64 payload. */
#define VU_VRING_IDX_MASK 0xffull
#define VU_VRING_NOFD (1ull << 8)

/* SET_VRING_ADDR flags. */
#define VU_VRING_F_LOG 1u

#define VU_CONFIG_MAX_SIZE 256

struct vu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_uva;
	uint64_t used_uva;
	uint64_t avail_uva;
	uint64_t log_gpa;
};

struct vu_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vu_mem_table_hdr {
	uint32_t nregions;
	uint32_t padding;
	/* followed by nregions struct vu_mem_region */
};

struct vu_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	/* followed by size bytes of config space */
};

/* One received message with the fds that came with it. */
struct vu_msg {
	struct vu_msg_hdr hdr;
	union {
		uint64_t u64;
		uint8_t bytes[VU_MAX_PAYLOAD];
	} payload;
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

#endif
