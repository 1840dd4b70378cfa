/* Maps of many kinds, defined in .maps with BTF key/value types or sizes. */
#include "common.h"

struct pair { __u32 a; __u64 b; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, struct pair); } hash_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64); } array_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 16); __uint(key_size, 4); __uint(value_size, 8); } percpu_hash SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } percpu_array SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 32); __type(key, __u64); __type(value, __u32); } lru_hash SEC(".maps");

struct lpm_key { __u32 prefixlen; __u32 addr; };
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 16); __type(key, struct lpm_key); __type(value, __u32); __uint(map_flags, BPF_F_NO_PREALLOC); } lpm SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, sizeof(int)); __uint(value_size, sizeof(int)); } perf_events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 8); __type(value, __u32); } queue SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK); __uint(max_entries, 8); __type(value, __u32); } stack SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __uint(max_entries, 16); __type(value, __u32); __uint(map_extra, 3); } bloom SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __u32); __uint(map_flags, BPF_F_NO_PREALLOC); __uint(numa_node, 0); } flagged_hash SEC(".maps");

/* Fills the maps when test-run: every write is checked by the test from user space. */
SEC("tc")
int fill_maps(struct __sk_buff *ctx)
{
	__u32 k = 7, one = 1;
	__u64 k64 = 99;
	struct pair p = { .a = 42, .b = 0x1122334455667788ULL };
	bpf_map_update_elem(&hash_map, &k, &p, BPF_ANY);

	__u32 idx = 3;
	__u64 v = 12345;
	bpf_map_update_elem(&array_map, &idx, &v, BPF_ANY);
	bpf_map_update_elem(&percpu_hash, &k, &v, BPF_ANY);
	bpf_map_update_elem(&lru_hash, &k64, &k, BPF_ANY);

	struct lpm_key lk = { .prefixlen = 24, .addr = bpf_htonl(0x0a000100) };
	__u32 lv = 24;
	bpf_map_update_elem(&lpm, &lk, &lv, BPF_ANY);

	__u32 q = 5;
	bpf_map_push_elem(&queue, &q, 0);
	q = 6;
	bpf_map_push_elem(&queue, &q, 0);
	bpf_map_push_elem(&stack, &q, 0);
	bpf_map_push_elem(&bloom, &one, 0);
	bpf_map_update_elem(&flagged_hash, &one, &one, BPF_ANY);

	__u32 *rec = bpf_ringbuf_reserve(&events, sizeof(__u32), 0);
	if (rec) {
		*rec = 0xabcd;
		bpf_ringbuf_submit(rec, 0);
	}
	/* The return value proves the bloom filter saw the pushed value. */
	return bpf_map_peek_elem(&bloom, &one) == 0 ? 1 : 0;
}

/* Counts per-CPU calls of an XDP program that passes every packet. */
SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&percpu_array, &key);
	if (n)
		*n += 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
