/**
 * Sizes no BPF value can have (issue 13 item 6): a `CStr<N>` or array of
 * absurd length must be answered at once, by a coded diagnostic where the
 * type or variable is written, never by laying it out (zero-filling 4 GiB of
 * stack took minutes and gigabytes). Each limit the kernel would enforce
 * later (the 512-byte stack, map keys, per-CPU values, ring-buffer events)
 * is reported the same way.
 */
import { expect } from 'chai';
import { diagnosticsOf } from './support/harness.js';

const HEAD = `import { xdp, tracepoint, hashMap, arrayMap, perCpuArray, ringBuf, bpf, type u8, type u32, type u64, type CStr, type FixedArray, XdpAction } from 'tsbpf/dsl';\n`;

interface Case {
  name: string;
  code: string;
  /** Module text after HEAD; ⟨⟩ marks where the diagnostic must point. */
  source: string;
}

const tp = (body: string) => `export const p = tracepoint('syscalls/sys_enter_execve', () => {\n${body}\nreturn 0;\n});`;

const cases: Case[] = [
  { name: 'CStr<1e6> local', code: 'TSBPF_STACK', source: tp('let ⟨⟩c!: CStr<1000000>;\nc[0] = 1;') },
  { name: 'CStr<2^32> local', code: 'TSBPF_SIZE', source: tp('let c!: ⟨⟩CStr<4294967296>;\nc[0] = 1;') },
  { name: 'CStr<2^53> local', code: 'TSBPF_SIZE', source: tp('let c!: ⟨⟩CStr<9007199254740991>;\nc[0] = 1;') },
  { name: 'FixedArray<u64, 2^30>', code: 'TSBPF_SIZE', source: tp('let a!: ⟨⟩FixedArray<u64, 1073741824>;\na[0] = 1;') },
  { name: 'array of large structs', code: 'TSBPF_SIZE', source: `export interface Big { b: CStr<1048576> }\n${tp('let a!: ⟨⟩FixedArray<Big, 8>;')}` },
  { name: 'struct of many large fields', code: 'TSBPF_SIZE', source: `⟨⟩export interface Big { a: CStr<4000000>; b: CStr<4000000> }\nexport const m = arrayMap<Big>({ maxEntries: 1 });\n${tp('m.lookup(0);')}` },
  { name: 'local one byte over the stack', code: 'TSBPF_STACK', source: tp('let ⟨⟩c!: CStr<513>;\nc[0] = 1;') },
  { name: 'struct literal over the stack', code: 'TSBPF_STACK', source: `export interface Big { a: CStr<600>; n: u64 }\nexport const m = hashMap<u32, Big>({ maxEntries: 1 });\n${tp('m.update(1, ⟨⟩{ n: 1 });')}` },
  { name: 'hash key over the stack', code: 'TSBPF_SIZE', source: `export const m = hashMap<⟨⟩CStr<1024>, u64>({ maxEntries: 1 });\n${tp('')}` },
  { name: 'per-CPU value over 32 KiB', code: 'TSBPF_SIZE', source: `export const m = perCpuArray<⟨⟩CStr<40000>>({ maxEntries: 1 });\n${tp('m.lookup(0);')}` },
  { name: 'ring-buffer event larger than the ring', code: 'TSBPF_SIZE', source: `export const rb = ringBuf<⟨⟩CStr<8192>>({ size: 4096 });\n${tp('')}` },
  { name: 'printk format over the stack', code: 'TSBPF_STACK', source: `export const x = xdp(() => {\nbpf.printk(⟨⟩"${'x'.repeat(600)}");\nreturn XdpAction.PASS;\n});` },
];

function locate(source: string): { text: string; line: number; column: number } {
  const at = source.indexOf('⟨⟩');
  const before = source.slice(0, at);
  return { text: source.replace('⟨⟩', ''), line: before.split('\n').length, column: at - before.lastIndexOf('\n') };
}

describe('dsl: sizes are bounded early, with a positioned diagnostic', function () {
  // Before the fix the 2^32 case ran past 60 s; the bound is on compiling at all, not a timing claim.
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, () => {
      const { text, line, column } = locate(HEAD + c.source);
      const diags = diagnosticsOf(text);
      const hit = diags.find((d) => d.code === c.code);
      expect(hit, `expected ${c.code}; got ${diags.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join(' | ') || 'no diagnostics'}`).to.not.equal(undefined);
      expect({ line: hit!.line, column: hit!.column }).to.deep.equal({ line, column });
      expect(diags.filter((d) => d.code === 'TSBPF_INTERNAL')).to.deep.equal([]);
    });
  }

  it('a 512-byte local still compiles', () => {
    expect(diagnosticsOf(HEAD + tp('let c!: CStr<512>;\nc[0] = 1;'))).to.deep.equal([]);
  });
});
