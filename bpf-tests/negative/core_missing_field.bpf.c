/* Must NOT load: reads a task_struct field that no kernel has. The loader's
 * error has to name the type and the field path of the failed CO-RE relocation. */
#include "common.h"

struct task_struct___fake {
	int no_such_field;
} __attribute__((preserve_access_index));

__u64 out;

SEC("tp_btf/sys_enter")
int BPF_PROG(reads_missing_field, struct pt_regs *regs, long id)
{
	struct task_struct___fake *t = (void *)bpf_get_current_task_btf();
	out = BPF_CORE_READ(t, no_such_field);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
