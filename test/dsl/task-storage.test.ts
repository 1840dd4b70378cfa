/**
 * taskStorage: a value per task, from a tp_btf program on sys_enter that
 * counts the getpgid calls of the test's thread (nothing else on that
 * thread calls getpgid: test/kernel/marked-calls.ts), deleting the value
 * on the third call so the fourth creates it again. The kernel and the
 * interpreter (whose task is the same thread id) give the same maps.
 */
import { expect } from 'chai';
import { compileSource, diagnosticsOf, le32, le64 } from './support/harness.js';
import { sysEnterInInterp, sysEnterInKernel } from './support/sys-enter.js';

const SOURCE = `
import { tpBtf, taskStorage, hashMap, arrayMap, rodata, bpf, type i64, type u32, type u64 } from 'tsbpf/dsl';
export interface Calls { n: u64; created: u32 }
export const calls = taskStorage<Calls>();
export const perTid = hashMap<u32, u64>({ maxEntries: 16 });
export const out = arrayMap<u64>({ maxEntries: 4 });
export const tid = rodata<u32>(0);
export const nr = rodata<u32>(0);
export const p = tpBtf('sys_enter', (regs: u64, id: i64) => {
  if (id !== nr.get() || bpf.tid() !== tid.get()) return 0;
  const task = bpf.currentTaskBtf();
  if (calls.get(task) === null) out.increment(0);
  const c = calls.get(task, true);
  if (c === null) return 0;
  c.n += 1;
  perTid.update(bpf.tid(), c.n);
  if (c.n === 3) out.update(1, calls.delete(task));
  if (calls.get(task) === null) out.increment(2);
  return 0;
});`;

const CALLS = 5;

describe('dsl taskStorage: kernel and interpreter agree', function () {
  it('is keyed by a task the verifier knows, not an integer', () => {
    const d = diagnosticsOf(`import { tpBtf, taskStorage, bpf, type u64 } from 'tsbpf/dsl';
      export const s = taskStorage<u64>();
      export const p = tpBtf('sys_enter', (regs: u64, id: u64) => { s.get(bpf.currentTask(), true); return 0; });`);
    expect(d.map((x) => x.code)).to.include('TSBPF_HELPER_ARG');
  });

  it('counts per task, deletes, creates again (tp_btf sys_enter)', function () {
    const mod = compileSource(SOURCE);
    const interp = sysEnterInInterp(mod, CALLS);
    // 5 calls: 1, 2, 3 (deleted), then 1, 2 again; two creations, one delete (0), null after it once.
    expect(interp.perTid).to.deep.equal({ [le32(process.pid)]: le64(2n) });
    expect(interp.out).to.deep.equal({ [le32(0)]: le64(2n), [le32(2)]: le64(1n) });
    const kernel = sysEnterInKernel(this, mod, CALLS);
    expect({ perTid: kernel.perTid, out: kernel.out }, 'kernel and interpreter').to.deep.equal({ perTid: interp.perTid, out: interp.out });
  });
});
