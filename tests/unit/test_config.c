/* Command-line and YAML configuration: every accepted form and every refusal,
 * with the exact message a user sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define MAX_ARGS 32
#define ERR_PREFIX "vhost-device-vsock: error: "

struct run {
	enum config_result result;
	struct daemon_config cfg;
	char *out;
	char *err;
};

/* Every VM key, as "unknown key" messages list them. */
#define KEYS_DASH "guest-cid, socket, fd, uds-path, forward-cid, forward-listen, " \
	"tx-buffer-size, queue-size, groups, max-connections, max-handshakes, max-pending, " \
	"tx-buffer-total, socket-group, socket-mode"
#define KEYS_UNDERSCORE "guest_cid, socket, fd, uds_path, forward_cid, forward_listen, " \
	"tx_buffer_size, queue_size, groups, max_connections, max_handshakes, max_pending, " \
	"tx_buffer_total, socket_group, socket_mode"

static void run_argv(struct run *r, const char *const *args)
{
	char *argv[MAX_ARGS + 1] = {"vhost-device-vsock"};
	size_t out_len, err_len;
	int argc = 1;

	while (args[argc - 1]) {
		assert_true(argc < MAX_ARGS);
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	FILE *out = open_memstream(&r->out, &out_len);
	FILE *err = open_memstream(&r->err, &err_len);
	assert_non_null(out);
	assert_non_null(err);
	r->result = config_parse_args(argc, argv, &r->cfg, out, err);
	fclose(out);
	fclose(err);
}

static void run_done(struct run *r)
{
	config_free(&r->cfg);
	free(r->out);
	free(r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Checks that the arguments are refused with exactly this one message, and
 * that nothing was handed back. */
static void expect_error_argv(const char *message, const char *const *args)
{
	struct run r = {0};
	char *expected;

	assert_true(asprintf(&expected, ERR_PREFIX "%s\n", message) > 0);
	run_argv(&r, args);
	assert_int_equal(r.result, CONFIG_ERROR);
	assert_string_equal(r.err, expected);
	assert_string_equal(r.out, "");
	assert_int_equal(r.cfg.n_vms, 0);
	assert_null(r.cfg.vms);
	free(expected);
	run_done(&r);
}
#define EXPECT_ERROR(msg, ...) expect_error_argv(msg, ARGS(__VA_ARGS__))

static void expect_ok_argv(struct run *r, const char *const *args)
{
	run_argv(r, args);
	assert_string_equal(r->err, "");
	assert_int_equal(r->result, CONFIG_OK);
}
#define EXPECT_OK(r, ...) expect_ok_argv(r, ARGS(__VA_ARGS__))

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Every YAML test runs in a private temporary directory, so file names in
 * messages are short and predictable. */
static char tmp_dir[64];

static int enter_tmp_dir(void **state)
{
	(void)state;
	strcpy(tmp_dir, "/tmp/test_config.XXXXXX");
	if (!mkdtemp(tmp_dir) || chdir(tmp_dir) != 0)
		return -1;
	return 0;
}

static int leave_tmp_dir(void **state)
{
	char cmd[128];

	(void)state;
	if (chdir("/") != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void expect_yaml_error(const char *yaml, const char *message)
{
	write_file("vms.yaml", yaml);
	EXPECT_ERROR(message, "--config", "vms.yaml");
}

/* ---- accepted forms ---------------------------------------------------- */

static void test_single_vm_flags(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--guest-cid=7", "--socket", "/tmp/v7.sock", "--uds-path=/tmp/vm7=x",
		  "--tx-buffer-size", "32768", "--queue-size=256", "--groups", " g1+g2 ",
		  "--log-level", "debug", "--poll-us=0");
	assert_int_equal(r.cfg.n_vms, 1);
	const struct vm_config *vm = &r.cfg.vms[0];
	assert_int_equal(vm->guest_cid, 7);
	assert_string_equal(vm->socket_path, "/tmp/v7.sock");
	assert_int_equal(vm->backend, BACKEND_UDS);
	assert_string_equal(vm->uds_path, "/tmp/vm7=x");
	assert_int_equal(vm->tx_buffer_size, 32768);
	assert_int_equal(vm->queue_size, 256);
	assert_int_equal(vm->n_groups, 2);
	assert_string_equal(vm->groups[0], "g1");
	assert_string_equal(vm->groups[1], "g2");
	assert_true(r.cfg.log_level_set);
	assert_int_equal(r.cfg.log_level, LOG_LVL_DEBUG);
	assert_int_equal(r.cfg.poll_us, 0);
	run_done(&r);
}

static void test_defaults(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--socket", "/s", "--forward-cid", "1");
	const struct vm_config *vm = &r.cfg.vms[0];
	assert_int_equal(vm->guest_cid, CONFIG_DEFAULT_GUEST_CID);
	assert_int_equal(vm->backend, BACKEND_VSOCK);
	assert_int_equal(vm->forward_cid, 1);
	assert_int_equal(vm->n_forward_listen, 0);
	assert_null(vm->uds_path);
	assert_int_equal(vm->tx_buffer_size, CONFIG_DEFAULT_TX_BUFFER_SIZE);
	assert_int_equal(vm->queue_size, CONFIG_DEFAULT_QUEUE_SIZE);
	assert_int_equal(vm->n_groups, 1);
	assert_string_equal(vm->groups[0], CONFIG_DEFAULT_GROUP);
	assert_false(r.cfg.log_level_set);
	assert_int_equal(r.cfg.poll_us, CONFIG_DEFAULT_POLL_US);
	run_done(&r);
}

static void test_limits_accepted(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--vm", "socket=/a,uds-path=/ua,guest-cid=4294967294,queue-size=1,"
		  "tx-buffer-size=4096",
		  "--vm", "socket=/b,forward-cid=0,guest-cid=3,queue-size=32768,"
		  "tx-buffer-size=67108864,forward-listen=0+4294967294");
	assert_int_equal(r.cfg.vms[0].guest_cid, 4294967294u);
	assert_int_equal(r.cfg.vms[0].queue_size, 1);
	assert_int_equal(r.cfg.vms[0].tx_buffer_size, 4096);
	assert_int_equal(r.cfg.vms[1].queue_size, 32768);
	assert_int_equal(r.cfg.vms[1].tx_buffer_size, 64u << 20);
	assert_int_equal(r.cfg.vms[1].forward_cid, 0);
	assert_int_equal(r.cfg.vms[1].forward_listen[1], 4294967294u);
	run_done(&r);
}

static void test_vm_every_spelling(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--vm", " guest_cid=4,socket=/s4,uds_path=/u4=eq,tx_buffer_size=8192,"
		  "queue_size=64,groups=a+b ",
		  "--vm=guest-cid=5,socket=/s5,forward-cid=1,forward-listen=9001+9002,"
		  "tx-buffer-size=65536,queue-size=128",
		  "--vm", "guest-cid=6,socket=/s6,forward_cid=2,forward_listen=7");
	assert_int_equal(r.cfg.n_vms, 3);
	assert_int_equal(r.cfg.vms[0].guest_cid, 4);
	assert_string_equal(r.cfg.vms[0].uds_path, "/u4=eq");
	assert_int_equal(r.cfg.vms[0].tx_buffer_size, 8192);
	assert_int_equal(r.cfg.vms[0].queue_size, 64);
	assert_string_equal(r.cfg.vms[0].groups[1], "b");
	assert_int_equal(r.cfg.vms[1].backend, BACKEND_VSOCK);
	assert_int_equal(r.cfg.vms[1].n_forward_listen, 2);
	assert_int_equal(r.cfg.vms[1].forward_listen[0], 9001);
	assert_int_equal(r.cfg.vms[1].forward_listen[1], 9002);
	assert_int_equal(r.cfg.vms[2].forward_cid, 2);
	assert_int_equal(r.cfg.vms[2].forward_listen[0], 7);
	run_done(&r);
}

/* The budgets, in every form; max-connections stays 0 (a share of the fd
 * limit, filled in at start-up) unless given. */
static void test_budget_keys(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--socket", "/s", "--uds-path", "/u", "--max-connections", "100",
		  "--max-handshakes=10", "--max-pending", "50", "--tx-buffer-total", "1048576");
	assert_int_equal(r.cfg.vms[0].max_connections, 100);
	assert_int_equal(r.cfg.vms[0].max_handshakes, 10);
	assert_int_equal(r.cfg.vms[0].max_pending, 50);
	assert_int_equal(r.cfg.vms[0].tx_buffer_total, 1048576);
	run_done(&r);

	EXPECT_OK(&r, "--vm", "socket=/a,uds-path=/ua,max_connections=1,max_pending=1",
		  "--vm", "socket=/b,forward-cid=1,guest-cid=4,tx-buffer-total=1099511627776");
	assert_int_equal(r.cfg.vms[0].max_connections, 1);
	assert_int_equal(r.cfg.vms[0].max_handshakes, 0);
	assert_int_equal(r.cfg.vms[0].tx_buffer_total, CONFIG_DEFAULT_TX_BUFFER_TOTAL);
	assert_int_equal(r.cfg.vms[1].max_connections, 0);
	assert_int_equal(r.cfg.vms[1].tx_buffer_total, 1ull << 40);
	run_done(&r);

	write_file("budgets.yaml",
		   "vms:\n"
		   "  - socket: /s\n"
		   "    uds_path: /u\n"
		   "    max-connections: 2000\n"
		   "    max_handshakes: '64'\n"
		   "    max_pending: 100\n"
		   "    tx_buffer_total: 8388608\n");
	EXPECT_OK(&r, "--config", "budgets.yaml");
	assert_int_equal(r.cfg.vms[0].max_connections, 2000);
	assert_int_equal(r.cfg.vms[0].max_handshakes, 64);
	assert_int_equal(r.cfg.vms[0].max_pending, 100);
	assert_int_equal(r.cfg.vms[0].tx_buffer_total, 8u << 20);
	run_done(&r);
	unlink("budgets.yaml");
}

static void test_budget_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("command line: --max-connections: 0 is outside 1..1048576", "--socket=/s",
		     "--uds-path=/u", "--max-connections=0");
	EXPECT_ERROR("command line: --max-handshakes: 65537 is outside 1..65536",
		     "--socket=/s", "--uds-path=/u", "--max-handshakes=65537");
	EXPECT_ERROR("command line: --tx-buffer-total: 1000 is outside "
		     "65536..1099511627776", "--socket=/s", "--uds-path=/u",
		     "--tx-buffer-total=1000");
	EXPECT_ERROR("command line: --max-handshakes needs --uds-path (only Unix socket "
		     "clients send a CONNECT line)", "--socket=/s", "--forward-cid=1",
		     "--max-handshakes=5");
	EXPECT_ERROR("command line: --max-pending: 20 is more than --max-connections (10)",
		     "--socket=/s", "--uds-path=/u", "--max-connections=10",
		     "--max-pending=20");
	EXPECT_ERROR("command line: --max-pending: 11 is more than --max-connections (10)",
		     "--socket=/s", "--uds-path=/u", "--max-connections=10",
		     "--max-pending=11");
	EXPECT_ERROR("--vm #1: tx-buffer-total: 65536 is less than tx-buffer-size (262144)",
		     "--vm", "socket=/s,uds-path=/u,tx-buffer-total=65536");
	EXPECT_ERROR("--vm #1: max-pending: 'x' is not a decimal number", "--vm",
		     "socket=/s,uds-path=/u,max-pending=x");
}

