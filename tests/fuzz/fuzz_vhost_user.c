/* Fuzzes the vhost-user back-end (src/vhost_user*.c) with real fds: each
 * input is one front-end session.  A vu_dev is attached to one end of a
 * socketpair; the harness sends it the messages the input describes from
 * the other end, fds included, and lets it handle them until it gives up on
 * the session or the input ends (then the front-end hangs up: shutdown,
 * the back-end reads what is left and sees EOF).  Replies are drained and
 * checked as they come, so the socket never fills.
 *
 * Input: a u16 largest queue size for the device, then messages until the
 * input runs out, each:
 *   u8 request, u8 flags (sent as is: version, REPLY, NEED_REPLY bits),
 *   u8 control: bits 0-2 the number of fds (7: VU_MAX_FDS + 1, more than a
 *     message may carry); bit 6: the front-end closes its end right after
 *     (replies then fail); bit 7: send the next message before the back-end
 *     reads (at most MAX_DEFERRED in a row),
 *   u16 payload size, the payload (a size above VU_MAX_PAYLOAD sends the
 *     header alone, which the back-end refuses before reading on; where the
 *     input ends the message is cut short, and read after the hang-up),
 *   a u8 per fd: its kind (mod 3: a memfd of ((u8 / 3) mod 5) pages, as
 *     SET_MEM_TABLE wants; an eventfd, as SET_VRING_KICK/CALL/ERR want; or
 *     a pipe, wrong for both).
 * Checks: the hooks alternate started/stopped per queue, a started queue
 * is ready and its ring mapped, a new driver is announced only while a
 * front-end is attached; a live queue stays ready; replies are well
 * formed; after vu_dev_detach() every started queue was stopped and no fd
 * is left open (the process's fd count stays flat).
 * VHOST_DEVICE_VSOCK_LOG=debug shows what the back-end made of an input. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "log.h"
#include "unix_sock.h"
#include "vhost_user.h"
#include "vhost_user_msg.h"

#define GUEST_CID 3
#define MAX_FDS_PER_MSG (VU_MAX_FDS + 1)
#define CTL_FD_COUNT 0x07
#define CTL_CLOSE 0x40
#define CTL_DEFER 0x80
/* Unread messages in the socket, each its own skb: a few keep the send
 * buffer (and the fds in flight) far from full, so sends never block. */
#define MAX_DEFERRED 4
#define FD_KINDS 3
#define MAX_MEMFD_PAGES 4
#define PAGE 4096

struct session {
	struct vu_dev dev;
	int front;                  /* the front-end's end of the socketpair */
	bool live[VU_NUM_QUEUES];   /* between queue_started and queue_stopped */
	unsigned started, stopped;  /* hook calls */
};

static unsigned baseline_fds;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- hooks: what the device would do, checked ---- */

static void on_queue_started(void *opaque, unsigned idx)
{
	struct session *s = opaque;

	FUZZ_CHECK(idx < VU_NUM_QUEUES && !s->live[idx]);
	FUZZ_CHECK(virtq_ready(&s->dev.vq[idx]));
	/* A device processes the queue at once: its ring must be mapped. */
	(void)virtq_has_avail(&s->dev.vq[idx]);
	s->live[idx] = true;
	s->started++;
}

static void on_queue_stopped(void *opaque, unsigned idx)
{
	struct session *s = opaque;

	FUZZ_CHECK(idx < VU_NUM_QUEUES && s->live[idx]);
	s->live[idx] = false;
	s->stopped++;
}

/* Only a message from the front-end can announce a new driver instance. */
static void on_driver_reset(void *opaque)
{
	struct session *s = opaque;

	FUZZ_CHECK(s->dev.fd >= 0);
}

static const struct vu_hooks hooks = {
	.queue_started = on_queue_started,
	.queue_stopped = on_queue_stopped,
	.driver_reset = on_driver_reset,
};

/* ---- the front-end ---- */

static int make_memfd(unsigned pages)
{
	int fd = memfd_create("fuzz-guest", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0 && ftruncate(fd, (off_t)pages * PAGE) == 0);
	return fd;
}

static int make_pipe_end(void)
{
	int p[2];

	FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
	close(p[1]);
	return p[0];
}

