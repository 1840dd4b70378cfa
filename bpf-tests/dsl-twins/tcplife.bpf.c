/* C twin of examples/tools/tcplife.bpf.ts: one event per closed TCP socket with bytes (CO-RE on the tcp_sock) and lifetime. */
#include "twins.h"

#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9

struct life {
	__u64 spanUs;
	__u64 rxBytes;
	__u64 txBytes;
	__u32 pid;
	__u16 family;
	__u16 sport;
	__u16 dport;
	char comm[16];
	__u8 saddr[16];
	__u8 daddr[16];
};

struct owner {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lives SEC(".maps");
RINGBUF_DROPS(lives);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct sock *);
	__type(value, __u64);
} births SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct sock *);
	__type(value, struct owner);
} owners SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int onStateChange(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	int state = ctx->newstate;
	struct owner *who, owner;
	struct life *e;
	__u64 *born, ts;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (state < TCP_FIN_WAIT1) {
		ts = bpf_ktime_get_ns();
		bpf_map_update_elem(&births, &sk, &ts, BPF_ANY);
	}
	if (state == TCP_SYN_SENT || state == TCP_LAST_ACK) {
		owner.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(owner.comm, sizeof(owner.comm));
		bpf_map_update_elem(&owners, &sk, &owner, BPF_ANY);
	}
	if (state != TCP_CLOSE)
		return 0;
	born = bpf_map_lookup_elem(&births, &sk);
	if (!born) {
		bpf_map_delete_elem(&owners, &sk);
		return 0;
	}
	e = bpf_ringbuf_reserve(&lives, sizeof(*e), 0);
	if (!e) {
		COUNT_DROP(lives);
		return 0;
	}
	e->spanUs = (bpf_ktime_get_ns() - *born) / 1000;
	e->rxBytes = BPF_CORE_READ((struct tcp_sock *)sk, bytes_received);
	e->txBytes = BPF_CORE_READ((struct tcp_sock *)sk, bytes_acked);
	who = bpf_map_lookup_elem(&owners, &sk);
	if (!who) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	} else {
		e->pid = who->pid;
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), who->comm);
	}
	e->family = ctx->family;
	e->sport = ctx->sport;
	e->dport = ctx->dport;
	/* IPv4 sockets have their addresses there too, as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
	bpf_probe_read_kernel(e->saddr, sizeof(e->saddr), ctx->saddr_v6);
	bpf_probe_read_kernel(e->daddr, sizeof(e->daddr), ctx->daddr_v6);
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&births, &sk);
	bpf_map_delete_elem(&owners, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
