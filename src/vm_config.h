/* One VM's configuration (struct vm_config, config.h), copied and
 * compared. */
#ifndef VSOCK_VM_CONFIG_H
#define VSOCK_VM_CONFIG_H

#include <stdbool.h>

#include "config.h"

/* Frees what a vm_config points to (and zeroes it). */
void vm_config_clear(struct vm_config *vm);
/* A deep copy of src into dst; false when out of memory (dst then empty). */
bool vm_config_copy(struct vm_config *dst, const struct vm_config *src);
/* Whether a and b describe the same VM, key for key (inherited fds are not
 * compared: only start-up has them). */
bool vm_config_same(const struct vm_config *a, const struct vm_config *b);

#endif
