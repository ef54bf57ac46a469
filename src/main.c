/* The daemon: parse and validate the configuration, create every device
 * (all or none), run them until SIGINT/SIGTERM or a fatal device error
 * (SIGHUP reads the --config file again), then stop them and remove their
 * socket files. */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "config.h"
#include "fd_budget.h"
#include "guest_mem.h"
#include "log.h"
#include "process.h"
#include "reload.h"
#include "router.h"
#include "sandbox.h"
#include "service.h"
#include "unix_sock.h"
#include "vm_registry.h"

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

/* The API and reloads start devices, read the file again, look group
 * names up (the name service opens its files). */
static unsigned sandbox_needs(const struct daemon_config *cfg)
{
	return cfg->api_socket || cfg->from_file ? SANDBOX_START_DEVICES | SANDBOX_READ_FILES
						 : 0;
}

/* Opens the API socket and serves the API on it; false (logged) if it
 * cannot. */
static bool start_api(const struct daemon_config *cfg, struct vm_registry *reg,
		      struct unix_listener *l, struct api **api)
{
	const struct unix_perm perm = {.mode = socket_perms_mode(&cfg->perms, cfg->perms.gid_set),
				       .gid = cfg->perms.gid,
				       .set_gid = cfg->perms.gid_set};

	if (!cfg->api_socket)
		return true;
	if (unix_listener_open(l, cfg->api_socket, API_BACKLOG, &perm) < 0)
		return false;
	*api = api_start(l->fd, reg);
	if (*api)
		return true;
	unix_listener_close(l);
	return false;
}

int main(int argc, char **argv)
{
	struct daemon_config cfg;
	struct unix_listener api_listener = {.fd = -1};
	struct vm_registry reg;
	struct api *api = NULL;
	struct router *router = NULL;
	sigset_t signals;
	uint64_t fd_limit;
	size_t n_vms;
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
	fd_limit = process_raise_fd_limit();
	router = router_create(ROUTER_DEFAULT_MAILBOX_BYTES, ROUTER_DEFAULT_MAILBOX_PACKETS);
	if (!router) {
		log_err("out of memory");
		goto out;
	}
	n_vms = cfg.n_vms;
	vm_registry_init(&reg, router, &cfg, fd_limit);
	if (vm_registry_start(&reg, &cfg)) {
		if (!start_api(&cfg, &reg, &api_listener, &api) ||
		    sandbox_apply(cfg.seccomp, sandbox_needs(&cfg)) < 0) {
			api_stop(api);
			unix_listener_close(&api_listener);
			vm_registry_stop_all(&reg);
			goto out;
		}
		log_info("serving %zu VM(s)", n_vms);
		service_ready(n_vms);
		while ((status = process_wait(&signals, &signo)) == 0 && signo == SIGHUP) {
			if (cfg.from_file)
				reload_config(&reg, argc, argv);
			else
				log_info("SIGHUP: no --config file to read again; ignored");
		}
		if (status == 0)
			log_info("signal %d: shutting down", signo);
		else
			log_err("a device failed: shutting down");
		service_stopping();
		api_stop(api);
		unix_listener_close(&api_listener);
	}
	vm_registry_stop_all(&reg);
out:
	router_destroy(router);
	config_free(&cfg);
	return status;
}
