/**
 * `tsbpf run module.bpf.ts [--iface NAME] [--duration S]`: compile (cached),
 * load, attach every exported program, print ring-buffer events as they
 * arrive; on Ctrl-C or after the duration, detach and print every map
 * (per-CPU values summed), then exit 0.
 */
import { parseArgs } from 'node:util';
import type { CompiledMap, CompiledModule } from '../../dsl/compiler/compile.js';
import { CompileError } from '../../dsl/compiler/diagnostics.js';
import type { BpfMap } from '../../kernel/map.js';
import { RingBufReader } from '../../kernel/ringbuf-reader.js';
import { PerfEventReader } from '../perf-events.js';
import { sizeOf } from '../../dsl/compiler/ctypes.js';
import { compileCached } from '../dsl-cache.js';
import { DslVerifierError, loadCompiledModule, tailCallTargets } from '../dsl-live.js';
import { isDumpable } from '../../dsl/compiler/map-kinds.js';
import { decodeValue, formatDecoded, sumPerCpu } from '../dsl-values.js';
import { drainRemaining, pumpRing, type PumpedRing, type StopSignal, untilDrained } from '../event-pump.js';
import { bold, CliError, dim, errColor, escapeControl, indicator, printJson, progress } from '../output.js';
import { ringbufDropReader } from '../ringbuf-drops.js';
import { parseGlobalSetting, parseSetting } from '../set-option.js';
import { reportCompileError } from './build.js';
import { classifyRunInput } from '../run-input.js';
import { writeOneLiner } from '../run-eval.js';
import { readFileOrStdin } from '../input-file.js';
import { openObjectSession } from '../run-object-session.js';
import type { RunSession, SessionRing } from '../run-session.js';
import { moduleHandles } from '../../module/load-module.js';
import { exportsMain, importUserMain, parseModuleArgs } from '../run-main.js';
import { clearMaps, everyInterval, printGlobals, printHistograms } from '../run-output.js';

/** Maps, histograms and globals: what run prints at exit and every --interval. */
function printAll(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>, json: boolean): void {
  printMaps(mod, maps, json);
  printHistograms(mod, maps, json);
  printGlobals(mod, maps, json);
}

/**
 * Starts the module's main with typed handles and the arguments after `--`;
 * when it settles, run stops (a throw is reported and makes the exit status 1).
 * Returns what to do at stop: abort main's signal, end its event streams, await it.
 */
async function startUserMain(entry: string, handles: ReturnType<typeof moduleHandles>, argv: string[], stop: () => void): Promise<() => Promise<void>> {
  const { main, options } = await importUserMain(entry);
  const abort = new AbortController();
  const args = parseModuleArgs(argv, options, abort.signal);
  const running = (async () => main(handles, args))().then(
    () => stop(),
    (e: unknown) => {
      process.exitCode = 1;
      process.stderr.write(`${errColor.red('error')}: main: ${e instanceof Error ? (process.env.TSBPF_DEBUG === '1' ? e.stack : e.message) : String(e)}\n`);
      stop();
    },
  );
  return async () => {
    abort.abort();
    for (const s of Object.values(handles.events) as Array<{ close(): void }>) s.close();
    await running;
  };
}

