/**
 * The loader: an ObjectSpec becomes live maps and programs. Maps are made
 * first (inner maps for map-in-map, initial data written, .rodata frozen,
 * pinned-by-name maps reused), then each program's relocations are done
 * against them (map fds, map values, kernel symbols, kfuncs, CO-RE against
 * the running kernel's BTF) and it is loaded with its BTF, func_info and
 * line_info; finally prog arrays and map-in-map slots get their initial values.
 */
import { packFuncInfo, packLineInfo } from '../btf/prog-ext.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Instruction } from '../asm/instruction.js';
import { LDDW, PseudoCall, PseudoLoad } from '../asm/opcodes.js';
import {
  ALL_BTF_FEATURES, type Btf, type BtfFeatures, type BtfType, CoreTarget, type CoreResult, applyCoreRelocation, parseBtf, resolveCoreRelo, sanitizeBtf,
} from '../btf/index.js';
import { fillKconfig } from '../elf/kconfig.js';
import { kernelBtfBytes } from '../elf/kernel-btf.js';
import type { ExternSpec, MapSpec, ObjectSpec, ProgramSpec, VariableSpec } from '../elf/object-spec.js';
import { objectNameFromPath } from '../elf/map-types.js';
import { parseObject } from '../elf/parse-object.js';
import { readFileSync } from 'node:fs';
import { setVariable } from '../elf/variables.js';
import { ProgFlags } from '../syscall/flags.js';
import { pageSize } from '../syscall/mman.js';
import { MapType } from '../syscall/layouts.generated.js';
import { BtfObject } from './btf-object.js';
import { possibleCpuCount } from './cpus.js';
import { listBtf } from './enumerate.js';
import { kallsymsAddress, kernelBtf, kernelConfig, kernelRelease, moduleBtfs, moduleNameOf } from './kernel-symbols.js';
import { rollBackPins } from './collection-pin.js';
import { BPFFS_PATH, preparePinDir } from './fs-mounts.js';
import { BpfMap, mapTypeName } from './map.js';
import { Program, type ProgTypeName, type AttachTypeName } from './program.js';
import { SyscallError } from '../syscall/bpf.js';
import { haveMapType, haveProgType, haveSyscallWrapper, haveXdpFrags } from './features.js';
import { VerifierError } from './verifier-error.js';
import { type StructOpsRegistration, planStructOps, registerStructOps, structOpsValue } from './struct-ops.js';
import { BPF_F_LINK } from '../elf/struct-ops.js';

/** Options of loading an object: where name-pinned maps live, values of its globals, the kernel BTF to relocate against, which programs to load, the verifier log level, and live maps to use instead of new ones. */
export interface LoadCollectionOptions {
  /** Directory for maps with `pinning = LIBBPF_PIN_BY_NAME` (default /sys/fs/bpf). */
  pinPath?: string;
  /** Global variables to set before load (see setVariable), by name. */
  variables?: Record<string, Uint8Array | number | bigint | string>;
  /** Kernel BTF for CO-RE, kfuncs and attach points (default: the running kernel's). */
  kernelBtf?: Btf;
  /** Load (true) or skip (false) programs by name, overriding SEC("?...") optional autoload. */
  autoload?: Record<string, boolean>;
  /** Verifier log level for every program (the log is then kept on Program.verifierLog). */
  logLevel?: number;
  /** Upper bound of each program's verifier log buffer in bytes (a log that does not fit is kept truncated, ENOSPC). */
  maxLogSize?: number;
  /**
   * Live maps to use instead of creating the maps of these names (cilium/ebpf's
   * MapReplacements): each must have the spec's type, key and value size, max
   * entries and flags. The collection opens its own reference, so closing it
   * leaves the caller's map open. Nothing is written to a replaced map.
   */
  replaceMaps?: ReadonlyMap<string, BpfMap>;
}

/**
 * Loading failed; says which map or program and why.
 * @example
 * try { loadObjectFile('x.bpf.o'); } catch (e) { if (e instanceof LoadError) console.error(e.code, e.object); }
 */
