/* The list of VMs being configured, and the rules that span several VMs. */
#include "config_vm.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct vm_entry *vm_list_add(struct vm_list *list, FILE *err, const char *fmt, ...)
{
	struct vm_entry *e;
	va_list ap;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 4;
		struct vm_entry *grown = realloc(list->items, cap * sizeof(*grown));

		if (!grown) {
			config_error(err, "out of memory");
			return NULL;
		}
		list->items = grown;
		list->cap = cap;
	}
	e = &list->items[list->n];
	memset(e, 0, sizeof(*e));
	va_start(ap, fmt);
	int len = vasprintf(&e->label, fmt, ap);
	va_end(ap);
	if (len < 0) {
		config_error(err, "out of memory");
		return NULL;
	}
	list->n++;
	return e;
}

void vm_list_free(struct vm_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		vm_config_clear(&list->items[i].vm);
		free(list->items[i].label);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* A path that some VM binds: its --socket or its uds-path. */
struct bound_path {
	const char *path;
	const char *role;
	size_t vm;
};

static size_t collect_paths(const struct vm_list *list, struct bound_path *out)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++) {
		const struct vm_config *vm = &list->items[i].vm;

		if (vm->socket_path)
			out[n++] = (struct bound_path){vm->socket_path, "socket", i};
		if (vm->backend == BACKEND_UDS)
			out[n++] = (struct bound_path){vm->uds_path, "uds-path", i};
	}
	return n;
}

static bool check_paths(const struct vm_list *list, FILE *err)
{
	struct bound_path *paths = calloc(list->n * 2, sizeof(*paths));
	size_t n;
	bool ok = true;

	if (!paths)
		return config_error(err, "out of memory");
	n = collect_paths(list, paths);
	for (size_t j = 0; j < n && ok; j++) {
		for (size_t i = 0; i < j && ok; i++) {
			if (strcmp(paths[i].path, paths[j].path) != 0)
				continue;
			const struct vm_entry *a = &list->items[paths[i].vm];
			const struct vm_entry *b = &list->items[paths[j].vm];

			if (a == b)
				ok = config_error(err, "%s (cid %u): %s: '%s' is also its %s",
						  b->label, b->vm.guest_cid, paths[j].role,
						  paths[j].path, paths[i].role);
			else
				ok = config_error(err, "%s (cid %u): %s: '%s' is already the "
						  "%s of %s (cid %u)",
						  b->label, b->vm.guest_cid, paths[j].role,
						  paths[j].path, paths[i].role, a->label,
						  a->vm.guest_cid);
		}
	}
	free(paths);
	return ok;
}

static bool check_cids(const struct vm_list *list, FILE *err)
{
	for (size_t j = 0; j < list->n; j++) {
		const struct vm_entry *b = &list->items[j];

		for (size_t i = 0; i < j; i++) {
			const struct vm_entry *a = &list->items[i];

			if (a->vm.guest_cid == b->vm.guest_cid)
				return config_error(err, "%s (cid %u): guest-cid: %u is already "
						    "used by %s", b->label, b->vm.guest_cid,
						    b->vm.guest_cid, a->label);
		}
	}
	return true;
}

/* Listeners bind VMADDR_CID_ANY (a bind address must be a local CID, and
 * forward-cid is the peer's), so a port can serve one VM whatever its
 * forward-cid. */
static bool listens_on(const struct vm_config *vm, uint32_t port)
{
	if (vm->backend != BACKEND_VSOCK)
		return false;
	for (size_t i = 0; i < vm->n_forward_listen; i++)
		if (vm->forward_listen[i] == port)
			return true;
	return false;
}

static bool check_listen_ports(const struct vm_list *list, FILE *err)
{
	for (size_t j = 0; j < list->n; j++) {
		const struct vm_entry *b = &list->items[j];

		for (size_t p = 0; p < b->vm.n_forward_listen; p++) {
			uint32_t port = b->vm.forward_listen[p];

			for (size_t i = 0; i < j; i++) {
				const struct vm_entry *a = &list->items[i];

				if (listens_on(&a->vm, port))
					return config_error(
						err, "%s (cid %u): forward-listen: port %u is "
						"already listened on by %s",
						b->label, b->vm.guest_cid, port, a->label);
			}
		}
	}
	return true;
}

bool vm_list_check(const struct vm_list *list, FILE *err)
{
	return check_cids(list, err) && check_paths(list, err) &&
	       check_listen_ports(list, err);
}

bool vm_list_check_added(const struct vm_config *served, size_t n, const struct vm_entry *added,
			 FILE *err)
{
	/* Borrowed: the configurations stay their owners'. */
	struct vm_list list = {.items = calloc(n + 1, sizeof(*list.items)), .n = n + 1};
	char(*labels)[24] = calloc(n + 1, sizeof(*labels));
	bool ok;

	if (!list.items || !labels) {
		free(list.items);
		free(labels);
		return config_error(err, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(labels[i], sizeof(labels[i]), "cid %u", served[i].guest_cid);
		list.items[i].vm = served[i];
		list.items[i].label = labels[i];
	}
	list.items[n] = *added;
	ok = vm_list_check(&list, err);
	free(list.items);
	free(labels);
	return ok;
}

bool vm_list_move_to(struct vm_list *list, struct daemon_config *cfg, FILE *err)
{
	cfg->vms = calloc(list->n, sizeof(*cfg->vms));
	if (!cfg->vms)
		return config_error(err, "out of memory");
	for (size_t i = 0; i < list->n; i++) {
		cfg->vms[i] = list->items[i].vm;
		memset(&list->items[i].vm, 0, sizeof(list->items[i].vm));
	}
	cfg->n_vms = list->n;
	vm_list_free(list);
	return true;
}
