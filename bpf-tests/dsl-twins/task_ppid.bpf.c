/* C twin of task_ppid.bpf.ts: the parent's tgid through CO-RE (BPF_CORE_READ), by pid. */
#include "twins.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} parents SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int task_ppid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_map_update_elem(&parents, &pid, &ppid, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