export class LoadError extends Error {
  override readonly name = 'LoadError';
  constructor(readonly code: string, message: string, readonly object?: string, override readonly cause?: unknown) {
    super(object ? `${object}: ${message}` : message);
  }
}

/** Maps whose creation must not pass BTF key/value types (libbpf's list). */
const NO_BTF_TYPES = new Set<number>([
  MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.DEVMAP,
  MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP, MapType.SOCKMAP, MapType.SOCKHASH, MapType.QUEUE, MapType.STACK, MapType.RINGBUF,
]);

/**
 * Live maps and programs of one object, by name.
 * @example
 * using c = loadObjectFile('counter.bpf.o');
 * using link = autoAttach(c.program('on_exec'), c.spec.programs[0]!);
 * for (const [k, v] of c.map('counts')) console.log(k, v);
 */
export class Collection {
  constructor(
    readonly spec: ObjectSpec,
    readonly maps: ReadonlyMap<string, BpfMap>,
    readonly programs: ReadonlyMap<string, Program>,
    readonly btf: BtfObject | undefined,
    /** Kernel-layout values of struct_ops maps, for attachStructOps. */
    readonly structOpsValues: ReadonlyMap<string, Uint8Array> = new Map(),
    /** Pins this load made for maps pinned by name (not the ones it reused): a caller whose later step fails unpins them. */
    readonly pinnedByLoad: readonly string[] = [],
  ) {}

