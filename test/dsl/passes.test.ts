/**
 * IR passes that bring the tools' code size to clang's (issue 10): each on
 * a small function, with the cases it must leave alone.
 */
import { expect } from 'chai';
import { Helper } from '../../src/asm/helpers.js';
import { formatIr, imm, type IrFunction, type Operand, reg, type SpannedOp } from '../../src/dsl/compiler/ir.js';
import { foldAddresses, mergeReturnsAndJumps, mergeTails, mergeZeroTests, narrowTruncations, rebaseSums, removeOverwrittenStores, reuseInBlocks, shareRegisterCopies, simplifyByWidth, threadBranches } from '../../src/dsl/compiler/passes.js';
import { allocateRegisters, rematerializableFrames } from '../../src/dsl/compiler/regalloc.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, le64, runInterp, runKernel } from './support/harness.js';

const fn = (ops: SpannedOp[], slots = 4): IrFunction => ({
  name: 't', ops, slots: Array.from({ length: slots }, () => ({ size: 8, align: 8 })), vregCount: 100,
});

describe('dsl passes: stack copies of one register share a slot', () => {
  const keyedTwice = (helperOnSecond: number, argIndex = 1): IrFunction => fn([
    { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 1 },
    { op: 'map', dst: 2, map: 'm' },
    { op: 'frame', dst: 3, slot: 0, off: 0 },
    { op: 'store', base: 3, off: 0, size: 8, value: reg(1) },
    { op: 'call', helper: Helper.map_lookup_elem, args: [reg(2), reg(3)], dst: 4 },
    { op: 'frame', dst: 5, slot: 1, off: 0 },
    { op: 'store', base: 5, off: 0, size: 8, value: reg(1) },
    { op: 'call', helper: helperOnSecond, args: argIndex === 1 ? [reg(2), reg(5)] : [reg(5), imm(8), reg(2)], dst: 6 },
    { op: 'ret', value: imm(0) },
  ]);

  it('two keys from one register: one store, right after the register is defined', () => {
    const f = keyedTwice(Helper.map_delete_elem);
    expect(shareRegisterCopies(f)).to.equal(true);
    const stores = f.ops.filter((o) => o.op === 'store');
    expect(stores).to.have.length(1);
    expect(f.ops[1]).to.deep.include({ op: 'frame', slot: 0 });
    expect(f.ops[2]).to.deep.include({ op: 'store', value: reg(1) });
    expect(f.ops.filter((o) => o.op === 'frame').every((o) => o.op === 'frame' && o.slot === 0)).to.equal(true, formatIr(f));
  });

  it('a slot a helper writes through is left alone', () => {
    const f = keyedTwice(Helper.probe_read_kernel, 0);
    expect(shareRegisterCopies(f)).to.equal(false);
  });

  it('a slot whose address escapes into arithmetic is left alone', () => {
    const f = keyedTwice(Helper.map_delete_elem);
    f.ops.splice(8, 0, { op: 'alu', alu: 'add', bits: 64, dst: 7, a: reg(5), b: imm(4) });
    expect(shareRegisterCopies(f)).to.equal(false);
  });

  it('one copy past a branch is stored where the register is defined (as clang stores a local at once); not when no branch is between', () => {
    const once = (between: SpannedOp[]): IrFunction => fn([
      { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 1 },
      ...between,
      { op: 'frame', dst: 3, slot: 0, off: 0 },
      { op: 'store', base: 3, off: 0, size: 8, value: reg(1) },
      { op: 'map', dst: 2, map: 'm' },
      { op: 'call', helper: Helper.map_lookup_elem, args: [reg(2), reg(3)], dst: 4 },
      { op: 'label', label: 'out' },
      { op: 'ret', value: imm(0) },
    ]);
    const f = once([{ op: 'br', cmp: 'eq', bits: 64, a: 1, b: imm(0), target: 'out' }]);
    expect(shareRegisterCopies(f)).to.equal(true);
    expect(f.ops[2]).to.deep.include({ op: 'store', value: reg(1) }, formatIr(f));
    expect(f.ops.filter((o) => o.op === 'store')).to.have.length(1);
    expect(shareRegisterCopies(f)).to.equal(false);
    expect(shareRegisterCopies(once([{ op: 'mov', dst: 5, src: imm(1), bits: 64 }]))).to.equal(false);
  });
});

