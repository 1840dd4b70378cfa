/* C twin of examples/tools/xdp-lb.bpf.ts: an entry program tail-calling a UDP or TCP stage that rewrites the destination to a hashed backend (XDP_TX). */
#include "twins.h"

#define UDP_STAGE 0
#define TCP_STAGE 1
#define ETH_ALEN 6

struct service {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct pool {
	__u32 first;
	__u32 count;
};

struct backend {
	__be32 addr;
	__u32 pad;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct service);
	__type(value, struct pool);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

static __always_inline struct backend *pick(__be32 vip, __be16 port, __u8 proto, __be32 client, __be16 client_port, __u32 length)
{
	struct service key = { .addr = vip, .port = port, .proto = proto };
	struct pool *pool = bpf_map_lookup_elem(&services, &key);
	struct backend *b;
	__u32 slot;
	__u64 h;

	if (!pool || pool->count == 0)
		return NULL;
	h = ((((__u64)client << 16) ^ (__u64)client_port) * 0x9e3779b97f4a7c15ULL) >> 32;
	slot = pool->first + (__u32)(h % pool->count);
	b = bpf_map_lookup_elem(&backends, &slot);
	if (!b)
		return NULL;
	__sync_fetch_and_add(&b->packets, 1);
	__sync_fetch_and_add(&b->bytes, length);
	return b;
}

static __always_inline __u16 updated(__u16 check, __s64 diff)
{
	__u64 s = (__u64)(~check & 0xffff) + (__u64)(diff & 0xffffffff);

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* The destination to the backend, the IP checksum updated, the frame sent back; the checksum difference for the transport checksum. */
static __always_inline __s64 forward(struct ethhdr *eth, struct iphdr *ip, struct backend *b)
{
	unsigned char tmp[ETH_ALEN];
	__s64 diff = bpf_csum_diff(&ip->daddr, 4, &b->addr, 4, 0);

	ip->daddr = b->addr;
	ip->check = updated(ip->check, diff);
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return diff;
}

SEC("xdp")
int balanceUdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)ip + sizeof(*ip);
	struct backend *b;
	__s64 diff;
	__u16 c;

	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	b = pick(ip->daddr, udp->dest, IPPROTO_UDP, ip->saddr, udp->source, end - data);
	if (!b)
		return XDP_PASS;
	diff = forward(eth, ip, b);
	if (udp->check) {
		c = updated(udp->check, diff);
		udp->check = c ? c : 0xffff;
	}
	return XDP_TX;
}

SEC("xdp")
int balanceTcp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcphdr *tcp = (void *)ip + sizeof(*ip);
	struct backend *b;

	if ((void *)(tcp + 1) > end)
		return XDP_PASS;
	b = pick(ip->daddr, tcp->dest, IPPROTO_TCP, ip->saddr, tcp->source, end - data);
	if (!b)
		return XDP_PASS;
	tcp->check = updated(tcp->check, forward(eth, ip, b));
	return XDP_TX;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} stages SEC(".maps") = {
	.values = { [UDP_STAGE] = (void *)&balanceUdp, [TCP_STAGE] = (void *)&balanceTcp },
};

SEC("xdp")
int lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if ((void *)(ip + 1) > end || *(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))
		return XDP_PASS;
	if (ip->protocol == IPPROTO_UDP)
		bpf_tail_call(ctx, &stages, UDP_STAGE);
	else if (ip->protocol == IPPROTO_TCP)
		bpf_tail_call(ctx, &stages, TCP_STAGE);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
