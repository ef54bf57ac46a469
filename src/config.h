/* Daemon configuration: parsed once from the command line (single-VM flags,
 * repeated --vm, or --config FILE), validated completely, and turned into
 * plain structs before any socket is created. */
#ifndef VSOCK_CONFIG_H
#define VSOCK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"

#define CONFIG_DEFAULT_GUEST_CID 3
#define CONFIG_DEFAULT_TX_BUFFER_SIZE 262144
#define CONFIG_DEFAULT_QUEUE_SIZE 1024
#define CONFIG_MAX_QUEUE_SIZE 32768
#define CONFIG_DEFAULT_GROUP "default"
/* Longest busy-poll window of a device thread before it sleeps (--poll-us). */
#define CONFIG_DEFAULT_POLL_US 50
#define CONFIG_MAX_POLL_US 10000
/* Per-device budgets (README, "Security model").  max-connections has no
 * fixed default: it is a share of RLIMIT_NOFILE (fd_budget.h). */
#define CONFIG_DEFAULT_MAX_HANDSHAKES 1024
#define CONFIG_DEFAULT_MAX_PENDING 1024
#define CONFIG_DEFAULT_TX_BUFFER_TOTAL (64u << 20)
/* Mode of the socket files the daemon creates: the owner only, or the
 * owner and the socket group when there is one. */
#define CONFIG_DEFAULT_SOCKET_MODE 0600u
#define CONFIG_DEFAULT_SOCKET_MODE_GROUP 0660u

enum seccomp_mode {
	SECCOMP_KILL, /* default: a system call off the list ends the process */
	SECCOMP_LOG,  /* allowed, and logged by the kernel */
	SECCOMP_NONE, /* no filter */
};

enum backend_kind {
	BACKEND_UDS,   /* --uds-path: hybrid vsock over Unix sockets */
	BACKEND_VSOCK, /* --forward-cid / --forward-listen: host AF_VSOCK */
};

struct vm_config {
	uint32_t guest_cid;
	char *socket_path;
	enum backend_kind backend;
	char *uds_path;             /* BACKEND_UDS */
	uint32_t forward_cid;       /* BACKEND_VSOCK */
	uint32_t *forward_listen;   /* BACKEND_VSOCK, may be empty */
	size_t n_forward_listen;
	uint32_t tx_buffer_size;
	uint32_t queue_size;
	char **groups;              /* at least one */
	size_t n_groups;
	/* Budgets; 0 until given or filled in by fd_budget_apply(). */
	uint32_t max_connections;   /* connections at once (one host fd each) */
	uint32_t max_handshakes;    /* BACKEND_UDS: clients owing a CONNECT line */
	uint32_t max_pending;       /* host connections awaiting the guest */
	uint64_t tx_buffer_total;   /* guest->host buffer memory of the device */
	/* The vhost-user socket: socket_path, or an inherited listening
	 * socket (--fd, socket activation; socket_path may then name it). */
	int socket_fd;              /* -1 when none */
	int uds_fd;                 /* BACKEND_UDS: inherited listener, or -1 */
	int uds_seqpacket_fd;       /* BACKEND_UDS: inherited <uds_path>_seqpacket, or -1 */
	/* The socket files the daemon creates get this mode and group. */
	uint32_t socket_mode;
	gid_t socket_gid;
	bool socket_gid_set;
};

/* --socket-group and --socket-mode: for the sockets without their own. */
struct socket_perms {
	gid_t gid;
	uint32_t mode;
	bool gid_set, mode_set;
};

/* The mode of a socket file without its own: the global one, else the
 * default (which depends on whether there is a group). */
static inline uint32_t socket_perms_mode(const struct socket_perms *p, bool has_gid)
{
	if (p->mode_set)
		return p->mode;
	return has_gid ? CONFIG_DEFAULT_SOCKET_MODE_GROUP : CONFIG_DEFAULT_SOCKET_MODE;
}

struct daemon_config {
	struct vm_config *vms;
	size_t n_vms;
	enum log_level log_level;
	bool log_level_set;
	uint32_t poll_us;           /* --poll-us, 0: never busy-poll */
	bool poll_us_set;
	enum seccomp_mode seccomp;  /* --seccomp */
	bool seccomp_set;
	struct socket_perms perms;
	uint64_t fd_share;          /* an automatic VM's descriptors (fd_budget.c) */
	bool from_file;             /* --config: SIGHUP reads it again */
	/* --api-socket (or the file's api-socket): NULL for no API.  Its file
	 * gets the global socket mode and group. */
	char *api_socket;
};

enum config_result {
	CONFIG_OK,        /* *cfg filled; run the daemon */
	CONFIG_EXIT_OK,   /* --help, --version or --print-capabilities printed to
			   * out; exit 0 */
	CONFIG_ERROR,     /* message printed to err; exit 1 */
};

/* Parses and validates the whole command line (reading --config FILE if
 * given).  Every problem is one line on err naming the VM ("command line",
 * "--vm #2", "FILE vms[1] (line 7)"), the key and what is wrong; nothing is
 * created on disk.  On CONFIG_OK the caller owns *cfg (config_free). */
enum config_result config_parse_args(int argc, char **argv, struct daemon_config *cfg,
				     FILE *out, FILE *err);
void config_free(struct daemon_config *cfg);

#endif