describe('dsl passes: reuse within a block', () => {
  it('a second get_current_pid_tgid and a second map reference become copies; not past a label', () => {
    const f = fn([
      { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 1 },
      { op: 'map', dst: 2, map: '.data', valueOffset: 0 },
      { op: 'br', cmp: 'eq', bits: 64, a: 1, b: imm(0), target: 'L' },
      { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 3 },
      { op: 'map', dst: 4, map: '.data', valueOffset: 0 },
      { op: 'map', dst: 5, map: '.data', valueOffset: 4 },
      { op: 'label', label: 'L' },
      { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 6 },
      { op: 'ret', value: imm(0) },
    ]);
    expect(reuseInBlocks(f)).to.equal(true);
    expect(f.ops[3]).to.deep.include({ op: 'mov', dst: 3, src: reg(1) });
    expect(f.ops[4]).to.deep.include({ op: 'mov', dst: 4, src: reg(2) });
    expect(f.ops[5]).to.deep.include({ op: 'map', dst: 5 });
    expect(f.ops[7]).to.deep.include({ op: 'call', dst: 6 });
  });

  it('arithmetic on the same registers set once and constants: data + 14 twice is one add; not of a register set twice', () => {
    const f = fn([
      { op: 'mov', dst: 1, src: { kind: 'reg', reg: -1 }, bits: 64 },
      { op: 'load', dst: 2, base: 1, off: 0, size: 4 },
      { op: 'alu', alu: 'add', bits: 64, dst: 3, a: reg(2), b: imm(14) },
      { op: 'br', cmp: 'eq', bits: 64, a: 3, b: imm(0), target: 'L' },
      { op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(2), b: imm(14) },
      { op: 'mov', dst: 5, src: imm(1), bits: 64 },
      { op: 'alu', alu: 'add', bits: 64, dst: 6, a: reg(5), b: imm(14) },
      { op: 'mov', dst: 5, src: imm(2), bits: 64 },
      { op: 'alu', alu: 'add', bits: 64, dst: 7, a: reg(5), b: imm(14) },
      { op: 'label', label: 'L' },
      { op: 'ret', value: imm(0) },
    ]);
    expect(reuseInBlocks(f)).to.equal(true);
    expect(f.ops[4]).to.deep.include({ op: 'mov', dst: 4, src: reg(3) });
    expect(f.ops[8]).to.deep.include({ op: 'alu', dst: 7 }, formatIr(f));
  });

  it('a helper with effects is called again (ktime)', () => {
    const f = fn([
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 1 },
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 2 },
      { op: 'ret', value: reg(2) },
    ]);
    expect(reuseInBlocks(f)).to.equal(false);
  });
});

describe('dsl passes: truncations to 32 bits', () => {
  it('a 4-byte store and a 32-bit compare read the untruncated register; a 64-bit use keeps the truncation', () => {
    const f = fn([
      { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 1 },
      { op: 'mov', dst: 2, src: reg(1), bits: 32 },
      { op: 'frame', dst: 3, slot: 0, off: 0 },
      { op: 'store', base: 3, off: 0, size: 4, value: reg(2) },
      { op: 'br', cmp: 'eq', bits: 32, a: 2, b: imm(0), target: 'L' },
      { op: 'store', base: 3, off: 0, size: 8, value: reg(2) },
      { op: 'label', label: 'L' },
      { op: 'ret', value: imm(0) },
    ]);
    expect(narrowTruncations(f)).to.equal(true);
    expect(f.ops[3]).to.deep.include({ op: 'store', size: 4, value: reg(1) });
    expect(f.ops[4]).to.deep.include({ op: 'br', a: 1 });
    expect(f.ops[5]).to.deep.include({ op: 'store', size: 8, value: reg(2) });
  });
});

describe('dsl passes: masks and extensions by value width', () => {
  it('drops a mask a 16-bit value passes, a sign extension of a 16-bit value; & 0xffffffff becomes w = w', () => {
    const f = fn([
      { op: 'load', dst: 1, base: 0, off: 0, size: 2 },
      { op: 'alu', alu: 'and', bits: 32, dst: 2, a: reg(1), b: imm(0xffff) },
      { op: 'alu', alu: 'lsh', bits: 64, dst: 3, a: reg(2), b: imm(32) },
      { op: 'alu', alu: 'arsh', bits: 64, dst: 3, a: reg(3), b: imm(32) },
      { op: 'load', dst: 4, base: 0, off: 8, size: 8 },
      { op: 'alu', alu: 'and', bits: 64, dst: 5, a: reg(4), b: imm(0xffffffffn) },
      { op: 'alu', alu: 'and', bits: 64, dst: 6, a: reg(4), b: imm(0xff) },
      { op: 'ret', value: reg(3) },
    ]);
    expect(simplifyByWidth(f)).to.equal(true);
    expect(f.ops[1]).to.deep.include({ op: 'mov', dst: 2, src: reg(1), bits: 64 });
    expect(f.ops[2]).to.deep.include({ op: 'mov', dst: 3, src: reg(2), bits: 64 });
    expect(f.ops[4]).to.deep.include({ op: 'mov', dst: 5, src: reg(4), bits: 32 });
    expect(f.ops[5]).to.deep.include({ op: 'alu', alu: 'and', dst: 6 });
  });
  it('keeps the sign extension of a 32-bit load (its sign bit may be set)', () => {
    const f = fn([
      { op: 'load', dst: 1, base: 0, off: 0, size: 4 },
      { op: 'alu', alu: 'lsh', bits: 64, dst: 2, a: reg(1), b: imm(32) },
      { op: 'alu', alu: 'arsh', bits: 64, dst: 2, a: reg(2), b: imm(32) },
      { op: 'ret', value: reg(2) },
    ]);
    expect(simplifyByWidth(f)).to.equal(false);
  });
});

