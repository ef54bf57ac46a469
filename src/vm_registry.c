#include "vm_registry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_uds.h"
#include "config_vm.h"
#include "fd_budget.h"
#include "unix_sock.h"
#include "vm_config.h"
#include "log.h"
#include "vsock_device.h"

void vm_registry_init(struct vm_registry *r, struct router *router,
		      const struct daemon_config *cfg, uint64_t fd_limit)
{
	*r = (struct vm_registry){.router = router, .cfg = cfg, .fd_limit = fd_limit};
	pthread_mutex_init(&r->lock, NULL);
}

static void stop_devices(struct vsock_device **devs, size_t n)
{
	/* Ask every thread first so they wind down in parallel. */
	for (size_t i = 0; i < n; i++)
		vsock_device_request_stop(devs[i]);
	for (size_t i = 0; i < n; i++)
		vsock_device_destroy(devs[i]);
}

/* A copy of each VM of cfg as given. */
static bool keep_given(struct vm_registry *r, const struct daemon_config *cfg)
{
	r->given = calloc(cfg->n_vms ? cfg->n_vms : 1, sizeof(*r->given));
	for (size_t i = 0; r->given && i < cfg->n_vms; i++) {
		if (!vm_config_copy(&r->given[i], &cfg->vms[i])) {
			while (i--)
				vm_config_clear(&r->given[i]);
			free(r->given);
			r->given = NULL;
		}
	}
	if (!r->given)
		log_err("out of memory");
	return r->given != NULL;
}

bool vm_registry_start(struct vm_registry *r, struct daemon_config *cfg)
{
	size_t created = 0;

	if (!keep_given(r, cfg))
		return false;
	r->vms = cfg->vms;
	r->n = cfg->n_vms;
	cfg->vms = NULL;
	cfg->n_vms = 0;
	{
		struct daemon_config budgets = {.vms = r->vms, .n_vms = r->n,
						.api_socket = cfg->api_socket,
						.from_file = cfg->from_file};

		if (!fd_budget_apply(&budgets, r->fd_limit, stderr))
			return false;
		r->fd_share = budgets.fd_share;
	}
	r->devs = calloc(r->n, sizeof(*r->devs));
	if (!r->devs) {
		log_err("out of memory");
		return false;
	}
	for (; created < r->n; created++) {
		r->devs[created] = vsock_device_create(&r->vms[created], r->router, r->cfg->poll_us);
		if (!r->devs[created])
			goto fail;
	}
	for (size_t i = 0; i < r->n; i++) {
		int rc = vsock_device_start(r->devs[i]);

		if (rc < 0) {
			log_err("cid %u: cannot start the device thread: error %d",
				r->vms[i].guest_cid, -rc);
			goto fail;
		}
	}
	return true;
fail:
	log_err("start-up failed: stopping the %zu device(s) already created", created);
	stop_devices(r->devs, created);
	memset(r->devs, 0, r->n * sizeof(*r->devs));
	return false;
}

ssize_t vm_registry_find(const struct vm_registry *r, uint32_t cid)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->vms[i].guest_cid == cid)
			return (ssize_t)i;
	return -1;
}

/* Whether one of vm's paths is the API socket's. */
static bool on_api_socket(const struct vm_registry *r, const struct vm_config *vm, FILE *err)
{
	const char *api = r->cfg->api_socket;

	if (!api || ((!vm->socket_path || strcmp(vm->socket_path, api)) &&
		     (!vm->uds_path || strcmp(vm->uds_path, api))))
		return false;
	config_error(err, "cid %u: %s is the API socket", vm->guest_cid, api);
	return true;
}

/* Room for one more VM in each array. */
static bool grow(struct vm_registry *r)
{
	struct vm_config *vms = realloc(r->vms, (r->n + 1) * sizeof(*vms));
	struct vm_config *given = vms ? realloc(r->given, (r->n + 1) * sizeof(*given)) : NULL;
	struct vsock_device **devs = given ? realloc(r->devs, (r->n + 1) * sizeof(*devs)) : NULL;

	if (vms)
		r->vms = vms;
	if (given)
		r->given = given;
	if (devs)
		r->devs = devs;
	return devs != NULL;
}

