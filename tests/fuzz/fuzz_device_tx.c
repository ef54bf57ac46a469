/* Fuzzes the deepest surface a guest reaches: TX packets, header and
 * descriptor chain, into a whole device (src/device_*.c): the connection
 * state machine, credit and its memory budget, the RX replies, sibling
 * routing through a real router and the park for full mailboxes.  Host
 * sockets are faked: the backend's connect hands the device one end of a
 * socketpair and keeps the other, which the input then writes to, reads,
 * half-closes or closes; host clients arrive the same way.
 *
 * One device (guest CID 3) is made once, with small budgets so that the
 * input reaches them: 8 connections, 4 pending, an 8 KiB window and a
 * 20 KiB tx-buffer-total; and the
 * device's ends of its host sockets have the smallest send buffers, so
 * that a few KiB the host does not read make it buffer.  A second
 * router port (CID 5, same group) is a sibling whose mailbox (32 packets)
 * the input drains, or leaves full, and whose guest sends mail.  Guest
 * memory is one anonymous mapping presented as one region; TX and RX rings
 * of 64 entries live in it.  Every input starts from an idle device.
 *
 * Input: u8 flags (EVENT_IDX, INDIRECT_DESC for the rings), then
 * operations until the input runs out, one byte picking each:
 *   packet: a TX packet (fields from the input, with CIDs and ports drawn
 *     mostly from small sets so that packets meet connections), its payload
 *     split over 1 to 4 descriptors, directly or through an indirect table;
 *   run: the device thread's turn (kick, epoll batch, pump, reap);
 *   rx: the guest posts RX buffers (4 KiB each) for the used ones;
 *   host: on one host end, write bytes, read, shut down writes, or close;
 *   client: a host client for a guest port (with or without early bytes);
 *   sibling: the sibling drains its mailbox, or sends the guest a packet
 *     (ports, op, then up to 255 payload bytes);
 *   rewrite: the guest overwrites the header of a packet in flight (one
 *     the device may be keeping for a full mailbox), 8 bytes at an offset;
 *   expire: the request and park timeouts pass (their deadlines are moved
 *     into the past and the timers fired, rather than slept through).
 * Checks, after every run: each TX chain popped went back to the used ring
 * or waits in the park; each RX buffer used carries a well-formed packet
 * for the guest; the tx pool's charge is the sum of the connections'; the
 * sibling receives nothing whose source is not the guest.  At
 * the end, once every connection is dropped, nothing is charged, waiting
 * or scheduled. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <linux/vm_sockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device_priv.h"
#include "fuzz_input.h"
#include "log.h"
#include "router.h"
#include "vsock_hdr.h"

#define GUEST_CID 3
#define SIBLING_CID 5
#define RING 64
#define MEM_BYTES (2u << 20)
#define GPA_BASE 0x100000ull
#define UVA_BASE 0x7e0000000000ull
#define TX_DESC_OFF 0x0u
#define TX_AVAIL_OFF 0x1000u
#define TX_USED_OFF 0x2000u
#define RX_DESC_OFF 0x3000u
#define RX_AVAIL_OFF 0x4000u
#define RX_USED_OFF 0x5000u
#define TX_TABLES_OFF 0x8000u   /* indirect tables, one per packet slot */
#define TX_DATA_OFF 0x10000u    /* packets, 16 KiB per packet slot */
#define TX_SLOT 0x4000u
#define MAX_DESCS 5             /* a header and up to 4 payload pieces */
/* Packets in flight at once: each owns MAX_DESCS entries of the ring's
 * table (the first one alone when it points to an indirect table). */
#define DIRECT_SLOTS (RING / MAX_DESCS)
#define RX_DATA_OFF (TX_DATA_OFF + RING * TX_SLOT)
#define RX_BUF 4096u
#define MAX_HOSTS 16
#define MAX_PAYLOAD (TX_SLOT - VSOCK_HDR_SIZE)

enum flag {
	FLAG_EVENT_IDX = 1 << 0,
	FLAG_INDIRECT = 1 << 1,
};

enum op {
	OP_PACKET,
	OP_RUN,
	OP_RX,
	OP_HOST,
	OP_CLIENT,
	OP_SIBLING,
	OP_REWRITE,
	OP_EXPIRE,
	OP_COUNT,
};

static struct vsock_device *dev;
static struct router *router;
static struct router_port *sibling;
static int sibling_wakeup = -1;
static uint8_t *mem;
/* The host's ends of the device's host sockets. */
static int host[MAX_HOSTS];
static unsigned n_hosts;
/* The guest driver's view of its rings. */
static uint16_t tx_avail, tx_used_seen, rx_avail, rx_used_seen;
static bool tx_busy[RING]; /* packet slots in flight, by head */
static bool rx_posted[RING];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void keep_host_end(int fd)
{
	if (n_hosts < MAX_HOSTS)
		host[n_hosts++] = fd;
	else
		close(fd);
}

