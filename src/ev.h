/* A device's epoll loop and the objects on it.  Every object that owns an fd
 * in the loop embeds a struct ev_source and registers it as epoll data.ptr,
 * so dispatch is one indirect call and no fd -> object lookup is needed.
 *
 * Lifetime rule: one epoll_wait batch may still hold events for an object
 * that an earlier handler of the same batch closed (a timer expiring a
 * client, a reset dropping a connection).  So nothing on a loop is freed
 * directly: ev_retire() takes it off the loop at once and its release
 * callback runs only after the batch (ev_loop_reap()).  Dispatch skips
 * sources whose interest was dropped, so a retired object is never called.
 *
 * A listener that cannot accept for lack of descriptors or memory stays
 * readable; rather than spin on it, its owner pauses it (ev_pause()) and
 * the loop watches it again a little later. */
#ifndef VSOCK_EV_H
#define VSOCK_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/queue.h>

/* The object that embeds member ptr. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ev_source;

struct ev_ops {
	void (*handle)(struct ev_source *src, uint32_t events);
	/* Frees the object after ev_retire(); NULL for objects that live as
	 * long as their loop and are never retired. */
	void (*release)(struct ev_source *src);
};

struct ev_source {
	const struct ev_ops *ops;
	int fd;                          /* -1 when none */
	uint32_t events;                 /* interest registered; 0 = none */
	bool paused;                     /* on the loop's paused list */
	SLIST_ENTRY(ev_source) link;     /* on the loop's retired or paused list */
};

/* How long ev_pause() stops watching a source. */
#define EV_PAUSE_MS 100

struct ev_loop {
	int epfd;
	SLIST_HEAD(, ev_source) retired; /* released by ev_loop_reap() */
	SLIST_HEAD(, ev_source) paused;  /* watched again when resume fires */
	struct ev_source resume;         /* timerfd */
};

/* Creates the epoll set and its resume timer.  Returns 0 or -errno; on
 * failure ev_loop_fini() cleans up. */
int ev_loop_init(struct ev_loop *loop);
/* Releases what is retired and closes the epoll set. */
void ev_loop_fini(struct ev_loop *loop);

/* Adds, modifies or removes (events == 0) src's interest as needed, keeping
 * src->events authoritative; a no-op when it does not change.  Returns 0 or
 * -errno. */
int ev_set(struct ev_loop *loop, struct ev_source *src, uint32_t events);
/* Closes src's fd, the only descriptor of its file, which also takes it
 * out of the epoll set.  No-op when it has none. */
void ev_close(struct ev_source *src);
/* Takes src off the loop (it must hold no fd still registered, or it is
 * unregistered here; a paused source is unpaused); ops->release(src) runs
 * at the next ev_loop_reap(). */
void ev_retire(struct ev_loop *loop, struct ev_source *src);

/* Stops watching src, a listener, for EV_PAUSE_MS; then it is watched for
 * EPOLLIN again.  A no-op when it is paused already. */
void ev_pause(struct ev_loop *loop, struct ev_source *src);

/* Runs the handler of each event of one epoll_wait batch whose source
 * still asks for it.  The caller reaps once it is done with the batch. */
void ev_dispatch(const struct epoll_event *events, int n);
/* Releases every source retired so far. */
void ev_loop_reap(struct ev_loop *loop);

#endif
