/* Per-queue vhost-user messages and the queue life cycle: a queue is live
 * (the device processes it) from queue_started until queue_stopped, and is
 * started as soon as it is ready: size, translated addresses, kick fd,
 * enabled, not broken.  Every message that changes a live queue's setup
 * stops it first; the dispatcher restarts whatever is ready afterwards. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user_priv.h"

void vu_queue_stop(struct vu_dev *dev, unsigned idx)
{
	if (!dev->live[idx])
		return;
	dev->live[idx] = false;
	if (dev->hooks && dev->hooks->queue_stopped)
		dev->hooks->queue_stopped(dev->opaque, idx);
}

void vu_queues_stop_all(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
		vu_queue_stop(dev, i);
}

static void announce_driver_reset(struct vu_dev *dev)
{
	dev->reset_pending = false;
	/* Other queues of the same reset must not report it again. */
	memset(dev->was_stopped, 0, sizeof(dev->was_stopped));
	log_info("guest driver was reset: dropping its connections");
	if (dev->hooks && dev->hooks->driver_reset)
		dev->hooks->driver_reset(dev->opaque);
}

void vu_queues_refresh(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++) {
		if (dev->live[i] || !virtq_ready(&dev->vq[i]))
			continue;
		if (dev->reset_pending)
			announce_driver_reset(dev);
		dev->was_stopped[i] = false;
		dev->live[i] = true;
		log_debug("%s queue started (size %u, avail %u, used %u)",
			  dev->vq[i].name, dev->vq[i].num,
			  dev->vq[i].last_avail_idx, dev->vq[i].used_idx);
		if (dev->hooks && dev->hooks->queue_started)
			dev->hooks->queue_started(dev->opaque, i);
	}
}

