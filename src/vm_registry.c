#include "vm_registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_vm.h"
#include "fd_budget.h"
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

bool vm_registry_start(struct vm_registry *r, struct daemon_config *cfg)
{
	size_t created = 0;

	r->vms = cfg->vms;
	r->n = cfg->n_vms;
	cfg->vms = NULL;
	cfg->n_vms = 0;
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

int vm_registry_add(struct vm_registry *r, struct vm_entry *e, FILE *err)
{
	struct vm_config *vms = realloc(r->vms, (r->n + 1) * sizeof(*vms));
	struct vsock_device **devs = vms ? realloc(r->devs, (r->n + 1) * sizeof(*devs)) : NULL;
	struct vsock_device *dev;

	if (vms)
		r->vms = vms;
	if (devs)
		r->devs = devs;
	if (!vms || !devs) {
		config_error(err, "out of memory");
		return -ENOMEM;
	}
	if (!vm_list_check_added(r->vms, r->n, e, err) || on_api_socket(r, &e->vm, err))
		return -EEXIST;
	if (!fd_budget_fit(r->vms, r->n, r->cfg->fd_share, &e->vm, r->fd_limit, err))
		return -ENOSPC;
	dev = vsock_device_create(&e->vm, r->router, r->cfg->poll_us);
	if (dev && vsock_device_start(dev) < 0) {
		vsock_device_destroy(dev);
		dev = NULL;
	}
	if (!dev) {
		config_error(err, "cid %u: its device could not start (the daemon's log says "
			     "why)", e->vm.guest_cid);
		return -EIO;
	}
	log_info("cid %u: added", e->vm.guest_cid);
	r->vms[r->n] = e->vm;
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
	r->n--;
	memmove(&r->vms[i], &r->vms[i + 1], (r->n - i) * sizeof(*r->vms));
	memmove(&r->devs[i], &r->devs[i + 1], (r->n - i) * sizeof(*r->devs));
}

void vm_registry_stop_all(struct vm_registry *r)
{
	size_t started = 0;

	while (started < r->n && r->devs && r->devs[started])
		started++;
	stop_devices(r->devs, started);
	for (size_t i = 0; i < r->n; i++)
		vm_config_clear(&r->vms[i]);
	free(r->vms);
	free(r->devs);
	pthread_mutex_destroy(&r->lock);
	memset(r, 0, sizeof(*r));
}
