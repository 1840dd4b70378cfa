/* Global data: .data, .rodata (set before load), .bss and custom sections. */
#include "common.h"

const volatile __u32 multiplier = 3;           /* .rodata, overridden by the tests */
const volatile char greeting[8] = "hello";       /* .rodata */
__u64 counter = 10;                             /* .data */
__u32 zeroed[4];                                /* .bss */
__u64 result;                                   /* .bss */
__u32 custom_data SEC(".data.custom") = 77;      /* custom data section */
const volatile __u32 custom_ro SEC(".rodata.custom") = 88;

static const char table[4] = { 1, 2, 4, 8 };    /* .rodata, static */

SEC("syscall")
int use_globals(void *ctx)
{
	counter += 1;
	zeroed[1] = multiplier * 7;
	zeroed[2] = greeting[0];
	zeroed[3] = table[2] + custom_ro;
	custom_data += 1;
	result = counter * multiplier;
	return multiplier;
}

SEC("xdp")
int xdp_reads_rodata(struct xdp_md *ctx)
{
	return multiplier == 3 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
