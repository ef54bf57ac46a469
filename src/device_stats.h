/* What a device counts for its operators (the API's /vms and /metrics).
 * Only the device's own thread writes them, so an increment is a relaxed
 * load and store (plain moves on x86, no locked instruction on the data
 * path); another thread reads them with relaxed loads.  Each value is
 * exact; a set of values read one after the other is not a snapshot. */
#ifndef VSOCK_DEVICE_STATS_H
#define VSOCK_DEVICE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* Counters: they only grow. */
enum stat_counter {
	/* Connections that reached ESTABLISHED, by who asked for them. */
	STAT_OPENED_BY_GUEST,
	STAT_OPENED_BY_HOST,
	/* Connections that never did, by why. */
	STAT_REFUSED_NO_LISTENER,  /* nobody at the port (host or guest side) */
	STAT_REFUSED_SOCKET_TYPE,  /* the port serves the other socket type */
	STAT_REFUSED_BUDGET,       /* max-connections or max-pending */
	STAT_REFUSED_TIMEOUT,      /* the guest did not answer in time */
	STAT_REFUSED_HANDSHAKE,    /* a host client's bad or late CONNECT line,
				    * or a peer the backend does not take */
	STAT_REFUSED_ERROR,        /* any other failure to connect */
	/* Payload bytes between the guest and host sockets. */
	STAT_BYTES_G2H,
	STAT_BYTES_H2G,
	STAT_RST_SENT,             /* to the guest */
	STAT_RST_RECEIVED,         /* from the guest, for the host */
	STAT_MALFORMED_CHAINS,     /* descriptor chains or headers refused */
	/* Each time a budget said no (README, "Security model"). */
	STAT_BUDGET_MAX_CONNECTIONS,
	STAT_BUDGET_MAX_PENDING,
	STAT_BUDGET_MAX_HANDSHAKES,
	STAT_BUDGET_TX_BUFFER_TOTAL,
	STAT_COUNTERS
};

/* Gauges: connections by state (enum conn_state's order), and whether a
 * VMM is connected. */
enum stat_gauge {
	STAT_CONNECTING,
	STAT_REQUESTING,
	STAT_ESTABLISHED,
	STAT_CLOSING,
	STAT_VMM_CONNECTED,
	STAT_GAUGES
};

struct device_stats {
	_Atomic uint64_t counter[STAT_COUNTERS];
	_Atomic int64_t gauge[STAT_GAUGES];
};

static inline void stats_count(struct device_stats *s, enum stat_counter k, uint64_t n)
{
	uint64_t v = atomic_load_explicit(&s->counter[k], memory_order_relaxed);

	atomic_store_explicit(&s->counter[k], v + n, memory_order_relaxed);
}

static inline void stats_gauge_add(struct device_stats *s, enum stat_gauge k, int64_t n)
{
	int64_t v = atomic_load_explicit(&s->gauge[k], memory_order_relaxed);

	atomic_store_explicit(&s->gauge[k], v + n, memory_order_relaxed);
}

static inline void stats_gauge_set(struct device_stats *s, enum stat_gauge k, int64_t v)
{
	atomic_store_explicit(&s->gauge[k], v, memory_order_relaxed);
}

static inline uint64_t stats_counter(const struct device_stats *s, enum stat_counter k)
{
	return atomic_load_explicit(&s->counter[k], memory_order_relaxed);
}

static inline int64_t stats_gauge(const struct device_stats *s, enum stat_gauge k)
{
	return atomic_load_explicit(&s->gauge[k], memory_order_relaxed);
}

#endif