bool vu_queue_translate(struct vu_dev *dev, unsigned idx)
{
	struct virtq *vq = &dev->vq[idx];

	if (virtq_translate(vq, &dev->mem)) {
		if (dev->used_idx_stale[idx]) {
			virtq_sync_used_idx(vq);
			dev->used_idx_stale[idx] = false;
		}
		return true;
	}
	/* Not yet translatable (no size, addresses or memory): deferred. */
	if (!vq->addr_set || vq->num == 0 || dev->mem.count == 0)
		return true;
	log_warn_rl("%s queue: ring of size %u at desc=0x%llx avail=0x%llx "
		    "used=0x%llx is not inside guest memory", vq->name, vq->num,
		    (unsigned long long)vq->desc_uva,
		    (unsigned long long)vq->avail_uva,
		    (unsigned long long)vq->used_uva);
	return false;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vu_queue_reset(struct vu_dev *dev, unsigned idx)
{
	struct virtq *vq = &dev->vq[idx];

	vu_queue_stop(dev, idx);
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	close_fd(&dev->err_fd[idx]);
	virtq_init(vq, vq->name);
	dev->used_idx_stale[idx] = false;
	dev->was_stopped[idx] = false;
}

static bool check_index(const char *what, uint32_t idx)
{
	if (idx < VU_NUM_QUEUES)
		return true;
	log_warn_rl("%s: queue index %u out of range (%u queues)", what, idx,
		    VU_NUM_QUEUES);
	return false;
}

static uint16_t max_queue_size(const struct vu_dev *dev)
{
	uint16_t max = dev->cfg.max_queue_size;

	return max == 0 || max > VIRTQ_MAX_SIZE ? VIRTQ_MAX_SIZE : max;
}

int vu_set_vring_num(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_vring_state s;
	uint16_t max = max_queue_size(dev);
	const char *why = NULL;

	memcpy(&s, msg->payload.bytes, sizeof(s));
	if (!check_index("SET_VRING_NUM", s.index))
		return -1;
	if (s.num == 0)
		why = "zero";
	else if (s.num > max)
		why = "above the maximum queue size (--queue-size)";
	else if (s.num & (s.num - 1))
		why = "not a power of two";
	if (why) {
		log_warn_rl("SET_VRING_NUM: size %u for %s queue refused: %s "
			    "(any power of two up to %u is accepted)", s.num,
			    dev->vq[s.index].name, why, max);
		return -1;
	}
	vu_queue_stop(dev, s.index);
	dev->vq[s.index].num = (uint16_t)s.num;
	return vu_queue_translate(dev, s.index) ? 0 : -1;
}

int vu_set_vring_addr(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_vring_addr a;
	struct virtq *vq;

	memcpy(&a, msg->payload.bytes, sizeof(a));
	if (!check_index("SET_VRING_ADDR", a.index))
		return -1;
	vq = &dev->vq[a.index];
	if (a.flags & ~VU_VRING_F_LOG) {
		log_warn_rl("SET_VRING_ADDR: unknown flags 0x%x", a.flags);
		return -1;
	}
	if (a.desc_uva % 16 || a.avail_uva % 2 || a.used_uva % 4) {
		log_warn_rl("SET_VRING_ADDR: %s queue misaligned (desc 0x%llx needs "
			    "16, avail 0x%llx needs 2, used 0x%llx needs 4)",
			    vq->name, (unsigned long long)a.desc_uva,
			    (unsigned long long)a.avail_uva,
			    (unsigned long long)a.used_uva);
		return -1;
	}
	vu_queue_stop(dev, a.index);
	vq->desc_uva = a.desc_uva;
	vq->avail_uva = a.avail_uva;
	vq->used_uva = a.used_uva;
	vq->addr_set = true;
	vq->broken = false; /* a re-initialised ring gets a fresh start */
	/* A new driver instance (guest reboot) restarts its used ring: the
	 * guest's used->idx, not ours, is where the next element goes. */
	dev->used_idx_stale[a.index] = true;
	return vu_queue_translate(dev, a.index) ? 0 : -1;
}

int vu_set_vring_base(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_vring_state s;
	struct virtq *vq;

	memcpy(&s, msg->payload.bytes, sizeof(s));
	if (!check_index("SET_VRING_BASE", s.index))
		return -1;
	if (s.num > UINT16_MAX) {
		log_warn_rl("SET_VRING_BASE: index %u does not fit a split ring", s.num);
		return -1;
	}
	vq = &dev->vq[s.index];
	vu_queue_stop(dev, s.index);
	if (dev->was_stopped[s.index] && s.num != dev->stopped_avail_idx[s.index])
		dev->reset_pending = true;
	vq->last_avail_idx = (uint16_t)s.num;
	vq->broken = false;
	vq->signalled_used_valid = false;
	vq->inflight = 0;
	return 0;
}

int vu_get_vring_base(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_vring_state s;
	struct virtq *vq;

	memcpy(&s, msg->payload.bytes, sizeof(s));
	if (!check_index("GET_VRING_BASE", s.index))
		return -1;
	vq = &dev->vq[s.index];
	vu_queue_stop(dev, s.index);
	virtq_notify(vq); /* nothing the device pushed stays unsignalled */
	s.num = vq->last_avail_idx;
	close_fd(&vq->kick_fd);
	close_fd(&vq->call_fd);
	vq->started = false;
	dev->stopped_avail_idx[s.index] = vq->last_avail_idx;
	dev->was_stopped[s.index] = true;
	return vu_reply(dev, msg, &s, sizeof(s));
}

unsigned vu_vring_fd_count(const struct vu_msg *msg)
{
	return (msg->payload.u64 & VU_VRING_NOFD) ? 0 : 1;
}

/* Kick and call fds are polled and written by us: they must be eventfds,
 * or a hostile front-end could hand us, say, a hung-up pipe that keeps
 * epoll spinning.  Without /proc the check cannot be made and is skipped. */
static bool is_eventfd(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return true;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* Decodes a SET_VRING_KICK/CALL/ERR payload and takes its fd (-1 if none). */
static bool take_vring_fd(struct vu_msg *msg, const char *what, bool eventfd,
			  unsigned *idx, int *fd)
{
	uint64_t v = msg->payload.u64;

	if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
		log_warn_rl("%s: unknown bits in 0x%llx", what, (unsigned long long)v);
		return false;
	}
	if (!check_index(what, (uint32_t)(v & VU_VRING_IDX_MASK)))
		return false;
	*idx = (unsigned)(v & VU_VRING_IDX_MASK);
	*fd = (v & VU_VRING_NOFD) ? -1 : vu_msg_take_fd(msg, 0);
	if (*fd >= 0 && eventfd && !is_eventfd(*fd)) {
		log_warn_rl("%s: fd is not an eventfd", what);
		close(*fd);
		return false;
	}
	if (*fd >= 0)
		fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
	return true;
}

int vu_set_vring_kick(struct vu_dev *dev, struct vu_msg *msg)
{
	unsigned idx;
	int fd;
	struct virtq *vq;

	if (!take_vring_fd(msg, "SET_VRING_KICK", true, &idx, &fd))
		return -1;
	vq = &dev->vq[idx];
	vu_queue_stop(dev, idx);
	close_fd(&vq->kick_fd);
	vq->kick_fd = fd;
	vq->started = fd >= 0;
	if (fd < 0)
		log_warn_rl("SET_VRING_KICK: %s queue without a kick fd (polling) "
			    "is not supported; it stays stopped", vq->name);
	return 0;
}

int vu_set_vring_call(struct vu_dev *dev, struct vu_msg *msg)
{
	unsigned idx;
	int fd;

	if (!take_vring_fd(msg, "SET_VRING_CALL", true, &idx, &fd))
		return -1;
	/* Single-threaded with the device: swapping in place is safe. */
	close_fd(&dev->vq[idx].call_fd);
	dev->vq[idx].call_fd = fd;
	return 0;
}

int vu_set_vring_err(struct vu_dev *dev, struct vu_msg *msg)
{
	unsigned idx;
	int fd;

	if (!take_vring_fd(msg, "SET_VRING_ERR", false, &idx, &fd))
		return -1;
	close_fd(&dev->err_fd[idx]);
	dev->err_fd[idx] = fd;
	return 0;
}

int vu_set_vring_enable(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_vring_state s;

	memcpy(&s, msg->payload.bytes, sizeof(s));
	if (!check_index("SET_VRING_ENABLE", s.index))
		return -1;
	if (s.num > 1) {
		log_warn_rl("SET_VRING_ENABLE: value %u is neither 0 nor 1", s.num);
		return -1;
	}
	if (!s.num)
		vu_queue_stop(dev, s.index);
	dev->vq[s.index].enabled = s.num;
	return 0;
}
