/**
 * Marked calls: system calls that only the test's own thread makes, so that a
 * program counting them counts exactly the test's calls, by construction.
 *
 * Counting getpid(2) on the main thread is not exact: V8's garbage collector
 * calls getpid on the main thread in every GC cycle (GCTracer::UpdateStatistics),
 * and so do node's process.env reads (credentials::SafeGetenv) and OpenSSL's
 * DRBG (crypto.randomBytes); a GC between attach and read counted one call too
 * many (issue 15). A marked call is getpgid(MARK) or getsid(MARK), where MARK is
 * a pid that cannot exist (above PID_MAX_LIMIT, 2^22) and that names this
 * process; the programs below count a call only when the current thread is
 * the test's thread AND the argument is MARK. Both calls fail with ESRCH and
 * change nothing.
 *
 * Return probes cannot see the argument, so they count a return only when the
 * entry program armed this thread (the way bcc pairs entry and return).
 */
import { Builder } from '../../src/asm/builder.js';
import { Helper } from '../../src/asm/helpers.js';
import { wideLoad, type Instruction } from '../../src/asm/instruction.js';
import { R0, R1, R2, R3, R6, R10 } from '../../src/asm/registers.js';
import { libc, syscall6 } from '../../src/syscall/libc.js';

/** The marker: a pid above PID_MAX_LIMIT (so getpgid/getsid fail with ESRCH), unique to this process. */
export const MARK = 0x4000_0000 + process.pid;

/** Syscall numbers and pt_regs layout of the architectures these tests know. */
const ARCHES = {
  // pt_regs: di (the first argument) at 14 * 8; syscall wrappers are __x64_sys_NAME(const struct pt_regs *).
  x64: { getpgid: 121, getsid: 124, getpid: 39, arg0: 112, wrapperPrefix: '__x64_sys_' },
  // user_pt_regs: regs[0] at 0 (still the first argument at syscall entry); wrappers __arm64_sys_NAME.
  arm64: { getpgid: 155, getsid: 156, getpid: 172, arg0: 0, wrapperPrefix: '__arm64_sys_' },
} as const;

/** This architecture's numbers, or undefined where the tests do not know them (those tests skip, saying so). */
export const arch = (ARCHES as Record<string, (typeof ARCHES)[keyof typeof ARCHES]>)[process.arch];
const need = (): (typeof ARCHES)[keyof typeof ARCHES] => {
  if (!arch) throw new Error(`marked calls: unknown architecture ${process.arch}`);
  return arch;
};

/** The kernel function behind a syscall (`__x64_sys_getpgid`), for kprobes. */
export const syscallFunction = (name: 'getpgid' | 'getsid'): string => `${need().wrapperPrefix}${name}`;

/** getpgid(MARK) from this thread: the call the programs count. Returns what the syscall returned (-1, ESRCH). */
export const markedGetpgid = (): number => Number(syscall6(need().getpgid, MARK, 0, 0, 0, 0, 0));
/** getsid(MARK) from this thread. */
export const markedGetsid = (): number => Number(syscall6(need().getsid, MARK, 0, 0, 0, 0, 0));
/** getpgid(pid) with any argument: unmarked calls the programs must not count. */
export const getpgid = (pid: number): number => Number(syscall6(need().getpgid, pid, 0, 0, 0, 0, 0));
/** getpid(2) made directly (not node's cached process.pid). */
export const getpid = (): number => Number(syscall6(need().getpid, 0, 0, 0, 0, 0, 0));

/** libc's getpgid (for uprobes on libc.so.6:getpgid); `.async` runs it on a libuv pool thread. */
export const libcGetpgid = libc.func('int getpgid(int pid)');

/** Where the marked argument is, by program kind. */
export type MarkSource =
  /** tracepoint syscalls/sys_enter_getpgid or sys_enter_getsid: the `pid` field at offset 16 */
  | 'tracepoint'
  /** raw_tp or tp_btf sys_enter(regs, id): id is getpgid's number and regs' first argument is MARK */
  | 'sys_enter'
  /** kprobe on a syscall wrapper (__x64_sys_getpgid(regs)): the user registers' first argument */
  | 'syscall_kprobe'
  /** uprobe on a user function (libc getpgid): its first argument register */
  | 'uprobe';

