/* Maps of the kinds libbpf-tools and xdp-tools use, a ring buffer, storage maps, tail calls and a global function. */
#include "../common.h"

struct event { u32 pid; u32 kind; u64 value; };

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 256 * 1024); } rb SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 1024); __type(key, u32); __type(value, u64); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 128); __type(key, u32); __type(value, u64); } pcpu_hash SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct event); } heap SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK_TRACE); __uint(max_entries, 128); __uint(key_size, sizeof(u32)); __uint(value_size, 127 * sizeof(u64)); } stacks SEC(".maps");
struct lpm_key { u32 prefixlen; u32 addr; };
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 64); __type(key, struct lpm_key); __type(value, u32); __uint(map_flags, BPF_F_NO_PREALLOC); } nets SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 32); __type(value, u64); } q SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __uint(max_entries, 100); __type(value, u32); __uint(map_extra, 3); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_TASK_STORAGE); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, int); __type(value, u64); } task_ts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_SK_STORAGE); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, int); __type(value, u32); } sk_marks SEC(".maps");

int tail_1(void *ctx);
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(max_entries, 4); __type(key, u32); __array(values, int(void *)); } jump SEC(".maps") = { .values = { [1] = (void *)&tail_1 } };

u32 hits = 0;
const volatile u32 filter_pid = 0;

/* A global function: the verifier checks it on its own. */
__noinline int record(u32 kind, u64 value)
{
	struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return -1;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->kind = kind;
	e->value = value;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int tail_1(void *ctx)
{
	record(1, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32, zero = 0;
	u64 one = 1, *v, *ts;
	struct lpm_key k = { .prefixlen = 32, .addr = pid };
	struct task_struct *task = bpf_get_current_task_btf();
	struct event *scratch;

	if (filter_pid && pid != filter_pid)
		return 0;
	v = bpf_map_lookup_elem(&lru, &pid);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&lru, &pid, &one, BPF_ANY);
	bpf_map_update_elem(&pcpu_hash, &zero, &one, BPF_ANY);
	scratch = bpf_map_lookup_elem(&heap, &zero);
	if (scratch)
		scratch->value = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (bpf_map_lookup_elem(&nets, &k))
		hits++;
	bpf_map_push_elem(&q, &one, BPF_EXIST);
	if (bpf_map_peek_elem(&seen, &pid) != 0)
		bpf_map_push_elem(&seen, &pid, 0);
	ts = bpf_task_storage_get(&task_ts, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	record(0, ctx->args[0]);
	bpf_tail_call(ctx, &jump, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int mark_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	u32 *mark;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	mark = bpf_sk_storage_get(&sk_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (mark)
		(*mark)++;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
