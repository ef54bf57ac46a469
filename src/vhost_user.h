/* The vhost-user back-end protocol (QEMU docs/interop/vhost-user.rst) for one
 * device: reads and validates each message from the front-end, keeps the
 * negotiated features, the guest memory table and the three vrings, and
 * tells the device (through hooks) when a queue starts or stops.
 *
 * Security model: the front-end is one step from a hostile guest.  Every
 * message is checked for size, fd count (extra fds are closed), indices,
 * alignment and address translation.  A violation is logged and makes
 * vu_dev_handle_input() return -1; the caller then detaches the front-end.
 * The process and other devices are never affected. */
#ifndef VSOCK_VHOST_USER_H
#define VSOCK_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtq.h"

#define VU_NUM_QUEUES 3 /* rx = 0, tx = 1, event = 2 */
#define VU_QUEUE_RX 0
#define VU_QUEUE_TX 1
#define VU_QUEUE_EVENT 2

struct vu_hooks {
	/* Queue idx became ready (virtq_ready() is now true): watch its kick fd
	 * and process it. */
	void (*queue_started)(void *opaque, unsigned idx);
	/* Queue idx is about to stop (GET_VRING_BASE, a new kick fd, disable,
	 * memory table change, disconnect): stop watching its kick fd now; the fd
	 * is closed after the hook returns. */
	void (*queue_stopped)(void *opaque, unsigned idx);
	/* A new driver instance started the rings (guest reboot or device reset):
	 * connection state from the previous instance must be dropped. */
	void (*driver_reset)(void *opaque);
};

struct vu_dev_config {
	uint64_t guest_cid;        /* config space: le64 guest_cid */
	uint16_t max_queue_size;   /* largest SET_VRING_NUM accepted */
	uint64_t device_features;  /* device-specific bits offered (e.g. SEQPACKET) */
};

struct vu_dev {
	int fd;                    /* front-end connection, -1 when none */
	struct vu_dev_config cfg;
	const struct vu_hooks *hooks;
	void *opaque;

	uint64_t features;         /* acked with SET_FEATURES */
	uint64_t protocol_features;
	bool owned;
	struct guest_mem mem;
	struct virtq vq[VU_NUM_QUEUES];
	int err_fd[VU_NUM_QUEUES];  /* SET_VRING_ERR, kept only to be closed */
	bool live[VU_NUM_QUEUES];   /* queue_started told, queue_stopped not yet */
	bool used_idx_stale[VU_NUM_QUEUES]; /* re-read used->idx once translated */

	/* Driver reset detection.  QEMU stops rings with GET_VRING_BASE both on
	 * a VM pause and on a virtio reset (guest reboot, driver reload).  On
	 * resume it gives back the index we returned; after a reset it sends
	 * SET_VRING_BASE 0, the new driver's start.  So a queue restarted with
	 * a base different from the one returned at GET_VRING_BASE belongs to a
	 * new driver instance: hooks->driver_reset runs once, before the first
	 * queue_started.  (A reset that happens exactly at a multiple of 65536
	 * consumed buffers is indistinguishable from a resume.) */
	uint16_t stopped_avail_idx[VU_NUM_QUEUES];
	bool was_stopped[VU_NUM_QUEUES];
	bool reset_pending;
};

void vu_dev_init(struct vu_dev *dev, const struct vu_dev_config *cfg,
		 const struct vu_hooks *hooks, void *opaque);
/* Takes ownership of an accepted front-end connection. */
void vu_dev_attach(struct vu_dev *dev, int conn_fd);
/* Handles the messages that can be read now.  Returns 0, or -1 when the
 * front-end disconnected or broke the protocol (already logged). */
int vu_dev_handle_input(struct vu_dev *dev);
/* Stops all queues (hooks run), unmaps memory, closes every fd, forgets all
 * negotiated state: ready for the next front-end. */
void vu_dev_detach(struct vu_dev *dev);

bool vu_dev_has_feature(const struct vu_dev *dev, unsigned bit);

#endif
