/* C twin of examples/tools/exitsnoop.bpf.ts: one event per exiting task, with its parent (CO-RE), exit code and age. */
#include "twins.h"

struct exit_event {
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__s32 exitCode;
	__u64 ageNs;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exits SEC(".maps");
RINGBUF_DROPS(exits);

SEC("tracepoint/sched/sched_process_exit")
int onExit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exit_event *e = bpf_ringbuf_reserve(&exits, sizeof(*e), 0);

	if (!e) {
		COUNT_DROP(exits);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exitCode = BPF_CORE_READ(task, exit_code);
	e->ageNs = bpf_ktime_get_ns() - BPF_CORE_READ(task, start_time);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