describe('dsl passes: stack stores written again before anything reads them', () => {
  // let o!: Owner (20 bytes: zero-filled as 8 + 8 + 4); o.pid = …; bpf.currentComm(o.comm); m.update(k, o)
  const filled = (between: SpannedOp[], comm = 16): IrFunction => fn([
    { op: 'frame', dst: 1, slot: 0, off: 0 },
    { op: 'store', base: 1, off: 0, size: 8, value: imm(0) },
    { op: 'store', base: 1, off: 8, size: 8, value: imm(0) },
    { op: 'store', base: 1, off: 16, size: 4, value: imm(0) },
    { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 2 },
    { op: 'store', base: 1, off: 0, size: 4, value: reg(2) },
    ...between,
    { op: 'frame', dst: 3, slot: 0, off: 4 },
    { op: 'call', helper: Helper.get_current_comm, args: [reg(3), imm(comm)] },
    { op: 'call', helper: Helper.map_update_elem, args: [imm(0), imm(0), reg(1), imm(0)] },
    { op: 'ret', value: imm(0) },
  ]);
  it('the zero fill of a struct whose fields a store and get_current_comm all set goes', () => {
    const f = filled([]);
    expect(removeOverwrittenStores(f)).to.equal(true);
    expect(f.ops.filter((o) => o.op === 'store')).to.have.length(1, formatIr(f));
  });
  it('not the bytes a shorter fill leaves, nor past a read, a branch or an address that escapes', () => {
    const short = filled([], 12);
    removeOverwrittenStores(short);
    expect(short.ops.filter((o) => o.op === 'store' && o.value.kind === 'imm').map((o) => (o as { off: number }).off)).to.deep.equal([16], formatIr(short));
    const zeroes = (f: IrFunction) => f.ops.filter((o) => o.op === 'store' && o.value.kind === 'imm').map((o) => (o as { off: number }).off);
    const read = filled([{ op: 'load', dst: 4, base: 1, off: 8, size: 1 }]);
    removeOverwrittenStores(read);
    expect(zeroes(read)).to.deep.equal([8], formatIr(read));
    expect(removeOverwrittenStores(filled([{ op: 'br', cmp: 'eq', bits: 64, a: 2, b: imm(0), target: 'x' }, { op: 'label', label: 'x' }]))).to.equal(false);
    expect(removeOverwrittenStores(filled([{ op: 'call', helper: Helper.probe_read_kernel_str, args: [reg(1), imm(20), imm(0)] }]))).to.equal(false);
    expect(removeOverwrittenStores(filled([{ op: 'alu', alu: 'add', bits: 64, dst: 5, a: reg(1), b: imm(8) }]))).to.equal(false);
  });
});

describe('dsl passes: signed tests of values whose sign bit is clear', () => {
  it('c ? x / 1000000 : x / 1000 is never negative: the s< 0 test goes, and an s>= 0 test becomes a jump', () => {
    const f = fn([
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 1 },
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 2 },
      { op: 'br', cmp: 'eq', bits: 64, a: 2, b: imm(0), target: 'us' },
      { op: 'alu', alu: 'div', bits: 64, dst: 3, a: reg(1), b: imm(1000000) },
      { op: 'jmp', target: 'done' },
      { op: 'label', label: 'us' },
      { op: 'alu', alu: 'div', bits: 64, dst: 3, a: reg(1), b: imm(1000) },
      { op: 'label', label: 'done' },
      { op: 'br', cmp: 'slt', bits: 64, a: 3, b: imm(0), target: 'neg' },
      { op: 'br', cmp: 'sge', bits: 64, a: 3, b: imm(0), target: 'pos' },
      { op: 'label', label: 'neg' },
      { op: 'ret', value: imm(1) },
      { op: 'label', label: 'pos' },
      { op: 'ret', value: imm(2) },
    ]);
    expect(simplifyByWidth(f)).to.equal(true);
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(1, formatIr(f));
    expect(f.ops[8]).to.deep.include({ op: 'jmp', target: 'pos' });
  });
  it('not of a division that may keep the sign bit, nor of a register a loop keeps adding to', () => {
    const f = fn([
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 1 },
      { op: 'alu', alu: 'div', bits: 64, dst: 3, a: reg(1), b: imm(1) },
      { op: 'br', cmp: 'slt', bits: 64, a: 3, b: imm(0), target: 'neg' },
      { op: 'mov', dst: 4, src: imm(1), bits: 64 },
      { op: 'label', label: 'loop' },
      { op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(4), b: reg(4) },
      { op: 'br', cmp: 'slt', bits: 64, a: 4, b: imm(0), target: 'neg' },
      { op: 'jmp', target: 'loop' },
      { op: 'label', label: 'neg' },
      { op: 'ret', value: imm(1) },
    ]);
    simplifyByWidth(f);
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(2, formatIr(f));
  });
});

