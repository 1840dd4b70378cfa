/**
 * Tracing modules: attached to a real tracepoint and a real uprobe, with
 * events triggered by the test; the same program runs in the interpreter
 * on a context built like the kernel's, and both count the same.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { attachUprobe } from '../../src/kernel/link-uprobe.js';
import { libcGetpgid, MARK } from '../kernel/marked-calls.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, dumpKernelMaps, InterpMaps, runInterp } from './support/harness.js';

const execCounter = `
import { tracepoint, hashMap, bpf, type CStr, type u64 } from 'tsbpf/dsl';
export const byComm = hashMap<CStr<16>, u64>({ maxEntries: 64 });
export const p = tracepoint('syscalls/sys_enter_execve', (ctx) => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  if (comm[0] !== 116 || comm[1] !== 115 || comm[2] !== 72) return 0; // only this test's "tsH…" script
  byComm.increment(comm, ctx.__syscall_nr === 59 ? 1 : 100);
  return 0;
});
`;

// Counts only marked calls: getpgid(mark) from the test's own thread (see
// test/kernel/marked-calls.ts: an unfiltered count also sees the calls that
// node and V8 make on the main thread behind the test's back).
const markedCallCounter = `
import { uprobe, arrayMap, bpf, rodata, u32, type u64 } from 'tsbpf/dsl';
export const thread = rodata<u32>(0);
export const mark = rodata<u32>(0);
export const calls = arrayMap<u64>({ maxEntries: 1 });
export const p = uprobe('libc.so.6', 'getpgid', (ctx) => {
  if (bpf.tid() !== thread.get() || u32(ctx.arg(0)) !== mark.get()) return 0;
  calls.increment(0);
  return 0;
});
`;

const commKey = (name: string) => Buffer.concat([Buffer.from(name), Buffer.alloc(16 - name.length)]).toString('hex');

describe('dsl tracing programs: triggered events', function () {

  it('counts execve by process name from a tracepoint; the interpreter agrees', function () {
    needKernel(this);
    const mod = compileSource(execCounter);
    // A script's processes are named after it; it runs three programs.
    const name = `tsH${process.pid % 100000}.sh`;
    const script = join(tmpdir(), name);
    writeFileSync(script, '#!/bin/sh\n/bin/true\n/bin/true\n/bin/true\n', { mode: 0o755 });
    const live = loadCompiledModule(mod);
    let kernel;
    try {
      const link = attachTracepoint(live.programs.get('p')!, 'syscalls/sys_enter_execve');
      try {
        spawnSync(script);
      } finally {
        link.close();
      }
      kernel = dumpKernelMaps(mod, live.maps);
    } finally {
      live.close();
      rmSync(script, { force: true });
    }
    expect(kernel.byComm).to.deep.equal({ [commKey(name)]: '0300000000000000' });
    // Interpreter: the tracepoint context as the format file lays it out (__syscall_nr at offset 8).
    const ctx = new Uint8Array(48);
    new DataView(ctx.buffer).setInt32(8, 59, true);
    const interp = runInterp(mod, 'p', { ctx }, { task: { comm: name }, repeat: 3 });
    expect(interp.maps).to.deep.equal(kernel);
  });

  it('counts the marked calls of a libc function from a uprobe; the interpreter agrees', function () {
    needKernel(this);
    const mod = compileSource(markedCallCounter);
    const rodata = { thread: process.pid, mark: MARK };
    const live = loadCompiledModule(mod, { rodata });
    try {
      const link = attachUprobe(live.programs.get('p')!, { path: 'libc.so.6', symbol: 'getpgid' });
      try {
        for (let i = 0; i < 5; i++) {
          libcGetpgid(MARK);
          libcGetpgid(0); // unmarked
        }
      } finally {
        link.close();
      }
      const kernel = dumpKernelMaps(mod, live.maps);
      // The interpreter: five marked calls (the first argument, di, is the mark), one unmarked, one from another thread.
      const regs = (arg0: number) => {
        const r = new Uint8Array(168);
        new DataView(r.buffer).setBigUint64(112, BigInt(arg0), true);
        return r;
      };
      const maps = new InterpMaps(mod, rodata);
      runInterp(mod, 'p', { ctx: regs(MARK) }, { task: { pid: process.pid, tgid: process.pid }, rodata, repeat: 5, maps });
      runInterp(mod, 'p', { ctx: regs(0) }, { task: { pid: process.pid, tgid: process.pid }, rodata, maps });
      const interp = runInterp(mod, 'p', { ctx: regs(MARK) }, { task: { pid: process.pid + 1, tgid: process.pid }, rodata, maps });
      expect(kernel.calls).to.deep.equal({ '00000000': '0500000000000000' });
      expect(interp.maps).to.deep.equal(kernel);
    } finally {
      live.close();
    }
  });
});
