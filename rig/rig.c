/* The VMM's part of the rig: guest RAM, buffers, the vhost-user session and
 * the ring life cycle (start, stop, guest reboot, VMM restart). */
#include "rig_internal.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define BIT(n) (1ULL << (n))

void rig_opts_default(struct rig_opts *o)
{
	*o = (struct rig_opts){
		.queue_size = 128,
		.event_idx = true,
		.rx_layout = RIG_RX_LINEAR,
		.rx_buf_size = 4096,
		.rx_bufs = 128,
		.rx_spare_bufs = RIG_RX_SPARE_BUFS,
		.tx_layout = RIG_TX_FRAGS,
		.tx_frag_size = 4096,
		.max_pkt_payload = RIG_MAX_PKT_PAYLOAD,
		.tx_slots = 32,
		.buf_alloc = 256 * 1024,
		.timeout_ms = 5000,
		.mem_regions = 4,
		.region_size = 16u << 20,
	};
}

int64_t rig_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rig_left_ms(int64_t deadline)
{
	int64_t left = deadline - rig_now_ms();

	return left > 0 ? (int)left : 0;
}

void rig_hdr_encode(const struct rig_hdr *h, void *wire44)
{
	uint8_t *w = wire44;
	uint64_t cids[2] = {htole64(h->src_cid), htole64(h->dst_cid)};
	uint32_t w32[3] = {htole32(h->src_port), htole32(h->dst_port),
			   htole32(h->len)};
	uint16_t w16[2] = {htole16(h->type), htole16(h->op)};
	uint32_t t32[3] = {htole32(h->flags), htole32(h->buf_alloc),
			   htole32(h->fwd_cnt)};

	memcpy(w, cids, 16);
	memcpy(w + 16, w32, 12);
	memcpy(w + 28, w16, 4);
	memcpy(w + 32, t32, 12);
}

void rig_hdr_decode(const void *wire44, struct rig_hdr *h)
{
	const uint8_t *w = wire44;
	uint64_t cids[2];
	uint32_t w32[3], t32[3];
	uint16_t w16[2];

	memcpy(cids, w, 16);
	memcpy(w32, w + 16, 12);
	memcpy(w16, w + 28, 4);
	memcpy(t32, w + 32, 12);
	*h = (struct rig_hdr){
		.src_cid = le64toh(cids[0]), .dst_cid = le64toh(cids[1]),
		.src_port = le32toh(w32[0]), .dst_port = le32toh(w32[1]),
		.len = le32toh(w32[2]), .type = le16toh(w16[0]),
		.op = le16toh(w16[1]), .flags = le32toh(t32[0]),
		.buf_alloc = le32toh(t32[1]), .fwd_cnt = le32toh(t32[2]),
	};
}

static int check_opts(const struct rig_opts *o)
{
	unsigned frags = o->max_pkt_payload / (o->tx_frag_size ? o->tx_frag_size : 1) + 2;

	if (!o->socket_path || !o->queue_size || (o->queue_size & (o->queue_size - 1)))
		return -EINVAL;
	if (o->rx_buf_size <= RIG_HDR_SIZE || o->rx_bufs == 0 ||
	    o->rx_bufs > o->queue_size || o->rx_spare_bufs > UINT_MAX - o->rx_bufs)
		return -EINVAL;
	if (o->tx_frag_size == 0 || o->max_pkt_payload == 0 ||
	    o->max_pkt_payload > RIG_MAX_PKT_PAYLOAD || o->tx_slots == 0 ||
	    frags > RIG_RING_INDIRECT_MAX || frags > o->queue_size)
		return -EINVAL;
	if (o->buf_alloc == 0 || o->mem_regions == 0)
		return -EINVAL;
	return 0;
}

