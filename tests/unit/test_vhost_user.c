/* Drives a vu_dev over a socketpair, playing the front-end (QEMU) with real
 * wire messages, eventfds and a memfd as guest RAM at a non-zero
 * guest-physical base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "vhost_user.h"
#include "vhost_user_io.h"
#include "vhost_user_msg.h"

#define BIT(n) (1ull << (n))
#define MEM_SIZE 0x10000ull
#define MEM_GPA 0x40000000ull
#define MEM_UVA 0x700000000000ull
#define GUEST_CID 0x1122334455667788ull
#define MAX_QUEUE 1024
#define TIMEOUT_MS 2000

/* Ring layout per queue q inside guest memory. */
#define RING_OFF(q) (0x4000ull * (q))
#define DESC_OFF(q) (RING_OFF(q) + 0x0)
#define AVAIL_OFF(q) (RING_OFF(q) + 0x1000)
#define USED_OFF(q) (RING_OFF(q) + 0x2000)
#define QSIZE 8

static const uint64_t all_features =
	BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
	BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
	BIT(VU_F_PROTOCOL_FEATURES) | BIT(1) /* device feature (SEQPACKET) */;
static const uint64_t all_protocol_features =
	BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
	BIT(VU_PF_RESET_DEVICE);

struct fixture {
	int sock;           /* our (front-end) end */
	struct vu_dev dev;
	int memfd;
	uint8_t *mem;       /* our view of guest RAM */
	char events[256];   /* hook calls, in order */
};

static void record(struct fixture *f, const char *what)
{
	strncat(f->events, what, sizeof(f->events) - strlen(f->events) - 1);
}

static void on_started(void *opaque, unsigned idx)
{
	char s[16];

	snprintf(s, sizeof(s), "start%u ", idx);
	record(opaque, s);
}

static void on_stopped(void *opaque, unsigned idx)
{
	char s[16];

	snprintf(s, sizeof(s), "stop%u ", idx);
	record(opaque, s);
}

static void on_reset(void *opaque)
{
	record(opaque, "reset ");
}

static const struct vu_hooks hooks = {
	.queue_started = on_started,
	.queue_stopped = on_stopped,
	.driver_reset = on_reset,
};

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void connect_dev(struct fixture *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[0];
	vu_dev_attach(&f->dev, sv[1]);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vu_dev_config cfg = {
		.guest_cid = GUEST_CID,
		.max_queue_size = MAX_QUEUE,
		.device_features = BIT(1),
	};

	assert_non_null(f);
	vu_dev_init(&f->dev, &cfg, &hooks, f);
	connect_dev(f);
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vu_dev_detach(&f->dev);
	close(f->sock);
	munmap(f->mem, MEM_SIZE);
	close(f->memfd);
	free(f);
	return 0;
}

/* A protocol violation ends the connection: start a fresh one. */
static void reconnect(struct fixture *f)
{
	vu_dev_detach(&f->dev);
	close(f->sock);
	connect_dev(f);
}

static void send_msg(struct fixture *f, uint32_t req, uint32_t flags,
		     const void *payload, uint32_t size, const int *fds,
		     unsigned nfds)
{
	struct vu_msg_hdr hdr = {.request = req, .flags = VU_VERSION | flags,
				 .size = size};

	assert_int_equal(vu_msg_send(f->sock, &hdr, payload, fds, nfds, TIMEOUT_MS), 0);
}

static int handle(struct fixture *f)
{
	return vu_dev_handle_input(&f->dev);
}

static void ok(struct fixture *f, uint32_t req, const void *payload, uint32_t size)
{
	send_msg(f, req, 0, payload, size, NULL, 0);
	assert_int_equal(handle(f), 0);
}

static void violation(struct fixture *f, uint32_t req, const void *payload,
		      uint32_t size)
{
	send_msg(f, req, 0, payload, size, NULL, 0);
	assert_int_equal(handle(f), -1);
	reconnect(f);
}

static void recv_reply(struct fixture *f, uint32_t req, struct vu_msg *m)
{
	assert_int_equal(vu_msg_recv(f->sock, m, TIMEOUT_MS), VU_RECV_MSG);
	assert_int_equal(m->hdr.request, req);
	assert_int_equal(m->hdr.flags, VU_VERSION | VU_FLAG_REPLY);
	assert_int_equal(m->nfds, 0);
}

