/**
 * The compiler's entry point: a ts-morph project holding the DSL and the
 * module in memory, TypeScript's own diagnostics, discovery, lowering of
 * every program, the IR passes, register allocation, stack layout and
 * emission. Pure: files come from the host.
 */
import { Project, ts, type SourceFile } from 'ts-morph';
import { type Instruction, slotOffsets } from '../../asm/instruction.js';
import { CompilerContext, type CompileHostHooks, type DslRef, lineAndColumn, sourceLine } from './context.js';
import { type CType, type IntType, sizeOf, STACK_LIMIT } from './ctypes.js';
import { Helper } from '../../asm/helpers.js';
import { Class, JmpOp } from '../../asm/opcodes.js';
import type { Node } from 'ts-morph';
import { type SubprogramParam, type SubprogramPlan, SubprogramTable } from './subprograms.js';
import { Abandon, CompileError, type DslDiagnostic } from './diagnostics.js';
import { emitFunction, layoutStack } from './emit.js';
import { formatIr, type IrFunction } from './ir.js';
import { FunctionLowering } from './lower.js';
import { kernelTypes, type KernelTypesOutput } from './kernel-types.js';
import type { MapKind } from './map-kinds.js';
import { type MapInfo, ModuleModel, type ProgramInfo } from './module-model.js';
import type { HistogramSpec } from './histogram-model.js';
import { inUserSpace, userSpaceRanges } from './user-space.js';
import { moduleSpecifierText } from './module-specifier.js';
import { optimize } from './passes.js';
import { attachBtfOf, expectedAttachType, PROGRAM_KINDS, type ProgramKind } from './program-kinds.js';
import { allocateRegisters } from './regalloc.js';
import { findLeakedReservations } from './ringbuf-check.js';
import './visitors.js';

export interface CompileHost extends CompileHostHooks {
  /** Reads a source file; undefined when it does not exist. */
  readFile(path: string): string | undefined;
}

export interface CompileOptions {
  /** Absolute path of the module's entry file. */
  entry: string;
  host: CompileHost;
  /** Directory holding the DSL's index.ts and net.ts (resolved for `tsbpf/dsl` imports). */
  dslRoot: string;
  /** Other directories that hold the same DSL (e.g. the package's src/dsl when running from dist/), for relative imports. */
  dslAliases?: string[];
}

export interface CompiledProgram {
  name: string;
  kind: ProgramKind;
  section: string;
  progType: number;
  expectedAttachType?: number;
  target?: string;
  binary?: string;
  /** BTF-typed kinds: the kernel type whose id is the program's attach_btf_id. */
  attachBtf?: { name: string; kind: 'typedef' | 'func' };
  /** Where the program's `export const` stands, for errors that arise later (attach). */
  declaredAt?: { file: string; line: number; column: number };
  /** The program's instructions, then the subprograms it calls (linked: calls resolved). */
  instructions: Instruction[];
  stackSize: number;
  ir: string;
  /** The bpf-to-bpf functions appended to `instructions`, in order. */
  subprograms?: CompiledSubprogram[];
}

/** A module function compiled as a subprogram and appended to a program. */
export interface CompiledSubprogram {
  /** Its name in the object's .text and BTF. */
  name: string;
  /** Index of its first instruction in the program's instructions. */
  start: number;
  stackSize: number;
  /** Its argument registers in order: integers, references ('ptr') and the context. */
  params: Array<{ name: string; type: IntType | 'ptr' | 'ctx' }>;
  result?: IntType;
}

export interface CompiledMap {
  name: string;
  kind: MapKind;
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  key?: CType;
  value: CType;
  pinByName?: boolean;
  /** Histograms (`log2Hist`, `linearHist`): how the key and buckets are laid out, for printing. */
  histogram?: HistogramSpec;
  /** BTF decl tags of a `metric` declaration (`tsbpf.metric.type=counter`, ...). */
  metricTags?: string[];
  /** map_flags at creation (BPF_F_NO_PREALLOC for LPM tries). */
  flags?: number;
  /** map_extra at creation (a bloom filter's hash count). */
  mapExtra?: number;
  /** Perf event arrays: the events' type (maxEntries 0 means one slot per possible CPU). */
  event?: CType;
  /** Maps of maps: the inner map's template. */
  inner?: CompiledMap;
  /** Prog arrays: the programs that fill slots 0, 1, … at load (they are not attached). */
  programs?: string[];
}

