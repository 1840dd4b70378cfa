import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { readElf } from '../../src/elf/reader.js';
import { parseBtf, toTypeScript } from '../../src/btf/index.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const DSL = new URL('../../src/dsl/index.js', import.meta.url).pathname;

/** Type-checks files with the project's compiler settings; returns the diagnostics as text. */
function typeCheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('btf: TypeScript declarations dump', function () {
  let dir: string;
  const checks: string[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-ts-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('declares a clang-built object\'s types with DSL integer types, arrays and pointers', function () {
    const btf = parseBtf(readElf(readFileSync(new URL('./fixtures/layouts.bpf.o', import.meta.url))).section('.BTF')!.data);
    const text = toTypeScript(btf, { dslModule: DSL });
    expect(text).to.include(`from '${DSL}'`);
    expect(text).to.match(/export interface node extends KernelType<'struct node'> \{[^]*next: Ptr<node>;[^]*as_int: i32;[^]*lo: i16;[^]*\/\/ flag_b: bit offset \d+, bitfield: \d+ bits \(bitfields cannot be read from modules yet\)[^]*matrix: FixedArray<FixedArray<i32, 3>, 2>;/);
    expect(text).to.include('bitfield: 3 bits');
    expect(text, 'a bitfield declared as its storage integer would be read whole').to.not.match(/^\s*flag_b:/m);
    expect(text).to.match(/export type big_values = u\d+;\nexport const big_values = \{\n  SMALL: 1,/);
    expect(text).to.include('export const RED = 0;');
    writeFileSync(join(dir, 'layouts.ts'), text);
    writeFileSync(
      join(dir, 'use-layouts.ts'),
      `import type { node, uses_all, Ptr } from './layouts.js';\nimport type { i32, u64 } from '${DSL}';\n` +
        `export function f(n: node, u: uses_all): i32 { const p: Ptr<uses_all> = u.self; void p; const x: u64 = u.e.raw[0]!; void x; return n.as_int + n.matrix[1]![2]!; }\n`,
    );
    checks.push(join(dir, 'use-layouts.ts'));
  });

  it('declares task_struct and what it holds so that CO-RE style access type-checks', function () {
    if (!existsSync(VMLINUX)) this.skip();
    const btf = parseBtf(readFileSync(VMLINUX));
    const text = toTypeScript(btf, { roots: ['task_struct'], dslModule: DSL });
    expect(text).to.match(/export interface task_struct extends KernelType<'struct task_struct'> \{/);
    expect(text).to.match(/\bcomm: CStr<16>;/);
    writeFileSync(join(dir, 'vmlinux.ts'), text);
    writeFileSync(
      join(dir, 'use-task.ts'),
      `import type { task_struct, KernelType } from './vmlinux.js';\nimport type { CStr } from '${DSL}';\n` +
        `export function f(t: task_struct): number { const c: CStr<16> = t.comm; void c; return t.pid + t.tgid + t.thread_info.cpu; }\n` +
        // The C name is recoverable from the type (what the compiler needs for CO-RE).
        `type CName<T> = T extends KernelType<infer N> ? N : never;\nexport const name: CName<task_struct> = 'struct task_struct';\n`,
    );
    checks.push(join(dir, 'use-task.ts'));
  });

  it('the generated declarations type-check where a module uses them', function () {
    expect(checks.length).to.be.greaterThan(0);
    // One program for all files: the checker's start-up dominates.
    expect(typeCheck(checks)).to.deep.equal([]);
  });
});
