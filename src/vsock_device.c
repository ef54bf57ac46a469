/* One vsock device: its thread and epoll loop, its vhost-user front-end
 * (one at a time; the next waits in the listen backlog) and the hooks
 * through which the vhost-user layer starts and stops its queues. */
#include "vsock_device.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "backend_uds.h"
#include "backend_vsock.h"
#include "device_priv.h"
#include "epoll_poll.h"
#include "log.h"
#include "process.h"
#include "sock_accept.h"

#define EVENTS_PER_WAIT 64
#define FRONTEND_BACKLOG 8

static void watch_kick(struct vsock_device *dev, unsigned idx, int fd)
{
	struct kick_source *k = &dev->kick[idx];
	int rc;

	ev_set(&dev->loop, &k->ev, 0);
	k->ev.fd = fd;
	if (fd < 0)
		return;
	/* Edge-triggered: every kick (eventfd write) is an edge, so the
	 * counter need never be read back; it cannot realistically reach the
	 * 2^64 - 1 at which a write would fail. */
	rc = ev_set(&dev->loop, &k->ev, EPOLLIN | EPOLLET);
	if (rc < 0)
		log_warn("cannot watch the %s kick fd: %s", dev->vu.vq[idx].name, strerror(-rc));
}

static void hook_queue_started(void *opaque, unsigned idx)
{
	struct vsock_device *dev = opaque;

	watch_kick(dev, idx, dev->vu.vq[idx].kick_fd);
	if (idx == VU_QUEUE_TX)
		device_tx_kicked(dev);
}

static void hook_queue_stopped(void *opaque, unsigned idx)
{
	struct vsock_device *dev = opaque;

	/* Chains kept for full sibling mailboxes stay kept: they are still
	 * the guest's packets if the same driver resumes the queue.  One that
	 * waited for room went back to the avail ring (unpopped). */
	watch_kick(dev, idx, -1);
}

static void hook_driver_reset(void *opaque)
{
	struct vsock_device *dev = opaque;

	log_info("guest driver restarted: dropping its connections");
	device_conn_drop_known_to_guest(dev);
	device_park_forget(dev);
	device_tx_guest_forgotten(dev);
}

static const struct vu_hooks device_hooks = {
	.queue_started = hook_queue_started,
	.queue_stopped = hook_queue_stopped,
	.driver_reset = hook_driver_reset,
};

static void kick_event(struct ev_source *src, uint32_t events);
static const struct ev_ops kick_ops = {.handle = kick_event};

static void kick_event(struct ev_source *src, uint32_t events)
{
	struct kick_source *k = container_of(src, struct kick_source, ev);
	struct vsock_device *dev = k->dev;

	(void)events;
	if (k->idx == VU_QUEUE_TX)
		device_tx_kicked(dev);
	else if (k->idx == VU_QUEUE_EVENT)
		log_info_rl("event queue kicked; it is not used by this device");
	/* RX: device_pump() runs after every event batch anyway. */
}

static void frontend_detach(struct vsock_device *dev)
{
	int rc;

	ev_set(&dev->loop, &dev->frontend_ev, 0);
	vu_dev_detach(&dev->vu);
	dev->frontend_ev.fd = -1;
	stats_gauge_set(&dev->stats, STAT_VMM_CONNECTED, 0);
	device_conn_drop_all(dev);
	device_park_forget(dev);
	device_tx_frontend_gone(dev);
	rc = ev_set(&dev->loop, &dev->listen_ev, EPOLLIN);
	if (rc < 0) {
		log_err("%s: cannot watch for the next front-end: %s", dev->vu_listener.path,
			strerror(-rc));
		process_fail();
	}
}

static void frontend_event(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, frontend_ev);

	(void)events;
	if (vu_dev_handle_input(&dev->vu) < 0)
		frontend_detach(dev);
}

static void listen_event(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, listen_ev);
	int fd, rc;

	(void)events;
	fd = sock_accept(&dev->loop, &dev->listen_ev, NULL, NULL, dev->vu_listener.path);
	if (fd < 0)
		return;
	vu_dev_attach(&dev->vu, fd);
	dev->frontend_ev.fd = fd;
	stats_gauge_set(&dev->stats, STAT_VMM_CONNECTED, 1);
	rc = ev_set(&dev->loop, &dev->frontend_ev, EPOLLIN);
	if (rc < 0) {
		log_warn("cannot watch the front-end: %s", strerror(-rc));
		frontend_detach(dev);
		return;
	}
	/* One front-end at a time: the next one waits in the backlog. */
	ev_set(&dev->loop, &dev->listen_ev, 0);
}

