import { expect } from 'chai';
import fc from 'fast-check';
import { encode } from '../../src/asm/codec.js';
import { type Instruction, wideLoad } from '../../src/asm/instruction.js';
import { PseudoLoad } from '../../src/asm/opcodes.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import {
  ArrayMap,
  HashMap,
  HelperId,
  InterpError,
  type InterpErrorCode,
  type Helper,
  type RunOptions,
  createMap,
  decodeProgram,
  run,
  runSync,
} from '../../src/interp/index.js';
import { thrownBy } from '../support/thrown.js';

const asm = (text: string, ...extra: Instruction[]): Uint8Array => encode([...extra, ...parseUbpf(text)]);
const r0 = (text: string, options?: RunOptions) => runSync(asm(text), options).r0;

function fails(bytes: Uint8Array, code: InterpErrorCode, options?: RunOptions): InterpError {
  const e = thrownBy(() => runSync(bytes, options), InterpError, code);
  expect(e.code, e.message).to.equal(code);
  return e;
}

describe('interp', () => {
  it('run resolves to r0 and the final registers', async () => {
    const result = await run(asm('mov %r0, 7\nmov %r6, 3\nexit'));
    expect(result.r0).to.equal(7n);
    expect(result.registers[6]).to.equal(3n);
    expect(result.instructions).to.equal(3);
  });

  it('passes mem in r1/r2 and lets the program write it', () => {
    const mem = new Uint8Array([1, 2, 3, 4]);
    expect(r0('mov %r0, %r2\nstb [%r1+3], 0x99\nexit', { mem })).to.equal(4n);
    expect(Array.from(mem)).to.deep.equal([1, 2, 3, 0x99]);
  });

  it('a decoded program runs many times', () => {
    const program = decodeProgram(asm('ldxb %r0, [%r1]\nexit'));
    expect(runSync(program, { mem: new Uint8Array([5]) }).r0).to.equal(5n);
    expect(runSync(program, { mem: new Uint8Array([9]) }).r0).to.equal(9n);
  });

  describe('memory safety', () => {
    it('has a 512-byte stack below r10', () => {
      expect(r0('stdw [%r10-512], 42\nldxdw %r0, [%r10-512]\nexit')).to.equal(42n);
      const above = fails(asm('mov %r0, 0\nldxw %r0, [%r10+0]\nexit'), 'E_OUT_OF_BOUNDS');
      expect(above.pc).to.equal(1);
      expect(above.message).to.match(/^pc 1: read of 4 bytes at stack\+512/);
      fails(asm('stb [%r10-513], 1\nexit'), 'E_OUT_OF_BOUNDS');
    });
    it('rejects null and wild pointers, and accesses straddling the end of mem', () => {
      fails(asm('mov %r1, 0\nldxb %r0, [%r1]\nexit'), 'E_OUT_OF_BOUNDS');
      fails(asm('lddw %r1, 0xffffffffffffffff\nstxdw [%r1], %r1\nexit'), 'E_OUT_OF_BOUNDS');
      fails(asm('ldxw %r0, [%r1+2]\nexit'), 'E_OUT_OF_BOUNDS', { mem: new Uint8Array(5) });
      fails(asm('ldxb %r0, [%r1-1]\nexit'), 'E_OUT_OF_BOUNDS', { mem: new Uint8Array(5) });
    });
  });

  describe('control flow', () => {
    it('stops a runaway loop at the budget', () => {
      const e = fails(asm('L:\nja L'), 'E_BUDGET', { budget: 5000 });
      expect(e.message).to.contain('5000');
    });
    it('reports running off the end and jumping outside the program', () => {
      fails(asm('mov %r0, 1'), 'E_PC_OUT_OF_RANGE');
      fails(asm('ja +5\nexit'), 'E_PC_OUT_OF_RANGE');
      fails(asm('ja -3\nexit'), 'E_PC_OUT_OF_RANGE');
    });
    it('treats a jump into the second slot of lddw as an invalid instruction', () => {
      fails(asm('ja +1\nlddw %r0, 1\nexit'), 'E_INVALID_INSTRUCTION');
    });
    it('rejects invalid opcodes and field combinations', () => {
      fails(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 'E_INVALID_INSTRUCTION');
      fails(asm('add %r1, 1\nexit').map((b, i) => (i === 1 ? 0x0c : b)), 'E_INVALID_INSTRUCTION'); // dst r12
      fails(new Uint8Array([0x3f, 0x21, 2, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 'E_INVALID_INSTRUCTION'); // div off 2
      fails(new Uint8Array([0xb7, 0x01, 8, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 'E_INVALID_INSTRUCTION'); // movsx from imm
    });
    it('r10 is read-only', () => {
      fails(asm('mov %r10, 0\nexit'), 'E_INVALID_INSTRUCTION');
      fails(asm('ldxdw %r10, [%r10-8]\nexit'), 'E_INVALID_INSTRUCTION');
      fails(asm('lddw %r10, 1\nexit'), 'E_INVALID_INSTRUCTION');
      fails(asm('lock fetch add [%r10-8], %r10\nexit'), 'E_INVALID_INSTRUCTION');
      expect(r0('stxdw [%r10-8], %r10\nmov %r0, 1\nexit')).to.equal(1n);
    });

    it('gives typed decode errors for truncated programs', () => {
      fails(new Uint8Array(12), 'E_DECODE');
      fails(asm('lddw %r0, 1').subarray(0, 8), 'E_DECODE');
    });
    it('bpf-to-bpf calls get a fresh stack and restore r6-r9', () => {
      const text = [
        'stdw [%r10-8], 11',
        'mov %r6, 6',
        'call local f',
        'ldxdw %r1, [%r10-8]',
        'add %r0, %r1',
        'add %r0, %r6',
        'exit',
        'f:',
        'stdw [%r10-8], 1000',
        'mov %r6, 0',
        'ldxdw %r0, [%r10-8]',
        'exit',
      ].join('\n');
      expect(r0(text)).to.equal(1000n + 11n + 6n);
    });
    it('limits call depth to 8 frames', () => {
      const e = fails(asm('f:\ncall local f\nexit'), 'E_CALL_DEPTH');
      expect(e.pc).to.equal(0);
      const seven = ['call local f1', 'exit', ...[1, 2, 3, 4, 5, 6].flatMap((i) => [`f${i}:`, `call local f${i + 1}`, 'exit']), 'f7:', 'mov %r0, 7', 'exit'];
      expect(r0(seven.join('\n'))).to.equal(7n);
    });
    it('ja32 reaches beyond a 16-bit offset', () => {
      const text = `ja32 far\n${'mov %r0, 1\n'.repeat(40000)}far:\nmov %r0, 2\nexit`;
      expect(r0(text)).to.equal(2n);
    });
  });

  describe('program contexts', () => {
    const frame = new Uint8Array(60);
    frame.set([0x08, 0x00], 12); // IPv4 ethertype
    const parseEth = [
      'ldxw %r2, [%r1+0]', // data
      'ldxw %r3, [%r1+4]', // data_end
      'mov %r4, %r2',
      'add %r4, 14',
      'jgt %r4, %r3, short',
      'ldxh %r0, [%r2+12]',
      'stb [%r2+0], 0xee', // packets are writable
      'exit',
      'short:',
      'mov %r0, 1',
      'exit',
    ].join('\n');

    it('xdp: data/data_end are pointers into the packet, which the program may change', () => {
      const packet = frame.slice();
      expect(r0(parseEth, { xdp: { packet } })).to.equal(0x0008n);
      expect(packet[0]).to.equal(0xee);
      expect(r0(parseEth, { xdp: { packet: new Uint8Array(10) } })).to.equal(1n);
      fails(asm('ldxw %r2, [%r1+0]\nldxb %r0, [%r2+60]\nexit'), 'E_OUT_OF_BOUNDS', { xdp: { packet: frame.slice() } });
      fails(asm('stw [%r1+12], 1\nexit'), 'E_READ_ONLY', { xdp: { packet: frame.slice() } });
    });

    it('skb: __sk_buff has len, protocol and data/data_end at the uapi offsets', () => {
      const skbParse = parseEth.replace('[%r1+0]', '[%r1+76]').replace('[%r1+4]', '[%r1+80]');
      expect(r0(skbParse, { skb: { packet: frame.slice() } })).to.equal(0x0008n);
      expect(r0('ldxw %r0, [%r1+0]\nexit', { skb: { packet: frame } })).to.equal(60n);
      expect(r0('ldxw %r0, [%r1+16]\nexit', { skb: { packet: frame } })).to.equal(0x0008n);
      expect(r0('stw [%r1+8], 7\nldxw %r0, [%r1+8]\nexit', { skb: { packet: frame } })).to.equal(7n);
      expect(r0('ldabsh 12\nexit', { skb: { packet: frame } })).to.equal(0x0800n);
    });

    it('skb/xdp load_bytes and store_bytes copy between the packet and program memory', () => {
      const packet = frame.slice();
      const text = [
        'mov %r6, %r1',
        'mov %r2, 12', 'mov %r3, %r10', 'add %r3, -8', 'mov %r4, 2', 'call 26', // skb_load_bytes(skb, 12, fp-8, 2)
        'ldxh %r7, [%r10-8]',
        'sth [%r10-8], 0xbbaa',
        'mov %r1, %r6', 'mov %r2, 0', 'mov %r3, %r10', 'add %r3, -8', 'mov %r4, 2', 'mov %r5, 0', 'call 9', // skb_store_bytes(skb, 0, fp-8, 2, 0)
        'mov %r1, %r6', 'mov %r2, 59', 'mov %r3, %r10', 'add %r3, -8', 'mov %r4, 2', 'call 26', // past the end: -EFAULT
        'mov %r8, %r0',
        'mov %r0, %r7',
        'exit',
      ].join('\n');
      const result = runSync(asm(text), { skb: { packet } });
      expect(result.r0).to.equal(0x0008n);
      expect(Array.from(packet.subarray(0, 2))).to.deep.equal([0xaa, 0xbb]);
      expect(result.registers[8]).to.equal(BigInt.asUintN(64, -14n));
      const xdp = frame.slice();
      expect(r0(text.replace('call 26', 'call 189').replace('call 9', 'call 190'), { xdp: { packet: xdp } })).to.equal(0x0008n);
      expect(xdp[0]).to.equal(0xaa);
    });

    it('xdp_adjust_head/tail resize the packet; data/data_end follow; the result has the new packet', () => {
      const text = [
        'mov %r6, %r1',
        'mov %r2, -4', 'call 44', // grow the head by 4
        'mov %r7, %r0',
        'mov %r1, %r6', 'mov %r2, -2', 'call 65', // shrink the tail by 2
        'ldxw %r2, [%r6+0]', 'ldxw %r3, [%r6+4]',
        'mov %r4, %r2', 'add %r4, 4', 'jgt %r4, %r3, +1',
        'stw [%r2+0], 0x44332211',
        'mov %r0, %r3', 'sub %r0, %r2', // the new length
        'exit',
      ].join('\n');
      const packet = Uint8Array.from({ length: 20 }, (_, i) => i);
      const result = runSync(asm(text), { xdp: { packet } });
      expect(result.registers[7]).to.equal(0n);
      expect(result.r0).to.equal(22n);
      expect(Array.from(result.packet!)).to.deep.equal([0x11, 0x22, 0x33, 0x44, ...Array.from({ length: 18 }, (_, i) => i)]);
      expect(packet[0]).to.equal(0); // the caller's array is the packet before the resize
      // more than the headroom, or below an Ethernet header: -EINVAL
      expect(r0('mov %r2, -257\ncall 44\nexit', { xdp: { packet: new Uint8Array(20) } })).to.equal(BigInt.asUintN(64, -22n));
      expect(r0('mov %r2, 7\ncall 44\nexit', { xdp: { packet: new Uint8Array(20) } })).to.equal(BigInt.asUintN(64, -22n));
      expect(r0('mov %r2, -4\ncall 44\nexit', { skb: { packet: new Uint8Array(20) } })).to.equal(BigInt.asUintN(64, -22n));
    });

    it('ctx: r1 points at the given bytes', () => {
      expect(r0('ldxdw %r0, [%r1+8]\nexit', { ctx: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]) })).to.equal(5n);
      expect(() => runSync(asm('exit'), { ctx: new Uint8Array(1), mem: new Uint8Array(1) })).to.throw(RangeError);
    });
  });

  describe('legacy packet loads', () => {
    const mem = new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a]);
    it('ld_abs and ld_ind load big-endian from the packet', () => {
      expect(r0('ldabsh 1\nexit', { mem })).to.equal(0x3456n);
      expect(r0('ldabsw 0\nexit', { mem })).to.equal(0x12345678n);
      expect(r0('mov %r3, 2\nldindb %r3, 2\nexit', { mem })).to.equal(0x9an);
    });
    it('rejects ld_ind through a register above r10 and ld_abs of 8 bytes', () => {
      fails(new Uint8Array([0x50, 0xb0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 'E_INVALID_INSTRUCTION', { mem });
      fails(new Uint8Array([0x38, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), 'E_INVALID_INSTRUCTION', { mem });
    });
    it('an out-of-bounds packet load ends the program with 0, as in the kernel', () => {
      expect(r0('mov %r0, 5\nldabsw 2\nmov %r0, 9\nexit', { mem })).to.equal(0n);
      expect(r0('mov %r3, -1\nldindb %r3, 0\nmov %r0, 9\nexit', { mem })).to.equal(0n);
    });
  });

  describe('atomics beyond RFC 9669', () => {
    it('load-acquire and store-release', () => {
      const storeRelease = encode([{ opcode: 0xdb, dst: 10, src: 1, off: -8, imm: 0x110 }]);
      const loadAcquire = encode([{ opcode: 0xdb, dst: 0, src: 10, off: -8, imm: 0x100 }]);
      const program = new Uint8Array([...asm('mov %r1, 77'), ...storeRelease, ...loadAcquire, ...asm('exit')]);
      expect(runSync(program).r0).to.equal(77n);
    });
  });

  describe('helpers and maps', () => {
    const mapFd = (dst: number, fd: number) => wideLoad(dst, fd, PseudoLoad.MAP_FD);

    it('array map: lookup, increment through the value pointer, update', () => {
      const counts = new ArrayMap({ valueSize: 8, maxEntries: 4 });
      const text = [
        'stw [%r10-4], 2',
        'mov %r2, %r10',
        'add %r2, -4',
        'call 1', // map_lookup_elem(r1 = map, r2 = &key)
        'jeq %r0, 0, +3',
        'ldxdw %r1, [%r0]',
        'add %r1, 1',
        'stxdw [%r0], %r1',
        'exit',
      ].join('\n');
      const program = asm(text, mapFd(1, 0));
      runSync(program, { maps: [counts] });
      runSync(program, { maps: [counts] });
      expect(new DataView(counts.storage.buffer).getBigUint64(16, true)).to.equal(2n);
    });

    it('a map value pointer is bounds-checked to the value size', () => {
      const m = new ArrayMap({ valueSize: 4, maxEntries: 1 });
      const text = 'stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nldxw %r0, [%r0+2]\nexit';
      const e = fails(asm(text, mapFd(1, 0)), 'E_OUT_OF_BOUNDS', { maps: [m] });
      expect(e.message).to.contain('map value');
    });

    it('hash map: update, lookup, delete with errno results', () => {
      const h = new HashMap({ keySize: 4, valueSize: 8, maxEntries: 1 });
      const text = [
        'stw [%r10-4], 7', // key
        'stdw [%r10-16], 99', // value
        'mov %r6, %r1',
        'mov %r2, %r10',
        'add %r2, -4',
        'mov %r3, %r10',
        'add %r3, -16',
        'mov %r4, 0',
        'call 2', // update -> 0
        'mov %r7, %r0',
        'stw [%r10-4], 8',
        'mov %r1, %r6',
        'mov %r2, %r10',
        'add %r2, -4',
        'mov %r3, %r10',
        'add %r3, -16',
        'mov %r4, 0',
        'call 2', // second key: map is full -> -E2BIG
        'mov %r8, %r0',
        'mov %r1, %r6',
        'mov %r2, %r10',
        'add %r2, -4',
        'call 3', // delete missing key 8 -> -ENOENT
        'lsh %r7, 16',
        'and %r8, 0xff',
        'lsh %r8, 8',
        'and %r0, 0xff',
        'or %r0, %r7',
        'or %r0, %r8',
        'exit',
      ].join('\n');
      const result = runSync(asm(text, mapFd(1, 3)), { maps: new Map([[3, h]]) });
      expect(result.r0).to.equal((0n << 16n) | (BigInt(-7 & 0xff) << 8n) | BigInt(-2 & 0xff));
      expect(h.size).to.equal(1);
      const key = new Uint8Array([7, 0, 0, 0]);
      expect(new DataView(h.lookup(key)!.buffer).getBigUint64(0, true)).to.equal(99n);
    });

    it('lddw of a map value gives a direct pointer at the offset', () => {
      const globals = createMap({ type: 'array', keySize: 4, valueSize: 16, maxEntries: 1 });
      globals.lookup(new Uint8Array(4))!.set([0, 0, 0, 0, 0, 0, 0, 0, 0x2a]);
      const program = asm('ldxb %r0, [%r1]\nexit', wideLoad(1, 0n | (8n << 32n), PseudoLoad.MAP_VALUE));
      expect(runSync(program, { maps: [globals] }).r0).to.equal(0x2an);
    });

    it('an lddw of an unknown map, a non-map pointer, an unknown helper are typed errors', () => {
      fails(asm('exit', mapFd(1, 5)), 'E_UNKNOWN_MAP');
      fails(asm('mov %r2, %r10\ncall 1\nexit'), 'E_HELPER');
      const e = fails(asm('call 9999\nexit'), 'E_UNKNOWN_HELPER');
      expect(e.message).to.contain('9999');
      fails(asm('lddw %r3, 0x100000000\ncall %r3\nexit'), 'E_UNKNOWN_HELPER');
    });

    it('trace_printk formats its arguments and collects lines', () => {
      const fmt = 'v=%d u=%u s=%s %%\n';
      const mem = new TextEncoder().encode(`${fmt}\0hi\0`);
      const lines: string[] = [];
      const text = ['mov %r2, ' + (fmt.length + 1), 'mov %r3, -5', 'mov32 %r4, -1', 'mov %r5, %r1', 'add %r5, ' + (fmt.length + 1), 'call 6', 'exit'].join('\n');
      const result = runSync(asm(text), { mem, onTrace: (l) => lines.push(l) });
      expect(lines).to.deep.equal(['v=-5 u=4294967295 s=hi %']);
      expect(result.trace).to.deep.equal(lines);
      expect(result.r0).to.equal(BigInt(lines[0]!.length + 1));
      const tooMany = asm(text.replace('mov %r2, ' + (fmt.length + 1), 'mov %r2, 64'));
      expect(() => runSync(tooMany, { mem: new TextEncoder().encode('%d %d %d %d\0') })).to.throw(InterpError, /more than 3/);
    });

    it('time, random and cpu helpers are deterministic by default and overridable', () => {
      const text = 'call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit';
      expect(r0(text)).to.equal(1000n);
      expect(r0(text, { now: () => 5n })).to.equal(0n);
      expect(r0('call 7\nexit')).to.equal(r0('call 7\nexit'));
      expect(r0('call 7\nexit', { random: () => 0xdeadbeef })).to.equal(0xdeadbeefn);
      expect(r0('call 8\nexit', { cpu: 3 })).to.equal(3n);
    });

    it('kfuncs are called by BTF id when the run provides them', () => {
      const kfunc = encode([{ opcode: 0x85, dst: 0, src: 2, off: 0, imm: 777 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
      expect(runSync(kfunc, { kfuncs: { 777: () => 9n } }).r0).to.equal(9n);
      expect(() => runSync(kfunc)).to.throw(InterpError, /kfunc with BTF id 777/);
    });

    it('a user helper must return a bigint; the budget must be positive', () => {
      const bad = { 900: (() => 5) as unknown as Helper };
      expect(() => runSync(asm('call 900\nexit'), { helpers: bad })).to.throw(InterpError, /helper 900 returned number/);
      expect(() => runSync(asm('exit'), { budget: 0 })).to.throw(RangeError);
      expect(() => runSync(asm('exit'), { budget: Number.NaN })).to.throw(RangeError);
    });

    it('helpers can be added and replaced; callx calls by the id in a register', () => {
      const helpers = { 1000: (_ctx: unknown, r1: bigint) => r1 * 2n, [HelperId.GET_SMP_PROCESSOR_ID]: () => 42n };
      expect(r0('mov %r1, 21\ncall 1000\nexit', { helpers })).to.equal(42n);
      expect(r0('call 8\nexit', { helpers })).to.equal(42n);
      expect(r0('mov %r1, 5\nmov %r9, 1000\ncall %r9\nexit', { helpers })).to.equal(10n);
    });
  });

  it('random bytes only ever raise InterpError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.uint8Array({ maxLength: 16 }), (bytes, mem) => {
        try {
          runSync(bytes, { mem, budget: 2000 });
        } catch (e) {
          if (!(e instanceof InterpError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random valid-looking instructions only ever raise InterpError', () => {
    const slot = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 11 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: -4, max: 4 }), fc.oneof(fc.integer({ min: -3, max: 70 }), fc.integer()));
    fc.assert(
      fc.property(fc.array(slot, { minLength: 1, maxLength: 12 }), (slots) => {
        const insns = slots.map(([opcode, dst, src, off, imm]) => ({ opcode, dst, src, off, imm }));
        try {
          runSync(encode(insns), { mem: new Uint8Array(8), budget: 2000, maps: [new ArrayMap({ valueSize: 8, maxEntries: 2 })] });
        } catch (e) {
          if (!(e instanceof InterpError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
