/* The HTTP API (--api-socket): what GET /vms and GET /metrics show, checked
 * against configurations and traffic the test knows exactly, and the
 * answers to bad requests.  One daemon serves three VMs: A (cid 3) and B
 * (cid 4, max-connections 1) over Unix sockets, C (cid 5) forwarding to
 * AF_VSOCK cid 1; only A and B get a front-end (the rig). */
#include <endian.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "http_client.h"
#include "pattern.h"
#include "rig_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define ADDRESS_SANITIZER 1
#else
#define ADDRESS_SANITIZER 0
#endif

#define CID_A 3u
#define CID_B 4u
#define CID_C 5u
#define REQUEST_TIMEOUT_MS "300"

struct api_fixture {
	struct rig_daemon d;
	char api[128];
	char sock[3][96], uds[3][96];
	struct rig *a, *b;
};

static int setup(void **state)
{
	struct api_fixture *f = calloc(1, sizeof(*f));
	char vm[3][256];
	const char *argv[10];
	const char *sockets[8];
	int err;

	signal(SIGPIPE, SIG_IGN);
	assert_non_null(f);
	assert_int_equal(rig_daemon_prepare(&f->d), 0);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(f->sock[i], sizeof(f->sock[i]), "%s/vm%u.sock", f->d.dir, CID_A + i);
		snprintf(f->uds[i], sizeof(f->uds[i]), "%s/vm%u.vsock", f->d.dir, CID_A + i);
	}
	snprintf(f->api, sizeof(f->api), "%s/api.sock", f->d.dir);
	snprintf(vm[0], sizeof(vm[0]), "guest-cid=%u,socket=%s,uds-path=%s", CID_A, f->sock[0],
		 f->uds[0]);
	snprintf(vm[1], sizeof(vm[1]), "guest-cid=%u,socket=%s,uds-path=%s,max-connections=1",
		 CID_B, f->sock[1], f->uds[1]);
	snprintf(vm[2], sizeof(vm[2]), "guest-cid=%u,socket=%s,forward-cid=1,groups=x+y", CID_C,
		 f->sock[2]);
	argv[0] = getenv(RIG_DAEMON_ENV);
	argv[1] = "--vm";
	argv[2] = vm[0];
	argv[3] = "--vm";
	argv[4] = vm[1];
	argv[5] = "--vm";
	argv[6] = vm[2];
	argv[7] = "--api-socket";
	argv[8] = f->api;
	argv[9] = NULL;
	sockets[0] = f->sock[0];
	sockets[1] = f->uds[0];
	sockets[2] = f->sock[1];
	sockets[3] = f->uds[1];
	sockets[4] = f->sock[2];
	sockets[5] = f->api;
	sockets[6] = NULL;
	setenv("VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS, 1);
	err = rig_daemon_spawn(&f->d, argv, sockets);
	unsetenv("VHOST_DEVICE_VSOCK_REQUEST_TIMEOUT_MS");
	if (err)
		rig_daemon_dump_log(&f->d);
	assert_int_equal(err, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct api_fixture *f = *state;
	int status;

	rig_destroy(f->a);
	rig_destroy(f->b);
	status = rig_daemon_stop(&f->d, T_MS);
	if (status != 0) {
		fprintf(stderr, "daemon exit status %d\n", status);
		rig_daemon_dump_log(&f->d);
	}
	free(f);
	return status == 0 ? 0 : -1;
}

static struct rig *open_vm(struct api_fixture *f, unsigned i)
{
	struct rig_opts o;
	struct rig *r;

	rig_opts_default(&o);
	o.socket_path = f->sock[i];
	assert_int_equal(rig_open(&r, &o), 0);
	return r;
}

/* GET url, which must answer 200; its body parsed as JSON. */
static json_t *get_json(struct api_fixture *f, const char *url)
{
	struct http_reply r = http_request(f->api, "GET", url, NULL, T_MS);
	json_error_t error;
	json_t *j;

	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, &error);
	if (!j)
		fail_msg("GET %s: not JSON (%s): %s", url, error.text, r.body);
	http_reply_free(&r);
	return j;
}

/* The VM of cid in GET /vms. */
static json_t *vm_of(json_t *vms, unsigned cid)
{
	size_t i;
	json_t *vm;

	json_array_foreach(vms, i, vm) {
		if (json_integer_value(json_object_get(json_object_get(vm, "config"),
						       "guest_cid")) == cid)
			return vm;
	}
	fail_msg("no VM with cid %u in GET /vms", cid);
	return NULL;
}

static long long state_of(json_t *vms, unsigned cid, const char *group, const char *key)
{
	json_t *state = json_object_get(vm_of(vms, cid), "state");
	json_t *v = group ? json_object_get(json_object_get(state, group), key)
			  : json_object_get(state, key);

	if (json_is_boolean(v))
		return json_is_true(v);
	if (!json_is_integer(v))
		fail_msg("state %s.%s of cid %u is missing", group ? group : "", key, cid);
	return json_integer_value(v);
}

static const char *config_str(json_t *vms, unsigned cid, const char *key)
{
	return json_string_value(json_object_get(json_object_get(vm_of(vms, cid), "config"), key));
}

static long long config_int(json_t *vms, unsigned cid, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(vm_of(vms, cid), "config"), key));
}

/* The value of one series in GET /metrics' text: name{cid="N"[,label]}. */
static long long metric(const char *text, const char *name, unsigned cid, const char *label)
{
	char series[256];
	const char *at;
	long long v;

	snprintf(series, sizeof(series), "\n%s{cid=\"%u\"%s%s} ", name, cid, label ? "," : "",
		 label ? label : "");
	at = strstr(text, series);
	if (!at || sscanf(at + strlen(series), "%lld", &v) != 1)
		fail_msg("no series %s in the metrics", series + 1);
	return v;
}

