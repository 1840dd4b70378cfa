/** The committed bpf-tests objects, for tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bpfTestsDir = join(dirname(fileURLToPath(import.meta.url)), '../../bpf-tests');

export function bpfTestObjects(): string[] {
  return readdirSync(bpfTestsDir).filter((f) => f.endsWith('.bpf.o')).sort();
}

export function readBpfTestObject(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(bpfTestsDir, name)));
}

import { encode } from '../../src/asm/codec.js';
import { instruction, wideLoad } from '../../src/asm/instruction.js';
import { R_BPF_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_PROGBITS, STB_GLOBAL, STT_FUNC, STT_OBJECT } from '../../src/elf/constants.js';
import { ElfWriter } from '../../src/elf/writer.js';

/**
 * An object with a legacy SEC("maps") definition (an array of one u32)
 * and an XDP program returning XDP_PASS when its lookup finds the element.
 */
export function legacyMapsObject(): Uint8Array {
  const w = new ElfWriter();
  const code = encode([
    instruction(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
    instruction(0xbf, 2, 10), // r2 = r10
    instruction(0x07, 2, 0, 0, -4), // r2 += -4
    wideLoad(1, 0), // r1 = counters ll
    instruction(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
    instruction(0x15, 0, 0, 2, 0), // if r0 == 0 goto +2
    instruction(0xb7, 0, 0, 0, 2), // r0 = XDP_PASS
    instruction(0x95), // exit
    instruction(0xb7, 0, 0, 0, 1), // r0 = XDP_DROP
    instruction(0x95), // exit
  ]);
  const def = new Uint8Array(20);
  new DataView(def.buffer).setUint32(0, 2, true); // BPF_MAP_TYPE_ARRAY
  new DataView(def.buffer).setUint32(4, 4, true);
  new DataView(def.buffer).setUint32(8, 4, true);
  new DataView(def.buffer).setUint32(12, 1, true);
  const xdp = w.addSection({ name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: code, addralign: 8 });
  const maps = w.addSection({ name: 'maps', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: def, addralign: 4 });
  w.addSection({ name: 'license', type: SHT_PROGBITS, flags: SHF_ALLOC, data: new TextEncoder().encode('GPL\0') });
  w.addSymbol({ name: 'legacy_prog', section: xdp, type: STT_FUNC, binding: STB_GLOBAL, size: code.length });
  const counters = w.addSymbol({ name: 'counters', section: maps, type: STT_OBJECT, binding: STB_GLOBAL, size: 20 });
  w.addRelocation(xdp, { offset: 24, symbol: counters, type: R_BPF_64_64 });
  return w.toBytes();
}
