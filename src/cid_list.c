#include "cid_list.h"

#include <string.h>

bool cid_list_has(const uint32_t *cids, unsigned n, uint64_t cid)
{
	for (unsigned i = 0; i < n; i++)
		if (cids[i] == cid)
			return true;
	return false;
}

void cid_list_add(uint32_t *cids, unsigned *n, unsigned cap, uint32_t cid)
{
	if (cid_list_has(cids, *n, cid))
		return;
	if (*n == cap)
		memmove(cids, cids + 1, --*n * sizeof(cids[0]));
	cids[(*n)++] = cid;
}

void cid_list_remove(uint32_t *cids, unsigned *n, uint32_t cid)
{
	for (unsigned i = 0; i < *n; i++) {
		if (cids[i] == cid) {
			memmove(cids + i, cids + i + 1, (--*n - i) * sizeof(cids[0]));
			return;
		}
	}
}
