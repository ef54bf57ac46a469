/* The credit a device offers its guest for guest->host data (virtio spec,
 * "Buffer Space Management"), within the device's memory budget.
 *
 * Every header sent on a connection carries buf_alloc and fwd_cnt and so
 * allows the guest to send up to fwd_cnt + buf_alloc: the connection's
 * credit edge.  Edges only move forward: a guest never finds itself past
 * what it was allowed (a Linux guest's credit arithmetic would wrap).
 *
 * Each byte between fwd_cnt and the edge is one the device may have to
 * hold, should the host socket stop reading; so is each byte of the
 * connection's overflow buffer (with, for seqpacket, where its messages
 * end).  A connection is charged the larger of the two against its device's pool (tx-buffer-total), and edges grow only as
 * far as the pool has room: past the budget the guest is offered less
 * credit, and the device never holds more memory.  Every connection is
 * still offered TX_CREDIT_FLOOR bytes, budget or not, so none can starve:
 * the device holds at most the budget plus TX_CREDIT_FLOOR per connection.
 * Nothing a guest sent within its credit is ever refused.
 *
 * Since credit once offered stays charged, a connection starts with a
 * window of TX_CREDIT_INITIAL and doubles it, up to tx-buffer-size, each
 * time its guest runs low on credit: idle connections hold little of the
 * pool, busy ones get the whole window after a few round trips.  A
 * seqpacket connection gets its whole window at once, since a Linux guest
 * refuses to send a message larger than the buf_alloc it was offered; its
 * window is also capped (max_window) at the largest message the host
 * socket takes. */
#ifndef VSOCK_TX_CREDIT_H
#define VSOCK_TX_CREDIT_H

#include <stdint.h>

#include "conn.h"
#include "device_stats.h"

#define TX_CREDIT_FLOOR 4096u
#define TX_CREDIT_INITIAL 65536u

struct tx_pool {
	uint64_t budget;  /* tx-buffer-total */
	uint64_t charged; /* the sum of every connection's charge */
	uint32_t window;  /* tx-buffer-size: the most one connection is offered */
	struct device_stats *stats; /* counts the offers the budget cut */
};

static inline void tx_pool_init(struct tx_pool *p, uint64_t budget, uint32_t window,
				struct device_stats *stats)
{
	*p = (struct tx_pool){.budget = budget, .window = window, .stats = stats};
}

/* The buf_alloc for the next header sent on c: moves c's edge as far as
 * the pool allows and charges it. */
uint32_t tx_credit_offer(struct tx_pool *p, struct conn *c);
/* Payload bytes the guest may still send on c. */
static inline uint32_t tx_credit_room(const struct conn *c)
{
	return c->credit_edge - conn_received(c);
}
/* Re-charges c after its fwd_cnt or its overflow buffer changed, and asks
 * for a CREDIT_UPDATE when the guest's view of its credit got small and a
 * header would now give it more. */
void tx_credit_account(struct tx_pool *p, struct conn *c);
/* c is going away: its charge returns to the pool. */
void tx_credit_release(struct tx_pool *p, struct conn *c);

#endif