export const help = `usage: tsbpf run MODULE.bpf.ts [options] [-- MODULE ARGS...]
       tsbpf run OBJECT.o [options]

Compiles a TypeScript module, loads it, attaches every exported program
(XDP and tcx on --iface, socket filters on a packet socket, cgroup skb on
the root cgroup, tracepoints, probes, perf events) and prints ring-buffer
events as they arrive. On Ctrl-C, or after --duration seconds, it detaches,
prints every map (per-CPU values summed) and exits 0; a second Ctrl-C exits
at once. Events are read in slices that keep Ctrl-C and --duration prompt
under a flood; while standard output is not taking more, reading pauses and
the events the programs cannot put into the full ring are counted and
reported as lost (every second, and in all at the end).

Histograms (log2Hist, linearHist) print as bpftrace prints hist() and
lhist(); globals print at exit as @name: value. A module that exports
main(live, args) has it called once attached, with typed handles and the
arguments after --; when main returns, run detaches and exits.

A BPF ELF object (as clang builds it) is loaded with libbpf's conventions
and each program attached by its SEC() name as libbpf's auto-attach does;
ring-buffer records print as hex, maps and globals through the object's
BTF. The input's kind is read from its first bytes: anything else (C
source, an empty file, a directory) is named in one line.

options:
  --iface NAME      interface for XDP and tc programs
  --cgroup PATH     cgroup v2 directory for cgroup programs (default: the root)
  --duration S      stop after S seconds (default: run until Ctrl-C)
  --interval S      print the maps every S seconds (with a time stamp)
  --clear           with --interval: empty the maps after each print
  --set NAME=VALUE  set a global before load
  --log-level N     verifier log level (1, 2): the log is printed on success, and in full on a rejection
  --log-size BYTES  largest verifier log to fetch (default 1 GiB; a log that does not fit is shown truncated)
  --json            events and map entries as JSON lines
  --no-cache        compile even when a cached build matches
  -e SOURCE         a one-liner: module source with the module language in scope
                    and its top-level consts exported; '-' instead of a file
                    reads a module from standard input

  tsbpf run -e "const opens = hashMap<CStr<16>, u64>({ maxEntries: 1024 }); const p = tracepoint('syscalls/sys_enter_openat', () => { let c!: CStr<16>; bpf.currentComm(c); opens.increment(c); return 0; });"
`;

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** How often lost events are reported while running. */
const LOST_REPORT_MS = 1000;
/** After a stop: time left to print the events still in the rings, and for stdout to take the rest. */
const FINAL_DRAIN_MS = 50;
const FINAL_FLUSH_MS = 20;

function printMaps(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>, json: boolean): void {
  for (const spec of mod.maps) {
    if (!isDumpable(spec.kind) || spec.histogram) continue;
    const m = maps.get(spec.name);
    if (!m) continue;
    const entries: Array<[string, string, unknown, unknown]> = [];
    for (const [k, v] of m) {
      const value = m.isPerCpu ? sumPerCpu(m.splitPerCpu(v).map((p) => p.subarray(0, spec.valueSize)), spec.value) : v.subarray(0, spec.valueSize);
      if (!value.some((x) => x !== 0)) continue;
      const key = decodeValue(k, spec.key!);
      const val = decodeValue(value, spec.value);
      entries.push([formatDecoded(key), formatDecoded(val), key, val]);
    }
    if (json) {
      for (const [, , key, value] of entries) printJson({ map: spec.name, key, value });
      continue;
    }
    process.stdout.write(`${bold(spec.name)} ${dim(`(${spec.kind}, ${entries.length} non-zero entr${entries.length === 1 ? 'y' : 'ies'})`)}\n`);
    entries.sort((a, b) => (a[0].length - b[0].length) || (a[0] < b[0] ? -1 : 1));
    for (const [k, v] of entries) process.stdout.write(`  ${k} → ${v}\n`);
  }
}

function eventPrinter(spec: CompiledMap, json: boolean): (bytes: Uint8Array) => void {
  return (bytes) => {
    const v = decodeValue(bytes, spec.value);
    if (json) printJson({ event: spec.name, value: v });
    else process.stdout.write(`${dim(spec.name)} ${formatDecoded(v)}\n`);
  };
}

