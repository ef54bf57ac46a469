/* The event loop's lifetime rule: a source retired by an earlier handler
 * of the same batch is never dispatched, and is released only at the
 * reap; paused sources come back once, and retiring one unpauses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include "ev.h"

struct probe {
	struct ev_source ev;
	struct ev_loop *loop;
	struct probe *retires; /* retired by this one's handler */
	struct probe *narrows; /* its interest cut to EPOLLIN by this one's handler */
	unsigned handled, released;
	uint32_t last_events;
};

static void probe_handle(struct ev_source *src, uint32_t events)
{
	struct probe *p = container_of(src, struct probe, ev);

	p->handled++;
	p->last_events = events;
	if (p->narrows)
		assert_int_equal(ev_set(p->loop, &p->narrows->ev, EPOLLIN), 0);
	if (p->retires) {
		ev_close(&p->retires->ev);
		ev_retire(p->loop, &p->retires->ev);
	}
}

static void probe_release(struct ev_source *src)
{
	container_of(src, struct probe, ev)->released++;
}

static const struct ev_ops probe_ops = {.handle = probe_handle, .release = probe_release};

static void probe_init(struct probe *p, struct ev_loop *loop)
{
	*p = (struct probe){
		.ev = {.ops = &probe_ops, .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)},
		.loop = loop,
	};
	assert_true(p->ev.fd >= 0);
	assert_int_equal(ev_set(loop, &p->ev, EPOLLIN), 0);
}

static void test_retired_in_the_batch_is_skipped_and_released_at_reap(void **state)
{
	struct ev_loop loop;
	struct probe a, b;
	/* The batch as epoll_wait might return it: a's event, then b's. */
	struct epoll_event batch[2] = {
		{.events = EPOLLIN, .data.ptr = &a.ev},
		{.events = EPOLLIN, .data.ptr = &b.ev},
	};

	(void)state;
	assert_int_equal(ev_loop_init(&loop), 0);
	probe_init(&a, &loop);
	probe_init(&b, &loop);
	a.retires = &b;
	ev_dispatch(batch, 2);
	assert_int_equal(a.handled, 1);
	assert_int_equal(b.handled, 0);
	assert_int_equal(b.released, 0); /* still valid memory for the batch */
	ev_loop_reap(&loop);
	assert_int_equal(b.released, 1);
	ev_loop_reap(&loop);
	assert_int_equal(b.released, 1);
	ev_close(&a.ev);
	ev_loop_fini(&loop);
}

/* A handler that retires its own source is not called again for a second
 * event of the same source in the batch. */
static void test_self_retire(void **state)
{
	struct ev_loop loop;
	struct probe a;
	struct epoll_event batch[2] = {
		{.events = EPOLLIN, .data.ptr = &a.ev},
		{.events = EPOLLIN | EPOLLHUP, .data.ptr = &a.ev},
	};

	(void)state;
	assert_int_equal(ev_loop_init(&loop), 0);
	probe_init(&a, &loop);
	a.retires = &a;
	ev_dispatch(batch, 2);
	assert_int_equal(a.handled, 1);
	ev_loop_fini(&loop);
	assert_int_equal(a.released, 1);
}

/* A handler that narrows another source's interest: that source, later in
 * the batch, gets only the events still asked for (and errors, always), and
 * is not called for events it no longer wants. */
static void test_narrowed_interest_in_the_batch(void **state)
{
	struct ev_loop loop;
	struct probe a, b, c;
	struct epoll_event batch[3] = {
		{.events = EPOLLIN, .data.ptr = &a.ev},
		{.events = EPOLLIN | EPOLLOUT, .data.ptr = &b.ev},
		{.events = EPOLLOUT | EPOLLERR, .data.ptr = &c.ev},
	};

	(void)state;
	assert_int_equal(ev_loop_init(&loop), 0);
	probe_init(&a, &loop);
	probe_init(&b, &loop);
	probe_init(&c, &loop);
	assert_int_equal(ev_set(&loop, &b.ev, EPOLLIN | EPOLLOUT), 0);
	assert_int_equal(ev_set(&loop, &c.ev, EPOLLIN | EPOLLOUT), 0);
	a.narrows = &b;
	b.narrows = &c;
	ev_dispatch(batch, 3);
	assert_int_equal(b.handled, 1);
	assert_int_equal(b.last_events, EPOLLIN);
	assert_int_equal(c.handled, 1);
	assert_int_equal(c.last_events, EPOLLERR);
	/* Nothing asked for at all: not called. */
	a.narrows = NULL;
	batch[1].events = EPOLLOUT;
	ev_dispatch(&batch[1], 1);
	assert_int_equal(b.handled, 1);
	ev_close(&a.ev);
	ev_close(&b.ev);
	ev_close(&c.ev);
	ev_loop_fini(&loop);
}

static void test_pause_and_resume(void **state)
{
	struct ev_loop loop;
	struct probe a, b;
	struct epoll_event ev;

	(void)state;
	assert_int_equal(ev_loop_init(&loop), 0);
	probe_init(&a, &loop);
	probe_init(&b, &loop);
	ev_pause(&loop, &a.ev);
	ev_pause(&loop, &a.ev); /* twice: still one entry */
	ev_pause(&loop, &b.ev);
	assert_true(a.ev.paused && b.ev.paused);
	assert_int_equal(a.ev.events, 0);
	/* Retiring a paused source takes it off the paused list. */
	ev_close(&b.ev);
	ev_retire(&loop, &b.ev);
	assert_false(b.ev.paused);
	assert_int_equal(epoll_wait(loop.epfd, &ev, 1, 10 * EV_PAUSE_MS), 1);
	assert_ptr_equal(ev.data.ptr, &loop.resume);
	loop.resume.ops->handle(&loop.resume, EPOLLIN);
	assert_false(a.ev.paused);
	assert_int_equal(a.ev.events, EPOLLIN);
	ev_close(&a.ev);
	ev_loop_fini(&loop);
	assert_int_equal(b.released, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retired_in_the_batch_is_skipped_and_released_at_reap),
		cmocka_unit_test(test_self_retire),
		cmocka_unit_test(test_narrowed_interest_in_the_batch),
		cmocka_unit_test(test_pause_and_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