  /** Registers a struct_ops map with the kernel (libbpf's bpf_map__attach_struct_ops); close() unregisters. */
  attachStructOps(name: string): StructOpsRegistration {
    const value = this.structOpsValues.get(name);
    if (!value) throw new LoadError('E_NO_MAP', `no struct_ops map '${name}'`);
    const m = this.spec.maps.find((x) => x.name === name)!;
    return registerStructOps(this.map(name), value, (m.flags & BPF_F_LINK) !== 0);
  }

  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) throw new LoadError('E_NO_MAP', `no map '${name}' (have: ${[...this.maps.keys()].join(', ')})`);
    return m;
  }

  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new LoadError('E_NO_PROGRAM', `no program '${name}' (have: ${[...this.programs.keys()].join(', ')})`);
    return p;
  }

  /** The current bytes of a global variable, read from its data map. */
  readVariable(name: string): Uint8Array {
    const v = this.#variable(name);
    const value = this.map(v.map).lookup(new Uint8Array(4));
    if (!value) throw new LoadError('E_VARIABLE', `data map of '${name}' has no value`);
    return value.slice(v.offset, v.offset + v.size);
  }

  /** Overwrites a global variable in its data map (not in frozen .rodata). */
  writeVariable(name: string, bytes: Uint8Array): void {
    const v = this.#variable(name);
    if (bytes.length !== v.size) throw new LoadError('E_VARIABLE', `variable '${name}' is ${v.size} bytes, got ${bytes.length}`);
    const map = this.map(v.map);
    const value = map.lookup(new Uint8Array(4))!;
    value.set(bytes, v.offset);
    map.update(new Uint8Array(4), value);
  }

  #variable(name: string): VariableSpec {
    const v = this.spec.variables.find((x) => x.name === name);
    if (!v) throw new LoadError('E_VARIABLE', `no global variable '${name}'`);
    return v;
  }

  close(): void {
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    this.btf?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Reads, parses and loads a BPF ELF object file (object name from the file name, as libbpf).
 * @example
 * using obj = loadObjectFile('counter.bpf.o', { variables: { target_pid: 42 } });
 * using link = autoAttach(obj.programs.get('on_exec')!, obj.spec.programs.find((p) => p.name === 'on_exec')!);
 * for (const [key, value] of obj.map('counts')) console.log(key, value);
 */
export function loadObjectFile(path: string, options: LoadCollectionOptions = {}): Collection {
  return loadCollection(parseObject(new Uint8Array(readFileSync(path)), { name: objectNameFromPath(path) }), options);
}

/**
 * Loads an object spec (a parsed ELF object or a compiled module) into the kernel: maps created or reused from their pins, CO-RE relocated, programs loaded; all or nothing. `loadObjectFile` reads and parses the file first.
 * @example
 * using c = loadCollection(parseObject(bytes), { variables: { target_pid: 42 } });
 * c.map('counts');
 */
export function loadCollection(spec: ObjectSpec, options: LoadCollectionOptions = {}): Collection {
  const maps = new Map<string, BpfMap>();
  const programs = new Map<string, Program>();
  let btfObject: BtfObject | undefined;
  const pinnedByLoad: string[] = [];
  const pinRootMade: string[] = [];
  const ctx = new KernelContext(options.kernelBtf);
  try {
    if (options.variables) applyVariables(spec, options.variables);
    btfObject = loadObjectBtf(spec);
    const kconfig = spec.maps.find((m) => m.kind === 'kconfig');
    if (kconfig?.data) {
      fillKconfig(spec, kconfig.data, { config: kernelConfig(), release: kernelRelease(), features: { LINUX_HAS_BPF_COOKIE: true, LINUX_HAS_SYSCALL_WRAPPER: haveSyscallWrapper() } });
    }
    // Pinned by name: the pin root is made (inside bpffs) when missing; what this load pins is unpinned if it fails, as libbpf.
    if (spec.maps.some((m) => m.pinning === 'byName')) pinRootMade.push(...preparePinDir(options.pinPath ?? BPFFS_PATH));
    for (const m of spec.maps) {
      if (m.kind === 'struct_ops') continue;
      const replacement = options.replaceMaps?.get(m.name);
      maps.set(m.name, replacement ? reuseMap(m, replacement) : createMap(m, btfObject, options.pinPath, pinnedByLoad));
    }
    for (const name of options.replaceMaps?.keys() ?? []) {
      if (!spec.maps.some((m) => m.name === name)) throw new LoadError('E_MAP_REPLACEMENT', `no map '${name}' to replace (have: ${spec.maps.map((m) => m.name).join(', ')})`, spec.name);
    }
    // struct_ops: programs take their attach point from the kernel struct they implement.
    const structOps = spec.maps.filter((m) => m.kind === 'struct_ops').map((m) => planStructOps(spec, m, ctx.btf));
    const structOpsAttach = new Map<string, { attachBtfId: number; expectedAttachType: number }>();
    for (const plan of structOps) {
      for (const [prog, at] of plan.programs) structOpsAttach.set(prog, { attachBtfId: plan.kernelTypeId, expectedAttachType: at.index });
    }
    for (const m of spec.maps) {
      for (const iv of m.initialValues) {
        if (iv.map === undefined) continue;
        const inner = maps.get(iv.map)!;
        maps.get(m.name)!.update(u32(iv.index), u32(inner.fd));
      }
    }
    const rodata = spec.maps.filter((m) => m.kind === 'rodata').map((m) => maps.get(m.name)!);
    for (const p of spec.programs) {
      if (!(options.autoload?.[p.name] ?? p.autoload)) continue;
      const prog = loadProgram(spec, p, maps, btfObject, ctx, options, structOpsAttach.get(p.name));
      programs.set(p.name, prog);
      // As libbpf: every .rodata map is bound to every program, used or not (best effort: 5.8+).
      for (const m of rodata) {
        try {
          prog.bindMap(m.fd);
        } catch {
          // a kernel without BPF_PROG_BIND_MAP: libbpf does not fail the load either
        }
      }
    }
    const structOpsValues = new Map<string, Uint8Array>();
    for (const plan of structOps) {
      const m = plan.map;
      maps.set(m.name, BpfMap.create({
        type: m.type, keySize: 4, valueSize: plan.valueSize, maxEntries: 1, flags: m.flags, name: m.kernelName,
        btfVmlinuxValueTypeId: plan.valueTypeId, ...(btfObject ? { btfFd: btfObject.fd } : {}),
      }));
      const fds = new Map([...programs].map(([n, p]) => [n, p.fd]));
      structOpsValues.set(m.name, structOpsValue(plan, spec.btf!, ctx.btf, fds));
    }
    ctx.close(); // module BTF fds are only needed while programs load
    for (const m of spec.maps) {
      for (const iv of m.initialValues) {
        if (iv.program === undefined) continue;
        const prog = programs.get(iv.program);
        if (prog) maps.get(m.name)!.update(u32(iv.index), u32(prog.fd)); // skipped (not autoloaded) programs leave their slot empty
      }
    }
    return new Collection(spec, maps, programs, btfObject, structOpsValues, pinnedByLoad);
  } catch (e) {
    rollBackPins(pinnedByLoad, pinRootMade);
    ctx.close();
    for (const p of programs.values()) p.close();
    for (const m of maps.values()) m.close();
    btfObject?.close();
    throw e;
  }
}

const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

function applyVariables(spec: ObjectSpec, values: NonNullable<LoadCollectionOptions['variables']>): void {
  for (const [name, value] of Object.entries(values)) setVariable(spec, name, value);
}

/**
 * Feature sets from newest to oldest kernel: when BTF_LOAD rejects the
 * object's BTF, the next step down rewrites what that kernel lacks (as
 * libbpf's sanitising does), keeping type ids so .BTF.ext stays valid.
 */
const BTF_FEATURE_LADDER: Array<Partial<BtfFeatures>> = [
  { enum64: false },
  { enum64: false, typeTag: false },
  { enum64: false, typeTag: false, declTag: false },
  { enum64: false, typeTag: false, declTag: false, float: false },
  { enum64: false, typeTag: false, declTag: false, float: false, funcGlobal: false },
];

function loadObjectBtf(spec: ObjectSpec): BtfObject | undefined {
  const bytes = kernelBtfBytes(spec);
  if (!bytes) return undefined;
  let firstError: unknown;
  try {
    return BtfObject.load(bytes);
  } catch (e) {
    firstError = e;
  }
  const parsed = parseBtf(bytes);
  for (const step of BTF_FEATURE_LADDER) {
    const sanitized = sanitizeBtf(parsed, { ...ALL_BTF_FEATURES, ...step });
    if (!sanitized.changed) continue;
    try {
      return BtfObject.load(sanitized.bytes);
    } catch {
      // try an older kernel's feature set
    }
  }
  // libbpf goes on without BTF when the kernel rejects it; so do we, unless a program needs it.
  if (spec.programs.some((p) => p.attachBtf) || spec.externs.some((x) => x.kind === 'kfunc')) {
    throw new LoadError('E_BTF', `the kernel rejected the object's BTF: ${(firstError as Error).message}`, spec.name, firstError);
  }
  return undefined;
}

/** A second reference to a live map standing in for `m`, after checking that it matches the definition. */
function reuseMap(m: MapSpec, live: BpfMap): BpfMap {
  const want = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: mapMaxEntries(m), flags: m.flags };
  const have = { type: live.type, keySize: live.keySize, valueSize: live.valueSize, maxEntries: live.maxEntries, flags: live.flags };
  const differ = (Object.keys(want) as Array<keyof typeof want>).filter((k) => want[k] !== have[k]);
  if (differ.length) {
    throw new LoadError('E_MAP_REPLACEMENT', `the replacement map differs in ${differ.map((k) => `${k} (${have[k]}, want ${want[k]})`).join(', ')}`, m.name);
  }
  return BpfMap.fromId(live.id);
}

