/* SIGHUP: the --config file read again, and only the difference applied
 * (vm_registry_apply()).  Without --config there is nothing to read. */
#ifndef VSOCK_RELOAD_H
#define VSOCK_RELOAD_H

#include "config.h"
#include "vm_registry.h"

/* Parses argc/argv again (so the file is read again) and applies its VMs
 * to reg, logging what changed; a file that does not parse or check, or
 * whose new VMs do not fit, changes nothing and is logged with why. */
void reload_config(struct vm_registry *reg, int argc, char **argv);

#endif