/* A host socket of a vsock type: the device's end (returned) with a small
 * send buffer, the host's end kept; -errno on failure. */
static int host_socketpair(uint16_t type)
{
	int sv[2], small = 4096;
	int sock_type = type == VIRTIO_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;

	if (socketpair(AF_UNIX, sock_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	keep_host_end(sv[1]);
	return sv[0];
}

/* The faked host: every connect reaches a peer at once, or is refused
 * when the port says so. */
static int fake_connect(struct backend *be, uint32_t port, uint16_t type, bool *done)
{
	(void)be;
	if (port % 4 == 3)
		return -ECONNREFUSED;
	*done = port % 4 != 2; /* else completion comes as EPOLLOUT */
	return host_socketpair(type);
}

/* Small, so that guest messages meet the limit. */
static uint32_t fake_max_message(struct backend *be, int fd, uint32_t want)
{
	(void)be;
	(void)fd;
	(void)want;
	return 8192;
}

static int fake_accepted(struct backend *be, int fd, uint32_t guest_port)
{
	(void)be;
	(void)fd;
	(void)guest_port;
	return 0;
}

static void fake_destroy(struct backend *be)
{
	(void)be;
}

static const struct backend_ops fake_ops = {
	.connect = fake_connect,
	.max_message = fake_max_message,
	.accepted = fake_accepted,
	.destroy = fake_destroy,
};
static struct backend fake_backend = {.ops = &fake_ops};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void make_device(void)
{
	static char *groups[] = {"default"};
	static char dir[] = "/tmp/fuzz_device_tx.XXXXXX";
	static char socket_path[64], uds_path[64];
	struct vm_config cfg = {
		.guest_cid = GUEST_CID,
		.backend = BACKEND_UDS,
		.tx_buffer_size = 8192,
		.queue_size = RING,
		.groups = groups,
		.n_groups = 1,
		.max_connections = 8,
		.max_handshakes = 4,
		.max_pending = 4,
		.tx_buffer_total = 20480,
		.socket_fd = -1,
		.uds_fd = -1,
		.uds_seqpacket_fd = -1,
	};
	const char *const sibling_groups[] = {"default"};

	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(socket_path, sizeof(socket_path), "%s/vhost.socket", dir);
	snprintf(uds_path, sizeof(uds_path), "%s/vm.vsock", dir);
	cfg.socket_path = socket_path;
	cfg.uds_path = uds_path;
	router = router_create(128 * 1024, 32);
	sibling_wakeup = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!router || sibling_wakeup < 0)
		die("router");
	sibling = router_register(router, SIBLING_CID, sibling_groups, 1, sibling_wakeup);
	dev = vsock_device_create(&cfg, router, 0);
	if (!sibling || !dev)
		die("device");
	dev->backend->ops->destroy(dev->backend);
	dev->backend = &fake_backend;
}

/* Guest memory: one region, presented as the front-end would. */
static void map_guest_memory(void)
{
	struct guest_mem *gm = &dev->vu.mem;

	mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	gm->count = 1;
	gm->regions[0] = (struct guest_region){
		.gpa = GPA_BASE, .size = MEM_BYTES, .uva = UVA_BASE, .hva = mem,
		.map_base = mem, .map_len = MEM_BYTES, .page = 4096,
	};
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!log_init_from_env())
		return 1;
	if (!getenv(LOG_ENV_VAR))
		log_set_level(LOG_LVL_ERROR);
	make_device();
	map_guest_memory();
	return 0;
}

static void setup_ring(struct virtq *vq, const char *name, uint32_t desc, uint32_t avail,
		       uint32_t used, uint8_t flags)
{
	virtq_init(vq, name);
	vq->num = RING;
	vq->desc_uva = UVA_BASE + desc;
	vq->avail_uva = UVA_BASE + avail;
	vq->used_uva = UVA_BASE + used;
	vq->addr_set = true;
	vq->started = true;
	vq->enabled = true;
	vq->event_idx = flags & FLAG_EVENT_IDX;
	vq->indirect = flags & FLAG_INDIRECT;
	if (!virtq_translate(vq, &dev->vu.mem))
		abort();
}

/* What the guest sent the sibling: never with another source. */
static void drain_sibling(void)
{
	struct router_msg msg;

	while (router_peek(sibling, &msg)) {
		FUZZ_CHECK(msg.hdr.src_cid == GUEST_CID);
		router_consume(sibling, msg.remaining);
	}
}

