#include "ctrl_queue.h"

void ctrl_queue_init(struct ctrl_queue *q)
{
	q->head = 0;
	q->len = 0;
}

bool ctrl_queue_push(struct ctrl_queue *q, const struct vsock_hdr *hdr)
{
	if (ctrl_queue_full(q))
		return false;
	q->hdr[(q->head + q->len) % CTRL_QUEUE_SIZE] = *hdr;
	q->len++;
	return true;
}

const struct vsock_hdr *ctrl_queue_peek(const struct ctrl_queue *q)
{
	return &q->hdr[q->head];
}

void ctrl_queue_pop(struct ctrl_queue *q)
{
	q->head = (q->head + 1) % CTRL_QUEUE_SIZE;
	q->len--;
}
