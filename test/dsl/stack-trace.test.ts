/**
 * stackTraceMap.getId and bpf.getStack: in the kernel (BPF_PROG_TEST_RUN of a
 * raw tracepoint program, whose stack is the test-run call's) and in the
 * interpreter (the stack a run is given) they behave alike: one stack, one id
 * however often it is taken; frames copied out; a stack of nothing is -EFAULT.
 */
import { expect } from 'chai';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { needKernel } from '../support/kernel.js';
import { InterpMaps, compileSource, dumpKernelMaps, runInterp, type MapDump } from './support/harness.js';

const SOURCE = `
import { rawTracepoint, arrayMap, hashMap, stackTraceMap, bpf, StackFlags, u32, u64, type FixedArray } from 'tsbpf/dsl';
export const out = arrayMap<u64>({ maxEntries: 8 });
export const stacks = stackTraceMap({ maxEntries: 16, depth: 8 });
// The user stack differs from run to run: in a map of its own, replacing what it finds (REUSE), it can never
// collide with the kernel stack's bucket and make that getId -EEXIST (once 1 run in 6).
export const ustacks = stackTraceMap({ maxEntries: 16, depth: 8 });
export const seen = hashMap<u32, u64>({ maxEntries: 16 });
export interface Frames { ip: FixedArray<u64, 4> }
export const frames = arrayMap<Frames>({ maxEntries: 1 });
export const p = rawTracepoint('sys_enter', (ctx) => {
  const id = stacks.getId(ctx);
  if (id < 0) { out.update(0, u64(-id)); return 1; }
  seen.increment(u32(id));
  out.update(1, u64(ustacks.getId(ctx, StackFlags.USER | StackFlags.REUSE) >= 0 ? 1 : 0));
  const f = frames.lookup(0);
  if (f === null) return 2;
  out.update(2, u64(bpf.getStack(ctx, f.ip)));
  out.update(3, u64(-stacks.getId(ctx, 200)));
  return 0;
});
`;

interface Shape {
  retvals: number[];
  /** How many distinct ids the runs got, and how often each was seen. */
  counts: number[];
  userStackId: boolean;
  /** bpf_get_stack's result: the bytes it copied (a whole number of frames). */
  copied: number;
  firstFrameSet: boolean;
  /** A skip past the whole stack: -EFAULT. */
  skippedAll: number;
}

const u64At = (hex: string | undefined): bigint => (hex ? Buffer.from(hex, 'hex').readBigUInt64LE(0) : 0n);
const key = (i: number): string => Buffer.from(new Uint32Array([i]).buffer).toString('hex');

function shapeOf(retvals: number[], maps: MapDump): Shape {
  return {
    retvals,
    counts: Object.values(maps.seen ?? {}).map((v) => Number(u64At(v))),
    userStackId: u64At(maps.out?.[key(1)]) === 1n,
    copied: Number(u64At(maps.out?.[key(2)])),
    firstFrameSet: u64At(maps.frames?.[key(0)]) !== 0n,
    skippedAll: Number(u64At(maps.out?.[key(3)])),
  };
}

describe('dsl stack traces: stackTraceMap.getId and bpf.getStack, interpreter and kernel agree', function () {
  const mod = compileSource(SOURCE);
  const kernelStack = [0xffffffff81001234n, 0xffffffff81005678n, 0xffffffff8100abcdn];
  const userStack = [0x401000n, 0x402000n];

  function interpShape(task: { kernelStack?: bigint[]; userStack?: bigint[] }): { shape: Shape; maps: InterpMaps } {
    const maps = new InterpMaps(mod);
    const retvals = [0, 1].map(() => runInterp(mod, 'p', { ctx: new Uint8Array(16) }, { maps, task }).retval);
    return { shape: shapeOf(retvals, maps.dump()), maps };
  }

  it('the interpreter stores the stack it is given under one id, copies its frames, and gives -EFAULT without one', function () {
    const { shape, maps } = interpShape({ kernelStack, userStack });
    expect(shape).to.deep.equal({ retvals: [0, 0], counts: [2], userStackId: true, copied: 24, firstFrameSet: true, skippedAll: 14 });
    const stored = ['stacks', 'ustacks'].flatMap((name) => [...maps.byName.get(name)!.keys()].map((k) => maps.byName.get(name)!.lookup(k)!));
    expect(stored).to.have.length(2); // the kernel stack and the user stack
    expect(Buffer.from(stored[0]!).readBigUInt64LE(8)).to.equal(kernelStack[1]);
    expect(interpShape({}).shape.retvals).to.deep.equal([1, 1]);
    expect(u64At(interpShape({}).maps.dump().out?.[key(0)])).to.equal(14n);
  });

  it('the kernel does the same with the stack of the test run', function () {
    needKernel(this);
    const live = loadCompiledModule(mod, { only: ['p'] });
    try {
      const retvals = [0, 1].map(() => live.programs.get('p')!.testRun({ ctx: new Uint8Array(16) }).retval);
      const kernel = shapeOf(retvals, dumpKernelMaps(mod, live.maps));
      // The test run's stack has more than three frames: compare what does not depend on its depth.
      expect(kernel.copied % 8).to.equal(0);
      expect(kernel.copied).to.be.within(8, 32);
      expect({ ...kernel, copied: 24 }).to.deep.equal(interpShape({ kernelStack, userStack }).shape);
    } finally {
      live.close();
    }
  });
});
