/* vm_config_same() decides which VMs a reload restarts: every key of a VM
 * must count (a changed key left unseen would keep the old setting running
 * while the file says otherwise), and a deep copy is the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vm_config.h"

static uint32_t listen_ports[] = {1234, 5678};
static char *group_names[] = {"a", "b"};

static struct vm_config base(void)
{
	return (struct vm_config){
		.guest_cid = 3, .socket_path = "/run/v3.sock", .backend = BACKEND_UDS,
		.uds_path = "/run/vm3.vsock", .forward_listen = listen_ports,
		.n_forward_listen = 2, .tx_buffer_size = 262144, .queue_size = 256,
		.groups = group_names, .n_groups = 2, .max_connections = 100,
		.max_handshakes = 10, .max_pending = 50, .tx_buffer_total = 1u << 26,
		.socket_mode = 0660, .socket_gid_set = true, .socket_gid = 42,
	};
}

static void test_each_key_counts(void **state)
{
	static uint32_t other_ports[] = {1234, 5679};
	static char *other_groups[] = {"a", "c"};
	struct vm_config a = base(), b;

	(void)state;
	assert_true(vm_config_same(&a, &a));
#define DIFFERS(field, value)                                                    \
	do {                                                                     \
		b = base();                                                      \
		b.field = value;                                                 \
		assert_false(vm_config_same(&a, &b));                            \
	} while (0)
	DIFFERS(guest_cid, 4);
	DIFFERS(socket_path, "/run/other.sock");
	DIFFERS(backend, BACKEND_VSOCK);
	DIFFERS(uds_path, "/run/other.vsock");
	DIFFERS(forward_cid, 1);
	DIFFERS(n_forward_listen, 1);
	DIFFERS(forward_listen, other_ports);
	DIFFERS(tx_buffer_size, 65536);
	DIFFERS(queue_size, 128);
	DIFFERS(n_groups, 1);
	DIFFERS(groups, other_groups);
	DIFFERS(max_connections, 101);
	DIFFERS(max_handshakes, 11);
	DIFFERS(max_pending, 51);
	DIFFERS(tx_buffer_total, 1u << 27);
	DIFFERS(socket_mode, 0600);
	DIFFERS(socket_gid_set, false);
	DIFFERS(socket_gid, 43);
#undef DIFFERS
}

static void test_a_copy_is_the_same(void **state)
{
	struct vm_config a = base(), copy;

	(void)state;
	assert_true(vm_config_copy(&copy, &a));
	assert_true(vm_config_same(&a, &copy));
	assert_ptr_not_equal(copy.socket_path, a.socket_path);
	vm_config_clear(&copy);
	assert_null(copy.socket_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_key_counts),
		cmocka_unit_test(test_a_copy_is_the_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
