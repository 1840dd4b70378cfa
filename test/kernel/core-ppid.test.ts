/**
 * CO-RE from the module language: a module reads task->real_parent->tgid,
 * the grandparent's tgid and task->comm through field relocations. The
 * object test/kernel/fixtures/core-ppid.o was built once from
 * fixtures/core-ppid.bpf.ts on Linux 6.18; this test loads that same object
 * (tsbpf's loader relocates it) and the module compiled now, and checks the
 * values against /proc. `make vm-test` runs it on Debian's 6.1 and 6.12,
 * whose task_struct layouts differ from 6.18's.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { loadObjectFile } from '../../src/kernel/collection.js';
import type { BpfMap } from '../../src/kernel/map.js';
import type { Program } from '../../src/kernel/program.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { markedGetpgid } from './marked-calls.js';
import { needKernel } from '../support/kernel.js';
import { compileSource } from '../dsl/support/harness.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const objectPath = join(fixtures, 'core-ppid.o');

/** The parent pid of a process, from /proc. */
const ppidOf = (pid: number): number => Number(/^\d+ \(.*\) \S+ (\d+)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))![1]);

/** Attaches the program, makes one marked call, and returns what the program stored for this process. */
function runOnce(program: Program, map: BpfMap): { ppid: number; grandparent: number; comm: string; hasRealParent: number; commSize: number } {
  const link = attachTracepoint(program, 'syscalls/sys_enter_getpgid');
  try {
    expect(markedGetpgid()).to.equal(-1);
  } finally {
    link.close();
  }
  const key = new Uint8Array(new Uint32Array([process.pid]).buffer);
  const v = map.lookup(key);
  expect(v, 'the program stored an entry for this process').to.not.equal(undefined);
  const d = new DataView(v!.buffer, v!.byteOffset, v!.byteLength);
  const comm = Buffer.from(v!.subarray(8, 24));
  return {
    ppid: d.getUint32(0, true), grandparent: d.getUint32(4, true),
    comm: comm.subarray(0, comm.indexOf(0) < 0 ? 16 : comm.indexOf(0)).toString(),
    hasRealParent: d.getUint32(24, true), commSize: d.getUint32(28, true),
  };
}

const expected = () => ({
  ppid: process.ppid,
  grandparent: ppidOf(process.ppid),
  comm: readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim(),
  hasRealParent: 1,
  commSize: 16,
});

describe('kernel: CO-RE reads of kernel structs from a module (task->real_parent->tgid)', function () {
  it('the object carries field relocations on task_struct members, as clang writes BPF_CORE_READ', function () {
    const spec = parseObject(readFileSync(objectPath), { name: 'core-ppid' });
    const relos = spec.programs.flatMap((p) => p.relocations.flatMap((r) => (r.kind === 'core' ? [r.relo] : [])));
    const btf = spec.btf!;
    const described = relos.map((r) => `${r.kind} ${btf.nameOf(r.typeId)} ${r.accessString}`);
    expect(described).to.include.members(['fieldByteOffset task_struct 0:0', 'fieldByteOffset task_struct 0:1', 'fieldExists task_struct 0:0', 'fieldByteSize task_struct 0:2']);
  });

  it('the committed object (built on 6.18) loads unchanged and reads the right ppid, grandparent and comm', function () {
    needKernel(this);
    using c = loadObjectFile(objectPath);
    expect(runOnce(c.program('onGetpgid'), c.map('parents'))).to.deep.equal(expected());
  });

  it('the module compiled here does the same', function () {
    needKernel(this);
    const mod = compile(nodeCompileOptions(join(fixtures, 'core-ppid.bpf.ts')));
    const live = loadCompiledModule(mod);
    try {
      expect(runOnce(live.programs.get('onGetpgid')!, live.maps.get('parents')!)).to.deep.equal(expected());
    } finally {
      live.close();
    }
  });

  it('a field this kernel lacks: fieldExists is 0, and the read it guards is never reached (the loader poisons it, the verifier skips it)', function () {
    needKernel(this);
    const live = loadCompiledModule(compileSource(`
import { bpf, rawTracepoint, type KernelType, type Ptr, type i32, type u32 } from 'tsbpf/dsl';
/** task_struct as a future kernel might declare it: one field this kernel does not have. */
interface task_struct extends KernelType<'struct task_struct'> { pid: i32; no_such_field: u32 }
function probe(t: Ptr<task_struct>): u32 {
  const missing: u32 = bpf.fieldExists(t, 'no_such_field') ? t.no_such_field : 77;
  return bpf.fieldExists(t, 'pid') ? missing + 100 : missing;
}
export const p = rawTracepoint('sys_enter', () => probe(bpf.currentTask() as unknown as Ptr<task_struct>));
`));
    try {
      expect(live.programs.get('p')!.testRun({ ctx: new Uint8Array(16) }).retval).to.equal(177);
    } finally {
      live.close();
    }
  });

  it('probeReadKernel copies a kernel struct field into an array of another type (list_head into FixedArray<u64, 2>), and u64(p) compares a pointer with it', function () {
    needKernel(this);
    // The declaration once took only a source of dst's own type, so TypeScript refused this (tcpconnect's in6_addr into FixedArray<u8, 16>).
    const live = loadCompiledModule(compileSource(`
import { bpf, rawTracepoint, u64, type FixedArray } from 'tsbpf/dsl';
export interface Links { both: FixedArray<u64, 2> }
export const p = rawTracepoint('sys_enter', () => {
  const task = bpf.currentTask();
  let l!: Links;
  if (bpf.probeReadKernel(l.both, task.children) !== 0) return 1;
  if (l.both[0] === 0) return 2;
  // u64(p): a pointer's address as an integer (TypeScript compares a number with a Ptr only so).
  return l.both[0] === u64(task.children.next) && l.both[1] === u64(task.children.prev) ? 100 : 3;
});
`));
    try {
      expect(live.programs.get('p')!.testRun({ ctx: new Uint8Array(16) }).retval).to.equal(100);
    } finally {
      live.close();
    }
  });
});
