#include "fd_budget.h"

#include "api.h"
#include "vhost_user_msg.h"

/* A device's own descriptors: its epoll set and the loop's back-off timer;
 * the stop, sibling-mail and control-call eventfds; the request and
 * sibling-park timers; the vhost-user listener and its front-end; three
 * eventfds (kick, call, err) for each of three rings; the fds one
 * vhost-user message may carry; one client accepted only to be closed when
 * a budget is full. */
#define DEVICE_FIXED (2 + 3 + 2 + 2 + 3 * 3 + VU_MAX_FDS + 1)
/* The Unix socket backend: its stream and seqpacket listeners and its
 * CONNECT-line timer. */
#define UDS_FIXED 3

unsigned fd_budget_device_fixed(const struct vm_config *vm)
{
	if (vm->backend == BACKEND_UDS)
		return DEVICE_FIXED + UDS_FIXED;
	return DEVICE_FIXED + (unsigned)vm->n_forward_listen;
}

static bool auto_handshakes(const struct vm_config *vm)
{
	return vm->backend == BACKEND_UDS && vm->max_handshakes == 0;
}

static bool is_auto(const struct vm_config *vm)
{
	return vm->max_connections == 0 || auto_handshakes(vm);
}

/* Splits one VM's share of the descriptors between the budgets it left
 * unset; false if the share is too small. */
static bool fill_share(struct vm_config *vm, uint64_t share)
{
	if (auto_handshakes(vm)) {
		uint64_t hs = vm->max_connections ? share : share / 4;

		vm->max_handshakes = (uint32_t)(hs < CONFIG_DEFAULT_MAX_HANDSHAKES
						    ? hs : CONFIG_DEFAULT_MAX_HANDSHAKES);
		if (vm->max_handshakes == 0)
			return false;
		share -= vm->max_handshakes;
	}
	if (vm->max_connections == 0) {
		if (share < FD_BUDGET_MIN_AUTO_CONNECTIONS)
			return false;
		vm->max_connections = (uint32_t)(share < FD_BUDGET_MAX_AUTO_CONNECTIONS
						     ? share : FD_BUDGET_MAX_AUTO_CONNECTIONS);
	}
	return true;
}

static bool fill_pending(struct vm_config *vm, FILE *err)
{
	if (vm->max_pending == 0) {
		vm->max_pending = vm->max_connections < CONFIG_DEFAULT_MAX_PENDING
					  ? vm->max_connections : CONFIG_DEFAULT_MAX_PENDING;
		return true;
	}
	if (vm->max_pending <= vm->max_connections)
		return true;
	fprintf(err, "vhost-device-vsock: error: cid %u: max-pending: %u is more than its "
		"max-connections (%u, a share of the open-file limit)\n", vm->guest_cid,
		vm->max_pending, vm->max_connections);
	return false;
}

/* What the process holds besides its devices. */
static uint64_t process_needs(bool api)
{
	return FD_BUDGET_PROCESS + (api ? API_MAX_CLIENTS + API_FIXED_FDS : 0);
}

/* What one device holds at most with the budgets set so far. */
static uint64_t device_needs(const struct vm_config *vm)
{
	uint64_t n = fd_budget_device_fixed(vm) + vm->max_connections;

	return vm->backend == BACKEND_UDS ? n + vm->max_handshakes : n;
}

bool fd_budget_fit(const struct vm_config *vms, size_t n, bool api, uint64_t share,
		   struct vm_config *vm, uint64_t limit, FILE *err)
{
	uint64_t needed = process_needs(api) + device_needs(vm);

	for (size_t i = 0; i < n; i++)
		needed += device_needs(&vms[i]);
	if (needed > limit) {
		fprintf(err, "vhost-device-vsock: error: cid %u: with the %zu VM(s) served it "
			"needs %llu open files but the limit (RLIMIT_NOFILE) is %llu: lower its "
			"max-connections or max-handshakes, or stop a VM\n", vm->guest_cid, n,
			(unsigned long long)needed, (unsigned long long)limit);
		return false;
	}
	if (share > limit - needed)
		share = limit - needed;
	if (is_auto(vm) && !fill_share(vm, share)) {
		fprintf(err, "vhost-device-vsock: error: cid %u: the open-file limit "
			"(RLIMIT_NOFILE) %llu leaves %llu descriptors once the %zu VM(s) served "
			"have theirs, too few: set its max-connections, or stop a VM\n",
			vm->guest_cid, (unsigned long long)limit,
			(unsigned long long)(limit - needed), n);
		return false;
	}
	return fill_pending(vm, err);
}

bool fd_budget_apply(struct daemon_config *cfg, uint64_t limit, FILE *err)
{
	uint64_t needed = process_needs(cfg->api_socket != NULL), share;
	size_t n_auto = 0;

	for (size_t i = 0; i < cfg->n_vms; i++) {
		const struct vm_config *vm = &cfg->vms[i];

		needed += device_needs(vm);
		n_auto += is_auto(vm);
	}
	if (needed > limit) {
		fprintf(err, "vhost-device-vsock: error: the budgets of %zu VM(s) need %llu open "
			"files but the limit (RLIMIT_NOFILE) is %llu: lower max-connections or "
			"max-handshakes, or raise the limit (ulimit -n, LimitNOFILE=)\n",
			cfg->n_vms, (unsigned long long)needed, (unsigned long long)limit);
		return false;
	}
	/* With the API or a file to reload, VMs may come later: a share is
	 * never more than one of FD_BUDGET_API_SHARES, and those VMs get one
	 * too. */
	if (cfg->api_socket || cfg->from_file)
		share = (limit - needed) / (n_auto > FD_BUDGET_API_SHARES ? n_auto
									   : FD_BUDGET_API_SHARES);
	else
		share = n_auto ? (limit - needed) / n_auto : 0;
	cfg->fd_share = share;
	for (size_t i = 0; i < cfg->n_vms; i++) {
		struct vm_config *vm = &cfg->vms[i];

		if (is_auto(vm) && !fill_share(vm, share)) {
			fprintf(err, "vhost-device-vsock: error: the open-file limit "
				"(RLIMIT_NOFILE) %llu leaves %llu for each of %zu VM(s), too few "
				"for cid %u: raise the limit (ulimit -n, LimitNOFILE=) or set its "
				"%s\n", (unsigned long long)limit, (unsigned long long)share,
				n_auto, vm->guest_cid,
				vm->max_connections ? "max-handshakes" : "max-connections");
			return false;
		}
		if (!fill_pending(vm, err))
			return false;
	}
	return true;
}
