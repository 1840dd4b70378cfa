/**
 * `node --import tsx scripts/loader-parity.ts OBJ.o|DIR ...` (root): loads
 * each BPF object with bpftool (libbpf) and with tsbpf and compares
 * programs, maps and translated instructions (test/kernel/loader-parity.ts).
 * Prints one line per object and a summary; --json for NDJSON.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseObject } from '../src/elf/parse-object.js';
import { compareLoaders } from '../test/kernel/loader-parity.js';

const args = process.argv.slice(2).filter((a) => a !== '--json');
const json = process.argv.includes('--json');
const files = args.flatMap((a) => (statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith('.o')).sort().map((f) => join(a, f)) : [a]));
const seen = new Set<string>();
const tally: Record<string, number> = {};
for (const file of files) {
  const bytes = readFileSync(file);
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (seen.has(hash)) continue; // the same object embedded in two tools
  seen.add(hash);
  // Maps pinned by name go to /sys/fs/bpf/NAME for both loaders: compared when no one else has them, removed after each load.
  let byName: string[] = [];
  try {
    byName = parseObject(new Uint8Array(bytes), { name: basename(file).split('.')[0] }).maps.filter((m) => m.pinning === 'byName').map((m) => `/sys/fs/bpf/${m.name}`);
  } catch {
    // both loaders get to refuse it
  }
  const taken = byName.filter((p) => existsSync(p));
  const unpin = () => byName.forEach((p) => rmSync(p, { force: true }));
  const verdict = taken.length
    ? { kind: 'skipped', reason: `already pinned by someone else: ${taken.join(', ')}` }
    : await compareLoaders(file, `/sys/fs/bpf/parity_${process.pid}_${seen.size}`, byName.length ? unpin : undefined);
  tally[verdict.kind] = (tally[verdict.kind] ?? 0) + 1;
  if (json) process.stdout.write(`${JSON.stringify({ file, ...verdict })}\n`);
  else process.stdout.write(`${basename(file)}: ${verdict.kind}${'details' in verdict ? `\n  ${verdict.details.join('\n  ')}` : 'programs' in verdict ? ` (${verdict.programs} programs, ${verdict.maps} maps, ${verdict.instructions} instructions)` : 'reason' in verdict ? ` (${verdict.reason})` : 'bpftool' in verdict ? ` (${verdict.culprit ? `libbpf blames ${verdict.culprit}, tsbpf ${verdict.sameCulprit ? 'names it too' : 'names something else'}; ` : ''}bpftool: ${verdict.bpftool.slice(0, 200)} || tsbpf: ${verdict.tsbpf.slice(0, 200)})` : ''}\n`);
}
process.stdout.write(`${json ? JSON.stringify({ summary: tally }) : `summary: ${JSON.stringify(tally)}`}\n`);
