/* One timerfd for a FIFO of deadlines that all have the same timeout, so
 * the oldest entry always has the earliest deadline.  The timer is armed
 * when an entry arrives and finds it idle, and re-armed only when it fires
 * and entries still wait: removing entries costs nothing, and once the FIFO
 * is empty the timer fires at most once more, then stays idle.
 *
 * struct deadline_fifo is such a FIFO with its timer, entries embedded in
 * their owners (backend_uds.c's handshakes, the connections awaiting the
 * guest's answer); the park (device_park.c) keeps its own FIFO in an array
 * and uses the timer alone. */
#ifndef VSOCK_FIFO_TIMER_H
#define VSOCK_FIFO_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

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

/* An entry of a deadline_fifo, embedded in the object that has the
 * deadline. */
struct deadline {
	TAILQ_ENTRY(deadline) link;
	int64_t at_ms;       /* CLOCK_MONOTONIC */
	bool queued;
};

struct deadline_fifo {
	struct fifo_timer timer;
	TAILQ_HEAD(, deadline) entries; /* oldest, so earliest, first */
	unsigned count;
	unsigned timeout_ms;
	/* Called from the timer for each entry whose deadline has passed,
	 * oldest first, once it is out of the FIFO. */
	void (*expire)(struct deadline *d);
};

/* An empty FIFO whose entries expire timeout_ms after they join it, and
 * its timer (fifo_timer_open()).  Returns 0 or -errno (logged). */
int deadline_fifo_open(struct deadline_fifo *f, struct ev_loop *loop, unsigned timeout_ms,
		       void (*expire)(struct deadline *d), const char *name);
void deadline_fifo_close(struct deadline_fifo *f);
/* d's timeout starts now. */
void deadline_fifo_add(struct deadline_fifo *f, struct deadline *d);
/* d has no deadline any more; a no-op when it is not queued. */
void deadline_fifo_remove(struct deadline_fifo *f, struct deadline *d);

#endif
