/* One VM's settings: key names, value parsing and per-VM rules. */
#include "config_vm.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "parse_num.h"

#define CID_HYPERVISOR 0u
#define CID_LOCAL 1u
#define CID_HOST 2u
#define CID_ANY 0xffffffffu
#define PORT_ANY 0xffffffffu

static const char *const key_names[VM_KEY_COUNT] = {
	[VM_KEY_GUEST_CID] = "guest-cid",
	[VM_KEY_SOCKET] = "socket",
	[VM_KEY_FD] = "fd",
	[VM_KEY_UDS_PATH] = "uds-path",
	[VM_KEY_FORWARD_CID] = "forward-cid",
	[VM_KEY_FORWARD_LISTEN] = "forward-listen",
	[VM_KEY_TX_BUFFER_SIZE] = "tx-buffer-size",
	[VM_KEY_QUEUE_SIZE] = "queue-size",
	[VM_KEY_GROUPS] = "groups",
	[VM_KEY_MAX_CONNECTIONS] = "max-connections",
	[VM_KEY_MAX_HANDSHAKES] = "max-handshakes",
	[VM_KEY_MAX_PENDING] = "max-pending",
	[VM_KEY_TX_BUFFER_TOTAL] = "tx-buffer-total",
	[VM_KEY_SOCKET_GROUP] = "socket-group",
	[VM_KEY_SOCKET_MODE] = "socket-mode",
};

const char *vm_key_name(enum vm_key key) { return key_names[key]; }

/* Whether name is want, with '_' allowed for each '-'. */
static bool same_key(const char *name, const char *want)
{
	while (*want && (*name == *want || (*name == '_' && *want == '-'))) {
		name++;
		want++;
	}
	return *want == '\0' && *name == '\0';
}

bool vm_key_lookup(const char *name, enum vm_key *out)
{
	for (int k = 0; k < VM_KEY_COUNT; k++) {
		if (same_key(name, key_names[k])) {
			*out = (enum vm_key)k;
			return true;
		}
	}
	if (same_key(name, "socket-path")) {
		*out = VM_KEY_SOCKET;
		return true;
	}
	return false;
}

void vm_key_list(char *buf, size_t size, char dash)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int k = 0; k < VM_KEY_COUNT && off < size; k++) {
		int n = snprintf(buf + off, size - off, "%s%s", k ? ", " : "", key_names[k]);

		for (int i = 0; i < n && off + (size_t)i < size; i++)
			if (buf[off + (size_t)i] == '-')
				buf[off + (size_t)i] = dash;
		off += n > 0 ? (size_t)n : 0;
	}
}

bool vm_key_is_list(enum vm_key key)
{
	return key == VM_KEY_FORWARD_LISTEN || key == VM_KEY_GROUPS;
}

bool config_error(FILE *err, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fprintf(err, "vhost-device-vsock: error: %s\n", message);
	return false;
}

/* Parses a number for key; on failure prints
 * "<label>: <key>: '<value>' <problem>" and returns false. */
static bool parse_number(const struct vm_entry *e, const char *spelling,
			 const char *value, uint64_t max, uint64_t *out, FILE *err)
{
	enum parse_num_result r = parse_num_u64(value, max, out);

	if (r == PARSE_NUM_OK)
		return true;
	if (r == PARSE_NUM_TOO_LARGE)
		return config_error(err, "%s: %s: '%s' is too large (maximum %llu)",
				    e->label, spelling, value, (unsigned long long)max);
	return config_error(err, "%s: %s: '%s' %s", e->label, spelling, value,
			    parse_num_problem(r));
}

