/**
 * Puts a compiled module into the kernel: creates its maps and global data
 * maps, resolves the map references of lddw, loads every program. A thin
 * path from the compiler's output to src/kernel (objects written to disk go
 * through the ELF loader instead); it also maps verifier failures back to
 * the TypeScript source.
 */
import { CliError } from './output.js';
import { applySetting, type GlobalSetting } from './global-settings.js';
import { isHiddenVariable } from '../dsl/compiler/hidden-variables.js';
import type { Instruction } from '../asm/instruction.js';
import { PseudoLoad } from '../asm/opcodes.js';
import type { CompiledMap, CompiledModule, CompiledProgram } from '../dsl/compiler/compile.js';
import { ensureBpffs } from '../kernel/fs-mounts.js';
import { buildModuleBtf, packProgramExt } from '../dsl/compiler/module-btf.js';
import { BtfObject } from '../kernel/btf-object.js';
import { applyCoreRelocation, type Btf, CoreTarget, parseBtf, resolveCoreRelo } from '../btf/index.js';
import { kernelBtf, moduleBtfs } from '../kernel/kernel-symbols.js';
import { LoadError } from '../kernel/collection.js';
import { BpfMap, type MapSpec } from '../kernel/map.js';
import { possibleCpuCount } from '../kernel/cpus.js';
import { Program } from '../kernel/program.js';
import { VerifierError } from '../kernel/verifier-error.js';
import { sourceFrame, sourceOfFailure } from './dsl-errors.js';

export interface LiveModule extends Disposable {
  maps: Map<string, BpfMap>;
  programs: Map<string, Program>;
  close(): void;
}

/** A kernel rejection of a compiled program, pointing at the TypeScript line. */
export class DslVerifierError extends Error {
  override readonly name = 'DslVerifierError';
  readonly code = 'E_VERIFIER';
  constructor(
    readonly program: string,
    readonly verifier: VerifierError,
    readonly source: { file: string; line: number; column: number; text?: string } | undefined,
  ) {
    const where = source ? `${source.file}:${source.line}:${source.column}: ` : '';
    const truncated = verifier.truncated ? ' (truncated: it did not fit the log buffer, ENOSPC)' : '';
    super(`${where}the kernel rejected program ${program} (${verifier.errnoName})\n${source ? `${sourceFrame(source)}\n` : ''}verifier${truncated}: ${verifier.lastLines.slice(-8).join('\n  ')}`);
  }
}

/** Relocates map references: lddw of a map becomes its fd, a global becomes fd + offset. */
export function relocate(p: CompiledProgram, maps: ReadonlyMap<string, BpfMap>): Instruction[] {
  return p.instructions.map((ins) => {
    if (ins.reference === undefined || ins.imm64 === undefined) return ins;
    const m = maps.get(ins.reference);
    if (!m) throw new Error(`program ${p.name} refers to unknown map ${ins.reference}`);
    const offset = ins.src === PseudoLoad.MAP_VALUE ? BigInt(ins.imm64 & 0xffffffffn) : 0n;
    const imm64 = (offset << 32n) | BigInt(m.fd);
    const { reference: _r, ...rest } = ins;
    return { ...rest, imm: m.fd, imm64 };
  });
}

/**
 * Applies the CO-RE relocations of a compiled module against the running
 * kernel's BTF, as libbpf does with the same records in the object's .BTF.ext.
 */
function relocateCore(mod: CompiledModule, core: { local: Btf; target: CoreTarget; btf: ReturnType<typeof buildModuleBtf> }, p: CompiledProgram, insns: Instruction[]): Instruction[] {
  return insns.flatMap((ins, i) => {
    if (ins.coreRelocation === undefined) return [ins];
    const r = mod.kernel!.relocations[ins.coreRelocation]!;
    const relo = { insnOff: i * 8, typeId: core.btf.kernelIds.get(r.ref.root)!, accessString: r.accessString, kind: r.ref.kind };
    try {
      return applyCoreRelocation(ins, resolveCoreRelo(relo, core.local, core.target), i);
    } catch (e) {
      throw new LoadError('E_CORE', `CO-RE relocation at instruction ${i}: ${(e as Error).message}`, p.name, e);
    }
  });
}

