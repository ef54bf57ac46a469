/* The 44-byte virtio-vsock packet header (virtio spec, "Socket Device"):
 * a host-endian struct for the code, and the little-endian wire codec. */
#ifndef VSOCK_HDR_H
#define VSOCK_HDR_H

#include <stdint.h>

#include <linux/virtio_vsock.h>

#define VSOCK_HDR_SIZE 44
/* Largest payload a packet may carry (Linux VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void vsock_hdr_encode(const struct vsock_hdr *hdr, uint8_t out[VSOCK_HDR_SIZE]);
void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], struct vsock_hdr *hdr);
/* "REQUEST", "RW", ... or "op?" for values outside the spec. */
const char *vsock_op_name(uint16_t op);
/* "stream", "seqpacket" or "type?". */
const char *vsock_type_name(uint16_t type);

#endif
