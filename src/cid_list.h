/* A short list of CIDs without duplicates, oldest first, in an array the
 * caller owns: the park's sibling VMs (device_park.c), those marked stalled
 * and those found full in one pass. */
#ifndef VSOCK_CID_LIST_H
#define VSOCK_CID_LIST_H

#include <stdbool.h>
#include <stdint.h>

bool cid_list_has(const uint32_t *cids, unsigned n, uint64_t cid);

/* Appends cid unless the list has it; a full list (*n == cap) first drops
 * its oldest entry. */
void cid_list_add(uint32_t *cids, unsigned *n, unsigned cap, uint32_t cid);

/* Removes cid if the list has it; the others keep their order. */
void cid_list_remove(uint32_t *cids, unsigned *n, uint32_t cid);

#endif