static void assert_no_reply(struct fixture *f)
{
	struct vu_msg m;

	assert_int_equal(vu_msg_recv(f->sock, &m, TIMEOUT_MS), VU_RECV_NONE);
}

static uint64_t get_u64(struct fixture *f, uint32_t req)
{
	struct vu_msg m;

	ok(f, req, NULL, 0);
	recv_reply(f, req, &m);
	assert_int_equal(m.hdr.size, 8);
	return m.payload.u64;
}

static void set_u64(struct fixture *f, uint32_t req, uint64_t v)
{
	ok(f, req, &v, sizeof(v));
}

static void negotiate(struct fixture *f, uint64_t features, uint64_t pf)
{
	assert_int_equal(get_u64(f, VU_GET_FEATURES), all_features);
	set_u64(f, VU_SET_FEATURES, features);
	if (features & BIT(VU_F_PROTOCOL_FEATURES)) {
		assert_int_equal(get_u64(f, VU_GET_PROTOCOL_FEATURES),
				 all_protocol_features);
		set_u64(f, VU_SET_PROTOCOL_FEATURES, pf);
	}
}

static void set_mem_table(struct fixture *f)
{
	struct {
		struct vu_mem_table_hdr hdr;
		struct vu_mem_region r;
	} t = {
		.hdr = {.nregions = 1},
		.r = {.gpa = MEM_GPA, .size = MEM_SIZE, .uva = MEM_UVA},
	};

	send_msg(f, VU_SET_MEM_TABLE, 0, &t, sizeof(t), &f->memfd, 1);
	assert_int_equal(handle(f), 0);
}

static void set_state(struct fixture *f, uint32_t req, uint32_t idx, uint32_t num)
{
	struct vu_vring_state s = {.index = idx, .num = num};

	ok(f, req, &s, sizeof(s));
}

static void set_addr(struct fixture *f, uint32_t q)
{
	struct vu_vring_addr a = {
		.index = q,
		.desc_uva = MEM_UVA + DESC_OFF(q),
		.avail_uva = MEM_UVA + AVAIL_OFF(q),
		.used_uva = MEM_UVA + USED_OFF(q),
	};

	ok(f, VU_SET_VRING_ADDR, &a, sizeof(a));
}

static void set_vring_fd(struct fixture *f, uint32_t req, uint32_t q)
{
	uint64_t v = q;
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_true(fd >= 0);
	send_msg(f, req, 0, &v, sizeof(v), &fd, 1);
	close(fd);
	assert_int_equal(handle(f), 0);
}

/* What QEMU does when the driver sets DRIVER_OK, for one queue. */
static void start_queue(struct fixture *f, uint32_t q, uint32_t base, bool enable)
{
	set_state(f, VU_SET_VRING_NUM, q, QSIZE);
	set_state(f, VU_SET_VRING_BASE, q, base);
	set_addr(f, q);
	set_vring_fd(f, VU_SET_VRING_KICK, q);
	set_vring_fd(f, VU_SET_VRING_CALL, q);
	if (enable)
		set_state(f, VU_SET_VRING_ENABLE, q, 1);
}

static uint32_t get_vring_base(struct fixture *f, uint32_t q)
{
	struct vu_vring_state s = {.index = q};
	struct vu_msg m;

	ok(f, VU_GET_VRING_BASE, &s, sizeof(s));
	recv_reply(f, VU_GET_VRING_BASE, &m);
	assert_int_equal(m.hdr.size, sizeof(s));
	memcpy(&s, m.payload.bytes, sizeof(s));
	assert_int_equal(s.index, q);
	return s.num;
}

static void expect_events(struct fixture *f, const char *want)
{
	assert_string_equal(f->events, want);
	f->events[0] = '\0';
}

static void test_feature_negotiation(void **state)
{
	struct fixture *f = *state;

	negotiate(f, all_features, all_protocol_features);
	assert_true(vu_dev_has_feature(&f->dev, VIRTIO_RING_F_EVENT_IDX));
	assert_true(vu_dev_has_feature(&f->dev, 1));
	assert_false(vu_dev_has_feature(&f->dev, 64));
	assert_int_equal(get_u64(f, VU_GET_QUEUE_NUM), VU_NUM_QUEUES);
	ok(f, VU_SET_OWNER, NULL, 0);
	assert_true(f->dev.owned);
	assert_true(f->dev.vq[0].event_idx);
	assert_true(f->dev.vq[1].indirect);
}

