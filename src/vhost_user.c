/* vhost-user connection: reading messages, validating them against the
 * message table below (size, fds, negotiated features), dispatching,
 * REPLY_ACK, and the device-wide messages.  Per-queue messages live in
 * vhost_user_vring.c. */
#include "vhost_user.h"

#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user_io.h"
#include "vhost_user_priv.h"

#define BIT(n) (1ull << (n))

/* Messages handled per call, so one front-end cannot monopolise the
 * device thread; level-triggered epoll brings us back for the rest. */
#define VU_MSGS_PER_CALL 64

#define VU_CONFIG_SPACE_SIZE 8 /* le64 guest_cid */

static const uint64_t offered_protocol_features =
	BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
	BIT(VU_PF_RESET_DEVICE);

static uint64_t offered_features(const struct vu_dev *dev)
{
	return BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
	       BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	       BIT(VU_F_PROTOCOL_FEATURES) | dev->cfg.device_features;
}

bool vu_dev_has_feature(const struct vu_dev *dev, unsigned bit)
{
	return bit < 64 && (dev->features & BIT(bit));
}

static bool has_protocol_feature(const struct vu_dev *dev, unsigned bit)
{
	return dev->protocol_features & BIT(bit);
}

int vu_msg_take_fd(struct vu_msg *msg, unsigned i)
{
	int fd = msg->fds[i];

	msg->fds[i] = -1;
	return fd;
}

int vu_reply(struct vu_dev *dev, const struct vu_msg *msg, const void *payload,
	     uint32_t size)
{
	struct vu_msg_hdr hdr = {
		.request = msg->hdr.request,
		.flags = VU_VERSION | VU_FLAG_REPLY,
		.size = size,
	};
	int ret = vu_msg_send(dev->fd, &hdr, payload, NULL, 0, VU_IO_TIMEOUT_MS);

	if (ret < 0) {
		log_warn_rl("replying to front-end request %u failed: %s",
			    msg->hdr.request, strerror(-ret));
		return -1;
	}
	return 0;
}

static int reply_u64(struct vu_dev *dev, const struct vu_msg *msg, uint64_t v)
{
	return vu_reply(dev, msg, &v, sizeof(v));
}

/* Forgets every ring and the negotiated virtio features; the new driver
 * instance that follows must not see the old one's connections. */
static void reset_device(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
		vu_queue_reset(dev, i);
	dev->features = 0;
	dev->reset_pending = false;
	if (dev->hooks && dev->hooks->driver_reset)
		dev->hooks->driver_reset(dev->opaque);
}

static int get_features(struct vu_dev *dev, struct vu_msg *msg)
{
	return reply_u64(dev, msg, offered_features(dev));
}

static int set_features(struct vu_dev *dev, struct vu_msg *msg)
{
	uint64_t features = msg->payload.u64;
	uint64_t unknown = features & ~offered_features(dev);

	if (unknown) {
		log_warn_rl("SET_FEATURES: bits 0x%llx were not offered",
			    (unsigned long long)unknown);
		return -1;
	}
	/* Ring behaviour changes: no queue may be mid-flight meanwhile. */
	vu_queues_stop_all(dev);
	dev->features = features;
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++) {
		struct virtq *vq = &dev->vq[i];

		vq->event_idx = vu_dev_has_feature(dev, VIRTIO_RING_F_EVENT_IDX);
		vq->indirect = vu_dev_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC);
		vq->notify_on_empty = vu_dev_has_feature(dev, VIRTIO_F_NOTIFY_ON_EMPTY);
		/* Without PROTOCOL_FEATURES there is no SET_VRING_ENABLE: rings
		 * are enabled from the start (vhost-user spec). */
		if (!vu_dev_has_feature(dev, VU_F_PROTOCOL_FEATURES))
			vq->enabled = true;
	}
	return 0;
}

static int set_owner(struct vu_dev *dev, struct vu_msg *msg)
{
	(void)msg;
	dev->owned = true;
	return 0;
}

static int reset_owner(struct vu_dev *dev, struct vu_msg *msg)
{
	(void)msg;
	reset_device(dev);
	dev->owned = false;
	return 0;
}

static int reset_device_msg(struct vu_dev *dev, struct vu_msg *msg)
{
	(void)msg;
	reset_device(dev);
	return 0;
}

