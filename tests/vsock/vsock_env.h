/* What the AF_VSOCK backend test stands on: the daemon under test (two
 * devices, forward-cid 1 and 5), the guest rig on the first one, host peers
 * on CID 1 (vsock_loopback) and the two-ended pumps that move data while
 * both sides make progress.  Single-threaded: every wait runs the rig. */
#ifndef VSOCK_ENV_H
#define VSOCK_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rig.h"
#include "rig_daemon.h"

#define ENV_GUEST_CID 3
#define ENV_OTHER_CID 4    /* a device whose forward CID no peer has */
#define ENV_FORWARD_CID 1  /* VMADDR_CID_LOCAL: peers over vsock_loopback */
#define ENV_FOREIGN_CID 5
#define ENV_LISTEN_A 7001  /* forward-listen ports of the guest's device */
#define ENV_LISTEN_B 7002
#define ENV_LISTEN_C 7003
#define ENV_LISTEN_OTHER 7004 /* forward-listen port of the other device */
#define ENV_T_MS 30000     /* any single wait; TCG guests are slow */
/* The daemon's request timeout: long enough for every case whose guest
 * answers, short enough to wait out in the case where it does not. */
#define ENV_REQUEST_TIMEOUT_MS 4000
#define ENV_MAX_FDS 32

struct env {
	struct rig_daemon d;  /* its private directory holds the sockets */
	char socket[2][96];
	struct rig *rig;
	int fds[ENV_MAX_FDS]; /* host sockets of the running case */
	unsigned n_fds;
};

/* True if this kernel can bind CID 1 (vsock_loopback is loaded). */
bool env_cid1_available(void);

/* Starts the daemon and opens the rig on its first device.  Returns 0 or
 * -1 (explained on stdout as TAP comments). */
int env_start(struct env *e, const char *daemon_bin);
/* SIGTERM; returns the daemon's exit status, or -1 if it did not exit
 * cleanly.  Closes the rig and removes the temp directory. */
int env_stop(struct env *e);

/* Host sockets, remembered so env_close_fds() ends them after each case.
 * They return a non-blocking fd or -errno. */
int env_host_listen(struct env *e, uint32_t port);
int env_host_accept(struct env *e, int listen_fd);
/* Connects to (ENV_FORWARD_CID, port).  With run_rig false the guest side
 * does not move meanwhile (so it cannot answer a REQUEST yet). */
int env_host_connect(struct env *e, uint32_t port, bool run_rig);
void env_close_fds(struct env *e);

/* Waits, running the rig, until fd has one of events. 0 or -errno. */
int env_wait_fd(struct env *e, int fd, short events);

/* Moves len bytes guest -> host (or host -> guest) with both ends active;
 * 0 if the receiver got exactly out. */
int env_pump_g2h(struct env *e, struct rig_conn *c, int hfd, const uint8_t *out, size_t len);
int env_pump_h2g(struct env *e, struct rig_conn *c, int hfd, const uint8_t *out, size_t len);

#endif
