/* vsock-bench: the daemon measured through the guest rig, against raw
 * AF_UNIX sockets measured in the same run.
 *
 * Three processes take part in every "ours" figure: this one (the guest:
 * the rig's driver plus the guest application), the daemon, and a host peer
 * process (bench_peer.c) that plays the host application with plain
 * blocking-style socket code.  The baseline runs the same host peer code
 * against this process over a socketpair, so the only difference between
 * the two figures is the path in between: the daemon and the rig's virtio
 * driver instead of the kernel's AF_UNIX stream. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bench_peer.h"
#include "rig.h"
#include "rig_daemon.h"

#define BENCH_CID 3u
/* Longest wait without progress (generous: sanitizers, loaded CI). */
#define BENCH_TIMEOUT_MS 20000
#define BENCH_MAX_CONNS 16u
#define BENCH_MAX_RUNS 15u

/* --pin D,G,P: the CPU of the daemon, the guest (this process) and the
 * host peer; without it the scheduler places them (bench_pin.c). */
struct bench_pin {
	bool on;
	int daemon, guest, peer;
};

struct bench_cfg {
	bool quick;
	unsigned runs;            /* samples per figure (median reported) */
	uint64_t stream_bytes;    /* per throughput run, all connections */
	unsigned rtt_pings;       /* recorded round trips per run */
	unsigned handshakes;      /* per run */
	unsigned idle_window_ms;  /* how long idle connections are watched */
	const char *only;         /* run only figures whose name starts so */
	struct bench_pin pin;
};

/* What every case needs: the configuration, the host peer process, and a
 * daemon with a rig connected to it (idle cases start their own). */
struct bench_ctx {
	const struct bench_cfg *cfg;
	struct peer peer;
	struct rig_daemon daemon;
	struct rig *rig;
	clockid_t daemon_cpu;
};

/* Whether a figure (or a group of figures, by prefix) is wanted. */
bool bench_wanted(const struct bench_ctx *ctx, const char *name);

/* Each runs cfg->runs samples of its figures into the report; returns 0 or
 * -errno after printing what failed. */
int bench_streams(struct bench_ctx *ctx);
int bench_rtt(struct bench_ctx *ctx);
int bench_handshakes(struct bench_ctx *ctx);
int bench_idle(struct bench_ctx *ctx);
int bench_send_paths(struct bench_ctx *ctx);

/* CPU seconds the three parties have used: the daemon (all threads), this
 * process (the guest, or a baseline's server) and the host peer. */
struct cpu_split {
	double daemon, guest, host;
};
void bench_cpu_split(const struct bench_ctx *ctx, struct cpu_split *s);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);
/* CPU seconds a clock from clock_getcpuclockid() has counted. */
double bench_cpu_s(clockid_t clock);
/* The daemon's resident anonymous memory (its heap, stacks and private
 * data; not the guest RAM it maps, nor its binary's pages) in KiB, or -errno. */
long bench_anon_kib(pid_t pid);
/* The machine the figures come from, and where the parties ran on it,
 * printed and written with them. */
struct bench_machine {
	char cpu_model[128];
	long cpus;          /* online */
	char placement[40]; /* "free", or "D,G,P" as --pin gave it */
};
void bench_machine(struct bench_machine *m, const struct bench_pin *pin);
/* Parses --pin's "D,G,P"; -EINVAL unless three CPUs this process may use. */
int bench_pin_parse(const char *arg, struct bench_pin *pin);
/* Moves every thread of pid to cpu; 0 or -errno. */
int bench_pin_process(pid_t pid, int cpu);
/* CPU seconds per GiB of copying bytes with memcpy, cache-cold (the copy
 * floor, bench_floor.c); -1 if the buffers could not be had. */
double bench_copy_floor(uint64_t bytes);
/* Starts ctx->daemon and opens ctx->rig on it; the rig's guest is Linux-like
 * (rig_opts_default: 4 KiB RX buffers, 64 KiB TX packets, 256 KiB buf_alloc).
 * With --pin, puts the daemon, this process and the peer on their CPUs. */
int bench_daemon_up(struct bench_ctx *ctx);
/* Stops both; -EPROTO if the rig saw the daemon break the protocol,
 * -ECHILD if it did not exit cleanly. */
int bench_daemon_down(struct bench_ctx *ctx);
/* After a failed case: a fresh daemon, rig and peer, whatever state the
 * failure left them in.  Returns 0 or -errno. */
int bench_recover(struct bench_ctx *ctx);
/* Runs the rig until the peer's reply arrives. */
int bench_wait_reply(struct bench_ctx *ctx, struct peer_reply *reply);

#endif