static void test_help_and_version(void **state)
{
	struct run r = {0};

	(void)state;
	run_argv(&r, ARGS("--version"));
	assert_int_equal(r.result, CONFIG_EXIT_OK);
	assert_string_equal(r.out, "vhost-device-vsock " VHOST_DEVICE_VSOCK_VERSION "\n");
	assert_string_equal(r.err, "");
	run_done(&r);

	memset(&r, 0, sizeof(r));
	run_argv(&r, ARGS("-V"));
	assert_int_equal(r.result, CONFIG_EXIT_OK);
	assert_string_equal(r.out, "vhost-device-vsock " VHOST_DEVICE_VSOCK_VERSION "\n");
	run_done(&r);

	/* --help wins over an incomplete configuration given before it. */
	memset(&r, 0, sizeof(r));
	run_argv(&r, ARGS("--socket", "/s", "-h"));
	assert_int_equal(r.result, CONFIG_EXIT_OK);
	assert_non_null(strstr(r.out, "Usage: vhost-device-vsock"));
	assert_non_null(strstr(r.out, "--forward-listen"));
	assert_null(strstr(r.out, " group,")); /* the reference documents a bogus key */
	assert_string_equal(r.err, "");
	run_done(&r);
}

/* QEMU's back-end conventions: --print-capabilities prints the JSON object
 * and nothing else matters; --socket-path is --socket; --fd names an
 * inherited socket instead of a path. */
