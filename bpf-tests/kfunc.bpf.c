/* kfunc calls: kernel functions called by BTF id (Linux 6.2+ for these two). */
#include "common.h"

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

__u64 found_pid;

SEC("syscall")
int find_self(void *ctx)
{
	struct task_struct *t = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);
	if (!t)
		return -1;
	found_pid = t->pid;
	bpf_task_release(t);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
