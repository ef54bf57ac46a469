/* Runs the real daemon binary for a test or a benchmark: a private temp
 * directory, fixed paths inside it, start-up and shut-down waited for on
 * events (inotify, pidfd), never on sleeps. */
#ifndef RIG_DAEMON_H
#define RIG_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Environment variable naming the daemon binary (meson sets it). */
#define RIG_DAEMON_ENV "VHOST_DEVICE_VSOCK"

struct rig_daemon {
	pid_t pid;
	int pidfd;
	char dir[80];        /* private, removed by rig_daemon_stop */
	char socket_path[96]; /* dir/vhost.socket (fits a sun_path) */
	char uds_path[96];    /* dir/vm.vsock */
	char log_path[96];    /* the daemon's stderr */
};

/* Starts `$VHOST_DEVICE_VSOCK --guest-cid CID --socket S --uds-path U
 * [extra...]` (extra is NULL-terminated, may be NULL) and waits until both
 * sockets exist.  Returns 0 or -errno (-ECHILD if the daemon exited). */
int rig_daemon_start(struct rig_daemon *d, unsigned cid,
		     const char *const *extra);
/* One VM of a daemon serving several (--vm). */
struct rig_vm {
	unsigned cid;
	const char *groups; /* "a+b"; NULL for the default group */
	const char *keys;   /* more "key=value,..." for its --vm; may be NULL */
};
#define RIG_DAEMON_MAX_VMS 8

/* Starts `$VHOST_DEVICE_VSOCK --vm guest-cid=C,socket=S,uds-path=U[,groups=G][,keys]`
 * for each VM, with the paths of rig_daemon_vm_path(), and waits until all
 * sockets exist.  Returns 0 or -errno. */
int rig_daemon_start_vms(struct rig_daemon *d, const struct rig_vm *vms, unsigned n_vms);
/* The same with the daemon's open-file limit (soft and hard) set to nofile. */
int rig_daemon_start_vms_nofile(struct rig_daemon *d, const struct rig_vm *vms,
				unsigned n_vms, unsigned nofile);
/* Where VM cid of a multi-VM daemon has its vhost-user socket (uds false)
 * or its Unix-socket backend path (uds true). */
void rig_daemon_vm_path(const struct rig_daemon *d, unsigned cid, bool uds, char *buf,
			size_t size);

/* For a caller with its own command line: creates the private directory
 * and fills in the paths (the caller may name others inside d->dir).
 * Returns 0 or -errno. */
int rig_daemon_prepare(struct rig_daemon *d);
/* Runs argv (argv[0] the binary; NULL-terminated) for a prepared d, its
 * stderr in d->log_path, and waits until every path of sockets
 * (NULL-terminated) is a socket.  Returns 0 or -errno (-ECHILD if the
 * daemon exited). */
int rig_daemon_spawn(struct rig_daemon *d, const char *const *argv,
		     const char *const *sockets);

/* SIGTERM, then waits for the exit, leaving the directory as the daemon
 * left it.  Returns what rig_daemon_stop returns. */
int rig_daemon_terminate(struct rig_daemon *d, int timeout_ms);
/* SIGTERM, then waits for the exit.  Returns the exit status (0..255), 256
 * + signal number if it was killed, or -ETIMEDOUT (then it is SIGKILLed).
 * Removes the temp directory. */
int rig_daemon_stop(struct rig_daemon *d, int timeout_ms);
/* True while the process runs. */
bool rig_daemon_alive(struct rig_daemon *d);
/* Open fds of the daemon (/proc/PID/fd), or -errno. */
int rig_daemon_fd_count(const struct rig_daemon *d);
/* Copies the daemon's log to stderr (for failed tests). */
void rig_daemon_dump_log(const struct rig_daemon *d);
/* Counts lines of the daemon's log that contain needle. */
int rig_daemon_log_count(const struct rig_daemon *d, const char *needle);

#endif
