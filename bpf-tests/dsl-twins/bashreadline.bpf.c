/* C twin of examples/tools/bashreadline.bpf.ts: each line bash's readline returns. */
#include "twins.h"

struct line {
	__u32 pid;
	char comm[16];
	char line[120];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lines SEC(".maps");
RINGBUF_DROPS(lines);

SEC("uretprobe//bin/bash:readline")
int BPF_KRETPROBE(onReadline, const void *text)
{
	struct line *e;

	if (!text)
		return 0;
	e = bpf_ringbuf_reserve(&lines, sizeof(*e), 0);
	if (!e) {
		COUNT_DROP(lines);
		return 0;
	}
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->line, sizeof(e->line), text);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
