#include "twins.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } classes SEC(".maps");
SEC("xdp") int port_class(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP) return XDP_PASS;
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end) return XDP_PASS;
	__u16 port = bpf_ntohs(udp->dest);
	__u32 k = port < 1024 ? 1 : port < 49152 ? 2 : 3;
	__u64 *v = bpf_map_lookup_elem(&classes, &k);
	if (v) __sync_fetch_and_add(v, 1);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
