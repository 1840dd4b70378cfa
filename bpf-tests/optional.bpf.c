/* SEC("?...") programs are not loaded unless asked for (libbpf's autoload = false). */
#include "common.h"

SEC("xdp")
int xdp_always(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("?xdp")
int xdp_optional(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