static void test_unoffered_features_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t v = all_features | BIT(VIRTIO_F_RING_PACKED);

	violation(f, VU_SET_FEATURES, &v, sizeof(v));
	v = all_protocol_features | BIT(1);
	violation(f, VU_SET_PROTOCOL_FEATURES, &v, sizeof(v));
	/* GET_QUEUE_NUM needs MQ, GET_CONFIG needs CONFIG. */
	violation(f, VU_GET_QUEUE_NUM, NULL, 0);
	set_u64(f, VU_SET_PROTOCOL_FEATURES, BIT(VU_PF_MQ));
	violation(f, VU_GET_CONFIG, &(struct vu_config_hdr){.size = 8},
		  sizeof(struct vu_config_hdr));
}

static void test_get_config_every_range(void **state)
{
	struct fixture *f = *state;
	uint64_t cid_le = htole64(GUEST_CID);

	negotiate(f, all_features, all_protocol_features);
	for (uint32_t off = 0; off <= 9; off++) {
		for (uint32_t size = 0; size <= 9; size++) {
			uint8_t req[sizeof(struct vu_config_hdr) + 9] = {0};
			struct vu_config_hdr h = {.offset = off, .size = size};
			bool valid = size > 0 && off + size <= 8;
			struct vu_msg m;

			memcpy(req, &h, sizeof(h));
			ok(f, VU_GET_CONFIG, req, (uint32_t)(sizeof(h) + size));
			recv_reply(f, VU_GET_CONFIG, &m);
			memcpy(&h, m.payload.bytes, sizeof(h));
			assert_int_equal(h.offset, off);
			assert_int_equal(h.size, valid ? size : 0);
			assert_int_equal(m.hdr.size, sizeof(h) + h.size);
			assert_memory_equal(m.payload.bytes + sizeof(h),
					    (uint8_t *)&cid_le + off, h.size);
		}
	}
	/* SET_CONFIG is accepted and changes nothing. */
	{
		uint8_t req[sizeof(struct vu_config_hdr) + 8];
		struct vu_config_hdr h = {.offset = 0, .size = 8};

		memset(req, 0xab, sizeof(req));
		memcpy(req, &h, sizeof(h));
		ok(f, VU_SET_CONFIG, req, sizeof(req));
		assert_int_equal(f->dev.cfg.guest_cid, GUEST_CID);
	}
}

static void test_wrong_payload_sizes(void **state)
{
	struct fixture *f = *state;
	uint8_t zeros[64] = {0};
	struct vu_config_hdr claim8 = {.size = 8};
	struct vu_mem_table_hdr one_region = {.nregions = 1};

	negotiate(f, all_features, all_protocol_features);
	violation(f, VU_GET_FEATURES, zeros, 8);
	negotiate(f, all_features, all_protocol_features);
	violation(f, VU_SET_FEATURES, zeros, 4);
	violation(f, VU_SET_OWNER, zeros, 1);
	violation(f, VU_SET_VRING_NUM, zeros, 4);
	violation(f, VU_SET_VRING_NUM, zeros, 12);
	violation(f, VU_SET_VRING_ADDR, zeros, 32);
	violation(f, VU_SET_VRING_KICK, zeros, 4);
	violation(f, VU_SET_MEM_TABLE, zeros, 4);
	/* One region announced, none present. */
	violation(f, VU_SET_MEM_TABLE, &one_region, sizeof(one_region));
	/* Config header claims 8 bytes, 4 follow. */
	negotiate(f, all_features, all_protocol_features);
	memcpy(zeros, &claim8, sizeof(claim8));
	violation(f, VU_GET_CONFIG, zeros, sizeof(claim8) + 4);
}

