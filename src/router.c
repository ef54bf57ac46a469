/* The registry of sibling ports, group checks, and the wakeups that carry
 * mail and back-pressure between device threads (see router.h). */
#include "router.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "router_mailbox.h"

/* Senders remembered per mailbox; more than this and every port is woken. */
#define ROUTER_MAX_WAITERS 8

struct router_port {
	struct router *router;
	uint32_t cid;
	int wakeup_fd;
	uint32_t *group_ids; /* sorted, into router->group_names */
	size_t n_groups;

	pthread_mutex_t lock; /* guards everything below */
	struct mailbox mailbox;
	uint32_t waiters[ROUTER_MAX_WAITERS]; /* CIDs refused for lack of space */
	unsigned n_waiters;
	bool waiters_overflow;
	/* mailbox.packets, for readers without the lock (router_port_depth). */
	_Atomic unsigned depth;
};

struct router {
	pthread_rwlock_t lock; /* guards ports and group_names */
	struct router_port **ports; /* sorted by cid */
	size_t n_ports;
	char **group_names; /* interned: a group's id is its index */
	size_t n_group_names;
	size_t mailbox_bytes;
	unsigned mailbox_packets;
};

struct router *router_create(size_t mailbox_bytes, unsigned mailbox_packets)
{
	pthread_rwlockattr_t attr;
	struct router *router;

