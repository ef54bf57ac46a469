/* GET /vms: each VM's configuration, keyed as --vm keys are (with the
 * underscores --vm also accepts), and the state its device publishes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_vsock.h>

#include "config_vm.h"

#include "api_render.h"
#include "device_stats.h"
#include "vsock_device.h"

/* s as a JSON string: paths and names are bytes, JSON strings UTF-8, so
 * one that is not UTF-8 shows its other bytes as '?'. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j || !s)
		return j;
	copy = strdup(s);
	for (char *p = copy; p && *p; p++)
		if ((unsigned char)*p > 0x7e)
			*p = '?';
	j = copy ? json_string(copy) : NULL;
	free(copy);
	return j;
}

static json_t *string_list(char *const *items, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_text(items[i]));
	return a;
}

static json_t *port_list(const uint32_t *ports, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(ports[i]));
	return a;
}

static json_t *config_json(const struct vm_config *vm)
{
	char mode[8];
	json_t *o;

	snprintf(mode, sizeof(mode), "%04o", vm->socket_mode);
	o = json_pack("{s:I, s:o?, s:I, s:I, s:o, s:I, s:I, s:I, s:s}", "guest_cid",
		      (json_int_t)vm->guest_cid, "socket", json_text(vm->socket_path),
		      "tx_buffer_size", (json_int_t)vm->tx_buffer_size, "queue_size",
		      (json_int_t)vm->queue_size, "groups", string_list(vm->groups, vm->n_groups),
		      "max_connections", (json_int_t)vm->max_connections, "max_pending",
		      (json_int_t)vm->max_pending, "tx_buffer_total",
		      (json_int_t)vm->tx_buffer_total, "socket_mode", mode);
	if (!o)
		return NULL;
	if (vm->socket_gid_set)
		json_object_set_new(o, "socket_group", json_integer(vm->socket_gid));
	if (vm->backend == BACKEND_UDS) {
		json_object_set_new(o, "uds_path", json_text(vm->uds_path));
		json_object_set_new(o, "max_handshakes", json_integer(vm->max_handshakes));
	} else {
		json_object_set_new(o, "forward_cid", json_integer(vm->forward_cid));
		json_object_set_new(o, "forward_listen",
				    port_list(vm->forward_listen, vm->n_forward_listen));
	}
	return o;
}

static json_t *state_json(const struct vsock_device *dev)
{
	const struct device_stats *s = vsock_device_stats(dev);

	return json_pack("{s:b, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}}", "vmm_connected",
			 stats_gauge(s, STAT_VMM_CONNECTED) != 0, "connections", "connecting",
			 (json_int_t)stats_gauge(s, STAT_CONNECTING), "requesting",
			 (json_int_t)stats_gauge(s, STAT_REQUESTING), "established",
			 (json_int_t)stats_gauge(s, STAT_ESTABLISHED), "closing",
			 (json_int_t)stats_gauge(s, STAT_CLOSING), "payload_bytes",
			 "guest_to_host", (json_int_t)stats_counter(s, STAT_BYTES_G2H),
			 "host_to_guest", (json_int_t)stats_counter(s, STAT_BYTES_H2G));
}

/* enum conn_state's names; a report never holds CONN_DEAD. */
static const char *const state_names[] = {"connecting", "requesting", "established",
					  "closing"};

json_t *api_connections_json(const struct conn_report *r, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < n; i++) {
		json_t *c = json_pack(
			"{s:I, s:I, s:s, s:s, s:{s:I, s:I}, s:{s:I, s:I, s:I, s:I}}", "guest_port",
			(json_int_t)r[i].guest_port, "host_port", (json_int_t)r[i].host_port,
			"type", r[i].type == VIRTIO_VSOCK_TYPE_SEQPACKET ? "seqpacket" : "stream",
			"state", state_names[r[i].state], "payload_bytes",
			"guest_to_host", (json_int_t)r[i].bytes_g2h, "host_to_guest",
			(json_int_t)r[i].bytes_h2g, "credit", "guest_buf_alloc",
			(json_int_t)r[i].guest_buf_alloc, "to_guest", (json_int_t)r[i].guest_credit,
			"from_guest", (json_int_t)r[i].offered, "buffered",
			(json_int_t)r[i].buffered);

		if (!c || json_array_append_new(list, c) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

json_t *api_vm_json(const struct vm_registry *v, size_t i)
{
	return json_pack("{s:o, s:o}", "config", config_json(&v->vms[i]), "state",
			 state_json(v->devs[i]));
}

json_t *api_vms_json(const struct vm_registry *v)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < v->n; i++) {
		json_t *vm = api_vm_json(v, i);

		if (!vm || json_array_append_new(list, vm) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* One value of key as the text --vm would give it. */
static bool value_text(const struct vm_entry *e, const char *key, json_t *v, char *buf,
		       size_t size, FILE *err)
{
	if (json_is_string(v)) {
		snprintf(buf, size, "%s", json_string_value(v));
		return strlen(json_string_value(v)) < size ||
		       config_error(err, "%s: %s: the value is too long", e->label, key);
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return true;
	}
	return config_error(err, "%s: %s: expected a string or a number that is not negative",
			    e->label, key);
}

/* A list key's array, item by item. */
static bool set_list(struct vm_entry *e, enum vm_key key, const char *name, json_t *array,
		     FILE *err)
{
	size_t n = json_array_size(array);
	char(*text)[PATH_MAX];
	const char **items;
	bool ok;
	json_t *v;
	size_t i;

	if (n > CONFIG_MAX_LIST_ITEMS)
		return config_error(err, "%s: %s: more than %u items", e->label, name,
				    CONFIG_MAX_LIST_ITEMS);
	text = calloc(n ? n : 1, sizeof(*text));
	items = calloc(n ? n : 1, sizeof(*items));
	ok = text && items;
	if (!ok)
		config_error(err, "out of memory");
	json_array_foreach(array, i, v) {
		if (!ok || !(ok = value_text(e, name, v, text[i], sizeof(text[i]), err)))
			break;
		items[i] = text[i];
	}
	ok = ok && vm_entry_set_items(e, key, name, items, n, err);
	free(items);
	free(text);
	return ok;
}

bool api_vm_entry(json_t *obj, struct vm_entry *e, FILE *err)
{
	const char *name;
	json_t *v;

	if (!json_is_object(obj))
		return config_error(err, "%s: expected a JSON object of --vm keys", e->label);
	json_object_foreach(obj, name, v) {
		char keys[512], text[PATH_MAX];
		enum vm_key key;

		if (!vm_key_lookup(name, &key)) {
			vm_key_list(keys, sizeof(keys), '_');
			return config_error(err, "%s: %s: unknown key (valid: %s)", e->label, name,
					    keys);
		}
		/* A number names one of the daemon's own descriptors here. */
		if (key == VM_KEY_FD)
			return config_error(err, "%s: %s: inherited sockets exist only at "
					    "start-up; give a socket path", e->label, name);
		if (json_is_array(v)) {
			if (!set_list(e, key, name, v, err))
				return false;
		} else if (!value_text(e, name, v, text, sizeof(text), err) ||
			   !vm_entry_set(e, key, name, text, err)) {
			return false;
		}
	}
	return true;
}
