/* Command line: options, the three mutually exclusive ways to describe VMs
 * (single-VM flags, repeated --vm, --config FILE), --help, --version and
 * --print-capabilities. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_vm.h"
#include "config_yaml.h"
#include "parse_num.h"

static const char help_text[] =
	"Usage: vhost-device-vsock [OPTIONS]\n"
	"\n"
	"vhost-user virtio-vsock device for QEMU (-device vhost-user-vsock-pci).\n"
	"Describe the VMs in exactly one of three ways:\n"
	"\n"
	"  One VM with flags (--flag VALUE or --flag=VALUE):\n"
	"    --guest-cid CID         guest CID (default 3; 0, 1, 2 and 4294967295 are reserved)\n"
	"    --socket PATH           vhost-user socket the VMM connects to (required,\n"
	"                            unless --fd; --socket-path is the same)\n"
	"    --fd FD                 an inherited, listening vhost-user socket instead\n"
	"    --uds-path PATH         Unix socket backend: host apps connect to PATH and send\n"
	"                            \"CONNECT <port>\\n\"; guest connects go to PATH_<port>\n"
	"    --forward-cid CID       AF_VSOCK backend: guest connects go to host CID\n"
	"    --forward-listen P1+P2  AF_VSOCK ports forwarded to the guest (needs --forward-cid)\n"
	"    --tx-buffer-size BYTES  per-connection buffer, 4096..67108864 (default 262144)\n"
	"    --queue-size N          largest virtqueue size, a power of two <= 32768\n"
	"                            (default 1024)\n"
	"    --groups G1+G2          sibling groups (default \"default\"); VMs served by this\n"
	"                            process talk to each other when they share a group\n"
	"    Exactly one of --uds-path and --forward-cid is required.\n"
	"\n"
	"    Budgets, per VM (see the README, \"Security model\"):\n"
	"    --max-connections N     connections at once, each holding at most one host fd\n"
	"                            (default: an even share of the open-file limit)\n"
	"    --max-handshakes N      --uds-path clients that have not sent their CONNECT\n"
	"                            line yet (default 1024)\n"
	"    --max-pending N         host connections waiting for the guest to answer\n"
	"                            (default 1024, at most max-connections)\n"
	"    --tx-buffer-total BYTES guest-to-host data the device may hold for slow host\n"
	"                            sockets, all connections together (65536..2^40,\n"
	"                            default 67108864); past it the guest gets less credit\n"
	"\n"
	"  Several VMs, one --vm per VM:\n"
	"    --vm KEY=VALUE[,KEY=VALUE...]\n"
	"    keys: guest-cid, socket (or socket-path), fd, uds-path, forward-cid,\n"
	"    forward-listen, tx-buffer-size, queue-size, groups, max-connections,\n"
	"    max-handshakes, max-pending, tx-buffer-total, socket-group, socket-mode\n"
	"    (underscores may replace dashes: guest_cid=4)\n"
	"\n"
	"  A YAML file:\n"
	"    --config FILE           top-level 'vms:' list of maps with the same keys\n"
	"\n"
	"Sockets and sandbox, for every VM (a VM's own socket-group and socket-mode\n"
	"keys win):\n"
	"    --socket-group GROUP    group of the socket files the daemon creates\n"
	"    --socket-mode MODE      their mode, octal (default 0600, or 0660 with a\n"
	"                            socket group)\n"
	"    --seccomp ACTION        system calls off the daemon's list: kill (default)\n"
	"                            ends the process, log lets the kernel log them,\n"
	"                            none installs no filter\n"
	"\n"
	"API (see the README, \"API\"):\n"
	"    --api-socket PATH       serve an HTTP API on a Unix socket at PATH: the VMs\n"
	"                            and their state (GET /vms), a VM's connections\n"
	"                            (GET /vms/CID/connections), add a VM (PUT /vms)\n"
	"                            or stop one (DELETE /vms/CID), Prometheus metrics\n"
	"                            (GET /metrics); in a --config file: api-socket\n"
	"\n"
	"Other options:\n"
	"    --log-level LEVEL       error, warn, info or debug (default warn; the\n"
	"                            environment variable " LOG_ENV_VAR " does the same)\n"
	"    --poll-us US            after traffic, poll up to US microseconds for more\n"
	"                            before sleeping (adaptive; 0..10000, default 50;\n"
	"                            0 never polls); an idle device never polls\n"
	"    -h, --help              print this help and exit\n"
	"    -V, --version           print the version and exit\n"
	"    --print-capabilities    print the vhost-user back-end capabilities (JSON)\n"
	"                            and exit, ignoring every other option\n"
	"\n"
	"SIGHUP reads the --config file again and applies the difference (VMs gone stop,\n"
	"new ones start, changed ones restart); without --config it is ignored.\n"
	"Exit status: 0 after SIGINT or SIGTERM (socket files removed); 1 for any\n"
	"invalid command line or configuration, a start-up failure or a fatal error.\n";

enum option_id {
	OPT_HELP,
	OPT_VERSION,
	OPT_CONFIG,
	OPT_VM,
	OPT_LOG_LEVEL,
	OPT_POLL_US,
	OPT_SOCKET_GROUP,
	OPT_SOCKET_MODE,
	OPT_SECCOMP,
	OPT_API_SOCKET,
	OPT_VM_KEY, /* a single-VM flag; which one is in option_def.key */
};