describe('dsl passes: jump threading on tests against constants', () => {
  it('a reservation null test after the drop count: the first branch goes to the event code, the second test goes', () => {
    const f = fn([
      { op: 'call', helper: Helper.ringbuf_reserve, args: [imm(0), imm(8), imm(0)], dst: 1 },
      { op: 'br', cmp: 'ne', bits: 64, a: 1, b: imm(0), target: 'ok' },
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 2 },
      { op: 'label', label: 'ok' },
      { op: 'br', cmp: 'ne', bits: 64, a: 1, b: imm(0), target: 'event' },
      { op: 'ret', value: imm(0) },
      { op: 'label', label: 'event' },
      { op: 'ret', value: imm(1) },
    ]);
    expect(threadBranches(f)).to.equal(true);
    expect(f.ops[1]).to.deep.include({ op: 'br', target: 'event' });
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(1, formatIr(f));
  });
  it('an opposite test: the branch lands after it; a redefinition in between forgets what was known', () => {
    const f = fn([
      { op: 'call', helper: Helper.ringbuf_reserve, args: [imm(0), imm(8), imm(0)], dst: 1 },
      { op: 'br', cmp: 'ne', bits: 64, a: 1, b: imm(0), target: 'ok' },
      { op: 'mov', dst: 1, src: imm(5), bits: 64 },
      { op: 'label', label: 'ok' },
      { op: 'br', cmp: 'eq', bits: 64, a: 1, b: imm(0), target: 'none' },
      { op: 'ret', value: imm(1) },
      { op: 'label', label: 'none' },
      { op: 'ret', value: imm(0) },
    ]);
    expect(threadBranches(f)).to.equal(true);
    expect(f.ops[1]).to.deep.include({ op: 'br', cmp: 'ne' });
    const target = (f.ops[1] as { target: string }).target;
    expect(f.ops.findIndex((o) => o.op === 'label' && o.label === target)).to.equal(f.ops.findIndex((o) => o.op === 'br' && o.cmp === 'eq') + 1, formatIr(f));
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(2, formatIr(f));
  });
});

describe('dsl passes: jump threading past ops whose results the destination does not read', () => {
  // storedInteger's shape: v = 0; if (p == 0) goto absent; v = *p; absent: w = v; if (p != 0) goto found; return 0.
  const lookedUp = (after: SpannedOp[]): IrFunction => fn([
    { op: 'call', helper: Helper.map_lookup_elem, args: [imm(0), imm(0)], dst: 1 },
    { op: 'mov', dst: 2, src: imm(0), bits: 64 },
    { op: 'br', cmp: 'eq', bits: 64, a: 1, b: imm(0), target: 'absent' },
    { op: 'load', dst: 2, base: 1, off: 0, size: 8 },
    { op: 'label', label: 'absent' },
    { op: 'mov', dst: 3, src: reg(2), bits: 64 },
    { op: 'br', cmp: 'ne', bits: 64, a: 1, b: imm(0), target: 'found' },
    ...after,
    { op: 'ret', value: imm(0) },
    { op: 'label', label: 'found' },
    { op: 'ret', value: reg(3) },
  ]);
  it('the null branch goes straight to the return, and the second test goes', () => {
    const f = lookedUp([]);
    expect(threadBranches(f)).to.equal(true);
    const target = (f.ops[2] as { target: string }).target;
    expect(f.ops[f.ops.findIndex((o) => o.op === 'label' && o.label === target) + 1]).to.deep.include({ op: 'ret', value: imm(0) }, formatIr(f));
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(1, formatIr(f));
  });
  it('not when the destination reads what the skipped ops set', () => {
    const f = lookedUp([{ op: 'ret', value: reg(3) }]);
    threadBranches(f);
    expect(f.ops[2]).to.deep.include({ op: 'br', target: 'absent' }, formatIr(f));
  });
});

describe('dsl passes: two tests against 0 going to one place become one test of an or', () => {
  const tests = (second: SpannedOp, tested: number): IrFunction => fn([
    { op: 'call', helper: Helper.get_current_pid_tgid, args: [], dst: 1 },
    { op: 'map', dst: 2, map: '.data', valueOffset: 4 },
    { op: 'load', dst: 3, base: 2, off: 0, size: 4 },
    second,
    { op: 'br', cmp: 'ne', bits: 32, a: 3, b: imm(0), target: 'go' },
    { op: 'br', cmp: 'ne', bits: 32, a: tested, b: imm(0), target: 'go' },
    { op: 'ret', value: imm(0) },
    { op: 'label', label: 'go' },
    { op: 'ret', value: imm(1) },
  ]);
  it('a global and the thread id (profile: includeIdle === 0 && tid === 0 returns): (a | b) != 0', () => {
    const f = tests({ op: 'mov', dst: 4, src: imm(7), bits: 64 }, 1);
    expect(mergeZeroTests(f)).to.equal(true);
    expect(f.ops.filter((o) => o.op === 'br')).to.have.length(1, formatIr(f));
    expect(f.ops[4]).to.deep.include({ op: 'alu', alu: 'or', bits: 32, a: reg(3), b: reg(1) });
  });
  it('not of a pointer (the verifier refuses | on one): a map lookup result', () => {
    const f = tests({ op: 'call', helper: Helper.map_lookup_elem, args: [imm(0), imm(0)], dst: 4 }, 4);
    expect(mergeZeroTests(f)).to.equal(false);
  });
});

