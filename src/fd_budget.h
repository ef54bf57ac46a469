/* The open-file budget of the process.  Every device's connections and
 * handshakes, plus the descriptors each device and the process hold
 * whatever the traffic, must fit RLIMIT_NOFILE: then a device at its budget
 * never takes a descriptor that another device needs.  VMs without an
 * explicit max-connections get an even share of what the explicit budgets
 * leave. */
#ifndef VSOCK_FD_BUDGET_H
#define VSOCK_FD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

/* Held by the process besides its devices: stdio, the configuration file
 * while it is read, slack for libc. */
#define FD_BUDGET_PROCESS 16
/* An automatic max-connections is never more than this... */
#define FD_BUDGET_MAX_AUTO_CONNECTIONS (256u * 1024)
/* ...and never less: a smaller share is a start-up error. */
#define FD_BUDGET_MIN_AUTO_CONNECTIONS 16u

/* Descriptors one device holds whatever its traffic (see fd_budget.c). */
unsigned fd_budget_device_fixed(const struct vm_config *vm);

/* Fills in the budgets left unset (max_connections, max_handshakes of Unix
 * socket backends, max_pending) so that everything fits limit open files,
 * and sets cfg->fd_share to the share an automatic VM got.  Returns false,
 * with one line on err, when it cannot. */
bool fd_budget_apply(struct daemon_config *cfg, uint64_t limit, FILE *err);

/* With the API or a file to reload, an automatic share is at most this
 * fraction of what the limit leaves, so that VMs added later get one too. */
#define FD_BUDGET_API_SHARES 8

/* At run time: fills in the unset budgets of vm, a VM added to the n VMs
 * served (vms, their budgets set), with the share start-up computed
 * (daemon_config.fd_share), or what limit open files leave if less; api
 * says whether the API runs.  Returns false, with one line on err, when
 * they do not fit. */
bool fd_budget_fit(const struct vm_config *vms, size_t n, bool api, uint64_t share,
		   struct vm_config *vm, uint64_t limit, FILE *err);

#endif
