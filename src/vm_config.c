/* Copies and comparisons of one VM's configuration, for the VMs the
 * control plane keeps as they were given (a reload restarts only those
 * whose entry changed). */
#include "vm_config.h"

#include <stdlib.h>
#include <string.h>

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void vm_config_clear(struct vm_config *vm)
{
	free(vm->socket_path);
	free(vm->uds_path);
	free(vm->forward_listen);
	for (size_t i = 0; i < vm->n_groups; i++)
		free(vm->groups[i]);
	free(vm->groups);
	memset(vm, 0, sizeof(*vm));
}

bool vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	dst->socket_path = src->socket_path ? strdup(src->socket_path) : NULL;
	dst->uds_path = src->uds_path ? strdup(src->uds_path) : NULL;
	dst->forward_listen = src->n_forward_listen
				      ? malloc(src->n_forward_listen * sizeof(*src->forward_listen))
				      : NULL;
	dst->groups = calloc(src->n_groups ? src->n_groups : 1, sizeof(*dst->groups));
	dst->n_groups = 0;
	if ((src->socket_path && !dst->socket_path) || (src->uds_path && !dst->uds_path) ||
	    (src->n_forward_listen && !dst->forward_listen) || !dst->groups) {
		vm_config_clear(dst);
		return false;
	}
	if (src->n_forward_listen)
		memcpy(dst->forward_listen, src->forward_listen,
		       src->n_forward_listen * sizeof(*src->forward_listen));
	for (; dst->n_groups < src->n_groups; dst->n_groups++) {
		dst->groups[dst->n_groups] = strdup(src->groups[dst->n_groups]);
		if (!dst->groups[dst->n_groups]) {
			vm_config_clear(dst);
			return false;
		}
	}
	return true;
}

bool vm_config_same(const struct vm_config *a, const struct vm_config *b)
{
	if (a->guest_cid != b->guest_cid || a->backend != b->backend ||
	    !same_text(a->socket_path, b->socket_path) || !same_text(a->uds_path, b->uds_path) ||
	    a->forward_cid != b->forward_cid || a->n_forward_listen != b->n_forward_listen ||
	    a->tx_buffer_size != b->tx_buffer_size || a->queue_size != b->queue_size ||
	    a->n_groups != b->n_groups || a->max_connections != b->max_connections ||
	    a->max_handshakes != b->max_handshakes || a->max_pending != b->max_pending ||
	    a->tx_buffer_total != b->tx_buffer_total || a->socket_mode != b->socket_mode ||
	    a->socket_gid_set != b->socket_gid_set ||
	    (a->socket_gid_set && a->socket_gid != b->socket_gid))
		return false;
	for (size_t i = 0; i < a->n_forward_listen; i++)
		if (a->forward_listen[i] != b->forward_listen[i])
			return false;
	for (size_t i = 0; i < a->n_groups; i++)
		if (strcmp(a->groups[i], b->groups[i]) != 0)
			return false;
	return true;
}