static void test_bad_headers(void **state)
{
	struct fixture *f = *state;

	send_msg(f, VU_GET_FEATURES, 0x2 ^ VU_VERSION, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), -1);
	reconnect(f);
	send_msg(f, VU_GET_FEATURES, VU_FLAG_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), -1);
	reconnect(f);
	violation(f, 99, NULL, 0);              /* unknown request */
	violation(f, VU_SET_LOG_BASE, NULL, 0); /* not offered */
	violation(f, 0xffffffffu, NULL, 0);
	/* Payload larger than any message may carry: refused unread. */
	{
		struct vu_msg_hdr hdr = {.request = VU_SET_FEATURES,
					 .flags = VU_VERSION,
					 .size = VU_MAX_PAYLOAD + 1};

		assert_int_equal(write(f->sock, &hdr, sizeof(hdr)), sizeof(hdr));
		assert_int_equal(handle(f), -1);
	}
}

static void test_reply_ack(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_state bad = {.index = 0, .num = 3};
	struct vu_msg m;

	/* Not negotiated: NEED_REPLY is ignored. */
	negotiate(f, all_features, BIT(VU_PF_CONFIG));
	send_msg(f, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), 0);
	assert_no_reply(f);

	set_u64(f, VU_SET_PROTOCOL_FEATURES, all_protocol_features);
	send_msg(f, VU_SET_OWNER, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), 0);
	recv_reply(f, VU_SET_OWNER, &m);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.payload.u64, 0);
	/* Requests with their own reply get only that reply. */
	send_msg(f, VU_GET_QUEUE_NUM, VU_FLAG_NEED_REPLY, NULL, 0, NULL, 0);
	assert_int_equal(handle(f), 0);
	recv_reply(f, VU_GET_QUEUE_NUM, &m);
	assert_int_equal(m.payload.u64, VU_NUM_QUEUES);
	assert_no_reply(f);

	send_msg(f, VU_SET_VRING_NUM, VU_FLAG_NEED_REPLY, &bad, sizeof(bad), NULL, 0);
	assert_int_equal(handle(f), -1);
	recv_reply(f, VU_SET_VRING_NUM, &m);
	assert_int_equal(m.hdr.size, 8);
	assert_int_not_equal(m.payload.u64, 0);
}

static void test_extra_fds_closed(void **state)
{
	struct fixture *f = *state;
	unsigned before = open_fds();
	int fds[3] = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC),
		      eventfd(0, EFD_CLOEXEC)};
	uint64_t nofd = 1 | VU_VRING_NOFD;

	send_msg(f, VU_SET_OWNER, 0, NULL, 0, fds, 2);
	assert_int_equal(handle(f), 0);
	send_msg(f, VU_SET_VRING_CALL, 0, &nofd, sizeof(nofd), &fds[2], 1);
	assert_int_equal(handle(f), 0);
	assert_int_equal(f->dev.vq[1].call_fd, -1);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	assert_int_equal(open_fds(), before);
}

/* A kick without an fd (a polling front-end) is not supported: the queue
 * stays stopped, where with an eventfd it starts. */
static void test_kick_without_fd_stays_stopped(void **state)
{
	struct fixture *f = *state;
	uint64_t nofd = 0 | VU_VRING_NOFD, with_fd = 0;
	int kick = eventfd(0, EFD_CLOEXEC);

	send_msg(f, VU_SET_VRING_KICK, 0, &nofd, sizeof(nofd), NULL, 0);
	assert_int_equal(handle(f), 0);
	assert_false(f->dev.vq[0].started);
	assert_int_equal(f->dev.vq[0].kick_fd, -1);
	send_msg(f, VU_SET_VRING_KICK, 0, &with_fd, sizeof(with_fd), &kick, 1);
	assert_int_equal(handle(f), 0);
	assert_true(f->dev.vq[0].started);
	close(kick);
}

/* Sends bytes with fds attached, in one sendmsg. */
static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, unsigned n)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

/* A message whose header and payload come in two pieces, with as many fds
 * as a message may carry on the first and one more on the second: it is
 * refused and every fd is closed. */
