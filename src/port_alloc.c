#include "port_alloc.h"

void port_alloc_init(struct port_alloc *pa)
{
	pa->next = PORT_ALLOC_FIRST;
}

bool port_alloc_next(struct port_alloc *pa, port_in_use_fn in_use, void *ctx,
		     size_t max_tries, uint32_t *port)
{
	const uint64_t range = (uint64_t)PORT_ALLOC_LAST - PORT_ALLOC_FIRST + 1;

	if (max_tries > range)
		max_tries = (size_t)range;
	for (size_t i = 0; i < max_tries; i++) {
		uint32_t candidate = pa->next;

		pa->next = candidate == PORT_ALLOC_LAST ? PORT_ALLOC_FIRST : candidate + 1;
		if (!in_use(ctx, candidate)) {
			*port = candidate;
			return true;
		}
	}
	return false;
}
