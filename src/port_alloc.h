/* Local (host-side) ports for host-initiated connections.  They come from
 * [PORT_ALLOC_FIRST, PORT_ALLOC_LAST] like Firecracker's, far from the
 * well-known ports guests listen on, with a cursor that moves on after each
 * allocation so a port is not reused right after its connection closed. */
#ifndef VSOCK_PORT_ALLOC_H
#define VSOCK_PORT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORT_ALLOC_FIRST (1u << 30)
#define PORT_ALLOC_LAST ((1u << 31) - 1)

struct port_alloc {
	uint32_t next;
};

/* Whether port is taken (by a live connection with the same peer port). */
typedef bool (*port_in_use_fn)(void *ctx, uint32_t port);

void port_alloc_init(struct port_alloc *pa);
/* Finds a port for which in_use() is false, trying at most max_tries ports
 * (callers pass the number of live connections + 1, which is enough since
 * each connection blocks at most one port).  Returns false if none. */
bool port_alloc_next(struct port_alloc *pa, port_in_use_fn in_use, void *ctx,
		     size_t max_tries, uint32_t *port);

#endif
