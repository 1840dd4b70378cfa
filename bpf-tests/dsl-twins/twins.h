/* Shared includes for the DSL twins: C versions of test/dsl twin modules. */
#ifndef TSBPF_DSL_TWINS_H
#define TSBPF_DSL_TWINS_H
#include "../common.h"
#define ETH_P_IP 0x0800
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
/*
 * A module's ring buffer counts the reservations (and outputs) that failed
 * because the ring was full, in a hidden .data u64 per ring, and tsbpf run
 * reports them as lost events (README: "lost N events from RING"); the
 * kernel counts nothing for ring buffers. The twins of tools with a ring
 * buffer count the same way, under the same name, so `tsbpf run` reports
 * the twin's lost events too.
 */
#define RINGBUF_DROPS(ring) __u64 __tsbpf_ringbuf_drops_##ring SEC(".data") = 0
#define COUNT_DROP(ring) __sync_fetch_and_add(&__tsbpf_ringbuf_drops_##ring, 1)
/*
 * A module's m.increment()/h.record() inserts a missing key with
 * BPF_NOEXIST and, when another CPU inserted it first, looks it up again
 * and adds (docs/language.md); the twins count the way bcc's libbpf-tools
 * do (maps.bpf.h), which also survives that race.
 */
#define EEXIST 17
static __always_inline void *bpf_map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return 0;
	return bpf_map_lookup_elem(map, key);
}
#endif
