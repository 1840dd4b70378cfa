/* C twin of examples/tools/xdp-firewall.bpf.ts: drop packets from blocked IPv4/IPv6 prefixes (LPM tries), counting per rule and per verdict. */
#include "twins.h"

#define ETH_P_IPV6 0x86DD

struct v4_prefix {
	__u32 prefixLen;
	__be32 addr;
};

struct v6_prefix {
	__u32 prefixLen;
	__u8 addr[16];
};

struct rule {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct v4_prefix);
	__type(value, struct rule);
} blocked4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct v6_prefix);
	__type(value, struct rule);
} blocked6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline void count(__u32 verdict)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &verdict);

	if (n)
		*n += 1;
}

SEC("xdp")
int firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct rule *rule;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= data_end) {
			struct v4_prefix key = { .prefixLen = 32, .addr = ip->saddr };

			rule = bpf_map_lookup_elem(&blocked4, &key);
			if (rule) {
				__sync_fetch_and_add(&rule->packets, 1);
				__sync_fetch_and_add(&rule->bytes, data_end - data);
				count(1);
				return XDP_DROP;
			}
		}
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= data_end) {
			struct v6_prefix key;

			key.prefixLen = 128;
			for (int i = 0; i < 16; i++)
				key.addr[i] = ip6->saddr.in6_u.u6_addr8[i];
			rule = bpf_map_lookup_elem(&blocked6, &key);
			if (rule) {
				__sync_fetch_and_add(&rule->packets, 1);
				__sync_fetch_and_add(&rule->bytes, data_end - data);
				count(1);
				return XDP_DROP;
			}
		}
	}
	count(0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
