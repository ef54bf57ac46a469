/* The vhost-user side of the daemon, driven as a VMM would and as a broken
 * VMM might: negotiation, config space, invalid messages, events before
 * memory, guest reboot and VMM restart, with the daemon's fds counted. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "rig_test.h"

#define BIT(n) (1ULL << (n))

static void test_negotiation(void **state)
{
	struct fixture *f = *state;
	struct rig *rig = f->rig;
	uint64_t want = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
			BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_F_NOTIFY_ON_EMPTY) |
			BIT(VU_F_PROTOCOL_FEATURES);
	uint64_t want_proto = BIT(VU_PROTO_F_MQ) | BIT(VU_PROTO_F_REPLY_ACK) |
			      BIT(VU_PROTO_F_CONFIG);

	assert_int_equal(rig->device_features & want, want);
	assert_int_equal(rig->device_protocol_features & want_proto, want_proto);
	assert_int_equal(rig->queue_num, 3);
	assert_int_equal(rig->cid, T_CID);
	assert_round_trip(f, 5300);
}

static void test_get_config_every_offset_and_size(void **state)
{
	struct fixture *f = *state;
	uint8_t cid_le[8], out[16];

	{
		uint64_t v = htole64(T_CID);

		memcpy(cid_le, &v, 8);
	}
	for (uint32_t off = 0; off <= 12; off++) {
		for (uint32_t size = 1; size <= 12; size++) {
			uint32_t got = 99;

			assert_int_equal(rig_vu_get_config(&f->rig->vu, off, size, out, &got),
					 0);
			if (off + size <= 8) {
				assert_int_equal(got, size);
				assert_memory_equal(out, cid_le + off, size);
			} else {
				assert_int_equal(got, 0);
			}
		}
	}
	assert_round_trip(f, 5301);
}

/* One bad message: the daemon answers NACK or drops the front-end, within
 * the reply timeout; either way it survives. */
static void send_bad(struct fixture *f, uint32_t request, const void *payload,
		     size_t len, uint32_t size_field, const int *fds, unsigned nfds)
{
	struct rig_vu_msg reply;
	int err = rig_vu_send_raw(&f->rig->vu, request,
				  VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, size_field,
				  payload, len, fds, nfds);

	if (err)
		return; /* already gone */
	err = rig_vu_recv(&f->rig->vu, &reply);
	for (unsigned i = 0; i < reply.nfds; i++)
		close(reply.fds[i]);
	if (err == -ECONNRESET)
		return;
	if (err)
		fail_msg("request %u: no NACK and no disconnect (%s)", request,
			 strerror(-err));
	assert_int_equal(reply.request, request);
	assert_int_equal(reply.size, 8);
	if (reply.payload.u64 == 0)
		fail_msg("request %u with a bad payload was acked", request);
}

/* A message with more fds than it takes: any answer will do, but the
 * front-end connection must stay consistent (or be dropped). */
static void send_extra_fds(struct fixture *f, uint32_t request, const void *payload,
			   size_t len, const int *fds, unsigned nfds)
{
	struct rig_vu_msg reply;
	int err = rig_vu_send_raw(&f->rig->vu, request,
				  VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, (uint32_t)len,
				  payload, len, fds, nfds);

	if (!err)
		err = rig_vu_recv(&f->rig->vu, &reply);
	if (err) {
		assert_int_equal(rig_reconnect(f->rig), 0);
		return;
	}
	for (unsigned i = 0; i < reply.nfds; i++)
		close(reply.fds[i]);
	assert_int_equal(reply.request, request);
}

static void reconnect_for_more(struct fixture *f)
{
	assert_int_equal(rig_reconnect(f->rig), 0);
}

/* The ring size limit test_bad_messages exceeds, set here rather than
 * assumed from the daemon's default. */
#define QUEUE_SIZE_LIMIT 256
#define STR(x) #x
#define XSTR(x) STR(x)

static int setup_queue_size_limit(void **state)
{
	static const char *const extra[] = {"--queue-size", XSTR(QUEUE_SIZE_LIMIT), NULL};

	if (fixture_setup_daemon_args(state, extra))
		return -1;
	fixture_open_rig(*state);
	return 0;
}

