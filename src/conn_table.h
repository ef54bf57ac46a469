/* Connections of one device, by (local_cid, local_port, peer_port).  A
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
/* Empties the table in one pass and returns its connections, chained
 * through hash_next (NULL when it was empty). */
struct conn *conn_table_take_all(struct conn_table *t);

#endif
