/* The vsock-guest tool, run as a user would run it: the real daemon, the
 * real tool binary ($VSOCK_GUEST) in a child process with its stdin,
 * stdout and stderr on pipes, and host peers on the daemon's Unix sockets.
 * Every command of its --help is exercised as documented in the README. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rig_test.h"

#define TOOL_ENV "VSOCK_GUEST"
#define PORT 1234
#define HOST_PORT 5000
#define OUT_CAP 4096

struct tool {
	pid_t pid;
	int pidfd;
	int in, out, err; /* our ends of its stdin, stdout, stderr */
	char out_text[OUT_CAP], err_text[OUT_CAP];
	size_t out_len, err_len;
};

/* Starts the tool with args (NULL-terminated, after the program name). */
static void tool_start(struct tool *t, const char *const *args)
{
	const char *bin = getenv(TOOL_ENV);
	const char *argv[16] = {bin};
	int pin[2], pout[2], perr[2];
	unsigned n = 1;

	assert_non_null(bin);
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	assert_int_equal(pipe2(pin, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pout, O_CLOEXEC), 0);
	assert_int_equal(pipe2(perr, O_CLOEXEC), 0);
	memset(t, 0, sizeof(*t));
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	t->in = pin[1];
	t->out = pout[0];
	t->err = perr[0];
	t->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	assert_true(t->pidfd >= 0);
}

/* Appends what fd has to text; returns false at EOF. */
static bool drain(int fd, char *text, size_t *len)
{
	ssize_t n = read(fd, text + *len, OUT_CAP - 1 - *len);

	if (n <= 0)
		return false;
	*len += (size_t)n;
	text[*len] = '\0';
	return true;
}

/* Collects the tool's stdout and stderr until needle shows up in one of
 * them (NULL: until both are closed).  Returns 0 or -ETIMEDOUT. */
static int tool_wait_output(struct tool *t, const char *needle, int timeout_ms)
{
	int64_t deadline = rig_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfds[2] = {{.fd = t->out, .events = POLLIN},
					 {.fd = t->err, .events = POLLIN}};

		if (needle && (strstr(t->out_text, needle) || strstr(t->err_text, needle)))
			return 0;
		if (!needle && t->out < 0 && t->err < 0)
			return 0;
		if (poll(pfds, 2, rig_left_ms(deadline)) <= 0)
			return -ETIMEDOUT;
		if (pfds[0].revents && !drain(t->out, t->out_text, &t->out_len)) {
			close(t->out);
			t->out = -1;
		}
		if (pfds[1].revents && !drain(t->err, t->err_text, &t->err_len)) {
			close(t->err);
			t->err = -1;
		}
	}
}

/* Waits for the tool to exit on its own; returns its exit status. */
static int tool_wait_exit(struct tool *t)
{
	struct pollfd pfd = {.fd = t->pidfd, .events = POLLIN};
	int status = -1;

	assert_int_equal(tool_wait_output(t, NULL, T_MS), 0);
	if (poll(&pfd, 1, T_MS) != 1)
		kill(t->pid, SIGKILL);
	assert_int_equal(waitpid(t->pid, &status, 0), t->pid);
	close(t->pidfd);
	if (t->in >= 0)
		close(t->in);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    strstr(t->err_text, "violation"))
		fprintf(stderr, "vsock-guest status %#x, stderr:\n%s", status, t->err_text);
	/* Whatever else happened, the daemon never broke the protocol. */
	assert_null(strstr(t->err_text, "violation"));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 256 + WTERMSIG(status);
}

static int tool_stop(struct tool *t)
{
	kill(t->pid, SIGTERM);
	return tool_wait_exit(t);
}

static void close_stdin(struct tool *t)
{
	close(t->in);
	t->in = -1;
}