static void test_bad_messages(void **state)
{
	struct fixture *f = *state;
	int efd = eventfd(0, EFD_CLOEXEC);
	int fds[3];
	uint32_t state_msg[2];
	uint8_t addr[40] = {0};
	uint64_t u64 = 0;
	uint8_t mem[8 + 32] = {0};
	int baseline;

	assert_true(efd >= 0);
	fds[0] = fds[1] = fds[2] = efd;
	/* fds before: the daemon with this one front-end connected. */
	baseline = rig_daemon_fd_count(&f->d);
	assert_true(baseline > 0);

	/* Each bad message gets a fresh front-end session afterwards: the
	 * daemon may NACK and go on, or NACK and drop us. */
#define BAD(req, p, len, size, fd, nfd)                                          \
	do {                                                                     \
		send_bad(f, req, p, len, size, fd, nfd);                         \
		reconnect_for_more(f);                                           \
	} while (0)
	state_msg[0] = 0;
	state_msg[1] = 1000; /* not a power of two */
	BAD(VU_SET_VRING_NUM, state_msg, 8, 8, NULL, 0);
	state_msg[1] = 0;
	BAD(VU_SET_VRING_NUM, state_msg, 8, 8, NULL, 0);
	state_msg[1] = 65536;
	BAD(VU_SET_VRING_NUM, state_msg, 8, 8, NULL, 0);
	state_msg[1] = QUEUE_SIZE_LIMIT * 2; /* a power of two above --queue-size */
	BAD(VU_SET_VRING_NUM, state_msg, 8, 8, NULL, 0);
	state_msg[0] = 7; /* no such ring */
	state_msg[1] = 128;
	BAD(VU_SET_VRING_NUM, state_msg, 8, 8, NULL, 0);
	BAD(VU_SET_FEATURES, &u64, 4, 4, NULL, 0);           /* short */
	u64 = 1ULL << 60;                                       /* not offered */
	BAD(VU_SET_FEATURES, &u64, 8, 8, NULL, 0);
	BAD(VU_SET_VRING_KICK, &u64, 8, 8, NULL, 0);          /* index 0, no fd, no flag */
	u64 = 0;
	/* Extra fds: the daemon may accept the message, but must close them
	 * (counted at the end). */
	send_extra_fds(f, VU_SET_VRING_CALL, &u64, 8, fds, 3);
	reconnect_for_more(f);
	send_extra_fds(f, VU_SET_PROTOCOL_FEATURES, &f->rig->vu.protocol_features,
		       8, fds, 2);
	reconnect_for_more(f);
	BAD(999, &u64, 8, 8, NULL, 0);                        /* unknown request */
	BAD(VU_SET_MEM_TABLE, mem, 8, 8, NULL, 0);            /* zero regions */
	mem[0] = 1;
	BAD(VU_SET_MEM_TABLE, mem, sizeof(mem), sizeof(mem), NULL, 0); /* no fd */
	mem[0] = 100;
	BAD(VU_SET_MEM_TABLE, mem, sizeof(mem), sizeof(mem), fds, 1); /* 100 regions */
	/* Ring addresses that are not mapped, then misaligned. */
	{
		uint64_t a[3] = {0x10, 0x20, 0x30};

		memcpy(addr + 8, a, sizeof(a));
		BAD(VU_SET_VRING_ADDR, addr, sizeof(addr), sizeof(addr), NULL, 0);
	}
	{
		uint64_t a[3] = {rig_mem_uva(&f->rig->mem, f->rig->rxq.desc_gpa) + 8,
				 rig_mem_uva(&f->rig->mem, f->rig->rxq.used_gpa),
				 rig_mem_uva(&f->rig->mem, f->rig->rxq.avail_gpa)};

		memcpy(addr + 8, a, sizeof(a));
		BAD(VU_SET_VRING_ADDR, addr, sizeof(addr), sizeof(addr), NULL, 0);
	}
	/* A size field larger than any message: the daemon must drop us
	 * rather than wait for 64 KiB that never come or overrun its buffer. */
	assert_int_equal(rig_vu_send_raw(&f->rig->vu, VU_SET_FEATURES,
					 VU_FLAG_VERSION | VU_FLAG_NEED_REPLY, 65536,
					 &u64, 8, NULL, 0), 0);
	assert_int_equal(rig_vu_wait_closed(&f->rig->vu, T_MS), 0);
	close(efd);
#undef BAD
	/* Whatever happened, the daemon serves a proper front-end, and has
	 * no more fds than with the first one. */
	reconnect_for_more(f);
	assert_round_trip(f, 5302);
	assert_int_equal(wait_fd_count(f, baseline, T_MS), baseline);
}

static void test_events_before_mem_table(void **state)
{
	struct fixture *f;
	struct rig *rig;
	int hfd;

	if (fixture_setup_daemon_only(state))
		fail();
	f = *state;
	assert_int_equal(rig_create(&f->rig, &f->opts), 0);
	rig = f->rig;
	assert_int_equal(rig_handshake(rig), 0);
	/* Kick and call fds, kicked, before any memory or ring address. */
	assert_int_equal(rig_vu_set_vring_fd(&rig->vu, VU_SET_VRING_KICK, 1,
					     rig->txq.kick_fd), 0);
	assert_int_equal(rig_vu_set_vring_fd(&rig->vu, VU_SET_VRING_CALL, 1,
					     rig->txq.call_fd), 0);
	rig_ring_kick_always(&rig->txq);
	/* A host client connects before the rings exist. */
	hfd = rig_host_connect(f->d.uds_path);
	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, "CONNECT 1234\n", 13), 13);
	/* Now the guest comes up and listens: the request reaches it. */
	assert_int_equal(rig_start(rig), 0);
	assert_int_equal(rig_listen(rig, 1234), 0);
	{
		struct rig_conn *c;
		char line[32];

		assert_int_equal(rig_accept(rig, 1234, T_MS, &c), 0);
		assert_true(rig_host_read_line(rig, hfd, line, sizeof(line), T_MS) > 0);
		assert_string_equal(line, "OK 1234\n");
	}
	close(hfd);
	assert_round_trip(f, 5303);
}

