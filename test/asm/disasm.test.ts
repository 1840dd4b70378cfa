import { expect } from 'chai';
import { AsmError, assemble, disassemble, encode, formatInstruction, type Instruction, wideLoad } from '../../src/asm/index.js';

const i = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction => ({ opcode, dst, src, off, imm });

/**
 * Every opcode form with its text. Texts LLVM 14 prints are checked against
 * llvm-objdump by the differential test; the others use newer LLVM's
 * spellings or ours (see src/asm/disasm.ts).
 */
const TABLE: Array<[Instruction, string]> = [
  // ALU64, immediate and register
  [i(0x07, 1, 0, 0, 5), 'r1 += 5'],
  [i(0x0f, 1, 2), 'r1 += r2'],
  [i(0x17, 1, 0, 0, -5), 'r1 -= -5'],
  [i(0x1f, 1, 2), 'r1 -= r2'],
  [i(0x27, 1, 0, 0, 3), 'r1 *= 3'],
  [i(0x2f, 1, 2), 'r1 *= r2'],
  [i(0x37, 1, 0, 0, 3), 'r1 /= 3'],
  [i(0x3f, 1, 2), 'r1 /= r2'],
  [i(0x37, 1, 0, 1, 3), 'r1 s/= 3'],
  [i(0x3f, 1, 2, 1), 'r1 s/= r2'],
  [i(0x47, 1, 0, 0, 255), 'r1 |= 255'],
  [i(0x4f, 1, 2), 'r1 |= r2'],
  [i(0x57, 1, 0, 0, 255), 'r1 &= 255'],
  [i(0x5f, 1, 2), 'r1 &= r2'],
  [i(0x67, 1, 0, 0, 63), 'r1 <<= 63'],
  [i(0x6f, 1, 2), 'r1 <<= r2'],
  [i(0x77, 1, 0, 0, 32), 'r1 >>= 32'],
  [i(0x7f, 1, 2), 'r1 >>= r2'],
  [i(0x87, 1), 'r1 = -r1'],
  [i(0x97, 1, 0, 0, 7), 'r1 %= 7'],
  [i(0x9f, 1, 2), 'r1 %= r2'],
  [i(0x97, 1, 0, 1, 7), 'r1 s%= 7'],
  [i(0x9f, 1, 2, 1), 'r1 s%= r2'],
  [i(0xa7, 1, 0, 0, 0), 'r1 ^= 0'],
  [i(0xaf, 1, 2), 'r1 ^= r2'],
  [i(0xb7, 1, 0, 0, -1), 'r1 = -1'],
  [i(0xbf, 1, 2), 'r1 = r2'],
  [i(0xbf, 1, 2, 8), 'r1 = (s8)r2'],
  [i(0xbf, 1, 2, 16), 'r1 = (s16)r2'],
  [i(0xbf, 1, 2, 32), 'r1 = (s32)r2'],
  [i(0xbf, 1, 2, 1, 0x10000), 'r1 = addr_space_cast(r2, 1, 0)'],
  [i(0xc7, 1, 0, 0, 64), 'r1 s>>= 64'],
  [i(0xcf, 10, 0), 'r10 s>>= r0'],
  [i(0xd7, 1, 0, 0, 16), 'r1 = bswap16 r1'],
  [i(0xd7, 1, 0, 0, 32), 'r1 = bswap32 r1'],
  [i(0xd7, 1, 0, 0, 64), 'r1 = bswap64 r1'],
  // ALU (32-bit)
  [i(0x04, 1, 0, 0, 5), 'w1 += 5'],
  [i(0x0c, 1, 2), 'w1 += w2'],
  [i(0x14, 1, 0, 0, 5), 'w1 -= 5'],
  [i(0x1c, 1, 2), 'w1 -= w2'],
  [i(0x24, 1, 0, 0, 5), 'w1 *= 5'],
  [i(0x2c, 1, 2), 'w1 *= w2'],
  [i(0x34, 1, 0, 0, 5), 'w1 /= 5'],
  [i(0x3c, 1, 2), 'w1 /= w2'],
  [i(0x34, 1, 0, 1, 5), 'w1 s/= 5'],
  [i(0x3c, 1, 2, 1), 'w1 s/= w2'],
  [i(0x44, 1, 0, 0, 5), 'w1 |= 5'],
  [i(0x4c, 1, 2), 'w1 |= w2'],
  [i(0x54, 1, 0, 0, 5), 'w1 &= 5'],
  [i(0x5c, 1, 2), 'w1 &= w2'],
  [i(0x64, 1, 0, 0, 5), 'w1 <<= 5'],
  [i(0x6c, 1, 2), 'w1 <<= w2'],
  [i(0x74, 1, 0, 0, 5), 'w1 >>= 5'],
  [i(0x7c, 1, 2), 'w1 >>= w2'],
  [i(0x84, 1), 'w1 = -w1'],
  [i(0x94, 1, 0, 0, 5), 'w1 %= 5'],
  [i(0x9c, 1, 2), 'w1 %= w2'],
  [i(0x94, 1, 0, 1, 5), 'w1 s%= 5'],
  [i(0x9c, 1, 2, 1), 'w1 s%= w2'],
  [i(0xa4, 1, 0, 0, 5), 'w1 ^= 5'],
  [i(0xac, 1, 2), 'w1 ^= w2'],
  [i(0xb4, 1, 0, 0, 2147483647), 'w1 = 2147483647'],
  [i(0xbc, 1, 2), 'w1 = w2'],
  [i(0xbc, 1, 2, 8), 'w1 = (s8)w2'],
  [i(0xbc, 1, 2, 16), 'w1 = (s16)w2'],
  [i(0xc4, 1, 0, 0, 5), 'w1 s>>= 5'],
  [i(0xcc, 1, 2), 'w1 s>>= w2'],
  [i(0xd4, 1, 0, 0, 16), 'r1 = le16 r1'],
  [i(0xd4, 1, 0, 0, 32), 'r1 = le32 r1'],
  [i(0xd4, 1, 0, 0, 64), 'r1 = le64 r1'],
  [i(0xdc, 1, 0, 0, 16), 'r1 = be16 r1'],
  [i(0xdc, 1, 0, 0, 32), 'r1 = be32 r1'],
  [i(0xdc, 1, 0, 0, 64), 'r1 = be64 r1'],
  // JMP
  [i(0x05, 0, 0, 3), 'goto +3'],
  [i(0x05, 0, 0, -32768), 'goto -32768'],
  [i(0x06, 0, 0, 0, 100000), 'gotol +100000'],
  [i(0x06, 0, 0, 0, -1), 'gotol -1'],
  [i(0x15, 1, 0, 2, 5), 'if r1 == 5 goto +2'],
  [i(0x1d, 1, 2, -3), 'if r1 == r2 goto -3'],
  [i(0x25, 1, 0, 0, 64), 'if r1 > 64 goto +0'],
  [i(0x2d, 1, 2, 1), 'if r1 > r2 goto +1'],
  [i(0x35, 2, 0, 1, -1), 'if r2 >= -1 goto +1'],
  [i(0x3d, 2, 3, 1), 'if r2 >= r3 goto +1'],
  [i(0x45, 1, 0, 1, 8), 'if r1 & 8 goto +1'],
  [i(0x4d, 1, 2, 1), 'if r1 & r2 goto +1'],
  [i(0x55, 3, 0, 1, -1), 'if r3 != -1 goto +1'],
  [i(0x5d, 3, 4, 1), 'if r3 != r4 goto +1'],
  [i(0x65, 4, 0, 1, 1), 'if r4 s> 1 goto +1'],
  [i(0x6d, 4, 5, 1), 'if r4 s> r5 goto +1'],
  [i(0x75, 5, 0, 1, 1), 'if r5 s>= 1 goto +1'],
  [i(0x7d, 5, 6, 1), 'if r5 s>= r6 goto +1'],
  [i(0xa5, 6, 0, 1, 255), 'if r6 < 255 goto +1'],
  [i(0xad, 6, 7, 1), 'if r6 < r7 goto +1'],
  [i(0xb5, 7, 0, 1, 65535), 'if r7 <= 65535 goto +1'],
  [i(0xbd, 7, 8, 1), 'if r7 <= r8 goto +1'],
  [i(0xc5, 8, 0, 1, 0), 'if r8 s< 0 goto +1'],
  [i(0xcd, 8, 9, 1), 'if r8 s< r9 goto +1'],
  [i(0xd5, 9, 0, 1, -1), 'if r9 s<= -1 goto +1'],
  [i(0xdd, 9, 10, 1), 'if r9 s<= r10 goto +1'],
  [i(0x85, 0, 0, 0, 1), 'call 1'],
  [i(0x85, 0, 1, 0, -1), 'call -1'],
  [i(0x85, 0, 1, 0, 4), 'call +4'],
  [i(0x85, 0, 2, 0, 1234), 'call kfunc(1234)'],
  [i(0x85, 0, 2, 3, 1234), 'call kfunc(1234, 3)'],
  [i(0x8d, 1), 'callx r1'],
  [i(0x95), 'exit'],
  [i(0xe5, 0, 0, 7), 'may_goto +7'],
  // JMP32
  [i(0x16, 1, 0, 1, 5), 'if w1 == 5 goto +1'],
  [i(0x1e, 1, 2, 1), 'if w1 == w2 goto +1'],
  [i(0x26, 1, 0, 1, 5), 'if w1 > 5 goto +1'],
  [i(0x2e, 1, 2, 1), 'if w1 > w2 goto +1'],
  [i(0x36, 1, 0, 1, 5), 'if w1 >= 5 goto +1'],
  [i(0x3e, 1, 2, 1), 'if w1 >= w2 goto +1'],
  [i(0x46, 1, 0, 1, 5), 'if w1 & 5 goto +1'],
  [i(0x4e, 1, 2, 1), 'if w1 & w2 goto +1'],
  [i(0x56, 1, 0, 1, 5), 'if w1 != 5 goto +1'],
  [i(0x5e, 1, 2, 1), 'if w1 != w2 goto +1'],
  [i(0x66, 1, 0, 1, 5), 'if w1 s> 5 goto +1'],
  [i(0x6e, 1, 2, 1), 'if w1 s> w2 goto +1'],
  [i(0x76, 1, 0, 1, 5), 'if w1 s>= 5 goto +1'],
  [i(0x7e, 1, 2, 1), 'if w1 s>= w2 goto +1'],
  [i(0xa6, 1, 0, 1, 5), 'if w1 < 5 goto +1'],
  [i(0xae, 1, 2, 1), 'if w1 < w2 goto +1'],
  [i(0xb6, 1, 0, 1, 5), 'if w1 <= 5 goto +1'],
  [i(0xbe, 1, 2, 1), 'if w1 <= w2 goto +1'],
  [i(0xc6, 1, 0, 1, 5), 'if w1 s< 5 goto +1'],
  [i(0xce, 1, 2, 1), 'if w1 s< w2 goto +1'],
  [i(0xd6, 1, 0, 1, 5), 'if w1 s<= 5 goto +1'],
  [i(0xde, 1, 2, 1), 'if w1 s<= w2 goto +1'],
  // LD: lddw and its pseudo kinds, legacy packet loads
  [wideLoad(1, 0x1234), 'r1 = 4660 ll'],
  [wideLoad(9, 0xffffffffn), 'r9 = 4294967295 ll'],
  [wideLoad(1, -1), 'r1 = -1 ll'],
  [wideLoad(1, 0x8000000000000000n), 'r1 = -9223372036854775808 ll'],
  [wideLoad(1, 5, 1), 'r1 = map_fd(5) ll'],
  [wideLoad(1, (8n << 32n) | 5n, 2), 'r1 = map_value(5, 8) ll'],
  [wideLoad(1, 77, 3), 'r1 = btf_id(77) ll'],
  [wideLoad(1, 3, 4), 'r1 = func(3) ll'],
  [wideLoad(1, 0, 5), 'r1 = map_idx(0) ll'],
  [wideLoad(1, 16n << 32n, 6), 'r1 = map_idx_value(0, 16) ll'],
  [i(0x20, 0, 0, 0, 4), 'r0 = *(u32 *)skb[4]'],
  [i(0x28, 0, 0, 0, 2), 'r0 = *(u16 *)skb[2]'],
  [i(0x30, 0, 0, 0, 0), 'r0 = *(u8 *)skb[0]'],
  [i(0x40, 0, 2), 'r0 = *(u32 *)skb[r2]'],
  [i(0x48, 0, 1), 'r0 = *(u16 *)skb[r1]'],
  [i(0x50, 0, 3, 0, 14), 'r0 = *(u8 *)skb[r3 + 14]'],
  [i(0x50, 0, 3, 0, -2), 'r0 = *(u8 *)skb[r3 - 2]'],
  // LDX
  [i(0x61, 7, 2, 16), 'w7 = *(u32 *)(r2 + 16)'],
  [i(0x69, 6, 1, 8), 'w6 = *(u16 *)(r1 + 8)'],
  [i(0x71, 5, 0, 0), 'w5 = *(u8 *)(r0 + 0)'],
  [i(0x79, 8, 3, -30), 'r8 = *(u64 *)(r3 - 30)'],
  [i(0x81, 1, 2, 4), 'r1 = *(s32 *)(r2 + 4)'],
  [i(0x89, 1, 2, 4), 'r1 = *(s16 *)(r2 + 4)'],
  [i(0x91, 1, 2, 3), 'r1 = *(s8 *)(r2 + 3)'],
  // ST
  [i(0x62, 1, 0, 0, 5), '*(u32 *)(r1 + 0) = 5'],
  [i(0x6a, 1, 0, 2, -1), '*(u16 *)(r1 + 2) = -1'],
  [i(0x72, 1, 0, -1, 7), '*(u8 *)(r1 - 1) = 7'],
  [i(0x7a, 10, 0, -8, 0), '*(u64 *)(r10 - 8) = 0'],
  // STX
  [i(0x63, 2, 9, 16), '*(u32 *)(r2 + 16) = w9'],
  [i(0x6b, 1, 8, 8), '*(u16 *)(r1 + 8) = w8'],
  [i(0x73, 0, 7, 0), '*(u8 *)(r0 + 0) = w7'],
  [i(0x7b, 3, 10, -30), '*(u64 *)(r3 - 30) = r10'],
  // atomics
  [i(0xc3, 1, 2, 0, 0x00), 'lock *(u32 *)(r1 + 0) += w2'],
  [i(0xc3, 1, 2, 0, 0x40), 'lock *(u32 *)(r1 + 0) |= w2'],
  [i(0xc3, 1, 2, 0, 0x50), 'lock *(u32 *)(r1 + 0) &= w2'],
  [i(0xc3, 1, 2, 0, 0xa0), 'lock *(u32 *)(r1 + 0) ^= w2'],
  [i(0xc3, 1, 2, 4, 0x01), 'w2 = atomic_fetch_add((u32 *)(r1 + 4), w2)'],
  [i(0xc3, 1, 2, 4, 0x41), 'w2 = atomic_fetch_or((u32 *)(r1 + 4), w2)'],
  [i(0xc3, 1, 2, 4, 0x51), 'w2 = atomic_fetch_and((u32 *)(r1 + 4), w2)'],
  [i(0xc3, 1, 2, 4, 0xa1), 'w2 = atomic_fetch_xor((u32 *)(r1 + 4), w2)'],
  [i(0xc3, 1, 2, 0, 0xe1), 'w2 = xchg32_32(r1 + 0, w2)'],
  [i(0xc3, 1, 2, 0, 0xf1), 'w0 = cmpxchg32_32(r1 + 0, w0, w2)'],
  [i(0xdb, 1, 2, -8, 0x00), 'lock *(u64 *)(r1 - 8) += r2'],
  [i(0xdb, 1, 2, 0, 0x40), 'lock *(u64 *)(r1 + 0) |= r2'],
  [i(0xdb, 1, 2, 0, 0x50), 'lock *(u64 *)(r1 + 0) &= r2'],
  [i(0xdb, 1, 2, 0, 0xa0), 'lock *(u64 *)(r1 + 0) ^= r2'],
  [i(0xdb, 1, 2, 0, 0x01), 'r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)'],
  [i(0xdb, 1, 2, 0, 0x41), 'r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)'],
  [i(0xdb, 1, 2, 0, 0x51), 'r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)'],
  [i(0xdb, 1, 2, 0, 0xa1), 'r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)'],
  [i(0xdb, 1, 2, 0, 0xe1), 'r2 = xchg_64(r1 + 0, r2)'],
  [i(0xdb, 1, 2, 0, 0xf1), 'r0 = cmpxchg_64(r1 + 0, r0, r2)'],
  [i(0xd3, 2, 1, 0, 0x100), 'w1 = load_acquire((u8 *)(r2 + 0))'],
  [i(0xdb, 2, 1, 8, 0x100), 'r1 = load_acquire((u64 *)(r2 + 8))'],
  [i(0xcb, 1, 2, 0, 0x110), 'store_release((u16 *)(r1 + 0), w2)'],
  [i(0xdb, 1, 2, 0, 0x110), 'store_release((u64 *)(r1 + 0), r2)'],
];