struct option_def {
	const char *name; /* as written, with its dashes */
	enum option_id id;
	enum vm_key key;
	bool takes_value;
};

static const struct option_def options[] = {
	{"-h", OPT_HELP, 0, false},
	{"--help", OPT_HELP, 0, false},
	{"-V", OPT_VERSION, 0, false},
	{"--version", OPT_VERSION, 0, false},
	{"--config", OPT_CONFIG, 0, true},
	{"--vm", OPT_VM, 0, true},
	{"--log-level", OPT_LOG_LEVEL, 0, true},
	{"--poll-us", OPT_POLL_US, 0, true},
	{"--socket-group", OPT_SOCKET_GROUP, 0, true},
	{"--socket-mode", OPT_SOCKET_MODE, 0, true},
	{"--seccomp", OPT_SECCOMP, 0, true},
	{"--api-socket", OPT_API_SOCKET, 0, true},
	{"--guest-cid", OPT_VM_KEY, VM_KEY_GUEST_CID, true},
	{"--socket", OPT_VM_KEY, VM_KEY_SOCKET, true},
	{"--socket-path", OPT_VM_KEY, VM_KEY_SOCKET, true},
	{"--fd", OPT_VM_KEY, VM_KEY_FD, true},
	{"--uds-path", OPT_VM_KEY, VM_KEY_UDS_PATH, true},
	{"--forward-cid", OPT_VM_KEY, VM_KEY_FORWARD_CID, true},
	{"--forward-listen", OPT_VM_KEY, VM_KEY_FORWARD_LISTEN, true},
	{"--tx-buffer-size", OPT_VM_KEY, VM_KEY_TX_BUFFER_SIZE, true},
	{"--queue-size", OPT_VM_KEY, VM_KEY_QUEUE_SIZE, true},
	{"--groups", OPT_VM_KEY, VM_KEY_GROUPS, true},
	{"--max-connections", OPT_VM_KEY, VM_KEY_MAX_CONNECTIONS, true},
	{"--max-handshakes", OPT_VM_KEY, VM_KEY_MAX_HANDSHAKES, true},
	{"--max-pending", OPT_VM_KEY, VM_KEY_MAX_PENDING, true},
	{"--tx-buffer-total", OPT_VM_KEY, VM_KEY_TX_BUFFER_TOTAL, true},
};

/* The first option that chose how VMs are described; later options must
 * agree with it. */
struct parse_state {
	struct vm_list list;
	struct vm_entry *single; /* the VM built from single-VM flags */
	const struct option_def *mode;
	const char *config_path;
	unsigned n_vm_args;
	bool help, version;
};

static const struct option_def *find_option(const char *arg, size_t name_len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i].name) == name_len &&
		    strncmp(options[i].name, arg, name_len) == 0)
			return &options[i];
	return NULL;
}

static bool same_mode(const struct option_def *a, const struct option_def *b)
{
	return a->id == b->id;
}

static bool enter_mode(struct parse_state *st, const struct option_def *opt, FILE *err)
{
	if (!st->mode) {
		st->mode = opt;
		return true;
	}
	if (same_mode(st->mode, opt))
		return true;
	return config_error(err, "%s cannot be combined with %s", opt->name, st->mode->name);
}

/* One "key=value" item of a --vm value (item is modified). */
static bool parse_vm_item(struct vm_entry *e, char *item, FILE *err)
{
	char *eq = strchr(item, '=');
	char keys[512];
	enum vm_key key;

	if (*item == '\0')
		return config_error(err, "%s: empty item (stray ',')", e->label);
	if (!eq)
		return config_error(err, "%s: '%s' is not key=value", e->label, item);
	*eq = '\0';
	if (!vm_key_lookup(item, &key)) {
		vm_key_list(keys, sizeof(keys), '-');
		return config_error(err, "%s: %s: unknown key (valid: %s)", e->label, item, keys);
	}
	return vm_entry_set(e, key, item, eq + 1, err);
}

