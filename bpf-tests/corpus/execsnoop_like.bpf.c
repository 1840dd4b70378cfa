/* Modelled on libbpf-tools' execsnoop: an event per exec, built at entry, sent at exit. */
#include "../common.h"

#define ARGSIZE 64
#define MAX_ARGS 8

const volatile bool ignore_failed = true;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile int max_args = MAX_ARGS;

struct event {
	pid_t pid;
	pid_t ppid;
	uid_t uid;
	int retval;
	int args_count;
	unsigned int args_size;
	char comm[16];
	char args[MAX_ARGS * ARGSIZE];
};

static const struct event empty_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, pid_t);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

static __always_inline bool valid_uid(uid_t uid)
{
	return uid != (uid_t)-1;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	pid_t pid = (pid_t)id, tgid = id >> 32;
	uid_t uid = (u32)bpf_get_current_uid_gid();
	struct task_struct *task;
	struct event *event;
	const char **args = (const char **)(ctx->args[1]);
	const char *argp;
	unsigned int ret;
	int i;

	if (valid_uid(targ_uid) && targ_uid != uid)
		return 0;
	if (bpf_map_update_elem(&execs, &pid, &empty_event, BPF_NOEXIST))
		return 0;
	event = bpf_map_lookup_elem(&execs, &pid);
	if (!event)
		return 0;
	event->pid = tgid;
	event->uid = uid;
	task = (struct task_struct *)bpf_get_current_task();
	event->ppid = (pid_t)BPF_CORE_READ(task, real_parent, tgid);
	event->args_count = 0;
	event->args_size = 0;

	ret = bpf_probe_read_user_str(event->args, ARGSIZE, (const char *)ctx->args[0]);
	if (ret <= ARGSIZE)
		event->args_size += ret;
	else
		event->args[0] = '\0';
	event->args_count++;

#pragma unroll
	for (i = 1; i < MAX_ARGS; i++) {
		if (i >= max_args)
			break;
		bpf_probe_read_user(&argp, sizeof(argp), &args[i]);
		if (!argp)
			return 0;
		if (event->args_size > (MAX_ARGS - 1) * ARGSIZE)
			return 0;
		ret = bpf_probe_read_user_str(&event->args[event->args_size], ARGSIZE, argp);
		if (ret > ARGSIZE)
			return 0;
		event->args_count++;
		event->args_size += ret;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	pid_t pid = (pid_t)id;
	struct event *event;
	int ret = ctx->ret;
	size_t len;

	event = bpf_map_lookup_elem(&execs, &pid);
	if (!event)
		return 0;
	if (ignore_failed && ret < 0)
		goto cleanup;
	event->retval = ret;
	bpf_get_current_comm(&event->comm, sizeof(event->comm));
	len = offsetof(struct event, args) + event->args_size;
	if (len <= sizeof(*event))
		bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, event, len);
cleanup:
	bpf_map_delete_elem(&execs, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
