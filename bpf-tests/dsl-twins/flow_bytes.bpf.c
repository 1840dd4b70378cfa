#include "twins.h"
struct flow { __u32 saddr; __u32 daddr; __u8 proto; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, struct flow); __type(value, __u64); } flows SEC(".maps");
SEC("xdp") int flow_bytes(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if ((void *)(ip + 1) > end) return XDP_PASS;
	struct flow key;
	__builtin_memset(&key, 0, sizeof(key));
	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.proto = ip->protocol;
	__u64 len = end - data;
	__u64 *v = bpf_map_lookup_elem(&flows, &key);
	if (v) __sync_fetch_and_add(v, len);
	else bpf_map_update_elem(&flows, &key, &len, BPF_NOEXIST);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
