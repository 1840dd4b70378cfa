/**
 * `npm run fuzz -- TARGET [--count N] [--seed S] [--start I] [--timeout-ms T] [--json]`
 * runs a fuzz target (asm, interp, elf, btf, compiler, or all); exits 1 on
 * any crash or hang, whose reproducers are written under fuzz/findings.
 * `npm run fuzz -- TARGET --replay FILE` runs one reproducer in this process.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { runFuzz, type FuzzSummary } from './runner.js';
import { isTarget, loadTarget, TARGET_NAMES, TARGET_SUMMARIES } from './targets.js';

const USAGE = `usage: npm run fuzz -- TARGET [--count N] [--seed S] [--start I] [--timeout-ms T] [--out DIR] [--json]
       npm run fuzz -- TARGET --replay FILE
targets: ${TARGET_NAMES.map((t) => `${t} (${TARGET_SUMMARIES[t]})`).join(', ')}, all`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function int(args: string[], name: string, fallback: number): number {
  const text = flag(args, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} takes a non-negative integer, not '${text}'`);
  return n;
}

async function replay(name: string, file: string): Promise<void> {
  const target = await loadTarget(name);
  const variant = basename(file).split('.').slice(1).join('.');
  const bytes = new Uint8Array(readFileSync(file));
  const data = variant.endsWith('.s') || variant.endsWith('.ts') || variant === 'txt' ? new TextDecoder().decode(bytes) : bytes;
  const t0 = performance.now();
  const outcome = target.execute({ data, variant });
  process.stdout.write(`${file}: ${outcome} in ${(performance.now() - t0).toFixed(1)} ms\n`);
}

function line(s: FuzzSummary): string {
  const crashes = s.findings.filter((f) => f.kind !== 'hang').length;
  const hangs = s.findings.length - crashes;
  return `${s.target}: ${s.count} inputs (seed ${s.seed}): ${s.ok} accepted, ${s.rejected} rejected with typed errors, ${crashes} crashes, ${hangs} hangs; ${s.seconds.toFixed(1)} s; slowest input ${s.slowest.ms.toFixed(0)} ms (#${s.slowest.index}), bound ${s.timeoutMs} ms`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const name = args[0];
  if (!name || name === '--help' || name === '-h' || (name !== 'all' && !isTarget(name))) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = name === '--help' || name === '-h' ? 0 : 2;
    return;
  }
  const replayFile = flag(args, '--replay');
  if (replayFile) return replay(name, replayFile);
  const json = args.includes('--json');
  const names = name === 'all' ? [...TARGET_NAMES] : [name];
  for (const target of names) {
    const summary = await runFuzz({
      target,
      seed: int(args, '--seed', 1),
      count: int(args, '--count', 1000),
      start: int(args, '--start', 0),
      timeoutMs: flag(args, '--timeout-ms') === undefined ? undefined : int(args, '--timeout-ms', 0),
      outDir: flag(args, '--out'),
      progress: json ? undefined : (l) => process.stderr.write(`${l}\n`),
    });
    process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${line(summary)}\n`);
    if (summary.findings.length) process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
