/**
 * BTF parsing: tsbpf vs libbpf (bench/c/btf_parse.c, gcc -O2 -lbpf, built
 * into bench/build/), side by side in one run: open /sys/kernel/btf/vmlinux
 * (read the file, parse) and look up one struct by name, N times, in
 * alternating rounds. libbpf's
 * btf__parse validates and indexes every type; ours indexes record offsets
 * (incrementally: a lookup walks records only up to its hit) and decodes on
 * demand. Two lookups: task_struct (early in vmlinux) and the last struct
 * (both sides walk every record). Ours reads the file as tsbpf's loader
 * does (readBtfFile: one mmap and a copy where the kernel allows it, recent
 * kernels such as 6.18; else read()), libbpf 1.1's btf__parse with read(), which sysfs
 * answers a page at a time (~1 350 calls for 5 MB). Figure: the fastest iteration
 * over all rounds on each side (the machine is shared, and the minimum is the
 * figure least disturbed by other load); ratio = ours /
 * libbpf (target ≤ 1.0).
 *
 * Run directly: npx tsx bench/btf.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBtf } from '../src/btf/index.js';
import { readBtfFile } from '../src/kernel/btf-file.js';
import { type BenchRow, libbpfAnchor } from './row.js';

const FILE = '/sys/kernel/btf/vmlinux';
const NAME = 'task_struct';
const ITERATIONS = 25;
/** Rounds alternate anchor and ours. */
const ROUNDS = 5;
function anchorMs(name: string): number {
  const out = execFileSync(libbpfAnchor('btf_parse'), [FILE, String(ITERATIONS), name], { encoding: 'utf8' });
  const r = JSON.parse(out.trim()) as { min_ns: number; types: number };
  if (r.types <= 0) throw new Error(`libbpf did not find struct ${name}`);
  return r.min_ns / 1e6;
}

function oursMs(name: string): number {
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = process.hrtime.bigint();
    const btf = parseBtf(readBtfFile(FILE));
    const id = btf.findByName(name, 'struct');
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (id === undefined) throw new Error(`tsbpf did not find struct ${name}`);
  }
  return Math.min(...times);
}

/** The struct with the highest id: finding it walks the whole type section. */
function lastStructName(): string {
  const btf = parseBtf(readBtfFile(FILE));
  for (let id = btf.typeCount - 1; id > 0; id--) {
    const t = btf.type(id);
    if (t.kind === 'struct' && t.name && btf.findByName(t.name, 'struct') === id) return t.name;
  }
  throw new Error('no named struct');
}

function measure(name: string): { ours: number; anchor: number } {
  let anchor = Infinity;
  let ours = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    anchor = Math.min(anchor, anchorMs(name));
    ours = Math.min(ours, oursMs(name));
  }
  return { ours, anchor };
}

export async function benchBtf(): Promise<BenchRow[]> {
  if (!existsSync(FILE)) throw new Error(`${FILE} not present`);
  // Warm up the JIT the way a long-running process would be.
  for (let i = 0; i < 10; i++) parseBtf(readBtfFile(FILE)).findByName(NAME, 'struct');
  const rows: BenchRow[] = [];
  // task_struct is early in vmlinux; the last struct makes both sides walk every type.
  for (const name of [NAME, lastStructName()]) {
    const { ours, anchor } = measure(name);
    rows.push({
      name: `parse vmlinux BTF + find struct ${name}`,
      ours,
      anchor,
      ratio: ours / anchor,
      unit: 'ms',
      anchorName: 'libbpf btf__parse + btf__find_by_name_kind',
      target: '<= 1.0',
    });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchBtf())
    process.stdout.write(`${r.name}: tsbpf ${r.ours.toFixed(2)} ${r.unit}, ${r.anchorName} ${r.anchor.toFixed(2)} ${r.unit}, ratio ${r.ratio.toFixed(2)}x (target ${r.target})\n`);
}
