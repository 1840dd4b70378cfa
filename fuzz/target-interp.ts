/**
 * interp: random instruction streams (structure-aware, with jumps mostly
 * inside the program) and mutated real programs (clang objects' code,
 * assembled conformance programs), decoded, disassembled and run in
 * src/interp with a step bound, maps of several kinds and each context
 * shape (mem, XDP, skb, raw ctx). Only InterpError (and AsmError from the
 * decoder) may come out.
 */
import { AsmError, assemble, decode, disassemble, JmpOp, LDDW } from '../src/asm/index.js';
import { SHF_EXECINSTR } from '../src/elf/constants.js';
import { readElf } from '../src/elf/reader.js';
import { createMap, InterpError, runSync, type InterpMap, type RunOptions } from '../src/interp/index.js';
import { randomInstruction } from '../test/asm/random-instructions.js';
import { encode } from '../src/asm/codec.js';
import type { Instruction } from '../src/asm/instruction.js';
import { mutateBytes, type Gen } from './random.js';
import { seedConformance, seedObjects } from './seeds.js';
import { asBytes, FuzzFinding, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

/** A run may execute at most this many instructions: every input ends, loops included. */
export const STEP_BOUND = 20_000;

let programs: Uint8Array[] | undefined;

function load(): Uint8Array[] {
  if (programs) return programs;
  programs = [];
  for (const { bytes } of seedObjects()) {
    try {
      for (const s of readElf(bytes).sections) if ((s.flags & SHF_EXECINSTR) && s.size >= 8) programs.push(new Uint8Array(s.data));
    } catch {
      // not a seed
    }
  }
  for (const text of seedConformance()) {
    const asm = /^-- asm\n([\s\S]*?)(?=^-- |$(?![\s\S]))/m.exec(text)?.[1];
    if (!asm) continue;
    try {
      programs.push(assemble(asm, { syntax: 'ubpf' }).bytes);
    } catch {
      // a conformance file this assembler does not take is no seed
    }
  }
  return programs;
}

const isJump = (i: Instruction) => ((i.opcode & 7) === 5 || (i.opcode & 7) === 6) && (i.opcode & 0xf0) !== JmpOp.CALL && (i.opcode & 0xf0) !== JmpOp.EXIT;

function generated(g: Gen): Uint8Array {
  const n = 1 + g.int(48);
  const insns: Instruction[] = [];
  // Most programs start by giving registers values, so the run gets past the first use.
  if (g.int(2)) for (let r = 0; r < 10; r++) if (g.int(2)) insns.push({ opcode: 0xb7, dst: r, src: 0, off: 0, imm: g.imm() });
  for (let k = 0; k < n; k++) {
    const ins = randomInstruction(g);
    if (isJump(ins) && g.int(4)) ins.off = g.int(Math.max(1, n - k)) - g.int(3);
    if (ins.opcode === LDDW && ins.src && g.int(2)) ins.imm = g.int(6);
    insns.push(ins);
  }
  insns.push({ opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
  return encode(insns);
}

function generate(g: Gen): FuzzInput {
  const seeds = load();
  const choice = g.int(10);
  if (choice < 5 || !seeds.length) return { variant: 'bin', data: generated(g) };
  if (choice < 9) {
    const p = g.pick(seeds);
    const hot = Array.from({ length: p.length / 8 }, (_, i) => i * 8 + g.int(8));
    return { variant: 'bin', data: mutateBytes(g, p, { hotSpots: hot, max: 4 }) };
  }
  return { variant: 'bin', data: new Uint8Array(8 * (1 + g.int(16))).map(() => g.int(256)) };
}

/** Fresh maps for each run; fd/index i of an lddw names maps[i]. */
function maps(): InterpMap[] {
  return [
    createMap({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 }),
    createMap({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 }),
    createMap({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 }),
    createMap({ type: 'percpu_array', keySize: 4, valueSize: 16, maxEntries: 2, cpus: 2 }),
    createMap({ type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 2 }),
    createMap({ type: 'queue', keySize: 0, valueSize: 8, maxEntries: 4 }),
    createMap({ type: 'lpm_trie', keySize: 8, valueSize: 8, maxEntries: 4 }),
  ];
}

function inputs(bytes: Uint8Array): RunOptions[] {
  const packet = new Uint8Array(64).map((_, i) => (i * 37 + bytes.length) & 0xff);
  return [
    { mem: packet.slice(0, 32) },
    { xdp: { packet: packet.slice() } },
    { skb: { packet: packet.slice(), mark: 7 } },
    { ctx: packet.slice(0, 24) },
  ];
}

function execute(input: FuzzInput): Outcome {
  const bytes = asBytes(input.data);
  try {
    decode(bytes);
    disassemble(bytes);
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    if (e.slot === undefined && e.position === undefined) throw new FuzzFinding(`AsmError without a slot: ${e.message}`, { cause: e });
  }
  let outcome: Outcome = 'ok';
  for (const options of inputs(bytes)) {
    try {
      runSync(bytes, { ...options, maps: maps(), budget: STEP_BOUND });
    } catch (e) {
      if (!(e instanceof InterpError)) throw e;
      outcome = 'rejected';
    }
  }
  return outcome;
}

export const interpTarget: FuzzTarget = { name: 'interp', timeoutMs: 5000, chunk: 50_000, generate, execute };
