/**
 * `npm run bench`: runs every benchmark side by side with its anchor (libbpf
 * built with gcc, clang, llvm-mc/llvm-objdump, bpftrace) and prints each
 * figure as a ratio. Each bench module exports one function returning rows.
 * Pass names to run a subset: `npm run bench -- asm maps`. Each row says
 * whether its target is met; the machine and its load average (before and
 * after) are printed, as the machine is shared.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { BenchRow } from './row.js';

const suites: Array<{ name: string; file: string; fn: string }> = [
  { name: 'asm', file: './asm.ts', fn: 'benchAsm' },
  { name: 'btf', file: './btf.ts', fn: 'benchBtf' },
  { name: 'maps', file: './maps.ts', fn: 'benchMaps' },
  { name: 'ringbuf', file: './ringbuf.ts', fn: 'benchRingbuf' },
  { name: 'dsl', file: './dsl.ts', fn: 'benchDsl' },
  { name: 'load', file: './load.ts', fn: 'benchLoad' },
  { name: 'run', file: './run-start.ts', fn: 'benchRunStart' },
  { name: 'phases', file: './start-phases.ts', fn: 'benchStartPhases' },
  { name: 'engine', file: './engine.ts', fn: 'benchEngine' },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const json = process.argv.includes('--json');
  const rows: Array<BenchRow & { suite: string }> = [];
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, node ${process.version}`;
  const loadBefore = load();
  process.stderr.write(`bench: ${new Date().toISOString()}, ${machine}, load average ${loadBefore}\n`);
  for (const s of suites) {
    if (wanted.length && !wanted.includes(s.name)) continue;
    const path = new URL(s.file, import.meta.url);
    if (!existsSync(path)) {
      process.stderr.write(`bench ${s.name}: not present, skipped\n`);
      continue;
    }
    process.stderr.write(`bench ${s.name}: running...\n`);
    try {
      const mod = (await import(path.href)) as Record<string, () => Promise<BenchRow[]>>;
      const fn = mod[s.fn];
      if (!fn) throw new Error(`${s.file} does not export ${s.fn}`);
      for (const r of await fn()) {
        rows.push({ suite: s.name, ...r });
        if (json) process.stdout.write(`${JSON.stringify({ suite: s.name, ...r })}\n`);
      }
    } catch (e) {
      process.stderr.write(`bench ${s.name}: failed: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  }
  const loadAfter = load();
  if (json) {
    process.stdout.write(`${JSON.stringify({ machine, loadBefore, loadAfter, date: new Date().toISOString() })}\n`);
    return;
  }
  process.stdout.write(`${new Date().toISOString()}  ${machine}  load average ${loadBefore} (start) → ${loadAfter} (end)\n`);
  const header = ['suite', 'figure', 'tsbpf', 'anchor', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => [
    r.suite,
    r.name,
    `${fmt(r.ours)} ${r.unit}`,
    `${fmt(r.anchor)} ${r.unit}${r.anchorName ? ` (${r.anchorName})` : ''}`,
    `${r.ratio.toFixed(2)}x`,
    r.target ?? '',
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const print = (cols: string[]) => process.stdout.write(`${cols.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  print(header);
  for (const l of lines) print(l);
}

/** 'met' or 'MISSED' for a target like '<= 2.0' or '>= 1.0'; '' when the row is only reported. */
function verdict(r: BenchRow): string {
  const m = /^(<=|>=)\s*([\d.]+)$/.exec(r.target ?? '');
  if (!m || Number.isNaN(r.ratio)) return '';
  const limit = Number(m[2]);
  return (m[1] === '<=' ? r.ratio <= limit : r.ratio >= limit) ? 'met' : 'MISSED';
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)}k`;
  return n.toFixed(n < 10 ? 3 : 1);
}

await main();
