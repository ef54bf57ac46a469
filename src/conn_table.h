/* Connections of one device, by (local_port, peer_port).  A
 * chained hash table whose chains run through the connections themselves
 * (conn->hash_next), so lookups and inserts never allocate except when the
 * bucket array doubles. */
#ifndef VSOCK_CONN_TABLE_H
#define VSOCK_CONN_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"

struct conn_table {
	struct conn **buckets;
	size_t nbuckets;   /* power of two */
	size_t count;
};

/* Returns 0 or -ENOMEM. */
int conn_table_init(struct conn_table *t);
/* Frees the buckets only; the connections belong to the caller. */
void conn_table_destroy(struct conn_table *t);
struct conn *conn_table_find(const struct conn_table *t, const struct conn_key *key);
/* The key must not be present.  Never fails: if the table cannot grow it
 * just gets longer chains. */
void conn_table_insert(struct conn_table *t, struct conn *c);
void conn_table_remove(struct conn_table *t, struct conn *c);
/* One pass over the table: calls leave(c, ctx) for every connection and
 * takes out those for which it returns true, right after the call (so
 * leave must neither free c nor touch the table). */
void conn_table_sweep(struct conn_table *t, bool (*leave)(struct conn *c, void *ctx),
		      void *ctx);

#endif
