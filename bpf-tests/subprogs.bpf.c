/* Static and global subprograms, bpf-to-bpf calls, several programs per section. */
#include "common.h"

__u64 trace[4];

static __noinline __u64 square(__u64 x)
{
	return x * x;
}

static __noinline __u64 sum_of_squares(__u64 a, __u64 b)
{
	return square(a) + square(b);
}

/* A global function is verified on its own by the kernel. */
__noinline int global_add(int a, int b)
{
	return a + b;
}

/* A hidden global function: libbpf (and tsbpf) make it static in the BTF
 * given to the kernel, so it is verified with its caller's context. */
__hidden __noinline int hidden_twice(int x)
{
	return x * 2;
}

/* A weak hidden function, as libbpf's usdt.bpf.h declares bpf_usdt_arg: static to
 * the verifier too, so it may write through its caller's pointer without a NULL
 * check (a global function's pointer argument may be NULL and is refused). */
__weak __hidden __noinline int weak_hidden_store(__u64 *out, __u64 v)
{
	*out = v;
	return 0;
}

SEC("syscall")
int first(void *ctx)
{
	trace[0] = sum_of_squares(3, 4);     /* 25 */
	return global_add(20, 5);            /* 25 */
}

SEC("syscall")
int second(void *ctx)
{
	trace[1] = square(9);                /* 81 */
	return global_add(hidden_twice((int)square(2)) - 4, 1); /* 5 */
}

/* A callback passed by address (lddw of a function: BPF_PSEUDO_FUNC). */
static int add_index(__u32 index, void *ctx)
{
	*(__u64 *)ctx += index;
	return 0;
}

SEC("syscall")
int loops(void *ctx)
{
	__u64 sum = 0;
	bpf_loop(5, add_index, &sum, 0);
	trace[2] = sum;                      /* 0+1+2+3+4 = 10 */
	return sum;
}

SEC("syscall")
int weak_store(void *ctx)
{
	__u64 v = 0;
	weak_hidden_store(&v, 42);
	trace[3] = v;
	return v;                            /* 42 */
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	return sum_of_squares(1, 1) == 2 ? XDP_PASS : XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
