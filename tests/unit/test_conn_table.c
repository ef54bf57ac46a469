#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "conn_table.h"

#define N 5000

/* conn_table_sweep() callbacks, counting what they see in *ctx. */
static bool leave_all(struct conn *c, void *ctx)
{
	(void)c;
	(*(unsigned *)ctx)++;
	return true;
}

/* Every other connection of those left (ports 1001, 1003, ...). */
static bool leave_port_1_mod_4(struct conn *c, void *ctx)
{
	(*(unsigned *)ctx)++;
	return c->key.local_port % 4 == 1;
}

static void test_insert_find_remove_many(void **state)
{
	struct conn_table t;
	struct conn *conns = calloc(N, sizeof(*conns));

	(void)state;
	assert_non_null(conns);
	assert_int_equal(conn_table_init(&t), 0);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {.local_port = 1000 + i, .peer_port = i % 7};

		conn_init(&conns[i], NULL, &k, -1, VIRTIO_VSOCK_TYPE_STREAM);
		conn_table_insert(&t, &conns[i]);
	}
	assert_int_equal(t.count, N);
	assert_true(t.nbuckets >= N);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {1000 + i, i % 7};

		assert_ptr_equal(conn_table_find(&t, &k), &conns[i]);
	}
	/* every field of the key matters */
	{
		struct conn_key k1 = {1000, 1}, k2 = {999, 0};

		assert_null(conn_table_find(&t, &k1));
		assert_null(conn_table_find(&t, &k2));
	}
	for (unsigned i = 0; i < N; i += 2)
		conn_table_remove(&t, &conns[i]);
	assert_int_equal(t.count, N / 2);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {1000 + i, i % 7};

		assert_ptr_equal(conn_table_find(&t, &k), i % 2 ? &conns[i] : NULL);
	}
	{
		unsigned seen = 0;

		conn_table_sweep(&t, leave_port_1_mod_4, &seen);
		assert_int_equal(seen, N / 2);
		assert_int_equal(t.count, N / 4);
		for (unsigned i = 1; i < N; i += 2) {
			struct conn_key k = {1000 + i, i % 7};

			assert_ptr_equal(conn_table_find(&t, &k), i % 4 == 3 ? &conns[i] : NULL);
		}
		seen = 0;
		conn_table_sweep(&t, leave_all, &seen);
		assert_int_equal(seen, N / 4);
	}
	assert_int_equal(t.count, 0);
	for (unsigned i = 1; i < N; i += 2) {
		struct conn_key k = {1000 + i, i % 7};

		assert_null(conn_table_find(&t, &k));
	}
	conn_table_destroy(&t);
	free(conns);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Emptying the table is one pass, whatever its size: a drain that looked
 * for "any" connection from the first bucket each time took minutes here
 * (n removals times n buckets); this takes milliseconds. */
#define BIG (256u * 1024)
static void test_sweep_is_linear(void **state)
{
	struct conn_table t;
	struct conn *conns = calloc(BIG, sizeof(*conns));
	unsigned taken = 0;
	double start;

	(void)state;
	assert_non_null(conns);
	assert_int_equal(conn_table_init(&t), 0);
	for (unsigned i = 0; i < BIG; i++) {
		struct conn_key k = {.local_port = i, .peer_port = 1};

		conn_init(&conns[i], NULL, &k, -1, VIRTIO_VSOCK_TYPE_STREAM);
		conn_table_insert(&t, &conns[i]);
	}
	start = cpu_seconds();
	conn_table_sweep(&t, leave_all, &taken);
	assert_int_equal(taken, BIG);
	assert_int_equal(t.count, 0);
	assert_true(cpu_seconds() - start < 2.0);
	conn_table_destroy(&t);
	free(conns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_remove_many),
		cmocka_unit_test(test_sweep_is_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