export interface MarkedCounterOptions {
  /** Thread whose calls count (default: the main thread, whose id is the pid). */
  tid?: number;
  /** Also set slot 0 of this array map to 1 on each counted call, for a return program (countArmedReturns). */
  armFd?: number;
  /** What the program returns (default 0). */
  ret?: number;
}

/** A program that adds 1 to slot 0 (u64) of array map `mapFd` for each marked call the thread makes. */
export function countMarked(source: MarkSource, mapFd: number, options: MarkedCounterOptions = {}): Instruction[] {
  const { arg0, getpgid: nrGetpgid } = need();
  const b = new Builder();
  b.mov64Reg(R6, R1);
  onlyThread(b, options.tid ?? process.pid);
  switch (source) {
    case 'tracepoint':
      b.ldxdw(R1, R6, 16);
      break;
    case 'sys_enter':
      b.ldxdw(R1, R6, 8).jne(R1, nrGetpgid, 'out'); // the syscall number
      b.ldxdw(R3, R6, 0).add64(R3, arg0); // &regs->first argument
      readKernelU64(b);
      break;
    case 'syscall_kprobe':
      b.ldxdw(R3, R6, arg0).add64(R3, arg0); // the wrapper's argument is the user pt_regs
      readKernelU64(b);
      break;
    case 'uprobe':
      b.ldxdw(R1, R6, arg0);
      break;
  }
  b.mov32Reg(R1, R1).jne(R1, MARK, 'out'); // pid_t: compare the low 32 bits
  increment(b, mapFd);
  if (options.armFd !== undefined) {
    lookupSlot0(b, options.armFd);
    b.jeq(R0, 0, 'out').storeImm('u64', R0, 0, 1);
  }
  return b.label('out').mov64(R0, options.ret ?? 0).exit().instructions();
}

/**
 * A return program (kretprobe, uretprobe) that counts in `mapFd` the returns of
 * calls its entry program counted: only when slot 0 of `armFd` is set (by
 * countMarked with `armFd`), which it clears. Only the thread `tid` counts.
 */
export function countArmedReturns(mapFd: number, armFd: number, tid = process.pid): Instruction[] {
  const b = new Builder();
  onlyThread(b, tid);
  lookupSlot0(b, armFd);
  b.jeq(R0, 0, 'out').ldxdw(R1, R0, 0).jeq(R1, 0, 'out').storeImm('u64', R0, 0, 0);
  increment(b, mapFd);
  return b.label('out').mov64(R0, 0).exit().instructions();
}

/** Jumps to 'out' unless the current thread id (low half of pid_tgid) is `tid`; clobbers r0-r5. */
function onlyThread(b: Builder, tid: number): void {
  b.call(Helper.get_current_pid_tgid).mov32Reg(R0, R0).jne(R0, tid, 'out');
}

/** r1 = the u64 at kernel address r3 (bpf_probe_read_kernel into r10-16); jumps to 'out' if the read fails. */
function readKernelU64(b: Builder): void {
  b.mov64Reg(R1, R10).add64(R1, -16).mov64(R2, 8).call(Helper.probe_read_kernel).jne(R0, 0, 'out').ldxdw(R1, R10, -16);
}

/** r0 = &map[0] or null (key at r10-4); clobbers r0-r5. */
function lookupSlot0(b: Builder, mapFd: number): void {
  b.storeImm('u32', R10, -4, 0).emit(wideLoad(R1, mapFd, 1)).mov64Reg(R2, R10).add64(R2, -4).call(Helper.map_lookup_elem);
}

/** map[0] += 1 (atomic); jumps to 'out' if the lookup fails; clobbers r0-r5. */
function increment(b: Builder, mapFd: number): void {
  lookupSlot0(b, mapFd);
  b.jeq(R0, 0, 'out').mov64(R1, 1).atomic('add', 'u64', R0, 0, R1);
}
