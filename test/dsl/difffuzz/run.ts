/**
 * Runs printed units three ways and compares them: (a) the reference
 * evaluator (tsbpf/eval) on the module's TypeScript, (b) the compiled
 * program in the interpreter (src/interp), (c) the compiled program in the
 * kernel through BPF_PROG_TEST_RUN. Many units share one module, so one
 * ts-morph check and one compile serve a whole batch, and the kernel loads
 * its sample of a batch at once.
 */
import { dslRoot } from '../../../src/cli/dsl-host.js';
import { loadCompiledModule, relocate } from '../../../src/cli/dsl-live.js';
import { encode } from '../../../src/asm/codec.js';
import { compile, type CompiledModule } from '../../../src/dsl/compiler/compile.js';
import { CompileError } from '../../../src/dsl/compiler/diagnostics.js';
import { EvalError, ModuleEvaluator } from '../../../src/dsl/eval/index.js';
import { decodeProgram, runSync } from '../../../src/interp/index.js';
import type { BpfMap } from '../../../src/kernel/map.js';
import { RingBufReader } from '../../../src/kernel/ringbuf-reader.js';
import { onOneCpu } from '../../support/cpu-affinity.js';
import { InterpMaps, memoryHost, MODULE_DIR } from '../support/harness.js';
import { MODULE_IMPORTS, paddingMask, type PrintedUnit } from './print.js';

/** What one unit did over its packets, in a shape the three ways share. */
export interface Outcome {
  /** Per run: the return value (low 32 bits, as the kernel reports it), the packet after, the events submitted. */
  runs: Array<{ r0: number; packet: string; events: string[] }>;
  /** Every map's entries after the last run (arrays: every slot), sorted by key. */
  maps: Record<string, string[]>;
  globals: Record<string, string>;
  /** The run stopped: an evaluator error, an interpreter fault, a verifier rejection. */
  error?: string;
}

export type Way = 'eval' | 'interp' | 'kernel';

