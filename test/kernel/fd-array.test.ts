import { expect } from 'chai';
import { FdArrayError } from '../../src/kernel/fd-array.js';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { needKernel } from '../support/kernel.js';
import { skipWithout } from '../support/features.js';

/** r0 = *(u32 *)(map_value(fd_array[index]) + 0); exit — through BPF_PSEUDO_MAP_IDX_VALUE. */
function readValueThroughIndex(index: number): Uint8Array {
  const code = new Uint8Array(32);
  const v = new DataView(code.buffer);
  code[0] = 0x18; // lddw r0, map_value(idx)
  code[1] = 6 << 4;
  v.setUint32(4, index >>> 0, true);
  code[16] = 0x61; // r0 = *(u32 *)(r0 + 0)
  code[24] = 0x95; // exit
  return code;
}

/** call kfunc with the BTF fd at fd_array[index] (imm 1: any BTF id; the index check comes first). */
function kfuncCallThroughIndex(index: number): Uint8Array {
  const code = new Uint8Array(24);
  const v = new DataView(code.buffer);
  code[0] = 0x85;
  code[1] = 2 << 4;
  v.setInt16(2, index, true);
  v.setInt32(4, 1, true);
  code[8] = 0xb7; // r0 = 0
  code[16] = 0x95;
  return code;
}

describe('kernel: Program.load fdArray indexes are checked before the kernel reads the array', function () {
  before(function () {
    needKernel(this);
  });

  it('an index inside fdArray binds that map', function () {
    skipWithout(this, 'fd_array');
    using a = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    using b = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    a.update(new Uint8Array(4), new Uint8Array([11, 0, 0, 0]));
    b.update(new Uint8Array(4), new Uint8Array([22, 0, 0, 0]));
    using p = Program.load({ type: 'SOCKET_FILTER', bytes: readValueThroughIndex(1), fdArray: [a.fd, b.fd] });
    expect(p.testRun({ data: new Uint8Array(64) }).retval).to.equal(22);
  });

  it('a map index past the end is a typed error naming the instruction, never a load bound to another map', () => {
    // Open maps whose fds could sit in the memory after a short array.
    const decoys = Array.from({ length: 8 }, () => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 }));
    try {
      using a = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
      for (const index of [1, 2, 3, 64, 4095, 0x7fffffff, 0xffffffff]) {
        expect(() => Program.load({ type: 'SOCKET_FILTER', bytes: readValueThroughIndex(index), fdArray: [a.fd] }), `index ${index}`)
          .to.throw(FdArrayError, new RegExp(`instruction 0: map index ${index} is outside fdArray \\(1 entries, 0\\.\\.0\\)`));
      }
      expect(() => Program.load({ type: 'SOCKET_FILTER', bytes: readValueThroughIndex(0) })).to.throw(FdArrayError, /none given/);
    } finally {
      for (const d of decoys) d.close();
    }
  });

  it('a kfunc call whose BTF fd index is past fdArray is refused the same way; fdArray entries must be fds', () => {
    expect(() => Program.load({ type: 'SOCKET_FILTER', bytes: kfuncCallThroughIndex(3), fdArray: [0, 0] })).to.throw(FdArrayError, /instruction 0: kfunc BTF fd index 3/);
    expect(() => Program.load({ type: 'SOCKET_FILTER', bytes: kfuncCallThroughIndex(-1), fdArray: [0, 0] })).to.throw(FdArrayError, /index -1/);
    expect(() => Program.load({ type: 'SOCKET_FILTER', bytes: readValueThroughIndex(0), fdArray: [-1] })).to.throw(FdArrayError, /fdArray\[0\] is -1/);
  });
});
