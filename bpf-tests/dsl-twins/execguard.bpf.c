/* C twin of examples/tools/execguard.bpf.ts: an LSM policy refusing exec of listed paths except for allowed uids. */
#include "twins.h"

#define EPERM 1

struct path_key {
	char path[128];
};

struct refusal {
	struct path_key target;
	char comm[16];
	__u32 pid;
	__u32 uid;
	__u8 refused;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct path_key);
	__type(value, __u8);
} denied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} allowedUids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} enforce SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} refusals SEC(".maps");
RINGBUF_DROPS(refusals);

SEC("lsm/bprm_check_security")
int BPF_PROG(checkExec, struct linux_binprm *bprm, int ret)
{
	/* The event is built on the stack as the check goes: its path is the key looked up. */
	struct refusal e = {};
	__u32 zero = 0, *mode;
	int refuse;

	if (ret != 0)
		return ret;
	bpf_probe_read_kernel_str(e.target.path, sizeof(e.target.path), bprm->filename);
	if (!bpf_map_lookup_elem(&denied, &e.target))
		return 0;
	e.uid = (__u32)bpf_get_current_uid_gid();
	if (bpf_map_lookup_elem(&allowedUids, &e.uid))
		return 0;
	mode = bpf_map_lookup_elem(&enforce, &zero);
	refuse = mode && *mode == 1;
	/* Opaque to clang: otherwise it returns -refuse, a negation the verifier cannot bound to an LSM's [-4095, 0]. */
	barrier_var(refuse);
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.refused = refuse;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	if (bpf_ringbuf_output(&refusals, &e, sizeof(e), 0) < 0)
		COUNT_DROP(refusals);
	if (refuse)
		return -EPERM;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
