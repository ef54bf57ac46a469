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

/* How small the peer's view of the credit we gave it may get before we
 * send it more (a CREDIT_UPDATE): a quarter of the window, but at least one
 * maximum-size packet when the window allows it. */
uint32_t credit_update_threshold(uint32_t window);

#endif
