#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h> /* GNU basename(): never writes to its argument */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "backend_uds.h"
#include "log.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

/* A VM socket an inherited listener may stand for. */
struct slot {
	const char *path;
	int *fd;
	char *own_path; /* path, when made here */
};

#define SLOTS_PER_VM 3

/* Every VM socket of cfg: the vhost-user socket, the uds-path and the
 * seqpacket listener beside it.  -1 when out of memory. */
static ssize_t list_slots(struct daemon_config *cfg, struct slot *slots)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_vms; i++) {
		struct vm_config *vm = &cfg->vms[i];
		char *seqpacket;

		if (vm->socket_path)
			slots[n++] = (struct slot){vm->socket_path, &vm->socket_fd, NULL};
		if (vm->backend != BACKEND_UDS)
			continue;
		slots[n++] = (struct slot){vm->uds_path, &vm->uds_fd, NULL};
		if (asprintf(&seqpacket, "%s%s", vm->uds_path, UDS_SEQPACKET_SUFFIX) < 0)
			return -1;
		slots[n++] = (struct slot){seqpacket, &vm->uds_seqpacket_fd, seqpacket};
	}
	return (ssize_t)n;
}

/* Is fd bound to the file at path? */
static bool bound_to(int fd, const char *path, char *bound, size_t bound_len)
{
	struct sockaddr_un addr;
	socklen_t len = sizeof(addr);
	struct stat a, b;

	memset(&addr, 0, sizeof(addr));
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || addr.sun_family != AF_UNIX) {
		snprintf(bound, bound_len, "no Unix socket address");
		return false;
	}
	snprintf(bound, bound_len, "%s", addr.sun_path[0] ? addr.sun_path : "an abstract address");
	return addr.sun_path[0] && stat(addr.sun_path, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The file names of every slot, for a message. */
static void slot_names(const struct slot *slots, size_t n_slots, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n_slots && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? ", " : "",
					basename(slots[i].path));
}

/* Gives fd, named name, to the one slot whose file name it is. */
static bool match(int fd, const char *name, struct slot *slots, size_t n_slots)
{
	struct slot *found = NULL;
	char bound[sizeof(((struct sockaddr_un *)0)->sun_path) + 32];
	char names[512];

	for (size_t i = 0; i < n_slots; i++) {
		if (strcmp(basename(slots[i].path), name) != 0)
			continue;
		if (found) {
			log_err("socket activation: fd %d '%s' names both %s and %s: give the "
				"VM sockets different file names", fd, name, found->path,
				slots[i].path);
			return false;
		}
		found = &slots[i];
	}
	if (!found) {
		slot_names(slots, n_slots, names, sizeof(names));
		log_err("socket activation: fd %d '%s' names no VM socket (the names are the "
			"file names of the sockets and uds-paths: %s); set FileDescriptorName= "
			"in the socket unit", fd, name, names);
		return false;
	}
	if (*found->fd >= 0) {
		log_err("socket activation: fd %d '%s': %s already has a listener (fd %d)", fd,
			name, found->path, *found->fd);
		return false;
	}
	if (!bound_to(fd, found->path, bound, sizeof(bound))) {
		log_err("socket activation: fd %d '%s' is bound to %s, not to %s", fd, name,
			bound, found->path);
		return false;
	}
	*found->fd = fd;
	return true;
}

bool service_take_listeners(struct daemon_config *cfg)
{
	struct slot *slots = calloc(SLOTS_PER_VM * cfg->n_vms + 1, sizeof(*slots));
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	ssize_t n_slots = slots ? list_slots(cfg, slots) : -1;
	bool ok = n >= 0 && n_slots >= 0;

	if (n < 0)
		log_err("socket activation: LISTEN_FDS: %s", strerror(-n));
	else if (n_slots < 0)
		log_err("out of memory");
	for (int i = 0; ok && i < n; i++)
		ok = match(SD_LISTEN_FDS_START + i, names[i], slots, (size_t)n_slots);
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	for (size_t i = 0; slots && i < SLOTS_PER_VM * cfg->n_vms; i++)
		free(slots[i].own_path);
	free(slots);
	return ok;
}

void service_ready(size_t n_vms)
{
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu VM(s)", n_vms);
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

#else

bool service_take_listeners(struct daemon_config *cfg)
{
	(void)cfg;
	if (!getenv("LISTEN_FDS"))
		return true;
	log_err("socket activation: LISTEN_FDS is set, but this build has no libsystemd");
	return false;
}

void service_ready(size_t n_vms) { (void)n_vms; }

void service_stopping(void) {}

#endif