/* One --vm value: "key=value,key=value"; a value may contain '=' but not ','. */
static bool parse_vm_arg(struct parse_state *st, const char *arg, FILE *err)
{
	struct vm_entry *e = vm_list_add(&st->list, err, "--vm #%u", ++st->n_vm_args);
	size_t len = strlen(arg);
	char *copy, *item;
	bool ok = true;

	if (!e)
		return false;
	/* Blanks around items are the items' (config_vm.c); an argument of
	 * blanks only is said to be empty here. */
	while (len && isspace((unsigned char)*arg)) {
		arg++;
		len--;
	}
	if (len == 0)
		return config_error(err, "%s: empty value (expected key=value,...)", e->label);
	copy = strndup(arg, len);
	if (!copy)
		return config_error(err, "out of memory");
	for (item = copy; ok && item; ) {
		char *comma = strchr(item, ',');

		if (comma)
			*comma = '\0';
		ok = parse_vm_item(e, item, err);
		item = comma ? comma + 1 : NULL;
	}
	free(copy);
	return ok && vm_entry_finish(e, err);
}

static bool parse_log_level(struct daemon_config *cfg, const char *value, FILE *err)
{
	if (cfg->log_level_set)
		return config_error(err, "--log-level: given more than once");
	if (!log_parse_level(value, &cfg->log_level))
		return config_error(err, "--log-level: '%s' is not a level (error, warn, info, "
				    "debug)", value);
	cfg->log_level_set = true;
	return true;
}

static bool parse_poll_us(struct daemon_config *cfg, const char *value, FILE *err)
{
	enum parse_num_result r;
	uint64_t us;

	if (cfg->poll_us_set)
		return config_error(err, "--poll-us: given more than once");
	r = parse_num_u64(value, CONFIG_MAX_POLL_US, &us);
	if (r != PARSE_NUM_OK)
		return config_error(err, "--poll-us: '%s' %s (0..%u microseconds)", value,
				    parse_num_problem(r), CONFIG_MAX_POLL_US);
	cfg->poll_us = (uint32_t)us;
	cfg->poll_us_set = true;
	return true;
}

static bool parse_seccomp(struct daemon_config *cfg, const char *value, FILE *err)
{
	static const char *const names[] = {
		[SECCOMP_KILL] = "kill", [SECCOMP_LOG] = "log", [SECCOMP_NONE] = "none"};

	if (cfg->seccomp_set)
		return config_error(err, "--seccomp: given more than once");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(value, names[i]) == 0) {
			cfg->seccomp = (enum seccomp_mode)i;
			cfg->seccomp_set = true;
			return true;
		}
	}
	return config_error(err, "--seccomp: '%s' is not kill, log or none", value);
}

static bool apply_option(struct parse_state *st, struct daemon_config *cfg,
			 const struct option_def *opt, const char *value, FILE *err)
{
	switch (opt->id) {
	case OPT_HELP:
		st->help = true;
		return true;
	case OPT_VERSION:
		st->version = true;
		return true;
	case OPT_LOG_LEVEL:
		return parse_log_level(cfg, value, err);
	case OPT_POLL_US:
		return parse_poll_us(cfg, value, err);
	case OPT_SOCKET_GROUP:
		if (cfg->perms.gid_set)
			return config_error(err, "--socket-group: given more than once");
		cfg->perms.gid_set = true;
		return config_parse_group("command line", opt->name, value, &cfg->perms.gid, err);
	case OPT_SOCKET_MODE:
		if (cfg->perms.mode_set)
			return config_error(err, "--socket-mode: given more than once");
		cfg->perms.mode_set = true;
		return config_parse_mode("command line", opt->name, value, &cfg->perms.mode, err);
	case OPT_SECCOMP:
		return parse_seccomp(cfg, value, err);
	case OPT_API_SOCKET:
		if (cfg->api_socket)
			return config_error(err, "--api-socket: given more than once");
		if (!*value)
			return config_error(err, "--api-socket: empty path");
		cfg->api_socket = strdup(value);
		return cfg->api_socket || config_error(err, "out of memory");
	case OPT_CONFIG:
		if (!enter_mode(st, opt, err))
			return false;
		if (st->config_path)
			return config_error(err, "--config: given more than once");
		st->config_path = value;
		return true;
	case OPT_VM:
		return enter_mode(st, opt, err) && parse_vm_arg(st, value, err);
	case OPT_VM_KEY:
		if (!enter_mode(st, opt, err))
			return false;
		if (!st->single) {
			st->single = vm_list_add(&st->list, err, "command line");
			if (!st->single)
				return false;
			st->single->key_prefix = "--";
		}
		return vm_entry_set(st->single, opt->key, opt->name, value, err);
	}
	return false;
}

/* Walks argv; stops at the first error, or as soon as --help or --version
 * is seen. */