static void stop_event(struct ev_source *src, uint32_t events)
{
	struct vsock_device *dev = container_of(src, struct vsock_device, stop_ev);

	(void)events;
	dev->stopping = true;
}

static const struct ev_ops frontend_ops = {.handle = frontend_event};
static const struct ev_ops listen_ops = {.handle = listen_event};
static const struct ev_ops stop_ops = {.handle = stop_event};

static void *device_thread(void *arg)
{
	struct vsock_device *dev = arg;
	struct epoll_event events[EVENTS_PER_WAIT];
	struct epoll_poller poller;
	char name[16];

	/* Itself (prctl), since a thread started at run time by the API
	 * could not name it from outside (/proc) once the sandbox is on. */
	snprintf(name, sizeof(name), "vsock-cid-%llu", (unsigned long long)dev->guest_cid);
	pthread_setname_np(pthread_self(), name);
	epoll_poller_init(&poller, (uint64_t)dev->poll_us * 1000);
	log_set_thread_cid(dev->guest_cid);
	guest_mem_serve(&dev->vu.mem);
	/* The settings as the device uses them, defaults resolved. */
	log_info("serving %s: queue-size %u, tx-buffer-size %u, tx-buffer-total %llu, "
		 "max-connections %u, max-pending %u, request timeout %u ms, poll-us %u",
		 dev->vu_listener.path, dev->vu.cfg.max_queue_size, dev->tx_pool.window,
		 (unsigned long long)dev->tx_pool.budget, dev->budget.max_connections,
		 dev->budget.max_pending, dev->waiting.timeout_ms, dev->poll_us);
	while (!dev->stopping) {
		int n = epoll_poller_wait(&poller, dev->loop.epfd, events, EVENTS_PER_WAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			process_fail();
			break;
		}
		ev_dispatch(events, n);
		device_pump(dev);
		if (dev->vu.mem.faulted) {
			log_warn("guest memory became inaccessible (did the front-end shrink "
				 "the file behind it?): disconnecting the front-end");
			frontend_detach(dev);
		}
		ev_loop_reap(&dev->loop);
	}
	device_calls_refuse(dev);
	return NULL;
}

