#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <cmocka.h>

#include "port_alloc.h"

struct busy_set {
	uint32_t ports[8];
	unsigned n;
	unsigned queries;
};

static bool busy(void *ctx, uint32_t port)
{
	struct busy_set *s = ctx;

	s->queries++;
	for (unsigned i = 0; i < s->n; i++)
		if (s->ports[i] == port)
			return true;
	return false;
}

static void test_sequential_from_base(void **state)
{
	struct port_alloc pa;
	struct busy_set none = {0};
	uint32_t p;

	(void)state;
	port_alloc_init(&pa);
	assert_true(port_alloc_next(&pa, busy, &none, 1, &p));
	assert_int_equal(p, PORT_ALLOC_FIRST);
	assert_true(port_alloc_next(&pa, busy, &none, 1, &p));
	assert_int_equal(p, PORT_ALLOC_FIRST + 1);
}

static void test_skips_busy_ports_and_wraps(void **state)
{
	struct port_alloc pa = {.next = PORT_ALLOC_LAST - 1};
	struct busy_set s = {.ports = {PORT_ALLOC_LAST - 1, PORT_ALLOC_LAST, PORT_ALLOC_FIRST}, .n = 3};
	uint32_t p;

	(void)state;
	assert_true(port_alloc_next(&pa, busy, &s, s.n + 1, &p));
	assert_int_equal(p, PORT_ALLOC_FIRST + 1);
	assert_int_equal(pa.next, PORT_ALLOC_FIRST + 2);
}

static void test_gives_up_after_max_tries(void **state)
{
	struct port_alloc pa;
	struct busy_set s = {.ports = {PORT_ALLOC_FIRST, PORT_ALLOC_FIRST + 1}, .n = 2};
	uint32_t p = 0;

	(void)state;
	port_alloc_init(&pa);
	assert_false(port_alloc_next(&pa, busy, &s, 2, &p));
	assert_int_equal(s.queries, 2);
	assert_int_equal(p, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential_from_base),
		cmocka_unit_test(test_skips_busy_ports_and_wraps),
		cmocka_unit_test(test_gives_up_after_max_tries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