describe('dsl passes: tail merging of runs that differ in one constant', () => {
  // if (p === 17) tailCall(ctx, stages, 0); else if (p === 6) tailCall(ctx, stages, 1); return 2
  const calls = (after: SpannedOp[]): IrFunction => fn([
    { op: 'mov', dst: 0, src: reg(-1), bits: 64 },
    { op: 'load', dst: 1, base: 0, off: 0, size: 1 },
    { op: 'br', cmp: 'ne', bits: 32, a: 1, b: imm(17), target: 'other' },
    { op: 'map', dst: 2, map: 'stages' },
    { op: 'call', helper: Helper.tail_call, args: [reg(0), reg(2), imm(0)], dst: 5 },
    { op: 'jmp', target: 'done' },
    { op: 'label', label: 'other' },
    { op: 'br', cmp: 'ne', bits: 32, a: 1, b: imm(6), target: 'done' },
    { op: 'map', dst: 3, map: 'stages' },
    { op: 'call', helper: Helper.tail_call, args: [reg(0), reg(3), imm(1)], dst: 6 },
    { op: 'label', label: 'done' },
    ...after,
  ]);
  it('one call, with the index set on each way to it (before the first test)', () => {
    const f = calls([{ op: 'ret', value: imm(2) }]);
    expect(mergeTails(f)).to.equal(true);
    expect(f.ops.filter((o) => o.op === 'call')).to.have.length(1, formatIr(f));
    const sets = f.ops.filter((o) => o.op === 'mov' && o.src.kind === 'imm');
    expect(sets.map((o) => (o as { src: { value: bigint } }).src.value)).to.deep.equal([0n, 1n], formatIr(f));
    expect(f.ops.findIndex((o) => o === sets[0])).to.be.lessThan(f.ops.findIndex((o) => o.op === 'br'));
    const call = f.ops.find((o) => o.op === 'call') as { args: Operand[] };
    expect(call.args[2]).to.deep.equal(reg((sets[0] as { dst: number }).dst));
  });
  it('not when what the first run sets is read after it', () => {
    expect(mergeTails(calls([{ op: 'ret', value: reg(5) }]))).to.equal(false);
  });
});

describe('dsl passes: header addresses (xdp-lb entry: data + 14 checked, then data + 34)', () => {
  const checks = (between: SpannedOp[], loop = false): IrFunction => fn([
    { op: 'mov', dst: 0, src: reg(-1), bits: 64 },
    { op: 'load', dst: 1, base: 0, off: 0, size: 4 },
    { op: 'load', dst: 2, base: 0, off: 4, size: 4 },
    ...(loop ? [{ op: 'label', label: 'top' } as SpannedOp] : []),
    { op: 'alu', alu: 'add', bits: 64, dst: 3, a: reg(1), b: imm(14) },
    { op: 'br', cmp: 'gt', bits: 64, a: 3, b: reg(2), target: 'out' },
    ...between,
    { op: 'label', label: 'next' },
    { op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(1), b: imm(34) },
    { op: 'br', cmp: 'gt', bits: 64, a: 4, b: reg(2), target: 'out' },
    { op: 'alu', alu: 'add', bits: 64, dst: 5, a: reg(1), b: imm(14) },
    { op: 'br', cmp: 'eq', bits: 64, a: 2, b: imm(0), target: 'out' },
    { op: 'label', label: 'field' },
    { op: 'load', dst: 6, base: 5, off: 9, size: 1 },
    ...(loop ? [{ op: 'br', cmp: 'eq', bits: 32, a: 6, b: imm(0), target: 'top' } as SpannedOp] : []),
    { op: 'label', label: 'out' },
    { op: 'ret', value: imm(2) },
  ]);
  it('data + 34 is made from data + 14 (read for the last time before it): one add in its register', () => {
    const f = checks([]);
    expect(rebaseSums(f)).to.equal(true);
    expect(f.ops.find((o) => o.op === 'alu' && o.dst === 4)).to.deep.include({ a: reg(3), b: imm(20) }, formatIr(f));
  });
  it('not across a call, nor in a loop', () => {
    const f = checks([{ op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 9 }]);
    rebaseSums(f);
    expect(f.ops.find((o) => o.op === 'alu' && o.dst === 4)).to.deep.include({ a: reg(1), b: imm(34) }, formatIr(f));
    expect(rebaseSums(checks([], true))).to.equal(false);
  });
  it('a header field is read at data + 23 past labels when nothing loops; not in a loop', () => {
    const f = checks([]);
    foldAddresses(f);
    expect(f.ops.find((o) => o.op === 'load' && o.dst === 6)).to.deep.include({ base: 1, off: 23 }, formatIr(f));
    const g = checks([], true);
    foldAddresses(g);
    expect(g.ops.find((o) => o.op === 'load' && o.dst === 6)).to.deep.include({ base: 5, off: 9 }, formatIr(g));
  });
});

