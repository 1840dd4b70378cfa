#include "twins.h"
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 256); __type(key, __u32); __type(value, __u64); } by_proto SEC(".maps");
SEC("xdp") int proto_count(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end) return XDP_PASS;
	__u32 key = ip->protocol;
	__u64 *v = bpf_map_lookup_elem(&by_proto, &key);
	if (v) *v += 1;
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
