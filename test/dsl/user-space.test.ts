/**
 * The user-space half of a module is not the compiler's to type-check: its
 * in-memory project has no Node types, so a helper of main that writes with
 * `process.stdout` or `console.log`, or a table module with a function that
 * reads `process.arch`, failed with TS2591 "install type definitions for
 * node" (syscount's syscall-names.ts did). A function is user space when no
 * program reaches it; one that a program reaches, directly, through another
 * function or through an import, is checked as before.
 */
import { expect } from 'chai';
import { compileSource } from './support/harness.js';
import { CompileError } from '../../src/dsl/compiler/diagnostics.js';

const PROGRAM = `import { tracepoint, type u32 } from 'tsbpf/dsl';\n`;

/** The diagnostics of compiling `source` (with `extra` files beside it), as `line:col CODE`. */
function diagnostics(source: string, extra: Record<string, string> = {}): string[] {
  try {
    compileSource(source, extra);
    return [];
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    return e.diagnostics.map((d) => `${d.file.split('/').pop()}:${d.line}:${d.column} ${d.code}`);
  }
}

describe('dsl: user-space helpers are not type-checked by the compiler', () => {
  it('a helper only main calls may use process, Buffer and console', () => {
    expect(diagnostics(`${PROGRAM}export const p = tracepoint('syscalls/sys_enter_getpgid', () => 0);
function show(x: number): void {
  console.log(x, process.pid, Buffer.from('a'));
}
const line = (x: number): string => \`\${x} \${process.arch}\`;
export async function main(): Promise<void> {
  show(1);
  process.stdout.write(line(2));
}
`)).to.deep.equal([]);
  });

  it('so may a function of an imported file that only main uses', () => {
    expect(diagnostics(`${PROGRAM}import { nameOf } from './names.js';
export const p = tracepoint('syscalls/sys_enter_getpgid', () => 0);
export async function main(): Promise<void> {
  console.log(nameOf(1));
}
`, { 'names.ts': `export function nameOf(n: number): string {\n  return process.arch === 'x64' ? 'read' : String(n);\n}\n` })).to.deep.equal([]);
  });

  it('a function a program reaches is checked: directly, through another function, or imported under another name', () => {
    expect(diagnostics(`${PROGRAM}import { twice as double } from './lib.js';
function inner(x: u32): u32 {
  return x + process.pid;
}
const outer = (x: u32): u32 => inner(x) + 1;
export const p = tracepoint('syscalls/sys_enter_getpgid', () => outer(1) + double(2));
`, { 'lib.ts': `import type { u32 } from 'tsbpf/dsl';\nexport function twice(x: u32): u32 {\n  return x * Buffer.length;\n}\n` }).filter((d) => / TS\d+$/.test(d)).sort()).to.deep.equal(['lib.ts:3:14 TS2591', 'm.bpf.ts:4:14 TS2591']);
  });
});