static void test_backend_conventions(void **state)
{
	struct run r = {0};

	(void)state;
	run_argv(&r, ARGS("--bogus", "--print-capabilities", "--socket"));
	assert_int_equal(r.result, CONFIG_EXIT_OK);
	assert_string_equal(r.out, "{\n  \"type\": \"vsock\",\n  \"features\": []\n}\n");
	assert_string_equal(r.err, "");
	run_done(&r);

	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--socket-path=/s", "--uds-path=/u");
	assert_string_equal(r.cfg.vms[0].socket_path, "/s");
	assert_int_equal(r.cfg.vms[0].socket_fd, -1);
	assert_int_equal(r.cfg.vms[0].uds_fd, -1);
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "socket-path=/s,uds-path=/u", "--vm",
		  "socket_path=/t,uds-path=/v,guest-cid=4");
	assert_string_equal(r.cfg.vms[1].socket_path, "/t");
	run_done(&r);
	EXPECT_ERROR("command line: --socket: given more than once", "--socket-path=/s",
		     "--socket=/t", "--uds-path=/u");

	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--fd=3", "--uds-path=/u");
	assert_null(r.cfg.vms[0].socket_path);
	assert_int_equal(r.cfg.vms[0].socket_fd, 3);
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "fd=7,uds-path=/u");
	assert_int_equal(r.cfg.vms[0].socket_fd, 7);
	run_done(&r);
	EXPECT_ERROR("command line: --fd: 2 is outside 3..2147483647", "--fd=2", "--uds-path=/u");
	EXPECT_ERROR("command line: --socket and --fd cannot be used together", "--fd=3",
		     "--socket=/s", "--uds-path=/u");
}

/* Socket group and mode: per VM, else global, else 0600 (0660 with a
 * group); names and numbers for groups, octal for modes. */
static void test_socket_group_and_mode(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--socket=/s", "--uds-path=/u");
	assert_int_equal(r.cfg.vms[0].socket_mode, 0600);
	assert_false(r.cfg.vms[0].socket_gid_set);
	run_done(&r);

	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--socket-group=root", "--socket=/s", "--uds-path=/u");
	assert_int_equal(r.cfg.vms[0].socket_mode, 0660);
	assert_true(r.cfg.vms[0].socket_gid_set);
	assert_int_equal(r.cfg.vms[0].socket_gid, 0);
	run_done(&r);

	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--socket-group", "1234", "--socket-mode", "640", "--vm",
		  "socket=/a,uds-path=/ua", "--vm",
		  "socket=/b,uds-path=/ub,guest-cid=4,socket_group=99,socket-mode=0606");
	assert_int_equal(r.cfg.vms[0].socket_gid, 1234);
	assert_int_equal(r.cfg.vms[0].socket_mode, 0640);
	assert_int_equal(r.cfg.vms[1].socket_gid, 99);
	assert_int_equal(r.cfg.vms[1].socket_mode, 0606);
	run_done(&r);

	/* A VM's own group still gets the group default mode. */
	write_file("perm.yaml", "vms:\n  - socket: /s\n    uds_path: /u\n    socket_group: 5\n");
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--config", "perm.yaml");
	assert_int_equal(r.cfg.vms[0].socket_gid, 5);
	assert_int_equal(r.cfg.vms[0].socket_mode, 0660);
	run_done(&r);

	EXPECT_ERROR("command line: --socket-group: 'no-such-group-here' is neither a group "
		     "name nor a group number", "--socket-group=no-such-group-here",
		     "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("--vm #1: socket-group: '' is neither a group name nor a group number",
		     "--vm", "socket=/s,uds-path=/u,socket-group=");
	EXPECT_ERROR("command line: --socket-mode: '1777' is not an octal mode from 0 to 0777 "
		     "(such as 0660)", "--socket-mode=1777", "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("command line: --socket-mode: '0o660' is not an octal mode from 0 to 0777 "
		     "(such as 0660)", "--socket-mode=0o660", "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("command line: --socket-mode: '-1' is not an octal mode from 0 to 0777 "
		     "(such as 0660)", "--socket-mode=-1", "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("--socket-mode: given more than once", "--socket-mode=600",
		     "--socket-mode=600", "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("--socket-group: given more than once", "--socket-group=1",
		     "--socket-group=1", "--socket=/s", "--uds-path=/u");
}