function createMap(m: MapSpec, btf: BtfObject | undefined, pinPath = BPFFS_PATH, pinnedNow: string[] = []): BpfMap {
  const pinned = m.pinning === 'byName' ? join(pinPath, m.name) : undefined;
  if (pinned && existsSync(pinned)) {
    const existing = BpfMap.openPinned(pinned);
    const same = existing.type === m.type && existing.keySize === m.keySize && existing.valueSize === m.valueSize
      && existing.maxEntries === mapMaxEntries(m) && existing.flags === m.flags;
    if (!same) {
      existing.close();
      throw new LoadError('E_PIN_MISMATCH', `pinned map at ${pinned} has a different definition`, m.name);
    }
    return existing;
  }
  let inner: BpfMap | undefined;
  try {
    if (m.inner) inner = createMap({ ...m.inner, pinning: 'none' }, btf);
    const base = {
      type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: mapMaxEntries(m), flags: m.flags, name: m.kernelName,
      ...(m.numaNode ? { numaNode: m.numaNode } : {}), ...(m.mapExtra ? { mapExtra: m.mapExtra } : {}), ...(inner ? { innerMap: inner } : {}),
    };
    const withBtf = btf && !NO_BTF_TYPES.has(m.type) && (m.btfKeyTypeId || m.btfValueTypeId)
      ? { ...base, btfFd: btf.fd, btfKeyTypeId: m.btfKeyTypeId, btfValueTypeId: m.btfValueTypeId } : undefined;
    let map: BpfMap;
    try {
      map = BpfMap.create(withBtf ?? base);
    } catch (e) {
      if (haveMapType(m.type) === false) throw new LoadError('E_NO_FEATURE', `this kernel does not support map type ${mapTypeName(m.type)}`, m.name, e);
      if (!withBtf) throw new LoadError('E_MAP_CREATE', (e as Error).message, m.name, e);
      map = BpfMap.create(base); // libbpf retries without BTF
    }
    try {
      if (m.data && m.data.length > 0) map.update(u32(0), m.data);
      if (m.freeze) map.freeze();
      if (pinned) {
        map.pin(pinned);
        pinnedNow.push(pinned);
      }
    } catch (e) {
      map.close();
      throw new LoadError('E_MAP_INIT', (e as Error).message, m.name, e);
    }
    return map;
  } finally {
    inner?.close();
  }
}

