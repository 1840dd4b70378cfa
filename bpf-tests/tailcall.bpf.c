/* Tail calls through a prog array filled from its initial values. */
#include "common.h"

int entry(void *ctx);
int step_one(void *ctx);
int step_two(void *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&step_one, [2] = (void *)&step_two },
};

__u64 visited;

SEC("xdp")
int step_two(void *ctx)
{
	visited |= 4;
	return XDP_TX;
}

SEC("xdp")
int step_one(void *ctx)
{
	visited |= 2;
	bpf_tail_call(ctx, &jumps, 2);
	return XDP_DROP;
}

SEC("xdp")
int entry(void *ctx)
{
	visited |= 1;
	bpf_tail_call(ctx, &jumps, 1);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