static void test_seccomp_option(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--socket=/s", "--uds-path=/u");
	assert_int_equal(r.cfg.seccomp, SECCOMP_KILL);
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--seccomp=log", "--socket=/s", "--uds-path=/u");
	assert_int_equal(r.cfg.seccomp, SECCOMP_LOG);
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--seccomp", "none", "--socket=/s", "--uds-path=/u");
	assert_int_equal(r.cfg.seccomp, SECCOMP_NONE);
	run_done(&r);
	EXPECT_ERROR("--seccomp: 'trap' is not kill, log or none", "--seccomp=trap",
		     "--socket=/s", "--uds-path=/u");
	EXPECT_ERROR("--seccomp: given more than once", "--seccomp=log", "--seccomp=kill",
		     "--socket=/s", "--uds-path=/u");
}

/* Every example of the reference README (and reference-daemon.md) works. */
static void test_seed_readme_examples(void **state)
{
	struct run r = {0};

	(void)state;
	EXPECT_OK(&r, "--guest-cid=3", "--socket=/tmp/vhost3.socket", "--uds-path=/tmp/vm3.vsock",
		  "--tx-buffer-size=65536", "--queue-size=1024", "--groups=group1+groupA");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--guest-cid=4", "--socket=/tmp/vhost4.socket", "--forward-cid=1",
		  "--forward-listen=9001+9002", "--tx-buffer-size=32768", "--queue-size=256");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest_cid=3,socket=/tmp/vhost3.socket,uds-path=/tmp/vm3.vsock,"
		  "tx-buffer-size=65536,queue-size=1024,groups=group1+groupA");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest_cid=4,socket=/tmp/vhost4.socket,forward-cid=1,"
		  "forward-listen=9001+9002,tx-buffer-size=32768,queue-size=256,groups=g");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r,
		  "--vm", "guest-cid=3,socket=/tmp/vhost3.socket,uds-path=/tmp/vm3.vsock,"
		  "groups=group1+groupA",
		  "--vm", "guest-cid=4,socket=/tmp/vhost4.socket,uds-path=/tmp/vm4.vsock,"
		  "tx-buffer-size=32768,queue-size=256",
		  "--vm", "guest-cid=5,socket=/tmp/vhost5.socket,forward-cid=1,"
		  "forward-listen=9001+9002,tx-buffer-size=32768,queue-size=1024");
	assert_int_equal(r.cfg.n_vms, 3);
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest-cid=4,uds-path=/tmp/vm4.vsock,socket=/tmp/vhost4.socket");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest-cid=4,uds-path=/tmp/vm4.vsock,socket=/tmp/vhost4.socket,"
		  "tx-buffer-size=65536,queue-size=1024");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r,
		  "--vm", "guest-cid=3,uds-path=/tmp/vm3.vsock,socket=/tmp/vhost3.socket,"
		  "groups=group1+group2",
		  "--vm", "guest-cid=4,uds-path=/tmp/vm4.vsock,socket=/tmp/vhost4.socket,"
		  "groups=group1");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest-cid=4,forward-cid=1,forward-listen=9001+9002,"
		  "socket=/tmp/vhost4.socket");
	run_done(&r);
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--vm", "guest_cid=5,socket=/tmp/vhost5.socket,forward_cid=1,"
		  "forward_listen=9001+9002");
	run_done(&r);
}

static const char seed_yaml[] =
	"vms:\n"
	"  - guest_cid: 3\n"
	"    socket: /tmp/vhost3.socket\n"
	"    uds_path: /tmp/vm3.sock\n"
	"    tx_buffer_size: 65536\n"
	"    queue_size: 1024\n"
	"    groups: group1+groupA\n"
	"  - guest_cid: 4\n"
	"    socket: /tmp/vhost4.socket\n"
	"    uds_path: /tmp/vm4.sock\n"
	"    tx_buffer_size: 32768\n"
	"    queue_size: 256\n"
	"    groups: group2+groupB\n"
	"  - guest_cid: 5\n"
	"    socket: /tmp/vhost5.socket\n"
	"    forward-cid: 1\n"
	"    forward-listen: 9001+9002\n"
	"    tx_buffer_size: 32768\n"
	"    queue_size: 1024\n";

static void test_yaml_seed_example(void **state)
{
	struct run r = {0};

	(void)state;
	write_file("seed.yaml", seed_yaml);
	EXPECT_OK(&r, "--config=seed.yaml");
	assert_int_equal(r.cfg.n_vms, 3);
	assert_string_equal(r.cfg.vms[0].uds_path, "/tmp/vm3.sock");
	assert_string_equal(r.cfg.vms[1].groups[1], "groupB");
	assert_int_equal(r.cfg.vms[1].queue_size, 256);
	assert_int_equal(r.cfg.vms[2].guest_cid, 5);
	assert_int_equal(r.cfg.vms[2].backend, BACKEND_VSOCK);
	assert_int_equal(r.cfg.vms[2].forward_cid, 1);
	assert_int_equal(r.cfg.vms[2].n_forward_listen, 2);
	assert_int_equal(r.cfg.vms[2].forward_listen[1], 9002);
	assert_string_equal(r.cfg.vms[2].groups[0], "default");
	run_done(&r);
}