/** How the kernel creates a compiled map: flags, map_extra, and a slot per possible CPU for perf event arrays. */
export function mapSpecOf(m: CompiledMap): MapSpec {
  return {
    type: m.mapType, keySize: m.keySize, valueSize: m.valueSize, name: m.name.slice(0, 15),
    maxEntries: m.maxEntries === 0 && m.kind === 'perf_event_array' ? possibleCpuCount() : m.maxEntries,
    ...(m.flags ? { flags: m.flags } : {}),
    ...(m.mapExtra ? { mapExtra: BigInt(m.mapExtra) } : {}),
  };
}

/** Programs a prog array of the module holds: loaded with the programs that jump to them, never attached. */
export function tailCallTargets(mod: CompiledModule): Set<string> {
  return new Set(mod.maps.flatMap((m) => m.programs ?? []));
}

const u32Bytes = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n >>> 0]).buffer);

/** The id of a BTF-typed program's hook in vmlinux's BTF (btf_trace_NAME for tp_btf, the function for fentry/fexit, bpf_lsm_HOOK). */
function attachBtfId(p: CompiledProgram): number {
  const want = p.attachBtf!;
  const id = kernelBtf().findByName(want.name, want.kind);
  if (id === undefined) throw new LoadError('E_ATTACH_BTF', `${want.kind} '${want.name}' is not in the kernel's BTF (is '${p.target}' a ${p.kind === 'tp_btf' ? 'tracepoint' : p.kind === 'lsm' ? 'security hook' : 'kernel function'} of this kernel?)`, p.name);
  return id;
}

/** Where maps declared `pinning: 'byName'` live, as libbpf's default pin root. */
export const PIN_ROOT = '/sys/fs/bpf';

export interface LoadCompiledOptions {
  /** Global values by name (`.rodata` and `.data`), written before load; `.rodata` is then frozen. */
  rodata?: Record<string, GlobalSetting>;
  /** Load only these programs. */
  only?: string[];
  /** Ask the verifier for a log even on success (1 verbose, 2 very verbose); kept on each Program's verifierLog. */
  logLevel?: number;
  /** Upper bound of the verifier log buffer in bytes (a log that does not fit is shown truncated). */
  logSize?: number;
  /** Where `pinning: 'byName'` maps are pinned and re-used (default /sys/fs/bpf). */
  pinRoot?: string;
}

/**
 * Creates the module's maps (with BTF for their key and value types, so
 * bpftool prints them structured; `pinning: 'byName'` maps re-used from or
 * pinned to the pin root) and loads its programs. `rodata` sets globals by
 * name before the .rodata map is frozen.
 */