export interface UnitResult {
  unit: PrintedUnit;
  /** The compiler's diagnostics, when it rejected the unit. */
  compileError?: string;
  eval: Outcome;
  interp?: Outcome;
  kernel?: Outcome;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Event bytes with the padding the program never writes masked out (the kernel does not clear a reservation). */
function eventHex(unit: PrintedUnit, bytes: Uint8Array): string {
  const mask = unit.ring ? paddingMask(unit.ring.struct) : [];
  return Array.from(bytes, (b, i) => (mask[i] ? '..' : b.toString(16).padStart(2, '0'))).join('');
}

export function moduleSource(units: PrintedUnit[]): string {
  return `${MODULE_IMPORTS}\n${units.map((u) => u.source).join('\n')}`;
}

const ENTRY = `${MODULE_DIR}/m.bpf.ts`;

function compileModule(source: string): CompiledModule {
  return compile({ entry: ENTRY, host: memoryHost({ 'm.bpf.ts': source }), dslRoot });
}

/** The line ranges of each unit in moduleSource's text, to give each diagnostic to its unit. */
function unitLines(units: PrintedUnit[]): Array<[number, number]> {
  let line = MODULE_IMPORTS.split('\n').length + 1;
  return units.map((u) => {
    const n = u.source.split('\n').length - 1;
    const range: [number, number] = [line, line + n - 1];
    line += n + 1;
    return range;
  });
}

/**
 * Compiles the units as one module. A unit the compiler rejects is taken
 * out (with its diagnostics) and the rest compiled again.
 */
export function compileUnits(units: PrintedUnit[]): { mod?: CompiledModule; source: string; rejected: Map<PrintedUnit, string> } {
  const rejected = new Map<PrintedUnit, string>();
  let live = units;
  for (;;) {
    const source = moduleSource(live);
    try {
      return { mod: compileModule(source), source, rejected };
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      const ranges = unitLines(live);
      const blamed = new Set<PrintedUnit>();
      for (const d of e.diagnostics) {
        const i = ranges.findIndex(([a, b]) => d.line >= a && d.line <= b);
        const u = i >= 0 ? live[i]! : undefined;
        const text = `${d.line - (i >= 0 ? ranges[i]![0] - 1 : 0)}:${d.column}: ${d.code}: ${d.message}`;
        if (u) {
          blamed.add(u);
          rejected.set(u, rejected.has(u) ? `${rejected.get(u)}\n${text}` : text);
        }
      }
      // A unit that compiles alone was blamed for another's mistake (a diagnostic leaking across programs): it goes back.
      if (blamed.size > 1) {
        for (const u of [...blamed]) {
          try {
            compileModule(moduleSource([u]));
            blamed.delete(u);
            rejected.delete(u);
          } catch {
            // rejected alone too
          }
        }
      }
      // A diagnostic outside every unit, or one only the company causes: blame them all.
      if (blamed.size === 0) for (const u of live) rejected.set(u, e.message);
      live = live.filter((u) => !rejected.has(u));
      if (live.length === 0) return { source, rejected };
    }
  }
}

// ------------------------------------------------------------ (a) the evaluator

type EvalState = ReturnType<ModuleEvaluator['newState']>;

/** The units an evaluator error points into (all of them when it points nowhere). */
function blamedBy(e: unknown, live: PrintedUnit[]): Set<PrintedUnit> {
  const lines = e instanceof CompileError ? e.diagnostics.map((d) => d.line) : e instanceof EvalError && e.where ? [e.where.line] : [];
  const ranges = unitLines(live);
  const blamed = new Set<PrintedUnit>();
  for (const line of lines) {
    const i = ranges.findIndex(([a, b]) => line >= a && line <= b);
    if (i >= 0) blamed.add(live[i]!);
  }
  return blamed.size > 0 ? blamed : new Set(live);
}

/**
 * Opens the units' module in the evaluator and its state (which checks every
 * program); a unit the evaluator refuses is left out, with its error, and the
 * rest opened again.
 */
function openEval(units: PrintedUnit[], out: Map<PrintedUnit, Outcome>): { ev?: ModuleEvaluator; state?: EvalState; live: PrintedUnit[] } {
  let live = units;
  while (live.length > 0) {
    try {
      const ev = ModuleEvaluator.open({ entry: ENTRY, host: memoryHost({ 'm.bpf.ts': moduleSource(live) }), dslRoot });
      return { ev, state: ev.newState(), live };
    } catch (e) {
      const blamed = blamedBy(e, live);
      for (const u of blamed) out.set(u, { runs: [], maps: {}, globals: {}, error: `evaluator: ${(e as Error).message}` });
      live = live.filter((u) => !blamed.has(u));
    }
  }
  return { live };
}

/** The events a unit's ring buffer got since the last call (none when no program reserves from it). */
function ringEvents(state: EvalState, u: PrintedUnit): string[] {
  try {
    return state.events(u.ring!.name).map((b) => eventHex(u, b));
  } catch {
    return [];
  }
}

export function runEval(units: PrintedUnit[]): Map<PrintedUnit, Outcome> {
  const out = new Map<PrintedUnit, Outcome>();
  const { ev, state, live } = openEval(units, out);
  if (!ev || !state) return out;
  for (const u of live) {
    const o: Outcome = { runs: [], maps: {}, globals: {} };
    try {
      for (const pkt of u.packets) {
        const r = ev.run(u.program, { packet: pkt, state, budget: 2_000_000 });
        o.runs.push({ r0: Number(BigInt.asUintN(32, r.r0)), packet: hex(r.packet!), events: u.ring ? ringEvents(state, u) : [] });
      }
      for (const m of u.maps) {
        let entries: Array<[Uint8Array, Uint8Array]>;
        try {
          entries = state.mapEntries(m);
        } catch {
          continue; // a map no program uses
        }
        o.maps[m] = entries.map(([k, v]) => `${hex(k)}:${hex(v)}`).sort();
      }
      for (const g of u.globals) {
        try {
          o.globals[g] = state.global(g).toString();
        } catch {
          // a global no program uses
        }
      }
    } catch (e) {
      o.error = e instanceof EvalError ? `evaluator: ${e.code}: ${e.message}` : `evaluator crashed: ${(e as Error).stack ?? e}`;
    }
    out.set(u, o);
  }
  return out;
}

// ------------------------------------------------------------ (b) the interpreter

function globalValues(mod: CompiledModule, names: string[], bytesOf: (section: string) => Uint8Array | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of mod.data) {
    const bytes = bytesOf(d.name);
    if (!bytes) continue;
    for (const v of d.variables) {
      if (!names.includes(v.name)) continue;
      let x = 0n;
      for (let i = v.size - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[v.offset + i]!);
      out[v.name] = (v.signed ? BigInt.asIntN(v.size * 8, x) : x).toString();
    }
  }
  return out;
}