static int device_open(struct vsock_device *dev, const struct vm_config *cfg,
		       const struct unix_perm *perm)
{
	int rc = ev_loop_init(&dev->loop);

	dev->stop_ev = (struct ev_source){.ops = &stop_ops,
					  .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	if (rc < 0 || dev->stop_ev.fd < 0) {
		log_err("cid %u: epoll/eventfd: %s", cfg->guest_cid, strerror(errno));
		return -1;
	}
	if (conn_table_init(&dev->conns) < 0)
		return -1;
	rc = ev_set(&dev->loop, &dev->stop_ev, EPOLLIN);
	if (rc < 0 || device_deadline_open(dev) < 0 || device_park_open(dev) < 0 ||
	    device_calls_open(dev) < 0)
		return -1;
	if (cfg->backend == BACKEND_VSOCK)
		dev->backend = backend_vsock_create(dev, &dev->loop, cfg->forward_cid,
						    cfg->forward_listen, cfg->n_forward_listen);
	else
		dev->backend = backend_uds_create(dev, &dev->loop, cfg, perm);
	return dev->backend ? 0 : -1;
}

/* Created last: once the socket file exists the device is complete, so a VMM
 * (or a supervisor) that connects as soon as it appears finds it ready. */
static int frontend_listener_open(struct vsock_device *dev, const struct vm_config *cfg,
				  const struct unix_perm *perm)
{
	if (unix_listener_serve(&dev->vu_listener, cfg->socket_path, cfg->socket_fd,
				FRONTEND_BACKLOG, perm) < 0)
		return -1;
	dev->listen_ev = (struct ev_source){.ops = &listen_ops, .fd = dev->vu_listener.fd};
	return ev_set(&dev->loop, &dev->listen_ev, EPOLLIN) < 0 ? -1 : 0;
}

struct vsock_device *vsock_device_create(const struct vm_config *cfg,
					 struct router *router, uint32_t poll_us)
{
	const struct vu_dev_config vu_cfg = {
		.guest_cid = cfg->guest_cid,
		.max_queue_size = (uint16_t)cfg->queue_size,
		.device_features = 1ull << VIRTIO_VSOCK_F_SEQPACKET,
	};
	const struct unix_perm perm = {
		.mode = cfg->socket_mode, .gid = cfg->socket_gid, .set_gid = cfg->socket_gid_set};
	struct vsock_device *dev = calloc(1, sizeof(*dev));

	if (!dev) {
		log_err("cid %u: out of memory", cfg->guest_cid);
		return NULL;
	}
	dev->guest_cid = cfg->guest_cid;
	dev->poll_us = poll_us;
	dev->budget = (struct device_budget){cfg->max_connections, cfg->max_pending};
	tx_pool_init(&dev->tx_pool, cfg->tx_buffer_total, cfg->tx_buffer_size, &dev->stats);
	dev->router = router;
	dev->loop.epfd = -1;
	dev->stop_ev.fd = -1;
	dev->calls.ev.fd = -1;
	dev->vu_listener.fd = -1;
	dev->frontend_ev = (struct ev_source){.ops = &frontend_ops, .fd = -1};
	dev->mail_ev.fd = -1;
	dev->waiting.timer.ev.fd = -1;
	dev->park.timer.ev.fd = -1;
	TAILQ_INIT(&dev->rx_fifo);
	TAILQ_INIT(&dev->rx_waiters);
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
		dev->kick[i] = (struct kick_source){
			.ev = {.ops = &kick_ops, .fd = -1}, .dev = dev, .idx = i};
	port_alloc_init(&dev->ports);
	ctrl_queue_init(&dev->ctrl);
	vu_dev_init(&dev->vu, &vu_cfg, &device_hooks, dev);
	if (device_open(dev, cfg, &perm) < 0 || device_sibling_open(dev, cfg) < 0 ||
	    frontend_listener_open(dev, cfg, &perm) < 0) {
		vsock_device_destroy(dev);
		return NULL;
	}
	return dev;
}

void device_count(struct vsock_device *dev, enum stat_counter what)
{
	stats_count(&dev->stats, what, 1);
}

const struct device_stats *vsock_device_stats(const struct vsock_device *dev)
{
	return &dev->stats;
}

unsigned vsock_device_mailbox_depth(const struct vsock_device *dev)
{
	return router_port_depth(dev->port);
}

static void close_connections(struct vsock_device *dev, void *arg)
{
	(void)arg;
	device_conn_reset_all(dev);
	device_pump(dev); /* the RSTs, as far as the guest's RX buffers go */
}

void vsock_device_close_connections(struct vsock_device *dev)
{
	device_call(dev, close_connections, NULL);
}

int vsock_device_start(struct vsock_device *dev)
{
	int rc = pthread_create(&dev->thread, NULL, device_thread, dev);

	if (rc != 0) {
		log_err("cid %llu: cannot start the device thread: %s",
			(unsigned long long)dev->guest_cid, strerror(rc));
		return -rc;
	}
	dev->thread_started = true;
	return 0;
}

void vsock_device_request_stop(struct vsock_device *dev)
{
	uint64_t one = 1;

	if (dev->stop_ev.fd >= 0 && write(dev->stop_ev.fd, &one, sizeof(one)) < 0)
		log_warn("cannot signal the device thread: %s", strerror(errno));
}

void vsock_device_destroy(struct vsock_device *dev)
{
	if (!dev)
		return;
	if (dev->thread_started)
		pthread_join(dev->thread, NULL);
	device_sibling_close(dev);
	if (dev->vu.fd >= 0)
		frontend_detach(dev);
	if (dev->conns.buckets) {
		device_conn_drop_all(dev);
		conn_table_destroy(&dev->conns);
	}
	if (dev->backend)
		dev->backend->ops->destroy(dev->backend);
	device_park_close(dev);
	device_deadline_close(dev);
	device_calls_close(dev);
	unix_listener_close(&dev->vu_listener);
	ev_close(&dev->stop_ev);
	ev_loop_fini(&dev->loop);
	free(dev);
}
