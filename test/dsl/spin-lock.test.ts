/**
 * Spin locks on map values: bpf.withLock(v.lock, () => …) holds the lock
 * while its callback runs. The kernel (BPF_PROG_TEST_RUN; its verifier
 * checks the lock discipline) and the interpreter give the same maps and
 * results; what the verifier would refuse is a positioned TSBPF_LOCK.
 */
import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';
import { compileSource, diagnosticsOf, interpSequence, kernelSequence, le32, le64, packet } from './support/harness.js';
import { sysEnterInInterp, sysEnterInKernel } from './support/sys-enter.js';

const IMPORTS = `import { xdp, tc, kprobe, arrayMap, hashMap, perCpuArray, global, bpf, u32, u64, type SpinLock, type FixedArray } from 'tsbpf/dsl';
export interface Stats { lock: SpinLock; packets: u64; bytes: u64; max: u32 }
`;

describe('dsl spin locks', function () {
  it('xdp: counters updated under the lock agree in the kernel and the interpreter', function () {
    const mod = compileSource(`${IMPORTS}
export const stats = arrayMap<Stats>({ maxEntries: 1 });
export const byLen = hashMap<u32, Stats>({ maxEntries: 8 });
export const p = xdp((ctx) => {
  const s = stats.lookup(0);
  if (s === null) return 0;
  const len = ctx.packet.length;
  const seen = bpf.withLock(s.lock, () => {
    s.packets += 1;
    s.bytes += len;
    if (len > s.max) s.max = len;
    return s.packets;
  });
  let fresh!: Stats;
  byLen.update(len & 7, fresh, 1);
  const h = byLen.lookup(len & 7);
  if (h === null) return 0;
  bpf.withLock(h.lock, () => {
    if (h.packets >= 2) return;
    h.packets += 1;
  });
  return u32(seen);
});`);
    const packets = [packet({}), packet({ payload: [1, 2, 3, 4, 5, 6, 7, 8] }), packet({}), packet({})];
    const interp = interpSequence(mod, 'p', packets);
    expect(interp.retvals).to.deep.equal([1, 2, 3, 4]);
    const short = packet({}).length;
    const long = packets[1]!.length;
    // The lock word reads as 0 (free) in the dump, then padding, packets, bytes, max and padding.
    const stats = (n: bigint, bytes: number, max: number) => le32(0) + le32(0) + le64(n) + le64(BigInt(bytes)) + le32(max) + le32(0);
    expect(interp.maps.stats).to.deep.equal({ [le32(0)]: stats(4n, 3 * short + long, long) });
    expect(interp.maps.byLen).to.deep.equal({ [le32(short & 7)]: stats(2n, 0, 0), ...(short & 7) !== (long & 7) ? { [le32(long & 7)]: stats(1n, 0, 0) } : {} });
    needKernel(this);
    expect(kernelSequence(mod, 'p', packets), 'kernel and interpreter').to.deep.equal(interp);
  });

  it('a module function called under the lock is inlined, never a bpf-to-bpf call', function () {
    const mod = compileSource(`${IMPORTS}
export const stats = arrayMap<Stats>({ maxEntries: 1 });
// Large and called three times: the compiler would make it a subprogram, which kernels before 6.3 refuse under a lock.
function bump(s: Stats, len: u32): u64 {
  s.packets += 1;
  s.bytes += len;
  if (len > s.max) s.max = len;
  if (s.packets > 100) s.packets = 0;
  if (s.bytes > 100000) s.bytes = 0;
  if (s.max > 9000) s.max = 9000;
  if (s.packets > 50 && s.bytes < 10) s.bytes = 10;
  if (s.packets > 60 && s.bytes < 20) s.bytes = 20;
  if (s.packets > 70 && s.bytes < 30) s.bytes = 30;
  if (s.packets > 80 && s.bytes < 40) s.bytes = 40;
  if (s.packets > 90 && s.bytes < 50) s.bytes = 50;
  return s.packets;
}
export const p = xdp((ctx) => {
  const s = stats.lookup(0);
  if (s === null) return 0;
  const a = bpf.withLock(s.lock, () => bump(s, ctx.packet.length));
  const b = bpf.withLock(s.lock, () => bump(s, 1));
  const c = bpf.withLock(s.lock, () => bump(s, 2));
  return u32(a + b + c);
});`);
    expect(mod.programs[0]!.subprograms ?? [], 'subprograms').to.deep.equal([]);
    const interp = interpSequence(mod, 'p', [packet({})]);
    expect(interp.retvals).to.deep.equal([1 + 2 + 3]);
    needKernel(this);
    expect(kernelSequence(mod, 'p', [packet({})]), 'kernel and interpreter').to.deep.equal(interp);
  });

  it('tp_btf: a lock in a task storage value', function () {
    const mod = compileSource(`import { tpBtf, taskStorage, hashMap, rodata, bpf, type SpinLock, type i64, type u32, type u64 } from 'tsbpf/dsl';
export interface Calls { lock: SpinLock; n: u64 }
export const calls = taskStorage<Calls>();
export const perTid = hashMap<u32, u64>({ maxEntries: 4 });
export const tid = rodata<u32>(0);
export const nr = rodata<u32>(0);
export const p = tpBtf('sys_enter', (regs: u64, id: i64) => {
  if (id !== nr.get() || bpf.tid() !== tid.get()) return 0;
  const c = calls.get(bpf.currentTaskBtf(), true);
  if (c === null) return 0;
  const n = bpf.withLock(c.lock, () => {
    c.n += 1;
    return c.n;
  });
  perTid.update(bpf.tid(), n);
  return 0;
});`);
    const interp = sysEnterInInterp(mod, 3);
    expect(interp.perTid).to.deep.equal({ [le32(process.pid)]: le64(3n) });
    expect(sysEnterInKernel(this, mod, 3).perTid, 'kernel and interpreter').to.deep.equal(interp.perTid);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a helper call inside the callback', `export const m = arrayMap<Stats>({ maxEntries: 1 });
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; bpf.withLock(s.lock, () => { s.packets = bpf.ktimeNs(); }); return 0; });`, /bpf_ktime_get_ns while a spin lock is held/],
    ['a map method inside the callback', `export const m = arrayMap<Stats>({ maxEntries: 1 });
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; bpf.withLock(s.lock, () => { const t = m.lookup(0); if (t !== null) t.max = 1; }); return 0; });`, /bpf_map_lookup_elem while a spin lock is held/],
    ['withLock inside withLock', `export const m = arrayMap<Stats>({ maxEntries: 2 });
