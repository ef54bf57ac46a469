#include "credit.h"

#include "vsock_hdr.h"

uint32_t credit_peer_free(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt,
			  uint32_t sent)
{
	uint32_t in_flight = sent - peer_fwd_cnt;

	if (in_flight >= peer_buf_alloc)
		return 0;
	return peer_buf_alloc - in_flight;
}

uint32_t credit_update_threshold(uint32_t window)
{
	uint32_t quarter = window / 4;
	uint32_t one_packet = window < VSOCK_MAX_PKT_PAYLOAD ? window : VSOCK_MAX_PKT_PAYLOAD;

	return quarter > one_packet ? quarter : one_packet;
}
