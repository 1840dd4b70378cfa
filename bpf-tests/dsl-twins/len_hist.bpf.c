#include "twins.h"
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } hist SEC(".maps");
SEC("xdp") int len_hist(struct xdp_md *ctx) {
	__u32 len = ctx->data_end - ctx->data;
	__u32 bucket = len >> 6;
	if (bucket > 15) bucket = 15;
	__u64 *v = bpf_map_lookup_elem(&hist, &bucket);
	if (v) __sync_fetch_and_add(v, 1);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
