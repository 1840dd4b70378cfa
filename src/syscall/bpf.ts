/**
 * The bpf(2) system call. Thin: one function that passes an attr buffer
 * and turns a failure into a typed SyscallError.
 */
import { errnoName } from './errno.js';
import { hintFor } from './hints.js';
import { lastErrno, syscallPtr3 } from './libc.js';
import type { NativeBuffer } from './memory.js';

/** __NR_bpf per architecture. */
const NR_BPF: Record<string, number> = { x64: 321, arm64: 280, ia32: 357, arm: 386, riscv64: 280, ppc64: 361, s390x: 351 };

export const SYS_BPF = NR_BPF[process.arch] ?? (() => {
  throw new Error(`bpf(): unsupported architecture ${process.arch}`);
})();

/**
 * A failed system call: the command, the errno and its name, and a hint.
 * @example
 * try { BpfMap.fromId(999999); } catch (e) { if (e instanceof SyscallError && e.errnoName === 'ENOENT') console.log('gone'); }
 */
export class SyscallError extends Error {
  override readonly name: string = 'SyscallError';
  readonly errnoName: string;
  constructor(
    readonly command: string,
    readonly errno: number,
    readonly hint?: string,
    /** Extra text such as a verifier log. */
    readonly detail?: string,
  ) {
    const en = errnoName(errno);
    super(`${command}: ${en}${hint ? ` (${hint})` : ''}`);
    this.errnoName = en;
  }

  /** The errno name, as the error's code (e.g. 'ENOENT'). */
  get code(): string {
    return this.errnoName;
  }
}

/**
 * Calls bpf(cmd, attr, size). `attr` is a NativeBuffer (when its address is
 * needed elsewhere) or a Uint8Array (koffi passes a pointer to its contents
 * for the duration of the call). `size` must not exceed the buffer.
 */
export function bpfSyscall(cmd: number, attr: NativeBuffer | Uint8Array, size: number, name = `BPF cmd ${cmd}`): number {
  if (attr instanceof Uint8Array) {
    if (size > attr.byteLength) throw new RangeError(`${name}: attr size ${size} exceeds its buffer (${attr.byteLength})`);
    const r = syscallPtr3(SYS_BPF, cmd, attr, size) as number;
    if (r < 0) throw syscallError(name, lastErrno());
    return r;
  }
  attr.ensure(size, name);
  const r = syscallPtr3(SYS_BPF, cmd, attr.pointer, size) as number;
  if (r < 0) throw syscallError(name, lastErrno());
  return r;
}

/** Like bpfSyscall but returns -errno instead of throwing (for probes and hot paths). */
export function bpfSyscallRaw(cmd: number, attr: NativeBuffer | Uint8Array, size: number): number {
  if (attr instanceof Uint8Array) {
    if (size > attr.byteLength) throw new RangeError(`bpf: attr size ${size} exceeds its buffer (${attr.byteLength})`);
    const r = syscallPtr3(SYS_BPF, cmd, attr, size) as number;
    return r < 0 ? -lastErrno() : r;
  }
  attr.ensure(size, 'bpf');
  const r = syscallPtr3(SYS_BPF, cmd, attr.pointer, size) as number;
  return r < 0 ? -lastErrno() : r;
}

/** A SyscallError for a bpf() command with the usual hint for its errno. */
export function syscallError(command: string, errno: number, detail?: string): SyscallError {
  return new SyscallError(command, errno, hintFor(command, errno), detail);
}