export interface CompiledVariable {
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  type: CType;
}

export interface CompiledDataSection {
  name: '.rodata' | '.data';
  bytes: Uint8Array;
  variables: CompiledVariable[];
}

export interface CompiledModule {
  entry: string;
  programs: CompiledProgram[];
  maps: CompiledMap[];
  data: CompiledDataSection[];
  license: string;
  /** Kernel types read through CO-RE: their local BTF types and the relocations (instructions name them by `coreRelocation`). */
  kernel?: KernelTypesOutput;
}

export const MAP_TYPE_IDS: Record<MapKind, number> = {
  hash: 1, array: 2, prog_array: 3, perf_event_array: 4, percpu_hash: 5, percpu_array: 6, stack_trace: 7, lru_hash: 9, lpm_trie: 11,
  array_of_maps: 12, hash_of_maps: 13, devmap: 14, cpumap: 16, xskmap: 17, queue: 22, stack: 23, sk_storage: 24, devmap_hash: 25, ringbuf: 27, inode_storage: 28, task_storage: 29, bloom_filter: 30, cgrp_storage: 32,
  log2hist: 5, linearhist: 5,
};


interface SharedProject {
  project: Project;
  dslRoot: string;
  dsl: Map<SourceFile, DslRef['module']>;
  dslText: string;
  /** Other directories holding the same DSL, added to the project only when a module imports from one (the declarations are most of the parse and bind time). */
  aliases: Map<string, boolean>;
  texts: Record<DslRef['module'], string>;
}

let shared: SharedProject | undefined;

function projectFor(opts: CompileOptions): SharedProject {
  const root = opts.dslRoot.replace(/\/$/, '');
  const indexText = opts.host.readFile(`${root}/index.ts`) ?? opts.host.readFile(`${root}/index.d.ts`);
  const netText = opts.host.readFile(`${root}/net.ts`) ?? opts.host.readFile(`${root}/net.d.ts`);
  const kernelText = opts.host.readFile(`${root}/kernel.ts`) ?? opts.host.readFile(`${root}/kernel.d.ts`) ?? '';
  if (indexText === undefined || netText === undefined) {
    throw new CompileError([{ file: `${root}/index.ts`, line: 1, column: 1, code: 'TSBPF_NOT_FOUND', message: `the DSL declarations are not readable under ${root}` }]);
  }
  const aliases = (opts.dslAliases ?? []).map((a) => a.replace(/\/$/, '')).filter((a) => a !== root);
  const key = [root, ...aliases].join('\0');
  if (shared && shared.dslRoot === key && shared.dslText === indexText + netText + kernelText) return shared;
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: [],
      noEmit: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      baseUrl: '/',
      paths: { 'tsbpf/dsl': [`${root}/index.ts`], 'tsbpf/dsl/net': [`${root}/net.ts`], 'tsbpf/dsl/kernel': [`${root}/kernel.ts`] },
    },
  });
  shared = {
    project, dslRoot: key, dsl: new Map(), dslText: indexText + netText + kernelText,
    aliases: new Map(aliases.map((a) => [a, false])), texts: { index: indexText, net: netText, kernel: kernelText },
  };
  addDsl(shared, root);
  return shared;
}

function addDsl(sp: SharedProject, dir: string): void {
  for (const module of ['index', 'net', 'kernel'] as const) {
    sp.dsl.set(sp.project.createSourceFile(`${dir}/${module}.ts`, sp.texts[module], { overwrite: true }), module);
  }
}

/** Adds the DSL's files under an alias directory the first time a module imports a path inside it. */
function addAliasHolding(sp: SharedProject, path: string): void {
  for (const [dir, added] of sp.aliases) {
    if (added || !path.startsWith(`${dir}/`)) continue;
    addDsl(sp, dir);
    sp.aliases.set(dir, true);
  }
}

const dirname = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';