export function runInterp(mod: CompiledModule, units: PrintedUnit[]): Map<PrintedUnit, Outcome> {
  const maps = new InterpMaps(mod);
  const fakeMaps = new Map<string, { fd: number }>([...maps.fds].map(([n, fd]) => [n, { fd }]));
  const out = new Map<PrintedUnit, Outcome>();
  for (const u of units) {
    const o: Outcome = { runs: [], maps: {}, globals: {} };
    try {
      const p = mod.programs.find((x) => x.name === u.program)!;
      const program = decodeProgram(encode(relocate(p, fakeMaps as unknown as Map<string, BpfMap>)));
      for (const pkt of u.packets) {
        const r = runSync(program, { xdp: { packet: pkt.slice() }, maps: maps.byFd });
        const ring = u.ring ? maps.rings.get(u.ring.name) : undefined;
        o.runs.push({ r0: Number(BigInt.asUintN(32, r.r0)), packet: hex(r.packet ?? pkt), events: ring ? ring.drain().map((b) => eventHex(u, b)) : [] });
      }
      for (const m of u.maps) {
        const im = maps.byName.get(m);
        if (im) o.maps[m] = [...im.keys()].map((k) => `${hex(k)}:${hex(im.lookup(k)!)}`).sort();
      }
      o.globals = globalValues(mod, u.globals, (s) => maps.byName.get(s)?.lookup(new Uint8Array(4)));
    } catch (e) {
      o.error = `interpreter: ${(e as Error).message}`;
    }
    out.set(u, o);
  }
  return out;
}

// ------------------------------------------------------------ (c) the kernel

/** The module cut down to some programs and the maps they refer to. */
function subModule(mod: CompiledModule, units: PrintedUnit[]): CompiledModule {
  const names = new Set(units.map((u) => u.program));
  const programs = mod.programs.filter((p) => names.has(p.name));
  const maps = new Set(programs.flatMap((p) => p.instructions.map((i) => i.reference).filter((r) => r !== undefined)));
  return { ...mod, programs, maps: mod.maps.filter((m) => maps.has(m.name)) };
}

function kernelMapEntries(m: BpfMap, valueSize: number): string[] {
  const out: string[] = [];
  for (const [k, v] of m) {
    let value: Uint8Array;
    if (m.isPerCpu) {
      // The run is pinned to one CPU; the other CPUs' slots stay zero.
      value = new Uint8Array(valueSize);
      for (const part of m.splitPerCpu(v)) for (let i = 0; i < valueSize; i++) value[i]! |= part[i]!;
    } else value = v.slice(0, valueSize);
    out.push(`${hex(k)}:${hex(value)}`);
  }
  return out.sort();
}

function runKernelLoaded(mod: CompiledModule, sub: CompiledModule, units: PrintedUnit[], out: Map<PrintedUnit, Outcome>): void {
  const live = loadCompiledModule(sub);
  try {
    for (const u of units) {
      const o: Outcome = { runs: [], maps: {}, globals: {} };
      const ringMap = u.ring ? live.maps.get(u.ring.name) : undefined;
      const ring = ringMap ? new RingBufReader(ringMap) : undefined;
      try {
        const prog = live.programs.get(u.program)!;
        for (const pkt of u.packets) {
          const r = prog.testRun({ data: pkt });
          const events: string[] = [];
          ring?.consume((v) => events.push(eventHex(u, v.slice())));
          o.runs.push({ r0: r.retval >>> 0, packet: hex(r.dataOut ?? pkt), events });
        }
        for (const m of u.maps) {
          const spec = mod.maps.find((x) => x.name === m);
          const km = live.maps.get(m);
          if (spec && km) o.maps[m] = kernelMapEntries(km, spec.valueSize);
        }
        o.globals = globalValues(mod, u.globals, (s) => live.maps.get(s)?.lookup(new Uint8Array(4)));
      } finally {
        ring?.close();
      }
      out.set(u, o);
    }
  } finally {
    live.close();
  }
}

/** Runs units in the kernel: loaded together, or one by one when the verifier rejects one of them. */
export function runKernel(mod: CompiledModule, units: PrintedUnit[]): Map<PrintedUnit, Outcome> {
  const out = new Map<PrintedUnit, Outcome>();
  if (units.length === 0) return out;
  onOneCpu(() => {
    try {
      runKernelLoaded(mod, subModule(mod, units), units, out);
    } catch {
      for (const u of units) {
        try {
          runKernelLoaded(mod, subModule(mod, [u]), [u], out);
        } catch (e) {
          out.set(u, { runs: [], maps: {}, globals: {}, error: `kernel: ${(e as Error).message}` });
        }
      }
    }
  });
  return out;
}

// ------------------------------------------------------------ comparing

export interface Disagreement {
  /** Which ways differ and in what ("eval/interp r0"), the same through shrinking. */
  kind: string;
  detail: string;
}