static bool parse_argv(struct parse_state *st, struct daemon_config *cfg, int argc,
		       char **argv, FILE *err)
{
	for (int i = 1; i < argc && !st->help && !st->version; i++) {
		const char *arg = argv[i];
		const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct option_def *opt = find_option(arg, name_len);
		const char *value = eq ? eq + 1 : NULL;

		if (!opt) {
			if (arg[0] == '-')
				return config_error(err, "unknown option '%.*s' (see --help)",
						    (int)name_len, arg);
			return config_error(err, "unexpected argument '%s' (see --help)", arg);
		}
		if (!opt->takes_value && value)
			return config_error(err, "%s takes no value", opt->name);
		if (opt->takes_value && !value) {
			/* "--socket --uds-path x" is a forgotten value, not a
			 * path named "--uds-path". */
			if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
				return config_error(err, "%s needs a value", opt->name);
			value = argv[++i];
		}
		if (!apply_option(st, cfg, opt, value, err))
			return false;
	}
	return true;
}

void config_apply_perms(struct vm_entry *e, const struct socket_perms *perms)
{
	struct vm_config *vm = &e->vm;

	if (!vm_entry_has(e, VM_KEY_SOCKET_GROUP) && perms->gid_set) {
		vm->socket_gid = perms->gid;
		vm->socket_gid_set = true;
	}
	if (!vm_entry_has(e, VM_KEY_SOCKET_MODE))
		vm->socket_mode = socket_perms_mode(perms, vm->socket_gid_set);
}

/* The API socket must not be a file some VM serves. */
static bool api_socket_apart(const struct parse_state *st, const struct daemon_config *cfg,
			     FILE *err)
{
	for (size_t i = 0; cfg->api_socket && i < st->list.n; i++) {
		const struct vm_config *vm = &st->list.items[i].vm;

		if ((vm->socket_path && !strcmp(vm->socket_path, cfg->api_socket)) ||
		    (vm->uds_path && !strcmp(vm->uds_path, cfg->api_socket)))
			return config_error(err, "--api-socket: %s is also a socket of cid %u",
					    cfg->api_socket, vm->guest_cid);
	}
	return true;
}

/* The file's api-socket, unless the command line has one too. */
static bool load_file(struct parse_state *st, struct daemon_config *cfg, FILE *err)
{
	char *api_socket = NULL;

	if (!config_yaml_load(st->config_path, &st->list, &api_socket, err))
		return false;
	if (api_socket && cfg->api_socket) {
		free(api_socket);
		return config_error(err, "--api-socket: %s has an api-socket too; give it once",
				    st->config_path);
	}
	if (api_socket)
		cfg->api_socket = api_socket;
	return true;
}

static bool build_vms(struct parse_state *st, struct daemon_config *cfg, FILE *err)
{
	if (!st->mode)
		return config_error(err, "no VM given: use --socket with --uds-path or "
				    "--forward-cid, or --vm, or --config FILE (see --help)");
	if (st->single && !vm_entry_finish(st->single, err))
		return false;
	if (st->config_path && !load_file(st, cfg, err))
		return false;
	for (size_t i = 0; i < st->list.n; i++)
		config_apply_perms(&st->list.items[i], &cfg->perms);
	return vm_list_check(&st->list, err) && api_socket_apart(st, cfg, err);
}

/* QEMU's back-end program conventions: --print-capabilities prints the
 * JSON object of docs/interop/vhost-user.json and ignores everything else
 * (vsock has no features to list). */
static bool wants_capabilities(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--print-capabilities") == 0)
			return true;
	return false;
}

enum config_result config_parse_args(int argc, char **argv, struct daemon_config *cfg,
				     FILE *out, FILE *err)
{
	struct parse_state st = {0};
	enum config_result result = CONFIG_ERROR;

	memset(cfg, 0, sizeof(*cfg));
	cfg->poll_us = CONFIG_DEFAULT_POLL_US;
	if (wants_capabilities(argc, argv)) {
		/* The schema defines no vsock feature: the list is empty. */
		fputs("{\n  \"type\": \"vsock\",\n  \"features\": []\n}\n", out);
		return CONFIG_EXIT_OK;
	}
	if (!parse_argv(&st, cfg, argc, argv, err))
		goto out;
	if (st.help) {
		fputs(help_text, out);
		result = CONFIG_EXIT_OK;
	} else if (st.version) {
		fprintf(out, "vhost-device-vsock %s\n", VHOST_DEVICE_VSOCK_VERSION);
		result = CONFIG_EXIT_OK;
	} else if (build_vms(&st, cfg, err) && vm_list_move_to(&st.list, cfg, err)) {
		cfg->from_file = st.config_path != NULL;
		result = CONFIG_OK;
	}
out:
	vm_list_free(&st.list);
	if (result != CONFIG_OK)
		config_free(cfg);
	return result;
}

void config_free(struct daemon_config *cfg)
{
	for (size_t i = 0; i < cfg->n_vms; i++)
		vm_config_clear(&cfg->vms[i]);
	free(cfg->vms);
	free(cfg->api_socket);
	memset(cfg, 0, sizeof(*cfg));
}
