#include "twins.h"
struct vlan { __be16 tci; __be16 proto; };
SEC("xdp") int vlan_id(struct xdp_md *ctx) {
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end) return 0;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q)) return 1;
	struct vlan *vlan = (void *)(eth + 1);
	if ((void *)(vlan + 1) > end) return 0;
	return bpf_ntohs(vlan->tci) & 0xfff;
}
char LICENSE[] SEC("license") = "GPL";
