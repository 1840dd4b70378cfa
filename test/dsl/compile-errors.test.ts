/**
 * Every input to compile() ends as a module or a CompileError whose
 * diagnostics have positions (issue 13 item 7): ts-morph's getters throw on
 * malformed syntax (a module specifier that is not a string), and such an
 * exception used to escape compile() untyped, so the CLI printed no file:line.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSource } from './support/harness.js';
import { CompileError } from '../../src/dsl/compiler/diagnostics.js';
import { CLI_BIN } from '../support/cli.js';

const OK = `export const p = xdp(() => XdpAction.PASS);\n`;
/** Syntax errors in import and export clauses, each with the line:col of the error tsc reports. */
const broken: Array<[string, string]> = [
  [`import { xdp, XdpAction } from 123;\n${OK}`, '1:32'],
  [`import { xdp, XdpAction } from ;\n${OK}`, '1:32'],
  [`import * as from 'tsbpf/dsl';\n${OK}`, '1:18'],
  [`export * from ;\n${OK}`, '1:15'],
  [`import { xdp, XdpAction } from 'tsbpf/dsl';\nexport { q } from;\n${OK}`, '2:18'],
  [`import { xdp, XdpAction } from 'tsbpf/dsl';\nexport { q } from 7n;\n${OK}`, '2:19'],
  [`import { xdp, XdpAction from 'tsbpf/dsl';\n${OK}`, '1:25'],
  [`import { xdp as , XdpAction } from 'tsbpf/dsl';\n${OK}`, '1:17'],
  [`import x = require(;\n${OK}`, '1:20'],
  [`import {} from 'tsbpf/dsl' with {;\n${OK}`, '1:34'],
  // An import cut short (found by npm run fuzz -- compiler): the user-space scan read its missing specifier.
  ['import {', '1:9'],
];

describe('dsl: compile() answers every input with a positioned CompileError', function () {
  for (const [source, at] of broken) {
    it(`${JSON.stringify(source.split('\n')[0] + (source.split('\n')[1]?.startsWith('export {') ? ` / ${source.split('\n')[1]}` : ''))} → ${at}`, () => {
      let thrown: unknown;
      try {
        compileSource(source);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, String(thrown)).to.be.instanceOf(CompileError);
      const diags = (thrown as CompileError).diagnostics;
      expect(diags.map((d) => `${d.line}:${d.column}`)).to.include(at);
      for (const d of diags) {
        expect(d.code).to.match(/^(TSBPF_[A-Z_]+|TS\d+)$/);
        expect(d.code).to.not.equal('TSBPF_INTERNAL', d.message);
        expect(d.line).to.be.greaterThan(0);
        expect(d.column).to.be.greaterThan(0);
      }
    });
  }

  it('an interface that contains itself is TSBPF_TYPE at the interface, not a stack overflow (found by npm run fuzz -- compiler)', () => {
    let thrown: unknown;
    try {
      compileSource(`import { xdp, arrayMap, type u32 } from 'tsbpf/dsl';\nexport interface Pair { a: Pair; b: u32 }\nconst m = arrayMap<Pair>({ maxEntries: 1 });\nexport const p = xdp(() => { const r = m.lookup(0); return r === null ? 0 : 1; });\n`);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(CompileError);
    expect((thrown as CompileError).diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`)).to.include('2:1 TSBPF_TYPE interface Pair contains itself');
  });

  it('a module function whose declaration failed is abandoned in every program that calls it, not lowered on (found by npm run fuzz -- compiler)', () => {
    // The second program's report of the same mistake was dropped as a duplicate, so its incomplete IR reached the optimizer.
    let thrown: unknown;
    try {
      compileSource("import { xdp, tracepoint, hashMap, arrayMap, ringBuf, global, log2Hist, range, bpf, u8, u16, u32, u64, i8, i16, i32, i64, htons, ntohs, XdpAction, type FixedArray, type CStr } from 'tsbpf/dsl';\nexport interface Ev { pid: u32; ts: u64; comm: CStr<16> }\nexport const events = ringBuf<Ev>({ size: 256 * 1024 });\nfunction clampf(v: if): u32 { return v > 1000 ? 1000 : v; }\nexport const p = xdp((ctx) => {\n  { const ev = events.reserve(); if (ev !== null) { ev.pid = u32(clampf(u32((clampf(u32(b)) & (538))))); ev.ts = bpf.ktimeNs();  } }\n});\nexport const t = tracepoint('syscalls/sys_enter_openat', (ctx) => {\n  let a: u32 = 1;\n  let b: u32 = 2;\n  if (a > 5 && (b < 3 || u32((clampf(u32((470))) + (0x10 >= 7 ? i8(a) : u32(ntohs(a))))) === 17)) { return 0; }\n  return 0;\n});\n");
    } catch (e) {
      thrown = e;
    }
    expect(thrown).to.be.instanceOf(CompileError);
    const codes = (thrown as CompileError).diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`);
    expect(codes).to.include('4:20 TSBPF_TYPE');
    expect(codes.filter((c) => c.endsWith('TSBPF_INTERNAL'))).to.deep.equal([]);
  });

  it('the CLI prints file:line:col for a syntax error in an import clause', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-compile-errors-'));
    try {
      const file = join(dir, 'bad.bpf.ts');
      writeFileSync(file, broken[0]![0]);
      const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_BIN, 'build', file, '-o', join(dir, 'bad.o')], {
        encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TSBPF_CACHE_DIR: join(dir, 'cache') },
      });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include(`${file}:1:32: TS1141: String literal expected.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