function mapMaxEntries(m: MapSpec): number {
  if (m.type === MapType.PERF_EVENT_ARRAY && m.maxEntries === 0) return possibleCpuCount();
  if ((m.type === MapType.RINGBUF || m.type === MapType.USER_RINGBUF) && m.maxEntries > 0) {
    // libbpf rounds ring buffer sizes up to a power-of-2 number of pages.
    const page = pageSize();
    let size = page;
    while (size < m.maxEntries) size *= 2;
    return size;
  }
  return m.maxEntries;
}

/** A name found in kernel BTF: its id, and the module when it is not in vmlinux. */
interface KernelTypeRef {
  id: number;
  module?: string;
}

/** Kernel BTF (vmlinux, then modules), the CO-RE target over it and module BTF fds, made on first use. */
class KernelContext {
  #target: CoreTarget | undefined;
  readonly #moduleFds = new Map<string, BtfObject>();
  constructor(readonly override?: Btf) {}

  get btf(): Btf {
    return this.override ?? kernelBtf();
  }

  get coreTarget(): CoreTarget {
    this.#target ??= new CoreTarget(this.btf, this.override ? [] : moduleBtfs());
    return this.#target;
  }

  find(name: string, kind: BtfType['kind']): KernelTypeRef | undefined {
    const id = this.btf.findByName(name, kind);
    if (id !== undefined) return { id };
    if (this.override) return undefined;
    for (const m of moduleBtfs()) {
      for (const mid of m.findAllByName(name, kind)) {
        if (mid >= m.firstId) return { id: mid, module: moduleNameOf(m) ?? '' };
      }
    }
    return undefined;
  }

  /** An fd of a module's BTF object in the kernel (kept open until close()). */
  moduleFd(module: string): number {
    let obj = this.#moduleFds.get(module);
    if (!obj) {
      for (const info of listBtf()) {
        if (!info.kernelBtf || info.name !== module) continue;
        obj = BtfObject.fromId(info.id);
        break;
      }
      if (!obj) throw new LoadError('E_MODULE_BTF', `no BTF object for kernel module '${module}'`);
      this.#moduleFds.set(module, obj);
    }
    return obj.fd;
  }

