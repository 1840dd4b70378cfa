/**
 * BPF iterators: a TRACING program with expected attach type
 * BPF_TRACE_ITER, loaded against the BTF function `bpf_iter_<target>`, is
 * linked (BPF_LINK_CREATE), and each BPF_ITER_CREATE on the link gives a
 * file whose reads run the program over the target's objects.
 */
import { closeSync, readSync } from 'node:fs';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { NativeBuffer } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { kernelBtf } from './kernel-symbols.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

/**
 * The vmlinux BTF id of `bpf_iter_<target>` (e.g. 'task', 'bpf_map', 'tcp'), the program's attach_btf_id.
 * @example
 * iterTargetBtfId('bpf_map');   // the BTF id of bpf_iter_bpf_map in vmlinux
 */
export function iterTargetBtfId(target: string): number {
  const id = kernelBtf().findByName(`bpf_iter_${target}`, 'func');
  if (id === undefined) {
    throw new LinkError('ENOITER', `this kernel has no bpf iterator '${target}' (no BTF function bpf_iter_${target})`, target, 'targets include task, task_file, task_vma, bpf_map, bpf_map_elem, bpf_prog, bpf_link, tcp, udp, unix, netlink, ipv6_route, cgroup, ksym');
  }
  return id;
}

/** Options of `attachIter`: the map a map-element iterator walks. */
export interface IterOptions {
  /** For map element iterators (bpf_map_elem, bpf_sk_storage_map, sockmap): the map to walk. */
  mapFd?: number;
}

/**
 * A bpf_iter link: each `open()` starts an iteration whose output is read from the fd it returns.
 * @example
 * using link = attachIter(prog, 'bpf_map');
 * const text = link.readText();   // one full iteration's output
 */
export class IterLink extends FdLink {
  /** A new iterator instance: an fd whose reads produce the output (caller closes it). */
  open(): number {
    const fd = this.ensureBpfLink('open iterator');
    return bpfCommand('ITER_CREATE', Attr.iterCreate.size, (a) => a.view.setUint32(Attr.iterCreate.link_fd, fd, true), `iter ${this.target}`);
  }

  /** Runs the iterator once and returns everything it wrote. */
  read(): Uint8Array {
    const fd = this.open();
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = new Uint8Array(64 * 1024);
        const n = readSync(fd, chunk, 0, chunk.byteLength, null);
        if (n === 0) break;
        chunks.push(chunk.subarray(0, n));
        total += n;
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }

  /** Runs the iterator once and decodes its output as UTF-8 (for bpf_seq_printf output). */
  readText(): string {
    return new TextDecoder().decode(this.read());
  }
}

/**
 * Links an iterator program (loaded with attachBtfId = iterTargetBtfId(target)).
 * @example
 * using prog = Program.load({ type: 'tracing', expectedAttachType: 'trace_iter', attachBtfId: iterTargetBtfId('task'), instructions });
 * using link = attachIter(prog, 'task');
 * console.log(link.readText());
 */
export function attachIter(program: ProgramLike, target: string, options: IterOptions = {}): IterLink {
  using info = new NativeBuffer(16);
  if (options.mapFd !== undefined) info.view.setUint32(0, options.mapFd, true);
  const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
    a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
    a.view.setUint32(Attr.linkCreate.attach_type, AttachType.TRACE_ITER, true);
    if (options.mapFd !== undefined) {
      a.view.setBigUint64(Attr.linkCreate.iter_info, info.address, true);
      a.view.setUint32(Attr.linkCreate.iter_info_len, info.size, true);
    }
  }, `iter ${target}`);
  return new IterLink('iter', fd, [fd], target);
}
