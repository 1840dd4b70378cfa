/**
 * The other tracing program kinds: a raw tracepoint run with
 * BPF_PROG_TEST_RUN on crafted arguments (interpreter agrees), and kprobe,
 * kretprobe, uprobe and perf_event modules that the verifier accepts and
 * the interpreter runs on a crafted pt_regs.
 */
import { expect } from 'chai';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, InterpMaps, runInterp } from './support/harness.js';

const rawTp = `
import { rawTracepoint, u32 } from 'tsbpf/dsl';
export const p = rawTracepoint('sys_enter', (ctx) => {
  const nr = ctx.arg(1);
  return nr === 59 ? 1 : u32(ctx.arg(0) & 0xff) + 2;
});
`;

const probes = `
import { kprobe, kretprobe, uprobe, uretprobe, perfEvent, arrayMap, bpf, u64, u32 } from 'tsbpf/dsl';
export const seen = arrayMap<u64>({ maxEntries: 4 });
export const k = kprobe('do_unlinkat', (ctx) => { seen.update(0, ctx.arg(1) + ctx.arg(5)); return 0; });
export const kr = kretprobe('do_unlinkat', (ctx) => { seen.update(1, ctx.ret()); return 0; });
export const u = uprobe('libc.so.6', 'free', (ctx) => { seen.update(2, ctx.arg(0)); return 0; });
export const ur = uretprobe('libc.so.6', 'malloc', (ctx) => u32(ctx.ret() & 1));
export const pe = perfEvent((ctx) => { seen.update(3, ctx.samplePeriod + u64(bpf.cpu() & 0)); return 0; });
`;

const le64 = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

describe('dsl tracing kinds', () => {
  it('runs a raw tracepoint in the kernel (test run with arguments) and the interpreter alike', function () {
    const mod = compileSource(rawTp);
    const args = (a0: bigint, a1: bigint) => new Uint8Array(new BigUint64Array([a0, a1]).buffer);
    const inputs = [args(0x1234n, 59n), args(0x1234n, 60n)];
    const interp = inputs.map((ctx) => runInterp(mod, 'p', { ctx }).retval);
    expect(interp).to.deep.equal([1, 0x34 + 2]);
    needKernel(this);
    const live = loadCompiledModule(mod);
    try {
      const kernel = inputs.map((ctx) => live.programs.get('p')!.testRun({ ctx }).retval);
      expect(kernel).to.deep.equal(interp);
    } finally {
      live.close();
    }
  });

  it('loads kprobe, kretprobe, uprobe, uretprobe and perf_event programs; the interpreter runs them on pt_regs', function () {
    const mod = compileSource(probes);
    expect(mod.programs.map((p) => p.section)).to.deep.equal(['kprobe/do_unlinkat', 'kretprobe/do_unlinkat', 'uprobe/libc.so.6:free', 'uretprobe/libc.so.6:malloc', 'perf_event']);
    const regs = new Uint8Array(184);
    const v = new DataView(regs.buffer);
    v.setBigUint64(104, 7n, true); // si: arg 1
    v.setBigUint64(64, 5n, true); // r9: arg 5
    v.setBigUint64(80, 99n, true); // ax: return value
    v.setBigUint64(112, 0xabcn, true); // di: arg 0
    v.setBigUint64(168, 4000n, true); // sample_period
    const maps = new InterpMaps(mod);
    for (const name of ['k', 'kr', 'u', 'pe']) runInterp(mod, name, { ctx: regs }, { maps });
    expect(runInterp(mod, 'ur', { ctx: regs }, { maps }).retval).to.equal(1);
    expect(maps.dump().seen).to.deep.equal({ '00000000': le64(12n), '01000000': le64(99n), '02000000': le64(0xabcn), '03000000': le64(4000n) });
    needKernel(this);
    loadCompiledModule(mod).close();
  });
});