  close(): void {
    for (const o of this.#moduleFds.values()) o.close();
    this.#moduleFds.clear();
  }
}

function loadProgram(
  spec: ObjectSpec, p: ProgramSpec, maps: Map<string, BpfMap>, btf: BtfObject | undefined, ctx: KernelContext, options: LoadCollectionOptions,
  structOps?: { attachBtfId: number; expectedAttachType: number },
): Program {
  const insns: Instruction[] = p.instructions.map((i) => ({ ...i }));
  // fd_array for module kfuncs: index 0 means vmlinux, so it stays unused.
  const fdArray: number[] = [0];
  const poisoned: string[] = [];
  const replaced = new Map<number, Instruction[]>();
  for (const r of p.relocations) {
    const ins = insns[r.insn]!;
    switch (r.kind) {
      case 'map': {
        const m = maps.get(r.map)!;
        ins.src = PseudoLoad.MAP_FD;
        setLddw(ins, m.fd, 0);
        break;
      }
      case 'mapValue': {
        const m = maps.get(r.map);
        if (!m) throw new LoadError('E_RELOCATION', `no map '${r.map}' for a data reference`, p.name);
        ins.src = PseudoLoad.MAP_VALUE;
        setLddw(ins, m.fd, r.offset);
        break;
      }
      case 'ksym': {
        const ext = externNamed(spec, r.extern);
        resolveKsym(ext, ins, ctx, p.name);
        break;
      }
      case 'kfunc': {
        const ext = externNamed(spec, r.extern);
        const ref = ctx.find(ext.name, 'func');
        ins.src = PseudoCall.KFUNC_CALL;
        if (ref === undefined) {
          if (!ext.weak) throw new LoadError('E_KFUNC', `kernel function '${ext.name}' not found in kernel BTF`, p.name);
          ins.imm = 0; // an unresolved weak kfunc: the verifier removes the call when it is dead code
          ins.off = 0;
        } else {
          ins.imm = ref.id;
          ins.off = ref.module === undefined ? 0 : fdArrayIndex(fdArray, ctx.moduleFd(ref.module));
        }
        break;
      }
      case 'core': {
        if (!spec.btf) throw new LoadError('E_CORE', 'CO-RE relocation without object BTF', p.name);
        let result: CoreResult;
        try {
          result = resolveCoreRelo(r.relo, spec.btf, ctx.coreTarget);
        } catch (e) {
          throw new LoadError('E_CORE', `CO-RE relocation at instruction ${r.insn}: ${(e as Error).message}`, p.name, e);
        }
        if (result.poison) poisoned.push(`instruction ${r.insn}: ${result.reason ?? result.path}`);
        replaced.set(r.insn, applyCoreRelocation(replaced.get(r.insn)?.[0] ?? ins, result, r.insn));
        break;
      }
    }
  }
  const finalInsns = replaced.size ? insns.flatMap((ins, i) => replaced.get(i) ?? [ins]) : insns;

  let attachBtfId: number | undefined = structOps?.attachBtfId;
  let attachBtfObjFd: number | undefined;
  if (p.attachBtf) {
    const ref = ctx.find(p.attachBtf.name, p.attachBtf.kind);
    if (ref === undefined) throw new LoadError('E_ATTACH_BTF', `${p.attachBtf.kind} '${p.attachBtf.name}' not found in kernel BTF`, p.name);
    attachBtfId = ref.id;
    if (ref.module !== undefined) attachBtfObjFd = ctx.moduleFd(ref.module);
  }
  const flags = (p.sleepable ? ProgFlags.SLEEPABLE : 0) | (p.xdpFrags ? ProgFlags.XDP_HAS_FRAGS : 0);
  try {
    return Program.load({
      type: p.type as ProgTypeName,
      name: p.name.slice(0, 15),
      instructions: finalInsns,
      license: p.license,
      ...(p.attachType ? { expectedAttachType: p.attachType as AttachTypeName } : {}),
      ...(structOps ? { expectedAttachType: structOps.expectedAttachType } : {}),
      ...(attachBtfId !== undefined ? { attachBtfId } : {}),
      ...(attachBtfObjFd !== undefined ? { attachBtfObjFd } : {}),
      ...(flags ? { flags } : {}),
      kernVersion: p.kernelVersion,
      ...(btf ? { btf: { fd: btf.fd, funcInfo: encodeFuncInfo(p), funcInfoRecSize: 8, lineInfo: encodeLineInfo(p), lineInfoRecSize: 16 } } : {}),
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.maxLogSize ? { maxLogSize: options.maxLogSize } : {}),
      ...(fdArray.length > 1 ? { fdArray } : {}),
    });
  } catch (e) {
    // Refused before verification: name what this kernel lacks, as the features table does.
    if (!(e instanceof VerifierError) && e instanceof SyscallError) {
      if (!haveProgType(p.type as ProgTypeName)) throw new LoadError('E_NO_FEATURE', `this kernel does not support program type ${p.type} (section '${p.section}')`, p.name, e);
      if (p.xdpFrags && !haveXdpFrags()) throw new LoadError('E_NO_FEATURE', `this kernel does not support XDP programs for multi-buffer frames (xdp_frags, Linux 5.18; section '${p.section}')`, p.name, e);
    }
    if (e instanceof VerifierError && poisoned.length) {
      throw new LoadError('E_CORE', `the verifier rejected the program; CO-RE relocations that could not be satisfied:\n  ${poisoned.join('\n  ')}\n${e.message}`, p.name, e);
    }
    throw e;
  }
}

