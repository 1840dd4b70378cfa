/**
 * bpf.snprintf: formats into a CStr as the kernel's bpf_snprintf. The same
 * module runs in the kernel (BPF_PROG_TEST_RUN) and in the interpreter, and
 * the two leave the same bytes; the texts are also checked against C's
 * printf rules written out by hand. Formats the kernel would refuse are
 * refused at compile time with their place.
 */
import { expect } from 'chai';
import { parseBprintfFormat } from '../../src/asm/bprintf-format.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, diagnosticsOf, interpSequence, kernelSequence, packet } from './support/harness.js';

const source = `
import { arrayMap, bpf, u64, xdp, XdpAction, type CStr, type i64 } from 'tsbpf/dsl';
export interface Line { text: CStr<48>; n: i64 }
export interface Short { text: CStr<8>; n: i64 }
export const lines = arrayMap<Line>({ maxEntries: 4 });
export const short = arrayMap<Short>({ maxEntries: 1 });
export const p = xdp((ctx) => {
  const len = ctx.packet.length;
  const a = lines.lookup(0);
  const b = lines.lookup(1);
  const c = lines.lookup(2);
  const d = lines.lookup(3);
  const s = short.lookup(0);
  if (a === null || b === null || c === null || d === null || s === null) return XdpAction.ABORTED;
  a.n = bpf.snprintf(a.text, '%d|%5d|%-5d|%05d|%+d|% d', 0 - len, len, len, 0 - len, 7, 7);
  const big = u64(0x1_0000_0001n);
  b.n = bpf.snprintf(b.text, '%u %x %X %lu %llx %i', 0xffffffff, 255, 255, big, big, -3);
  let name!: CStr<8>;
  name[0] = 104;
  name[1] = 105;
  name[2] = 0;
  c.n = bpf.snprintf(c.text, '%s/%c/%%/%6s|%-4s|', name, 65, name, name);
  d.n = bpf.snprintf(d.text, 'no values');
  s.n = bpf.snprintf(s.text, 'abcdefghijkl=%d', len);
  return XdpAction.PASS;
});
`;

/** A CStr field's text and the i64 after it, from a map value's hex. */
function line(hex: string, size: number): { text: string; n: number } {
  const b = Buffer.from(hex, 'hex');
  const nul = b.indexOf(0);
  return { text: b.subarray(0, nul < 0 || nul > size ? size : nul).toString('latin1'), n: Number(b.readBigInt64LE(Math.ceil(size / 8) * 8)) };
}

const key = (i: number) => Buffer.from(new Uint32Array([i]).buffer).toString('hex');

describe('dsl bpf.snprintf', function () {
  const frame = packet({ payload: Array(18).fill(0) }); // 60 bytes
  const expected = [
    '-60|   60|60   |-0060|+7| 7',
    '4294967295 ff FF 4294967297 100000001 -3',
    'hi/A/%/    hi|hi  |',
    'no values',
  ];

  it('the interpreter formats as C printf does, with the length and its NUL, cut to the CStr', () => {
    const r = interpSequence(compileSource(source), 'p', [frame]);
    expected.forEach((text, i) => expect(line(r.maps.lines![key(i)]!, 48), `line ${i}`).to.deep.equal({ text, n: text.length + 1 }));
    expect(line(r.maps.short![key(0)]!, 8)).to.deep.equal({ text: 'abcdefg', n: 'abcdefghijkl=60'.length + 1 });
  });

  it('the kernel leaves the same bytes as the interpreter', function () {
    needKernel(this);
    const mod = compileSource(source);
    const kernel = kernelSequence(mod, 'p', [frame]);
    expect(kernel).to.deep.equal(interpSequence(mod, 'p', [frame]));
    expect(line(kernel.maps.lines![key(2)]!, 48).text).to.equal(expected[2]);
  });

  it('one .rodata string per distinct format, hidden from the module globals', () => {
    const mod = compileSource(source);
    const rodata = mod.data.find((d) => d.name === '.rodata')!;
    expect(rodata.variables.map((v) => v.name)).to.deep.equal(['__tsbpf_fmt_0', '__tsbpf_fmt_1', '__tsbpf_fmt_2', '__tsbpf_fmt_3', '__tsbpf_fmt_4']);
  });

  it('formats the kernel refuses are compile errors at the format or the value', () => {
    const at = (body: string) => diagnosticsOf(`
import { arrayMap, bpf, xdp, type CStr, type i64 } from 'tsbpf/dsl';
export interface Line { text: CStr<16>; n: i64 }
export const lines = arrayMap<Line>({ maxEntries: 1 });
export const p = xdp(() => {
  const a = lines.lookup(0);
  if (a === null) return 2;
  ${body}
  return 2;
});
`).map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`);
    expect(at("a.n = bpf.snprintf(a.text, '%5.2d', 1);")[0]).to.match(/^TSBPF_SNPRINTF 8:30 the kernel refuses this format: '%5\.' at 0/);
    expect(at("a.n = bpf.snprintf(a.text, '%p', 1);")[0]).to.match(/^TSBPF_SNPRINTF 8:30 .*'%p'/);
    expect(at("a.n = bpf.snprintf(a.text, '%d %d', 1);")[0]).to.match(/^TSBPF_SNPRINTF 8:30 the format has 2 conversions and 1 value follows/);
    expect(at("a.n = bpf.snprintf(a.text, '%d', 1, 2);")[0]).to.match(/^TSBPF_SNPRINTF 8:39 the format has 1 conversion and 2 values follow/);
    expect(at("a.n = bpf.snprintf(a.text, '%s', 1);")[0]).to.match(/^TSBPF_SNPRINTF 8:36 %s takes a CStr/);
    expect(at("a.n = bpf.snprintf(a.text, '%d', a.text);")[0]).to.match(/^TSBPF_SNPRINTF 8:36 a CStr goes with %s, not %d/);
    expect(at("const f = '%d';\n  a.n = bpf.snprintf(a.text, f, 1);")).to.include('TSBPF_SNPRINTF 9:30 bpf.snprintf needs a string literal format');
    expect(at("a.n = bpf.snprintf(a.n, 'x');").some((d) => d.startsWith('TSBPF_SNPRINTF 8:22 bpf.snprintf writes into a CStr'))).to.equal(true);
    expect(at(`a.n = bpf.snprintf(a.text, '${'%d'.repeat(13)}', ${Array(13).fill(1).join(', ')});`)[0]).to.match(/^TSBPF_SNPRINTF 8:\d+ bpf.snprintf takes at most 12 values/);
  });

  it('parses formats as bpf_bprintf_prepare: flags and width, l and ll, %%; no precision, no %p, printable ASCII only', () => {
    expect(parseBprintfFormat('%-08lld %%%s %c %X')).to.deep.equal({ specs: [
      { flags: '-0', width: 8, bits: 64, conv: 'd' }, { flags: '', width: 0, bits: 64, conv: 's' }, { flags: '', width: 0, bits: 64, conv: 'c' }, { flags: '', width: 0, bits: 32, conv: 'X' },
    ] });
    expect(parseBprintfFormat('%.3d')).to.have.property('error');
    expect(parseBprintfFormat('%p')).to.have.property('error');
    expect(parseBprintfFormat('%f')).to.have.property('error');
    expect(parseBprintfFormat('tab\tok')).to.deep.equal({ specs: [] });
    expect(parseBprintfFormat('\u0001')).to.have.property('error');
  });
});
