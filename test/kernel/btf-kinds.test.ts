/**
 * BTF-typed program kinds from the module language, doing real work on
 * marked getpgid calls (test/kernel/marked-calls.ts): a tp_btf program on
 * sys_enter reads the first argument from the pt_regs it gets (CO-RE on a
 * kernel type the module declares itself); fentry and fexit on the syscall
 * function count the calls and see the -ESRCH return; an lsm program on
 * task_getpgid denies getpgid(own pid) (the hook runs for a non-zero pid). This host has tp_btf but no
 * BPF trampolines: the others run in the dev VMs (`make vm-test` includes
 * this file) and skip here, saying why in the title.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { attachTracing } from '../../src/kernel/link-tracing.js';
import { compileSource } from '../dsl/support/harness.js';
import { needKernel } from '../support/kernel.js';
import { arch, getpgid, MARK, markedGetpgid, syscallFunction } from './marked-calls.js';

function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (ctx.test) ctx.test.title += ` (skipped: ${reason})`;
  ctx.skip();
}

const readCount = (live: ReturnType<typeof loadCompiledModule>, map: string, key = 0): bigint => {
  const v = live.maps.get(map)!.lookup(new Uint8Array(new Uint32Array([key]).buffer));
  return v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : 0n;
};

/** Loads a module; EPERM/ENOTSUP from a kernel without trampolines skips the test with the reason. */
function loadOrSkip(ctx: Mocha.Context, source: string, rodata: Record<string, number> = {}): ReturnType<typeof loadCompiledModule> {
  try {
    return loadCompiledModule(compileSource(source), { rodata });
  } catch (e) {
    if (/EPERM|ENOTSUP|trampoline/.test((e as Error).message)) skipBecause(ctx, 'this kernel has no BPF trampolines; make vm-test runs this on Debian 6.1 and 6.12');
    throw e;
  }
}

describe('kernel: BTF-typed programs (tp_btf, fentry, fexit, lsm) from modules', function () {
  before(function () {
    needKernel(this);
    if (arch?.getpgid !== 121) skipBecause(this, 'the pt_regs layout used here is x86-64');
  });

  it('tp_btf sys_enter: typed (Ptr<pt_regs>, i64) arguments, the first syscall argument read through CO-RE', function () {
    const live = loadCompiledModule(compileSource(`
import { tpBtf, arrayMap, rodata, type KernelType, type Ptr, type i64, type u64 } from 'tsbpf/dsl';
interface pt_regs extends KernelType<'struct pt_regs'> { di: u64 }
const mark = rodata<u64>(0);
export const calls = arrayMap<u64>({ maxEntries: 1 });
export const p = tpBtf('sys_enter', (regs: Ptr<pt_regs>, id: i64) => {
  if (id === 121 && regs.di === mark.get()) calls.increment(0);
  return 0;
});`), { rodata: { mark: MARK } });
    try {
      const link = attachTracing(live.programs.get('p')!, 'tp_btf/sys_enter');
      try {
        for (let i = 0; i < 7; i++) expect(markedGetpgid()).to.equal(-1);
        getpgid(process.pid);
      } finally {
        link.close();
      }
      expect(readCount(live, 'calls')).to.equal(7n);
    } finally {
      live.close();
    }
  });

  it('fentry and fexit on the getpgid syscall function count the marked calls; fexit sees -ESRCH', function () {
    const fn = syscallFunction('getpgid');
    const live = loadOrSkip(this, `
import { fentry, fexit, arrayMap, rodata, type KernelType, type Ptr, type i64, type u64 } from 'tsbpf/dsl';
interface pt_regs extends KernelType<'struct pt_regs'> { di: u64 }
const mark = rodata<u64>(0);
export const calls = arrayMap<u64>({ maxEntries: 2 });
export const enter = fentry('${fn}', (regs: Ptr<pt_regs>) => {
  if (regs.di === mark.get()) calls.increment(0);
  return 0;
});
export const exit = fexit('${fn}', (regs: Ptr<pt_regs>, ret: i64) => {
  if (regs.di === mark.get() && ret === -3) calls.increment(1);
  return 0;
});`, { mark: MARK });
    try {
      const links = ['enter', 'exit'].map((n) => attachTracing(live.programs.get(n)!, n));
      try {
        for (let i = 0; i < 5; i++) expect(markedGetpgid()).to.equal(-1);
      } finally {
        for (const l of links) l.close();
      }
      expect([readCount(live, 'calls', 0), readCount(live, 'calls', 1)]).to.deep.equal([5n, 5n]);
    } finally {
      live.close();
    }
  });

  it('lsm task_getpgid denies getpgid of this process while attached', function () {
    // securityfs says which LSMs are active; the dev VMs' initramfs does not mount it (the host's mounts are left alone).
    if (!existsSync('/sys/kernel/security/lsm') && process.env.TSBPF_VM === '1') spawnSync('mount', ['-t', 'securityfs', 'securityfs', '/sys/kernel/security'], { stdio: 'ignore' });
    if (!existsSync('/sys/kernel/security/lsm') || !readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').includes('bpf')) {
      skipBecause(this, 'the BPF LSM is not active (lsm=…,bpf on the kernel command line)');
    }
    const live = loadOrSkip(this, `
import { lsm, bpf, rodata, type Ptr, type i32, type u32 } from 'tsbpf/dsl';
import type { task_struct } from 'tsbpf/dsl/kernel';
const target = rodata<u32>(0);
export const deny = lsm('task_getpgid', (p: Ptr<task_struct>, ret: i32) => {
  if (ret !== 0) return ret;
  return bpf.pid() === target.get() && p.tgid === target.get() ? -1 : 0;
});`, { target: process.pid });
    try {
      const before = getpgid(process.pid);
      expect(before).to.be.at.least(0); // 0 in the dev VMs, whose init never makes a process group
      const link = attachTracing(live.programs.get('deny')!, 'lsm/task_getpgid');
      try {
        expect(getpgid(process.pid)).to.equal(-1);
      } finally {
        link.close();
      }
      expect(getpgid(process.pid)).to.equal(before);
    } finally {
      live.close();
    }
  });
});
