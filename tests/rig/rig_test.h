/* Shared fixture of the rig integration suite: each test gets its own
 * daemon (fresh temp dir) and, usually, a started rig.  Teardown checks
 * that the daemon never broke the protocol, is still alive, and exits 0
 * on SIGTERM. */
#ifndef RIG_TEST_H
#define RIG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "pattern.h"
#include "rig.h"
#include "rig_daemon.h"
#include "rig_host.h"

#define T_MS 10000   /* generous timeout for any single wait */
#define T_CID 3

struct fixture {
	struct rig_daemon d;
	struct rig_opts opts;
	struct rig *rig;
};

/* cmocka setup: daemon + rig_open with default options. */
int fixture_setup(void **state);
/* cmocka setup: daemon only (f->opts holds defaults with the socket path). */
int fixture_setup_daemon_only(void **state);
/* The same, with extra daemon arguments (NULL-terminated). */
int fixture_setup_daemon_args(void **state, const char *const *extra);
/* Starts the rig with f->opts (for tests that tune the options). */
void fixture_open_rig(struct fixture *f);
int fixture_teardown(void **state);

/* Deterministic pseudo-random sizes (xorshift), so a failure reproduces;
 * the data itself comes from pattern_fill (pattern.h). */
uint32_t rnd_below(uint64_t *state, uint32_t bound);

/* Waits, running the rig, until the daemon has exactly want fds open.
 * Returns the last count seen. */
int wait_fd_count(struct fixture *f, int want, int timeout_ms);

/* The daemon still serves: a guest-initiated connection to a host listener
 * on port carries a few bytes each way, then closes. */
void assert_round_trip(struct fixture *f, uint32_t port);
/* The same for any rig, whose daemon VM has uds_path. */
void assert_round_trip_on(struct rig *rig, const char *uds_path, uint32_t port);

/* CPU time (user + system) process pid has used, in milliseconds (10 ms
 * ticks): tests check with it that the daemon waits without spinning. */
long process_cpu_ms(pid_t pid);
/* Voluntary context switches (times it blocked) of the thread of process
 * pid named name: whether a thread sleeps or spins, whatever the load. */
long thread_voluntary_switches(pid_t pid, const char *name);
/* The name the daemon gives the device thread of the fixture's guest. */
#define DEVICE_THREAD "vsock-cid-3"
/* Waits (asserting, T_MS at most) until the daemon's device thread is
 * blocked in epoll_wait without a timeout: it has handled every event of
 * what the test did before the call (a write wakes it before returning)
 * and sleeps.  Tests order their steps after the daemon's with it. */
void wait_device_idle(struct fixture *f);
/* Calls line() with each line of every /proc/PID/fdinfo file: what the
 * kernel says of each fd of process pid (timerfd deadlines, epoll
 * registrations). */
void fdinfo_lines(pid_t pid, void (*line)(const char *text, void *ctx), void *ctx);
/* Milliseconds until the nearest armed timerfd of process pid fires, or -1
 * if none is armed. */
long next_timer_ms(pid_t pid);
/* Waits (the rig's RX frozen) until the device used `count` more RX chains
 * than the rig has taken back. */
void wait_rx_used(struct rig *rig, uint16_t count);
/* Waits (asserting, T_MS at most) until the device gave back every TX
 * chain the rig posted: it has handled all the rig sent. */
void wait_tx_used(struct rig *rig);
/* rig_send_pkt, running the rig while its TX ring is full (up to T_MS). */
void send_pkt_waiting(struct rig *rig, const struct rig_hdr *h, const void *payload,
		      size_t len);
/* Anonymous memory process pid holds (RssAnon), in KiB. */
long process_rss_anon_kib(pid_t pid);

#endif
