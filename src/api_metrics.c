/* GET /metrics, in Prometheus' text exposition format: one family per
 * table row below, one series per VM and label value. */
#include <stdio.h>
#include <stdlib.h>

#include "api_render.h"
#include "device_stats.h"
#include "vsock_device.h"

#define PREFIX "vhost_device_vsock_"

/* A series of a family: the label value and where its number comes from. */
struct series {
	const char *value;
	enum { FROM_COUNTER, FROM_GAUGE, FROM_MAILBOX } from;
	unsigned index;
};

struct family {
	const char *name;
	const char *type;
	const char *help;
	const char *label; /* NULL: one series, no label but cid */
	struct series series[8];
};

#define C(value, k) {value, FROM_COUNTER, k}
#define G(value, k) {value, FROM_GAUGE, k}

static const struct family families[] = {
	{"vmm_connected", "gauge", "Whether a VMM is connected to the VM's vhost-user socket.",
	 NULL, {G(NULL, STAT_VMM_CONNECTED)}},
	{"connections", "gauge", "Connections between the guest and the host, by state.",
	 "state",
	 {G("connecting", STAT_CONNECTING), G("requesting", STAT_REQUESTING),
	  G("established", STAT_ESTABLISHED), G("closing", STAT_CLOSING)}},
	{"connections_opened_total", "counter",
	 "Connections that reached the established state, by the side that asked.",
	 "initiator", {C("guest", STAT_OPENED_BY_GUEST), C("host", STAT_OPENED_BY_HOST)}},
	{"connections_refused_total", "counter", "Connections that never opened, by reason.",
	 "reason",
	 {C("no_listener", STAT_REFUSED_NO_LISTENER),
	  C("socket_type", STAT_REFUSED_SOCKET_TYPE), C("budget", STAT_REFUSED_BUDGET),
	  C("timeout", STAT_REFUSED_TIMEOUT), C("handshake", STAT_REFUSED_HANDSHAKE),
	  C("error", STAT_REFUSED_ERROR)}},
	{"payload_bytes_total", "counter",
	 "Payload bytes moved between the guest and host sockets.", "direction",
	 {C("guest_to_host", STAT_BYTES_G2H), C("host_to_guest", STAT_BYTES_H2G)}},
	{"rst_sent_total", "counter", "RST packets sent to the guest.", NULL,
	 {C(NULL, STAT_RST_SENT)}},
	{"rst_received_total", "counter", "RST packets the guest sent to the host.", NULL,
	 {C(NULL, STAT_RST_RECEIVED)}},
	{"malformed_chains_total", "counter",
	 "Descriptor chains or packet headers from the guest that were refused.", NULL,
	 {C(NULL, STAT_MALFORMED_CHAINS)}},
	{"budget_refusals_total", "counter", "Times a budget said no, by budget.", "budget",
	 {C("max_connections", STAT_BUDGET_MAX_CONNECTIONS),
	  C("max_pending", STAT_BUDGET_MAX_PENDING),
	  C("max_handshakes", STAT_BUDGET_MAX_HANDSHAKES),
	  C("tx_buffer_total", STAT_BUDGET_TX_BUFFER_TOTAL)}},
	{"mailbox_packets", "gauge", "Packets from sibling VMs waiting for the guest.", NULL,
	 {{NULL, FROM_MAILBOX, 0}}},
};

static long long value_of(const struct vsock_device *dev, const struct series *s)
{
	const struct device_stats *st = vsock_device_stats(dev);

	switch (s->from) {
	case FROM_COUNTER:
		return (long long)stats_counter(st, (enum stat_counter)s->index);
	case FROM_GAUGE:
		return (long long)stats_gauge(st, (enum stat_gauge)s->index);
	case FROM_MAILBOX:
		break;
	}
	return (long long)vsock_device_mailbox_depth(dev);
}

/* A labelled family's series end at the first without a value. */
static size_t series_count(const struct family *fam)
{
	size_t n = 1;

	while (fam->label && n < sizeof(fam->series) / sizeof(fam->series[0]) &&
	       fam->series[n].value)
		n++;
	return n;
}

static void write_family(FILE *f, const struct family *fam, const struct vm_registry *v)
{
	size_t n = series_count(fam);

	fprintf(f, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", fam->name, fam->help,
		fam->name, fam->type);
	for (size_t i = 0; i < v->n; i++) {
		for (const struct series *s = fam->series; s < fam->series + n; s++) {
			fprintf(f, PREFIX "%s{cid=\"%u\"", fam->name, v->vms[i].guest_cid);
			if (fam->label)
				fprintf(f, ",%s=\"%s\"", fam->label, s->value);
			fprintf(f, "} %lld\n", value_of(v->devs[i], s));
		}
	}
}

char *api_metrics_text(const struct vm_registry *v, long open_fds, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		write_family(f, &families[i], v);
	fprintf(f, "# HELP " PREFIX "vms VMs served.\n# TYPE " PREFIX "vms gauge\n"
		PREFIX "vms %zu\n", v->n);
	fprintf(f, "# HELP " PREFIX "open_fds File descriptors open in the process.\n"
		"# TYPE " PREFIX "open_fds gauge\n" PREFIX "open_fds %ld\n", open_fds);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