static void test_help(void **state)
{
	static const char *const cmds[] = {"echo PORT", "listen PORT", "connect CID PORT",
					   "sink PORT", "source CID PORT N"};
	struct tool t;

	(void)state;
	tool_start(&t, (const char *const[]){"--help", NULL});
	assert_int_equal(tool_wait_exit(&t), 0);
	assert_true(strncmp(t.out_text, "Usage: vsock-guest", 18) == 0);
	for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_non_null(strstr(t.out_text, cmds[i]));
	/* Misuse: usage on stderr, status 2, and nothing is started. */
	tool_start(&t, (const char *const[]){"echo", "1", NULL});
	assert_int_equal(tool_wait_exit(&t), 2);
	assert_non_null(strstr(t.err_text, "--socket is required"));
	tool_start(&t, (const char *const[]){"--socket", "/nonexistent", "dance", NULL});
	assert_int_equal(tool_wait_exit(&t), 2);
	tool_start(&t, (const char *const[]){"--socket", "/nonexistent", "connect", "2", NULL});
	assert_int_equal(tool_wait_exit(&t), 2);
	tool_start(&t, (const char *const[]){"--socket", "/nonexistent", "echo", "1", NULL});
	assert_int_equal(tool_wait_exit(&t), 1);
	assert_non_null(strstr(t.err_text, "cannot start a guest on /nonexistent"));
	tool_start(&t, (const char *const[]){"--queue-size", "x", NULL});
	assert_int_equal(tool_wait_exit(&t), 2);
	assert_non_null(strstr(t.err_text, "bad value 'x'"));
}

static void test_wrong_cid_refused(void **state)
{
	struct fixture *f = *state;
	struct tool t;

	tool_start(&t, (const char *const[]){"--socket", f->d.socket_path, "--cid", "4",
					      "echo", "1", NULL});
	assert_int_equal(tool_wait_exit(&t), 1);
	assert_non_null(strstr(t.err_text, "serves CID 3, not 4"));
}

/* Opens a host connection to PORT through the CONNECT protocol. */
static int host_open(struct fixture *f)
{
	char line[32];
	int hfd = rig_host_connect(f->d.uds_path);

	assert_true(hfd >= 0);
	assert_int_equal(rig_host_write_all(NULL, hfd, "CONNECT 1234\n", 13, T_MS), 0);
	assert_true(rig_host_read_line(NULL, hfd, line, sizeof(line), T_MS) > 0);
	assert_string_equal(line, "OK 1234\n");
	return hfd;
}

static void start_server(struct fixture *f, struct tool *t, const char *cmd)
{
	tool_start(t, (const char *const[]){"--socket", f->d.socket_path, "--cid", "3",
					     cmd, "1234", NULL});
	assert_int_equal(tool_wait_output(t, "listening on port 1234", T_MS), 0);
}

static void test_echo(void **state)
{
	struct fixture *f = *state;
	enum { CHUNK = 32768, BIG = 10 * CHUNK };
	uint8_t *sent = malloc(BIG), *back = malloc(BIG);
	struct tool t;
	int a, b;

	assert_non_null(sent);
	assert_non_null(back);
	start_server(f, &t, "echo");
	/* Two clients at once; one echoes more than its 256 KiB buffer. */
	a = host_open(f);
	b = host_open(f);
	pattern_fill(10, 0, sent, BIG);
	assert_int_equal(rig_host_write_all(NULL, b, "hello", 5, T_MS), 0);
	assert_int_equal(rig_host_read_full(NULL, b, back, 5, T_MS), 5);
	assert_memory_equal(back, "hello", 5);
	for (size_t off = 0; off < BIG; off += CHUNK) {
		assert_int_equal(rig_host_write_all(NULL, a, sent + off, CHUNK, T_MS), 0);
		assert_int_equal(rig_host_read_full(NULL, a, back + off, CHUNK, T_MS), CHUNK);
	}
	assert_memory_equal(sent, back, BIG);
	/* Our half-close ends the echo: the tool shuts down its side too. */
	assert_int_equal(shutdown(a, SHUT_WR), 0);
	assert_int_equal(rig_host_wait_eof(NULL, a, T_MS), 0);
	close(a);
	close(b);
	assert_int_equal(tool_stop(&t), 0);
	free(sent);
	free(back);
}

static void test_connect_pipes_stdio(void **state)
{
	struct fixture *f = *state;
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	char buf[64];
	struct tool t;
	int hfd;

	assert_true(lfd >= 0);
	tool_start(&t, (const char *const[]){"--socket", f->d.socket_path, "connect", "2",
					      "5000", NULL});
	hfd = rig_host_accept(NULL, lfd, T_MS);
	assert_true(hfd >= 0);
	assert_int_equal(write(t.in, "from stdin\n", 11), 11);
	assert_int_equal(rig_host_read_full(NULL, hfd, buf, 11, T_MS), 11);
	assert_memory_equal(buf, "from stdin\n", 11);
	/* stdin's end is the guest's SHUTDOWN(SEND): EOF for the host, whose
	 * own direction still works. */
	close_stdin(&t);
	assert_int_equal(rig_host_wait_eof(NULL, hfd, T_MS), 0);
	assert_int_equal(rig_host_write_all(NULL, hfd, "from host\n", 10, T_MS), 0);
	assert_int_equal(tool_wait_output(&t, "from host\n", T_MS), 0);
	close(hfd);
	assert_int_equal(tool_wait_exit(&t), 0);
	assert_string_equal(t.out_text, "from host\n");
	close(lfd);
}

