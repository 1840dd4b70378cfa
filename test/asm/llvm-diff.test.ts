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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, disassemble, encode } from '../../src/asm/index.js';
import { randomProgram } from './random-instructions.js';
import { findTool, objdumpText, quads } from './llvm-tools.js';

const llvmMc = findTool('llvm-mc', 'llvm-mc-14');
const llvmObjdump = findTool('llvm-objdump', 'llvm-objdump-14');
const llvmObjcopy = findTool('llvm-objcopy', 'llvm-objcopy-14');
const seed = Number(process.env.TSBPF_SEED ?? Date.now() % 1000000);

describe('asm/llvm differential (LLVM 14)', function () {
  this.timeout(60000);
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
});