static int alloc_buffers(struct rig *rig)
{
	const struct rig_opts *o = &rig->opts;
	size_t slot_size = RIG_SLOT_PAYLOAD_OFF + o->max_pkt_payload;

	rig->n_rx_bufs = o->rx_bufs + o->rx_spare_bufs;
	rig->rx_bufs = calloc(rig->n_rx_bufs, sizeof(*rig->rx_bufs));
	rig->rx_free = calloc(rig->n_rx_bufs, sizeof(*rig->rx_free));
	rig->n_tx_slots = o->tx_slots;
	rig->tx_slots = calloc(o->tx_slots, sizeof(*rig->tx_slots));
	rig->tx_free = calloc(o->tx_slots, sizeof(*rig->tx_free));
	rig->pending = calloc(RIG_PENDING_MAX, sizeof(*rig->pending));
	for (unsigned q = 0; q < 2; q++) {
		rig->raw_done[q] = calloc(o->queue_size, 1);
		rig->raw_len[q] = calloc(o->queue_size, sizeof(uint32_t));
		if (!rig->raw_done[q] || !rig->raw_len[q])
			return -ENOMEM;
	}
	if (!rig->rx_bufs || !rig->rx_free || !rig->tx_slots || !rig->tx_free ||
	    !rig->pending)
		return -ENOMEM;
	for (unsigned i = 0; i < rig->n_rx_bufs; i++) {
		struct rig_rx_buf *b = &rig->rx_bufs[i];

		b->data_len = o->rx_buf_size - RIG_HDR_SIZE;
		if (o->rx_layout == RIG_RX_LINEAR) {
			b->hdr_gpa = rig_mem_alloc(&rig->mem, o->rx_buf_size, 64);
			b->data_gpa = b->hdr_gpa + RIG_HDR_SIZE;
		} else {
			b->hdr_gpa = rig_mem_alloc(&rig->mem, RIG_HDR_SIZE, 64);
			b->data_gpa = rig_mem_alloc(&rig->mem, b->data_len, 64);
		}
		if (!b->hdr_gpa || !b->data_gpa)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < rig->n_tx_slots; i++) {
		rig->tx_slots[i].gpa = rig_mem_alloc(&rig->mem, slot_size, 4096);
		if (!rig->tx_slots[i].gpa)
			return -ENOMEM;
	}
	rig_forget_buffers(rig);
	return 0;
}

int rig_create(struct rig **out, const struct rig_opts *o)
{
	struct rig *rig;
	int err = check_opts(o);

	if (err)
		return err;
	rig = calloc(1, sizeof(*rig));
	if (!rig)
		return -ENOMEM;
	rig->opts = *o;
	rig->vu.fd = -1;
	rig->rxq.kick_fd = rig->rxq.call_fd = -1;
	rig->txq.kick_fd = rig->txq.call_fd = -1;
	rig->next_local_port = 49152;
	err = rig_mem_init(&rig->mem, o->region_size, o->mem_regions);
	if (!err)
		err = rig_ring_init(&rig->rxq, &rig->mem, o->queue_size, o->event_idx);
	if (!err)
		err = rig_ring_init(&rig->txq, &rig->mem, o->queue_size, o->event_idx);
	if (!err)
		err = alloc_buffers(rig);
	if (err) {
		rig_destroy(rig);
		return err;
	}
	*out = rig;
	return 0;
}

void rig_destroy(struct rig *rig)
{
	if (!rig)
		return;
	rig_drop_connections(rig);
	rig_vu_close(&rig->vu);
	rig_ring_destroy(&rig->rxq);
	rig_ring_destroy(&rig->txq);
	rig_mem_destroy(&rig->mem);
	free(rig->rx_bufs);
	free(rig->rx_free);
	free(rig->tx_slots);
	free(rig->tx_free);
	free(rig->pending);
	for (unsigned q = 0; q < 2; q++) {
		free(rig->raw_done[q]);
		free(rig->raw_len[q]);
	}
	free(rig);
}

int rig_handshake(struct rig *rig)
{
	uint64_t want_proto = BIT(VU_PROTO_F_MQ) | BIT(VU_PROTO_F_REPLY_ACK) |
			      BIT(VU_PROTO_F_CONFIG);
	uint8_t config[8];
	uint32_t got;
	int err;

	rig->disconnected = false;
	rig->device_started = false;
	err = rig_vu_connect(&rig->vu, rig->opts.socket_path, rig->opts.timeout_ms);
	if (!err)
		err = rig_vu_get_u64(&rig->vu, VU_GET_FEATURES, &rig->device_features);
	if (err)
		return err;
	if (!(rig->device_features & BIT(VU_F_PROTOCOL_FEATURES)) ||
	    !(rig->device_features & BIT(VIRTIO_F_VERSION_1)))
		return -EPROTONOSUPPORT;
	err = rig_vu_get_u64(&rig->vu, VU_GET_PROTOCOL_FEATURES,
			     &rig->device_protocol_features);
	if (!err && !(rig->device_protocol_features & BIT(VU_PROTO_F_CONFIG)))
		err = -EPROTONOSUPPORT;
	if (!err)
		err = rig_vu_set_protocol_features(
			&rig->vu, rig->device_protocol_features & want_proto);
	if (!err && (rig->vu.protocol_features & BIT(VU_PROTO_F_MQ)))
		err = rig_vu_get_u64(&rig->vu, VU_GET_QUEUE_NUM, &rig->queue_num);
	if (!err)
		err = rig_vu_request(&rig->vu, VU_SET_OWNER, NULL, 0, NULL, 0, NULL);
	if (!err)
		err = rig_vu_get_config(&rig->vu, 0, sizeof(config), config, &got);
	if (!err && got != sizeof(config))
		err = -EPROTO;
	if (err)
		return err;
	memcpy(&rig->cid, config, sizeof(config));
	rig->cid = le64toh(rig->cid);
	return 0;
}

