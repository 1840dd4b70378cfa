/**
 * skStorage, cgroupStorage and inodeStorage: a value per socket from a tp_btf program on
 * inet_sock_set_state (the test thread's own connects and closes: SYN_SENT
 * and FIN_WAIT1 happen in its connect() and close() calls, so nothing else
 * is counted), a value per cgroup from tp_btf programs on cgroup_mkdir
 * and cgroup_rmdir (cgroups the test thread makes and removes), and a value per directory inode from an lsm program on
 * inode_unlink (the test thread's unlinks in a directory it makes). Each
 * runs in the interpreter on the same events, and the two agree. This host
 * has no BPF trampolines, so the lsm program runs in the dev VMs and skips
 * here, saying why.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { attachTracing } from '../../src/kernel/link-tracing.js';
import { cgroup2Path } from '../../src/kernel/fs-mounts.js';
import { skipWithout } from '../support/features.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { compileSource, diagnosticsOf, dumpKernelMaps, InterpMaps, le32, le64, runInterp } from '../dsl/support/harness.js';

const TCP_ESTABLISHED = 1n;
const TCP_SYN_SENT = 2n;
const TCP_FIN_WAIT1 = 4n;
const TCP_CLOSE = 7n;

const SK_SOURCE = `
import { tpBtf, skStorage, hashMap, rodata, bpf, u32, type Ptr, type i32, type u64 } from 'tsbpf/dsl';
import type { sock } from 'tsbpf/dsl/kernel';
export interface Changes { n: u64 }
export const socks = skStorage<Changes>();
export const byCount = hashMap<u32, u64>({ maxEntries: 16 });
export const deleted = hashMap<u32, u64>({ maxEntries: 4 });
export const tid = rodata<u32>(0);
export const p = tpBtf('inet_sock_set_state', (sk: Ptr<sock>, oldstate: i32, newstate: i32) => {
  if (bpf.tid() !== tid.get() || (newstate !== 2 && newstate !== 4)) return 0;
  const c = socks.get(sk, true);
  if (c === null) return 0;
  c.n += 1;
  byCount.increment(u32(c.n));
  // A closing socket's value goes; the next get without create finds none.
  if (newstate === 4 && socks.delete(sk) === 0 && socks.get(sk) === null) deleted.increment(0);
  return 0;
});`;

const INODE_SOURCE = `
import { lsm, inodeStorage, hashMap, rodata, bpf, u32, type Ptr, type u64 } from 'tsbpf/dsl';
import type { inode, dentry } from 'tsbpf/dsl/kernel';
export interface Unlinks { n: u64 }
export const dirs = inodeStorage<Unlinks>();
export const byCount = hashMap<u32, u64>({ maxEntries: 16 });
export const tid = rodata<u32>(0);
export const p = lsm('inode_unlink', (dir: Ptr<inode>, victim: Ptr<dentry>) => {
  if (bpf.tid() !== tid.get()) return 0;
  const c = dirs.get(dir, true);
  if (c === null) return 0;
  c.n += 1;
  byCount.increment(u32(c.n));
  return 0;
});`;

const CGROUP_SOURCE = `
import { tpBtf, cgroupStorage, hashMap, rodata, bpf, u32, type Ptr, type u64 } from 'tsbpf/dsl';
import type { cgroup } from 'tsbpf/dsl/kernel';
export interface Events { n: u64 }
export const cgroups = cgroupStorage<Events>();
export const byCount = hashMap<u32, u64>({ maxEntries: 16 });
export const tid = rodata<u32>(0);
function count(cg: Ptr<cgroup>, create: boolean): void {
  const c = cgroups.get(cg, create);
  if (c === null) return;
  c.n += 1;
  byCount.increment(u32(c.n));
}
export const made = tpBtf('cgroup_mkdir', (cg: Ptr<cgroup>, path: u64) => {
  if (bpf.tid() === tid.get()) count(cg, true);
  return 0;
});
export const removed = tpBtf('cgroup_rmdir', (cg: Ptr<cgroup>, path: u64) => {
  if (bpf.tid() === tid.get()) count(cg, false);
  return 0;
});`;

/** A tp_btf/lsm context: the hook's arguments as u64s. */
const args = (...values: bigint[]) => new Uint8Array(new BigUint64Array(values).buffer);