static void test_too_many_fds_across_pieces(void **state)
{
	struct fixture *f = *state;
	unsigned before = open_fds();
	struct vu_msg_hdr hdr = {.request = VU_SET_VRING_CALL, .flags = VU_VERSION, .size = 8};
	uint64_t index = 0;
	int fds[VU_MAX_FDS + 1];

	for (unsigned i = 0; i <= VU_MAX_FDS; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	send_with_fds(f->sock, &hdr, sizeof(hdr), fds, VU_MAX_FDS);
	send_with_fds(f->sock, &index, sizeof(index), &fds[VU_MAX_FDS], 1);
	for (unsigned i = 0; i <= VU_MAX_FDS; i++)
		close(fds[i]);
	assert_int_equal(handle(f), -1);
	assert_int_equal(f->dev.vq[0].call_fd, -1);
	reconnect(f);
	assert_int_equal(open_fds(), before);
}

static void test_missing_fds(void **state)
{
	struct fixture *f = *state;
	uint64_t kick0 = 0;
	struct {
		struct vu_mem_table_hdr hdr;
		struct vu_mem_region r[2];
	} t = {
		.hdr = {.nregions = 2},
		.r = {{.gpa = MEM_GPA, .size = 0x1000, .uva = MEM_UVA},
		      {.gpa = MEM_GPA + 0x1000, .size = 0x1000, .uva = MEM_UVA + 0x1000,
		       .mmap_offset = 0x1000}},
	};
	unsigned before = open_fds();

	violation(f, VU_SET_VRING_KICK, &kick0, sizeof(kick0));
	send_msg(f, VU_SET_MEM_TABLE, 0, &t, sizeof(t), &f->memfd, 1);
	assert_int_equal(handle(f), -1);
	reconnect(f);
	assert_int_equal(f->dev.mem.count, 0);
	assert_int_equal(open_fds(), before);
}

static void test_vring_fd_must_be_eventfd(void **state)
{
	struct fixture *f = *state;
	unsigned before = open_fds();
	int p[2];
	uint64_t kick0 = 0;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	send_msg(f, VU_SET_VRING_KICK, 0, &kick0, sizeof(kick0), &p[0], 1);
	close(p[0]);
	close(p[1]);
	assert_int_equal(handle(f), -1);
	reconnect(f);
	assert_int_equal(open_fds(), before);
}

static void test_ring_sizes(void **state)
{
	struct fixture *f = *state;
	const uint32_t bad[] = {0, 3, 100, MAX_QUEUE * 2, 32768, 65535, 1u << 31};
	const uint32_t good[] = {1, 2, 256, MAX_QUEUE};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vu_vring_state s = {.index = 1, .num = bad[i]};

		violation(f, VU_SET_VRING_NUM, &s, sizeof(s));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		set_state(f, VU_SET_VRING_NUM, 0, good[i]);
		assert_int_equal(f->dev.vq[0].num, good[i]);
	}
	violation(f, VU_SET_VRING_NUM,
		  &(struct vu_vring_state){.index = VU_NUM_QUEUES, .num = 8},
		  sizeof(struct vu_vring_state));
	violation(f, VU_SET_VRING_BASE,
		  &(struct vu_vring_state){.index = 0, .num = 65536},
		  sizeof(struct vu_vring_state));
}

static void test_ring_addresses(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_addr a = {
		.index = 0,
		.desc_uva = MEM_UVA + DESC_OFF(0),
		.avail_uva = MEM_UVA + AVAIL_OFF(0),
		.used_uva = MEM_UVA + USED_OFF(0),
	};
	struct vu_vring_addr b;

	negotiate(f, all_features, all_protocol_features);
	set_state(f, VU_SET_VRING_NUM, 0, QSIZE);
	/* Before SET_MEM_TABLE nothing can be checked: deferred, not fatal. */
	b = a;
	b.desc_uva = 0x1000;
	ok(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	assert_null(f->dev.vq[0].desc);

	b = a;
	b.desc_uva += 8;
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	b = a;
	b.avail_uva += 1;
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	b = a;
	b.used_uva += 2;
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	b = a;
	b.flags = 2;
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));

	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	set_state(f, VU_SET_VRING_NUM, 0, QSIZE);
	b = a;
	b.used_uva = MEM_UVA + MEM_SIZE - 8; /* ring runs past the region */
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	b = a;
	b.index = VU_NUM_QUEUES;
	violation(f, VU_SET_VRING_ADDR, &b, sizeof(b));

	/* Valid addresses translate, and used->idx is taken from memory. */
	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	set_state(f, VU_SET_VRING_NUM, 0, QSIZE);
	((struct vring_used *)(f->mem + USED_OFF(0)))->idx = htole16(77);
	ok(f, VU_SET_VRING_ADDR, &a, sizeof(a));
	assert_ptr_equal(f->dev.vq[0].desc, f->dev.mem.regions[0].hva + DESC_OFF(0));
	assert_int_equal(f->dev.vq[0].used_idx, 77);
	/* Growing a ring past the end of memory is refused at SET_VRING_NUM. */
	b = a;
	b.used_uva = MEM_UVA + MEM_SIZE - 0x100;
	ok(f, VU_SET_VRING_ADDR, &b, sizeof(b));
	violation(f, VU_SET_VRING_NUM,
		  &(struct vu_vring_state){.index = 0, .num = MAX_QUEUE},
		  sizeof(struct vu_vring_state));
}

