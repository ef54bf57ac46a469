/* The open-file budget: automatic max-connections are even shares of what
 * the limit leaves, explicit budgets are kept, and budgets that cannot fit
 * stop start-up with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_budget.h"

static struct vm_config uds_vm(uint32_t cid)
{
	return (struct vm_config){.guest_cid = cid, .backend = BACKEND_UDS};
}

static struct vm_config vsock_vm(uint32_t cid, size_t n_listen)
{
	return (struct vm_config){.guest_cid = cid, .backend = BACKEND_VSOCK,
				  .n_forward_listen = n_listen};
}

/* Runs fd_budget_apply; *message gets what it printed (caller frees). */
static bool apply(struct vm_config *vms, size_t n, uint64_t limit, char **message)
{
	struct daemon_config cfg = {.vms = vms, .n_vms = n};
	size_t len;
	FILE *err = open_memstream(message, &len);
	bool ok;

	assert_non_null(err);
	ok = fd_budget_apply(&cfg, limit, err);
	fclose(err);
	return ok;
}

static uint64_t fds_used(const struct vm_config *vms, size_t n)
{
	uint64_t used = FD_BUDGET_PROCESS;

	for (size_t i = 0; i < n; i++)
		used += fd_budget_device_fixed(&vms[i]) + vms[i].max_connections +
			vms[i].max_handshakes;
	return used;
}

static void test_even_shares_that_fit(void **state)
{
	struct vm_config vms[2] = {uds_vm(3), uds_vm(4)};
	char *msg;

	(void)state;
	assert_true(apply(vms, 2, 20000, &msg));
	assert_string_equal(msg, "");
	free(msg);
	assert_int_equal(vms[0].max_connections, vms[1].max_connections);
	assert_int_equal(vms[0].max_handshakes, CONFIG_DEFAULT_MAX_HANDSHAKES);
	assert_int_equal(vms[0].max_pending, CONFIG_DEFAULT_MAX_PENDING);
	assert_true(fds_used(vms, 2) <= 20000);
	assert_true(fds_used(vms, 2) > 20000 - 2); /* nothing wasted */
}

/* A small limit: handshakes take a quarter of each share, pending
 * connections never outnumber connections. */
static void test_small_limit_scales_down(void **state)
{
	struct vm_config vms[2] = {uds_vm(3), uds_vm(4)};
	char *msg;

	(void)state;
	assert_true(apply(vms, 2, 604, &msg));
	free(msg);
	assert_true(vms[0].max_handshakes < CONFIG_DEFAULT_MAX_HANDSHAKES);
	assert_int_equal(vms[0].max_handshakes * 3, vms[0].max_connections);
	assert_int_equal(vms[0].max_pending, vms[0].max_connections);
	assert_true(fds_used(vms, 2) <= 604);
}

/* Explicit budgets are kept and the rest is shared; an AF_VSOCK backend
 * counts its listeners and has no handshakes. */
static void test_explicit_and_automatic_mix(void **state)
{
	struct vm_config vms[3] = {uds_vm(3), vsock_vm(4, 10), uds_vm(5)};
	char *msg;

	(void)state;
	vms[0].max_connections = 5000;
	vms[0].max_handshakes = 100;
	vms[0].max_pending = 10;
	assert_true(apply(vms, 3, 30000, &msg));
	free(msg);
	assert_int_equal(vms[0].max_connections, 5000);
	assert_int_equal(vms[0].max_handshakes, 100);
	assert_int_equal(vms[0].max_pending, 10);
	assert_int_equal(vms[1].max_handshakes, 0);
	assert_true(vms[1].max_connections > vms[2].max_connections);
	assert_true(fds_used(vms, 3) <= 30000);
	assert_int_equal(fd_budget_device_fixed(&vms[1]), fd_budget_device_fixed(&vms[0]) - 3 + 10);
}

static void test_huge_limit_is_capped(void **state)
{
	struct vm_config vm = uds_vm(3);
	char *msg;

	(void)state;
	assert_true(apply(&vm, 1, 1u << 30, &msg));
	free(msg);
	assert_int_equal(vm.max_connections, FD_BUDGET_MAX_AUTO_CONNECTIONS);
}

static void test_budgets_that_do_not_fit(void **state)
{
	struct vm_config vms[2] = {uds_vm(3), uds_vm(4)};
	struct vm_config tiny[20];
	char *msg;

	(void)state;
	vms[0].max_connections = 900;
	vms[0].max_handshakes = 100;
	vms[1].max_connections = 100;
	vms[1].max_handshakes = 10;
	assert_false(apply(vms, 2, 1024, &msg));
	assert_non_null(strstr(msg, "the budgets of 2 VM(s) need 1234 open files but the "
				    "limit (RLIMIT_NOFILE) is 1024"));
	free(msg);
	/* Exactly at the limit fits; one file short does not. */
	assert_true(apply(vms, 2, 1234, &msg));
	free(msg);
	assert_false(apply(vms, 2, 1233, &msg));
	assert_non_null(strstr(msg, "need 1234 open files but the limit (RLIMIT_NOFILE) is "
				    "1233"));
	free(msg);

	for (unsigned i = 0; i < 20; i++)
		tiny[i] = uds_vm(3 + i);
	assert_false(apply(tiny, 20, 1200, &msg));
	assert_non_null(strstr(msg, "too few for cid 3: raise the limit"));
	free(msg);

	vms[0] = uds_vm(3);
	vms[0].max_pending = 5000;
	assert_false(apply(vms, 1, 2000, &msg));
	assert_non_null(strstr(msg, "max-pending: 5000 is more than its max-connections"));
	free(msg);
}

/* With a file to reload (or the API), more VMs may come, so a VM takes at
 * most one of FD_BUDGET_API_SHARES; with more automatic VMs than that they
 * share the rest evenly, still within the limit. */
static void test_shares_when_vms_may_come_later(void **state)
{
	struct vm_config vms[10];
	struct daemon_config cfg = {.vms = vms, .from_file = true};
	FILE *err = fopen("/dev/null", "w");

	(void)state;
	for (unsigned i = 0; i < 10; i++)
		vms[i] = uds_vm(3 + i);
	cfg.n_vms = 10;
	assert_true(fd_budget_apply(&cfg, 20000, err));
	assert_int_equal(vms[0].max_connections, vms[9].max_connections);
	assert_true(fds_used(vms, 10) <= 20000);
	assert_true(fds_used(vms, 10) > 20000 - 10); /* nothing wasted */
	fclose(err);
}

/* A VM added at run time gets at most what the limit still leaves, however
 * large the share it was promised. */
static void test_run_time_fit_within_what_is_left(void **state)
{
	struct vm_config vms[2] = {uds_vm(3), uds_vm(4)};
	FILE *err = fopen("/dev/null", "w");

	(void)state;
	vms[0].max_connections = 1000;
	vms[0].max_handshakes = 100;
	assert_true(fd_budget_fit(vms, 1, false, 5000, &vms[1], 2000, err));
	assert_true(vms[1].max_connections > 0);
	assert_true(fds_used(vms, 2) <= 2000);
	fclose(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_even_shares_that_fit),
		cmocka_unit_test(test_small_limit_scales_down),
		cmocka_unit_test(test_explicit_and_automatic_mix),
		cmocka_unit_test(test_huge_limit_is_capped),
		cmocka_unit_test(test_budgets_that_do_not_fit),
		cmocka_unit_test(test_shares_when_vms_may_come_later),
		cmocka_unit_test(test_run_time_fit_within_what_is_left),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
