/**
 * Assemble and disassemble a 1M-instruction program with tsbpf and with
 * llvm-mc / llvm-objdump (LLVM 14) on the same text and the same bytes, each
 * as a whole process (`tsbpf asm`, `tsbpf disasm` vs `llvm-mc`,
 * `llvm-objdump -d`). Prints instructions per second and the ratio
 * tsbpf/llvm (target >= 1.0).
 *
 * Both sides are timed by CPU time (user + system, from the shell's `times`)
 * because this machine is shared and wall time mostly measures the queue;
 * wall-clock rows are printed as well. Each figure is the best of several
 * alternating runs. `npx tsx bench/asm.ts` runs it alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disassemble, encode } from '../src/asm/index.js';
import { findTool, quads } from '../test/asm/llvm-tools.js';
import { randomProgram } from '../test/asm/random-instructions.js';
import type { BenchRow } from './row.js';

const COUNT = 1_000_000;
const RUNS = Number(process.env.TSBPF_BENCH_RUNS ?? 3);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a command line in bash; returns wall and CPU (user+sys of children) seconds. */
function timed(cmd: string[]): { wall: number; cpu: number } {
  const script = `${cmd.map(quote).join(' ')} >/dev/null || exit 97; times`;
  const start = performance.now();
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr}`);
  // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.056s".
  const children = r.stdout.trim().split('\n').at(-1) ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { wall, cpu: (seconds[0] ?? 0) + (seconds[1] ?? 0) };
}

/** The `tsbpf` command, run from the sources through tsx (its start-up is counted against us). */
function tsbpfCommand(): string[] {
  return [process.execPath, '--import', 'tsx', join(root, 'src/cli/bin.ts')];
}

export async function benchAsm(): Promise<BenchRow[]> {
  const llvmMc = findTool('llvm-mc', 'llvm-mc-14');
  const llvmObjdump = findTool('llvm-objdump', 'llvm-objdump-14');
  if (!llvmMc || !llvmObjdump) throw new Error('llvm-mc / llvm-objdump not installed (apt-get install llvm)');
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-asm-'));
  try {
    // The same program for both sides: v1-v3 instructions llvm-mc 14 reads.
    const bytes = encode(randomProgram(COUNT, 20241124, 'llvm14-parse'));
    const text = `${disassemble(bytes).join('\n')}\n`;
    const textFile = join(dir, 'prog.s');
    const binFile = join(dir, 'prog.bin');
    const objFile = join(dir, 'prog.o');
    writeFileSync(textFile, text);
    writeFileSync(binFile, bytes);
    writeFileSync(join(dir, 'raw.s'), quads(bytes));
    const made = spawnSync(llvmMc, ['-triple', 'bpf', '-filetype=obj', '-o', objFile, join(dir, 'raw.s')]);
    if (made.status !== 0) throw new Error(`llvm-mc failed: ${made.stderr}`);

    const tsbpf = tsbpfCommand();
    const cases = [
      {
        name: 'assemble 1M instructions',
        ours: [...tsbpf, 'asm', '--syntax', 'llvm', textFile, '-o', join(dir, 'ours.bin')],
        anchor: [llvmMc, '-triple', 'bpf', '-mattr=+alu32', '-filetype=obj', '-o', join(dir, 'theirs.o'), textFile],
        anchorName: 'llvm-mc -triple bpf (LLVM 14)',
      },
      {
        name: 'disassemble 1M instructions',
        ours: [...tsbpf, 'disasm', binFile],
        anchor: [llvmObjdump, '-d', '-z', '--mattr=+alu32', objFile],
        anchorName: 'llvm-objdump -d (LLVM 14)',
      },
    ];
    const rows: BenchRow[] = [];
    for (const c of cases) {
      let ours = { wall: Infinity, cpu: Infinity };
      let anchor = { wall: Infinity, cpu: Infinity };
      for (let run = 0; run < RUNS; run++) {
        const a = timed(c.anchor);
        const o = timed(c.ours);
        ours = { wall: Math.min(ours.wall, o.wall), cpu: Math.min(ours.cpu, o.cpu) };
        anchor = { wall: Math.min(anchor.wall, a.wall), cpu: Math.min(anchor.cpu, a.cpu) };
      }
      for (const [kind, o, a] of [['cpu time', ours.cpu, anchor.cpu], ['wall time', ours.wall, anchor.wall]] as const) {
        const oursRate = COUNT / o;
        const anchorRate = COUNT / a;
        rows.push({
          name: `${c.name} (whole process, ${kind})`,
          ours: Math.round(oursRate),
          anchor: Math.round(anchorRate),
          ratio: oursRate / anchorRate,
          unit: 'insn/s',
          anchorName: c.anchorName,
          target: '>= 1.0',
        });
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchAsm();
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(52)} tsbpf ${String(r.ours).padStart(9)} ${r.unit}  ${r.anchorName}: ${String(r.anchor).padStart(9)} ${r.unit}  ratio ${r.ratio.toFixed(2)}x (target ${r.target})\n`,
    );
  }
}
