#include "twins.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } syns SEC(".maps");
SEC("xdp") int syn_count(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP) return XDP_PASS;
	__u8 *flags = (void *)(ip + 1) + 13;
	if ((void *)(flags + 1) > end) return XDP_PASS;
	if ((*flags & 0x02) && !(*flags & 0x10)) {
		__u32 k = 0;
		__u64 *v = bpf_map_lookup_elem(&syns, &k);
		if (v) __sync_fetch_and_add(v, 1);
	}
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