static unsigned mem_table_fd_count(const struct vu_msg *msg)
{
	struct vu_mem_table_hdr hdr;

	memcpy(&hdr, msg->payload.bytes, sizeof(hdr));
	return hdr.nregions;
}

static int set_mem_table(struct vu_dev *dev, struct vu_msg *msg)
{
	struct guest_region_desc descs[GUEST_MEM_MAX_REGIONS];
	int fds[GUEST_MEM_MAX_REGIONS];
	struct vu_mem_table_hdr hdr;
	int ret;

	memcpy(&hdr, msg->payload.bytes, sizeof(hdr));
	if (hdr.nregions == 0 || hdr.nregions > GUEST_MEM_MAX_REGIONS ||
	    msg->hdr.size != sizeof(hdr) + hdr.nregions * sizeof(struct vu_mem_region)) {
		log_warn_rl("SET_MEM_TABLE: %u regions in a %u-byte payload "
			    "(1..%u regions of %zu bytes each expected)",
			    hdr.nregions, msg->hdr.size, GUEST_MEM_MAX_REGIONS,
			    sizeof(struct vu_mem_region));
		return -1;
	}
	for (unsigned i = 0; i < hdr.nregions; i++) {
		struct vu_mem_region r;

		memcpy(&r, msg->payload.bytes + sizeof(hdr) + i * sizeof(r), sizeof(r));
		descs[i] = (struct guest_region_desc){
			.gpa = r.gpa,
			.size = r.size,
			.uva = r.uva,
			.mmap_offset = r.mmap_offset,
		};
		fds[i] = vu_msg_take_fd(msg, i);
	}
	/* The rings point into the old mapping until re-translated. */
	vu_queues_stop_all(dev);
	ret = guest_mem_map(&dev->mem, descs, fds, hdr.nregions);
	if (ret < 0)
		return -1;
	log_info("guest memory mapped: %u regions", hdr.nregions);
	/* A ring the new table does not cover stays stopped (logged); the
	 * front-end may still fix it with SET_VRING_ADDR. */
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
		vu_queue_translate(dev, i);
	return 0;
}

static int get_protocol_features(struct vu_dev *dev, struct vu_msg *msg)
{
	return reply_u64(dev, msg, offered_protocol_features);
}

static int set_protocol_features(struct vu_dev *dev, struct vu_msg *msg)
{
	uint64_t unknown = msg->payload.u64 & ~offered_protocol_features;

	if (unknown) {
		log_warn_rl("SET_PROTOCOL_FEATURES: bits 0x%llx were not offered",
			    (unsigned long long)unknown);
		return -1;
	}
	dev->protocol_features = msg->payload.u64;
	return 0;
}

static int get_queue_num(struct vu_dev *dev, struct vu_msg *msg)
{
	return reply_u64(dev, msg, VU_NUM_QUEUES);
}

/* GET/SET_CONFIG payload: header plus exactly `size` bytes. */
static bool parse_config(const char *what, const struct vu_msg *msg,
			 struct vu_config_hdr *cfg)
{
	memcpy(cfg, msg->payload.bytes, sizeof(*cfg));
	if (cfg->size > VU_CONFIG_MAX_SIZE ||
	    msg->hdr.size != sizeof(*cfg) + cfg->size) {
		log_warn_rl("%s: %u config bytes in a %u-byte payload", what,
			    cfg->size, msg->hdr.size);
		return false;
	}
	return true;
}

static int get_config(struct vu_dev *dev, struct vu_msg *msg)
{
	uint8_t reply[sizeof(struct vu_config_hdr) + VU_CONFIG_MAX_SIZE];
	struct vu_config_hdr cfg;
	uint64_t space = htole64(dev->cfg.guest_cid);

	if (!parse_config("GET_CONFIG", msg, &cfg))
		return -1;
	/* Out of range: the spec's answer is an empty config payload. */
	if (cfg.size == 0 || (uint64_t)cfg.offset + cfg.size > VU_CONFIG_SPACE_SIZE) {
		log_warn_rl("GET_CONFIG: %u bytes at offset %u are outside the "
			    "%u-byte config space", cfg.size, cfg.offset,
			    VU_CONFIG_SPACE_SIZE);
		cfg.size = 0;
	}
	memcpy(reply, &cfg, sizeof(cfg));
	memcpy(reply + sizeof(cfg), (uint8_t *)&space + (cfg.size ? cfg.offset : 0),
	       cfg.size);
	return vu_reply(dev, msg, reply, (uint32_t)(sizeof(cfg) + cfg.size));
}