static void test_mem_table_before_addr_and_remap(void **state)
{
	struct fixture *f = *state;

	negotiate(f, all_features, all_protocol_features);
	set_state(f, VU_SET_VRING_NUM, 0, QSIZE);
	((struct vring_used *)(f->mem + USED_OFF(0)))->idx = htole16(5);
	set_addr(f, 0);
	assert_null(f->dev.vq[0].desc);
	set_mem_table(f);
	assert_non_null(f->dev.vq[0].desc);
	assert_int_equal(f->dev.vq[0].used_idx, 5);
	assert_int_equal(f->dev.mem.regions[0].gpa, MEM_GPA);
	assert_non_null(guest_mem_gpa_ptr(&f->dev.mem, MEM_GPA + MEM_SIZE - 1, 1));
	assert_null(guest_mem_gpa_ptr(&f->dev.mem, MEM_GPA - 1, 1));
}

static void test_queue_lifecycle(void **state)
{
	struct fixture *f = *state;

	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	start_queue(f, 0, 5, false);
	expect_events(f, "");           /* not enabled yet */
	set_state(f, VU_SET_VRING_ENABLE, 0, 1);
	expect_events(f, "start0 ");
	assert_true(virtq_ready(&f->dev.vq[0]));
	start_queue(f, 1, 0, true);
	expect_events(f, "start1 ");

	/* New kick fd: stop, then start again. */
	set_vring_fd(f, VU_SET_VRING_KICK, 0);
	expect_events(f, "stop0 start0 ");
	/* New call fd: no interruption. */
	set_vring_fd(f, VU_SET_VRING_CALL, 0);
	expect_events(f, "");
	/* Disable and enable. */
	set_state(f, VU_SET_VRING_ENABLE, 1, 0);
	expect_events(f, "stop1 ");
	set_state(f, VU_SET_VRING_ENABLE, 1, 1);
	expect_events(f, "start1 ");
	/* Memory table replaced while live. */
	set_mem_table(f);
	expect_events(f, "stop0 stop1 start0 start1 ");

	/* VM pause: stopped rings come back with the bases we returned. */
	assert_int_equal(get_vring_base(f, 0), 5);
	assert_int_equal(get_vring_base(f, 1), 0);
	expect_events(f, "stop0 stop1 ");
	assert_int_equal(f->dev.vq[0].kick_fd, -1);
	assert_int_equal(f->dev.vq[0].call_fd, -1);
	start_queue(f, 0, 5, true);
	start_queue(f, 1, 0, true);
	expect_events(f, "start0 start1 ");

	/* Guest reboot: bases start over; one reset before the first start. */
	f->dev.vq[1].last_avail_idx = 9; /* as if the device had consumed 9 */
	assert_int_equal(get_vring_base(f, 0), 5);
	assert_int_equal(get_vring_base(f, 1), 9);
	expect_events(f, "stop0 stop1 ");
	start_queue(f, 0, 0, true);
	start_queue(f, 1, 0, true);
	expect_events(f, "reset start0 start1 ");
	assert_int_equal(f->dev.vq[1].last_avail_idx, 0);

	/* A ring the guest corrupted is usable again once re-initialised. */
	f->dev.vq[1].broken = true;
	assert_false(virtq_ready(&f->dev.vq[1]));
	get_vring_base(f, 1);
	start_queue(f, 1, 0, true);
	assert_true(virtq_ready(&f->dev.vq[1]));
	expect_events(f, "stop1 start1 ");
}

static void test_no_protocol_features_rings_start_enabled(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_state en = {.index = 0, .num = 1};

	negotiate(f, all_features & ~BIT(VU_F_PROTOCOL_FEATURES), 0);
	set_mem_table(f);
	start_queue(f, 0, 0, false);
	expect_events(f, "start0 ");
	violation(f, VU_SET_VRING_ENABLE, &en, sizeof(en));
	expect_events(f, "stop0 ");
}

