/* Must NOT load: dereferences a pointer read from the tracepoint's context
 * without bpf_probe_read (a scalar to the verifier). `tsbpf run` has to show
 * the verifier's log and point at the C line of the failing read. */
#include "common.h"

SEC("tracepoint/syscalls/sys_enter_getppid")
int reads_scalar(void *ctx)
{
	char *p = *(char **)((char *)ctx + 16);
	return p[3];
}

char LICENSE[] SEC("license") = "GPL";
