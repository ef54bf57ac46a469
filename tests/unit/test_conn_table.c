#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "conn_table.h"

#define N 5000

static void test_insert_find_remove_many(void **state)
{
	struct conn_table t;
	struct conn *conns = calloc(N, sizeof(*conns));

	(void)state;
	assert_non_null(conns);
	assert_int_equal(conn_table_init(&t), 0);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {.local_cid = 2, .local_port = 1000 + i, .peer_port = i % 7};

		conn_init(&conns[i], NULL, &k, -1);
		conn_table_insert(&t, &conns[i]);
	}
	assert_int_equal(t.count, N);
	assert_true(t.nbuckets >= N);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {2, 1000 + i, i % 7};

		assert_ptr_equal(conn_table_find(&t, &k), &conns[i]);
	}
	/* every field of the key matters */
	{
		struct conn_key k1 = {3, 1000, 0}, k2 = {2, 1000, 1}, k3 = {2, 999, 0};

		assert_null(conn_table_find(&t, &k1));
		assert_null(conn_table_find(&t, &k2));
		assert_null(conn_table_find(&t, &k3));
	}
	for (unsigned i = 0; i < N; i += 2)
		conn_table_remove(&t, &conns[i]);
	assert_int_equal(t.count, N / 2);
	for (unsigned i = 0; i < N; i++) {
		struct conn_key k = {2, 1000 + i, i % 7};

		assert_ptr_equal(conn_table_find(&t, &k), i % 2 ? &conns[i] : NULL);
	}
	{
		struct conn *c = conn_table_take_all(&t);
		unsigned taken = 0;

		for (; c; c = c->hash_next, taken++) {
			unsigned i = (unsigned)(c - conns);

			assert_true(i < N && i % 2 == 1);
			assert_null(conn_table_find(&t, &c->key));
		}
		assert_int_equal(taken, N / 2);
	}
	assert_int_equal(t.count, 0);
	assert_null(conn_table_take_all(&t));
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
static void test_take_all_is_linear(void **state)
{
	struct conn_table t;
	struct conn *conns = calloc(BIG, sizeof(*conns));
	unsigned taken = 0;
	double start;

	(void)state;
	assert_non_null(conns);
	assert_int_equal(conn_table_init(&t), 0);
	for (unsigned i = 0; i < BIG; i++) {
		struct conn_key k = {.local_cid = 2, .local_port = i, .peer_port = 1};

		conn_init(&conns[i], NULL, &k, -1);
		conn_table_insert(&t, &conns[i]);
	}
	start = cpu_seconds();
	for (struct conn *c = conn_table_take_all(&t); c; c = c->hash_next)
		taken++;
	assert_int_equal(taken, BIG);
	assert_true(cpu_seconds() - start < 2.0);
	conn_table_destroy(&t);
	free(conns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_remove_many),
		cmocka_unit_test(test_take_all_is_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
