/**
 * Reads a BTF file of /sys/kernel/btf. A read() of a sysfs file returns at
 * most one page, so reading vmlinux's BTF (5 MB) takes over 1 300 system
 * calls, as libbpf 1.1's btf__parse makes; where the kernel lets the file
 * be mapped (vmlinux, on recent kernels such as 6.18), one mmap and one
 * copy do instead.
 * The copy is the caller's: the mapping itself is read-only, and a write
 * through a view of it would kill the process.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { SyscallError } from '../syscall/bpf.js';
import { MapFlags, MappedMemory, Prot } from '../syscall/mman.js';

/** Only these are mapped: kernel memory, which cannot shrink under the mapping (a regular file can, and a read past its new end is SIGBUS). */
const KERNEL_BTF_DIR = '/sys/kernel/btf/';

/**
 * The bytes of `path` (a plain Uint8Array of its own): mapped and copied
 * for a file of /sys/kernel/btf that can be mapped, else read.
 * @example
 * const btf = parseBtf(readBtfFile('/sys/kernel/btf/vmlinux'));
 */
export function readBtfFile(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > 0 && path.startsWith(KERNEL_BTF_DIR)) {
      let mapped: MappedMemory | undefined;
      try {
        mapped = new MappedMemory(size, Prot.READ, MapFlags.PRIVATE, fd, 0, `mmap ${path}`);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e; // not mappable (older kernel, module BTF): read it
      }
      if (mapped) {
        try {
          const out = new Uint8Array(size);
          out.set(new Uint8Array(mapped.buffer, 0, size));
          return out;
        } finally {
          mapped.close();
        }
      }
    }
    // A copy, not a view: a small Buffer may share Node's pool with others.
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}