/* Whether one of the paths vm would bind has a listener already (another
 * VM's, under another spelling of its path, the API's, another program's). */
static bool path_taken(const struct vm_config *vm, FILE *err)
{
	char seqpacket[PATH_MAX];
	const char *paths[3] = {vm->socket_path, vm->uds_path, NULL};

	if (vm->uds_path) {
		snprintf(seqpacket, sizeof(seqpacket), "%s%s", vm->uds_path, UDS_SEQPACKET_SUFFIX);
		paths[2] = seqpacket;
	}
	for (size_t i = 0; i < 3; i++) {
		if (paths[i] && unix_socket_live(paths[i])) {
			config_error(err, "cid %u: somebody listens on %s already", vm->guest_cid,
				     paths[i]);
			return true;
		}
	}
	return false;
}

int vm_registry_add(struct vm_registry *r, struct vm_entry *e, FILE *err)
{
	struct vsock_device *dev;
	struct vm_config given;

	if (!grow(r) || !vm_config_copy(&given, &e->vm)) {
		config_error(err, "out of memory");
		return -ENOMEM;
	}
	if (!vm_list_check_added(r->vms, r->n, e, err) || on_api_socket(r, &e->vm, err) ||
	    path_taken(&e->vm, err)) {
		vm_config_clear(&given);
		return -EEXIST;
	}
	if (!fd_budget_fit(r->vms, r->n, r->cfg->api_socket != NULL, r->fd_share, &e->vm,
			   r->fd_limit, err)) {
		vm_config_clear(&given);
		return -ENOSPC;
	}
	dev = vsock_device_create(&e->vm, r->router, r->cfg->poll_us);
	if (dev && vsock_device_start(dev) < 0) {
		vsock_device_destroy(dev);
		dev = NULL;
	}
	if (!dev) {
		config_error(err, "cid %u: its device could not start (the daemon's log says "
			     "why)", e->vm.guest_cid);
		vm_config_clear(&given);
		return -EIO;
	}
	log_info("cid %u: added", e->vm.guest_cid);
	r->vms[r->n] = e->vm;
	r->given[r->n] = given;
	r->devs[r->n] = dev;
	r->n++;
	memset(&e->vm, 0, sizeof(e->vm));
	return 0;
}

void vm_registry_remove(struct vm_registry *r, size_t i)
{
	struct vsock_device *dev = r->devs[i];

	log_info("cid %u: removing the VM", r->vms[i].guest_cid);
	vsock_device_close_connections(dev);
	stop_devices(&dev, 1);
	vm_config_clear(&r->vms[i]);
	vm_config_clear(&r->given[i]);
	r->n--;
	memmove(&r->vms[i], &r->vms[i + 1], (r->n - i) * sizeof(*r->vms));
	memmove(&r->given[i], &r->given[i + 1], (r->n - i) * sizeof(*r->given));
	memmove(&r->devs[i], &r->devs[i + 1], (r->n - i) * sizeof(*r->devs));
}

/* The index in next of the VM with cid, or -1. */
static ssize_t find_in(const struct daemon_config *next, uint32_t cid)
{
	for (size_t j = 0; j < next->n_vms; j++)
		if (next->vms[j].guest_cid == cid)
			return (ssize_t)j;
	return -1;
}

/* Whether served VM i stays as it is. */
static bool kept(const struct vm_registry *r, size_t i, const struct daemon_config *next)
{
	ssize_t j = find_in(next, r->vms[i].guest_cid);

	return j >= 0 && vm_config_same(&r->given[i], &next->vms[j]);
}

/* Whether the VMs of next that start fit beside those kept: their budgets
 * filled in on scratch copies, as vm_registry_add() will. */