static int set_config(struct vu_dev *dev, struct vu_msg *msg)
{
	struct vu_config_hdr cfg;

	(void)dev;
	/* guest_cid is read-only for the driver: accepted and ignored. */
	return parse_config("SET_CONFIG", msg, &cfg) ? 0 : -1;
}

#define EXACT(n) .size = (n)
#define AT_LEAST(n) .size = (n), .size_is_min = true

static const struct vu_msg_type msg_types[VU_REQUEST_MAX] = {
	[VU_GET_FEATURES] = {"GET_FEATURES", get_features, EXACT(0),
			     .has_reply = true},
	[VU_SET_FEATURES] = {"SET_FEATURES", set_features, EXACT(8)},
	[VU_SET_OWNER] = {"SET_OWNER", set_owner, EXACT(0)},
	[VU_RESET_OWNER] = {"RESET_OWNER", reset_owner, EXACT(0)},
	[VU_SET_MEM_TABLE] = {"SET_MEM_TABLE", set_mem_table,
			      AT_LEAST(sizeof(struct vu_mem_table_hdr)),
			      .fd_count = mem_table_fd_count},
	[VU_SET_VRING_NUM] = {"SET_VRING_NUM", vu_set_vring_num,
			      EXACT(sizeof(struct vu_vring_state))},
	[VU_SET_VRING_ADDR] = {"SET_VRING_ADDR", vu_set_vring_addr,
			       EXACT(sizeof(struct vu_vring_addr))},
	[VU_SET_VRING_BASE] = {"SET_VRING_BASE", vu_set_vring_base,
			       EXACT(sizeof(struct vu_vring_state))},
	[VU_GET_VRING_BASE] = {"GET_VRING_BASE", vu_get_vring_base,
			       EXACT(sizeof(struct vu_vring_state)),
			       .has_reply = true},
	[VU_SET_VRING_KICK] = {"SET_VRING_KICK", vu_set_vring_kick, EXACT(8),
			       .fd_count = vu_vring_fd_count},
	[VU_SET_VRING_CALL] = {"SET_VRING_CALL", vu_set_vring_call, EXACT(8),
			       .fd_count = vu_vring_fd_count},
	[VU_SET_VRING_ERR] = {"SET_VRING_ERR", vu_set_vring_err, EXACT(8),
			      .fd_count = vu_vring_fd_count},
	[VU_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES",
				      get_protocol_features, EXACT(0),
				      .has_reply = true},
	[VU_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES",
				      set_protocol_features, EXACT(8)},
	[VU_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", get_queue_num, EXACT(0),
			      .needs_protocol_features = BIT(VU_PF_MQ),
			      .has_reply = true},
	[VU_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", vu_set_vring_enable,
				 EXACT(sizeof(struct vu_vring_state)),
				 .needs_features = BIT(VU_F_PROTOCOL_FEATURES)},
	[VU_GET_CONFIG] = {"GET_CONFIG", get_config,
			   AT_LEAST(sizeof(struct vu_config_hdr)),
			   .needs_protocol_features = BIT(VU_PF_CONFIG),
			   .has_reply = true},
	[VU_SET_CONFIG] = {"SET_CONFIG", set_config,
			   AT_LEAST(sizeof(struct vu_config_hdr)),
			   .needs_protocol_features = BIT(VU_PF_CONFIG)},
	[VU_RESET_DEVICE] = {"RESET_DEVICE", reset_device_msg, EXACT(0),
			     .needs_protocol_features = BIT(VU_PF_RESET_DEVICE)},
};

static const struct vu_msg_type *lookup(uint32_t request)
{
	if (request >= VU_REQUEST_MAX || !msg_types[request].handle)
		return NULL;
	return &msg_types[request];
}

/* Closes fds beyond what the message carries; fails if some are missing. */
static bool check_fds(const struct vu_msg_type *t, struct vu_msg *msg)
{
	unsigned want = t->fd_count ? t->fd_count(msg) : 0;

	if (msg->nfds < want) {
		log_warn_rl("%s: needs %u fds, got %u", t->name, want, msg->nfds);
		return false;
	}
	if (msg->nfds > want) {
		log_warn_rl("%s: closing %u unexpected fds", t->name,
			    msg->nfds - want);
		for (unsigned i = want; i < msg->nfds; i++)
			close(msg->fds[i]);
		msg->nfds = want;
	}
	return true;
}

