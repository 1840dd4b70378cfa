/**
 * Loading a bpf-tests object, whole process on both sides: `tsbpf load OBJ
 * --pin DIR` against `bpftool prog loadall OBJ DIR pinmaps DIR/maps`
 * (libbpf). Rounds alternate; each side's median wall time counts; ratio =
 * ours / bpftool. Uses dist/cli/bin.js when built, else tsx on the sources
 * (which adds the TypeScript compile to our side).
 *
 * Run directly: npx tsx bench/load.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, median } from './row.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = 7;
const OBJECTS = ['net.bpf.o', 'core.bpf.o'];

function timeMs(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function benchLoad(): Promise<BenchRow[]> {
  const dist = join(root, 'dist/cli/bin.js');
  const ours = existsSync(dist) ? ['node', [dist]] as const : ['node', ['--import', 'tsx', join(root, 'src/cli/bin.ts')]] as const;
  const rows: BenchRow[] = [];
  for (const obj of OBJECTS) {
    const path = join(root, 'bpf-tests', obj);
    const dir = `/sys/fs/bpf/tsbpf_bench_${process.pid}`;
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      a.push(timeMs(() => execFileSync('bpftool', ['prog', 'loadall', path, dir, 'pinmaps', join(dir, 'maps')], { stdio: 'ignore' })));
      rmSync(dir, { recursive: true, force: true });
      b.push(timeMs(() => execFileSync(ours[0], [...ours[1], 'load', path, '--pin', dir], { stdio: 'ignore', cwd: root })));
      rmSync(dir, { recursive: true, force: true });
    }
    const o = median(b);
    const t = median(a);
    rows.push({ name: `load ${obj} (whole process)`, ours: o, anchor: t, ratio: o / t, unit: 'ms', anchorName: 'bpftool prog loadall', target: 'report' });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchLoad()) process.stdout.write(`${r.name}: tsbpf ${r.ours.toFixed(1)} ms, ${r.anchorName} ${r.anchor.toFixed(1)} ms, ratio ${r.ratio.toFixed(2)}\n`);
}