static char *get_metrics(struct api_fixture *f)
{
	struct http_reply r = http_request(f->api, "GET", "/metrics", NULL, T_MS);
	char type[128];

	assert_int_equal(r.status, 200);
	assert_non_null(http_header(&r, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
	free(r.head);
	return r.body;
}

static long long get_state(struct api_fixture *f, unsigned cid, const char *group, const char *key)
{
	json_t *vms = get_json(f, "/vms");
	long long v = state_of(vms, cid, group, key);

	json_decref(vms);
	return v;
}

/* Runs rig (if any) until the API shows group.key == want for cid. */
static void wait_state(struct api_fixture *f, struct rig *rig, unsigned cid, const char *group,
		       const char *key, long long want)
{
	int64_t deadline = rig_now_ms() + T_MS;
	long long v;

	while ((v = get_state(f, cid, group, key)) != want) {
		if (rig_left_ms(deadline) == 0)
			fail_msg("cid %u: %s.%s is %lld, never %lld", cid, group ? group : "", key,
				 v, want);
		if (rig)
			assert_true(rig_poll(rig, NULL, 0, 10) >= 0);
		else
			poll(NULL, 0, 10);
	}
}

/* A's guest connects to a host listener on port (out, the host's end
 * hout), and a host client connects to A's guest on port + 1 (in, hin).
 * Returns the listener. */
static int open_both_ways(struct api_fixture *f, uint32_t port, struct rig_conn **out, int *hout,
			  struct rig_conn **in, int *hin)
{
	int lfd = rig_host_listen(f->uds[0], port);

	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->a, RIG_HOST_CID, port, T_MS, out), 0);
	*hout = rig_host_accept(f->a, lfd, T_MS);
	assert_true(*hout >= 0);
	assert_int_equal(rig_listen(f->a, port + 1), 0);
	*hin = rig_host_open(f->a, f->uds[0], port + 1, in, T_MS);
	assert_true(*hin >= 0);
	return lfd;
}

/* ---- GET /vms ------------------------------------------------------------- */

/* Each VM's configuration is shown with its --vm keys, defaults filled in. */
static void test_vms_show_each_configuration(void **state)
{
	struct api_fixture *f = *state;
	json_t *vms = get_json(f, "/vms"), *groups;

	assert_int_equal(json_array_size(vms), 3);
	assert_string_equal(config_str(vms, CID_A, "socket"), f->sock[0]);
	assert_string_equal(config_str(vms, CID_A, "uds_path"), f->uds[0]);
	assert_int_equal(config_int(vms, CID_A, "tx_buffer_size"), 262144);
	assert_int_equal(config_int(vms, CID_A, "queue_size"), 1024);
	/* An automatic share, split: a quarter for handshakes (fd_budget.c). */
	{
		long long hs = config_int(vms, CID_A, "max_handshakes");
		long long conns = config_int(vms, CID_A, "max_connections");

		assert_true(hs > 0 && hs <= 1024);
		assert_true(conns >= 3 * hs && conns <= 3 * hs + 3);
	}
	assert_string_equal(config_str(vms, CID_A, "socket_mode"), "0600");
	assert_int_equal(config_int(vms, CID_B, "max_connections"), 1);
	assert_int_equal(config_int(vms, CID_C, "forward_cid"), 1);
	assert_null(json_object_get(json_object_get(vm_of(vms, CID_C), "config"), "uds_path"));
	groups = json_object_get(json_object_get(vm_of(vms, CID_C), "config"), "groups");
	assert_int_equal(json_array_size(groups), 2);
	assert_string_equal(json_string_value(json_array_get(groups, 0)), "x");
	assert_string_equal(json_string_value(json_array_get(groups, 1)), "y");
	json_decref(vms);
}

/* The live state follows the VMM, the connections and the bytes moved. */
static void test_vms_show_live_state(void **state)
{
	struct api_fixture *f = *state;
	static char g2h[1000], h2g[2500], buf[2500];
	struct rig_conn *out, *in;
	json_t *vms = get_json(f, "/vms");
	int lfd, hout, hin;

	assert_int_equal(state_of(vms, CID_A, NULL, "vmm_connected"), 0);
	json_decref(vms);
	f->a = open_vm(f, 0);
	wait_state(f, f->a, CID_A, NULL, "vmm_connected", 1);

	lfd = open_both_ways(f, 6000, &out, &hout, &in, &hin);
	wait_state(f, f->a, CID_A, "connections", "established", 2);

	memset(g2h, 'g', sizeof(g2h));
	memset(h2g, 'h', sizeof(h2g));
	assert_int_equal(rig_send_all(f->a, out, g2h, sizeof(g2h), T_MS), 0);
	assert_int_equal(rig_host_read_full(f->a, hout, buf, sizeof(g2h), T_MS), sizeof(g2h));
	assert_int_equal(rig_host_write_all(f->a, hin, h2g, sizeof(h2g), T_MS), 0);
	assert_int_equal(rig_recv_wait(f->a, in, buf, sizeof(h2g), T_MS), sizeof(h2g));
	vms = get_json(f, "/vms");
	assert_int_equal(state_of(vms, CID_A, "payload_bytes", "guest_to_host"), sizeof(g2h));
	assert_int_equal(state_of(vms, CID_A, "payload_bytes", "host_to_guest"), sizeof(h2g));
	assert_int_equal(state_of(vms, CID_B, "payload_bytes", "guest_to_host"), 0);
	json_decref(vms);

	/* Closed both ways: the connections leave the count. */
	rig_close(f->a, out);
	close(hout);
	rig_close(f->a, in);
	close(hin);
	wait_state(f, f->a, CID_A, "connections", "established", 0);
	close(lfd);

	rig_destroy(f->a);
	f->a = NULL;
	wait_state(f, NULL, CID_A, NULL, "vmm_connected", 0);
}

