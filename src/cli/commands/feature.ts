/** `tsbpf feature`: what the running kernel supports, like `bpftool feature probe`. */
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { featureReport, haveFeature, kernelFeatures, type KernelFeature } from '../../kernel/index.js';
import { lowerName } from '../kernel-format.js';
import { bold, CliError, green, printJson, red, yellow } from '../output.js';

export const help = `usage: tsbpf feature [--json] [--helpers]

Probes the running kernel (needs root or CAP_BPF): eBPF ISA levels,
program types, map types, BPF links, bpf_cookie, ring buffers, test runs,
and the named features tsbpf chooses attach methods by (tcx, xdp_link,
perf_link, ...: each with the Linux release that brought it; those named in
TSBPF_FEATURES_OFF read as missing).

options:
  --helpers   also list, per program type, the helpers it may call
              (loads one small program per helper and type; takes a moment)
  --json      print the whole report as one JSON object
`;

const mark = (v: boolean | null): string => (v === null ? yellow('?') : v ? green('yes') : red('no'));

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, helpers: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length && positionals[0] !== 'probe') throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  const r = featureReport({ helpers: values.helpers === true, kernelRelease: release() });
  const named = Object.fromEntries(Object.entries(kernelFeatures).map(([name, f]) => [name, { present: haveFeature(name as KernelFeature), since: f.since, what: f.what }]));
  if (values.json) {
    printJson({ ...r, features: named });
    return 0;
  }
  const out: string[] = [];
  out.push(`${bold('kernel')} ${r.kernel}`, '');
  out.push(bold('instruction set'));
  for (const [k, v] of Object.entries(r.isa)) out.push(`  ${k.padEnd(28)} ${mark(v)}`);
  out.push('', bold('program types'));
  for (const [k, v] of Object.entries(r.programTypes)) out.push(`  ${lowerName(k).padEnd(28)} ${mark(v)}`);
  out.push('', bold('map types'));
  for (const [k, v] of Object.entries(r.mapTypes)) out.push(`  ${lowerName(k).padEnd(28)} ${mark(v)}${v === null ? '  (not probed: needs a kernel struct to implement)' : ''}`);
  out.push('', bold('other'));
  for (const [k, v] of Object.entries(r.misc)) out.push(`  ${k.padEnd(28)} ${mark(v)}`);
  out.push('', bold('features by name'));
  for (const [k, v] of Object.entries(named)) out.push(`  ${k.padEnd(28)} ${mark(v.present)}  (${v.what}, Linux ${v.since})`);
  if (r.helpers) {
    for (const [type, helpers] of Object.entries(r.helpers)) {
      out.push('', bold(`helpers for ${lowerName(type)} (${helpers.length})`));
      out.push(`  ${helpers.map((h) => `bpf_${h}`).join(' ')}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