function normalize(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

/**
 * Adds the entry and every module it imports relatively, and drops other
 * modules' files. A file whose text is unchanged is kept as it is, so a
 * module opened again (compiled, then run by the evaluator) reuses the
 * parsed and checked program.
 */
function loadModules(sp: SharedProject, entry: string, host: CompileHost): SourceFile {
  const { project, dsl } = sp;
  const loaded = new Set<SourceFile>();
  const open = (path: string, text: string): SourceFile => {
    const existing = project.getSourceFile(path);
    const sf = existing && existing.getFullText() === text ? existing : project.createSourceFile(path, text, { overwrite: true });
    loaded.add(sf);
    return sf;
  };
  const text = host.readFile(entry);
  if (text === undefined) throw new CompileError([{ file: entry, line: 1, column: 1, code: 'TSBPF_NOT_FOUND', message: `cannot read ${entry}` }]);
  const entryFile = open(entry, text);
  const queue = [entryFile];
  while (queue.length) {
    const sf = queue.pop()!;
    // A malformed clause (`from 123`, `from ;`) has no string specifier: its syntax error is reported, nothing is loaded.
    const specs = [...sf.getImportDeclarations(), ...sf.getExportDeclarations()]
      .map(moduleSpecifierText)
      .filter((s): s is string => s !== undefined);
    // An absolute path into an alias of the DSL resolves through the alias's files; only relative imports are followed here.
    for (const spec of specs) if (spec.startsWith('/')) addAliasHolding(sp, normalize(spec));
    for (const spec of specs.filter((s) => s.startsWith('.'))) {
      const base = normalize(`${dirname(sf.getFilePath())}/${spec}`);
      addAliasHolding(sp, base);
      const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`, base];
      for (const c of candidates) {
        const known = project.getSourceFile(c);
        if (known && (loaded.has(known) || dsl.has(known))) break;
        const t = host.readFile(c);
        if (t !== undefined) {
          queue.push(open(c, t));
          break;
        }
      }
    }
  }
  for (const sf of project.getSourceFiles()) if (!dsl.has(sf) && !loaded.has(sf)) project.removeSourceFile(sf);
  return entryFile;
}

/** The shared project with a module's files loaded: what the compiler and the reference evaluator (tsbpf/eval) read. */
export function openModule(opts: CompileOptions): { project: Project; dsl: Map<SourceFile, DslRef['module']>; entry: SourceFile; userFiles: SourceFile[] } {
  const sp = projectFor(opts);
  const { project, dsl } = sp;
  const entry = loadModules(sp, normalize(opts.entry), opts.host);
  return { project, dsl, entry, userFiles: project.getSourceFiles().filter((sf) => !dsl.has(sf)) };
}

/**
 * TypeScript's errors in the module's files. As tsc does, type errors are
 * looked for only when there is no syntax error: the tree TypeScript recovers
 * from a syntax error declares things the source does not (an import then
 * "conflicts with a local declaration" many lines away).
 */
function tsDiagnostics(project: Project, files: SourceFile[], opts: { syntaxOnly?: boolean } = {}): { diagnostics: DslDiagnostic[]; syntax: boolean } {
  const program = project.getProgram().compilerObject;
  const errors = (ds: readonly ts.Diagnostic[]) => ds.filter((d) => d.category === ts.DiagnosticCategory.Error);
  const syntactic = files.map((sf) => errors(program.getSyntacticDiagnostics(sf.compilerNode)));
  const syntax = syntactic.some((ds) => ds.length > 0);
  const userSpace = opts.syntaxOnly || syntax ? undefined : userSpaceRanges(files);
  const diagnostics = files.flatMap((sf, i) => {
    // Type errors in the user-space half are the user's tsc's business (it has Node's types); syntax errors are everyone's.
    const semantic = !userSpace ? [] : errors(program.getSemanticDiagnostics(sf.compilerNode)).filter((d) => d.start === undefined || !inUserSpace(userSpace.get(sf)!, d.start));
    return [...syntactic[i]!, ...semantic].map((d): DslDiagnostic => {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
      return {
        file: sf.getFilePath(),
        line: pos.line + 1,
        column: pos.character + 1,
        code: `TS${d.code}`,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
        text: sourceLine(sf, pos.line + 1) ?? '',
      };
    });
  });
  return { diagnostics, syntax };
}

/**
 * Compiles a module. Throws CompileError with every diagnostic when the
 * module has problems; never throws anything else, whatever the input: an
 * unexpected exception becomes a TSBPF_INTERNAL diagnostic at the entry,
 * after the syntax errors that most likely caused it.
 * @example
 * const mod = compile({ entry: '/abs/m.bpf.ts', host: memoryHost(files), dslRoot: '/dsl' });
 * mod.programs.map((p) => `${p.name}: ${p.instructions.length} instructions`);
 */
export function compile(opts: CompileOptions): CompiledModule {
  try {
    return compileUnguarded(opts);
  } catch (e) {
    if (e instanceof CompileError) throw e;
    const entry = normalize(opts.entry);
    const diagnostics: DslDiagnostic[] = [];
    try {
      const files = shared?.project.getSourceFiles().filter((sf) => !shared!.dsl.has(sf)) ?? [];
      diagnostics.push(...tsDiagnostics(shared!.project, files, { syntaxOnly: true }).diagnostics);
    } catch {
      // the syntax errors are a courtesy; the internal error below is the answer
    }
    diagnostics.push({ file: entry, line: 1, column: 1, code: 'TSBPF_INTERNAL', message: `internal compiler error: ${e instanceof Error ? e.message : String(e)}` });
    throw new CompileError(diagnostics);
  }
}

function compileUnguarded(opts: CompileOptions): CompiledModule {
  const { project, dsl, entry, userFiles } = openModule(opts);
  const cx = new CompilerContext(project, dsl, opts.host);
  const typescript = tsDiagnostics(project, userFiles);
  cx.diagnostics.push(...typescript.diagnostics);
  // A syntax error leaves a tree the compiler would only report follow-on mistakes about.
  if (typescript.syntax) throw new CompileError(cx.diagnostics);
  const model = new ModuleModel(cx);
  const programs: CompiledProgram[] = [];
  try {
    model.discover(entry);
  } catch (e) {
    if (!(e instanceof Abandon)) cx.report(entry, 'TSBPF_INTERNAL', `internal compiler error: ${(e as Error).message}`);
  }
  for (const p of model.programs) {
    try {
      // An automatic choice of bpf-to-bpf calls that does not fit the kernel's limits: the program again, inlined.
      const compiled = compileProgram(cx, model, p, entry, true);
      const out = compiled === 'retry' ? compileProgram(cx, model, p, entry, false) : compiled;
      if (out && out !== 'retry') programs.push(out);
    } catch (e) {
      if (e instanceof Abandon) continue;
      cx.report(p.body, 'TSBPF_INTERNAL', `internal compiler error: ${(e as Error).message}`);
      if (typeof process !== 'undefined' && process.env?.TSBPF_DEBUG === '1') console.error(e);
    }
  }
  nameSubprogramsApart(programs);
  if (cx.diagnostics.length > 0) {
    cx.diagnostics.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
    throw new CompileError(cx.diagnostics);
  }
  const maps: CompiledMap[] = [...model.maps.values()].map((m) => compiledMap(m, model));
  if (cx.diagnostics.length > 0) throw new CompileError(cx.diagnostics);
  const data: CompiledDataSection[] = [];
  for (const name of ['.rodata', '.data'] as const) {
    const size = model.sectionSize(name);
    if (size === 0) continue;
    const bytes = new Uint8Array(Math.ceil(size / 8) * 8);
    const variables: CompiledVariable[] = [];
    for (const g of [...model.globals.values(), ...model.ringbufDrops.values(), ...model.formatStrings.values()]) {
      if (g.section !== name) continue;
      bytes.set(g.initial, g.offset);
      variables.push({ name: g.name, offset: g.offset, size: sizeOf(g.type), signed: g.type.kind === 'int' && g.type.signed, type: g.type });
    }
    data.push({ name, bytes, variables });
  }
  const kernel = kernelTypes(cx);
  const out: CompiledModule = { entry: entry.getFilePath(), programs, maps, data, license: 'GPL' };
  if (kernel.relocations.length) {
    // The local layouts are fixed now: each relocated instruction gets its local value, as clang writes it.
    out.kernel = kernel.finish();
    for (const p of programs) {
      for (const ins of p.instructions) {
        if (ins.coreRelocation === undefined) continue;
        const local = out.kernel.relocations[ins.coreRelocation]!.localValue;
        // A load carries the offset in its off field (a direct load through a BTF pointer), anything else in imm.
        if ((ins.opcode & 0x07) === 0x01) ins.off = Number(local);
        else ins.imm = Number(BigInt.asIntN(32, local));
      }
    }
  }
  return out;
}

/** A BPF function's code: emitted, with its stack size and its IR's text. */
interface FinishedFunction {
  instructions: Instruction[];
  stackSize: number;
  ir: string;
}

/** A subprogram's plan and its code. */
interface FinishedSubprogram {
  plan: SubprogramPlan;
  code: FinishedFunction;
}

/** One BPF function after lowering: checked, optimized, allocated and emitted. Undefined after a diagnostic. */
function finishFunction(cx: CompilerContext, fn: IrFunction, lowering: FunctionLowering, entry: SourceFile, before: number): FinishedFunction | undefined {
  for (const u of lowering.lifetimes.check(fn)) cx.report(u.node, 'TSBPF_USE_AFTER_RELEASE', u.message);
  if (cx.diagnostics.length > before) return undefined;
  optimize(fn);
  for (const leak of findLeakedReservations(fn)) {
    const sp = leak.span ?? { file: entry.getFilePath(), line: 1, column: 1 };
    cx.diagnostics.push({
      file: sp.file, line: sp.line, column: sp.column, code: 'TSBPF_RINGBUF_LEAK',
      message: 'the event reserved here is neither submitted nor discarded on every path',
      ...(sp.text !== undefined ? { text: sp.text } : {}),
    });
  }
  const ir = formatIr(fn);
  const alloc = allocateRegisters(fn);
  const stackSize = layoutStack(fn);
  return { instructions: emitFunction(fn, alloc), stackSize, ir };
}

/**
 * A program: its body and the subprograms it calls, each finished, then
 * linked as libbpf links them. 'retry' when automatically chosen calls
 * exceed the kernel's stack limit (then `automatic` false inlines them).
 */
function compileProgram(cx: CompilerContext, model: ModuleModel, p: ProgramInfo, entry: SourceFile, automatic: boolean): CompiledProgram | 'retry' | undefined {
  const before = cx.diagnostics.length;
  const suppressed = cx.suppressed;
  const table = new SubprogramTable();
  table.automatic = automatic;
  const lowering = new FunctionLowering(cx, model, p, table);
  const fn: IrFunction = lowering.lower();
  // A construct abandoned after a diagnostic (or one TypeScript gave) can leave the IR incomplete: stop here for this program.
  if (cx.diagnostics.length > before || cx.suppressed > suppressed) return undefined;
  const main = finishFunction(cx, fn, lowering, entry, before);
  if (!main) return undefined;
  const subs = new Map<string, FinishedSubprogram>();
  for (const plan of table.plans.values()) {
    const code = finishFunction(cx, plan.ir!, plan.lowering!, entry, before);
    if (!code) return undefined;
    subs.set(plan.name, { plan, code });
  }
  if (cx.diagnostics.length > before) return undefined;
  if (main.stackSize > STACK_LIMIT) cx.report(p.body, 'TSBPF_STACK', `program ${p.name} needs ${main.stackSize} bytes of stack; the limit is ${STACK_LIMIT}`);
  const linked = linkSubprograms(main.instructions, subs);
  if (linked.subprograms.length) {
    const problem = callStackProblem(main, subs);
    if (problem) {
      if ([...subs.values()].some((s) => s.plan.automatic)) return 'retry';
      cx.report(problem.node, 'TSBPF_STACK', problem.message);
      return undefined;
    }
  }
  const info = PROGRAM_KINDS[p.kind];
  const attach = expectedAttachType(p.kind, p.target);
  const attachBtf = attachBtfOf(p.kind, p.target);
  const declFile = p.decl.getSourceFile();
  const declPos = lineAndColumn(declFile, p.decl.getStart());
  return {
    name: p.name, kind: p.kind, section: p.section, progType: info.progType, instructions: linked.instructions, stackSize: main.stackSize,
    ir: [main.ir, ...linked.subprograms.map((sp) => subs.get(sp.name)!.code.ir)].join('\n'),
    declaredAt: { file: declFile.getFilePath(), line: declPos.line, column: declPos.column },
    ...(linked.subprograms.length ? { subprograms: linked.subprograms } : {}),
    ...(attach !== undefined ? { expectedAttachType: attach } : {}),
    ...(attachBtf ? { attachBtf } : {}),
    ...(p.target !== undefined ? { target: p.target } : {}),
    ...(p.binary !== undefined ? { binary: p.binary } : {}),
  };
}

/**
 * The program's instructions followed by each subprogram it calls, depth
 * first in order of first call (libbpf's order), with each call's imm set
 * to the callee's offset.
 */
function linkSubprograms(main: Instruction[], subs: Map<string, FinishedSubprogram>): { instructions: Instruction[]; subprograms: CompiledSubprogram[] } {
  const out: Instruction[] = [];
  /** Index of each callee's first instruction. */
  const start = new Map<string, number>();
  const subprograms: CompiledSubprogram[] = [];
  // A callee goes in when its first call is met, and its own callees right after it (depth first, as
  // libbpf and src/elf/program-linker.ts place them, so the linked program and its tag are the same).
  const place = (code: Instruction[]): void => {
    const from = out.length;
    for (const ins of code) out.push({ ...ins });
    const end = out.length;
    for (let i = from; i < end; i++) {
      const callee = out[i]!.callee;
      if (callee === undefined || start.has(callee)) continue;
      const sub = subs.get(callee);
      if (!sub) throw new Error(`internal: call of unknown subprogram ${callee}`);
      start.set(callee, out.length);
      const plan = sub.plan;
      subprograms.push({
        name: callee, start: out.length, stackSize: sub.code.stackSize,
        params: [...registerParams(plan), ...(plan.usesCtx ? [{ name: 'ctx', type: 'ctx' as const }] : [])],
        ...(plan.result ? { result: plan.result } : {}),
      });
      place(sub.code.instructions);
    }
  };
  place(main);
  // Calls are resolved once everything is placed.
  const slots = slotOffsets(out);
  out.forEach((ins, i) => {
    if (ins.callee === undefined) return;
    ins.imm = slots[start.get(ins.callee)!]! - slots[i]! - 1;
    if (ins.imm64 !== undefined) ins.imm64 = BigInt.asUintN(32, BigInt(ins.imm));
  });
  return { instructions: out, subprograms };
}

function paramName(plan: SubprogramPlan, x: SubprogramParam, j: number): string {
  const p = plan.fn.getParameters()[plan.params.indexOf(x)];
  return p ? p.getName() : `arg${j}`;
}

/**
 * A subprogram's argument registers in order, as its BTF prototype declares
 * them: a register the body does not read (forEachElem's map) is a pointer
 * all the same, and an integer passed by its address (forEachElem's key
 * and value) is that pointer.
 */
function registerParams(plan: SubprogramPlan): CompiledSubprogram['params'] {
  const byArg = new Map(plan.params.flatMap((x) => (x.kind === 'ctx' ? [] : [[x.arg, x] as const])));
  const count = byArg.size ? Math.max(...byArg.keys()) + 1 : 0;
  return Array.from({ length: count }, (_, a) => {
    const x = byArg.get(a);
    if (!x) return { name: plan.callback === 'forEachElem' && a === 0 ? 'map' : `arg${a}`, type: 'ptr' as const };
    return { name: paramName(plan, x, a), type: x.kind === 'int' && !x.load ? x.t : ('ptr' as const) };
  });
}

/**
 * Programs lower their subprograms each for itself; the object holds each
 * name once in .text. Copies whose code differs (another program kind's
 * context, another tracepoint's fields) get names of their own.
 */
function nameSubprogramsApart(programs: CompiledProgram[]): void {
  const taken = new Map<string, string>();
  const codeOf = (p: CompiledProgram, i: number): string => {
    const sp = p.subprograms![i]!;
    const code = p.instructions.slice(sp.start, p.subprograms![i + 1]?.start ?? p.instructions.length);
    return JSON.stringify(code.map((ins) => [ins.opcode, ins.dst, ins.src, ins.off, ins.callee === undefined ? ins.imm : 0, ins.imm64?.toString(), ins.callee, ins.reference, ins.coreRelocation, ins.source?.line, ins.source?.column]));
  };
  const used = new Set(programs.flatMap((p) => (p.subprograms ?? []).map((sp) => sp.name)));
  for (const p of programs) {
    const renames = new Map<string, string>();
    (p.subprograms ?? []).forEach((sp, i) => {
      const code = codeOf(p, i);
      const known = taken.get(sp.name);
      if (known === undefined) taken.set(sp.name, code);
      else if (known !== code) {
        let name = sp.name;
        for (let n = 2; used.has(name); n++) name = `${sp.name}_${n}`;
        used.add(name);
        taken.set(name, code);
        renames.set(sp.name, name);
      }
    });
    if (!renames.size) continue;
    for (const sp of p.subprograms!) sp.name = renames.get(sp.name) ?? sp.name;
    for (const ins of p.instructions) if (ins.callee !== undefined) ins.callee = renames.get(ins.callee) ?? ins.callee;
  }
}

/**
 * The kernel's check_max_stack_depth: along every chain of calls, frames
 * rounded up to 32 bytes (at least one) take at most 512 together, and a
 * subprogram that makes a tail call may be entered only while its callers'
 * frames take less than 256 (tail calls keep the callers' stack).
 */
function callStackProblem(main: FinishedFunction, subs: Map<string, FinishedSubprogram>): { node: Node; message: string } | undefined {
  const frame = (n: number) => Math.ceil(Math.max(n, 1) / 32) * 32;
  // A callback's frame counts as a call's (the helper calls it).
  const callees = (code: Instruction[]) => [...new Set(code.flatMap((ins) => (ins.callee !== undefined ? [ins.callee] : [])))];
  const tailCalls = (code: Instruction[]) => code.some((ins) => ins.opcode === (Class.JMP | JmpOp.CALL) && ins.src === 0 && ins.imm === Helper.tail_call);
  const visit = (code: Instruction[], own: number, above: number, chain: string[]): { node: Node; message: string } | undefined => {
    const path = ['program', ...chain].join(' → ');
    const at = chain.length ? subs.get(chain[chain.length - 1]!)!.plan.node : undefined;
    if (at && tailCalls(code) && above >= 256) {
      return { node: at, message: `${chain[chain.length - 1]} makes a tail call, and its callers' frames (${path}) take ${above} bytes of stack; the kernel allows tail calls in a function only below 256: mark it @inline or keep large values in a map` };
    }
    const depth = above + frame(own);
    if (at && depth > STACK_LIMIT) {
      return { node: at, message: `the calls ${path} need ${depth} bytes of stack together (each frame rounded up to 32); the limit is ${STACK_LIMIT}: mark a function @inline or keep large values in a map` };
    }
    for (const c of callees(code)) {
      const s = subs.get(c)!;
      const found = visit(s.code.instructions, s.code.stackSize, depth, [...chain, c]);
      if (found) return found;
    }
    return undefined;
  };
  return visit(main.instructions, main.stackSize, 0, []);
}

/** A map as the loader and the object writer see it; prog arrays name their programs (all of one kind). */
function compiledMap(m: MapInfo, model: ModuleModel): CompiledMap {
  let programs: string[] | undefined;
  if (m.programDecls) {
    programs = [];
    let kind: ProgramKind | undefined;
    for (const { decl, node } of m.programDecls) {
      const p = model.programs.find((x) => x.decl === decl);
      if (!p) {
        model.cx.report(node, 'TSBPF_PROG_ARRAY', 'a prog array holds exported programs of this module');
        continue;
      }
      if (kind !== undefined && p.kind !== kind) model.cx.report(node, 'TSBPF_PROG_ARRAY', `a prog array holds programs of one kind: ${p.name} is ${p.kind}, not ${kind}`);
      kind ??= p.kind;
      programs.push(p.name);
    }
  }
  const ringbuf = m.kind === 'ringbuf';
  return {
    name: m.name, kind: m.kind, mapType: MAP_TYPE_IDS[m.kind],
    keySize: ringbuf || !m.key ? 0 : sizeOf(m.key),
    valueSize: ringbuf ? 0 : sizeOf(m.value),
    maxEntries: m.maxEntries, value: m.value,
    ...(m.key && !ringbuf ? { key: m.key } : {}),
    ...(m.pinByName ? { pinByName: true } : {}),
    ...(m.histogram ? { histogram: m.histogram } : {}),
    ...(m.metricTags?.length ? { metricTags: m.metricTags } : {}),
    ...(m.flags ? { flags: m.flags } : {}),
    ...(m.mapExtra ? { mapExtra: m.mapExtra } : {}),
    ...(m.event ? { event: m.event } : {}),
    ...(m.inner ? { inner: compiledMap(m.inner, model) } : {}),
    ...(programs ? { programs } : {}),
  };
}
