#include "twins.h"
SEC("xdp") int mac_sum(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) return 0;
	__u32 sum = 0;
	for (int i = 0; i < 6; i++) sum += eth->h_dest[i] + eth->h_source[i];
	return sum;
}
char LICENSE[] SEC("license") = "GPL";