function firstDifference(a: Outcome, b: Outcome): { what: string; detail: string } | undefined {
  if (a.error !== undefined || b.error !== undefined) {
    if (a.error === b.error) return undefined;
    return { what: 'error', detail: `${a.error ?? '(none)'}\n  vs ${b.error ?? '(none)'}` };
  }
  for (let i = 0; i < Math.max(a.runs.length, b.runs.length); i++) {
    const x = a.runs[i];
    const y = b.runs[i];
    if (!x || !y) return { what: 'runs', detail: `${a.runs.length} runs vs ${b.runs.length}` };
    if (x.r0 !== y.r0) return { what: 'r0', detail: `run ${i}: r0 ${x.r0} vs ${y.r0}` };
    if (x.packet !== y.packet) return { what: 'packet', detail: `run ${i}: packet\n  ${x.packet}\n  ${y.packet}` };
    if (JSON.stringify(x.events) !== JSON.stringify(y.events)) return { what: 'events', detail: `run ${i}: events\n  ${JSON.stringify(x.events)}\n  ${JSON.stringify(y.events)}` };
  }
  for (const m of new Set([...Object.keys(a.maps), ...Object.keys(b.maps)])) {
    // A map no program uses is left out by the compiler: it is as good as empty (arrays: zero slots).
    const zeroes = (e: string[] | undefined) => e === undefined || e.every((x) => /:0*$/.test(x));
    if (a.maps[m] === undefined || b.maps[m] === undefined) {
      if (zeroes(a.maps[m]) && zeroes(b.maps[m])) continue;
    }
    const x = JSON.stringify(a.maps[m] ?? []);
    const y = JSON.stringify(b.maps[m] ?? []);
    if (x !== y) return { what: 'maps', detail: `map ${m}\n  ${x}\n  ${y}` };
  }
  // A global no program uses is left out by the compiler (and nothing changes it).
  for (const g of Object.keys(a.globals).filter((x) => x in b.globals)) {
    if (a.globals[g] !== b.globals[g]) return { what: 'globals', detail: `global ${g}: ${a.globals[g]} vs ${b.globals[g]}` };
  }
  return undefined;
}

/** The first disagreement of a unit's results, or undefined when the ways agree. */
export function disagreement(r: UnitResult): Disagreement | undefined {
  if (invalid(r)) return undefined;
  if (r.compileError !== undefined) {
    // Both rejecting it means the generator wrote something outside the language: not a disagreement, but counted.
    return { kind: 'compile', detail: `the compiler rejects a module the evaluator runs:\n${r.compileError}` };
  }
  if (r.interp) {
    const d = firstDifference(r.eval, r.interp);
    if (d) return { kind: `eval/interp ${d.what}`, detail: d.detail };
  }
  if (r.kernel && r.interp && !tooComplex(r)) {
    const d = firstDifference(r.interp, r.kernel);
    if (d) return { kind: `interp/kernel ${d.what}`, detail: d.detail };
  }
  return undefined;
}

/**
 * Whether the unit was outside the language: both the compiler and the
 * evaluator reject it, or it needs more stack than the kernel has (a limit
 * of the compiled form the evaluator does not model).
 */
export function invalid(r: UnitResult): boolean {
  if (r.compileError === undefined) return false;
  if (r.eval.error?.startsWith('evaluator: ')) return true;
  return r.compileError.split('\n').every((l) => / TSBPF_STACK: /.test(l));
}

/** More paths through a loop than the verifier walks (1M instructions): a limit of the kernel, counted but not a disagreement. */
export function tooComplex(r: UnitResult): boolean {
  return r.kernel?.error?.includes('BPF program is too large') === true;
}

/** Runs a batch of units: compile once, the evaluator and the interpreter on all, the kernel on `kernelSample`. */
export function runBatch(units: PrintedUnit[], kernelSample: (u: PrintedUnit, i: number) => boolean): { results: UnitResult[]; source: string } {
  const { mod, source, rejected } = compileUnits(units);
  const evals = runEval(units);
  const compiled = units.filter((u) => !rejected.has(u));
  const interp = mod ? runInterp(mod, compiled) : new Map<PrintedUnit, Outcome>();
  const kernel = mod ? runKernel(mod, compiled.filter((u) => kernelSample(u, units.indexOf(u)))) : new Map<PrintedUnit, Outcome>();
  const results = units.map((u): UnitResult => ({
    unit: u,
    eval: evals.get(u)!,
    ...(rejected.has(u) ? { compileError: rejected.get(u)! } : {}),
    ...(interp.has(u) ? { interp: interp.get(u)! } : {}),
    ...(kernel.has(u) ? { kernel: kernel.get(u)! } : {}),
  }));
  return { results, source };
}