describe('dsl register allocation: an argument register left to the value that ends in it', () => {
  it("a value live while the tail call's index is set does not take r3", () => {
    // v2 = protocol; v3 = 0; if v2 == 17 goto call; …; v3 = 1; call: tail_call(ctx, map, v3)
    const f = fn([
      { op: 'mov', dst: 0, src: reg(-1), bits: 64 },
      { op: 'load', dst: 2, base: 0, off: 0, size: 1 },
      { op: 'mov', dst: 3, src: imm(0), bits: 64 },
      { op: 'br', cmp: 'eq', bits: 32, a: 2, b: imm(17), target: 'call' },
      { op: 'mov', dst: 3, src: imm(1), bits: 64 },
      { op: 'label', label: 'call' },
      { op: 'map', dst: 4, map: 'stages' },
      { op: 'call', helper: Helper.tail_call, args: [reg(0), reg(4), reg(3)] },
      { op: 'ret', value: imm(2) },
    ]);
    const a = allocateRegisters(f);
    expect(a.locations.get(3)).to.deep.equal({ kind: 'reg', reg: 3 });
    expect(a.locations.get(2)).not.to.deep.equal({ kind: 'reg', reg: 3 });
  });
});

describe('dsl passes: a block only jumps reach, jumped over, moves to the end', () => {
  it('the jump over it goes; what falls through stays in order', () => {
    const f = fn([
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 1 },
      { op: 'br', cmp: 'eq', bits: 64, a: 1, b: imm(0), target: 'zero' },
      { op: 'mov', dst: 2, src: imm(7), bits: 64 },
      { op: 'jmp', target: 'go' },
      { op: 'label', label: 'zero' },
      { op: 'ret', value: imm(0) },
      { op: 'label', label: 'go' },
      { op: 'ret', value: reg(2) },
    ]);
    expect(mergeReturnsAndJumps(f)).to.equal(true);
    expect(f.ops.map((o) => o.op)).to.deep.equal(['call', 'br', 'mov', 'label', 'ret', 'label', 'ret'], formatIr(f));
    expect(f.ops[4]).to.deep.include({ op: 'ret', value: reg(2) });
    expect(f.ops[6]).to.deep.include({ op: 'ret', value: imm(0) });
  });
});

