/**
 * `--set NAME=VALUE` (tsbpf run and tsbpf load) and setVariable: a value
 * must fit its variable's type, for every integer width and signedness;
 * ill-typed values are refused with a message naming the variable.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { parseGlobalSetting, parseSetting } from '../../src/cli/set-option.js';
import { integerMisfit } from '../../src/elf/variables.js';
import { setVariable } from '../../src/elf/index.js';
import { compileSource } from '../dsl/support/harness.js';
import { bpfTestSpec } from '../kernel/loader-helpers.js';
import { needKernel } from '../support/kernel.js';
import { tsbpf } from '../support/cli.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A port set (rodata array) and a limit (rodata struct) an XDP program reads. */
const RODATA_ARRAY_MODULE = `import { xdp, rodata, XdpAction, type u8, type u16, type u32, type FixedArray } from 'tsbpf/dsl';
export const ports = rodata<FixedArray<u16, 4>>([80]);
export interface Cfg { limit: u32; flags: u8 }
export const cfg = rodata<Cfg>({ limit: 100, flags: 1 });
export const p = xdp((ctx) => (ctx.packet.length > cfg.get().limit && ports.get()[0] !== 0 ? XdpAction.PASS : XdpAction.PASS));
`;

describe('--set values must fit their variable', function () {
  this.timeout(60_000);

  it('every width, signed and unsigned: the bounds are in, one past them is out', () => {
    for (const size of [1, 2, 4, 8]) {
      const bits = BigInt(size * 8);
      const u = (1n << bits) - 1n;
      const s = (1n << (bits - 1n)) - 1n;
      expect(integerMisfit(0n, size, false)).to.equal(undefined);
      expect(integerMisfit(u, size, false)).to.equal(undefined);
      expect(integerMisfit(-1n, size, false)).to.equal(`-1 is out of range for u${size * 8} (0..${u})`);
      expect(integerMisfit(u + 1n, size, false)).to.match(/out of range/);
      expect(integerMisfit(-s - 1n, size, true)).to.equal(undefined);
      expect(integerMisfit(s, size, true)).to.equal(undefined);
      expect(integerMisfit(s + 1n, size, true)).to.equal(`${s + 1n} is out of range for i${size * 8} (${-s - 1n}..${s})`);
      expect(integerMisfit(-s - 2n, size, true)).to.match(/out of range/);
    }
    expect(integerMisfit(2n, 1, false, true)).to.equal('2 is out of range for bool (0..1)');
  });

  it('parseSetting refuses empty and non-integer values', () => {
    for (const bad of ['port=', 'port= ', 'port=1.5', 'port=0x', 'port=abc', 'port=1e3']) {
      expect(() => parseSetting(bad, false), bad).to.throw(/--set port: (no value given|'.*' is not an integer)/);
    }
    expect(parseSetting('port=0x35', false)).to.deep.equal(['port', 0x35n]);
  });

  it('setVariable on a clang object follows the BTF type (u32 multiplier)', () => {
    const spec = bpfTestSpec('global_data.bpf.o');
    expect(() => setVariable(spec, 'multiplier', -1)).to.throw(/variable 'multiplier': -1 is out of range for u32 \(0\.\.4294967295\)/);
    expect(() => setVariable(spec, 'multiplier', 2 ** 32)).to.throw(/out of range for u32/);
    expect(() => setVariable(spec, 'multiplier', 1.5)).to.throw(/1\.5 is not an integer/);
    expect(() => setVariable(spec, 'multiplier', 'x')).to.throw(/is an integer \(u32\), not a string/);
    setVariable(spec, 'multiplier', 0xffffffff);
    setVariable(spec, 'greeting', 'hi');
  });

  it('tsbpf run: rodata of every width is checked against its type before load', function () {
    needKernel(this);
    const mod = compileSource(`
import { xdp, rodata, XdpAction, type u8, type i8, type u16, type i16, type u32, type i32, type u64, type i64 } from 'tsbpf/dsl';
export const a = rodata<u8>(0); export const b = rodata<i8>(0); export const c = rodata<u16>(0); export const d = rodata<i16>(0);
export const e = rodata<u32>(0); export const f = rodata<i32>(0); export const g = rodata<u64>(0); export const h = rodata<i64>(0);
export const p = xdp(() => (a.get() + b.get() + c.get() + d.get() + e.get() + f.get() + g.get() + h.get() > 0 ? XdpAction.PASS : XdpAction.DROP));
`);
    const cases: Array<[string, bigint, RegExp | null]> = [
      ['a', 255n, null], ['a', 256n, /u8 \(0\.\.255\)/], ['a', -1n, /u8/],
      ['b', -128n, null], ['b', 128n, /i8 \(-128\.\.127\)/],
      ['c', 65535n, null], ['c', -1n, /-1 is out of range for u16 \(0\.\.65535\)/],
      ['d', -32768n, null], ['d', 40000n, /i16/],
      ['e', 2n ** 32n - 1n, null], ['e', -1n, /u32/],
      ['f', -(2n ** 31n), null], ['f', 2n ** 31n, /i32/],
      ['g', 2n ** 64n - 1n, null], ['g', -1n, /u64/], ['g', 2n ** 64n, /u64/],
      ['h', -(2n ** 63n), null], ['h', 2n ** 63n, /i64/],
    ];
    for (const [name, value, error] of cases) {
      const load = () => loadCompiledModule(mod, { rodata: { [name]: value } }).close();
      if (error) expect(load, `${name}=${value}`).to.throw(new RegExp(`--set ${name}: .*${error.source}`));
      else expect(load, `${name}=${value}`).to.not.throw();
    }
  });

  it('parseGlobalSetting: a list of integers for an array global', () => {
    expect(parseGlobalSetting('ports=53,5353')).to.deep.equal(['ports', [53n, 5353n]]);
    expect(parseGlobalSetting('ports=53, 0x14e9')).to.deep.equal(['ports', [53n, 5353n]]);
    expect(parseGlobalSetting('cfg.limit=10')).to.deep.equal(['cfg.limit', 10n]);
    expect(() => parseGlobalSetting('ports=53,')).to.throw(/--set ports: no value given/);
    expect(() => parseGlobalSetting('ports=53,x')).to.throw(/--set ports: 'x' is not an integer/);
  });

  it('array and struct globals: a list replaces the array, a path sets a field, and nothing is truncated', function () {
    needKernel(this);
    const mod = compileSource(RODATA_ARRAY_MODULE);
    const ok = (rodata: Record<string, bigint | number | bigint[] | number[]>) => loadCompiledModule(mod, { rodata }).close();
    ok({ ports: [53n, 5353n] });
    ok({ ports: 53n, 'cfg.limit': 10n, 'cfg.flags': 1n });
    const bad: Array<[Record<string, bigint | bigint[]>, RegExp]> = [
      [{ ports: [1n, 2n, 3n, 4n, 5n] }, /--set ports: 5 values, u16\[4\] holds 4/],
      [{ ports: [53n, 70000n] }, /--set ports\[1\]: 70000 is out of range for u16 \(0\.\.65535\)/],
      [{ 'cfg.limit': -1n }, /--set cfg\.limit: -1 is out of range for u32/],
      [{ 'cfg.nope': 1n }, /--set cfg\.nope: Cfg has no field nope \(has: limit, flags\)/],
      [{ cfg: 5n }, /--set cfg: Cfg is a struct: set its fields \(--set cfg\.limit=…\)/],
      [{ 'ports.x': 1n }, /--set ports\.x: u16\[4\] has no fields/],
    ];
    for (const [rodata, error] of bad) expect(() => ok(rodata), JSON.stringify(rodata, (_, v) => (typeof v === 'bigint' ? String(v) : v))).to.throw(error);
  });

  it('tsbpf run --set ports=53,5353 --set cfg.limit=9: the globals as set, printed at exit', function () {
    needKernel(this);
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-diag-set-'));
    try {
      const file = join(dir, 'ports.bpf.ts');
      writeFileSync(file, RODATA_ARRAY_MODULE);
      const r = tsbpf('run', file, '--iface', 'lo', '--set', 'ports=53,5353', '--set', 'cfg.limit=9', '--duration', '1', '--no-cache');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include('@ports: [53, 5353, 0, 0]');
      expect(r.stdout).to.include('@cfg: { limit: 9, flags: 1 }');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tsbpf run --set port=-1 on the u16 of the tc example: exit 2, a clear message', function () {
    needKernel(this);
    const r = tsbpf('run', join(ROOT, 'examples/tc-drop-udp-port.bpf.ts'), '--iface', 'lo', '--set', 'port=-1', '--duration', '1', '--no-cache');
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.include('--set port: -1 is out of range for u16 (0..65535)');
  });
});
