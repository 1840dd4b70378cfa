#!/usr/bin/env -S node --import tsx
/**
 * tsbpf dev VMs: boot Debian kernels under qemu and run tsbpf inside.
 *   node --import tsx vm-images/vm.ts <kernels|image|run|test|shell|clean|list> [options]
 * The Makefile targets in vm-images/vm.mk call this; see vm-images/README.md.
 */
import { rmSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { VmError } from './errors.js';
import { modulesLayer, projectLayer, runtimeLayer, shQuote, type RunSpec } from './image.js';
import { cachedKernel, ensureKernel } from './kernel-store.js';
import { kernels, selectKernels, type KernelSpec } from './kernels.js';
import { cacheDir } from './paths.js';
import { pickCompression } from './compress.js';
import { GuestTimeout, runGuest } from './guest-run.js';
import { toolchainLayer } from './toolchain.js';
import { jsSpec } from './transpile.js';
import { formatTable, outcomeOk, totalsLine, type KernelOutcome } from './results-table.js';
import { qemuBinary } from './qemu.js';
import type { GuestTestSummary } from './guest/reporter.js';
import { compareRuns, formatReport, reportClean, reportJson, type RunResult } from '../test/flake/compare.js';

/** The kernel tests and the kprobe link tests: the parts the host skips (no kprobes or BPF trampolines here) run in the guest. */
const DEFAULT_TESTS = 'test/kernel/**/*.test.ts test/vm/kprobe-links.test.ts';

export const usage = `usage: vm <command> [options]

commands:
  list                 the kernels this knows (kernel name → Debian package)
  kernels              download and unpack the kernels (cached in vm-images/cache)
  image                build the guest image layers
  run -- <command>     boot one kernel and run a shell command in the project folder;
                       exits with the command's exit status
  test                 run the kernel test suite on each kernel; prints kernel × pass/fail/skip
  flake                run test files --runs N times in one boot per kernel; reports every test
                       whose result changed between runs (the dev-VM twin of npm run flake)
  shell                an interactive guest (Ctrl-A X quits qemu)
  bench                boot-to-command time per kernel (--runs N boots of 'true'), as a markdown table
  clean                remove vm-images/cache

options:
  -k, --kernel LIST    kernel names, comma-separated, or 'all' (default: all; run/shell: the first)
  -c, --cmd TEXT       the command for 'run' (instead of arguments after --)
  -t, --timeout S      kill a guest after S seconds (run: 600, test: 3600, shell: 86400)
      --tests LIST     test files or globs for 'test' and 'flake' (default: ${DEFAULT_TESTS})
      --runs N         'flake': runs per kernel (default 5); 'bench': boots per kernel (default 3)
      --memory MB      guest memory (default 2048)
      --json           'test', 'flake': one JSON object per kernel on stdout
environment: TSBPF_VM_ACCEL=kvm|tcg forces the accelerator, TSBPF_VM_CACHE moves the cache,
             TSBPF_VM_MIRROR replaces the Debian mirror, TSBPF_VM_QEMU names the qemu binary.
`;

const say = (msg: string): void => void process.stderr.write(`vm: ${msg}\n`);

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        kernel: { type: 'string', short: 'k' },
        cmd: { type: 'string', short: 'c' },
        timeout: { type: 'string', short: 't' },
        tests: { type: 'string' },
        memory: { type: 'string' },
        json: { type: 'boolean' },
        runs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new VmError('BAD_USAGE', `${(e as Error).message}\n\n${usage}`, 2);
  }
}

function positiveNumber(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new VmError('BAD_USAGE', `${what} must be a positive number, not '${text}'`, 2);
  return n;
}

const firstKernel = (list: string | undefined): KernelSpec => selectKernels(list)[0]!;

async function cmdList(): Promise<number> {
  for (const k of kernels) {
    const c = cachedKernel(k.name);
    process.stdout.write(`${k.name.padEnd(6)} ${k.metaPackage} from ${k.suites.join(', ')}${c ? `  [cached: ${c.packageName} ${c.packageVersion}]` : ''}\n`);
  }
  return 0;
}

async function cmdKernels(list: string | undefined): Promise<number> {
  for (const spec of selectKernels(list)) {
    const k = await ensureKernel(spec);
    process.stdout.write(`${spec.name.padEnd(6)} ${k.packageName} ${k.packageVersion} (uname -r: ${k.release})\n`);
  }
  return 0;
}