static void test_connect_refused(void **state)
{
	struct fixture *f = *state;
	struct tool t;

	tool_start(&t, (const char *const[]){"--socket", f->d.socket_path, "connect", "2",
					      "5999", NULL});
	assert_int_equal(tool_wait_exit(&t), 1);
	assert_non_null(strstr(t.err_text, "connect to 2:5999"));
}

static void test_listen_pipes_stdio(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	struct tool t;
	int hfd;

	start_server(f, &t, "listen");
	hfd = host_open(f);
	assert_int_equal(rig_host_write_all(NULL, hfd, "abc\n", 4, T_MS), 0);
	assert_int_equal(tool_wait_output(&t, "abc\n", T_MS), 0);
	assert_int_equal(write(t.in, "xyz\n", 4), 4);
	assert_int_equal(rig_host_read_full(NULL, hfd, buf, 4, T_MS), 4);
	assert_memory_equal(buf, "xyz\n", 4);
	close_stdin(&t);
	assert_int_equal(rig_host_wait_eof(NULL, hfd, T_MS), 0);
	close(hfd);
	assert_int_equal(tool_wait_exit(&t), 0);
	assert_string_equal(t.out_text, "abc\n");
}

static void test_sink_counts(void **state)
{
	struct fixture *f = *state;
	enum { TOTAL = 1 << 20 };
	uint8_t *data = calloc(1, TOTAL);
	struct tool t;
	int hfd;

	assert_non_null(data);
	start_server(f, &t, "sink");
	hfd = host_open(f);
	assert_int_equal(rig_host_write_all(NULL, hfd, data, TOTAL, T_MS), 0);
	close(hfd);
	assert_int_equal(tool_wait_output(&t, "done, 1048576 bytes", T_MS), 0);
	assert_int_equal(tool_stop(&t), 0);
	free(data);
}

/* 64 KiB RX buffers: the spare pool shrinks to fit the guest RAM. */
static void test_sink_big_rx_buffers(void **state)
{
	struct fixture *f = *state;
	enum { TOTAL = 1 << 20 };
	uint8_t *data = calloc(1, TOTAL);
	struct tool t;
	int hfd;

	assert_non_null(data);
	tool_start(&t, (const char *const[]){"--socket", f->d.socket_path,
					      "--rx-buf-size", "65580", "sink", "1234",
					      NULL});
	assert_int_equal(tool_wait_output(&t, "listening on port 1234", T_MS), 0);
	hfd = host_open(f);
	assert_int_equal(rig_host_write_all(NULL, hfd, data, TOTAL, T_MS), 0);
	close(hfd);
	assert_int_equal(tool_wait_output(&t, "done, 1048576 bytes", T_MS), 0);
	assert_int_equal(tool_stop(&t), 0);
	free(data);
}

static void test_source_sends_pattern(void **state)
{
	struct fixture *f = *state;
	enum { TOTAL = 1000000 };
	int lfd = rig_host_listen(f->d.uds_path, HOST_PORT);
	uint8_t *got = malloc(TOTAL + 1);
	struct tool t;
	int hfd;

	assert_true(lfd >= 0);
	assert_non_null(got);
	tool_start(&t, (const char *const[]){"--socket", f->d.socket_path, "source", "2",
					      "5000", "1000000", NULL});
	hfd = rig_host_accept(NULL, lfd, T_MS);
	assert_true(hfd >= 0);
	/* Exactly TOTAL bytes, then EOF; byte i is i mod 256. */
	assert_int_equal(rig_host_read_full(NULL, hfd, got, TOTAL + 1, T_MS), TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		if (got[i] != (uint8_t)i)
			fail_msg("byte %zu is %u", i, got[i]);
	close(hfd);
	assert_int_equal(tool_wait_exit(&t), 0);
	assert_true(strncmp(t.out_text, "1000000 bytes in ", 17) == 0);
	close(lfd);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup_daemon_only, fixture_teardown)
		T(test_wrong_cid_refused),
		T(test_echo),
		T(test_connect_pipes_stdio),
		T(test_connect_refused),
		T(test_listen_pipes_stdio),
		T(test_sink_counts),
		T(test_sink_big_rx_buffers),
		T(test_source_sends_pattern),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
