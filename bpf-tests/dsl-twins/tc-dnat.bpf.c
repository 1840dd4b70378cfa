/* C twin of examples/tools/tc-dnat.bpf.ts: rewrite the destination of UDP packets to a service, fixing the checksums. */
#include "twins.h"

#define BPF_F_PSEUDO_HDR 0x10
#define BPF_F_MARK_MANGLED_0 0x20
#define IP_CHECK (sizeof(struct ethhdr) + 10)
#define UDP_CHECK (sizeof(struct ethhdr) + sizeof(struct iphdr) + 6)

struct endpoint {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

struct backend {
	__be32 addr;
	__be16 port;
	__u16 pad;
	__u64 rewritten;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct endpoint);
	__type(value, struct backend);
} services SEC(".maps");

SEC("tc")
int dnat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	struct endpoint key;
	struct backend *backend;
	__be32 oldAddr, newAddr;
	__be16 oldPort, newPort;
	__s64 diff;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	/* Options would move the UDP header: only 20-byte IP headers are rewritten. */
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || *(__u8 *)ip != 0x45)
		return TC_ACT_OK;
	if ((void *)(udp + 1) > data_end)
		return TC_ACT_OK;
	key.addr = ip->daddr;
	key.port = udp->dest;
	key.pad = 0;
	backend = bpf_map_lookup_elem(&services, &key);
	if (!backend)
		return TC_ACT_OK;
	oldAddr = ip->daddr;
	oldPort = udp->dest;
	newAddr = backend->addr;
	newPort = backend->port;
	__sync_fetch_and_add(&backend->rewritten, 1);
	ip->daddr = newAddr;
	udp->dest = newPort;
	/* The address is in the IP header and in UDP's pseudo header; the port only in UDP's. */
	diff = bpf_csum_diff(&oldAddr, 4, &newAddr, 4, 0);
	bpf_l3_csum_replace(skb, IP_CHECK, 0, diff, 0);
	bpf_l4_csum_replace(skb, UDP_CHECK, 0, diff, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
	bpf_l4_csum_replace(skb, UDP_CHECK, oldPort, newPort, 2 | BPF_F_MARK_MANGLED_0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
