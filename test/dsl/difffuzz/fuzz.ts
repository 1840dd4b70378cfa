/**
 * The differential fuzzer's loop: batches of random units (ast.ts, printed
 * by print.ts) run three ways (run.ts); a disagreement is shrunk by
 * fast-check (replaying the program by its seed and index) and written as
 * a .bpf.ts file that `npm run fuzz:dsl -- --replay FILE` runs again.
 */
import fc from 'fast-check';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AUnit, unitArbitrary, type UnitSize } from './ast.js';
import { MODULE_IMPORTS, type PrintedUnit, printUnit } from './print.js';
import { type Disagreement, disagreement, invalid, runBatch, tooComplex, type UnitResult } from './run.js';

export interface FuzzOptions {
  seed: number;
  size: UnitSize;
  count: number;
  /** Programs per module (one compile, one evaluator check). */
  batch: number;
  /** Every how many programs one also runs in the kernel (0: never). */
  kernelEvery: number;
  /** Where failure files go. */
  out: string;
  shrink: boolean;
  /** Stop after this many disagreements. */
  maxFailures: number;
  /** Only this program (by index): regenerate it, run it alone, shrink it if it fails. */
  program?: number;
}

export interface Failure {
  index: number;
  kind: string;
  detail: string;
  file: string;
  source: string;
}

export interface FuzzStats {
  programs: number;
  kernel: number;
  /** Programs both the compiler and the evaluator reject: the generator stepped outside the language. */
  invalid: number;
  /** Programs the verifier gave up on (more than 1M instructions walked): compared without the kernel. */
  tooComplex: number;
  /** CPU time of the process (user + system), ms. */
  cpuMs: number;
  invalidExamples: string[];
  failures: Failure[];
  ms: number;
}