export const p = xdp(() => { const a = m.lookup(0); const b = m.lookup(1); if (a === null || b === null) return 0; bpf.withLock(a.lock, () => { bpf.withLock(b.lock, () => { b.packets = 1; }); }); return 0; });`, /one spin lock at a time/],
    ['a lock on the stack', `export const p = xdp(() => { let s!: Stats; bpf.withLock(s.lock, () => { s.packets = 1; }); return 0; });`, /not in stack memory/],
    ['a lock in a per-CPU map', `export const m = perCpuArray<Stats>({ maxEntries: 1 });`, /not of percpu_array maps/],
    ['a lock in a global', `export const g = global<Stats>({});`, /not in a global/],
    ['two locks in a value', `export interface Two { a: SpinLock; b: SpinLock }
export const m = hashMap<u32, Two>({ maxEntries: 1 });`, /at most one SpinLock/],
    ['a lock below the top level', `export interface Inner { locks: FixedArray<u32, 2>; l: SpinLock }
export interface Outer { inner: Inner }
export const m = hashMap<u32, Outer>({ maxEntries: 1 });`, /top-level field/],
    ['the map in a kprobe', `export const m = arrayMap<Stats>({ maxEntries: 1 });
export const p = kprobe('do_nanosleep', () => { const s = m.lookup(0); return s === null ? 0 : 1; });`, /does not let kprobe programs use/],
    ['a callback not written in place', `export const m = arrayMap<Stats>({ maxEntries: 1 });
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; const f = () => { s.max = 1; }; bpf.withLock(s.lock, f); return 0; });`, /written in place/],
    ['a @noinline function called inside the callback', `export const m = arrayMap<Stats>({ maxEntries: 1 });
/** @noinline */
function bump(s: Stats): u64 { s.packets += 1; return s.packets; }
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; bpf.withLock(s.lock, () => { bump(s); }); return u32(bump(s)); });`, /@noinline function is called while a spin lock is held/],
    ['passing a locked value to a helper', `export const m = hashMap<u32, Stats>({ maxEntries: 2 });
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; m.update(1, s); return 0; });`, /copies a map value that holds a SpinLock/],
    ['copying a locked value', `export const m = arrayMap<Stats>({ maxEntries: 1 });
export const p = xdp(() => { const s = m.lookup(0); if (s === null) return 0; const c = { ...s }; return u32(c.packets); });`, /copies a map value that holds a SpinLock/],
  ];
  for (const [what, source, message] of refused) {
    it(`refuses ${what} with a positioned diagnostic`, () => {
      const d = diagnosticsOf(IMPORTS + source);
      const hit = d.find((x) => x.code === 'TSBPF_LOCK' && message.test(x.message)) ?? d.find((x) => message.test(`${x.code} ${x.message}`));
      expect(hit, JSON.stringify(d)).to.not.equal(undefined);
      // Where the module says it, not at the top of the file.
      expect(hit!.line).to.be.greaterThan(2);
    });
  }
});