/** Runs events (a context, or a program name and its context) through a module in the interpreter, on the test thread's task. */
function interpRun(source: string, events: Array<Uint8Array | [string, Uint8Array]>) {
  const mod = compileSource(source);
  const maps = new InterpMaps(mod, { tid: process.pid });
  for (const e of events) {
    const [program, ctx] = e instanceof Uint8Array ? ['p', e] : e;
    runInterp(mod, program, { ctx }, { maps, task: { pid: process.pid, tgid: process.pid } });
  }
  return { mod, maps: maps.dump() };
}

const once = (s: Socket, event: string) => new Promise<void>((resolve, reject) => {
  s.once(event, () => resolve());
  s.once('error', reject);
});

describe('kernel: local storage from modules (skStorage, cgroupStorage, inodeStorage)', function () {
  it('are refused where the kernel does not offer them, and keyed by BTF pointers', () => {
    const tp = diagnosticsOf(`import { tracepoint, skStorage, type Ptr, type u64 } from 'tsbpf/dsl';
      import type { sock } from 'tsbpf/dsl/kernel';
      export const s = skStorage<u64>();
      export const p = tracepoint<{ skaddr: Ptr<sock> }>('sock/inet_sock_set_state', (ctx) => { s.get(ctx.skaddr, true); return 0; });`);
    expect(tp.map((d) => d.code)).to.include('TSBPF_HELPER_PROGRAM_TYPE');
    const inode = diagnosticsOf(`import { tpBtf, inodeStorage, type Ptr, type u64 } from 'tsbpf/dsl';
      import type { inode } from 'tsbpf/dsl/kernel';
      export const s = inodeStorage<u64>();
      export const p = tpBtf('sys_enter', (i: Ptr<inode>, id: u64) => { s.get(i, true); return 0; });`);
    expect(inode.map((d) => d.code)).to.include('TSBPF_HELPER_PROGRAM_TYPE');
  });

  it('skStorage: a value per socket over its state changes (tp_btf inet_sock_set_state)', async function () {
    // Socket A connects, is established and closes; socket B connects. A's value counts 1 then 2 and is deleted; B's counts 1.
    const A = 0xffff_8880_1000_0000n;
    const B = 0xffff_8880_2000_0000n;
    const { mod, maps: interp } = interpRun(SK_SOURCE, [
      args(A, TCP_CLOSE, TCP_SYN_SENT), args(A, TCP_SYN_SENT, TCP_ESTABLISHED), args(B, TCP_CLOSE, TCP_SYN_SENT), args(A, TCP_ESTABLISHED, TCP_FIN_WAIT1),
    ]);
    expect(interp.byCount).to.deep.equal({ [le32(1)]: le64(2n), [le32(2)]: le64(1n) });
    expect(interp.deleted).to.deep.equal({ [le32(0)]: le64(1n) });

    needKernel(this);
    const server = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const live = loadCompiledModule(mod, { rodata: { tid: process.pid } });
    let b: Socket | undefined;
    try {
      const link = attachTracing(live.programs.get('p')!, 'tp_btf/inet_sock_set_state');
      try {
        const a = connect(port, '127.0.0.1');
        await once(a, 'connect');
        b = connect(port, '127.0.0.1');
        await once(b, 'connect');
        const closed = once(a, 'close');
        a.destroy();
        await closed;
      } finally {
        link.close();
      }
      const kernel = dumpKernelMaps(mod, live.maps);
      expect({ byCount: kernel.byCount, deleted: kernel.deleted }, 'kernel and interpreter').to.deep.equal({ byCount: interp.byCount, deleted: interp.deleted });
    } finally {
      live.close();
      b?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('cgroupStorage: a value per cgroup over its mkdir and rmdir (tp_btf cgroup_mkdir, cgroup_rmdir)', function () {
    // Cgroups A and B are made, then removed: each value counts 1 at mkdir and 2 at rmdir.
    const A = 0xffff_8880_6000_0000n;
    const B = 0xffff_8880_7000_0000n;
    const path = 0xffff_8880_8000_0000n;
    const { mod, maps: interp } = interpRun(CGROUP_SOURCE, [['made', args(A, path)], ['made', args(B, path)], ['removed', args(A, path)], ['removed', args(B, path)]]);
    expect(interp.byCount).to.deep.equal({ [le32(1)]: le64(2n), [le32(2)]: le64(2n) });

    needKernel(this);
    skipWithout(this, 'cgrp_storage');
    const root = cgroup2Path();
    if (!root) {
      if (this.test) this.test.title += ' (kernel part skipped: no cgroup v2 mount)';
      this.skip();
    }
    const live = loadCompiledModule(mod, { rodata: { tid: process.pid } });
    const dirs = [join(root, uniqueName('feata')), join(root, uniqueName('featb'))];
    try {
      const links = [attachTracing(live.programs.get('made')!, 'tp_btf/cgroup_mkdir'), attachTracing(live.programs.get('removed')!, 'tp_btf/cgroup_rmdir')];
      try {
        for (const d of dirs) mkdirSync(d);
        for (const d of dirs) rmdirSync(d);
      } finally {
        for (const l of links) l.close();
      }
      expect(dumpKernelMaps(mod, live.maps).byCount, 'kernel and interpreter').to.deep.equal(interp.byCount);
    } finally {
      live.close();
      for (const d of dirs) rmSync(d, { recursive: false, force: true });
    }
  });

  it('inodeStorage: a value per directory over the unlinks in it (lsm inode_unlink)', function () {
    // Three unlinks in one directory, one in another: the first directory's value reaches 3.
    const D = 0xffff_8880_3000_0000n;
    const E = 0xffff_8880_4000_0000n;
    const dentry = 0xffff_8880_5000_0000n;
    const { mod, maps: interp } = interpRun(INODE_SOURCE, [
      args(D, dentry), args(E, dentry), args(D, dentry), args(D, dentry),
    ]);
    expect(interp.byCount).to.deep.equal({ [le32(1)]: le64(2n), [le32(2)]: le64(1n), [le32(3)]: le64(1n) });

    needKernel(this);
    let live: ReturnType<typeof loadCompiledModule>;
    try {
      live = loadCompiledModule(mod, { rodata: { tid: process.pid } });
    } catch (e) {
      if (/EPERM|ENOTSUP|trampoline/.test((e as Error).message)) {
        if (this.test) this.test.title += ' (kernel part skipped: this kernel cannot load lsm programs; make vm-test runs it on Debian 6.1 and 6.12)';
        this.skip();
      }
      throw e;
    }
    const d = mkdtempSync(join(tmpdir(), 'feat-inode-'));
    const e = mkdtempSync(join(tmpdir(), 'feat-inode-'));
    try {
      for (const f of ['a', 'b', 'c']) writeFileSync(join(d, f), '');
      writeFileSync(join(e, 'x'), '');
      const link = attachTracing(live.programs.get('p')!, 'lsm/inode_unlink');
      try {
        unlinkSync(join(d, 'a'));
        unlinkSync(join(e, 'x'));
        unlinkSync(join(d, 'b'));
        unlinkSync(join(d, 'c'));
      } finally {
        link.close();
      }
      expect(dumpKernelMaps(mod, live.maps).byCount, 'kernel and interpreter').to.deep.equal(interp.byCount);
    } finally {
      live.close();
      rmSync(d, { recursive: true, force: true });
      rmSync(e, { recursive: true, force: true });
    }
  });
});