/* ---- GET /metrics --------------------------------------------------------- */

/* Each metric A counts, moved by exactly one event of the test. */
static long long metric_a(struct api_fixture *f, const char *name, const char *label)
{
	char *text = get_metrics(f);
	long long v = metric(text, name, CID_A, label);

	free(text);
	return v;
}

#define M "vhost_device_vsock_"

struct counted {
	const char *name, *label;
	long long before;
};

/* Snapshots the counter, for counted_rose(). */
static struct counted counted(struct api_fixture *f, const char *name, const char *label)
{
	return (struct counted){name, label, metric_a(f, name, label)};
}

/* Waits until the counter rose by exactly by (it may take a pass of the
 * device thread), and checks that it stays there. */
static void counted_rose(struct api_fixture *f, const struct counted *c, long long by)
{
	int64_t deadline = rig_now_ms() + T_MS;
	long long v;

	while ((v = metric_a(f, c->name, c->label)) < c->before + by) {
		if (rig_left_ms(deadline) == 0)
			break;
		assert_true(rig_poll(f->a, NULL, 0, 10) >= 0);
	}
	for (int i = 0; i < 5; i++)
		assert_true(rig_poll(f->a, NULL, 0, 5) >= 0);
	v = metric_a(f, c->name, c->label);
	if (v != c->before + by)
		fail_msg("%s{%s} went from %lld to %lld, not up by %lld", c->name,
			 c->label ? c->label : "", c->before, v, by);
}

/* A raw REQUEST of type from A to the host's port, whose RST arrives as a
 * stray (the rig has no such connection). */
static void raw_request(struct api_fixture *f, uint16_t type, uint32_t port)
{
	struct rig_hdr h = {
		.src_cid = CID_A, .dst_cid = RIG_HOST_CID, .src_port = 50000 + port,
		.dst_port = port, .type = type, .op = VIRTIO_VSOCK_OP_REQUEST, .buf_alloc = 65536,
	};
	struct rig_hdr rst;

	send_pkt_waiting(f->a, &h, NULL, 0);
	assert_int_equal(rig_wait_stray(f->a, &rst, T_MS), 0);
	assert_int_equal(rst.op, VIRTIO_VSOCK_OP_RST);
}

/* A host client on A's uds-path that sends line, then waits for the
 * daemon to close it. */
static void host_client_closed(struct api_fixture *f, const char *line)
{
	int fd = rig_host_connect(f->uds[0]);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	assert_int_equal(rig_host_wait_eof(f->a, fd, T_MS), 0);
	close(fd);
}

static void test_metrics_count_refusals(void **state)
{
	struct api_fixture *f = *state;
	struct counted c;
	int lfd, fd;

	f->a = open_vm(f, 0);
	/* Nobody listens on the host's port: no_listener, and an RST. */
	c = counted(f, M "connections_refused_total", "reason=\"no_listener\"");
	{
		struct counted rst = counted(f, M "rst_sent_total", NULL);
		struct rig_conn *conn;

		assert_int_equal(rig_connect(f->a, RIG_HOST_CID, 7000, T_MS, &conn), -ECONNRESET);
		counted_rose(f, &c, 1);
		counted_rose(f, &rst, 1);
	}
	/* A stream listener refuses a seqpacket connection. */
	lfd = rig_host_listen(f->uds[0], 7001);
	assert_true(lfd >= 0);
	c = counted(f, M "connections_refused_total", "reason=\"socket_type\"");
	raw_request(f, VIRTIO_VSOCK_TYPE_SEQPACKET, 7001);
	counted_rose(f, &c, 1);
	close(lfd);
	/* A host client's bad CONNECT line. */
	c = counted(f, M "connections_refused_total", "reason=\"handshake\"");
	host_client_closed(f, "CONNECT nope\n");
	counted_rose(f, &c, 1);
	/* The guest has no listener on the port a host client asks for. */
	c = counted(f, M "connections_refused_total", "reason=\"no_listener\"");
	host_client_closed(f, "CONNECT 7002\n");
	counted_rose(f, &c, 1);
	/* The guest does not answer within the request timeout (its RX is
	 * frozen: it never sees the REQUEST). */
	c = counted(f, M "connections_refused_total", "reason=\"timeout\"");
	rig_freeze_rx(f->a, true);
	fd = rig_host_connect(f->uds[0]);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "CONNECT 7003\n", 13), 13);
	wait_state(f, NULL, CID_A, "connections", "requesting", 1);
	assert_int_equal(rig_host_wait_eof(f->a, fd, T_MS), 0);
	close(fd);
	counted_rose(f, &c, 1);
	/* Its RST went into one of the buffers the guest had posted: no
	 * connection is left in any state. */
	assert_int_equal(get_state(f, CID_A, "connections", "requesting"), 0);
	assert_int_equal(get_state(f, CID_A, "connections", "closing"), 0);
	rig_freeze_rx(f->a, false);
}

