/* Credit-based flow control arithmetic (virtio spec, "Device Operation:
 * Buffer Space Management").  Every counter is a free-running u32 that
 * wraps; differences are taken modulo 2^32. */
#ifndef VSOCK_CREDIT_H
#define VSOCK_CREDIT_H

#include <stdbool.h>
#include <stdint.h>

/* Bytes we may still send the peer: buf_alloc - (sent - peer_fwd_cnt),
 * saturating at 0 so a peer that shrinks buf_alloc below the bytes in
 * flight (or reports a fwd_cnt ahead of what we sent) gets no credit
 * rather than a huge one. */
uint32_t credit_peer_free(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt,
			  uint32_t sent);

/* Whether to tell the peer our fwd_cnt now.  The peer believes it may
 * still send buf_alloc - (received - advertised_fwd_cnt) bytes; once that
 * view falls under a threshold (a quarter of buf_alloc, but at least one
 * maximum-size packet when buf_alloc allows it) and we have news
 * (fwd_cnt moved since the last advertisement), an update is due. */
bool credit_update_due(uint32_t buf_alloc, uint32_t received,
		      uint32_t fwd_cnt, uint32_t advertised_fwd_cnt);

#endif
