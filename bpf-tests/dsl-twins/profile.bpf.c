/* C twin of examples/tools/profile.bpf.ts: count (pid, kernel stack, user stack, comm) per perf sample. */
#include "twins.h"

struct profile_sample {
	__u32 pid;
	__s32 kernelStack;
	__s32 userStack;
	char comm[16];
};

__u32 targetTgid = 0;
__u32 includeIdle = 0;
__u32 onlyStacks = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, 4);
	__uint(value_size, 127 * 8);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct profile_sample);
	__type(value, __u64);
} samples SEC(".maps");

SEC("perf_event")
int onSample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	struct profile_sample s;
	__u64 zero = 0, *n;

	if (!includeIdle && (__u32)id == 0)
		return 0;
	if (targetTgid && pid != targetTgid)
		return 0;
	__builtin_memset(&s, 0, sizeof(s));
	s.pid = pid;
	s.kernelStack = onlyStacks == 1 ? -1 : bpf_get_stackid(ctx, &stacks, 0);
	s.userStack = onlyStacks == 2 ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	bpf_get_current_comm(s.comm, sizeof(s.comm));
	n = bpf_map_lookup_or_try_init(&samples, &s, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