static void test_metrics_count_budgets_and_traffic(void **state)
{
	struct api_fixture *f = *state;
	struct rig_conn *out, *in, *second;
	struct counted opened_g, opened_h, rst_in, bad;
	char *text;
	int lfd, hout, hin;

	f->a = open_vm(f, 0);
	f->b = open_vm(f, 1);
	/* B's max-connections is 1: its second connection is refused. */
	lfd = rig_host_listen(f->uds[1], 7100);
	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->b, RIG_HOST_CID, 7100, T_MS, &out), 0);
	assert_int_equal(rig_connect(f->b, RIG_HOST_CID, 7100, T_MS, &second), -ECONNRESET);
	text = get_metrics(f);
	assert_int_equal(metric(text, M "connections_refused_total", CID_B, "reason=\"budget\""), 1);
	assert_int_equal(metric(text, M "budget_refusals_total", CID_B,
				"budget=\"max_connections\""), 1);
	assert_int_equal(metric(text, M "connections_opened_total", CID_B,
				"initiator=\"guest\""), 1);
	assert_int_equal(metric(text, M "connections", CID_B, "state=\"established\""), 1);
	free(text);
	close(lfd);

	/* A opens one connection each way, then resets one (guest RST). */
	opened_g = counted(f, M "connections_opened_total", "initiator=\"guest\"");
	opened_h = counted(f, M "connections_opened_total", "initiator=\"host\"");
	rst_in = counted(f, M "rst_received_total", NULL);
	lfd = open_both_ways(f, 7200, &out, &hout, &in, &hin);
	counted_rose(f, &opened_g, 1);
	counted_rose(f, &opened_h, 1);
	rig_abort(f->a, out);
	assert_int_equal(rig_host_wait_eof(f->a, hout, T_MS), 0);
	counted_rose(f, &rst_in, 1);
	close(hout);
	close(hin);
	close(lfd);

	/* A TX chain that points outside guest memory. */
	bad = counted(f, M "malformed_chains_total", NULL);
	{
		struct vring_desc d = {.addr = htole64(rig_mem_unmapped_gpa(&f->a->mem)),
				       .len = htole32(44)};
		int head = rig_post_raw(f->a, 1, &d, 1);

		assert_true(head >= 0);
		assert_int_equal(rig_wait_raw(f->a, 1, head, NULL, T_MS), 0);
	}
	counted_rose(f, &bad, 1);
	f->a->stats.violations = 0;
}

/* Mail for a VM without a VMM waits in its mailbox: the gauge shows it. */
static void test_metrics_show_mailbox_depth(void **state)
{
	struct api_fixture *f = *state;
	int64_t deadline = rig_now_ms() + T_MS;
	char *text;

	f->a = open_vm(f, 0);
	for (unsigned i = 0; i < 5; i++) {
		struct rig_hdr h = {
			.src_cid = CID_A, .dst_cid = CID_B, .src_port = 40000 + i,
			.dst_port = 41000, .type = VIRTIO_VSOCK_TYPE_STREAM,
			.op = VIRTIO_VSOCK_OP_RW, .buf_alloc = 65536,
		};

		send_pkt_waiting(f->a, &h, NULL, 0);
	}
	wait_tx_used(f->a);
	for (;;) {
		long long depth;

		text = get_metrics(f);
		depth = metric(text, M "mailbox_packets", CID_B, NULL);
		free(text);
		if (depth == 5)
			break;
		if (rig_left_ms(deadline) == 0)
			fail_msg("B's mailbox shows %lld packets, not 5", depth);
		assert_true(rig_poll(f->a, NULL, 0, 10) >= 0);
	}
	text = get_metrics(f);
	assert_int_equal(metric(text, M "mailbox_packets", CID_A, NULL), 0);
	free(text);
}

/* The process's series, and promtool's verdict on the whole text. */
static void test_metrics_pass_promtool(void **state)
{
	struct api_fixture *f = *state;
	char *text, *line;
	long long fds;
	FILE *p;
	int status, outside;

	f->a = open_vm(f, 0);
	text = get_metrics(f);
	line = strstr(text, "\n" M "vms ");
	assert_non_null(line);
	assert_int_equal(atoi(line + strlen("\n" M "vms ")), 3);
	line = strstr(text, "\n" M "open_fds ");
	assert_non_null(line);
	fds = atoll(line + strlen("\n" M "open_fds "));
	outside = rig_daemon_fd_count(&f->d);
	/* The API counted while it held our request's socket. */
	if (fds < outside - 1 || fds > outside + 1)
		fail_msg("open_fds says %lld, /proc/PID/fd has %d", fds, outside);
	p = popen("promtool check metrics", "w");
	assert_non_null(p);
	fputs(text, p);
	status = pclose(p);
	if (status != 0)
		fail_msg("promtool check metrics (Debian package prometheus; scripts/install-deps.sh "
			 "test) refused the metrics or is missing: status %d\n%s", status, text);
	free(text);
}

/* ---- Bad requests --------------------------------------------------------- */

static void assert_error(struct http_reply *r, int status, const char *says)
{
	json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
	char type[64];

	if (r->status != status)
		fail_msg("status %d, not %d: %s", r->status, status, r->body ? r->body : "");
	assert_non_null(http_header(r, "Content-Type", type, sizeof(type)));
	assert_string_equal(type, "application/json");
	assert_non_null(j);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), says));
	json_decref(j);
	http_reply_free(r);
}

