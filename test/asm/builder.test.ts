import { expect } from 'chai';
import { AsmError, Builder, disassemble, formatProgram, Helper, helperId, helperName, type Instruction, parseLlvm, PseudoLoad, R0, R1, R2, R10 } from '../../src/asm/index.js';

describe('asm/builder', () => {
  it('builds a map lookup with labels, resolving jumps and leaving the map reference', () => {
    const b = new Builder();
    b.mov64(R0, 0)
      .storeImm('u32', R10, -4, 0)
      .ldMapFd(R1, 'events')
      .mov64Reg(R2, R10)
      .add64(R2, -4)
      .call(Helper.map_lookup_elem)
      .jeq(R0, 0, 'out')
      .ldxw(R0, R0, 0)
      .label('out')
      .exit();
    const insns = b.instructions();
    expect(insns[2]).to.include({ opcode: 0x18, src: PseudoLoad.MAP_FD, reference: 'events' });
    expect(insns[6]!.reference).to.equal(undefined);
    expect(insns[8]!.symbol).to.equal('out');
    expect(disassemble(b.bytes())).to.deep.equal([
      'r0 = 0',
      '*(u32 *)(r10 - 4) = 0',
      'r1 = map_fd(0) ll',
      'r2 = r10',
      'r2 += -4',
      'call 1',
      'if r0 == 0 goto +1',
      'w0 = *(u32 *)(r0 + 0)',
      'exit',
    ]);
  });

  it('resolves local calls and function loads to labels; keeps unknown ones as references', () => {
    const b = new Builder().callLocal('fn').callLocal('elsewhere').ldFunc(R1, 'fn').exit().label('fn').mov64(R0, 1).exit();
    const insns = b.instructions();
    expect(insns[0]).to.include({ src: 1, imm: 4 });
    expect(insns[0]!.reference).to.equal(undefined);
    expect(insns[1]).to.include({ src: 1, imm: -1, reference: 'elsewhere' });
    expect(insns[2]).to.include({ src: PseudoLoad.FUNC, imm: 2 });
    expect(insns[4]!.symbol).to.equal('fn');
  });

  it('emits every family: 32-bit ALU, v4 forms, atomics, packet loads, jumps with offsets', () => {
    const b = new Builder()
      .alu('sdiv', R1, 3)
      .aluReg('smod', R1, R2, false)
      .movsx(R1, R2, 16)
      .bswap(R1, 32)
      .be(R1, 16)
      .neg32(R1)
      .load('s8', R1, R2, 3)
      .atomic('add', 'u64', R1, 0, R2, true)
      .xchg('u32', R1, 0, R2)
      .cmpxchg('u64', R1, 8, R2)
      .ldAbs('u16', 12)
      .ldInd('u8', R2, 4)
      .lddw(R1, 0x1122334455667788n)
      .ldMapValue(R2, '.rodata', 16)
      .jumpReg('jset', R1, R2, 1, false)
      .gotol(-1)
      .callKfunc(1234)
      .callx(R1)
      .call('bpf_ktime_get_ns')
      .exit();
    expect(disassemble(b.bytes())).to.deep.equal([
      'r1 s/= 3',
      'w1 s%= w2',
      'r1 = (s16)r2',
      'r1 = bswap32 r1',
      'r1 = be16 r1',
      'w1 = -w1',
      'r1 = *(s8 *)(r2 + 3)',
      'r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)',
      'w2 = xchg32_32(r1 + 0, w2)',
      'r0 = cmpxchg_64(r1 + 8, r0, r2)',
      'r0 = *(u16 *)skb[12]',
      'r0 = *(u8 *)skb[r2 + 4]',
      'r1 = 1234605616436508552 ll',
      'r2 = map_value(0, 16) ll',
      'if w1 & w2 goto +1',
      'gotol -1',
      'call kfunc(1234)',
      'callx r1',
      'call 5',
      'exit',
    ]);
  });

  it('rejects unknown and duplicate labels, unknown helpers', () => {
    expect(() => new Builder().ja('nowhere').instructions()).to.throw(AsmError, /unknown label/);
    expect(() => new Builder().label('a').exit().label('a')).to.throw(AsmError, /twice/);
    expect(() => new Builder().call('no_such_helper' as never)).to.throw(AsmError, /unknown helper/);
  });

  it('has the whole helper id table', () => {
    expect(Helper.unspec).to.equal(0);
    expect(Helper.map_lookup_elem).to.equal(1);
    expect(Helper.ringbuf_output).to.equal(130);
    expect(Helper.user_ringbuf_drain).to.equal(209);
    expect(Helper.cgrp_storage_delete).to.equal(211);
    expect(Object.keys(Helper)).to.have.length(212);
    expect(helperName(6)).to.equal('trace_printk');
    expect(helperId('bpf_get_current_pid_tgid')).to.equal(14);
  });

  it('prints a program with symbols and references that the LLVM parser reads back to the same instructions', () => {
    const b = new Builder()
      .label('entry')
      .ldMapFd(R1, 'events')
      .ldMapValue(R2, '.rodata', 16)
      .callLocal('helper')
      .callLocal('elsewhere')
      .callKfuncNamed('bpf_obj_new_impl')
      .ldFunc(R1, 'helper')
      .jeq(R0, 0, 'done')
      .mov64(R0, 1)
      .label('done')
      .exit()
      .label('helper')
      .mov64(R0, 2)
      .exit();
    const insns = b.instructions();
    const text = formatProgram(insns);
    expect(text).to.include('\tr1 = map_fd(events) ll');
    expect(text).to.include('\tr2 = map_value(.rodata, 16) ll');
    expect(text).to.include('\tcall elsewhere');
    expect(text).to.include('\tcall kfunc(bpf_obj_new_impl)');
    const strip = (i: Instruction) => ({ ...i, source: undefined });
    expect(parseLlvm(text.join('\n')).map(strip)).to.deep.equal(insns.map(strip));
  });
});
