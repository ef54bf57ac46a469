#include "tx_credit.h"

#include "credit.h"
#include "log.h"

/* c's window now: the initial one until it grew, never past the pool's
 * or c's own limit. */
static uint32_t conn_window(const struct tx_pool *p, const struct conn *c)
{
	uint32_t w = c->window ? c->window : TX_CREDIT_INITIAL;

	if (c->max_window && w > c->max_window)
		w = c->max_window;
	return w < p->window ? w : p->window;
}

/* Where a header sent now would put c's edge. */
static uint32_t next_edge(const struct tx_pool *p, const struct conn *c)
{
	uint32_t promised = c->credit_edge - c->fwd_cnt;
	uint64_t room = p->charged < p->budget ? p->budget - p->charged : 0;
	/* Promising up to what c is charged already costs the pool nothing. */
	uint64_t window = c->charged + room;

	if (window > conn_window(p, c))
		window = conn_window(p, c);
	if (window < TX_CREDIT_FLOOR)
		window = TX_CREDIT_FLOOR;
	if (window <= promised)
		return c->credit_edge;
	return c->fwd_cnt + (uint32_t)window;
}

static void recharge(struct tx_pool *p, struct conn *c)
{
	uint32_t promised = c->credit_edge - c->fwd_cnt;
	uint32_t held = txbuf_bytes(&c->txbuf);
	uint32_t charge = promised > held ? promised : held;

	p->charged = p->charged - c->charged + charge;
	c->charged = charge;
}

uint32_t tx_credit_offer(struct tx_pool *p, struct conn *c)
{
	uint32_t window;

	c->credit_edge = next_edge(p, c);
	recharge(p, c);
	window = c->credit_edge - c->fwd_cnt;
	if (window < conn_window(p, c) && p->charged >= p->budget) {
		stats_count(p->stats, STAT_BUDGET_TX_BUFFER_TOTAL, 1);
		log_info_rl("tx-buffer-total (%llu) reached: port %u -> %u offered %u bytes "
			    "of credit", (unsigned long long)p->budget, c->key.peer_port,
			    c->key.local_port, window);
	}
	return window;
}

void tx_credit_account(struct tx_pool *p, struct conn *c)
{
	uint32_t window = conn_window(p, c);

	recharge(p, c);
	if (tx_credit_room(c) >= credit_update_threshold(window))
		return;
	/* The guest is using what it has: let it have more. */
	c->window = window < p->window / 2 ? 2 * window : p->window;
	if (next_edge(p, c) != c->credit_edge)
		c->pending |= CONN_PEND_CREDIT_UPDATE;
}

void tx_credit_release(struct tx_pool *p, struct conn *c)
{
	p->charged -= c->charged;
	c->charged = 0;
}