static void test_bad_requests_get_json_errors(void **state)
{
	struct api_fixture *f = *state;
	static char big[70 * 1024];
	struct http_reply r;
	char allow[64], *raw;
	int n;

	r = http_request(f->api, "GET", "/nope", NULL, T_MS);
	assert_error(&r, 404, "no such path: /nope");
	r = http_request(f->api, "GET", "/vms/", NULL, T_MS);
	assert_error(&r, 404, "no such path");
	/* A path that is not UTF-8 is quoted as ASCII, in valid JSON. */
	r = http_request(f->api, "GET", "/%ff%c3", NULL, T_MS);
	assert_error(&r, 404, "no such path: /??");
	r = http_request(f->api, "POST", "/vms", "{}", T_MS);
	assert_non_null(http_header(&r, "Allow", allow, sizeof(allow)));
	assert_string_equal(allow, "GET, HEAD, PUT");
	assert_error(&r, 405, "/vms takes GET, HEAD, PUT, not POST");
	r = http_request(f->api, "DELETE", "/metrics", NULL, T_MS);
	assert_error(&r, 405, "/metrics takes GET, HEAD, not DELETE");
	/* A body over 64 KiB: announced (refused before it is sent) or
	 * chunked (read, dropped, then refused). */
	r = http_raw(f->api, "PUT /vms HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n",
		     strlen("PUT /vms HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n"), T_MS);
	assert_error(&r, 413, "larger than 65536 bytes");
	memset(big, 'x', sizeof(big));
	n = asprintf(&raw, "PUT /vms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		     "Connection: close\r\n\r\n%zx\r\n%.*s\r\n0\r\n\r\n", sizeof(big),
		     (int)sizeof(big), big);
	assert_true(n > 0);
	r = http_raw(f->api, raw, (size_t)n, T_MS);
	free(raw);
	assert_error(&r, 413, "larger than 65536 bytes");
	/* HEAD: the headers of GET, no body. */
	r = http_request(f->api, "HEAD", "/vms", NULL, T_MS);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	http_reply_free(&r);
	/* Not HTTP at all. */
	r = http_raw(f->api, "\x01\x02 garbage\r\n\r\n", 14, T_MS);
	assert_int_equal(r.status, 400);
	http_reply_free(&r);
	assert_true(rig_daemon_alive(&f->d));
	r = http_request(f->api, "GET", "/vms", NULL, T_MS);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
}

/* Each connection with its ports, type, state, bytes and credit, as the
 * device thread sees it. */
static void test_connections_show_each_connection(void **state)
{
	struct api_fixture *f = *state;
	static char g2h[3000], h2g[1200], buf[3000];
	struct rig_conn *out, *in;
	json_t *list, *c, *other;
	int lfd, hout, hin;
	struct http_reply r;

	f->a = open_vm(f, 0);
	lfd = open_both_ways(f, 6100, &out, &hout, &in, &hin);
	assert_int_equal(rig_send_all(f->a, out, g2h, sizeof(g2h), T_MS), 0);
	assert_int_equal(rig_host_read_full(f->a, hout, buf, sizeof(g2h), T_MS), sizeof(g2h));
	assert_int_equal(rig_host_write_all(f->a, hin, h2g, sizeof(h2g), T_MS), 0);
	assert_int_equal(rig_recv_wait(f->a, in, buf, sizeof(h2g), T_MS), sizeof(h2g));

	list = get_json(f, "/vms/3/connections");
	assert_int_equal(json_array_size(list), 2);
	c = json_array_get(list, 0);
	other = json_array_get(list, 1);
	if (json_integer_value(json_object_get(c, "host_port")) != 6100) {
		json_t *swap = c;

		c = other;
		other = swap;
	}
	/* The guest's connection to host port 6100. */
	assert_int_equal(json_integer_value(json_object_get(c, "host_port")), 6100);
	assert_int_equal(json_integer_value(json_object_get(c, "guest_port")), out->local_port);
	assert_string_equal(json_string_value(json_object_get(c, "type")), "stream");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "established");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(c, "payload_bytes"), "guest_to_host")),
			 sizeof(g2h));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "credit"),
							    "guest_buf_alloc")),
			 f->a->opts.buf_alloc);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "credit"),
							    "buffered")),
			 0);
	assert_true(json_integer_value(json_object_get(json_object_get(c, "credit"),
						       "from_guest")) > 0);
	/* The host client's connection to guest port 6101. */
	assert_int_equal(json_integer_value(json_object_get(other, "guest_port")), 6101);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(other, "payload_bytes"), "host_to_guest")),
			 sizeof(h2g));
	json_decref(list);

	/* A VM without connections, a CID nobody has, a path that is not one. */
	list = get_json(f, "/vms/5/connections");
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	r = http_request(f->api, "GET", "/vms/99/connections", NULL, T_MS);
	assert_error(&r, 404, "no VM with cid 99");
	r = http_request(f->api, "GET", "/vms/3x/connections", NULL, T_MS);
	assert_error(&r, 404, "no such path");
	r = http_request(f->api, "GET", "/vms/99999999999/connections", NULL, T_MS);
	assert_error(&r, 404, "no such path");
	r = http_request(f->api, "POST", "/vms/3/connections", NULL, T_MS);
	assert_error(&r, 405, "takes GET");

	rig_close(f->a, out);
	rig_close(f->a, in);
	close(hout);
	close(hin);
	close(lfd);
}

/* ---- PUT /vms ---------------------------------------------------------------- */

/* Sends method url with body; returns the status, the reply freed. */
static int status_of(struct api_fixture *f, const char *method, const char *url,
		     const char *body)
{
	struct http_reply r = http_request(f->api, method, url, body, T_MS);
	int status = r.status;

	http_reply_free(&r);
	return status;
}

static int put_vm(struct api_fixture *f, const char *body)
{
	return status_of(f, "PUT", "/vms", body);
}

/* A VM added at run time serves at once: its sockets exist when the answer
 * comes, its guest reaches the host and its siblings, and it leaves again
 * with DELETE. */
