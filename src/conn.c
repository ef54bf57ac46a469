#include "conn.h"

#include "credit.h"

void conn_init(struct conn *c, struct vsock_device *dev, const struct conn_key *key, int fd,
	       uint16_t type)
{
	*c = (struct conn){
		.ev = {.fd = fd},
		.dev = dev,
		.key = *key,
		.type = type,
	};
	txbuf_init(&c->txbuf, type == VIRTIO_VSOCK_TYPE_SEQPACKET);
}

enum conn_pending conn_next_pending(const struct conn *c)
{
	static const enum conn_pending order[] = {
		CONN_PEND_RST, CONN_PEND_REQUEST, CONN_PEND_RESPONSE,
		CONN_PEND_RW, CONN_PEND_CREDIT_UPDATE,
	};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (c->pending & order[i])
			return order[i];
	return 0;
}

void conn_update_peer_credit(struct conn *c, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	c->peer_buf_alloc = buf_alloc;
	c->peer_fwd_cnt = fwd_cnt;
}

uint32_t conn_peer_credit(const struct conn *c)
{
	return credit_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->rx_cnt);
}

void conn_account_sent_header(struct conn *c)
{
	c->pending &= (uint8_t)~CONN_PEND_CREDIT_UPDATE;
}
