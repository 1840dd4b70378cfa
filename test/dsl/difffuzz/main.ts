/**
 * npm run fuzz:dsl -- [--count N] [--seed S] [--size small|large] [--batch K] [--kernel-every M]
 *                     [--out DIR] [--no-shrink] [--max-failures F]
 * npm run fuzz:dsl -- --seed S --batch K --program I    (one program again, shrunk if it fails)
 * npm run fuzz:dsl -- --replay FILE                      (a failure file, run three ways)
 *
 * Random modules run by the reference evaluator, the interpreter and (as
 * root, every M-th program) the kernel; any disagreement is shrunk and
 * written to DIR as a module you can rerun. Exit status 1 when any was found.
 */
import { kernelUnavailableReason } from '../../support/kernel.js';
import { fuzz, type FuzzOptions, readFailureFile, runAlone } from './fuzz.js';
import { disagreement, type Outcome } from './run.js';

function parse(argv: string[]): FuzzOptions & { replay?: string } {
  const o: FuzzOptions & { replay?: string } = {
    seed: Math.floor(Math.random() * 0x7fffffff), size: 'large', count: 1000, batch: 40, kernelEvery: 5, out: 'fuzz-failures', shrink: true, maxFailures: 10,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(next());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    switch (a) {
      case '--count': o.count = int(); break;
      case '--seed': o.seed = int(); break;
      case '--size': {
        const v = next();
        if (v !== 'small' && v !== 'large') throw new Error('--size is small or large');
        o.size = v;
        break;
      }
      case '--batch': o.batch = Math.max(1, int()); break;
      case '--kernel-every': o.kernelEvery = int(); break;
      case '--out': o.out = next(); break;
      case '--no-shrink': o.shrink = false; break;
      case '--max-failures': o.maxFailures = Math.max(1, int()); break;
      case '--program': o.program = int(); break;
      case '--replay': o.replay = next(); break;
      case '-h': case '--help':
        process.stdout.write(`usage: npm run fuzz:dsl -- [--count N] [--seed S] [--size small|large] [--batch K] [--kernel-every M] [--out DIR] [--no-shrink] [--max-failures F]
       npm run fuzz:dsl -- --seed S --size Z --batch K --program I
       npm run fuzz:dsl -- --replay FILE
`);
        process.exit(0);
      // falls through (exit)
      default: throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  return o;
}

function show(name: string, o: Outcome | undefined): string {
  if (!o) return `${name}: not run\n`;
  if (o.error) return `${name}: ${o.error}\n`;
  const runs = o.runs.map((r, i) => `  run ${i}: r0 ${r.r0}\n    packet ${r.packet}${r.events.length ? `\n    events ${r.events.join(' ')}` : ''}`).join('\n');
  const maps = Object.entries(o.maps).map(([m, e]) => `  map ${m}: ${e.join(' ') || '(empty)'}`).join('\n');
  const globals = Object.entries(o.globals).map(([g, v]) => `  global ${g} = ${v}`).join('\n');
  return `${name}:\n${[runs, maps, globals].filter(Boolean).join('\n')}\n`;
}

function main(): number {
  const o = parse(process.argv.slice(2));
  const kernelReason = kernelUnavailableReason();
  if (kernelReason !== null && o.kernelEvery > 0) {
    process.stderr.write(`kernel runs off: ${kernelReason}\n`);
    o.kernelEvery = 0;
  }
  if (o.replay) {
    const u = readFailureFile(o.replay);
    const r = runAlone(u, o.kernelEvery > 0);
    if (r.compileError) process.stdout.write(`compiler: ${r.compileError}\n`);
    process.stdout.write(show('evaluator', r.eval) + show('interpreter', r.interp) + show('kernel', r.kernel));
    const d = disagreement(r);
    process.stdout.write(d ? `DISAGREE ${d.kind}\n${d.detail}\n` : 'all agree\n');
    return d ? 1 : 0;
  }
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const total = o.program !== undefined ? 1 : o.count;
  process.stderr.write(`fuzz:dsl seed ${o.seed}, ${total} ${o.size} programs in batches of ${o.batch}, kernel every ${o.kernelEvery || 'never'}\n`);
  const stats = fuzz(o, (s, done) => {
    const line = `[${done}/${total}] ${(s.programs / (s.ms / 1000)).toFixed(1)} programs/s, ${s.kernel} in the kernel, ${s.failures.length} disagreements, ${s.invalid} invalid, ${(s.ms / 1000).toFixed(0)} s (${(s.cpuMs / 1000).toFixed(0)} s CPU)`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (performance.now() - lastLine > 10_000 || done === total) {
      process.stderr.write(`${line}\n`);
      lastLine = performance.now();
    }
  });
  if (tty) process.stderr.write('\n');
  for (const f of stats.failures) process.stdout.write(`\nDISAGREE program ${f.index}: ${f.kind}\n${f.detail}\nwritten to ${f.file}\n`);
  for (const x of stats.invalidExamples) process.stdout.write(`\nINVALID (the generator left the language) ${x}\n`);
  process.stdout.write(`\nseed ${o.seed}: ${stats.programs} ${o.size} programs (${stats.kernel} also in the kernel, ${stats.tooComplex} of them too complex for the verifier) in ${(stats.ms / 1000).toFixed(1)} s (${(stats.cpuMs / 1000).toFixed(1)} s CPU), ${stats.failures.length} disagreements, ${stats.invalid} invalid\n`);
  return stats.failures.length > 0 ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`fuzz:dsl: ${(e as Error).message}\n`);
  process.exitCode = 2;
}