	if (mailbox_bytes < mailbox_record_size(VSOCK_MAX_PKT_PAYLOAD) || mailbox_packets == 0) {
		errno = EINVAL;
		return NULL;
	}
	router = calloc(1, sizeof(*router));
	if (!router)
		return NULL;
	router->mailbox_bytes = mailbox_bytes;
	router->mailbox_packets = mailbox_packets;
	/* Senders take the read lock for every packet: without writer
	 * preference, a busy pair of devices could starve unregister forever. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	int rc = pthread_rwlock_init(&router->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (rc != 0) {
		free(router);
		errno = rc;
		return NULL;
	}
	return router;
}

void router_destroy(struct router *router)
{
	if (!router)
		return;
	if (router->n_ports)
		log_err("router destroyed with %zu port(s) still registered", router->n_ports);
	for (size_t i = 0; i < router->n_group_names; i++)
		free(router->group_names[i]);
	free(router->group_names);
	free(router->ports);
	pthread_rwlock_destroy(&router->lock);
	free(router);
}

/* Index of the first port whose cid is >= cid.  Registry lock held. */
static size_t port_index(const struct router *router, uint32_t cid)
{
	size_t lo = 0, hi = router->n_ports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (router->ports[mid]->cid < cid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The port of cid, or NULL.  The comparison is on all 64 bits, so a cid
 * above 32 bits matches no port. */
static struct router_port *find_port(const struct router *router, uint64_t cid)
{
	size_t i = port_index(router, (uint32_t)cid);

	return i < router->n_ports && router->ports[i]->cid == cid ? router->ports[i] : NULL;
}

/* Id of a group name, adding it if new.  Write lock held.  -1 if no memory. */
static long intern_group(struct router *router, const char *name)
{
	for (size_t i = 0; i < router->n_group_names; i++)
		if (strcmp(router->group_names[i], name) == 0)
			return (long)i;
	char **grown = realloc(router->group_names,
			       (router->n_group_names + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	router->group_names = grown;
	grown[router->n_group_names] = strdup(name);
	if (!grown[router->n_group_names])
		return -1;
	return (long)router->n_group_names++;
}

static int compare_ids(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static bool share_group(const struct router_port *a, const struct router_port *b)
{
	size_t i = 0, j = 0;

	while (i < a->n_groups && j < b->n_groups) {
		if (a->group_ids[i] == b->group_ids[j])
			return true;
		if (a->group_ids[i] < b->group_ids[j])
			i++;
		else
			j++;
	}
	return false;
}

/* Resolves the port's group names to sorted ids.  Write lock held. */
static int set_groups(struct router *router, struct router_port *port,
		      const char *const *groups, size_t n_groups)
{
	for (size_t i = 0; i < n_groups; i++) {
		long id = intern_group(router, groups[i]);

		if (id < 0)
			return -ENOMEM;
		port->group_ids[i] = (uint32_t)id;
	}
	qsort(port->group_ids, n_groups, sizeof(*port->group_ids), compare_ids);
	port->n_groups = n_groups;
	return 0;
}

static int insert_port(struct router *router, struct router_port *port)
{
	size_t i = port_index(router, port->cid);
	struct router_port **grown;

	if (i < router->n_ports && router->ports[i]->cid == port->cid)
		return -EEXIST;
	grown = realloc(router->ports, (router->n_ports + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	router->ports = grown;
	memmove(&grown[i + 1], &grown[i], (router->n_ports - i) * sizeof(*grown));
	grown[i] = port;
	router->n_ports++;
	return 0;
}

static void free_port(struct router_port *port)
{
	mailbox_fini(&port->mailbox);
	pthread_mutex_destroy(&port->lock);
	free(port->group_ids);
	free(port);
}

struct router_port *router_register(struct router *router, uint32_t cid,
				    const char *const *groups, size_t n_groups,
				    int wakeup_fd)
{
	struct router_port *port;
	int rc;

	if (n_groups == 0) {
		errno = EINVAL;
		return NULL;
	}
	port = calloc(1, sizeof(*port));
	if (!port)
		return NULL;
	port->router = router;
	port->cid = cid;
	port->wakeup_fd = wakeup_fd;
	port->group_ids = calloc(n_groups, sizeof(*port->group_ids));
	pthread_mutex_init(&port->lock, NULL);
	if (!port->group_ids ||
	    mailbox_init(&port->mailbox, router->mailbox_bytes, router->mailbox_packets) < 0) {
		free_port(port);
		errno = ENOMEM;
		return NULL;
	}
	pthread_rwlock_wrlock(&router->lock);
	rc = set_groups(router, port, groups, n_groups);
	if (rc == 0)
		rc = insert_port(router, port);
	pthread_rwlock_unlock(&router->lock);
	if (rc < 0) {
		free_port(port);
		errno = -rc;
		return NULL;
	}
	return port;
}

static void signal_port(const struct router_port *port)
{
	uint64_t one = 1;

	/* Fails only if the counter is about to overflow, i.e. the owner
	 * already has a wakeup pending. */
	if (write(port->wakeup_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn_rl("router: cannot wake cid %u: %m", port->cid);
}

/* Wakes the given senders (by CID: any of them may be gone by now), or every
 * port when the list overflowed.  No mailbox lock held. */
static void wake_waiters(struct router *router, const uint32_t *cids, unsigned n,
			 bool everyone)
{
	pthread_rwlock_rdlock(&router->lock);
	if (everyone) {
		for (size_t i = 0; i < router->n_ports; i++)
			signal_port(router->ports[i]);
	} else {
		for (unsigned i = 0; i < n; i++) {
			struct router_port *port = find_port(router, cids[i]);

			if (port)
				signal_port(port);
		}
	}
	pthread_rwlock_unlock(&router->lock);
}

void router_unregister(struct router_port *port)
{
	struct router *router;

	if (!port)
		return;
	router = port->router;
	pthread_rwlock_wrlock(&router->lock);
	size_t i = port_index(router, port->cid);
	memmove(&router->ports[i], &router->ports[i + 1],
		(router->n_ports - i - 1) * sizeof(*router->ports));
	router->n_ports--;
	pthread_rwlock_unlock(&router->lock);
	/* No sender can reach the port any more: its waiters are final. */
	wake_waiters(router, port->waiters, port->n_waiters, port->waiters_overflow);
	free_port(port);
}

/* Remembers that cid was refused by this full mailbox.  Port lock held. */
static void add_waiter(struct router_port *to, uint32_t cid)
{
	for (unsigned i = 0; i < to->n_waiters; i++)
		if (to->waiters[i] == cid)
			return;
	if (to->n_waiters < ROUTER_MAX_WAITERS)
		to->waiters[to->n_waiters++] = cid;
	else
		to->waiters_overflow = true;
}

static size_t iov_total(const struct iovec *iov, size_t iovcnt)
{
	size_t total = 0;

	for (size_t i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > VSOCK_MAX_PKT_PAYLOAD)
			return SIZE_MAX;
		total += iov[i].iov_len;
		if (total > VSOCK_MAX_PKT_PAYLOAD)
			return SIZE_MAX;
	}
	return total;
}

enum router_result router_send(struct router_port *from, const struct vsock_hdr *hdr,
			       const struct iovec *payload, size_t iovcnt)
{
	struct router *router = from->router;
	enum router_result result = ROUTER_DELIVERED;
	size_t len = iov_total(payload, iovcnt);
	struct router_port *to;
	bool was_empty = false;

	/* Devices check both before they send; the router checks again, as
	 * the last place a forged source could be caught. */
	if (len != hdr->len || hdr->src_cid != from->cid)
		return ROUTER_INVALID;
	pthread_rwlock_rdlock(&router->lock);
	to = find_port(router, hdr->dst_cid);
	if (!to || !share_group(from, to)) {
		result = ROUTER_UNREACHABLE;
		goto out;
	}
	pthread_mutex_lock(&to->lock);
	if (mailbox_fits(&to->mailbox, len)) {
		was_empty = to->mailbox.packets == 0;
		mailbox_push(&to->mailbox, hdr, payload, iovcnt, len);
		atomic_store_explicit(&to->depth, to->mailbox.packets, memory_order_relaxed);
	} else {
		add_waiter(to, from->cid);
		result = ROUTER_FULL;
	}
	pthread_mutex_unlock(&to->lock);
	if (was_empty)
		signal_port(to);
out:
	pthread_rwlock_unlock(&router->lock);
	return result;
}

bool router_peek(struct router_port *port, struct router_msg *msg)
{
	bool found;

	pthread_mutex_lock(&port->lock);
	found = mailbox_peek(&port->mailbox, msg);
	pthread_mutex_unlock(&port->lock);
	return found;
}

unsigned router_port_depth(const struct router_port *port)
{
	return port ? atomic_load_explicit(&port->depth, memory_order_relaxed) : 0;
}

void router_consume(struct router_port *port, size_t n)
{
	uint32_t waiters[ROUTER_MAX_WAITERS];
	unsigned n_waiters = 0;
	bool everyone = false, consumed;

	pthread_mutex_lock(&port->lock);
	consumed = mailbox_consume(&port->mailbox, n);
	atomic_store_explicit(&port->depth, port->mailbox.packets, memory_order_relaxed);
	if (consumed && (port->n_waiters || port->waiters_overflow) &&
	    mailbox_below_low_water(&port->mailbox)) {
		n_waiters = port->n_waiters;
		memcpy(waiters, port->waiters, n_waiters * sizeof(*waiters));
		everyone = port->waiters_overflow;
		port->n_waiters = 0;
		port->waiters_overflow = false;
	}
	pthread_mutex_unlock(&port->lock);
	if (n_waiters || everyone)
		wake_waiters(port->router, waiters, n_waiters, everyone);
}
