/* The daemon: parse and validate the configuration, create every device
 * (all or none), run them until SIGINT/SIGTERM/SIGHUP or a fatal device
 * error, then stop them and remove their socket files. */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "config.h"
#include "fd_budget.h"
#include "guest_mem.h"
#include "log.h"
#include "process.h"
#include "router.h"
#include "sandbox.h"
#include "service.h"
#include "unix_sock.h"
#include "vsock_device.h"

/* Backlog of the API socket: a few clients at once. */
#define API_BACKLOG 16

static bool apply_log_level(const struct daemon_config *cfg)
{
	const char *env;

	if (cfg->log_level_set) {
		log_set_level(cfg->log_level);
		return true;
	}
	if (log_init_from_env())
		return true;
	env = getenv(LOG_ENV_VAR);
	fprintf(stderr, "vhost-device-vsock: error: %s: '%s' is not a level (error, warn, info, "
		"debug)\n", LOG_ENV_VAR, env ? env : "");
	return false;
}

static void stop_devices(struct vsock_device **devs, size_t n)
{
	/* Ask every thread first so they wind down in parallel. */
	for (size_t i = 0; i < n; i++)
		vsock_device_request_stop(devs[i]);
	for (size_t i = 0; i < n; i++)
		vsock_device_destroy(devs[i]);
}

/* Creates every device, then starts them; on any failure undoes it all. */
static bool start_devices(const struct daemon_config *cfg, struct router *router,
			  struct vsock_device **devs)
{
	size_t created = 0;

	for (; created < cfg->n_vms; created++) {
		devs[created] = vsock_device_create(&cfg->vms[created], router, cfg->poll_us);
		if (!devs[created])
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_vms; i++) {
		int rc = vsock_device_start(devs[i]);

		if (rc < 0) {
			log_err("cid %u: cannot start the device thread: error %d",
				cfg->vms[i].guest_cid, -rc);
			goto fail;
		}
	}
	return true;
fail:
	log_err("start-up failed: stopping the %zu device(s) already created", created);
	stop_devices(devs, created);
	return false;
}

/* Opens the API socket and serves the API on it; false (logged) if it
 * cannot. */
static bool start_api(const struct daemon_config *cfg, struct vsock_device **devs,
		      struct unix_listener *l, struct api **api)
{
	const struct unix_perm perm = {.mode = cfg->api_socket_mode,
				       .gid = cfg->api_socket_gid,
				       .set_gid = cfg->api_socket_gid_set};
	const struct api_view view = {cfg->vms, devs, cfg->n_vms};

	if (!cfg->api_socket)
		return true;
	if (unix_listener_open(l, cfg->api_socket, API_BACKLOG, &perm) < 0)
		return false;
	*api = api_start(l->fd, &view);
	if (*api)
		return true;
	unix_listener_close(l);
	return false;
}

int main(int argc, char **argv)
{
	struct daemon_config cfg;
	struct unix_listener api_listener = {.fd = -1};
	struct api *api = NULL;
	struct vsock_device **devs = NULL;
	struct router *router = NULL;
	sigset_t signals;
	int status = 1, signo;

	log_detect_journal();
	switch (config_parse_args(argc, argv, &cfg, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_ERROR:
		return 1;
	case CONFIG_OK:
		break;
	}
	if (!apply_log_level(&cfg) || !service_take_listeners(&cfg))
		goto out;
	/* Before any thread exists, so every device thread inherits the mask. */
	if (process_block_signals(&signals) < 0 || guest_mem_catch_sigbus() < 0) {
		log_err("cannot set up signal handling");
		goto out;
	}
	if (!fd_budget_apply(&cfg, process_raise_fd_limit(), stderr))
		goto out;
	router = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, ROUTER_DEFAULT_MAILBOX_PACKETS);
	devs = calloc(cfg.n_vms, sizeof(*devs));
	if (!router || !devs) {
		log_err("out of memory");
		goto out;
	}
	if (start_devices(&cfg, router, devs)) {
		if (!start_api(&cfg, devs, &api_listener, &api) || sandbox_apply(cfg.seccomp) < 0) {
			api_stop(api);
			unix_listener_close(&api_listener);
			stop_devices(devs, cfg.n_vms);
			goto out;
		}
		log_info("serving %zu VM(s)", cfg.n_vms);
		service_ready(cfg.n_vms);
		status = process_wait(&signals, &signo);
		if (status == 0)
			log_info("signal %d: shutting down", signo);
		else
			log_err("a device failed: shutting down");
		service_stopping();
		api_stop(api);
		unix_listener_close(&api_listener);
		stop_devices(devs, cfg.n_vms);
	}
out:
	free(devs);
	router_destroy(router);
	config_free(&cfg);
	return status;
}
