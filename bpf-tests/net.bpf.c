/* XDP, tc and socket filter programs over packets (IPv4/UDP counting). */
#include "common.h"

#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} by_proto SEC(".maps");

static __always_inline int ip_proto(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	return ip->protocol;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	int proto = ip_proto((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	if (proto < 0)
		return XDP_PASS;
	__u32 key = proto;
	__u64 *n = bpf_map_lookup_elem(&by_proto, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return proto == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}

SEC("xdp.frags")
int xdp_frags_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_drop_udp(struct __sk_buff *skb)
{
	int proto = ip_proto((void *)(long)skb->data, (void *)(long)skb->data_end);
	return proto == IPPROTO_UDP ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("classifier")
int cls_mark(struct __sk_buff *skb)
{
	skb->mark = 0x42;
	return TC_ACT_OK;
}

SEC("socket")
int sock_len(struct __sk_buff *skb)
{
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