static void test_put_adds_a_vm_that_serves_at_once(void **state)
{
	struct api_fixture *f = *state;
	char sock[128], uds[128], body[512], buf[5];
	struct rig_conn *out, *sib, *acc;
	struct http_reply r;
	struct rig_opts o;
	struct rig *d;
	json_t *vm;
	int lfd, hfd;

	snprintf(sock, sizeof(sock), "%s/vm6.sock", f->d.dir);
	snprintf(uds, sizeof(uds), "%s/vm6.vsock", f->d.dir);
	snprintf(body, sizeof(body),
		 "{\"guest_cid\": 6, \"socket\": \"%s\", \"uds_path\": \"%s\", "
		 "\"groups\": [\"default\", \"g2\"], \"tx_buffer_size\": 65536}", sock, uds);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_int_equal(r.status, 201);
	vm = json_loads(r.body, 0, NULL);
	assert_non_null(vm);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(vm, "config"),
							    "tx_buffer_size")),
			 65536);
	json_decref(vm);
	http_reply_free(&r);
	assert_int_equal(access(sock, F_OK), 0);
	assert_int_equal(access(uds, F_OK), 0);

	/* Its guest talks to the host and to A, a sibling in "default". */
	rig_opts_default(&o);
	o.socket_path = sock;
	assert_int_equal(rig_open(&d, &o), 0);
	lfd = rig_host_listen(uds, 7400);
	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(d, RIG_HOST_CID, 7400, T_MS, &out), 0);
	hfd = rig_host_accept(d, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(rig_send_all(d, out, "hello", 5, T_MS), 0);
	assert_int_equal(rig_host_read_full(d, hfd, buf, 5, T_MS), 5);
	assert_memory_equal(buf, "hello", 5);
	f->a = open_vm(f, 0);
	assert_int_equal(rig_listen(f->a, 7500), 0);
	assert_int_equal(rig_connect_start(d, CID_A, 7500, &sib), 0);
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (sib->state != RIG_CONN_CONNECTED) {
			assert_true(rig_left_ms(deadline) > 0);
			assert_true(rig_poll(d, NULL, 0, 1) >= 0);
			assert_true(rig_poll(f->a, NULL, 0, 1) >= 0);
		}
		assert_int_equal(rig_accept(f->a, 7500, T_MS, &acc), 0);
	}
	assert_int_equal(get_state(f, 6, "connections", "established"), 1);

	r = http_request(f->api, "DELETE", "/vms/6", NULL, T_MS);
	assert_int_equal(r.status, 204);
	http_reply_free(&r);
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(access(uds, F_OK), -1);
	{
		char seqpacket[160];

		snprintf(seqpacket, sizeof(seqpacket), "%s_seqpacket", uds);
		assert_int_equal(access(seqpacket, F_OK), -1);
	}
	assert_int_equal(rig_host_wait_eof(f->a, hfd, T_MS), 0);
	/* A's end of the sibling connection hears of it at its next packet:
	 * the router answers for the VM that is gone. */
	assert_int_equal(rig_send_all(f->a, acc, "x", 1, T_MS), 0);
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (acc->error != -ECONNRESET) {
			assert_true(rig_left_ms(deadline) > 0);
			assert_true(rig_poll(f->a, NULL, 0, 10) >= 0);
		}
	}
	close(hfd);
	close(lfd);
	rig_destroy(d);
}

/* What --vm refuses, PUT refuses with the same message (400); what clashes
 * with a VM served is a conflict (409). */
static void test_put_refuses_what_start_up_refuses(void **state)
{
	struct api_fixture *f = *state;
	char body[512], vm6[256];
	struct http_reply r;

	snprintf(vm6, sizeof(vm6), "\"socket\": \"%s/vm6.sock\", \"uds_path\": \"%s/vm6.vsock\"",
		 f->d.dir, f->d.dir);
	r = http_request(f->api, "PUT", "/vms", "{\"guest_cid\": ", T_MS);
	assert_error(&r, 400, "the body is not JSON");
	r = http_request(f->api, "PUT", "/vms", "{\"guest_cid\": 6, \"guest_cid\": 7}", T_MS);
	assert_error(&r, 400, "duplicate object key");
	r = http_request(f->api, "PUT", "/vms", "[1, 2]", T_MS);
	assert_error(&r, 400, "PUT /vms: expected a JSON object of --vm keys");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, %s, \"tx_buffer_size\": 12}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "PUT /vms: tx_buffer_size: 12 is outside 4096..67108864");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, %s, \"colour\": \"red\"}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "PUT /vms: colour: unknown key (valid: guest_cid,");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"fd\": 3, \"uds_path\": \"/x\"}");
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "fd: inherited sockets exist only at start-up");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, %s, \"queue_size\": true}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "queue_size: expected a string or a number");
	snprintf(body, sizeof(body), "{\"guest_cid\": 2, %s}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "guest_cid: 2 is reserved (VMADDR_CID_HOST)");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s/vm6.sock\"}", f->d.dir);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 400, "needs uds-path (Unix socket backend) or forward-cid");

	/* Conflicts with the VMs served, and with the API socket. */
	snprintf(body, sizeof(body), "{\"guest_cid\": 4, %s}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "PUT /vms (cid 4): guest-cid: 4 is already used by cid 4");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s\", \"uds_path\": "
		 "\"%s/vm6.vsock\"}", f->sock[0], f->d.dir);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "is already the socket of cid 3");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s\", \"uds_path\": "
		 "\"%s/vm6.vsock\"}", f->api, f->d.dir);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "is the API socket");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, %s, \"max_connections\": 1000000}", vm6);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "open files but the limit (RLIMIT_NOFILE)");

	/* Another spelling of a path somebody listens on: another VM's, the
	 * API's, a VM's seqpacket listener. */
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s/.%s\", "
		 "\"uds_path\": \"%s/vm6.vsock\"}", f->d.dir, strrchr(f->sock[0], '/'), f->d.dir);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "somebody listens on");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s//api.sock\", "
		 "\"uds_path\": \"%s/vm6.vsock\"}", f->d.dir, f->d.dir);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "somebody listens on");
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s/vm6.sock\", "
		 "\"uds_path\": \"%s_seqpacket\"}", f->d.dir, f->uds[0]);
	r = http_request(f->api, "PUT", "/vms", body, T_MS);
	assert_error(&r, 409, "somebody listens on");
	assert_int_equal(access(f->sock[0], F_OK), 0);
	assert_true(rig_daemon_alive(&f->d));

	/* Nothing of them was left behind, and a valid one still goes in. */
	assert_int_equal(access(f->sock[0], F_OK), 0);
	/* A socket group by name is looked up at run time, as at start-up
	 * (under the system-call filter). */
	snprintf(body, sizeof(body), "{\"guest_cid\": 6, %s, \"socket_group\": \"root\"}", vm6);
	assert_int_equal(put_vm(f, body), 201);
	assert_int_equal(put_vm(f, body), 409);
	{
		struct stat st;
		char path[160];

		snprintf(path, sizeof(path), "%s/vm6.sock", f->d.dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_gid, 0);
		assert_int_equal(st.st_mode & 0777, 0660);
	}
	{
		json_t *vms = get_json(f, "/vms");

		assert_int_equal(json_array_size(vms), 4);
		json_decref(vms);
	}
}

