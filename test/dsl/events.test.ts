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
import { koffi } from '../../src/syscall/libc.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, dumpKernelMaps, runInterp } from './support/harness.js';

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

const getppidCounter = `
import { uprobe, arrayMap, bpf, rodata, type u32, type u64 } from 'tsbpf/dsl';
export const target = rodata<u32>(0);
export const calls = arrayMap<u64>({ maxEntries: 1 });
export const p = uprobe('libc.so.6', 'getppid', (ctx) => {
  if (bpf.pid() !== target.get()) return 0;
  calls.increment(0, ctx.arg(0) === ctx.arg(0) ? 1 : 0);
  return 0;
});
`;

const commKey = (name: string) => Buffer.concat([Buffer.from(name), Buffer.alloc(16 - name.length)]).toString('hex');

describe('dsl tracing programs: triggered events', function () {
  this.timeout(60000);

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

  it('counts calls of a libc function from a uprobe; the interpreter agrees', function () {
    needKernel(this);
    const mod = compileSource(getppidCounter);
    const getppid = koffi.load('libc.so.6').func('int getppid()');
    const live = loadCompiledModule(mod, { rodata: { target: process.pid } });
    try {
      const link = attachUprobe(live.programs.get('p')!, { path: 'libc.so.6', symbol: 'getppid' });
      try {
        for (let i = 0; i < 5; i++) getppid();
      } finally {
        link.close();
      }
      const kernel = dumpKernelMaps(mod, live.maps);
      const regs = new Uint8Array(168);
      const interp = runInterp(mod, 'p', { ctx: regs }, { task: { pid: 1, tgid: process.pid }, rodata: { target: process.pid }, repeat: 5 });
      expect(kernel.calls).to.deep.equal({ '00000000': '0500000000000000' });
      expect(interp.maps).to.deep.equal(kernel);
    } finally {
      live.close();
    }
  });
});
