#include "twins.h"
SEC("xdp") int ttl_dec(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end) return XDP_PASS;
	if (ip->ttl <= 1) return XDP_DROP;
	ip->ttl -= 1;
	return XDP_TX;
}
char LICENSE[] SEC("license") = "GPL";
