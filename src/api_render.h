/* The API's documents, built from the VM registry (its lock held): the
 * Prometheus metrics (api_metrics.c) and the VM list (api_vms.c). */
#ifndef VSOCK_API_RENDER_H
#define VSOCK_API_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vm_registry.h"
#include "vsock_device.h"

struct vm_entry;

/* GET /metrics: the text exposition format (version 0.0.4), every VM's
 * series labelled with its cid, then the process's.  Returns malloc'd
 * text and its length in *len, or NULL when out of memory. */
char *api_metrics_text(const struct vm_registry *v, long open_fds, size_t *len);

/* GET /vms: an array with, for each VM, {"config": its --vm keys,
 * "state": what its device publishes}.  NULL when out of memory. */
json_t *api_vms_json(const struct vm_registry *v);

/* One VM of GET /vms. */
json_t *api_vm_json(const struct vm_registry *v, size_t i);

/* PUT /vms: sets e's keys from obj, a JSON object of --vm keys (strings,
 * numbers, arrays for list keys), with the messages --vm gives.  Returns
 * false (err says why) for anything --vm would refuse, and for fd. */
bool api_vm_entry(json_t *obj, struct vm_entry *e, FILE *err);

/* GET /vms/<cid>/connections: an array of the n connections in r. */
json_t *api_connections_json(const struct conn_report *r, size_t n);

#endif
