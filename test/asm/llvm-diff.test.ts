/**
 * Differential test against LLVM 14 (an oracle written by others): random
 * v1-v3 instructions, all in one llvm-mc and one llvm-objdump run per
 * direction so that the test takes seconds.
 *  - bytes → llvm-objdump text must equal our disassembly, and our assembly
 *    of llvm-objdump's text must give the bytes back;
 *  - our text → llvm-mc bytes must equal our assembly of that text.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble, disassemble, encode } from '../../src/asm/index.js';
import { randomProgram } from './random-instructions.js';
import { findTool, objdumpSections, objdumpText, quads } from './llvm-tools.js';

const llvmMc = findTool('llvm-mc', 'llvm-mc-14');
const llvmObjdump = findTool('llvm-objdump', 'llvm-objdump-14');
const llvmObjcopy = findTool('llvm-objcopy', 'llvm-objcopy-14');
const seed = Number(process.env.TSBPF_SEED ?? Date.now() % 1000000);

describe('asm/llvm differential (LLVM 14)', function () {
  let dir = '';
  before(function () {
    if (!llvmMc || !llvmObjdump || !llvmObjcopy) {
      console.log('      (skipped: llvm-mc / llvm-objdump / llvm-objcopy not installed; apt-get install llvm)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-llvm-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`disassembles 4000 random v1-v3 instructions as llvm-objdump does and reads its text back (seed ${seed})`, () => {
    const bytes = encode(randomProgram(4000, seed, 'llvm14-print'));
    writeFileSync(join(dir, 'raw.s'), quads(bytes));
    execFileSync(llvmMc!, ['-triple', 'bpf', '-filetype=obj', '-o', join(dir, 'raw.o'), join(dir, 'raw.s')]);
    const theirs = objdumpText(execFileSync(llvmObjdump!, ['-d', '-z', '--mattr=+alu32', join(dir, 'raw.o')], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    const ours = disassemble(bytes);
    expect(theirs.length).to.equal(ours.length);
    const mismatches = ours.map((t, i) => [i, t, theirs[i]] as const).filter(([, a, b]) => a !== b);
    expect(mismatches.slice(0, 10), `seed ${seed}`).to.deep.equal([]);
    expect(assemble(theirs.join('\n')).bytes).to.deep.equal(bytes);
  });

  it(`assembles 4000 random v1-v3 instructions to the bytes llvm-mc makes of the same text (seed ${seed + 1})`, () => {
    const text = disassemble(encode(randomProgram(4000, seed + 1, 'llvm14-parse')));
    writeFileSync(join(dir, 'text.s'), `${text.join('\n')}\n`);
    execFileSync(llvmMc!, ['-triple', 'bpf', '-mattr=+alu32', '-filetype=obj', '-o', join(dir, 'text.o'), join(dir, 'text.s')]);
    execFileSync(llvmObjcopy!, ['-O', 'binary', '--only-section=.text', join(dir, 'text.o'), join(dir, 'text.bin')]);
    const theirs = new Uint8Array(readFileSync(join(dir, 'text.bin')));
    const ours = assemble(text.join('\n')).bytes;
    expect(ours.length).to.equal(theirs.length);
    const slots: number[] = [];
    for (let at = 0; at < ours.length && slots.length < 10; at += 8) {
      for (let k = 0; k < 8; k++) if (ours[at + k] !== theirs[at + k]) { slots.push(at / 8); break; }
    }
    expect(slots.map((s) => `${s}: ${Buffer.from(theirs.subarray(s * 8, s * 8 + 8)).toString('hex')} vs ours ${Buffer.from(ours.subarray(s * 8, s * 8 + 8)).toString('hex')}`), `seed ${seed + 1}`).to.deep.equal([]);
  });

  it('agrees with llvm-mc on labels, comments and directives in a hand-written program', () => {
    const source = [
      '\t.text',
      '\t.globl\tprog  # a directive',
      'prog:',
      '  r1 = 0 ll        // load',
      'LBB0_1:',
      '  r1 += 1 ; llvm-mc would reject this comment; we accept it',
      '  if r1 < 10 goto LBB0_1',
      '  /* block */ w0 = w1',
      '  goto LBB0_3',
      '  r0 = 7',
      'LBB0_3:',
      '  exit',
    ];
    const llvmSource = source.map((l) => l.replace(/ ;.*$/, '')).join('\n');
    writeFileSync(join(dir, 'labels.s'), `${llvmSource}\n`);
    execFileSync(llvmMc!, ['-triple', 'bpf', '-mattr=+alu32', '-filetype=obj', '-o', join(dir, 'labels.o'), join(dir, 'labels.s')]);
    execFileSync(llvmObjcopy!, ['-O', 'binary', '--only-section=.text', join(dir, 'labels.o'), join(dir, 'labels.bin')]);
    expect(assemble(source.join('\n')).bytes).to.deep.equal(new Uint8Array(readFileSync(join(dir, 'labels.bin'))));
  });

  it('reads clang -S output (sections, directives, data labels) to the bytes of clang -c', function () {
    const clang = findTool('clang', 'clang-14');
    if (!clang) {
      console.log('      (skipped: clang not installed)');
      this.skip();
    }
    const c = join(dir, 'prog.c');
    writeFileSync(
      c,
      `typedef unsigned int u32; typedef unsigned long long u64;
struct { int type; int max_entries; u32 *key; u64 *value; } counts __attribute__((section(".maps"), used));
static void *(*map_lookup)(void *map, const void *key) = (void *)1;
__attribute__((section("xdp"), used)) int prog(void *ctx) {
  u32 k = 0; u64 *v = map_lookup(&counts, &k);
  int s = 0;
  for (int i = 0; i < 10; i++) s += i * (int)(long)ctx;
  if (v) { __sync_fetch_and_add(v, 1); s += *v; }
  return s > 100 ? 2 : 1;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
`,
    );
    execFileSync(clang!, ['-target', 'bpf', '-O2', '-mcpu=v3', '-S', '-o', join(dir, 'prog.s'), c]);
    execFileSync(clang!, ['-target', 'bpf', '-O2', '-mcpu=v3', '-c', '-o', join(dir, 'prog.o'), c]);
    execFileSync(llvmObjcopy!, ['-O', 'binary', '--only-section=xdp', join(dir, 'prog.o'), join(dir, 'prog.bin')]);
    const { bytes, instructions } = assemble(readFileSync(join(dir, 'prog.s'), 'utf8'), { file: 'prog.s' });
    expect(bytes).to.deep.equal(new Uint8Array(readFileSync(join(dir, 'prog.bin'))));
    expect(instructions[0]!.symbol).to.equal('prog');
    expect(instructions.find((i) => i.reference !== undefined)?.reference).to.equal('counts');
  });

  it('disassembles every code section of the clang-built objects in bpf-tests/ as llvm-objdump does', function () {
    const objects = new URL('../../bpf-tests/', import.meta.url);
    if (!existsSync(objects)) this.skip();
    let sections = 0;
    for (const name of readdirSync(objects).filter((f) => f.endsWith('.o'))) {
      const path = fileURLToPath(new URL(name, objects));
      const listing = execFileSync(llvmObjdump!, ['-d', '-z', '--mattr=+alu32', path], { encoding: 'utf8' });
      for (const [section, { bytes, text }] of objdumpSections(listing)) {
        // The one deliberate difference: LLVM prints a bpf-to-bpf call like a helper call.
        const ours = disassemble(bytes).map((t) => t.replace(/^call \+/, 'call '));
        expect(ours, `${name} ${section}`).to.deep.equal(text);
        sections++;
      }
    }
    expect(sections).to.be.greaterThan(5);
  });
});