static bool set_guest_cid(struct vm_entry *e, const char *spelling, const char *value,
			  FILE *err)
{
	static const char *const reserved[] = {
		[CID_HYPERVISOR] = "VMADDR_CID_HYPERVISOR",
		[CID_LOCAL] = "VMADDR_CID_LOCAL",
		[CID_HOST] = "VMADDR_CID_HOST",
	};
	uint64_t cid;

	if (!parse_number(e, spelling, value, UINT64_MAX, &cid, err))
		return false;
	if (cid > UINT32_MAX)
		return config_error(err, "%s: %s: %llu does not fit in 32 bits", e->label,
				    spelling, (unsigned long long)cid);
	if (cid <= CID_HOST)
		return config_error(err, "%s: %s: %llu is reserved (%s)", e->label, spelling,
				    (unsigned long long)cid, reserved[cid]);
	if (cid == CID_ANY)
		return config_error(err, "%s: %s: %llu is reserved (VMADDR_CID_ANY)",
				    e->label, spelling, (unsigned long long)cid);
	e->vm.guest_cid = (uint32_t)cid;
	return true;
}

static bool set_forward_cid(struct vm_entry *e, const char *spelling, const char *value,
			    FILE *err)
{
	uint64_t cid;

	if (!parse_number(e, spelling, value, UINT32_MAX, &cid, err))
		return false;
	if (cid == CID_ANY)
		return config_error(err, "%s: %s: %llu is VMADDR_CID_ANY, not a destination",
				    e->label, spelling, (unsigned long long)cid);
	e->vm.forward_cid = (uint32_t)cid;
	return true;
}

/* A number in [min, max]. */
static bool parse_bounded(const struct vm_entry *e, const char *spelling, const char *value,
			  uint64_t min, uint64_t max, uint64_t *out, FILE *err)
{
	if (!parse_number(e, spelling, value, UINT64_MAX, out, err))
		return false;
	if (*out < min || *out > max)
		return config_error(err, "%s: %s: %llu is outside %llu..%llu", e->label, spelling,
				    (unsigned long long)*out, (unsigned long long)min,
				    (unsigned long long)max);
	return true;
}

static bool set_u32(const struct vm_entry *e, const char *spelling, const char *value,
		    uint32_t min, uint32_t max, uint32_t *slot, FILE *err)
{
	uint64_t n;

	if (!parse_bounded(e, spelling, value, min, max, &n, err))
		return false;
	*slot = (uint32_t)n;
	return true;
}

static bool set_queue_size(struct vm_entry *e, const char *spelling, const char *value,
			   FILE *err)
{
	uint64_t size;

	if (!parse_number(e, spelling, value, UINT64_MAX, &size, err))
		return false;
	if (size == 0 || size > CONFIG_MAX_QUEUE_SIZE || (size & (size - 1)) != 0)
		return config_error(err,
				    "%s: %s: %llu is not a power of two between 1 and %u",
				    e->label, spelling, (unsigned long long)size,
				    CONFIG_MAX_QUEUE_SIZE);
	e->vm.queue_size = (uint32_t)size;
	return true;
}

static bool set_path(struct vm_entry *e, const char *spelling, const char *value,
		     char **slot, FILE *err)
{
	if (*value == '\0')
		return config_error(err, "%s: %s: the path is empty", e->label, spelling);
	if (strlen(value) > CONFIG_UNIX_PATH_MAX)
		return config_error(err,
				    "%s: %s: '%s' is longer than a Unix socket path can be "
				    "(%u bytes)",
				    e->label, spelling, value, CONFIG_UNIX_PATH_MAX);
	*slot = strdup(value);
	if (!*slot)
		return config_error(err, "out of memory");
	return true;
}

/* An inherited descriptor: at least 3 (0, 1 and 2 are stdio). */
static bool set_fd(struct vm_entry *e, const char *spelling, const char *value, FILE *err)
{
	uint64_t fd;

	if (!parse_bounded(e, spelling, value, 3, INT_MAX, &fd, err))
		return false;
	e->vm.socket_fd = (int)fd;
	return true;
}

/* A number is a gid, without asking the name service; a name is looked up
 * with the reentrant call (the API's thread and a reload may both parse). */