static bool validate(const struct vu_dev *dev, const struct vu_msg_type *t,
		     struct vu_msg *msg)
{
	const struct vu_msg_hdr *h = &msg->hdr;

	if ((h->flags & VU_VERSION_MASK) != VU_VERSION || (h->flags & VU_FLAG_REPLY)) {
		log_warn_rl("request %u: bad flags 0x%x (version 1, no reply bit "
			    "expected)", h->request, h->flags);
		return false;
	}
	if (!t) {
		log_warn_rl("request %u is not supported", h->request);
		return false;
	}
	if (t->needs_protocol_features & ~dev->protocol_features) {
		log_warn_rl("%s: needs protocol features 0x%llx, not negotiated",
			    t->name, (unsigned long long)t->needs_protocol_features);
		return false;
	}
	if (t->needs_features & ~dev->features) {
		log_warn_rl("%s: needs features 0x%llx, not negotiated", t->name,
			    (unsigned long long)t->needs_features);
		return false;
	}
	if (t->size_is_min ? h->size < t->size : h->size != t->size) {
		log_warn_rl("%s: payload of %u bytes (%s%u expected)", t->name,
			    h->size, t->size_is_min ? "at least " : "", t->size);
		return false;
	}
	return check_fds(t, msg);
}

static int dispatch(struct vu_dev *dev, struct vu_msg *msg)
{
	const struct vu_msg_type *t = lookup(msg->hdr.request);
	bool ok = validate(dev, t, msg);

	if (ok) {
		log_debug("front-end: %s (%u bytes, %u fds)", t->name,
			  msg->hdr.size, msg->nfds);
		ok = t->handle(dev, msg) == 0;
	}
	vu_msg_close_fds(msg);
	if (ok)
		vu_queues_refresh(dev);
	/* REPLY_ACK: requests that have no reply of their own get one. */
	if ((msg->hdr.flags & VU_FLAG_NEED_REPLY) &&
	    has_protocol_feature(dev, VU_PF_REPLY_ACK) && !(ok && t->has_reply) &&
	    reply_u64(dev, msg, ok ? 0 : 1) < 0)
		return -1;
	return ok ? 0 : -1;
}

static void forget_session(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
		vu_queue_reset(dev, i);
	guest_mem_unmap(&dev->mem);
	dev->features = 0;
	dev->protocol_features = 0;
	dev->owned = false;
	dev->reset_pending = false;
}

void vu_dev_init(struct vu_dev *dev, const struct vu_dev_config *cfg,
		 const struct vu_hooks *hooks, void *opaque)
{
	static const char *const names[VU_NUM_QUEUES] = {"rx", "tx", "event"};

	memset(dev, 0, sizeof(*dev));
	dev->fd = -1;
	dev->cfg = *cfg;
	dev->hooks = hooks;
	dev->opaque = opaque;
	for (unsigned i = 0; i < VU_NUM_QUEUES; i++) {
		virtq_init(&dev->vq[i], names[i]);
		dev->err_fd[i] = -1;
	}
}

void vu_dev_attach(struct vu_dev *dev, int conn_fd)
{
	if (dev->fd >= 0)
		vu_dev_detach(dev);
	fcntl(conn_fd, F_SETFL, fcntl(conn_fd, F_GETFL) | O_NONBLOCK);
	dev->fd = conn_fd;
	log_info("front-end connected");
}

int vu_dev_handle_input(struct vu_dev *dev)
{
	if (dev->fd < 0)
		return -1;
	for (unsigned n = 0; n < VU_MSGS_PER_CALL; n++) {
		struct vu_msg msg;

		switch (vu_msg_recv(dev->fd, &msg, VU_IO_TIMEOUT_MS)) {
		case VU_RECV_NONE:
			return 0;
		case VU_RECV_ERROR:
			return -1;
		case VU_RECV_MSG:
			break;
		}
		if (dispatch(dev, &msg) < 0)
			return -1;
	}
	return 0;
}

void vu_dev_detach(struct vu_dev *dev)
{
	forget_session(dev);
	if (dev->fd >= 0) {
		close(dev->fd);
		dev->fd = -1;
		log_info("front-end detached");
	}
}