static bool budgets_fit(const struct vm_registry *r, const struct daemon_config *next,
			FILE *err)
{
	struct vm_config *sim = calloc(r->n + next->n_vms + 1, sizeof(*sim));
	size_t n = 0;
	bool ok = sim != NULL;

	for (size_t i = 0; ok && i < r->n; i++)
		if (kept(r, i, next))
			sim[n++] = r->vms[i];
	for (size_t j = 0; ok && j < next->n_vms; j++) {
		ssize_t i = vm_registry_find(r, next->vms[j].guest_cid);

		if (i >= 0 && kept(r, (size_t)i, next))
			continue;
		sim[n] = next->vms[j]; /* shallow: only its budgets change */
		ok = fd_budget_fit(sim, n, r->cfg->api_socket != NULL, r->fd_share, &sim[n],
				   r->fd_limit, err);
		n++;
	}
	if (!sim)
		config_error(err, "out of memory");
	free(sim);
	return ok;
}

static bool inherits(const struct vm_config *vm)
{
	return vm->socket_fd >= 0 || vm->uds_fd >= 0 || vm->uds_seqpacket_fd >= 0;
}

/* Inherited listeners exist only at start-up: a VM that would start with
 * one, or restart without the one it has, needs the daemon restarted. */
static bool inherited_stay(const struct vm_registry *r, const struct daemon_config *next,
			   FILE *err)
{
	for (size_t j = 0; j < next->n_vms; j++) {
		ssize_t i = vm_registry_find(r, next->vms[j].guest_cid);

		if (i >= 0 && kept(r, (size_t)i, next))
			continue;
		if (next->vms[j].socket_fd >= 0)
			return config_error(err, "cid %u: fd: inherited sockets exist only at "
					    "start-up; give a socket path", next->vms[j].guest_cid);
		if (i >= 0 && inherits(&r->vms[i]))
			return config_error(err, "cid %u: its entry changed, but it serves "
					    "inherited sockets (--fd, socket activation): that "
					    "takes a restart of the daemon", next->vms[j].guest_cid);
	}
	return true;
}

bool vm_registry_apply(struct vm_registry *r, struct daemon_config *next, FILE *err)
{
	size_t kept_n = 0, stopped = 0, restarted = 0, started = 0, failed = 0;
	bool *changed = calloc(next->n_vms + 1, sizeof(*changed));

	if (!changed) {
		config_error(err, "out of memory");
		return false;
	}
	if (!inherited_stay(r, next, err) || !budgets_fit(r, next, err)) {
		free(changed);
		return false;
	}
	for (size_t i = r->n; i-- > 0;) {
		ssize_t j = find_in(next, r->vms[i].guest_cid);

		if (kept(r, i, next)) {
			kept_n++;
			continue;
		}
		if (j >= 0)
			changed[j] = true;
		else
			stopped++;
		vm_registry_remove(r, i);
	}
	for (size_t j = 0; j < next->n_vms; j++) {
		struct vm_entry e = {.vm = next->vms[j]};
		char label[32];

		if (vm_registry_find(r, next->vms[j].guest_cid) >= 0)
			continue;
		snprintf(label, sizeof(label), "cid %u", next->vms[j].guest_cid);
		e.label = label;
		if (vm_registry_add(r, &e, err) != 0)
			failed++;
		else if (changed[j])
			restarted++;
		else
			started++;
		next->vms[j] = e.vm;
	}
	free(changed);
	log_info("configuration read again: %zu VM(s) kept, %zu restarted (changed), %zu "
		 "stopped, %zu started, %zu failed to start", kept_n, restarted, stopped, started,
		 failed);
	return true;
}

void vm_registry_stop_all(struct vm_registry *r)
{
	size_t started = 0;

	while (started < r->n && r->devs && r->devs[started])
		started++;
	stop_devices(r->devs, started);
	for (size_t i = 0; i < r->n; i++) {
		vm_config_clear(&r->vms[i]);
		if (r->given)
			vm_config_clear(&r->given[i]);
	}
	free(r->vms);
	free(r->given);
	free(r->devs);
	pthread_mutex_destroy(&r->lock);
	memset(r, 0, sizeof(*r));
}
