/* CO-RE reads of task_struct and friends, on events of one target process. */
#include "common.h"

const volatile __u32 target_tgid = 0;

struct snapshot {
	__u32 pid;
	__u32 tgid;
	__u32 parent_tgid;
	__u32 comm_size;
	char comm[16];
	__u32 has_pid_field;
	__u32 has_made_up_field;
	__u32 task_struct_exists;
	__u32 running_enum;
	__u64 pid_offset;
	__u64 calls;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct snapshot);
} snapshots SEC(".maps");

/* A local flavor of task_struct with a field no kernel has. */
struct task_struct___local {
	int pid;
	int made_up_field;
} __attribute__((preserve_access_index));

static __always_inline void take(__u32 slot)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct snapshot *s = bpf_map_lookup_elem(&snapshots, &slot);
	if (!s)
		return;
	/* The main thread only: the process's other threads (the runtime's) make
	 * syscalls of their own at any moment, and would overwrite the snapshot. */
	if ((__u32)BPF_CORE_READ(task, tgid) != target_tgid || (__u32)BPF_CORE_READ(task, pid) != target_tgid)
		return;
	s->pid = BPF_CORE_READ(task, pid);
	s->tgid = BPF_CORE_READ(task, tgid);
	s->parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&s->comm, task, comm);
	s->comm_size = bpf_core_field_size(task->comm);
	s->has_pid_field = bpf_core_field_exists(task->pid);
	s->has_made_up_field = bpf_core_field_exists(((struct task_struct___local *)task)->made_up_field);
	s->task_struct_exists = bpf_core_type_exists(struct task_struct);
	s->running_enum = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	s->pid_offset = bpf_core_field_offset(task->pid);
	s->calls += 1;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	take(0);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	take(1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter_btf, struct pt_regs *regs, long id)
{
	take(2);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