/* The daemon's fd count once it stops moving (the API closes a client's
 * socket after the client has read the answer: it may still be open). */
static int settled_fd_count(struct api_fixture *f)
{
	int64_t deadline = rig_now_ms() + T_MS;
	int n = rig_daemon_fd_count(&f->d), same = 0;

	while (same < 5 && rig_left_ms(deadline) > 0) {
		int now;

		poll(NULL, 0, 20);
		now = rig_daemon_fd_count(&f->d);
		same = now == n ? same + 1 : 0;
		n = now;
	}
	return n;
}

/* Every hundredth cycle the VM has a VMM and a connection to the host when
 * it goes: the teardown that resets connections runs too. */
static void connect_vm6(struct api_fixture *f, int lfd)
{
	char sock[128];
	struct rig_conn *c;
	struct rig_opts o;
	struct rig *r;
	int hfd;

	snprintf(sock, sizeof(sock), "%s/vm6.sock", f->d.dir);
	rig_opts_default(&o);
	o.socket_path = sock;
	assert_int_equal(rig_open(&r, &o), 0);
	assert_int_equal(rig_connect(r, RIG_HOST_CID, 7600, T_MS, &c), 0);
	hfd = rig_host_accept(r, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(status_of(f, "DELETE", "/vms/6", NULL), 204);
	assert_int_equal(rig_host_wait_eof(r, hfd, T_MS), 0);
	close(hfd);
	rig_destroy(r);
}

/* Adding and removing a VM a thousand times leaves the daemon as it was:
 * the same descriptors, no memory growth past noise. */
static void test_add_remove_cycles_leak_nothing(void **state)
{
	struct api_fixture *f = *state;
	char body[512];
	long rss_before, rss_after;
	int fds_before, fds_after;

	snprintf(body, sizeof(body), "{\"guest_cid\": 6, \"socket\": \"%s/vm6.sock\", "
		 "\"uds_path\": \"%s/vm6.vsock\"}", f->d.dir, f->d.dir);
	/* Warm-up: malloc's arenas and the thread stacks' cache settle. */
	for (int i = 0; i < 50; i++) {
		assert_int_equal(put_vm(f, body), 201);
		assert_int_equal(status_of(f, "DELETE", "/vms/6", NULL), 204);
	}
	fds_before = settled_fd_count(f);
	rss_before = process_rss_anon_kib(f->d.pid);
	for (int i = 0; i < 1000; i++) {
		int put = put_vm(f, body), del;

		if (put != 201)
			fail_msg("cycle %d: PUT answered %d", i, put);
		if (i % 100 == 99) {
			char uds[128];
			int lfd;

			snprintf(uds, sizeof(uds), "%s/vm6.vsock", f->d.dir);
			lfd = rig_host_listen(uds, 7600);
			assert_true(lfd >= 0);
			connect_vm6(f, lfd);
			close(lfd);
			continue;
		}
		del = status_of(f, "DELETE", "/vms/6", NULL);
		if (del != 204)
			fail_msg("cycle %d: DELETE answered %d", i, del);
	}
	fds_after = settled_fd_count(f);
	rss_after = process_rss_anon_kib(f->d.pid);
	assert_int_equal(fds_after, fds_before);
	/* AddressSanitizer's quarantine holds freed memory back; there
	 * LeakSanitizer checks the daemon's memory when it exits. */
	if (!ADDRESS_SANITIZER && rss_after > rss_before + 1024)
		fail_msg("anonymous memory grew from %ld to %ld KiB over 1000 cycles", rss_before,
			 rss_after);
}

/* ---- DELETE /vms/<cid> ------------------------------------------------------ */

/* B's guest sends len bytes of the pattern from offset to its host peer,
 * which checks them. */
static void b_transfer(struct api_fixture *f, struct rig_conn *c, int hfd, uint64_t offset,
		       size_t len)
{
	static uint8_t buf[64 * 1024];

	for (size_t done = 0; done < len; done += sizeof(buf)) {
		pattern_fill(7, offset + done, buf, sizeof(buf));
		assert_int_equal(rig_send_all(f->b, c, buf, sizeof(buf), T_MS), 0);
		assert_int_equal(rig_host_read_full(f->b, hfd, buf, sizeof(buf), T_MS),
				 sizeof(buf));
		assert_int_equal(pattern_check(7, offset + done, buf, sizeof(buf)), sizeof(buf));
	}
}

/* Deleting A resets its connections both ways, removes its sockets, and
 * makes B's packets for it bounce; B's transfer to its host goes on
 * byte for byte meanwhile. */
static void test_delete_stops_one_vm_only(void **state)
{
	struct api_fixture *f = *state;
	struct rig_conn *out, *in, *bc, *to_a;
	int lfd, hout, hin, blfd, bh;
	char seqpacket[128], buf[8];
	struct http_reply r;
	json_t *vms;
	char *text;

	f->a = open_vm(f, 0);
	f->b = open_vm(f, 1);
	lfd = open_both_ways(f, 6200, &out, &hout, &in, &hin);
	blfd = rig_host_listen(f->uds[1], 6300);
	assert_true(blfd >= 0);
	assert_int_equal(rig_connect(f->b, RIG_HOST_CID, 6300, T_MS, &bc), 0);
	bh = rig_host_accept(f->b, blfd, T_MS);
	assert_true(bh >= 0);
	b_transfer(f, bc, bh, 0, 1 << 20);

	r = http_request(f->api, "DELETE", "/vms/3", NULL, T_MS);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	http_reply_free(&r);

	/* A's guest got an RST for each connection, its host peers an EOF,
	 * its socket files are gone. */
	{
		int64_t deadline = rig_now_ms() + T_MS;

		while (out->error != -ECONNRESET || in->error != -ECONNRESET) {
			if (rig_left_ms(deadline) == 0)
				fail_msg("A's guest saw no RST (%d, %d)", out->error, in->error);
			rig_poll(f->a, NULL, 0, 10);
		}
	}
	assert_int_equal(rig_host_wait_eof(f->b, hout, T_MS), 0);
	assert_int_equal(rig_host_wait_eof(f->b, hin, T_MS), 0);
	snprintf(seqpacket, sizeof(seqpacket), "%s_seqpacket", f->uds[0]);
	assert_int_equal(access(f->sock[0], F_OK), -1);
	assert_int_equal(access(f->uds[0], F_OK), -1);
	assert_int_equal(access(seqpacket, F_OK), -1);

	/* B goes on, and its packets for A bounce. */
	b_transfer(f, bc, bh, 1 << 20, 1 << 20);
	assert_int_equal(rig_connect(f->b, CID_A, 7000, T_MS, &to_a), -ECONNRESET);
	assert_int_equal(rig_recv(f->b, bc, buf, sizeof(buf)), -EAGAIN);

	/* A is gone from the API. */
	vms = get_json(f, "/vms");
	assert_int_equal(json_array_size(vms), 2);
	json_decref(vms);
	text = get_metrics(f);
	assert_null(strstr(text, "cid=\"3\""));
	assert_non_null(strstr(text, "\n" M "vms 2\n"));
	free(text);
	r = http_request(f->api, "DELETE", "/vms/3", NULL, T_MS);
	assert_error(&r, 404, "no VM with cid 3");
	r = http_request(f->api, "GET", "/vms/3/connections", NULL, T_MS);
	assert_error(&r, 404, "no VM with cid 3");
	r = http_request(f->api, "GET", "/vms/4", NULL, T_MS);
	assert_error(&r, 405, "takes DELETE, not GET");

	close(hout);
	close(hin);
	close(lfd);
	close(bh);
	close(blfd);
}

/* Clients that connect and say nothing take the API's places, never the
 * devices' time: A serves meanwhile, and the API answers once they go. */
static void test_idle_clients_do_not_stall_the_devices(void **state)
{
	struct api_fixture *f = *state;
	int idle[40], lfd, hfd;
	struct rig_conn *conn;
	struct http_reply r;

	for (unsigned i = 0; i < 40; i++) {
		idle[i] = rig_host_connect(f->api);
		assert_true(idle[i] >= 0);
	}
	f->a = open_vm(f, 0);
	lfd = rig_host_listen(f->uds[0], 7300);
	assert_true(lfd >= 0);
	assert_int_equal(rig_connect(f->a, RIG_HOST_CID, 7300, T_MS, &conn), 0);
	hfd = rig_host_accept(f->a, lfd, T_MS);
	assert_true(hfd >= 0);
	close(hfd);
	close(lfd);
	for (unsigned i = 0; i < 40; i++)
		close(idle[i]);
	r = http_request(f->api, "GET", "/vms", NULL, T_MS);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_vms_show_each_configuration),
		T(test_vms_show_live_state),
		T(test_metrics_count_refusals),
		T(test_metrics_count_budgets_and_traffic),
		T(test_metrics_show_mailbox_depth),
		T(test_metrics_pass_promtool),
		T(test_bad_requests_get_json_errors),
		T(test_connections_show_each_connection),
		T(test_delete_stops_one_vm_only),
		T(test_put_adds_a_vm_that_serves_at_once),
		T(test_put_refuses_what_start_up_refuses),
		T(test_add_remove_cycles_leak_nothing),
		T(test_idle_clients_do_not_stall_the_devices),
#undef T
	};

	if (getenv("RIG_TEST_FILTER"))
		cmocka_set_test_filter(getenv("RIG_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