export function loadCompiledModule(mod: CompiledModule, options: LoadCompiledOptions = {}): LiveModule {
  const maps = new Map<string, BpfMap>();
  const programs = new Map<string, Program>();
  let btfObject: BtfObject | undefined;
  let core: { local: Btf; target: CoreTarget; btf: ReturnType<typeof buildModuleBtf> } | undefined;
  const close = () => {
    for (const p of programs.values()) p.close();
    for (const m of maps.values()) m.close();
    programs.clear();
    maps.clear();
    btfObject?.close();
    btfObject = undefined;
  };
  try {
    // BTF first: maps name their key and value types in it; line info makes the verifier's log quote the TypeScript source.
    const btf = buildModuleBtf(mod);
    const ext = new Map(mod.programs.map((p) => [p.name, packProgramExt(btf, p)]));
    core = mod.kernel ? { local: parseBtf(btf.builder.encode()), target: new CoreTarget(kernelBtf(), moduleBtfs()), btf } : undefined;
    try {
      btfObject = BtfObject.load(btf.builder.encode());
    } catch {
      btfObject = undefined; // maps and programs still load without it
    }
    const create = (spec: MapSpec, btfName: string): BpfMap => {
      const kv = btfObject ? btf.keyValue.get(btfName) : undefined;
      if (kv && btfObject) {
        try {
          return BpfMap.create({ ...spec, btfFd: btfObject.fd, btfKeyTypeId: kv.key, btfValueTypeId: kv.value });
        } catch {
          // A kernel that refuses the types still gets the map, as bpftool would see it without BTF.
        }
      }
      return BpfMap.create(spec);
    };
    for (const m of mod.maps) {
      const spec = mapSpecOf(m);
      let inner: BpfMap | undefined;
      if (m.inner) {
        // The template the kernel checks inner maps against; the outer map keeps what it needs of it.
        inner = BpfMap.create(mapSpecOf(m.inner));
        spec.innerMap = inner;
      }
      try {
        maps.set(m.name, m.pinByName ? pinnedByName(m, spec, options.pinRoot ?? PIN_ROOT, () => create(spec, m.name)) : create(spec, m.name));
      } finally {
        inner?.close();
      }
    }
    const wanted = new Set(Object.keys(options.rodata ?? {}));
    for (const d of mod.data) {
      const bytes = d.bytes.slice();
      // The value must fit the variable's type (u16: 0..65535): never truncate or wrap silently.
      for (const [name, value] of Object.entries(options.rodata ?? {})) if (applySetting(d, bytes, name, value)) wanted.delete(name);
      const map = create({ type: 2, keySize: 4, valueSize: bytes.length, maxEntries: 1, name: d.name, flags: d.name === '.rodata' ? 0x80 /* BPF_F_RDONLY_PROG */ : 0 }, d.name);
      maps.set(d.name, map);
      map.update(new Uint8Array(4), bytes);
      if (d.name === '.rodata') map.freeze();
    }
    if (wanted.size) {
      const have = mod.data.flatMap((d) => d.variables.map((x) => x.name)).filter((n) => !isHiddenVariable(n));
      const name = [...wanted][0]!;
      throw new CliError(`--set ${name}: no global ${name} (have: ${have.length ? have.join(', ') : 'none'})`, 2);
    }
    for (const p of mod.programs) {
      if (options.only && !options.only.includes(p.name) && !tailCallTargets(mod).has(p.name)) continue;
      loadOne(p, btfObject ? { fd: btfObject.fd, ...ext.get(p.name)! } : undefined);
    }
    // Prog arrays get the programs their declaration lists, at their positions.
    for (const m of mod.maps) {
      m.programs?.forEach((name, i) => {
        const prog = programs.get(name);
        if (prog) maps.get(m.name)!.update(u32Bytes(i), u32Bytes(prog.fd));
      });
    }
  } catch (e) {
    close();
    throw e;
  }
  function loadOne(p: CompiledProgram, btf: { fd: number; funcInfo: Uint8Array; lineInfo: Uint8Array } | undefined): void {
      try {
        programs.set(p.name, Program.load({
          type: p.progType, name: p.name.slice(0, 15), license: mod.license, instructions: core ? relocateCore(mod, core, p, relocate(p, maps)) : relocate(p, maps),
          ...(options.logLevel ? { logLevel: options.logLevel } : {}),
          ...(options.logSize ? { maxLogSize: options.logSize } : {}),
          ...(p.expectedAttachType !== undefined ? { expectedAttachType: p.expectedAttachType } : {}),
          ...(p.attachBtf ? { attachBtfId: attachBtfId(p) } : {}),
          ...(btf ? { btf: { fd: btf.fd, funcInfo: btf.funcInfo, funcInfoRecSize: 8, lineInfo: btf.lineInfo, lineInfoRecSize: 16 } } : {}),
        }));
      } catch (e) {
        if (e instanceof VerifierError) throw new DslVerifierError(p.name, e, sourceOfFailure(p, e.log));
        throw e;
      }
  }
  return { maps, programs, close, [Symbol.dispose]: close };
}

/**
 * A `pinning: 'byName'` map: the one pinned at ROOT/NAME when its layout
 * matches (so state outlives the process, as with libbpf), else a new one
 * pinned there. A pinned map of another layout is an error, never replaced.
 */
function pinnedByName(m: CompiledMap, spec: MapSpec, root: string, create: () => BpfMap): BpfMap {
  const path = `${root}/${m.name}`;
  let existing: BpfMap | undefined;
  try {
    existing = BpfMap.openPinned(path);
  } catch {
    existing = undefined;
  }
  if (existing) {
    const same = existing.type === spec.type && existing.keySize === spec.keySize && existing.valueSize === spec.valueSize && existing.maxEntries === spec.maxEntries;
    if (same) return existing;
    existing.close();
    throw new CliError(`map ${m.name}: ${path} is pinned with another layout (remove it to start afresh)`, 1);
  }
  const map = create();
  try {
    ensureBpffs();
    map.pin(path);
  } catch (e) {
    map.close();
    throw e;
  }
  return map;
}