describe('asm/disasm', () => {
  it('prints every opcode form (table) and assembles each text back to the same bytes', () => {
    for (const [ins, text] of TABLE) {
      const bytes = encode([ins]);
      expect(disassemble(bytes), text).to.deep.equal([text]);
      expect(formatInstruction(ins), text).to.equal(text);
      expect(assemble(text).bytes, text).to.deep.equal(bytes);
    }
  });

  it('covers every valid opcode byte', () => {
    const covered = new Set(TABLE.map(([ins]) => ins.opcode));
    // Every opcode our validity rules accept for some field values must be in the table.
    const missing: string[] = [];
    for (let op = 0; op < 256; op++) {
      if (covered.has(op)) continue;
      for (const [src, off, imm] of [[0, 0, 0], [1, 0, 0], [0, 0, 16], [0, 1, 0], [0, 0, 1], [0, 0, 0x100], [0, 0, 0xe1]] as const) {
        try {
          disassemble(encode([i(op, 1, src, off, imm)]));
          missing.push(`0x${op.toString(16)}`);
          break;
        } catch {
          // not valid with these fields
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('rejects invalid or truncated bytecode with a typed error naming the slot', () => {
    const bad: Array<[Uint8Array, number, string]> = [
      [new Uint8Array(12), 1, 'E_TRUNCATED'],
      [encode([i(0x95), i(0xff)]), 1, 'E_INVALID_INSTRUCTION'],
      [encode([i(0x95), i(0x95), i(0xbf, 1, 2, 0, 7)]), 2, 'E_INVALID_INSTRUCTION'], // mov with imm
      [encode([i(0xb7, 11, 0, 0, 1)]), 0, 'E_INVALID_INSTRUCTION'], // r11
      [encode([i(0x87, 1, 0, 0, 0), i(0x8f, 1)]), 1, 'E_INVALID_INSTRUCTION'], // neg X
      [encode([i(0xdb, 1, 2, 0, 0x02)]), 0, 'E_INVALID_INSTRUCTION'], // atomic op 2
      [encode([i(0x95), wideLoad(1, 1, 7)]), 1, 'E_INVALID_INSTRUCTION'], // lddw kind 7
      [encode([i(0x86)]), 0, 'E_INVALID_INSTRUCTION'], // call in JMP32
      [encode([i(0x85, 0, 0, 0, -1)]), 0, 'E_INVALID_INSTRUCTION'], // negative helper id
      [new Uint8Array([0x18, 1, 0, 0, 0, 0, 0, 0]), 0, 'E_TRUNCATED'], // lddw without second slot
      [new Uint8Array([0x18, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]), 1, 'E_INVALID_INSTRUCTION'],
    ];
    for (const [bytes, slot, code] of bad) {
      let err: unknown;
      try {
        disassemble(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, Buffer.from(bytes).toString('hex')).to.be.instanceOf(AsmError);
      expect((err as AsmError).code).to.equal(code);
      expect((err as AsmError).slot).to.equal(slot);
    }
  });

  it('prints like llvm-objdump when not strict: unused fields ignored, <unknown> for unknown opcodes', () => {
    expect(disassemble(encode([i(0xbf, 1, 2, 0, 7), i(0xff), i(0x95)]), { strict: false })).to.deep.equal(['r1 = r2', '<unknown>', 'exit']);
    expect(disassemble(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0, 0x18]), { strict: false })).to.deep.equal(['exit']);
  });
});
