/* What a device shows its operators on request (the API): read on the
 * device thread through device_call(), copied out for the caller. */
#include <stdlib.h>

#include "device_priv.h"
#include "txbuf.h"

struct connections {
	struct conn_report *items;
	size_t n, cap;
	bool no_memory;
};

static bool report(struct conn *c, void *ctx)
{
	struct connections *l = ctx;

	/* The table holds no CONN_DEAD connection: they leave it as they die. */
	if (l->n == l->cap)
		return false;
	l->items[l->n++] = (struct conn_report){
		.host_port = c->key.local_port,
		.guest_port = c->key.peer_port,
		.type = c->type,
		.state = c->state,
		.bytes_g2h = c->bytes_g2h,
		.bytes_h2g = c->bytes_h2g,
		.guest_buf_alloc = c->peer_buf_alloc,
		.guest_credit = conn_peer_credit(c),
		.offered = c->credit_edge - c->fwd_cnt - txbuf_bytes(&c->txbuf),
		.buffered = txbuf_bytes(&c->txbuf),
	};
	return false; /* the table keeps it */
}

static void list_connections(struct vsock_device *dev, void *arg)
{
	struct connections *l = arg;

	l->cap = dev->conns.count;
	if (!l->cap)
		return;
	l->items = malloc(l->cap * sizeof(*l->items));
	if (!l->items) {
		l->no_memory = true;
		return;
	}
	conn_table_sweep(&dev->conns, report, l);
}

ssize_t vsock_device_connections(struct vsock_device *dev, struct conn_report **out)
{
	struct connections l = {0};
	int rc = device_call(dev, list_connections, &l);

	if (rc < 0 || l.no_memory) {
		free(l.items);
		return rc < 0 ? rc : -ENOMEM;
	}
	*out = l.items;
	return (ssize_t)l.n;
}