static int make_fd(uint8_t spec)
{
	int fd;

	switch (spec % FD_KINDS) {
	case 0:
		return make_memfd((spec / FD_KINDS) % (MAX_MEMFD_PAGES + 1));
	case 1:
		fd = eventfd(0, EFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		return fd;
	default:
		return make_pipe_end();
	}
}

/* Sends bytes with fds in one sendmsg (the socket is blocking and drained,
 * so it all goes), then closes our copies of the fds. */
static void send_wire(int sock, const void *bytes, size_t len, const int *fds,
		      unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS_PER_MSG * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)bytes, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	unix_attach_fds(&mh, ctl.buf, fds, nfds);
	FUZZ_CHECK(sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

/* What the front-end does once a message is sent. */
enum next_step {
	READ_NOW,   /* let the back-end handle what was sent */
	SEND_MORE,  /* send the next message first */
	CLOSE_NOW,  /* close our end */
};

static unsigned decode_fd_count(uint8_t ctl)
{
	unsigned n = ctl & CTL_FD_COUNT;

	return n == CTL_FD_COUNT ? VU_MAX_FDS + 1 : n;
}

/* Decodes and sends one message. */
static enum next_step send_message(struct session *s, struct fuzz_input *in)
{
	static struct {
		struct vu_msg_hdr hdr;
		uint8_t payload[VU_MAX_PAYLOAD];
	} __attribute__((packed)) wire;
	int fds[MAX_FDS_PER_MSG];
	unsigned nfds;
	uint8_t ctl;
	size_t sent;

	wire.hdr.request = fuzz_u8(in);
	wire.hdr.flags = fuzz_u8(in);
	ctl = fuzz_u8(in);
	wire.hdr.size = fuzz_u16(in);
	nfds = decode_fd_count(ctl);
	sent = sizeof(wire.hdr);
	if (wire.hdr.size <= VU_MAX_PAYLOAD)
		sent += fuzz_take(in, wire.payload, wire.hdr.size);
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = make_fd(fuzz_u8(in));
	send_wire(s->front, &wire, sent, fds, nfds);
	if (ctl & CTL_CLOSE)
		return CLOSE_NOW;
	return ctl & CTL_DEFER ? SEND_MORE : READ_NOW;
}

/* Replies arrive whole: the back-end writes each one completely, and we
 * drain after every vu_dev_handle_input() call, which sends far less than
 * the buffer. */
static void check_replies(const uint8_t *bytes, size_t len)
{
	while (len > 0) {
		struct vu_msg_hdr hdr;

		FUZZ_CHECK(len >= sizeof(hdr));
		memcpy(&hdr, bytes, sizeof(hdr));
		FUZZ_CHECK(hdr.flags == (VU_VERSION | VU_FLAG_REPLY));
		FUZZ_CHECK(hdr.size <= VU_MAX_PAYLOAD && hdr.size <= len - sizeof(hdr));
		bytes += sizeof(hdr) + hdr.size;
		len -= sizeof(hdr) + hdr.size;
	}
}

static void drain_replies(struct session *s)
{
	static uint8_t buf[1 << 16];
	ssize_t n;

	while (s->front >= 0 && (n = recv(s->front, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		check_replies(buf, (size_t)n);
}

static bool has_input(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

/* Lets the back-end read everything sent so far.  False once it has given
 * up on the session. */
static bool handle_all(struct session *s)
{
	while (has_input(s->dev.fd)) {
		if (vu_dev_handle_input(&s->dev) < 0)
			return false;
		drain_replies(s);
		for (unsigned i = 0; i < VU_NUM_QUEUES; i++)
			FUZZ_CHECK(!s->live[i] || virtq_ready(&s->dev.vq[i]));
	}
	return true;
}

/* ---- one session per input ---- */

static unsigned count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	FUZZ_CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The sanitizers' symbolizer, a child process behind two pipes, starts the
 * first time libFuzzer names a function: start it before counting fds. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];

	(void)argc;
	(void)argv;
	log_init_from_env();
	__sanitizer_symbolize_pc((void *)LLVMFuzzerTestOneInput, "%f", name, sizeof(name));
	baseline_fds = count_open_fds();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session s;
	struct fuzz_input in = fuzz_input_of(data, size);
	struct vu_dev_config cfg = {
		.guest_cid = GUEST_CID,
		.max_queue_size = fuzz_u16(&in),
		.device_features = 1ull << VIRTIO_VSOCK_F_SEQPACKET,
	};
	unsigned deferred = 0;
	bool alive = true;
	int sv[2];

	memset(&s, 0, sizeof(s));
	vu_dev_init(&s.dev, &cfg, &hooks, &s);
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	s.front = sv[0];
	vu_dev_attach(&s.dev, sv[1]);
	while (alive && in.left > 0) {
		enum next_step next = send_message(&s, &in);

		if (next == CLOSE_NOW) {
			close(s.front);
			s.front = -1;
			break;
		}
		/* The last message may be cut short: read after the hang-up,
		 * or the back-end would wait for the rest. */
		if (in.left == 0 || (next == SEND_MORE && deferred++ < MAX_DEFERRED))
			continue;
		deferred = 0;
		alive = handle_all(&s);
	}
	if (alive) {
		if (s.front >= 0)
			shutdown(s.front, SHUT_WR);
		FUZZ_CHECK(!handle_all(&s));
	}
	vu_dev_detach(&s.dev);
	FUZZ_CHECK(s.started == s.stopped);
	if (s.front >= 0)
		close(s.front);
	FUZZ_CHECK(count_open_fds() <= baseline_fds);
	return 0;
}
