/**
 * Loading an object, whole process on both sides: `tsbpf load OBJ --pin DIR`
 * against `bpftool prog loadall OBJ DIR pinmaps DIR/maps` (libbpf), for the
 * objects written the way libbpf-tools writes them (bpf-tests/corpus:
 * execsnoop, runqlat, map kinds; CO-RE against the running kernel's BTF)
 * and two older test objects. Each process runs under rusageWrapper for
 * its CPU time (user + system) and peak memory (maximum RSS); rounds
 * alternate; each figure is the median; ratio = ours / bpftool. Uses
 * dist/cli/bin.js (the installed binary; `npm run build` first).
 *
 * Run directly: npx tsx bench/load.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, median, readRusage, rusageWrapper } from './row.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env.TSBPF_BENCH_RUNS ?? 7);
const OBJECTS = ['corpus/execsnoop_like.bpf.o', 'corpus/runqlat_like.bpf.o', 'corpus/maps_kinds.bpf.o', 'net.bpf.o', 'core.bpf.o'];

interface Sample {
  wall: number;
  cpu: number;
  peakMb: number;
}

/** Runs a command to its exit under rusageWrapper: wall ms (fork to exit), CPU ms, peak RSS in MB. */
function measure(cmd: string[], usageFile: string): Sample {
  const [wrapper, ...wrapperArgs] = rusageWrapper(usageFile);
  execFileSync(wrapper!, [...wrapperArgs, ...cmd], { stdio: 'ignore', cwd: root });
  return readRusage(usageFile);
}

export async function benchLoad(): Promise<BenchRow[]> {
  const dist = join(root, 'dist/cli/bin.js');
  if (!existsSync(dist)) throw new Error('dist/cli/bin.js is missing: run `npm run build` first');
  const scratch = mkdtempSync(join(tmpdir(), 'tsbpf-bench-load-'));
  const usage = join(scratch, 'rusage');
  const rows: BenchRow[] = [];
  try {
    for (const obj of OBJECTS) {
      const path = join(root, 'bpf-tests', obj);
      const dir = `/sys/fs/bpf/tsbpf_bench_${process.pid}`;
      const anchor: Sample[] = [];
      const ours: Sample[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        anchor.push(measure(['bpftool', 'prog', 'loadall', path, dir, 'pinmaps', join(dir, 'maps')], usage));
        rmSync(dir, { recursive: true, force: true });
        ours.push(measure([process.execPath, dist, 'load', path, '--pin', dir], usage));
        rmSync(dir, { recursive: true, force: true });
      }
      for (const [m, what, unit, target] of [
        ['wall', 'wall time', 'ms', '<= 2.0'],
        ['cpu', 'CPU time', 'ms', '<= 2.0'],
        ['peakMb', 'peak memory', 'MB', '<= 3.0'],
      ] as const) {
        const o = median(ours.map((s) => s[m]));
        const t = median(anchor.map((s) => s[m]));
        rows.push({ name: `load ${obj.replace(/^corpus\//, '')} (whole process), ${what}`, ours: o, anchor: t, ratio: o / t, unit, anchorName: 'bpftool prog loadall', target });
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchLoad()) process.stdout.write(`${r.name}: tsbpf ${r.ours.toFixed(1)} ${r.unit}, ${r.anchorName} ${r.anchor.toFixed(1)} ${r.unit}, ratio ${r.ratio.toFixed(2)} (target ${r.target})\n`);
}