/* Back to an idle device with empty rings, as after a driver reset. */
static void reset(uint8_t flags)
{
	struct router_msg msg;

	device_conn_drop_all(dev);
	device_park_forget(dev);
	ev_loop_reap(&dev->loop);
	FUZZ_CHECK(dev->tx_pool.charged == 0);
	FUZZ_CHECK(dev->conns.count == 0 && dev->waiting.count == 0);
	FUZZ_CHECK(TAILQ_EMPTY(&dev->rx_fifo) && TAILQ_EMPTY(&dev->waiting.entries));
	while (router_peek(dev->port, &msg))
		router_consume(dev->port, msg.remaining);
	drain_sibling();
	for (unsigned i = 0; i < n_hosts; i++)
		close(host[i]);
	n_hosts = 0;
	memset(mem, 0, TX_DATA_OFF);
	setup_ring(&dev->vu.vq[VU_QUEUE_RX], "rx", RX_DESC_OFF, RX_AVAIL_OFF, RX_USED_OFF, flags);
	setup_ring(&dev->vu.vq[VU_QUEUE_TX], "tx", TX_DESC_OFF, TX_AVAIL_OFF, TX_USED_OFF, flags);
	tx_avail = tx_used_seen = rx_avail = rx_used_seen = 0;
	memset(tx_busy, 0, sizeof(tx_busy));
	memset(rx_posted, 0, sizeof(rx_posted));
	port_alloc_init(&dev->ports);
	device_tx_frontend_gone(dev);
}

static struct vring_desc desc(uint64_t off, uint32_t len, uint16_t flags, uint16_t next)
{
	return (struct vring_desc){
		.addr = htole64(GPA_BASE + off),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};
}

static void publish(uint32_t avail_off, uint16_t *avail_idx, uint16_t head)
{
	struct vring_avail *avail = (struct vring_avail *)(mem + avail_off);

	avail->ring[*avail_idx % RING] = htole16(head);
	(*avail_idx)++;
	__atomic_store_n(&avail->idx, htole16(*avail_idx), __ATOMIC_RELEASE);
}

/* CIDs and ports mostly from small sets, so that packets meet connections,
 * the sibling and the host (whose ports for host-initiated connections
 * start at PORT_ALLOC_FIRST); sometimes anything. */
static uint64_t pick_cid(struct fuzz_input *in)
{
	static const uint64_t cids[] = {VMADDR_CID_HOST, VMADDR_CID_HOST, SIBLING_CID,
					GUEST_CID, 7};
	uint8_t sel = fuzz_u8(in);

	return sel < 250 ? cids[sel % 5] : fuzz_u64(in);
}

static uint32_t pick_port(struct fuzz_input *in, uint32_t base)
{
	uint8_t sel = fuzz_u8(in);

	if (sel < 200)
		return base + sel % 6;
	return sel < 250 ? PORT_ALLOC_FIRST + sel % 6 : fuzz_u32(in);
}

/* Frees the packet slots of the TX chains the device gave back. */
static void reap_tx_used(void)
{
	const struct vring_used *used = (const struct vring_used *)(mem + TX_USED_OFF);
	uint16_t idx = le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));

	for (; tx_used_seen != idx; tx_used_seen++) {
		uint32_t id = le32toh(used->ring[tx_used_seen % RING].id);

		FUZZ_CHECK(id < RING && tx_busy[id]);
		FUZZ_CHECK(le32toh(used->ring[tx_used_seen % RING].len) == 0);
		tx_busy[id] = false;
	}
}

/* A free packet slot's head (its first table entry), or -1. */
static int free_slot(void)
{
	for (unsigned head = 0; head < DIRECT_SLOTS * MAX_DESCS; head += MAX_DESCS)
		if (!tx_busy[head])
			return (int)head;
	return -1;
}

