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

static uint32_t credit_update_threshold(uint32_t buf_alloc)
{
	uint32_t quarter = buf_alloc / 4;
	uint32_t one_packet = buf_alloc < VSOCK_MAX_PKT_PAYLOAD ? buf_alloc
								 : VSOCK_MAX_PKT_PAYLOAD;

	return quarter > one_packet ? quarter : one_packet;
}

bool credit_update_due(uint32_t buf_alloc, uint32_t received,
		      uint32_t fwd_cnt, uint32_t advertised_fwd_cnt)
{
	uint32_t peer_view_free = credit_peer_free(buf_alloc, advertised_fwd_cnt,
						   received);

	if (fwd_cnt == advertised_fwd_cnt)
		return false;
	return peer_view_free < credit_update_threshold(buf_alloc);
}
