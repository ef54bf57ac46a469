#include "txmsg.h"

#include <errno.h>
#include <stdlib.h>

int txmsg_push(struct txmsg *q, uint32_t len)
{
	if (q->count == q->size) {
		uint32_t size = q->size ? 2 * q->size : 16;
		uint32_t *grown = malloc(size * sizeof(*grown));

		if (!grown || size < q->size) {
			free(grown);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < q->count; i++)
			grown[i] = q->len[(q->head + i) % q->size];
		free(q->len);
		q->len = grown;
		q->size = size;
		q->head = 0;
	}
	q->len[(q->head + q->count) % q->size] = len;
	q->count++;
	return 0;
}

void txmsg_pop(struct txmsg *q)
{
	q->head = (q->head + 1) % q->size;
	if (--q->count == 0) {
		uint32_t open = q->open;

		txmsg_free(q);
		q->open = open;
	}
}

void txmsg_free(struct txmsg *q)
{
	free(q->len);
	txmsg_init(q);
}
