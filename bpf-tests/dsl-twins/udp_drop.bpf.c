#include "twins.h"
SEC("tcx/ingress") int udp_drop(struct __sk_buff *skb) {
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP) return TC_ACT_OK;
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end) return TC_ACT_OK;
	return bpf_ntohs(udp->dest) == 53 ? TC_ACT_SHOT : TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
