/* The host peer: a child process that plays the host application, so the
 * host side of every transfer runs on its own (as it would on a real host)
 * and neither the rig nor the daemon shares its time slice.  The parent
 * sends it commands, with the sockets to use attached (SCM_RIGHTS), over a
 * socketpair, and reads one reply per command. */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H

#include <stdint.h>
#include <sys/types.h>

enum peer_op {
	PEER_SINK = 1,  /* receive and check bytes_per_conn on every fd */
	PEER_SOURCE,    /* send bytes_per_conn on every fd */
	PEER_ECHO,      /* echo whatever arrives on fd 0 until end of stream */
	PEER_HANDSHAKE, /* count hybrid-vsock CONNECTs to path, in_flight at once */
};

struct peer_cmd {
	uint32_t op;
	uint32_t n_fds;          /* attached fds, at most BENCH_MAX_CONNS */
	uint64_t bytes_per_conn; /* SINK, SOURCE */
	uint32_t io_size;        /* SINK, SOURCE: bytes per read or write call */
	uint32_t count;          /* HANDSHAKE: how many */
	uint32_t in_flight;      /* HANDSHAKE: at once */
	uint32_t port;           /* HANDSHAKE: the port in "CONNECT <port>" */
	char path[108];          /* HANDSHAKE: the Unix socket to connect to */
};

struct peer_reply {
	int32_t err;             /* 0 or -errno */
	uint32_t reserved;
	uint64_t bytes;          /* moved (and verified) */
	uint64_t count;          /* handshakes completed */
	uint64_t elapsed_ns;     /* HANDSHAKE: first connect to last OK */
};

struct peer {
	pid_t pid;
	int ctl;                 /* our end of the command socketpair */
};

/* Forks the peer.  Returns 0 or -errno. */
int peer_start(struct peer *p);
/* Sends a command with cmd->n_fds fds attached, then closes our copies of
 * them (the peer owns them now and closes them when the command is done).
 * Returns 0 or -errno. */
int peer_send(struct peer *p, const struct peer_cmd *cmd, int *fds);
/* Reads the reply to the last command (blocks; poll p->ctl first). */
int peer_reply(struct peer *p, struct peer_reply *r);
/* Ends the peer and reaps it. */
void peer_stop(struct peer *p);

/* The handshake client, in the peer (bench_peer_handshake.c). */
int peer_handshake(const struct peer_cmd *cmd, int timeout_ms,
		   struct peer_reply *r);

#endif