/* SET_VRING_ENABLE takes 0 or 1; any other value drops the front-end. */
static void test_vring_enable_values(void **state)
{
	struct fixture *f = *state;
	struct vu_vring_state two = {.index = 0, .num = 2};

	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	start_queue(f, 0, 0, false);
	violation(f, VU_SET_VRING_ENABLE, &two, sizeof(two));
	expect_events(f, "");
	assert_false(f->dev.vq[0].enabled);
}

static void test_reset_device(void **state)
{
	struct fixture *f = *state;

	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	start_queue(f, 0, 3, true);
	expect_events(f, "start0 ");
	ok(f, VU_RESET_DEVICE, NULL, 0);
	expect_events(f, "stop0 reset ");
	assert_int_equal(f->dev.features, 0);
	assert_int_equal(f->dev.vq[0].kick_fd, -1);
	assert_int_equal(f->dev.vq[0].num, 0);
	assert_int_equal(f->dev.protocol_features, all_protocol_features);
}

static void test_stalled_half_message(void **state)
{
	struct fixture *f = *state;
	struct vu_msg_hdr hdr = {.request = VU_SET_FEATURES, .flags = VU_VERSION,
				 .size = 8};
	struct timespec t0, t1;

	/* Header and half the payload, then silence. */
	assert_int_equal(write(f->sock, &hdr, sizeof(hdr)), sizeof(hdr));
	assert_int_equal(write(f->sock, "abcd", 4), 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(handle(f), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
}

struct late_writer {
	int fd;
	const void *data;
	size_t len;
};

static void *write_late(void *arg)
{
	struct late_writer *w = arg;
	struct timespec delay = {.tv_nsec = 50 * 1000 * 1000};

	nanosleep(&delay, NULL);
	if (write(w->fd, w->data, w->len) != (ssize_t)w->len)
		abort();
	return NULL;
}

static void test_split_message_waits_for_the_rest(void **state)
{
	struct fixture *f = *state;
	struct vu_msg_hdr hdr = {.request = VU_GET_FEATURES, .flags = VU_VERSION};
	struct late_writer w = {.fd = f->sock, .data = (char *)&hdr + 5,
				.len = sizeof(hdr) - 5};
	pthread_t t;
	struct vu_msg m;

	assert_int_equal(write(f->sock, &hdr, 5), 5);
	assert_int_equal(pthread_create(&t, NULL, write_late, &w), 0);
	assert_int_equal(handle(f), 0);
	pthread_join(t, NULL);
	recv_reply(f, VU_GET_FEATURES, &m);
	assert_int_equal(m.payload.u64, all_features);
}

static void test_eof_and_detach_release_everything(void **state)
{
	struct fixture *f = *state;
	unsigned before = open_fds();

	negotiate(f, all_features, all_protocol_features);
	set_mem_table(f);
	start_queue(f, 0, 0, true);
	start_queue(f, 1, 0, true);
	expect_events(f, "start0 start1 ");
	assert_true(open_fds() > before);
	close(f->sock);
	assert_int_equal(handle(f), -1);
	vu_dev_detach(&f->dev);
	expect_events(f, "stop0 stop1 ");
	assert_int_equal(f->dev.mem.count, 0);
	assert_int_equal(f->dev.fd, -1);
	assert_int_equal(open_fds(), before - 2); /* both socket ends gone */
	connect_dev(f);                            /* for teardown */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_feature_negotiation),
		T(test_unoffered_features_refused),
		T(test_get_config_every_range),
		T(test_wrong_payload_sizes),
		T(test_bad_headers),
		T(test_reply_ack),
		T(test_extra_fds_closed),
		T(test_kick_without_fd_stays_stopped),
		T(test_missing_fds),
		T(test_vring_fd_must_be_eventfd),
		T(test_ring_sizes),
		T(test_ring_addresses),
		T(test_mem_table_before_addr_and_remap),
		T(test_queue_lifecycle),
		T(test_no_protocol_features_rings_start_enabled),
		T(test_vring_enable_values),
		T(test_too_many_fds_across_pieces),
		T(test_reset_device),
		T(test_stalled_half_message),
		T(test_split_message_waits_for_the_rest),
		T(test_eof_and_detach_release_everything),
#undef T
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