export async function run(argvAll: string[]): Promise<number> {
  // Everything after `--` belongs to the module's main.
  const dashes = argvAll.indexOf('--');
  const argv = dashes < 0 ? argvAll : argvAll.slice(0, dashes);
  const moduleArgv = dashes < 0 ? [] : argvAll.slice(dashes + 1);
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      iface: { type: 'string' },
      cgroup: { type: 'string' },
      duration: { type: 'string' },
      interval: { type: 'string' },
      clear: { type: 'boolean' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'log-size': { type: 'string' },
      json: { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      eval: { type: 'string', short: 'e' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.eval !== undefined && positionals.length > 0) throw new CliError('give -e SOURCE or a file, not both', 2);
  if (values.eval === undefined && (positionals.length !== 1 || !positionals[0])) throw new CliError('give one module: tsbpf run MODULE.bpf.ts (or a BPF object: tsbpf run X.o, a one-liner: tsbpf run -e SOURCE, a module on standard input: tsbpf run -)', 2);
  // A one-liner or a module on standard input becomes a module file of its own for the run.
  const source = values.eval ?? (positionals[0] === '-' ? new TextDecoder().decode(await readFileOrStdin('-')) : undefined);
  if (source !== undefined && !source.trim()) throw new CliError(values.eval !== undefined ? '-e: the source is empty' : 'standard input is empty: pipe a module into tsbpf run -', 2);
  const oneLiner = source === undefined ? undefined : writeOneLiner(source);
  try {
    return await runEntry(oneLiner?.path ?? positionals[0]!, values, moduleArgv, oneLiner !== undefined);
  } finally {
    oneLiner?.remove();
  }
}

type RunValues = { iface?: string; cgroup?: string; duration?: string; interval?: string; clear?: boolean; set?: string[]; 'log-level'?: string; 'log-size'?: string; json?: boolean; 'no-cache'?: boolean };

async function runEntry(entry: string, values: RunValues, moduleArgv: string[], oneLiner: boolean): Promise<number> {
  const json = Boolean(values.json);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) throw new CliError(`--duration must be a positive number of seconds`, 2);
  const interval = values.interval === undefined ? undefined : Number(values.interval);
  if (interval !== undefined && !(interval > 0)) throw new CliError(`--interval must be a positive number of seconds`, 2);
  if (values.clear && interval === undefined) throw new CliError('--clear goes with --interval S', 2);
  const logLevel = values['log-level'] === undefined ? undefined : Number(values['log-level']);
  if (logLevel !== undefined && ![0, 1, 2, 3].includes(logLevel)) throw new CliError('--log-level must be 0, 1, 2 or 3', 2);
  const logSize = values['log-size'] === undefined ? undefined : Number(values['log-size']);
  if (logSize !== undefined && !(Number.isInteger(logSize) && logSize >= 128)) throw new CliError('--log-size must be a number of bytes, at least 128', 2);
  const input = classifyRunInput(entry, 'run');

  let session: RunSession;
  if (input.kind === 'object') {
    try {
      session = openObjectSession(entry, {
        set: Object.fromEntries((values.set ?? []).map((s) => parseSetting(s, true))),
        json,
        ...(logLevel ? { logLevel } : {}),
        ...(logSize ? { logSize } : {}),
        ...(values.iface !== undefined ? { iface: values.iface } : {}),
        ...(values.cgroup !== undefined ? { cgroup: values.cgroup } : {}),
      });
    } catch (e) {
      if (e instanceof DslVerifierError) return reportRejection(e, logLevel);
      throw e;
    }
  } else {
    const opened = await openModuleSession(entry, { values: oneLiner ? { ...values, 'no-cache': true } : values, json, logLevel, logSize, moduleArgv });
    if (typeof opened === 'number') return opened;
    session = opened;
  }
  try {
    return await runSession(session, { json, duration, interval, clear: Boolean(values.clear), logLevel });
  } finally {
    session.close();
  }
}

/** A program the verifier refused: with --log-level its whole log first, then the error at the source line. */
function reportRejection(e: DslVerifierError, logLevel: number | undefined): number {
  if (logLevel) process.stderr.write(`${errColor.dim(`verifier log of ${e.program}:`)}\n${escapeControl(e.verifier.log)}\n`);
  process.stderr.write(`${errColor.red('error')}: ${escapeControl(e.message)}\n`);
  return 1;
}

interface ModuleSessionOptions {
  values: { iface?: string; cgroup?: string; set?: string[]; 'no-cache'?: boolean };
  json: boolean;
  logLevel: number | undefined;
  logSize: number | undefined;
  moduleArgv: string[];
}

/** Compiles (cached) and loads a .bpf.ts module; an exit status when it does not compile or load. */
async function openModuleSession(entry: string, o: ModuleSessionOptions): Promise<RunSession | number> {
  const { values, json, logLevel, logSize } = o;
  const userMain = exportsMain(entry) ? entry : undefined;
  let mod: CompiledModule;
  try {
    indicator.start(`compiling ${entry}…`);
    const c = await compileCached(entry, { cache: !values['no-cache'] });
    mod = c.module;
    progress(c.cached ? 'using cached build' : 'compiled');
  } catch (e) {
    if (e instanceof CompileError) return reportCompileError(e, json);
    throw e;
  }

  let live;
  try {
    live = loadCompiledModule(mod, { rodata: Object.fromEntries((values.set ?? []).map((s) => parseGlobalSetting(s))), ...(logLevel ? { logLevel } : {}), ...(logSize ? { logSize } : {}) });
  } catch (e) {
    if (e instanceof DslVerifierError) return reportRejection(e, logLevel);
    throw e;
  }
  // The handles main gets (and through which run attaches, so that main's detach/attach are the same links).
  const handles = moduleHandles(mod, live, { ...(values.iface !== undefined ? { iface: values.iface } : {}), ...(values.cgroup !== undefined ? { cgroup: values.cgroup } : {}) });
  const rings: SessionRing[] = userMain ? [] : mod.maps.filter((m) => m.kind === 'ringbuf').map((spec) => ({ name: spec.name, reader: new RingBufReader(live.maps.get(spec.name)!), print: eventPrinter(spec, json) }));
  // Perf event arrays: printed like ring-buffer events; the kernel's lost-sample counts join the lost events.
  const perf = userMain ? [] : mod.maps.filter((m) => m.kind === 'perf_event_array').map((spec) => ({ name: spec.name, reader: new PerfEventReader(live.maps.get(spec.name)!, sizeOf(spec.event!)), print: eventPrinter({ ...spec, value: spec.event! }, json) }));
  rings.push(...perf);
  const ringLost = ringbufDropReader(mod, live.maps);
  const lost = () => {
    const counts = ringLost();
    for (const p of perf) counts.set(p.name, BigInt(p.reader.lost));
    return counts;
  };
  // Programs a prog array holds are reached by tail calls, not attached.
  const targets = tailCallTargets(mod);
  return {
    programs: mod.programs.filter((p) => !targets.has(p.name)).map((p) => {
      const h = handles.programs[p.name]!;
      return {
        name: p.name,
        ...(p.declaredAt ? { declaredAt: `${p.declaredAt.file}:${p.declaredAt.line}:${p.declaredAt.column}` } : {}),
        attach: () => {
          h.attach();
          return h.attachedTo!;
        },
        detach: () => h.detach(),
      };
    }),
    rings,
    printAll: (asJson) => {
      if (!userMain) printAll(mod, live.maps, asJson);
    },
    clear: () => clearMaps(mod, live.maps),
    lost,
    ...(userMain ? { startMain: (stop: () => void) => startUserMain(userMain, handles, o.moduleArgv, stop) } : {}),
    verifierLogs: () => [...live.programs].map(([name, p]) => [name, p.verifierLog ?? '']),
    close: () => {
      for (const r of rings) r.reader.close();
      handles.close();
    },
  };
}

interface LoopOptions {
  json: boolean;
  duration: number | undefined;
  interval: number | undefined;
  clear: boolean;
  logLevel: number | undefined;
}

/** Attaches, prints events until Ctrl-C, --duration or main's return, detaches, prints the maps. */
async function runSession(session: RunSession, { json, duration, interval, clear, logLevel }: LoopOptions): Promise<number> {
  if (logLevel) for (const [name, log] of session.verifierLogs()) process.stderr.write(`${errColor.dim(`verifier log of ${name}:`)}\n${escapeControl(log)}\n`);
  const attached: Array<() => void> = [];
  const rings: PumpedRing[] = [];
  let stopped = false;
  let stop: () => void = () => {};
  const whenStopped = new Promise<void>((resolveStop) => (stop = () => {
    stopped = true;
    resolveStop();
  }));
  const stopSignal: StopSignal = { get stopped() { return stopped; }, whenStopped };
  // The first Ctrl-C stops cleanly (detach, print maps); a second one exits at once.
  const onSignal = () => {
    if (stopped) process.exit(130);
    if (!json) process.stderr.write(errColor.dim('stopping…\n'));
    stop();
  };
  const onStop: Array<() => unknown> = [];
  const lost = new LostEvents(session.lost, json);
  let lostTimer: NodeJS.Timeout | undefined;
  const detach = () => {
    for (const d of attached.reverse()) d();
    attached.length = 0;
  };
  // Listen before attaching: someone who sees "attached" and sends Ctrl-C or
  // SIGTERM at once must get the maps, not a process killed by the signal.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const p of session.programs) {
      let where: string;
      try {
        where = p.attach();
      } catch (e) {
        // Name the program's declaration: the module is where the user fixes a wrong target.
        if (!p.declaredAt || !(e instanceof Error)) throw e;
        throw new CliError(`${p.declaredAt}: cannot attach ${p.name}: ${e.message}`, (e as { exitCode?: number }).exitCode ?? 1);
      }
      attached.push(() => p.detach());
      if (json) printJson({ attached: p.name, where });
      else process.stderr.write(`${errColor.dim(`attached ${p.name} to ${where}`)}\n`);
    }
    if (!json) process.stderr.write(errColor.dim(duration ? `running for ${duration}s…\n` : 'running; Ctrl-C to stop…\n'));
    // setTimeout holds at most 2^31-1 ms (~24.8 days): re-arm until the deadline.
    // Without --duration the deadline is never reached, and the re-armed timer
    // is what keeps Node's event loop alive until Ctrl-C when no ring buffer does.
    const deadline = duration ? Date.now() + duration * 1000 : Infinity;
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = deadline - Date.now();
      timer = left > MAX_TIMEOUT_MS ? setTimeout(arm, MAX_TIMEOUT_MS) : setTimeout(stop, Math.max(left, 0));
    };
    arm();
    lostTimer = setInterval(() => lost.report(), LOST_REPORT_MS);
    const stopInterval = interval === undefined ? undefined : everyInterval(interval, json, () => session.printAll(json), clear ? () => session.clear() : undefined);
    onStop.push(() => stopInterval?.());
    if (session.startMain) onStop.push(await session.startMain(stop));
    // Ring buffers: print events as they come, in slices, with back-pressure (event-pump.ts); main reads its own.
    for (const r of session.rings) rings.push({ reader: r.reader, print: r.print });
    const pumps = rings.map((ring) => pumpRing(ring, process.stdout, stopSignal));
    await whenStopped;
    for (const f of onStop) await f();
    clearTimeout(timer!);
    await Promise.all(pumps);
    // Nothing new arrives once detached: print what is left, within the stop budget.
    detach();
    drainRemaining(rings, process.stdout, FINAL_DRAIN_MS);
  } finally {
    clearInterval(lostTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    detach();
  }
  lost.report(true);
  session.printAll(json);
  // A stalled reader of our output must not keep a stopped run alive: give it
  // a moment to take the rest, then drop what it did not.
  await untilDrained(process.stdout, FINAL_FLUSH_MS);
  if (process.stdout.writableNeedDrain) {
    process.stderr.write(`${errColor.dim(`standard output is not being read: ${process.stdout.writableLength} bytes of output dropped`)}\n`);
    // process.stdout cannot be closed (its destroy() is a no-op), and a pending write keeps Node alive.
    process.exit(0);
  }
  return 0;
}

/** Reports events the programs could not put into a full ring: as they grow while running, and in total at the end. */
class LostEvents {
  readonly #reported = new Map<string, bigint>();
  constructor(readonly read: () => Map<string, bigint>, readonly json: boolean) {}

  report(final = false): void {
    let counts: Map<string, bigint>;
    try {
      counts = this.read();
    } catch {
      return; // the maps are closed: nothing more to say
    }
    for (const [ring, total] of counts) {
      const before = this.#reported.get(ring) ?? 0n;
      if (final ? total === 0n : total === before) continue;
      this.#reported.set(ring, total);
      if (this.json) printJson(final ? { lost: total, ring, final: true } : { lost: total - before, ring, total });
      else process.stderr.write(`${errColor.yellow('lost')} ${final ? total : total - before} events from ${ring}${final ? ' in all' : ` (${total} in all)`}: the ring was full (output too slow or ring too small)\n`);
    }
  }
}
