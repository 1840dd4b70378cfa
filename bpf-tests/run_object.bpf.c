/* A clang-built object for `tsbpf run x.o`: counts getpgid(MARK) calls from
 * the test's thread in a struct-keyed hash, a per-CPU array and a global, and
 * sends each as a ring-buffer record. MARK and the thread id are set with --set. */
#include "common.h"

struct thread_key { __u32 tid; char tag[8]; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, struct thread_key); __type(value, __u64); } by_thread SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } per_cpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");

const volatile __u64 mark = 0;
const volatile __u32 tid = 0;
__u64 calls = 0;

/* tracepoint/syscalls/sys_enter_getpgid: the pid argument is at offset 16. */
SEC("tracepoint/syscalls/sys_enter_getpgid")
int on_getpgid(void *ctx)
{
	__u64 pid = *(__u64 *)((char *)ctx + 16);
	if (pid != mark || (__u32)bpf_get_current_pid_tgid() != tid)
		return 0;
	struct thread_key k = { .tid = tid, .tag = "marked" };
	__u64 one = 1, *v = bpf_map_lookup_elem(&by_thread, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&by_thread, &k, &one, BPF_ANY);
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&per_cpu, &zero);
	if (c)
		*c += 1;
	__sync_fetch_and_add(&calls, 1);
	__u32 *e = bpf_ringbuf_reserve(&events, sizeof(__u32), 0);
	if (e) {
		*e = 0xabcd;
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