static void test_yaml_value_forms(void **state)
{
	struct run r = {0};

	(void)state;
	write_file("forms.yaml",
		   "# quoted numbers, bare ints, lists as sequences, flow style\n"
		   "vms:\n"
		   "  - {guest_cid: \"4\", socket: '/s 4', forward_cid: 1, forward_listen: 9001}\n"
		   "  - guest-cid: 5\n"
		   "    socket: /s5\n"
		   "    forward_cid: \"2\"\n"
		   "    forward_listen: \"9002+9003\"\n"
		   "    groups: [x, \"y+z\"]\n"
		   "  - guest_cid: 6\n"
		   "    socket: /s6\n"
		   "    uds-path: /u6\n"
		   "    forward-listen-is-not-here: no\n"
		   "    groups: solo\n"
		   "    queue-size: '512'\n");
	run_argv(&r, ARGS("--config", "forms.yaml"));
	/* The third entry has an unknown key, so first check it is named. */
	assert_int_equal(r.result, CONFIG_ERROR);
	assert_string_equal(r.err, ERR_PREFIX "forms.yaml vms[2] (line 9): "
			    "forward-listen-is-not-here: line 12: unknown key (valid: " KEYS_UNDERSCORE ")\n");
	run_done(&r);

	write_file("forms.yaml",
		   "vms:\n"
		   "  - {guest_cid: \"4\", socket: '/s 4', forward_cid: 1, forward_listen: 9001}\n"
		   "  - guest-cid: 5\n"
		   "    socket: /s5\n"
		   "    forward_cid: \"2\"\n"
		   "    forward_listen: \"9002+9003\"\n"
		   "    groups: [x, \"y+z\"]\n"
		   "  - guest_cid: 6\n"
		   "    socket: /s6\n"
		   "    uds-path: /u6\n"
		   "    groups: solo\n"
		   "    queue-size: '512'\n");
	memset(&r, 0, sizeof(r));
	EXPECT_OK(&r, "--config", "forms.yaml");
	assert_int_equal(r.cfg.n_vms, 3);
	assert_int_equal(r.cfg.vms[0].guest_cid, 4);
	assert_string_equal(r.cfg.vms[0].socket_path, "/s 4");
	assert_int_equal(r.cfg.vms[0].n_forward_listen, 1);
	assert_int_equal(r.cfg.vms[0].forward_listen[0], 9001);
	assert_int_equal(r.cfg.vms[1].forward_cid, 2);
	assert_int_equal(r.cfg.vms[1].n_forward_listen, 2);
	/* A sequence element is one group name: no '+' splitting inside it. */
	assert_int_equal(r.cfg.vms[1].n_groups, 2);
	assert_string_equal(r.cfg.vms[1].groups[1], "y+z");
	assert_int_equal(r.cfg.vms[2].queue_size, 512);
	assert_string_equal(r.cfg.vms[2].groups[0], "solo");
	run_done(&r);
}

/* ---- refused: options and modes ----------------------------------------- */

static void test_option_errors(void **state)
{
	(void)state;
	char *none[] = {"vhost-device-vsock", NULL};
	struct run r = {0};
	size_t len;
	FILE *out = open_memstream(&r.out, &len), *err = open_memstream(&r.err, &len);

	assert_int_equal(config_parse_args(1, none, &r.cfg, out, err), CONFIG_ERROR);
	fclose(out);
	fclose(err);
	assert_string_equal(r.err, ERR_PREFIX "no VM given: use --socket with --uds-path or "
			    "--forward-cid, or --vm, or --config FILE (see --help)\n");
	run_done(&r);

	EXPECT_ERROR("no VM given: use --socket with --uds-path or --forward-cid, or --vm, "
		     "or --config FILE (see --help)", "--log-level", "info");
	EXPECT_ERROR("unknown option '--bogus' (see --help)", "--bogus");
	EXPECT_ERROR("unknown option '--bogus' (see --help)", "--bogus=1");
	EXPECT_ERROR("unknown option '-x' (see --help)", "-x");
	EXPECT_ERROR("unknown option '--guest_cid' (see --help)", "--guest_cid", "4");
	EXPECT_ERROR("unknown option '--group' (see --help)", "--group", "a");
	EXPECT_ERROR("unexpected argument 'stray' (see --help)", "--socket", "/s", "stray");
	EXPECT_ERROR("--socket needs a value", "--socket");
	EXPECT_ERROR("--socket needs a value", "--socket", "--uds-path", "/u");
	EXPECT_ERROR("--vm needs a value", "--vm");
	EXPECT_ERROR("--help takes no value", "--help=yes");
	EXPECT_ERROR("--log-level: 'loud' is not a level (error, warn, info, debug)",
		     "--log-level", "loud");
	EXPECT_ERROR("--log-level: given more than once", "--log-level", "debug",
		     "--log-level=info");
	EXPECT_ERROR("--poll-us: '10001' is too large (0..10000 microseconds)",
		     "--poll-us", "10001");
	EXPECT_ERROR("--poll-us: '-1' is negative (0..10000 microseconds)", "--poll-us=-1");
	EXPECT_ERROR("--poll-us: 'fast' is not a decimal number (0..10000 microseconds)",
		     "--poll-us", "fast");
	EXPECT_ERROR("--poll-us: given more than once", "--poll-us", "5", "--poll-us=6");
	EXPECT_ERROR("--config cannot be combined with --vm", "--vm", "socket=/s,uds-path=/u",
		     "--config", "x.yaml");
	EXPECT_ERROR("--vm cannot be combined with --socket", "--socket", "/s", "--uds-path",
		     "/u", "--vm", "socket=/t,uds-path=/v");
	EXPECT_ERROR("--guest-cid cannot be combined with --config", "--config", "x.yaml",
		     "--guest-cid", "4");
	EXPECT_ERROR("--config: given more than once", "--config", "a.yaml", "--config=b.yaml");
}

static void test_single_vm_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("command line: needs --uds-path (Unix socket backend) or --forward-cid "
		     "(AF_VSOCK backend)", "--socket", "/s");
	EXPECT_ERROR("command line: --socket: missing (the vhost-user socket path is required, or "
		     "--fd for an inherited one)",
		     "--uds-path", "/u");
	EXPECT_ERROR("command line: --uds-path and --forward-cid cannot be used together",
		     "--socket", "/s", "--uds-path", "/u", "--forward-cid", "1");
	EXPECT_ERROR("command line: --forward-listen needs --forward-cid", "--socket", "/s",
		     "--forward-listen", "9001");
	EXPECT_ERROR("command line: --forward-listen needs --forward-cid", "--socket", "/s",
		     "--uds-path", "/u", "--forward-listen", "9001");
	EXPECT_ERROR("command line: --socket: given more than once", "--socket", "/a",
		     "--socket", "/b");
	EXPECT_ERROR("command line: --socket: the path is empty", "--socket=", "--uds-path=/u");
	/* 108 bytes: one more than sun_path can hold with its NUL. */
	char path[109], message[256];
	memset(path, 'a', 108);
	path[0] = '/';
	path[108] = '\0';
	snprintf(message, sizeof(message), "command line: --uds-path: '%s' is longer than a "
		 "Unix socket path can be (107 bytes)", path);
	EXPECT_ERROR(message, "--socket", "/s", "--uds-path", path);
	path[107] = '\0';
	struct run r = {0};
	EXPECT_OK(&r, "--socket", "/s", "--uds-path", path);
	run_done(&r);
}