describe('dsl register allocation: r0 and argument registers', () => {
  it("a register both lookups of increment set stays in r0 across the update between them (dead there), and update's result shares r0", () => {
    const f = fn([
      { op: 'frame', dst: 1, slot: 0, off: 0 },
      { op: 'store', base: 1, off: 0, size: 8, value: imm(5) },
      { op: 'call', helper: Helper.map_lookup_elem, args: [imm(0), reg(1)], dst: 2 },
      { op: 'br', cmp: 'ne', bits: 64, a: 2, b: imm(0), target: 'add' },
      { op: 'call', helper: Helper.map_update_elem, args: [imm(0), reg(1), reg(1), imm(1)], dst: 3 },
      { op: 'br', cmp: 'eq', bits: 64, a: 3, b: imm(0), target: 'done' },
      { op: 'call', helper: Helper.map_lookup_elem, args: [imm(0), reg(1)], dst: 2 },
      { op: 'br', cmp: 'eq', bits: 64, a: 2, b: imm(0), target: 'done' },
      { op: 'label', label: 'add' },
      { op: 'mov', dst: 4, src: imm(1), bits: 64 },
      { op: 'atomicAdd', base: 2, off: 0, size: 8, value: 4 },
      { op: 'label', label: 'done' },
      { op: 'ret', value: imm(0) },
    ]);
    const a = allocateRegisters(f);
    expect(a.locations.get(2)).to.deep.equal({ kind: 'reg', reg: 0 });
    expect(a.locations.get(3)).to.deep.equal({ kind: 'reg', reg: 0 });
  });
  it('not when it is live across the call', () => {
    const f = fn([
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 2 },
      { op: 'call', helper: Helper.ktime_get_ns, args: [], dst: 3 },
      { op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(2), b: reg(3) },
      { op: 'ret', value: reg(4) },
    ]);
    expect(allocateRegisters(f).locations.get(2)).not.to.deep.equal({ kind: 'reg', reg: 0 });
  });
  // c ? x / 1000000 : x / 1000, with `extra` after the first division.
  const divided = (extra: SpannedOp[], after: SpannedOp[]): IrFunction => fn([
    { op: 'mov', dst: 0, src: reg(-1), bits: 64 },
    { op: 'load', dst: 1, base: 0, off: 0, size: 8 },
    { op: 'load', dst: 2, base: 0, off: 8, size: 8 },
    { op: 'br', cmp: 'eq', bits: 64, a: 2, b: imm(0), target: 'us' },
    { op: 'alu', alu: 'div', bits: 64, dst: 3, a: reg(1), b: imm(1000000) },
    ...extra,
    { op: 'jmp', target: 'done' },
    { op: 'label', label: 'us' },
    { op: 'alu', alu: 'div', bits: 64, dst: 3, a: reg(1), b: imm(1000) },
    { op: 'label', label: 'done' },
    ...after,
  ]);
  it('a register set on each path (c ? x / 1000000 : x / 1000) takes the register of x, which each path reads last: no moves', () => {
    const a = allocateRegisters(divided([], [{ op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(3), b: reg(2) }, { op: 'ret', value: reg(4) }]));
    expect(a.locations.get(3)).to.deep.equal(a.locations.get(1));
    expect(a.locations.get(2)).not.to.deep.equal(a.locations.get(1));
  });
  it('not when x is read again after one of them', () => {
    const a = allocateRegisters(divided([{ op: 'alu', alu: 'add', bits: 64, dst: 3, a: reg(3), b: reg(1) }], [{ op: 'ret', value: reg(3) }]));
    expect(a.locations.get(3)).not.to.deep.equal(a.locations.get(1));
  });
  it("a value made into a helper argument is built in that argument's register", () => {
    // r3 = *(r10 - 8); r3 += off: probe_read's source, as clang builds it.
    const f = fn([
      { op: 'frame', dst: 1, slot: 0, off: 0 },
      { op: 'call', helper: Helper.probe_read_kernel, args: [reg(1), imm(8), imm(0)] },
      { op: 'load', dst: 2, base: 1, off: 0, size: 8 },
      { op: 'mov', dst: 3, src: imm(8), bits: 64 },
      { op: 'alu', alu: 'add', bits: 64, dst: 4, a: reg(2), b: reg(3) },
      { op: 'call', helper: Helper.probe_read_kernel, args: [reg(1), imm(4), reg(4)] },
      { op: 'ret', value: imm(0) },
    ]);
    const a = allocateRegisters(f);
    expect(a.locations.get(2)).to.deep.equal({ kind: 'reg', reg: 3 });
    expect(a.locations.get(4)).to.deep.equal({ kind: 'reg', reg: 3 });
  });
});

describe('dsl: increment adds in one place, after a lookup or an insertion race (interpreter and kernel agree)', function () {
  const source = `
import { arrayMap, hashMap, perCpuHash, xdp, type u32, type u64 } from 'tsbpf/dsl';
export const h = hashMap<u32, u64>({ maxEntries: 4 });
export const p = perCpuHash<u32, u32>({ maxEntries: 4 });
export const a = arrayMap<u64>({ maxEntries: 2 });
export const prog = xdp((ctx) => {
  const n = ctx.packet.length;
  h.increment(1);
  h.increment(n, 3);
  p.increment(7, n);
  a.increment(1, 5);
  a.increment(n, 9);
  return 2;
});
`;
  it('each map counts the same over three runs', function () {
    const mod = compileSource(source);
    expect(mod.programs[0]!.ir!.match(/atomic_add64/g)?.length).to.equal(4, mod.programs[0]!.ir);
    const pkt = new Uint8Array(20);
    const interp = runInterp(mod, 'prog', { packet: pkt }, { repeat: 3 });
    expect(interp.maps.h).to.deep.equal({ '01000000': le64(3n), '14000000': le64(9n) });
    needKernel(this);
    const kernel = runKernel(mod, 'prog', pkt, { repeat: 3 });
    expect(kernel.maps).to.deep.equal(interp.maps);
  });
});

describe('dsl register allocation: stack addresses rebuilt where used', () => {
  const uses = (extra: SpannedOp[]): IrFunction => fn([
    { op: 'frame', dst: 1, slot: 0, off: 8 },
    { op: 'store', base: 1, off: 0, size: 8, value: imm(0) },
    ...extra,
    { op: 'ret', value: imm(0) },
  ]);
  it('loads, stores and up to two helper arguments address r10 directly', () => {
    const f = uses([{ op: 'call', helper: Helper.probe_read_kernel, args: [reg(1), imm(8), imm(0)] }, { op: 'load', dst: 2, base: 1, off: 0, size: 8 }]);
    expect(rematerializableFrames(f).get(1)).to.deep.equal({ slot: 0, off: 8 });
  });
  it('not when stored as a value, used in arithmetic, or passed to three calls', () => {
    expect(rematerializableFrames(uses([{ op: 'store', base: 1, off: 0, size: 8, value: reg(1) }])).has(1)).to.equal(false);
    expect(rematerializableFrames(uses([{ op: 'alu', alu: 'add', bits: 64, dst: 2, a: reg(1), b: imm(1) }])).has(1)).to.equal(false);
    const call: SpannedOp = { op: 'call', helper: Helper.probe_read_kernel, args: [reg(1), imm(8), imm(0)] };
    expect(rematerializableFrames(uses([call, call, call])).has(1)).to.equal(false);
  });
});

