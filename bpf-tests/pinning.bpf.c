/* A map pinned by name (LIBBPF_PIN_BY_NAME) and reused on the next load. */
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counter SEC(".maps");

SEC("syscall")
int bump(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_counter, &k);
	if (!v)
		return -1;
	*v += 1;
	return *v;
}

char LICENSE[] SEC("license") = "GPL";
