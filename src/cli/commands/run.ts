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
import { type Attached, attachProgram } from '../dsl-attach.js';
import { compileCached } from '../dsl-cache.js';
import { DslVerifierError, loadCompiledModule } from '../dsl-live.js';
import { decodeValue, formatDecoded, sumPerCpu } from '../dsl-values.js';
import { bold, CliError, dim, printJson, progress, red } from '../output.js';
import { parseSetting } from '../set-option.js';
import { reportCompileError } from './build.js';

export const help = `usage: tsbpf run MODULE.bpf.ts [--iface NAME] [--duration S] [--set NAME=VALUE]... [--json] [--no-cache]

Compiles a TypeScript module, loads it, attaches every exported program
(XDP and tcx on --iface, socket filters on a packet socket, cgroup skb on
the root cgroup, tracepoints, probes, perf events) and prints ring-buffer
events as they arrive. On Ctrl-C, or after --duration seconds, it detaches,
prints every map (per-CPU values summed) and exits 0.

options:
  --iface NAME      interface for XDP and tc programs
  --duration S      stop after S seconds (default: run until Ctrl-C)
  --set NAME=VALUE  set a rodata global before load
  --json            events and map entries as JSON lines
  --no-cache        compile even when a cached build matches
`;

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function printMaps(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>, json: boolean): void {
  for (const spec of mod.maps) {
    if (spec.kind === 'ringbuf') continue;
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

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      iface: { type: 'string' },
      duration: { type: 'string' },
      set: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'no-cache': { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [entry] = positionals;
  if (!entry || positionals.length > 1) throw new CliError('give one module: tsbpf run MODULE.bpf.ts', 2);
  const json = Boolean(values.json);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0)) throw new CliError(`--duration must be a positive number of seconds`, 2);

  let mod: CompiledModule;
  try {
    const c = await compileCached(entry, { cache: !values['no-cache'] });
    mod = c.module;
    progress(c.cached ? 'using cached build' : 'compiled');
  } catch (e) {
    if (e instanceof CompileError) return reportCompileError(e, json);
    throw e;
  }

  let live;
  try {
    live = loadCompiledModule(mod, { rodata: Object.fromEntries((values.set ?? []).map((s) => parseSetting(s, false))) });
  } catch (e) {
    if (e instanceof DslVerifierError) {
      process.stderr.write(`${red('error')}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const attached: Attached[] = [];
  const readers: RingBufReader[] = [];
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolveStop) => (stop = resolveStop));
  const onSignal = () => stop();
  try {
    for (const p of mod.programs) {
      let a: Attached;
      try {
        a = attachProgram(p, live.programs.get(p.name)!, values.iface !== undefined ? { iface: values.iface } : {});
      } catch (e) {
        // Name the program's declaration: the module is where the user fixes a wrong target.
        if (!p.declaredAt || !(e instanceof Error)) throw e;
        const at = `${p.declaredAt.file}:${p.declaredAt.line}:${p.declaredAt.column}`;
        throw new CliError(`${at}: cannot attach ${p.name}: ${e.message}`, (e as { exitCode?: number }).exitCode ?? 1);
      }
      attached.push(a);
      if (json) printJson({ attached: p.name, where: a.where });
      else process.stderr.write(`${dim(`attached ${p.name} to ${a.where}`)}\n`);
    }
    if (!json) process.stderr.write(dim(duration ? `running for ${duration}s…\n` : 'running; Ctrl-C to stop…\n'));
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
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
    // Ring buffers: print events as they come.
    let running = true;
    const pumps = mod.maps.filter((m) => m.kind === 'ringbuf').map(async (spec) => {
      const reader = new RingBufReader(live.maps.get(spec.name)!);
      readers.push(reader);
      const print = eventPrinter(spec, json);
      while (running) {
        await reader.poll(print, 200);
      }
      reader.consume(print);
    });
    await stopped;
    running = false;
    clearTimeout(timer!);
    await Promise.all(pumps);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const a of attached.reverse()) a.close();
    for (const r of readers) r.close();
  }
  printMaps(mod, live.maps, json);
  live.close();
  return 0;
}