static void test_guest_reboot(void **state)
{
	struct fixture *f = *state;
	struct rig_conn *c;
	char buf[8];
	int hfd;

	assert_int_equal(rig_listen(f->rig, 1234), 0);
	hfd = rig_host_open(f->rig, f->d.uds_path, 1234, &c, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_send_all(f->rig, c, "before", 6, T_MS), 0);
	assert_int_equal(rig_host_read_full(f->rig, hfd, buf, 6, T_MS), 6);
	/* Reboot: the old guest's connections are gone, so the daemon must
	 * close the host side; the new driver works from base 0. */
	assert_int_equal(rig_reboot(f->rig), 0);
	assert_int_equal(rig_host_wait_eof(f->rig, hfd, T_MS), 0);
	close(hfd);
	assert_round_trip(f, 5304);
	assert_int_equal(rig_reboot(f->rig), 0);
	assert_round_trip(f, 5305);
}

static bool tx_all_returned(struct rig *rig, void *arg)
{
	(void)arg;
	return rig_ring_in_flight(&rig->txq) == 0;
}

static void test_vring_base_after_traffic(void **state)
{
	struct fixture *f = *state;
	uint32_t base;

	assert_round_trip(f, 5306);
	assert_int_equal(rig_wait(f->rig, tx_all_returned, NULL, T_MS), 0);
	/* Everything we made available on TX was consumed. */
	assert_int_equal(rig_vu_get_vring_base(&f->rig->vu, 1, &base), 0);
	assert_int_equal(base, f->rig->txq.avail_idx);
	f->rig->device_started = false;
	assert_int_equal(rig_vu_get_vring_base(&f->rig->vu, 0, &base), 0);
}

static void test_reconnect_without_leaks(void **state)
{
	struct fixture *f;
	int idle, baseline;

	if (fixture_setup_daemon_only(state))
		fail();
	f = *state;
	idle = rig_daemon_fd_count(&f->d); /* no front-end ever connected */
	fixture_open_rig(f);
	for (int round = 0; round < 3; round++) {
		struct rig_conn *g, *c[4];
		int lfd = rig_host_listen(f->d.uds_path, 5400);
		int hfd[4], gfd;

		assert_true(lfd >= 0);
		assert_int_equal(rig_listen(f->rig, 1234), 0);
		for (int i = 0; i < 4; i++) {
			hfd[i] = rig_host_open(f->rig, f->d.uds_path, 1234, &c[i], T_MS);
			assert_true(hfd[i] >= 0);
		}
		assert_int_equal(rig_connect(f->rig, RIG_HOST_CID, 5400, T_MS, &g), 0);
		gfd = rig_host_accept(f->rig, lfd, T_MS);
		assert_true(gfd >= 0);
		assert_int_equal(rig_send_all(f->rig, c[0], "x", 1, T_MS), 0);
		/* The VMM goes away: every host socket is closed. */
		rig_vu_close(&f->rig->vu);
		f->rig->disconnected = true;
		for (int i = 0; i < 4; i++) {
			assert_int_equal(rig_host_wait_eof(NULL, hfd[i], T_MS), 0);
			close(hfd[i]);
		}
		assert_int_equal(rig_host_wait_eof(NULL, gfd, T_MS), 0);
		close(gfd);
		close(lfd);
		baseline = wait_fd_count(f, idle, T_MS);
		assert_int_equal(baseline, idle);
		assert_int_equal(rig_reconnect(f->rig), 0);
		assert_round_trip(f, 5401);
	}
}

/* One front-end at a time: a second VMM that connects meanwhile waits in
 * the listener's backlog, unanswered, while the first goes on; once the
 * first leaves, the second is served (its request was waiting). */
static void test_second_frontend_waits_its_turn(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const uint32_t get_features[3] = {htole32(1), htole32(1), 0};
	uint32_t reply[5];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", f->opts.socket_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(send(fd, get_features, sizeof(get_features), 0),
			 (ssize_t)sizeof(get_features));
	/* The first front-end is served after the second came, and the
	 * second got nothing. */
	assert_round_trip(f, 5310);
	assert_int_equal(poll(&p, 1, 0), 0);
	rig_vu_close(&f->rig->vu);
	f->rig->disconnected = true;
	assert_int_equal(poll(&p, 1, T_MS), 1);
	assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL), (ssize_t)sizeof(reply));
	assert_int_equal(le32toh(reply[0]), 1);
	assert_true(le32toh(reply[1]) & 0x4);
	assert_int_equal(le32toh(reply[2]), 8);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)
		T(test_negotiation),
		T(test_get_config_every_offset_and_size),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup_queue_size_limit,
						fixture_teardown),
		T(test_guest_reboot),
		T(test_vring_base_after_traffic),
		T(test_second_frontend_waits_its_turn),
#undef T
		cmocka_unit_test_teardown(test_reconnect_without_leaks, fixture_teardown),
		cmocka_unit_test_teardown(test_events_before_mem_table, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