bool config_parse_group(const char *label, const char *spelling, const char *value,
			gid_t *out, FILE *err)
{
	struct group g, *found = NULL;
	char buf[4096];
	uint64_t gid;

	if (parse_num_u64(value, UINT32_MAX - 1, &gid) == PARSE_NUM_OK) {
		*out = (gid_t)gid;
		return true;
	}
	if (*value && getgrnam_r(value, &g, buf, sizeof(buf), &found) == 0 && found) {
		*out = found->gr_gid;
		return true;
	}
	return config_error(err, "%s: %s: '%s' is neither a group name nor a group number",
			    label, spelling, value);
}

bool config_parse_mode(const char *label, const char *spelling, const char *value,
		       uint32_t *out, FILE *err)
{
	char *end;
	unsigned long mode;

	errno = 0;
	mode = *value >= '0' && *value <= '7' ? strtoul(value, &end, 8) : ULONG_MAX;
	if (errno || mode == ULONG_MAX || *end || mode > CONFIG_MAX_SOCKET_MODE)
		return config_error(err, "%s: %s: '%s' is not an octal mode from 0 to 0777 "
				    "(such as 0660)", label, spelling, value);
	*out = (uint32_t)mode;
	return true;
}

static bool add_port(struct vm_entry *e, const char *spelling, const char *item, FILE *err)
{
	struct vm_config *vm = &e->vm;
	uint64_t port;

	if (!parse_number(e, spelling, item, UINT32_MAX, &port, err))
		return false;
	if (port == PORT_ANY)
		return config_error(err, "%s: %s: %llu is VMADDR_PORT_ANY, not a port",
				    e->label, spelling, (unsigned long long)port);
	for (size_t i = 0; i < vm->n_forward_listen; i++)
		if (vm->forward_listen[i] == port)
			return config_error(err, "%s: %s: port %llu is listed twice", e->label,
					    spelling, (unsigned long long)port);
	if (vm->n_forward_listen >= CONFIG_MAX_LIST_ITEMS)
		return config_error(err, "%s: %s: more than %u ports", e->label, spelling,
				    CONFIG_MAX_LIST_ITEMS);
	uint32_t *grown = realloc(vm->forward_listen,
				  (vm->n_forward_listen + 1) * sizeof(*grown));
	if (!grown)
		return config_error(err, "out of memory");
	vm->forward_listen = grown;
	vm->forward_listen[vm->n_forward_listen++] = (uint32_t)port;
	return true;
}

static bool add_group(struct vm_entry *e, const char *spelling, const char *item, FILE *err)
{
	struct vm_config *vm = &e->vm;

	if (*item == '\0')
		return config_error(err, "%s: %s: empty group name", e->label, spelling);
	for (size_t i = 0; i < vm->n_groups; i++)
		if (strcmp(vm->groups[i], item) == 0)
			return config_error(err, "%s: %s: group '%s' is listed twice",
					    e->label, spelling, item);
	if (vm->n_groups >= CONFIG_MAX_LIST_ITEMS)
		return config_error(err, "%s: %s: more than %u groups", e->label, spelling,
				    CONFIG_MAX_LIST_ITEMS);
	char **grown = realloc(vm->groups, (vm->n_groups + 1) * sizeof(*grown));
	if (!grown)
		return config_error(err, "out of memory");
	vm->groups = grown;
	vm->groups[vm->n_groups] = strdup(item);
	if (!vm->groups[vm->n_groups])
		return config_error(err, "out of memory");
	vm->n_groups++;
	return true;
}

static bool add_list_item(struct vm_entry *e, enum vm_key key, const char *spelling,
			  const char *item, FILE *err)
{
	if (key == VM_KEY_FORWARD_LISTEN)
		return add_port(e, spelling, item, err);
	return add_group(e, spelling, item, err);
}

/* Splits a '+' list; surrounding whitespace of the whole list is ignored
 * (as the reference does for --groups). */