static void test_number_errors(void **state)
{
	(void)state;
#define CID_ERROR(msg, value) \
	EXPECT_ERROR("command line: --guest-cid: " msg, "--socket=/s", "--uds-path=/u", \
		     "--guest-cid", value)
	CID_ERROR("'abc' is not a decimal number", "abc");
	CID_ERROR("'4x' is not a decimal number", "4x");
	CID_ERROR("' 4' is not a decimal number", " 4");
	CID_ERROR("'+4' is not a decimal number", "+4");
	CID_ERROR("'0x10' is not a decimal number", "0x10");
	CID_ERROR("'' is empty", "");
	CID_ERROR("'-4' is negative", "-4");
	CID_ERROR("0 is reserved (VMADDR_CID_HYPERVISOR)", "0");
	CID_ERROR("1 is reserved (VMADDR_CID_LOCAL)", "1");
	CID_ERROR("2 is reserved (VMADDR_CID_HOST)", "2");
	CID_ERROR("4294967295 is reserved (VMADDR_CID_ANY)", "4294967295");
	CID_ERROR("4294967296 does not fit in 32 bits", "4294967296");
	CID_ERROR("18446744073709551615 does not fit in 32 bits", "18446744073709551615");
	CID_ERROR("'18446744073709551616' is too large (maximum 18446744073709551615)",
		  "18446744073709551616");
	CID_ERROR("'99999999999999999999x' is not a decimal number", "99999999999999999999x");
#undef CID_ERROR
	EXPECT_ERROR("command line: --forward-cid: 4294967295 is VMADDR_CID_ANY, not a "
		     "destination", "--socket=/s", "--forward-cid=4294967295");
	EXPECT_ERROR("command line: --forward-cid: '4294967296' is too large (maximum "
		     "4294967295)", "--socket=/s", "--forward-cid=4294967296");
	EXPECT_ERROR("command line: --forward-cid: '-1' is negative", "--socket=/s",
		     "--forward-cid=-1");

#define SIZE_ERROR(key, msg, value) \
	EXPECT_ERROR("command line: --" key ": " msg, "--socket=/s", "--uds-path=/u", \
		     "--" key, value)
	SIZE_ERROR("queue-size", "1000 is not a power of two between 1 and 32768", "1000");
	SIZE_ERROR("queue-size", "0 is not a power of two between 1 and 32768", "0");
	SIZE_ERROR("queue-size", "65536 is not a power of two between 1 and 32768", "65536");
	SIZE_ERROR("queue-size", "'-1' is negative", "-1");
	SIZE_ERROR("queue-size", "'1k' is not a decimal number", "1k");
	SIZE_ERROR("tx-buffer-size", "0 is outside 4096..67108864", "0");
	SIZE_ERROR("tx-buffer-size", "4095 is outside 4096..67108864", "4095");
	SIZE_ERROR("tx-buffer-size", "67108865 is outside 4096..67108864", "67108865");
	SIZE_ERROR("tx-buffer-size", "99999999999 is outside 4096..67108864", "99999999999");
	SIZE_ERROR("tx-buffer-size", "'64K' is not a decimal number", "64K");
#undef SIZE_ERROR
}

static void test_list_errors(void **state)
{
	(void)state;
#define PORTS_ERROR(msg, value) \
	EXPECT_ERROR("command line: --forward-listen: " msg, "--socket=/s", \
		     "--forward-cid=1", "--forward-listen", value)
	PORTS_ERROR("the list is empty", "");
	PORTS_ERROR("the list is empty", "  ");
	PORTS_ERROR("'' is empty", "9001+");
	PORTS_ERROR("'' is empty", "+9001");
	PORTS_ERROR("'' is empty", "9001++9002");
	PORTS_ERROR("'90a1' is not a decimal number", "90a1");
	PORTS_ERROR("'9001,9002' is not a decimal number", "9001,9002");
	PORTS_ERROR("port 9001 is listed twice", "9001+9002+9001");
	PORTS_ERROR("4294967295 is VMADDR_PORT_ANY, not a port", "4294967295");
	PORTS_ERROR("'4294967296' is too large (maximum 4294967295)", "4294967296");
#undef PORTS_ERROR
#define GROUPS_ERROR(msg, value) \
	EXPECT_ERROR("command line: --groups: " msg, "--socket=/s", "--uds-path=/u", \
		     "--groups", value)
	GROUPS_ERROR("the list is empty", "");
	GROUPS_ERROR("the list is empty", " \t");
	GROUPS_ERROR("empty group name", "a++b");
	GROUPS_ERROR("empty group name", "a+");
	GROUPS_ERROR("empty group name", "+a");
	GROUPS_ERROR("group 'a' is listed twice", "a+b+a");
#undef GROUPS_ERROR
}

