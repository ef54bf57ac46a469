#include "vsock_hdr.h"

#include <stddef.h>

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Offsets follow struct virtio_vsock_hdr, checked at compile time. */
_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "header size");
_Static_assert(offsetof(struct virtio_vsock_hdr, fwd_cnt) == 40, "header layout");

void vsock_hdr_encode(const struct vsock_hdr *hdr, uint8_t out[VSOCK_HDR_SIZE])
{
	put_le(out + 0, hdr->src_cid, 8);
	put_le(out + 8, hdr->dst_cid, 8);
	put_le(out + 16, hdr->src_port, 4);
	put_le(out + 20, hdr->dst_port, 4);
	put_le(out + 24, hdr->len, 4);
	put_le(out + 28, hdr->type, 2);
	put_le(out + 30, hdr->op, 2);
	put_le(out + 32, hdr->flags, 4);
	put_le(out + 36, hdr->buf_alloc, 4);
	put_le(out + 40, hdr->fwd_cnt, 4);
}

void vsock_hdr_decode(const uint8_t in[VSOCK_HDR_SIZE], struct vsock_hdr *hdr)
{
	hdr->src_cid = get_le(in + 0, 8);
	hdr->dst_cid = get_le(in + 8, 8);
	hdr->src_port = (uint32_t)get_le(in + 16, 4);
	hdr->dst_port = (uint32_t)get_le(in + 20, 4);
	hdr->len = (uint32_t)get_le(in + 24, 4);
	hdr->type = (uint16_t)get_le(in + 28, 2);
	hdr->op = (uint16_t)get_le(in + 30, 2);
	hdr->flags = (uint32_t)get_le(in + 32, 4);
	hdr->buf_alloc = (uint32_t)get_le(in + 36, 4);
	hdr->fwd_cnt = (uint32_t)get_le(in + 40, 4);
}

const char *vsock_op_name(uint16_t op)
{
	switch (op) {
	case VIRTIO_VSOCK_OP_INVALID: return "INVALID";
	case VIRTIO_VSOCK_OP_REQUEST: return "REQUEST";
	case VIRTIO_VSOCK_OP_RESPONSE: return "RESPONSE";
	case VIRTIO_VSOCK_OP_RST: return "RST";
	case VIRTIO_VSOCK_OP_SHUTDOWN: return "SHUTDOWN";
	case VIRTIO_VSOCK_OP_RW: return "RW";
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE: return "CREDIT_UPDATE";
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST: return "CREDIT_REQUEST";
	default: return "op?";
	}
}

const char *vsock_type_name(uint16_t type)
{
	switch (type) {
	case VIRTIO_VSOCK_TYPE_STREAM: return "stream";
	case VIRTIO_VSOCK_TYPE_SEQPACKET: return "seqpacket";
	default: return "type?";
	}
}
