/* .kconfig externs and untyped .ksyms (kfunc calls are in kfunc.bpf.c).
 * Typed variable ksyms need CONFIG_KALLSYMS_ALL, which the dev kernel lacks. */
#include "common.h"

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern int CONFIG_TSBPF_DOES_NOT_EXIST __kconfig __weak;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig __weak; /* probed by the loader, as libbpf does */

extern const void schedule __ksym;                     /* untyped: address from kallsyms */

__u64 kernel_version;
__u64 hz;
__u64 bpf_syscall;
__u64 jit;
__u64 missing;
__u64 schedule_addr;
__u64 syscall_wrapper;

SEC("syscall")
int read_config(void *ctx)
{
	kernel_version = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	jit = CONFIG_BPF_JIT;
	missing = CONFIG_TSBPF_DOES_NOT_EXIST;
	schedule_addr = (__u64)&schedule;
	/* A branch on a frozen .kconfig value: the verifier drops the dead arm, so a
	 * loader that disagrees with libbpf gives different translated instructions. */
	if (LINUX_HAS_SYSCALL_WRAPPER)
		syscall_wrapper = 1;
	else
		syscall_wrapper = 2;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