static bool set_list(struct vm_entry *e, enum vm_key key, const char *spelling,
		     const char *value, FILE *err)
{
	size_t len = strlen(value);
	char *copy, *item;
	bool ok = true;

	while (len && isspace((unsigned char)value[len - 1]))
		len--;
	while (len && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	if (len == 0)
		return config_error(err, "%s: %s: the list is empty", e->label, spelling);
	copy = strndup(value, len);
	if (!copy)
		return config_error(err, "out of memory");
	item = copy;
	for (;;) {
		char *plus = strchr(item, '+');

		if (plus)
			*plus = '\0';
		ok = add_list_item(e, key, spelling, item, err);
		if (!ok || !plus)
			break;
		item = plus + 1;
	}
	free(copy);
	return ok;
}

static bool mark_given(struct vm_entry *e, enum vm_key key, const char *spelling, FILE *err)
{
	if (e->given & (1u << key))
		return config_error(err, "%s: %s: given more than once", e->label, spelling);
	e->given |= 1u << key;
	return true;
}

bool vm_entry_set(struct vm_entry *e, enum vm_key key, const char *spelling,
		  const char *value, FILE *err)
{
	if (!mark_given(e, key, spelling, err))
		return false;
	switch (key) {
	case VM_KEY_GUEST_CID:
		return set_guest_cid(e, spelling, value, err);
	case VM_KEY_SOCKET:
		return set_path(e, spelling, value, &e->vm.socket_path, err);
	case VM_KEY_UDS_PATH:
		return set_path(e, spelling, value, &e->vm.uds_path, err);
	case VM_KEY_FORWARD_CID:
		return set_forward_cid(e, spelling, value, err);
	case VM_KEY_TX_BUFFER_SIZE:
		return set_u32(e, spelling, value, CONFIG_MIN_TX_BUFFER_SIZE,
			       CONFIG_MAX_TX_BUFFER_SIZE, &e->vm.tx_buffer_size, err);
	case VM_KEY_MAX_CONNECTIONS:
		return set_u32(e, spelling, value, 1, CONFIG_MAX_MAX_CONNECTIONS,
			       &e->vm.max_connections, err);
	case VM_KEY_MAX_HANDSHAKES:
		return set_u32(e, spelling, value, 1, CONFIG_MAX_MAX_HANDSHAKES,
			       &e->vm.max_handshakes, err);
	case VM_KEY_MAX_PENDING:
		return set_u32(e, spelling, value, 1, CONFIG_MAX_MAX_CONNECTIONS,
			       &e->vm.max_pending, err);
	case VM_KEY_TX_BUFFER_TOTAL:
		return parse_bounded(e, spelling, value, CONFIG_MIN_TX_BUFFER_TOTAL,
				     CONFIG_MAX_TX_BUFFER_TOTAL, &e->vm.tx_buffer_total, err);
	case VM_KEY_QUEUE_SIZE:
		return set_queue_size(e, spelling, value, err);
	case VM_KEY_FD:
		return set_fd(e, spelling, value, err);
	case VM_KEY_SOCKET_GROUP:
		e->vm.socket_gid_set = true;
		return config_parse_group(e->label, spelling, value, &e->vm.socket_gid, err);
	case VM_KEY_SOCKET_MODE:
		return config_parse_mode(e->label, spelling, value, &e->vm.socket_mode, err);
	case VM_KEY_FORWARD_LISTEN:
	case VM_KEY_GROUPS:
		return set_list(e, key, spelling, value, err);
	case VM_KEY_COUNT:
		break;
	}
	return config_error(err, "%s: %s: unknown key", e->label, spelling);
}

bool vm_entry_set_items(struct vm_entry *e, enum vm_key key, const char *spelling,
			const char *const *items, size_t n_items, FILE *err)
{
	if (!vm_key_is_list(key))
		return config_error(err, "%s: %s: takes one value, not a list", e->label,
				    spelling);
	if (n_items == 0)
		return config_error(err, "%s: %s: the list is empty", e->label, spelling);
	if (!mark_given(e, key, spelling, err))
		return false;
	for (size_t i = 0; i < n_items; i++)
		if (!add_list_item(e, key, spelling, items[i], err))
			return false;
	return true;
}

bool vm_entry_has(const struct vm_entry *e, enum vm_key key)
{
	return e->given & (1u << key);
}

bool vm_entry_finish(struct vm_entry *e, FILE *err)
{
	struct vm_config *vm = &e->vm;
	const char *pre = e->key_prefix ? e->key_prefix : "";

	if (!vm_entry_has(e, VM_KEY_SOCKET) && !vm_entry_has(e, VM_KEY_FD))
		return config_error(err, "%s: %ssocket: missing (the vhost-user socket path "
				    "is required, or %sfd for an inherited one)", e->label, pre,
				    pre);
	if (vm_entry_has(e, VM_KEY_SOCKET) && vm_entry_has(e, VM_KEY_FD))
		return config_error(err, "%s: %ssocket and %sfd cannot be used together",
				    e->label, pre, pre);
	if (vm_entry_has(e, VM_KEY_UDS_PATH) && vm_entry_has(e, VM_KEY_FORWARD_CID))
		return config_error(err, "%s: %suds-path and %sforward-cid cannot be used "
				    "together", e->label, pre, pre);
	if (vm_entry_has(e, VM_KEY_FORWARD_LISTEN) && !vm_entry_has(e, VM_KEY_FORWARD_CID))
		return config_error(err, "%s: %sforward-listen needs %sforward-cid", e->label,
				    pre, pre);
	if (!vm_entry_has(e, VM_KEY_UDS_PATH) && !vm_entry_has(e, VM_KEY_FORWARD_CID))
		return config_error(err, "%s: needs %suds-path (Unix socket backend) or "
				    "%sforward-cid (AF_VSOCK backend)", e->label, pre, pre);
	if (vm_entry_has(e, VM_KEY_MAX_HANDSHAKES) && !vm_entry_has(e, VM_KEY_UDS_PATH))
		return config_error(err, "%s: %smax-handshakes needs %suds-path (only Unix "
				    "socket clients send a CONNECT line)", e->label, pre, pre);
	if (vm_entry_has(e, VM_KEY_MAX_PENDING) && vm_entry_has(e, VM_KEY_MAX_CONNECTIONS) &&
	    vm->max_pending > vm->max_connections)
		return config_error(err, "%s: %smax-pending: %u is more than %smax-connections "
				    "(%u)", e->label, pre, vm->max_pending, pre,
				    vm->max_connections);

	vm->backend = vm_entry_has(e, VM_KEY_UDS_PATH) ? BACKEND_UDS : BACKEND_VSOCK;
	if (!vm_entry_has(e, VM_KEY_FD))
		vm->socket_fd = -1;
	vm->uds_fd = -1;
	vm->uds_seqpacket_fd = -1;
	if (!vm_entry_has(e, VM_KEY_GUEST_CID))
		vm->guest_cid = CONFIG_DEFAULT_GUEST_CID;
	if (!vm_entry_has(e, VM_KEY_TX_BUFFER_SIZE))
		vm->tx_buffer_size = CONFIG_DEFAULT_TX_BUFFER_SIZE;
	if (!vm_entry_has(e, VM_KEY_QUEUE_SIZE))
		vm->queue_size = CONFIG_DEFAULT_QUEUE_SIZE;
	if (!vm_entry_has(e, VM_KEY_TX_BUFFER_TOTAL))
		vm->tx_buffer_total = CONFIG_DEFAULT_TX_BUFFER_TOTAL;
	if (vm->tx_buffer_total < vm->tx_buffer_size)
		return config_error(err, "%s: %stx-buffer-total: %llu is less than "
				    "%stx-buffer-size (%u)", e->label, pre,
				    (unsigned long long)vm->tx_buffer_total, pre,
				    vm->tx_buffer_size);
	if (vm->n_groups == 0)
		return add_group(e, "groups", CONFIG_DEFAULT_GROUP, err);
	return true;
}
