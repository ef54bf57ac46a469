/* Calls from the control plane (the API's thread) into a device thread:
 * the caller queues a function and waits; the device thread runs it
 * between two event batches, so the function sees the device's state as
 * the device does, with no lock on that state.  The queue's mutex is taken
 * by the device thread only when the call eventfd fires, never per packet;
 * requests live on their callers' stacks, so the queue never allocates. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device_priv.h"
#include "log.h"

/* Runs what is queued.  A call made meanwhile finds the eventfd set again. */
static void call_event(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, calls.ev);
	struct device_calls *q = &dev->calls;
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("reading the call eventfd: %s", strerror(errno));
	pthread_mutex_lock(&q->lock);
	for (struct device_call *call; (call = TAILQ_FIRST(&q->queue));) {
		TAILQ_REMOVE(&q->queue, call, link);
		pthread_mutex_unlock(&q->lock);
		call->fn(dev, call->arg);
		pthread_mutex_lock(&q->lock);
		call->result = 0;
		call->done = true;
		pthread_cond_broadcast(&q->done);
	}
	pthread_mutex_unlock(&q->lock);
}

static const struct ev_ops call_ops = {.handle = call_event};

int device_calls_open(struct vsock_device *dev)
{
	struct device_calls *q = &dev->calls;

	TAILQ_INIT(&q->queue);
	q->ev = (struct ev_source){.ops = &call_ops,
				   .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	if (q->ev.fd < 0 || pthread_mutex_init(&q->lock, NULL) != 0 ||
	    pthread_cond_init(&q->done, NULL) != 0) {
		log_err("cid %llu: cannot set up control calls: %s",
			(unsigned long long)dev->guest_cid, strerror(errno));
		return -1;
	}
	q->ready = true;
	return ev_set(&dev->loop, &q->ev, EPOLLIN) < 0 ? -1 : 0;
}

void device_calls_close(struct vsock_device *dev)
{
	struct device_calls *q = &dev->calls;

	if (q->ready) {
		device_calls_refuse(dev);
		pthread_cond_destroy(&q->done);
		pthread_mutex_destroy(&q->lock);
		q->ready = false;
	}
	ev_close(&q->ev);
}

void device_calls_refuse(struct vsock_device *dev)
{
	struct device_calls *q = &dev->calls;

	pthread_mutex_lock(&q->lock);
	q->closed = true;
	for (struct device_call *call; (call = TAILQ_FIRST(&q->queue));) {
		TAILQ_REMOVE(&q->queue, call, link);
		call->result = -ESHUTDOWN;
		call->done = true;
	}
	pthread_cond_broadcast(&q->done);
	pthread_mutex_unlock(&q->lock);
}

int device_call(struct vsock_device *dev, void (*fn)(struct vsock_device *, void *), void *arg)
{
	struct device_calls *q = &dev->calls;
	struct device_call call = {.fn = fn, .arg = arg};
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return -ESHUTDOWN;
	}
	TAILQ_INSERT_TAIL(&q->queue, &call, link);
	pthread_mutex_unlock(&q->lock);
	if (write(q->ev.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cid %llu: waking the device thread: %s",
			 (unsigned long long)dev->guest_cid, strerror(errno));
	pthread_mutex_lock(&q->lock);
	while (!call.done)
		pthread_cond_wait(&q->done, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return call.result;
}
