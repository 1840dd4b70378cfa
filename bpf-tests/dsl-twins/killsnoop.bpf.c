/* C twin of examples/tools/killsnoop.bpf.ts: kill(2) calls with their target, signal and result. */
#include "twins.h"

struct kill {
	__u32 pid;
	__s32 tpid;
	__s32 sig;
	__s32 ret;
	char comm[16];
};

struct pending {
	__s32 tpid;
	__s32 sig;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} kills SEC(".maps");
RINGBUF_DROPS(kills);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_kill")
int onKill(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = { .tpid = (__s32)ctx->args[0], .sig = (__s32)ctx->args[1] };

	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int onKillReturn(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	struct kill *e;

	if (!p)
		return 0;
	e = bpf_ringbuf_reserve(&kills, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->tpid = p->tpid;
		e->sig = p->sig;
		e->ret = (__s32)ctx->ret;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	} else {
		COUNT_DROP(kills);
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