/* A TX packet, its fields from the input, in a free slot. */
static void guest_packet(struct fuzz_input *in, uint8_t flags)
{
	struct vsock_hdr h;
	uint16_t payload;
	uint8_t layout;
	bool indirect;
	unsigned pieces, n = 0;
	struct vring_desc d[MAX_DESCS], *table;
	int head = free_slot();
	uint64_t off, at;

	/* One field after the other: the order of the input is the order of
	 * these statements (an initializer list would not fix it). */
	h.src_cid = fuzz_u8(in) < 240 ? GUEST_CID : pick_cid(in);
	h.dst_cid = pick_cid(in);
	h.src_port = pick_port(in, 1000);
	h.dst_port = pick_port(in, 5000);
	h.type = fuzz_u8(in) < 240 ? VIRTIO_VSOCK_TYPE_STREAM : fuzz_u16(in);
	h.op = fuzz_u8(in) % 9;
	h.flags = fuzz_u8(in);
	h.buf_alloc = fuzz_u8(in) < 200 ? 65536 : fuzz_u32(in);
	h.fwd_cnt = fuzz_u32(in);
	payload = fuzz_u16(in) % (MAX_PAYLOAD + 1);
	layout = fuzz_u8(in);
	h.len = layout & 0x80 ? fuzz_u32(in) : payload;
	indirect = (flags & FLAG_INDIRECT) && (layout & 0x40);
	pieces = 1 + layout % 4;
	if (head < 0) {
		in->data += in->left < payload ? in->left : payload;
		in->left -= in->left < payload ? in->left : payload;
		return;
	}
	off = TX_DATA_OFF + (uint64_t)head * TX_SLOT;
	at = off + VSOCK_HDR_SIZE;
	vsock_hdr_encode(&h, mem + off);
	fuzz_take(in, mem + at, payload);
	d[n++] = desc(off, VSOCK_HDR_SIZE, 0, 0);
	for (unsigned i = 0; i < pieces && payload; i++) {
		uint32_t len = i + 1 == pieces ? payload : payload / pieces;

		d[n++] = desc(at, len, 0, 0);
		at += len;
		payload -= (uint16_t)len;
	}
	/* Chained by NEXT, in the indirect table or in the ring's. */
	table = indirect ? (struct vring_desc *)(mem + TX_TABLES_OFF + (uint64_t)head * sizeof(d))
			 : (struct vring_desc *)(mem + TX_DESC_OFF) + head;
	for (unsigned i = 0; i < n; i++) {
		table[i] = d[i];
		if (i + 1 < n) {
			table[i].flags = htole16(VRING_DESC_F_NEXT);
			table[i].next = htole16((uint16_t)(indirect ? i + 1 : head + i + 1));
		}
	}
	if (indirect)
		((struct vring_desc *)(mem + TX_DESC_OFF))[head] =
			desc((uint64_t)((uint8_t *)table - mem), (uint32_t)(n * sizeof(d[0])),
			     VRING_DESC_F_INDIRECT, 0);
	tx_busy[head] = true;
	publish(TX_AVAIL_OFF, &tx_avail, (uint16_t)head);
}

/* The guest rewrites 8 bytes of the header of a packet in flight. */
static void guest_rewrite(struct fuzz_input *in)
{
	unsigned head = fuzz_u8(in) % DIRECT_SLOTS * MAX_DESCS;
	uint8_t at = fuzz_u8(in) % (VSOCK_HDR_SIZE - 7);

	fuzz_take(in, mem + TX_DATA_OFF + (uint64_t)head * TX_SLOT + at, 8);
}

/* Checks the RX buffers the device used since the last look. */
static void check_rx_used(void)
{
	const struct vring_used *used = (const struct vring_used *)(mem + RX_USED_OFF);
	uint16_t idx = le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));

	for (; rx_used_seen != idx; rx_used_seen++) {
		const struct vring_used_elem *e = &used->ring[rx_used_seen % RING];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);
		struct vsock_hdr h;

		FUZZ_CHECK(id < RING && rx_posted[id]);
		rx_posted[id] = false;
		FUZZ_CHECK(len <= RX_BUF);
		if (len == 0)
			continue;
		FUZZ_CHECK(len >= VSOCK_HDR_SIZE);
		vsock_hdr_decode(mem + RX_DATA_OFF + (uint64_t)id * RX_BUF, &h);
		FUZZ_CHECK(h.len == len - VSOCK_HDR_SIZE);
		FUZZ_CHECK(h.dst_cid == GUEST_CID);
		/* What the device itself says for the host is never empty data. */
		FUZZ_CHECK(h.src_cid != VMADDR_CID_HOST || h.op != VIRTIO_VSOCK_OP_RW || h.len > 0);
	}
}

/* The guest gives back every used RX buffer and posts up to n more. */
static void guest_rx(struct fuzz_input *in)
{
	unsigned n = fuzz_u8(in) % (RING + 1);

	check_rx_used();
	for (uint16_t id = 0; id < RING && n; id++) {
		if (rx_posted[id])
			continue;
		((struct vring_desc *)(mem + RX_DESC_OFF))[id] =
			desc(RX_DATA_OFF + (uint64_t)id * RX_BUF, RX_BUF, VRING_DESC_F_WRITE, 0);
		rx_posted[id] = true;
		publish(RX_AVAIL_OFF, &rx_avail, id);
		n--;
	}
}

