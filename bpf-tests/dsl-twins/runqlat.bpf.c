/* C twin of examples/tools/runqlat.bpf.ts: run-queue latency (wakeup to switch-in) as a log2 histogram, tp_btf. */
#include "twins.h"

const volatile __u32 targetTgid = 0;
const volatile __u32 inMilliseconds = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} enqueued SEC(".maps");

/* The module's log2Hist: bpftrace's hist() layout, a per-CPU hash from bucket to count. */
struct hist_key {
	__u64 bucket;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, __u64);
} runqLatency SEC(".maps");

static __always_inline void enqueue(struct task_struct *task)
{
	__u32 tid = task->pid;
	__u64 ts;

	if (tid == 0)
		return;
	if (targetTgid && task->tgid != targetTgid)
		return;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&enqueued, &tid, &ts, BPF_ANY);
}

/* bpftrace's hist() bucket: 0 for negatives, 1 for 0, else 2 + floor(log2(v)). */
static __always_inline __u64 log2_index(__s64 v)
{
	__u64 n = v, i = 2;

	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	if (n >> 32) { n >>= 32; i += 32; }
	if (n >> 16) { n >>= 16; i += 16; }
	if (n >> 8) { n >>= 8; i += 8; }
	if (n >> 4) { n >>= 4; i += 4; }
	if (n >> 2) { n >>= 2; i += 2; }
	if (n >> 1)
		i += 1;
	return i;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(onWakeup, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(onWakeupNew, struct task_struct *p)
{
	enqueue(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(onSwitch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct hist_key key = {};
	__u64 *since, delta, zero = 0, *count;
	__u32 tid;

	/* A task switched out while still runnable (preempted) waits on the run queue again. */
	if (prev->__state == 0)
		enqueue(prev);
	tid = next->pid;
	since = bpf_map_lookup_elem(&enqueued, &tid);
	if (!since)
		return 0;
	delta = bpf_ktime_get_ns() - *since;
	bpf_map_delete_elem(&enqueued, &tid);
	key.bucket = log2_index(inMilliseconds ? delta / 1000000 : delta / 1000);
	count = bpf_map_lookup_or_try_init(&runqLatency, &key, &zero);
	if (count)
		*count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