function setLddw(ins: Instruction, lo: number, hi: number): void {
  if (ins.opcode !== LDDW) throw new LoadError('E_RELOCATION', 'map reference on an instruction that is not lddw');
  ins.imm = lo | 0;
  ins.imm64 = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function externNamed(spec: ObjectSpec, name: string): ExternSpec {
  const e = spec.externs.find((x) => x.name === name);
  if (!e) throw new LoadError('E_EXTERN', `no extern '${name}'`, spec.name);
  return e;
}

function resolveKsym(ext: ExternSpec, ins: Instruction, ctx: KernelContext, program: string): void {
  if (ext.typed) {
    // lddw of a kfunc is an existence check (bpf_ksym_exists): a BTF id when present, 0 when a weak one is missing.
    const ref = ctx.find(ext.name, ext.kind === 'kfunc' ? 'func' : 'var');
    if (ref !== undefined) {
      ins.src = PseudoLoad.BTF_ID;
      setLddwKeepSrc(ins, ref.id, ref.module === undefined ? 0 : ctx.moduleFd(ref.module));
      return;
    }
    if (!ext.weak) throw new LoadError('E_KSYM', `kernel variable '${ext.name}' not found in kernel BTF`, program);
    setLddwKeepSrc(ins, 0, 0);
    return;
  }
  const addr = kallsymsAddress(ext.name);
  if (addr === undefined && !ext.weak) throw new LoadError('E_KSYM', `kernel symbol '${ext.name}' not found in /proc/kallsyms`, program);
  const a = addr ?? 0n;
  setLddwKeepSrc(ins, Number(a & 0xffffffffn), Number(a >> 32n));
}

function fdArrayIndex(fdArray: number[], fd: number): number {
  const at = fdArray.indexOf(fd, 1);
  if (at > 0) return at;
  fdArray.push(fd);
  return fdArray.length - 1;
}

function setLddwKeepSrc(ins: Instruction, lo: number, hi: number): void {
  const src = ins.src;
  setLddw(ins, lo, hi);
  ins.src = src;
}

function encodeFuncInfo(p: ProgramSpec): Uint8Array {
  return packFuncInfo(p.funcInfo.map((f) => ({ insn: f.insnOff, typeId: f.typeId })));
}

function encodeLineInfo(p: ProgramSpec): Uint8Array {
  return packLineInfo(
    p.lineInfo.map((l) => ({ insn: l.insnOff, fileNameOff: l.fileNameOff ?? 0, lineOff: l.lineOff ?? 0, lineNumber: l.lineNumber, column: l.column })),
  );
}