/* The device thread's turn: a kick, whatever the loop has, a pump. */
static void device_turn(void)
{
	struct epoll_event events[64];
	int n = epoll_wait(dev->loop.epfd, events, 64, 0);
	struct conn *c;
	uint64_t charged = 0;

	device_tx_kicked(dev);
	ev_dispatch(events, n > 0 ? n : 0);
	device_pump(dev);
	ev_loop_reap(&dev->loop);
	/* Every TX chain popped went back, or waits in the park. */
	FUZZ_CHECK((uint16_t)(dev->vu.vq[VU_QUEUE_TX].last_avail_idx -
			      dev->vu.vq[VU_QUEUE_TX].used_idx) == dev->park.chains);
	reap_tx_used();
	check_rx_used();
	for (size_t b = 0; b < dev->conns.nbuckets; b++)
		for (c = dev->conns.buckets[b]; c; c = c->hash_next)
			charged += c->charged;
	FUZZ_CHECK(charged == dev->tx_pool.charged);
}

static void host_act(struct fuzz_input *in)
{
	uint8_t what = fuzz_u8(in);
	unsigned i = fuzz_u8(in);
	uint8_t buf[4096];
	uint16_t len;

	if (n_hosts == 0)
		return;
	i %= n_hosts;
	switch (what % 4) {
	case 0:
		len = fuzz_u16(in) % sizeof(buf);
		fuzz_take(in, buf, len);
		send(host[i], buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	case 1:
		while (recv(host[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		break;
	case 2:
		shutdown(host[i], SHUT_WR);
		break;
	case 3:
		close(host[i]);
		host[i] = host[--n_hosts];
		break;
	}
}

/* A host client for a guest port, as a backend hands it over. */
static void host_client(struct fuzz_input *in)
{
	uint32_t port = pick_port(in, 1000);
	uint8_t early[64];
	uint8_t n_early = fuzz_u8(in) % sizeof(early);
	int fd;

	fuzz_take(in, early, n_early);
	uint16_t type = n_early % 4 == 1 ? VIRTIO_VSOCK_TYPE_SEQPACKET : VIRTIO_VSOCK_TYPE_STREAM;

	fd = host_socketpair(type);
	if (fd < 0)
		return;
	if (n_early % 2)
		device_conn_host_connect(dev, fd, port, type);
	else
		device_conn_host_handover(dev, fd, port, type, 0, early, n_early);
}

static void sibling_act(struct fuzz_input *in)
{
	uint8_t payload[256];
	struct iovec iov = {payload, 0};
	struct vsock_hdr h = {
		.src_cid = SIBLING_CID, .dst_cid = GUEST_CID,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .buf_alloc = 65536,
	};

	if (fuzz_u8(in) % 2) {
		drain_sibling();
		return;
	}
	h.src_port = pick_port(in, 5000);
	h.dst_port = pick_port(in, 1000);
	h.op = fuzz_u8(in) % 9;
	iov.iov_len = fuzz_u8(in);
	h.len = (uint32_t)iov.iov_len;
	fuzz_take(in, payload, iov.iov_len);
	router_send(sibling, &h, &iov, 1);
}

/* Every deadline passes: those of host connections awaiting the guest and
 * those of parked packets, and their timers fire at the next turn. */
static void time_passes(void)
{
	struct deadline *d;

	TAILQ_FOREACH(d, &dev->waiting.entries, link)
		d->at_ms = 0;
	if (!TAILQ_EMPTY(&dev->waiting.entries))
		fifo_timer_rearm(&dev->waiting.timer, 1);
	for (unsigned i = 0; i < dev->park.count; i++)
		dev->park.pkt[i].deadline_ms = 0;
	if (dev->park.count)
		fifo_timer_rearm(&dev->park.timer, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = fuzz_input_of(data, size);
	uint8_t flags = fuzz_u8(&in);

	reset(flags);
	while (in.left) {
		switch (fuzz_u8(&in) % OP_COUNT) {
		case OP_PACKET:
			guest_packet(&in, flags);
			break;
		case OP_RUN:
			device_turn();
			break;
		case OP_RX:
			guest_rx(&in);
			break;
		case OP_HOST:
			host_act(&in);
			break;
		case OP_CLIENT:
			host_client(&in);
			break;
		case OP_SIBLING:
			sibling_act(&in);
			break;
		case OP_REWRITE:
			guest_rewrite(&in);
			break;
		case OP_EXPIRE:
			time_passes();
			break;
		}
	}
	device_turn();
	return 0;
}
