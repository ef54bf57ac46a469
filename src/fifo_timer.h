/* One timerfd for a FIFO of deadlines that all have the same timeout, so
 * the oldest entry always has the earliest deadline.  The timer is armed
 * when an entry arrives and finds it idle, and re-armed only when it fires
 * and entries still wait: removing entries costs nothing, and once the FIFO
 * is empty the timer fires at most once more, then stays idle. */
#ifndef VSOCK_FIFO_TIMER_H
#define VSOCK_FIFO_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"

struct fifo_timer {
	struct ev_source ev; /* ops: the owner's; fd -1 while closed */
	struct ev_loop *loop;
	bool armed;
	const char *name;    /* for log lines */
};

/* Creates the timerfd and registers it in loop with the owner's ops.
 * Returns 0, or -errno (logged, naming the timer); nothing is left open on
 * failure. */
int fifo_timer_open(struct fifo_timer *t, struct ev_loop *loop, const struct ev_ops *ops,
		    const char *name);
void fifo_timer_close(struct fifo_timer *t);

/* A new entry with this deadline (CLOCK_MONOTONIC ms) joined the FIFO: an
 * armed timer fires no later than it already. */
void fifo_timer_entry_added(struct fifo_timer *t, int64_t deadline_ms);
/* In the handler: consumes the expiry.  False if there was none (nothing
 * to do); otherwise the caller expires what is due, then calls
 * fifo_timer_rearm() for the new oldest entry, if any. */
bool fifo_timer_fired(struct fifo_timer *t);
void fifo_timer_rearm(struct fifo_timer *t, int64_t deadline_ms);

#endif