async function cmdImage(list: string | undefined): Promise<number> {
  qemuBinary(); // an image nobody can boot is no use: say so now
  const specs = selectKernels(list);
  const ks = [];
  for (const spec of specs) ks.push(await ensureKernel(spec));
  const started = Date.now();
  const runtime = await runtimeLayer(pickCompression(true));
  await toolchainLayer(pickCompression(true));
  for (const k of ks) modulesLayer(k);
  const project = projectLayer();
  say(`image ready: ${runtime} + modules for ${specs.map((s) => s.name).join(', ')} + project layer (${(project.length / 1024 / 1024).toFixed(1)} MB, rebuilt each run) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

/** Console bytes to our stdout; one decoder per boot, so a character split across chunks stays whole. */
function consoleToStdout(): (c: Buffer) => void {
  const decoder = new StringDecoder('utf8');
  let heldCr = ''; // a CR at the end of a chunk may be half of a CRLF
  return (c) => {
    let text = heldCr + decoder.write(c);
    heldCr = text.endsWith('\r') ? '\r' : '';
    if (heldCr) text = text.slice(0, -1);
    process.stdout.write(text.replace(/\r\n/g, '\n'));
  };
}

async function cmdRun(list: string | undefined, command: string, timeoutSeconds: number, memoryMb: number | undefined): Promise<number> {
  if (command.trim() === '') throw new VmError('BAD_USAGE', "no command: use CMD='...' (make) or --cmd / -- <command>", 2);
  qemuBinary();
  let worst = 0;
  for (const spec of selectKernels(list ?? kernels[0]!.name)) {
    // The guest's console is a terminal; colour only if ours is one too.
    const env: Record<string, string> = process.stdout.isTTY && process.env.NO_COLOR === undefined ? {} : { NO_COLOR: '1' };
    const run: RunSpec = { mode: 'run', command, env };
    const o = await runGuest(spec, run, { timeoutSeconds, memoryMb, onConsole: consoleToStdout() });
    const boot = o.boot.readySeconds === undefined ? '' : `, command started ${o.boot.readySeconds.toFixed(1)} s after qemu`;
    if (o.exitStatus === 0) say(`kernel ${spec.name} (${o.kernel.release}): exit status 0${boot}, ${o.boot.seconds.toFixed(1)} s in all`);
    else say(`kernel ${spec.name} (${o.kernel.release}): the command FAILED in the guest with exit status ${o.exitStatus}`);
    worst = worst || o.exitStatus;
  }
  return worst;
}

/** The guest's mocha command line for `tests` (files or globs), spec output on the console, the summary on the control port. */
function guestMocha(tests: string, color: boolean): string {
  // Plain node on the .js twins of the tests (see transpile.ts) unless TSBPF_VM_TSX=1 asks for tsx in the guest.
  const viaTsx = process.env.TSBPF_VM_TSX === '1';
  const testSpecs = tests.split(/[\s,]+/).filter((t) => t !== '');
  const files = (viaTsx ? testSpecs : testSpecs.map(jsSpec)).map(shQuote).join(' ');
  const runner = viaTsx
    ? 'node --import tsx node_modules/mocha/bin/mocha.js --config vm-images/guest/mocharc.json'
    : 'node --enable-source-maps --no-warnings=ExperimentalWarning node_modules/mocha/bin/mocha.js --config vm-images/guest/mocharc.js.json';
  return `${runner} ${color ? '--color' : '--no-color'} ${files}`;
}

/** The environment of a guest test run: kernel tests must run, results go to the control port. */
const testEnv = (color: boolean): Record<string, string> => ({ TSBPF_REQUIRE_KERNEL: '1', TSBPF_VM_RESULTS: '/dev/ttyS1', ...(color ? {} : { NO_COLOR: '1' }) });

async function cmdTest(list: string | undefined, tests: string, timeoutSeconds: number, memoryMb: number | undefined, json: boolean): Promise<number> {
  qemuBinary();
  const specs = selectKernels(list);
  const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
  const command = guestMocha(tests, color);
  const outcomes: KernelOutcome[] = [];
  for (const spec of specs) {
    say(`kernel ${spec.name}: running ${tests}`);
    const run: RunSpec = { mode: 'test', command, env: testEnv(color) };
    const started = Date.now();
    let outcome: KernelOutcome;
    try {
      const o = await runGuest(spec, run, { timeoutSeconds, memoryMb, onConsole: consoleToStdout() });
      const t = o.report.tests;
      outcome = {
        kernel: spec.name,
        release: o.kernel.release,
        passes: t?.passes,
        failures: t?.failures,
        pending: t?.pending,
        seconds: o.boot.seconds,
        bootSeconds: o.boot.readySeconds,
      };
      if (t === undefined) outcome.problem = `no test summary (mocha exited ${o.exitStatus})`;
      else if (o.exitStatus !== 0 && t.failures === 0) outcome.problem = `mocha exited ${o.exitStatus}`;
      if (t) for (const f of t.tests.filter((x) => x.state === 'failed')) say(`kernel ${spec.name}: FAILED ${f.title} (${f.file}): ${f.error ?? ''}`);
    } catch (e) {
      if (!(e instanceof VmError) || e.code === 'NO_QEMU' || e.code === 'UNKNOWN_KERNEL') throw e;
      say(`kernel ${spec.name}: ${e.message}`);
      outcome = { kernel: spec.name, release: cachedKernel(spec.name)?.release, seconds: (Date.now() - started) / 1000, problem: e.code };
    }
    outcomes.push(outcome);
    if (json) process.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
  if (!json) process.stdout.write(`\n${formatTable(outcomes)}`);
  process.stdout.write(`${totalsLine(outcomes)}\n`);
  return outcomes.every(outcomeOk) ? 0 : 1;
}

/** A guest run's results for the flake report: its summary, or why there is none. */
export function flakeRunResult(run: { status: number; tests?: GuestTestSummary } | undefined): RunResult {
  if (run === undefined) return { tests: [], problem: 'never ran (the guest stopped before it)' };
  if (run.tests === undefined) return { tests: [], problem: `mocha exited ${run.status} without a test summary` };
  // The guest ran the .js twins of the .ts tests: name the files the user knows.
  return { tests: run.tests.tests.map((t) => ({ title: t.title, file: t.file.replace(/\.js$/, '.ts'), state: t.state, ...(t.error !== undefined ? { error: t.error } : {}) })) };
}

/**
 * Runs `tests` `runs` times in one boot per kernel (fresh mocha processes) and
 * reports, per kernel, each test whose result changed between runs.
 */
async function cmdFlake(list: string | undefined, tests: string, runs: number, timeoutSeconds: number, memoryMb: number | undefined, json: boolean): Promise<number> {
  qemuBinary();
  const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
  const mocha = guestMocha(tests, color);
  const command = `i=1; while [ "$i" -le ${runs} ]; do echo "vm-flake: run $i of ${runs}"; ${mocha}; s=$?; echo "TSBPF-VM-RUN-END status=$s" >"$TSBPF_VM_RESULTS"; i=$((i + 1)); done`;
  let clean = true;
  const reports: string[] = [];
  for (const spec of selectKernels(list)) {
    say(`kernel ${spec.name}: ${runs} runs of ${tests}`);
    const what = `${tests} on kernel ${spec.name}`;
    let results: RunResult[];
    try {
      const o = await runGuest(spec, { mode: 'test', command, env: testEnv(color) }, { timeoutSeconds, memoryMb, onConsole: consoleToStdout() });
      results = Array.from({ length: runs }, (_, i) => flakeRunResult(o.report.runs?.[i]));
    } catch (e) {
      if (!(e instanceof VmError) || e.code === 'NO_QEMU' || e.code === 'UNKNOWN_KERNEL') throw e;
      say(`kernel ${spec.name}: ${e.message}`);
      // The runs that finished before the deadline still count; the one it cut and those after it do not.
      const finished = e instanceof GuestTimeout ? e.report.runs ?? [] : [];
      results = Array.from({ length: runs }, (_, i) => (i < finished.length ? flakeRunResult(finished[i]) : { tests: [], problem: e.code }));
    }
    const report = compareRuns(results);
    clean &&= reportClean(report);
    if (json) process.stdout.write(`${JSON.stringify({ kernel: spec.name, ...reportJson(report, tests) })}\n`);
    else reports.push(formatReport(report, what));
  }
  if (!json) process.stdout.write(`\n${reports.join('')}`);
  return clean ? 0 : 1;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Boots each kernel `runs` times running `true`; reports host seconds to the command and guest uptime then. */
async function cmdBench(list: string | undefined, runs: number, memoryMb: number | undefined): Promise<number> {
  qemuBinary();
  const rows: string[] = [];
  for (const spec of selectKernels(list)) {
    const host: number[] = [];
    const guest: number[] = [];
    const total: number[] = [];
    let release = '?';
    let accel = '?';
    for (let i = 0; i < runs; i++) {
      const o = await runGuest(spec, { mode: 'run', command: 'true', env: {} }, { timeoutSeconds: 300, memoryMb });
      if (o.exitStatus !== 0 || o.boot.readySeconds === undefined || o.report.readyUptime === undefined) {
        throw new VmError('GUEST_FAILED', `kernel ${spec.name}: 'true' did not run cleanly (exit ${o.exitStatus})`);
      }
      release = o.kernel.release;
      accel = o.accel;
      host.push(o.boot.readySeconds);
      guest.push(o.report.readyUptime);
      total.push(o.boot.seconds);
      say(`kernel ${spec.name} run ${i + 1}/${runs}: command after ${o.boot.readySeconds.toFixed(2)} s (guest uptime ${o.report.readyUptime.toFixed(2)} s), ${o.boot.seconds.toFixed(2)} s in all`);
    }
    rows.push(`| ${spec.name} | ${release} | ${accel} | ${runs} | ${median(host).toFixed(1)} (${Math.min(...host).toFixed(1)}–${Math.max(...host).toFixed(1)}) | ${median(guest).toFixed(1)} | ${median(total).toFixed(1)} |`);
  }
  process.stdout.write('| kernel | release | accel | boots | host s to command, median (min–max) | guest uptime at command, s | boot + `true` + power-off, s |\n');
  process.stdout.write('|---|---|---|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`${r}\n`);
  return 0;
}

async function cmdShell(list: string | undefined, memoryMb: number | undefined, timeoutSeconds: number): Promise<number> {
  qemuBinary();
  const spec = firstKernel(list ?? kernels[0]!.name);
  const o = await runGuest(spec, { mode: 'shell', command: 'sh', env: {} }, { timeoutSeconds, memoryMb, interactive: true });
  return o.exitStatus;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parse(rest);
  if (command === undefined || command === 'help' || command === '--help' || values.help) {
    process.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  const memoryMb = values.memory === undefined ? undefined : positiveNumber(values.memory, '--memory', 2048);
  const kernelList = values.kernel === '' ? undefined : values.kernel;
  switch (command) {
    case 'list':
      return cmdList();
    case 'kernels':
      return cmdKernels(kernelList);
    case 'image':
      return cmdImage(kernelList);
    case 'run':
      return cmdRun(kernelList, values.cmd ?? positionals.join(' '), positiveNumber(values.timeout, '--timeout', 600), memoryMb);
    case 'test':
      return cmdTest(kernelList, values.tests || DEFAULT_TESTS, positiveNumber(values.timeout, '--timeout', 3600), memoryMb, values.json ?? false);
    case 'flake': {
      const runs = positiveNumber(values.runs, '--runs', 5);
      if (!Number.isInteger(runs)) throw new VmError('BAD_USAGE', `--runs must be a whole number, not '${values.runs}'`, 2);
      // A kill switch, not a budget: a whole kernel suite takes 3-5 minutes per run under TCG on a quiet host and
      // 35 on one at load 15; each run gets the kill switch of one `test`.
      return cmdFlake(kernelList, values.tests || DEFAULT_TESTS, runs, positiveNumber(values.timeout, '--timeout', 3600 * runs), memoryMb, values.json ?? false);
    }
    case 'shell':
      return cmdShell(kernelList, memoryMb, positiveNumber(values.timeout, '--timeout', 86400));
    case 'bench':
      return cmdBench(kernelList, positiveNumber(values.runs, '--runs', 3), memoryMb);
    case 'clean':
      rmSync(cacheDir(), { recursive: true, force: true });
      say(`removed ${cacheDir()}`);
      return 0;
    default:
      throw new VmError('BAD_USAGE', `unknown command '${command}'\n\n${usage}`, 2);
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      process.stderr.write(`vm: error: ${err.message}\n`);
      if (process.env.TSBPF_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = e instanceof VmError ? e.exitCode : 1;
    },
  );
}