static void test_vm_arg_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("--vm #1: empty value (expected key=value,...)", "--vm", "");
	EXPECT_ERROR("--vm #1: empty value (expected key=value,...)", "--vm", "  ");
	EXPECT_ERROR("--vm #1: empty item (stray ',')", "--vm", "socket=/s,uds-path=/u,");
	EXPECT_ERROR("--vm #1: empty item (stray ',')", "--vm", "socket=/s,,uds-path=/u");
	EXPECT_ERROR("--vm #1: 'socket' is not key=value", "--vm", "socket");
	EXPECT_ERROR("--vm #1: group: unknown key (valid: " KEYS_DASH ")",
		     "--vm", "socket=/s,uds-path=/u,group=a");
	EXPECT_ERROR("--vm #1: Socket: unknown key (valid: " KEYS_DASH ")",
		     "--vm", "Socket=/s");
	EXPECT_ERROR("--vm #1: guest_cid: given more than once", "--vm",
		     "socket=/s,uds-path=/u,guest-cid=4,guest_cid=5");
	EXPECT_ERROR("--vm #1: socket: missing (the vhost-user socket path is required, or fd for an "
		     "inherited one)",
		     "--vm", "uds_path=/u");
	EXPECT_ERROR("--vm #1: needs uds-path (Unix socket backend) or forward-cid (AF_VSOCK "
		     "backend)", "--vm", "socket=/s");
	EXPECT_ERROR("--vm #1: uds-path and forward-cid cannot be used together", "--vm",
		     "socket=/s,uds_path=/u,forward_cid=1");
	EXPECT_ERROR("--vm #1: forward-listen needs forward-cid", "--vm",
		     "socket=/s,uds_path=/u,forward_listen=1");
	EXPECT_ERROR("--vm #2: queue_size: 1000 is not a power of two between 1 and 32768",
		     "--vm", "socket=/s,uds-path=/u", "--vm",
		     "guest-cid=4,socket=/t,uds-path=/v,queue_size=1000");
	EXPECT_ERROR("--vm #1: groups: the list is empty", "--vm",
		     "socket=/s,uds-path=/u,groups=");
	EXPECT_ERROR("--vm #1: forward-listen: '' is empty", "--vm",
		     "socket=/s,forward-cid=1,forward-listen=1+");
}

static void test_cross_vm_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("--vm #2 (cid 3): guest-cid: 3 is already used by --vm #1",
		     "--vm", "socket=/s1,uds-path=/u1", "--vm", "socket=/s2,uds-path=/u2");
	EXPECT_ERROR("--vm #3 (cid 5): guest-cid: 5 is already used by --vm #2",
		     "--vm", "guest-cid=4,socket=/s1,uds-path=/u1",
		     "--vm", "guest-cid=5,socket=/s2,uds-path=/u2",
		     "--vm", "guest-cid=5,socket=/s3,uds-path=/u3");
	EXPECT_ERROR("--vm #2 (cid 4): socket: '/s' is already the socket of --vm #1 (cid 3)",
		     "--vm", "socket=/s,uds-path=/u1", "--vm", "guest-cid=4,socket=/s,uds-path=/u2");
	EXPECT_ERROR("--vm #2 (cid 4): socket: '/u1' is already the uds-path of --vm #1 (cid 3)",
		     "--vm", "socket=/s,uds-path=/u1", "--vm", "guest-cid=4,socket=/u1,forward-cid=1");
	EXPECT_ERROR("--vm #2 (cid 4): uds-path: '/s' is already the socket of --vm #1 (cid 3)",
		     "--vm", "socket=/s,uds-path=/u1", "--vm", "guest-cid=4,socket=/t,uds-path=/s");
	EXPECT_ERROR("--vm #2 (cid 4): uds-path: '/u' is already the uds-path of --vm #1 (cid 3)",
		     "--vm", "socket=/s,uds-path=/u", "--vm", "guest-cid=4,socket=/t,uds-path=/u");
	EXPECT_ERROR("command line (cid 3): uds-path: '/x' is also its socket",
		     "--socket", "/x", "--uds-path", "/x");
	EXPECT_ERROR("--vm #2 (cid 4): forward-listen: port 9001 is already "
		     "listened on by --vm #1",
		     "--vm", "socket=/s,forward-cid=1,forward-listen=9000+9001",
		     "--vm", "guest-cid=4,socket=/t,forward-cid=1,forward-listen=9001");
	/* Listeners bind every local CID: another forward-cid does not help. */
	EXPECT_ERROR("--vm #2 (cid 4): forward-listen: port 9001 is already "
		     "listened on by --vm #1",
		     "--vm", "socket=/s,forward-cid=1,forward-listen=9001",
		     "--vm", "guest-cid=4,socket=/t,forward-cid=5,forward-listen=9001");
}

/* ---- refused: YAML ------------------------------------------------------ */

static void test_yaml_file_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("nofile.yaml: cannot open: No such file or directory", "--config",
		     "nofile.yaml");
	assert_int_equal(mkdir("adir", 0700), 0);
	EXPECT_ERROR("adir: is a directory", "--config", "adir");

	char *big = malloc((1u << 20) + 2);
	assert_non_null(big);
	memset(big, '#', (1u << 20) + 1);
	big[(1u << 20) + 1] = '\0';
	write_file("big.yaml", big);
	free(big);
	EXPECT_ERROR("big.yaml: larger than 1048576 bytes", "--config", "big.yaml");
}

