/* A TCP congestion control in BPF (struct_ops): a map of struct
 * tcp_congestion_ops whose function pointers are programs. */
#include "common.h"

__u64 calls;

SEC("struct_ops/tsbpf_ssthresh")
__u32 BPF_PROG(tsbpf_ssthresh, struct sock *sk)
{
	calls++;
	return 2;
}

SEC("struct_ops/tsbpf_undo_cwnd")
__u32 BPF_PROG(tsbpf_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/tsbpf_cong_avoid")
void BPF_PROG(tsbpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops tsbpf_cc = {
	.ssthresh = (void *)tsbpf_ssthresh,
	.undo_cwnd = (void *)tsbpf_undo_cwnd,
	.cong_avoid = (void *)tsbpf_cong_avoid,
	.name = "tsbpf_cc",
};

char LICENSE[] SEC("license") = "GPL";
