/* Map-in-map with inner map definitions and initial values. */
#include "common.h"

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner inner_a SEC(".maps");
struct inner inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 4);
		__type(key, __u32);
		__type(value, __u32);
	});
} outer_hash SEC(".maps");

/* Writes through the outer maps; returns how many inner maps were found. */
SEC("syscall")
int write_inner(void *ctx)
{
	__u32 k0 = 0, k2 = 2, slot = 1, v = 111, found = 0;
	void *m = bpf_map_lookup_elem(&outer_array, &k0);
	if (m) {
		bpf_map_update_elem(m, &slot, &v, BPF_ANY);
		found++;
	}
	m = bpf_map_lookup_elem(&outer_array, &k2);
	if (m) {
		v = 222;
		bpf_map_update_elem(m, &slot, &v, BPF_ANY);
		found++;
	}
	m = bpf_map_lookup_elem(&outer_hash, &k0);
	if (m) {
		v = 333;
		bpf_map_update_elem(m, &slot, &v, BPF_ANY);
		found++;
	}
	return found;
}

char LICENSE[] SEC("license") = "GPL";
