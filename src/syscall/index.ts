/** The raw kernel interface. Thin: no policy. */
export * from './layouts.generated.js';
export * from './flags.js';
export { SyscallError, bpfSyscall, bpfSyscallRaw, syscallError, SYS_BPF } from './bpf.js';
export { Errno, errnoName } from './errno.js';
export { NativeBuffer, nativeCopy, nativeCString } from './memory.js';
export { scratchAttr, writeName, readName } from './attr.js';
export { hintFor } from './hints.js';
