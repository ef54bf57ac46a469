/* --config FILE: a YAML document whose only top-level key is `vms`, a list
 * of maps with the same keys as --vm (dash or underscore spelling).  Scalars
 * are taken as text, so numbers may be plain or quoted; list keys take a
 * "a+b" string, a bare number, or a YAML sequence. */
#ifndef VSOCK_CONFIG_YAML_H
#define VSOCK_CONFIG_YAML_H

#include <stdbool.h>
#include <stdio.h>

#include "config_vm.h"

/* Refuses files larger than this: a configuration is a few lines. */
#define CONFIG_YAML_MAX_BYTES (1u << 20)

/* Appends one finished entry per VM to list, and sets *api_socket (NULL
 * before) to the top-level api-socket if there is one (the caller frees
 * it); on error prints to err. */
bool config_yaml_load(const char *path, struct vm_list *list, char **api_socket, FILE *err);

#endif
