#include "conn_table.h"

#include <errno.h>
#include <stdlib.h>

#define CONN_TABLE_MIN_BUCKETS 64

static size_t key_hash(const struct conn_key *k)
{
	uint64_t h = (uint64_t)k->local_port << 32 | k->peer_port;

	/* splitmix64 finaliser: spreads sequential ports over all buckets */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (size_t)h;
}

static bool key_equal(const struct conn_key *a, const struct conn_key *b)
{
	return a->local_port == b->local_port && a->peer_port == b->peer_port;
}

int conn_table_init(struct conn_table *t)
{
	t->buckets = calloc(CONN_TABLE_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = CONN_TABLE_MIN_BUCKETS;
	t->count = 0;
	return 0;
}

void conn_table_destroy(struct conn_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

struct conn *conn_table_find(const struct conn_table *t, const struct conn_key *key)
{
	struct conn *c = t->buckets[key_hash(key) & (t->nbuckets - 1)];

	while (c && !key_equal(&c->key, key))
		c = c->hash_next;
	return c;
}

static void conn_table_grow(struct conn_table *t)
{
	size_t n = t->nbuckets * 2;
	struct conn **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct conn *c = t->buckets[i];

		while (c) {
			struct conn *next = c->hash_next;
			size_t slot = key_hash(&c->key) & (n - 1);

			c->hash_next = b[slot];
			b[slot] = c;
			c = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

void conn_table_insert(struct conn_table *t, struct conn *c)
{
	size_t slot;

	if (t->count >= t->nbuckets)
		conn_table_grow(t);
	slot = key_hash(&c->key) & (t->nbuckets - 1);
	c->hash_next = t->buckets[slot];
	t->buckets[slot] = c;
	t->count++;
}

void conn_table_remove(struct conn_table *t, struct conn *c)
{
	struct conn **link = &t->buckets[key_hash(&c->key) & (t->nbuckets - 1)];

	while (*link && *link != c)
		link = &(*link)->hash_next;
	if (!*link)
		return;
	*link = c->hash_next;
	c->hash_next = NULL;
	t->count--;
}

void conn_table_sweep(struct conn_table *t, bool (*leave)(struct conn *c, void *ctx),
		      void *ctx)
{
	size_t unseen = t->count; /* buckets may far outnumber connections */

	for (size_t i = 0; i < t->nbuckets && unseen; i++) {
		struct conn **link = &t->buckets[i];

		while (*link) {
			struct conn *c = *link;

			unseen--;
			if (!leave(c, ctx)) {
				link = &c->hash_next;
				continue;
			}
			*link = c->hash_next;
			c->hash_next = NULL;
			t->count--;
		}
	}
}
