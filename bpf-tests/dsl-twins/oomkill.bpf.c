/* C twin of examples/tools/oomkill.bpf.ts: one event per task the OOM killer chooses. */
#include "twins.h"

struct kill {
	__u32 triggerPid;
	__s32 victimPid;
	__u64 totalVm;
	__u64 anonRss;
	char triggerComm[16];
	char victimComm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} kills SEC(".maps");
RINGBUF_DROPS(kills);

SEC("tracepoint/oom/mark_victim")
int onMarkVictim(struct trace_event_raw_mark_victim *ctx)
{
	struct kill *e = bpf_ringbuf_reserve(&kills, sizeof(*e), 0);

	if (!e) {
		COUNT_DROP(kills);
		return 0;
	}
	e->triggerPid = bpf_get_current_pid_tgid() >> 32;
	e->victimPid = ctx->pid;
	e->totalVm = ctx->total_vm;
	e->anonRss = ctx->anon_rss;
	bpf_get_current_comm(e->triggerComm, sizeof(e->triggerComm));
	/* comm is a __data_loc string: its offset in the low 16 bits. */
	bpf_probe_read_kernel_str(e->victimComm, sizeof(e->victimComm), (void *)ctx + (ctx->__data_loc_comm & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