static void test_yaml_document_errors(void **state)
{
	(void)state;
	expect_yaml_error("vms:\n  - socket: [unclosed\n",
			  "vms.yaml: line 3 column 1: YAML syntax error: did not find expected "
			  "',' or ']' while parsing a flow sequence");
	expect_yaml_error("vms:\n  - socket: a\n   uds: b\n",
			  "vms.yaml: line 3 column 4: YAML syntax error: did not find expected "
			  "'-' indicator while parsing a block collection");
	expect_yaml_error("", "vms.yaml: empty document, expected a top-level 'vms' list");
	expect_yaml_error("# only a comment\n",
			  "vms.yaml: empty document, expected a top-level 'vms' list");
	expect_yaml_error("- socket: /s\n", "vms.yaml: line 1: expected a top-level map with "
			  "a 'vms' list");
	expect_yaml_error("vm:\n  - socket: /s\n", "vms.yaml: line 1: unknown top-level key "
			  "(only 'vms' and 'api-socket' are allowed)");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\nextra: 1\n",
			  "vms.yaml: line 3: unknown top-level key (only 'vms' and 'api-socket' are "
			  "allowed)");
	expect_yaml_error("vms: 3\n", "vms.yaml: line 1: 'vms' must be a list");
	expect_yaml_error("vms:\n", "vms.yaml: line 1: 'vms' must be a list");
	expect_yaml_error("vms: {a: 1}\n", "vms.yaml: line 1: 'vms' must be a list");
	expect_yaml_error("vms: []\n", "vms.yaml: line 1: 'vms' is empty");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\nvms: []\n",
			  "vms.yaml: line 3: 'vms' given more than once");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\n---\nvms: []\n",
			  "vms.yaml: more than one YAML document");
}

static void test_yaml_vm_errors(void **state)
{
	(void)state;
	expect_yaml_error("vms:\n  - 5\n", "vms.yaml vms[0] (line 2): expected a map of keys "
			  "(socket, uds_path, ...)");
	expect_yaml_error("vms:\n  - socket: /s\n    uds_path: /u\n    group: g\n",
			  "vms.yaml vms[0] (line 2): group: line 4: unknown key (valid: " KEYS_UNDERSCORE ")");
	expect_yaml_error("vms:\n  - uds_path: /u\n",
			  "vms.yaml vms[0] (line 2): socket: missing (the vhost-user socket path "
			  "is required, or fd for an inherited one)");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\n  - guest_cid: 4\n"
			  "    socket: /t\n",
			  "vms.yaml vms[1] (line 3): needs uds-path (Unix socket backend) or "
			  "forward-cid (AF_VSOCK backend)");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, forward-cid: 1}\n",
			  "vms.yaml vms[0] (line 2): uds-path and forward-cid cannot be used "
			  "together");
	expect_yaml_error("vms:\n  - {socket: /s, guest_cid: abc, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): guest_cid: 'abc' is not a decimal number");
	expect_yaml_error("vms:\n  - {socket: /s, guest_cid: 2, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): guest_cid: 2 is reserved (VMADDR_CID_HOST)");
	expect_yaml_error("vms:\n  - {socket: /s, guest_cid: -3, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): guest_cid: '-3' is negative");
	expect_yaml_error("vms:\n  - {socket: /s, guest_cid: 3.5, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): guest_cid: '3.5' is not a decimal number");
	expect_yaml_error("vms:\n  - socket:\n    uds_path: /u\n",
			  "vms.yaml vms[0] (line 2): socket: line 2: no value given");
	expect_yaml_error("vms:\n  - {socket: ~, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): socket: line 2: no value given");
	expect_yaml_error("vms:\n  - {socket: {a: 1}, uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): socket: line 2: expected a single value");
	expect_yaml_error("vms:\n  - {socket: [/a], uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): socket: line 2: expected a single value");
	expect_yaml_error("vms:\n  - {socket: \"/a\\0b\", uds_path: /u}\n",
			  "vms.yaml vms[0] (line 2): socket: line 2: value contains a NUL "
			  "character");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, groups: []}\n",
			  "vms.yaml vms[0] (line 2): groups: the list is empty");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, groups: [a, [b]]}\n",
			  "vms.yaml vms[0] (line 2): groups: line 2: expected a single value");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, groups: [a, '']}\n",
			  "vms.yaml vms[0] (line 2): groups: empty group name");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, groups: a, groups: b}\n",
			  "vms.yaml vms[0] (line 2): groups: given more than once");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, groups: [a], groups: [b]}\n",
			  "vms.yaml vms[0] (line 2): groups: given more than once");
	expect_yaml_error("vms:\n  - {socket: /s, forward_cid: 1, forward_listen: [1, x]}\n",
			  "vms.yaml vms[0] (line 2): forward_listen: 'x' is not a decimal number");
	expect_yaml_error("vms:\n  - {socket: /s, forward_cid: 1, forward_listen: 1+1}\n",
			  "vms.yaml vms[0] (line 2): forward_listen: port 1 is listed twice");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, queue_size: 100}\n",
			  "vms.yaml vms[0] (line 2): queue_size: 100 is not a power of two "
			  "between 1 and 32768");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u, tx_buffer_size: 0}\n",
			  "vms.yaml vms[0] (line 2): tx_buffer_size: 0 is outside "
			  "4096..67108864");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\n"
			  "  - {socket: /t, uds_path: /v}\n",
			  "vms.yaml vms[1] (line 3) (cid 3): guest-cid: 3 is already used by "
			  "vms.yaml vms[0] (line 2)");
	expect_yaml_error("vms:\n  - {socket: /s, uds_path: /u}\n"
			  "  - {guest_cid: 4, socket: /t, uds_path: /s}\n",
			  "vms.yaml vms[1] (line 3) (cid 4): uds-path: '/s' is already the socket "
			  "of vms.yaml vms[0] (line 2) (cid 3)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_vm_flags),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_vm_every_spelling),
		cmocka_unit_test(test_budget_keys),
		cmocka_unit_test(test_budget_errors),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_backend_conventions),
		cmocka_unit_test(test_socket_group_and_mode),
		cmocka_unit_test(test_seccomp_option),
		cmocka_unit_test(test_seed_readme_examples),
		cmocka_unit_test(test_yaml_seed_example),
		cmocka_unit_test(test_yaml_value_forms),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_single_vm_errors),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_vm_arg_errors),
		cmocka_unit_test(test_cross_vm_errors),
		cmocka_unit_test(test_yaml_file_errors),
		cmocka_unit_test(test_yaml_document_errors),
		cmocka_unit_test(test_yaml_vm_errors),
	};
	return cmocka_run_group_tests(tests, enter_tmp_dir, leave_tmp_dir);
}