describe('dsl passes: byte copies from the packet, keys stored once (kernel and interpreter agree)', function () {
  // 16 bytes from an odd packet offset into a struct key at offset 4 (4-aligned): copied 4 bytes at a time.
  const source = `
import { hashMap, header, range, u64, xdp, XdpAction, type FixedArray, type u32, type u8 } from 'tsbpf/dsl';
interface Bytes { b: FixedArray<u8, 16> }
const Bytes = header<Bytes>('Bytes', 16);
interface Key { len: u32; addr: FixedArray<u8, 16> }
export const seen = hashMap<Key, u64>({ maxEntries: 8 });
export const byLen = hashMap<u64, u64>({ maxEntries: 8 });
export const copy = xdp((ctx) => {
  const p = ctx.packet.at(Bytes, 7);
  if (p === null) return XdpAction.PASS;
  let key!: Key;
  key.len = 128;
  for (const i of range(16)) key.addr[i] = p.b[i];
  seen.update(key, 1);
  const n = u64(ctx.packet.length);
  byLen.update(n, 1);
  if (byLen.lookup(n) !== null) byLen.update(n, 2);
  return XdpAction.PASS;
});
`;
  const pkt = Uint8Array.from({ length: 40 }, (_, i) => (i * 7 + 3) & 0xff);

  it('copies 4 bytes at a time, stores the length key once, and both runs leave the same maps', function () {
    const mod = compileSource(source);
    const ir = mod.programs[0]!.ir!;
    expect(ir).not.to.match(/load8/);
    expect(ir.match(/load32 \[v\d+\+\d+\]/g)?.length).to.equal(4, ir);
    const expected = Buffer.concat([Buffer.from('80000000', 'hex'), Buffer.from(pkt.slice(7, 23))]).toString('hex');
    const interp = runInterp(mod, 'copy', { packet: pkt });
    expect(Object.keys(interp.maps.seen ?? {})).to.deep.equal([expected]);
    expect(Object.values(interp.maps.byLen ?? {})).to.deep.equal([le64(2n)]);
    needKernel(this);
    const kernel = runKernel(mod, 'copy', pkt);
    expect(kernel.maps).to.deep.equal(interp.maps);
  });
});

describe('dsl: increment takes its key before its amount runs (found by npm run fuzz:dsl, seed 33391)', function () {
  const source = `
import { hashMap, header, i32, xdp, type u8 } from 'tsbpf/dsl';
export interface S0 { f0: u8; }
const H0 = header<S0>('S0', 1);
export const m0 = hashMap<S0, u8>({ maxEntries: 1 });
function f0(a0: S0, a1: u8) {
  a0.f0 = a1;
  return i32(a1);
}
export const prog = xdp((ctx) => {
  let k0!: S0;
  m0.increment({ f0: k0.f0 }, f0(k0, 1));
  const v1 = m0.lookup({ f0: k0.f0 });
  if (v1 === null) return 0;
  return v1;
});
`;
  it('counts at key 0 (k0.f0 before f0 set it), then finds nothing at key 1: in the interpreter and the kernel', function () {
    const mod = compileSource(source);
    const pkt = new Uint8Array(14);
    const interp = runInterp(mod, 'prog', { packet: pkt });
    expect(interp.retval).to.equal(0);
    expect(interp.maps.m0).to.deep.equal({ '00': '01' });
    needKernel(this);
    const kernel = runKernel(mod, 'prog', pkt);
    expect(kernel.retval).to.equal(0);
    expect(kernel.maps).to.deep.equal(interp.maps);
  });
});

describe('dsl passes: two groups of shared key copies in one function (found by npm run fuzz:dsl, seed 44127)', function () {
  const source = `
import { arrayMap, hashMap, i32, u8, xdp, type u8 as U8 } from 'tsbpf/dsl';
export interface S0 { f0: U8; }
export const m0 = arrayMap<S0>({ maxEntries: 1 });
export const m1 = hashMap<U8, U8>({ maxEntries: 1 });
export const prog = xdp((ctx) => {
  let x0: U8 = u8(((0 === i32(0)) ? (-((0 << 0))) : 0));
  const v1 = m0.lookup(x0);
  if (v1 !== null) {
    m1.update(x0, x0);
  } else {
    const v2 = m0.lookup(x0);
    if (v2 !== null) {
    }
  }
  return x0;
});
`;
  it('each group keeps the stack addresses its map calls use: interpreter and kernel agree', function () {
    const mod = compileSource(source);
    const pkt = new Uint8Array(14);
    const interp = runInterp(mod, 'prog', { packet: pkt });
    expect(interp.retval).to.equal(0);
    needKernel(this);
    expect(runKernel(mod, 'prog', pkt).maps).to.deep.equal(interp.maps);
  });
});