/** The fast-check seed of a batch: each batch is a fast-check run of `batch` values, replayable by path. */
export function batchSeed(seed: number, b: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (b + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) | 0;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** What a failure file carries besides the module: enough to run it again. */
interface Meta {
  program: string;
  packets: string[];
  maps: string[];
  globals: string[];
  ring?: PrintedUnit['ring'];
}

const META = '// fuzz:meta ';
const UNIT = '// fuzz:unit';

export function failureFile(u: PrintedUnit, d: Disagreement, how: string[]): string {
  const meta: Meta = { program: u.program, packets: u.packets.map(hexOf), maps: u.maps, globals: u.globals, ...(u.ring ? { ring: u.ring } : {}) };
  return [
    `// A disagreement found by tsbpf's differential compiler fuzzer (test/dsl/difffuzz): ${d.kind}`,
    ...d.detail.split('\n').map((l) => `//   ${l}`),
    ...how.map((l) => `// ${l}`),
    `${META}${JSON.stringify(meta)}`,
    MODULE_IMPORTS.trimEnd(),
    UNIT,
    u.source.trimEnd(),
    '',
  ].join('\n');
}

/** A failure file read back as a unit. */
export function readFailureFile(path: string): PrintedUnit {
  const text = readFileSync(path, 'utf8');
  const metaLine = text.split('\n').find((l) => l.startsWith(META));
  const at = text.indexOf(`${UNIT}\n`);
  if (!metaLine || at < 0) throw new Error(`${path}: not a fuzzer failure file (no "${META.trim()}" line or "${UNIT}" marker)`);
  const meta = JSON.parse(metaLine.slice(META.length)) as Meta;
  return {
    source: text.slice(at + UNIT.length + 1),
    program: meta.program,
    packets: meta.packets.map((h) => Uint8Array.from(Buffer.from(h, 'hex'))),
    maps: meta.maps,
    globals: meta.globals,
    ...(meta.ring ? { ring: meta.ring } : {}),
  };
}

/** Runs one unit alone, all three ways when the kernel is wanted. */
export function runAlone(u: PrintedUnit, kernel: boolean): UnitResult {
  return runBatch([u], () => kernel).results[0]!;
}

/**
 * Shrinks a failing program: fast-check replays value `j` of the batch's
 * run and shrinks it while the same kind of disagreement remains.
 */
function shrink(seed: number, j: number, kind: string, kernel: boolean, options: FuzzOptions): AUnit | undefined {
  const still = (a: AUnit): boolean => {
    try {
      const d = disagreement(runAlone(printUnit(a, ''), kernel));
      return d?.kind !== kind;
    } catch (e) {
      return kind !== `crash ${(e as Error).message}`;
    }
  };
  const r = fc.check(fc.property(unitArbitrary(options.size), still), { seed, path: String(j), numRuns: 1, endOnFailure: false });
  return r.failed ? (r.counterexample![0] as AUnit) : undefined;
}

export function fuzz(o: FuzzOptions, progress: (s: FuzzStats, done: number) => void = () => {}): FuzzStats {
  const stats: FuzzStats = { programs: 0, kernel: 0, invalid: 0, tooComplex: 0, invalidExamples: [], failures: [], ms: 0, cpuMs: 0 };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const cpu = () => {
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1000;
  };
  const first = o.program ?? 0;
  const last = o.program !== undefined ? o.program + 1 : o.count;
  for (let b = Math.floor(first / o.batch); b * o.batch < last; b++) {
    const seed = batchSeed(o.seed, b);
    const values = fc.sample(unitArbitrary(o.size), { seed, numRuns: o.batch });
    const indexes = values.map((_, j) => b * o.batch + j).filter((i) => i >= first && i < last);
    const units = indexes.map((i) => printUnit(values[i - b * o.batch]!, o.program !== undefined ? '' : `u${i - b * o.batch}_`));
    const kernelFor = (i: number) => o.kernelEvery > 0 && i % o.kernelEvery === 0;
    let results: UnitResult[];
    try {
      results = runBatch(units, (_u, k) => kernelFor(indexes[k]!) || o.program !== undefined && o.kernelEvery > 0).results;
    } catch (e) {
      // A crash of the harness or the compiler on the batch: run the units one by one to find the culprit.
      results = units.map((u, k) => {
        try {
          return runAlone(u, kernelFor(indexes[k]!));
        } catch (e2) {
          return { unit: u, eval: { runs: [], maps: {}, globals: {} }, compileError: `crash ${(e2 as Error).message}`, crash: (e2 as Error).message } as UnitResult;
        }
      });
      void e;
    }
    for (const [k, r] of results.entries()) {
      const i = indexes[k]!;
      stats.programs++;
      if (r.kernel) stats.kernel++;
      if (tooComplex(r)) stats.tooComplex++;
      if (invalid(r)) {
        stats.invalid++;
        if (stats.invalidExamples.length < 5) stats.invalidExamples.push(`program ${i}: ${r.compileError}\n${r.unit.source}`);
        continue;
      }
      const crash = (r as UnitResult & { crash?: string }).crash;
      const d = crash !== undefined ? { kind: `crash ${crash}`, detail: crash } : disagreement(r);
      if (!d) continue;
      const withKernel = d.kind.includes('kernel') || kernelFor(i);
      const j = i - b * o.batch;
      const shrunk = o.shrink ? shrink(seed, j, d.kind, withKernel, o) : undefined;
      const small = shrunk ? printUnit(shrunk, '') : printUnit(values[j]!, '');
      const again = shrunk ? disagreement(runAlone(small, withKernel)) ?? d : d;
      mkdirSync(o.out, { recursive: true });
      const file = join(o.out, `fuzz-${o.seed}-${i}.bpf.ts`);
      const flags = `--seed ${o.seed} --size ${o.size} --batch ${o.batch} --program ${i}`;
      const how = [
        `Rerun this file: npm run fuzz:dsl -- --replay ${file}`,
        `Regenerate and shrink it again: npm run fuzz:dsl -- ${flags}`,
      ];
      const text = failureFile(small, again, how);
      writeFileSync(file, text);
      stats.failures.push({ index: i, kind: again.kind, detail: again.detail, file, source: text });
      if (stats.failures.length >= o.maxFailures) break;
    }
    stats.ms = performance.now() - t0;
    stats.cpuMs = cpu();
    progress(stats, Math.min(last, (b + 1) * o.batch) - first);
    if (stats.failures.length >= o.maxFailures) break;
  }
  stats.ms = performance.now() - t0;
  stats.cpuMs = cpu();
  return stats;
}