int rig_setup_ring(struct rig *rig, unsigned index)
{
	struct rig_ring *r = index == 0 ? &rig->rxq : &rig->txq;
	struct rig_vu *vu = &rig->vu;
	int err;

	err = rig_vu_set_vring_state(vu, VU_SET_VRING_NUM, index, r->num);
	if (!err)
		err = rig_vu_set_vring_state(vu, VU_SET_VRING_BASE, index,
					     r->avail_idx);
	if (!err)
		err = rig_vu_set_vring_addr(vu, index,
					    rig_mem_uva(&rig->mem, r->desc_gpa),
					    rig_mem_uva(&rig->mem, r->used_gpa),
					    rig_mem_uva(&rig->mem, r->avail_gpa));
	if (!err)
		err = rig_vu_set_vring_fd(vu, VU_SET_VRING_KICK, index, r->kick_fd);
	if (!err)
		err = rig_vu_set_vring_fd(vu, VU_SET_VRING_CALL, index, r->call_fd);
	return err;
}

int rig_start(struct rig *rig)
{
	uint64_t features = BIT(VIRTIO_F_VERSION_1) | BIT(VU_F_PROTOCOL_FEATURES) |
			    BIT(VIRTIO_F_NOTIFY_ON_EMPTY);
	int err;

	if (rig->opts.event_idx)
		features |= BIT(VIRTIO_RING_F_EVENT_IDX);
	if (rig->opts.indirect)
		features |= BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if ((features & rig->device_features) != features)
		return -EPROTONOSUPPORT;
	err = rig_vu_set_features(&rig->vu, features);
	if (!err)
		err = rig_vu_set_mem_table(&rig->vu, &rig->mem);
	for (unsigned q = 0; q < 2 && !err; q++)
		err = rig_setup_ring(rig, q);
	for (unsigned q = 0; q < 2 && !err; q++)
		err = rig_vu_set_vring_state(&rig->vu, VU_SET_VRING_ENABLE, q, 1);
	if (err)
		return err;
	rig->device_started = true;
	rig_refill_rx(rig);
	rig_ring_kick_always(&rig->rxq);
	return 0;
}

int rig_stop(struct rig *rig)
{
	uint32_t base;
	int err = 0;

	rig->device_started = false;
	for (unsigned q = 0; q < 2 && !err; q++)
		err = rig_vu_get_vring_base(&rig->vu, q, &base);
	return err;
}

static void reset_rings(struct rig *rig)
{
	rig_drop_connections(rig);
	rig_ring_reset(&rig->rxq);
	rig_ring_reset(&rig->txq);
	rig_ring_clear_call(&rig->rxq);
	rig_ring_clear_call(&rig->txq);
	rig_forget_buffers(rig);
}

int rig_reboot(struct rig *rig)
{
	int err = rig_stop(rig);

	if (err)
		return err;
	reset_rings(rig);
	return rig_start(rig);
}

int rig_reconnect(struct rig *rig)
{
	int err;

	rig->device_started = false;
	rig_vu_close(&rig->vu);
	reset_rings(rig);
	err = rig_handshake(rig);
	return err ? err : rig_start(rig);
}

int rig_open(struct rig **out, const struct rig_opts *o)
{
	struct rig *rig;
	int err = rig_create(&rig, o);

	if (err)
		return err;
	err = rig_handshake(rig);
	if (!err)
		err = rig_start(rig);
	if (err) {
		rig_destroy(rig);
		return err;
	}
	*out = rig;
	return 0;
}

int rig_wait(struct rig *rig, bool (*cond)(struct rig *rig, void *arg),
	     void *arg, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;

	while (!cond(rig, arg)) {
		int left = rig_left_ms(deadline);
		int err;

		if (left == 0)
			return -ETIMEDOUT;
		err = rig_poll(rig, NULL, 0, left);
		if (err < 0)
			return err;
	}
	return 0;
}
