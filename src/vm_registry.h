/* The VMs the daemon serves, as its control plane sees them: each one's
 * configuration and running device.  main.c fills it at start-up and
 * empties it at shutdown; the API reads it and removes VMs at run time.
 * Its lock belongs to the control plane: device threads never take it. */
#ifndef VSOCK_VM_REGISTRY_H
#define VSOCK_VM_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"

struct router;
struct vm_entry;
struct vsock_device;

struct vm_registry {
	pthread_mutex_t lock;        /* guards everything below */
	struct vm_config *vms;       /* owned, budgets filled in */
	struct vm_config *given;     /* vms[i] as configured (a reload compares) */
	struct vsock_device **devs;  /* devs[i] serves vms[i] */
	size_t n;
	struct router *router;
	/* The daemon's settings (poll-us, socket permissions, the API
	 * socket) and open-file limit, for VMs added at run time. */
	const struct daemon_config *cfg;
	uint64_t fd_limit;
	uint64_t fd_share;           /* an automatic VM's descriptors */
};

/* An empty registry whose devices will use router and cfg's settings. */
void vm_registry_init(struct vm_registry *r, struct router *router,
		      const struct daemon_config *cfg, uint64_t fd_limit);
/* Keeps cfg's VMs as given, fills in their budgets (fd_budget_apply(),
 * its message on stderr), creates every VM, then starts their threads,
 * taking over the configurations (cfg is left without VMs); all or
 * nothing: false (logged) if any fails.  Called before any other thread
 * uses r. */
bool vm_registry_start(struct vm_registry *r, struct daemon_config *cfg);
/* Lock held: the index of the VM with this CID, or -1. */
ssize_t vm_registry_find(const struct vm_registry *r, uint32_t cid);
/* Lock held: adds the VM of e (finished, its socket permissions applied),
 * checked against the VMs served as start-up checks them, with budgets
 * that fit what the open-file limit leaves; its sockets accept
 * connections on return.  e's configuration is taken over on success.
 * Returns 0, or (err says why) -EEXIST when its CID, a path or a port is
 * taken, -ENOSPC when its descriptors do not fit, -EIO when its device
 * cannot start (the log says why). */
int vm_registry_add(struct vm_registry *r, struct vm_entry *e, FILE *err);
/* Lock held: stops VM i and forgets it.  Its connections are reset (its
 * guest gets RSTs if it takes them, host sockets close), its socket files
 * go, and its siblings' packets for it get RSTs from then on. */
void vm_registry_remove(struct vm_registry *r, size_t i);
/* Lock held: makes the VMs served those of next (a configuration read
 * again): VMs gone from it stop, new ones start, those whose entry changed
 * restart, the others keep every connection.  When the new VMs' budgets
 * do not fit, nothing changes and false is returned (err says why); a VM
 * that cannot start is logged and left out.  Takes next's VMs over. */
bool vm_registry_apply(struct vm_registry *r, struct daemon_config *next, FILE *err);
/* Stops every VM (their threads wind down in parallel) and frees r. */
void vm_registry_stop_all(struct vm_registry *r);

#endif
