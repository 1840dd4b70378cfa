/**
 * Feature probes: what this kernel offers. Each probe does the smallest
 * real thing (load a 2-instruction program, create a 1-entry map, ask the
 * verifier about one helper) and is cached for the life of the process.
 * `require*` turns a missing feature into an error that names it.
 */
import { Helper, type HelperName, helperName } from '../asm/helpers.js';
import { instruction, wideLoad, type Instruction } from '../asm/instruction.js';
import { PseudoLoad } from '../asm/opcodes.js';
import { BtfBuilder } from '../btf/index.js';
import { SyscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { MapFlags, ProgFlags } from '../syscall/flags.js';
import { Attr, AttachType, MapType, ProgType } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { BtfObject } from './btf-object.js';
import { possibleCpuCount } from './cpus.js';
import { BpfMap, type MapSpec, type MapTypeName, mapTypeName } from './map.js';
import { Program, type ProgramSpec, type ProgTypeName, progTypeName } from './program.js';
import { closeSync, existsSync, openSync } from 'node:fs';
import { closeFd } from '../syscall/fd.js';
import { perfEventOpen } from '../syscall/perf-event.js';
import { nativeCString } from '../syscall/memory.js';
import { kallsymsAddress } from './kernel-symbols.js';
import { dynamicPmuType } from './tracefs.js';
import { VerifierError } from './verifier-error.js';

/**
 * The running kernel lacks something a caller needs.
 * @example
 * try { requireMapType('ringbuf'); } catch (e) { if (e instanceof MissingFeatureError) console.error(e.feature); }
 */
export class MissingFeatureError extends Error {
  override readonly name = 'MissingFeatureError';
  readonly code = 'E_NO_FEATURE';
  constructor(readonly feature: string, hint?: string) {
    super(`this kernel does not support ${feature}${hint ? ` (${hint})` : ''}`);
  }
}

const cache = new Map<string, boolean | undefined>();

/** Runs `probe` once per process under `key` (clearFeatureCache forgets). */
export function probeCached(key: string, probe: () => boolean | undefined): boolean | undefined {
  if (cache.has(key)) return cache.get(key);
  const v = probe();
  cache.set(key, v);
  return v;
}

/**
 * Forget cached results (tests).
 * @example
 * clearFeatureCache();   // probe again (after a module load, say)
 */
export function clearFeatureCache(): void {
  cache.clear();
}

const ret0: Instruction[] = [instruction(0xb7, 0, 0, 0, 0), instruction(0x95)];

/** What a minimal program of each type needs to be accepted. */
function minimalProgram(type: number, insns: Instruction[] = ret0): ProgramSpec {
  const spec: ProgramSpec = { type, instructions: insns, license: 'GPL' };
  switch (type) {
    case ProgType.CGROUP_SOCK_ADDR: spec.expectedAttachType = AttachType.CGROUP_INET4_CONNECT; break;
    case ProgType.CGROUP_SOCKOPT: spec.expectedAttachType = AttachType.CGROUP_GETSOCKOPT; break;
    case ProgType.SK_LOOKUP: spec.expectedAttachType = AttachType.SK_LOOKUP; break;
    case ProgType.NETFILTER: spec.expectedAttachType = AttachType.NETFILTER; break;
    case ProgType.TRACING: spec.expectedAttachType = AttachType.TRACE_FENTRY; spec.attachBtfId = 1; break;
    case ProgType.LSM: spec.expectedAttachType = AttachType.LSM_MAC; spec.attachBtfId = 1; break;
    case ProgType.STRUCT_OPS: spec.attachBtfId = 1; break;
    case ProgType.SYSCALL: spec.flags = ProgFlags.SLEEPABLE; break;
    default: break;
  }
  return spec;
}

/** Loads a spec; true if it loads, false if rejected, and the log. Permission errors propagate. */
function tryLoad(spec: ProgramSpec): { ok: boolean; log: string; errno: number } {
  try {
    Program.load(spec).close();
    return { ok: true, log: '', errno: 0 };
  } catch (e) {
    if (e instanceof VerifierError) return { ok: false, log: e.log, errno: e.errno };
    if (e instanceof SyscallError) return { ok: false, log: '', errno: e.errno };
    throw e;
  }
}

const resolveProg = (t: ProgTypeName | number): number => (typeof t === 'number' ? t : (ProgType as Record<string, number>)[t.toUpperCase()]!);
const resolveMap = (t: MapTypeName | number): number => (typeof t === 'number' ? t : (MapType as Record<string, number>)[t.toUpperCase()]!);

/**
 * Whether programs of this type can be loaded. An unknown type is refused
 * before the verifier runs (no log); a known type that fails verification
 * (e.g. TRACING with a placeholder attach target) still writes a log.
 * @example
 * if (!haveProgType('lsm')) console.log('no LSM programs here');
 */
export function haveProgType(type: ProgTypeName | number): boolean {
  const t = resolveProg(type);
  return probeCached(`prog:${t}`, () => {
    if (t === ProgType.UNSPEC) return false;
    const r = tryLoad(minimalProgram(t));
    // EPERM for one type while the simplest type loads: refused here (e.g. no fentry support), not a privilege problem.
    if (r.errno === Errno.EPERM && (t === ProgType.SOCKET_FILTER || !haveProgType(ProgType.SOCKET_FILTER))) {
      throw new SyscallError('BPF_PROG_LOAD (feature probe)', Errno.EPERM, 'feature probes need root or CAP_BPF');
    }
    return r.ok || r.log.trim() !== '';
  })!;
}

let smallBtf: { fd: BtfObject; int: number; long: number } | undefined;
function storageBtf(): { fd: BtfObject; int: number; long: number } {
  if (smallBtf && !smallBtf.fd.closed) return smallBtf;
  const b = new BtfBuilder();
  const int = b.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });
  const long = b.add({ kind: 'int', name: 'long', size: 8, signed: true, char: false, bool: false, bitOffset: 0, bits: 64 });
  smallBtf = { fd: BtfObject.load(b.encode()), int, long };
  return smallBtf;
}

/** The smallest valid creation attributes of each map type. */
function minimalMap(type: number): MapSpec | undefined {
  const kv = (keySize: number, valueSize: number, maxEntries = 1, flags = 0): MapSpec => ({ type, keySize, valueSize, maxEntries, flags });
  switch (type) {
    case MapType.HASH: case MapType.ARRAY: case MapType.PERCPU_HASH: case MapType.PERCPU_ARRAY:
    case MapType.LRU_HASH: case MapType.LRU_PERCPU_HASH: case MapType.PROG_ARRAY: case MapType.PERF_EVENT_ARRAY:
    case MapType.CGROUP_ARRAY: case MapType.DEVMAP: case MapType.DEVMAP_HASH: case MapType.CPUMAP: case MapType.XSKMAP:
    case MapType.SOCKMAP: case MapType.SOCKHASH: case MapType.REUSEPORT_SOCKARRAY:
      return kv(4, 4, type === MapType.PERF_EVENT_ARRAY || type === MapType.CPUMAP ? possibleCpuCount() : 1);
    case MapType.STACK_TRACE: return kv(4, 8, 1);
    case MapType.LPM_TRIE: return kv(8, 4, 1, MapFlags.NO_PREALLOC);
    case MapType.ARRAY_OF_MAPS: case MapType.HASH_OF_MAPS: return kv(4, 4, 1); // inner map added by the probe
    case MapType.CGROUP_STORAGE: case MapType.PERCPU_CGROUP_STORAGE: return kv(8, 8, 0);
    case MapType.QUEUE: case MapType.STACK: return kv(0, 4, 1);
    case MapType.BLOOM_FILTER: return kv(0, 4, 1);
    case MapType.RINGBUF: case MapType.USER_RINGBUF: return { type, maxEntries: 4096 };
    case MapType.ARENA: return { type, maxEntries: 1, flags: MapFlags.MMAPABLE };
    case MapType.SK_STORAGE: case MapType.INODE_STORAGE: case MapType.TASK_STORAGE: case MapType.CGRP_STORAGE: {
      const b = storageBtf();
      return { type, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfFd: b.fd.fd, btfKeyTypeId: b.int, btfValueTypeId: b.long };
    }
    default:
      return undefined; // STRUCT_OPS needs a kernel struct to implement: not probed
  }
}

/**
 * Whether maps of this type can be created; undefined when it cannot be probed (struct_ops).
 * @example
 * haveMapType('ringbuf');   // true, false, or undefined when it cannot be probed
 */
export function haveMapType(type: MapTypeName | number): boolean | undefined {
  const t = resolveMap(type);
  return probeCached(`map:${t}`, () => {
    const spec = minimalMap(t);
    if (!spec) return t > Math.max(...Object.values(MapType)) ? false : undefined;
    let inner: BpfMap | undefined;
    try {
      if (t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS) {
        inner = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
        spec.innerMap = inner;
      }
      BpfMap.create(spec).close();
      return true;
    } catch (e) {
      if (e instanceof SyscallError && e.errno !== Errno.EPERM) return false;
      throw e;
    } finally {
      inner?.close();
    }
  });
}

/**
 * Whether programs of `progType` may call helper `helper` (name or number);
 * undefined when the type's minimal program cannot load here (TRACING, LSM,
 * STRUCT_OPS need a real attach target), so the verifier never reaches the call.
 * @example
 * haveHelper('xdp', 'redirect_map');   // true where XDP programs may call bpf_redirect_map
 */
export function haveHelper(progType: ProgTypeName | number, helper: HelperName | number): boolean | undefined {
  const t = resolveProg(progType);
  const h = typeof helper === 'number' ? helper : Helper[helper];
  return probeCached(`helper:${t}:${h}`, () => {
    if (!haveProgType(t)) return false;
    if (!probeCached(`baseline:${t}`, () => tryLoad(minimalProgram(t)).ok)) return undefined;
    const r = tryLoad(minimalProgram(t, [instruction(0x85, 0, 0, 0, h), instruction(0xb7, 0, 0, 0, 0), instruction(0x95)]));
    if (r.ok) return true;
    return !/invalid func |unknown func |program of this type cannot use helper/.test(r.log) && r.log.trim() !== '';
  });
}

/**
 * ISA levels: v2 (jlt/jle/jslt/jsle), v3 (32-bit jumps), v4 (sign extension, bswap, sdiv, gotol).
 * @example
 * const useAtomics = haveIsa(3);
 */
export function haveIsa(version: 2 | 3 | 4): boolean {
  return probeCached(`isa:${version}`, () => {
    const probe: Record<number, Instruction[]> = {
      2: [instruction(0xb7, 0, 0, 0, 0), instruction(0xa5, 0, 0, 0, 1), instruction(0x95)], // if r0 < 1 goto +0
      3: [instruction(0xb7, 0, 0, 0, 0), instruction(0xa6, 0, 0, 0, 1), instruction(0x95)], // if w0 < 1 goto +0
      4: [instruction(0xb7, 0, 0, 0, 0), instruction(0xbf, 0, 0, 8, 0), instruction(0x95)], // r0 = (s8)r0
    };
    return tryLoad({ type: ProgType.SOCKET_FILTER, instructions: probe[version]! }).ok;
  })!;
}

/** Whether a bpf() command exists: an unknown command is EINVAL, a known one with fd -1 is EBADF. */
function haveCommandTakingFd(key: string, cmd: 'LINK_CREATE' | 'LINK_GET_FD_BY_ID' | 'ITER_CREATE', size: number, fdOffset: number): boolean {
  return probeCached(key, () => {
    try {
      bpfCommand(cmd, size, (a) => a.view.setInt32(fdOffset, -1, true));
      return true;
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      if (e.errno === Errno.EPERM) throw e;
      return e.errno !== Errno.EINVAL;
    }
  })!;
}

/**
 * BPF links (BPF_LINK_CREATE, Linux 5.7).
 * @example
 * const method = haveBpfLinks() ? 'link' : 'netlink';
 */
export const haveBpfLinks = (): boolean => haveCommandTakingFd('cmd:link_create', 'LINK_CREATE', Attr.linkCreate.size, Attr.linkCreate.prog_fd);

/**
 * bpf_cookie for tracing programs (bpf_get_attach_cookie, Linux 5.15).
 * @example
 * if (haveBpfCookie()) attachKprobe(prog, 'do_sys_openat2', { cookie: 7n });
 */
export const haveBpfCookie = (): boolean => haveHelper('TRACEPOINT', 'get_attach_cookie') === true;

/** Maps named by index into BPF_PROG_LOAD's fd_array (BPF_PSEUDO_MAP_IDX, Linux 5.14). */
export const haveFdArray = (): boolean =>
  probeCached('fd_array', () => {
    const map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      return tryLoad({ type: ProgType.SOCKET_FILTER, instructions: [wideLoad(1, 0, PseudoLoad.MAP_IDX), instruction(0xb7, 0, 0, 0, 0), instruction(0x95)], fdArray: [map.fd] }).ok;
    } finally {
      map.close();
    }
  })!;

/** XDP programs that accept multi-buffer frames (BPF_F_XDP_HAS_FRAGS, Linux 5.18). */
export const haveXdpFrags = (): boolean =>
  probeCached('xdp_frags', () => tryLoad({ ...minimalProgram(ProgType.XDP), flags: ProgFlags.XDP_HAS_FRAGS }).ok)!;

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM on hash maps (Linux 5.14; queues and stacks had it before). */
export const haveHashLookupAndDelete = (): boolean =>
  probeCached('hash_lookup_and_delete', () => {
    const map = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      map.update(new Uint8Array(4), new Uint8Array(4));
      map.lookupAndDelete(new Uint8Array(4));
      return true;
    } catch (e) {
      if (e instanceof SyscallError && e.errno !== Errno.EPERM) return false;
      throw e;
    } finally {
      map.close();
    }
  })!;

/**
 * Inode local storage that user space can fill: the map type exists with
 * CONFIG_BPF_LSM, but inodes only carry storage when "bpf" is among the
 * active LSMs (lsm= on the command line); otherwise updates fail with EBADF.
 */
export const haveInodeStorage = (): boolean =>
  probeCached('inode_storage', () => {
    if (haveMapType('INODE_STORAGE') !== true) return false;
    const b = storageBtf();
    const map = BpfMap.create({ type: 'INODE_STORAGE', keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfFd: b.fd.fd, btfKeyTypeId: b.int, btfValueTypeId: b.long });
    const fd = openSync('/', 'r');
    try {
      map.update(new Uint8Array(new Int32Array([fd]).buffer), new Uint8Array(8));
      return true;
    } catch (e) {
      if (e instanceof SyscallError && e.errno !== Errno.EPERM) return false;
      throw e;
    } finally {
      closeSync(fd);
      map.close();
    }
  })!;

/**
 * Ring buffers (Linux 5.8).
 * @example
 * const events = haveRingBuf() ? 'ringbuf' : 'perf_event_array';
 */
export const haveRingBuf = (): boolean => haveMapType('RINGBUF') === true;

/**
 * BPF_PROG_TEST_RUN for XDP with live frames etc. is not probed; this is the basic test run.
 * @example
 * if (haveTestRun()) prog.testRun({ data: new Uint8Array(64) });
 */
export const haveTestRun = (): boolean =>
  probeCached('test_run', () => {
    const p = Program.load(minimalProgram(ProgType.XDP));
    try {
      p.testRun({ data: new Uint8Array(14) });
      return true;
    } catch (e) {
      if (e instanceof SyscallError && e.errno !== Errno.EPERM) return false;
      throw e;
    } finally {
      p.close();
    }
  })!;

/** The architecture part of syscall entry symbols (`__x64_sys_bpf`), as libbpf names it; undefined where there is none. */
const SYSCALL_PREFIX: Partial<Record<string, string>> = {
  x64: 'x64', ia32: 'ia32', arm64: 'arm64', arm: 'arm', s390x: 's390x', s390: 's390', mips: 'mips', mipsel: 'mips',
  riscv64: 'riscv', ppc64: 'powerpc64', ppc: 'powerpc', loong64: 'loongarch64',
};

/**
 * Whether syscalls enter through pt_regs wrappers (`__x64_sys_*`), the
 * LINUX_HAS_SYSCALL_WRAPPER that .kconfig offers BPF_KSYSCALL programs.
 * Probed as libbpf probes it: a kprobe on `__<arch>_sys_bpf` opens; with
 * only legacy kprobe_events, the symbol is in kallsyms; with no kprobes at
 * all, false (as libbpf answers there).
 */
export function haveSyscallWrapper(): boolean {
  return probeCached('syscall_wrapper', () => {
    const pfx = SYSCALL_PREFIX[process.arch];
    if (!pfx) return false;
    const symbol = `__${pfx}_sys_bpf`;
    const pmu = dynamicPmuType('kprobe');
    if (pmu === undefined) {
      const legacy = existsSync('/sys/kernel/tracing/kprobe_events') || existsSync('/sys/kernel/debug/tracing/kprobe_events');
      return legacy && kallsymsAddress(symbol) !== undefined;
    }
    using name = nativeCString(symbol);
    try {
      closeFd(perfEventOpen({ type: pmu, config: 0n, config1: name.address, config2: 0n }, -1, 0, -1, 0, `perf_event_open kprobe ${symbol}`));
      return true;
    } catch {
      return false;
    }
  }) ?? false;
}

/**
 * Throws a MissingFeatureError unless the running kernel loads programs of `type`.
 * @example
 * requireProgType('struct_ops');   // MissingFeatureError on kernels without it
 */
export function requireProgType(type: ProgTypeName | number): void {
  if (!haveProgType(type)) throw new MissingFeatureError(`program type ${progTypeName(resolveProg(type))}`, 'the kernel is too old or built without it');
}

/**
 * Throws a MissingFeatureError if the running kernel cannot create maps of `type`.
 * @example
 * requireMapType('arena');
 */
export function requireMapType(type: MapTypeName | number): void {
  if (haveMapType(type) === false) throw new MissingFeatureError(`map type ${mapTypeName(resolveMap(type))}`, 'the kernel is too old or built without it');
}

/**
 * Throws a MissingFeatureError if programs of `progType` may not call `helper` on the running kernel.
 * @example
 * requireHelper('tracepoint', 'get_attach_cookie');
 */
export function requireHelper(progType: ProgTypeName | number, helper: HelperName | number): void {
  if (haveHelper(progType, helper) === false) {
    const name = typeof helper === 'number' ? helperName(helper) ?? `#${helper}` : helper;
    throw new MissingFeatureError(`helper bpf_${name} in ${progTypeName(resolveProg(progType))} programs`);
  }
}

/** What `featureReport` probed: ISA versions, program and map types, other features and (when asked for) the helpers per program type. */
export interface FeatureReport {
  kernel: string;
  isa: { v2: boolean; v3: boolean; v4: boolean };
  programTypes: Record<string, boolean>;
  mapTypes: Record<string, boolean | null>;
  misc: Record<string, boolean>;
  /** Per supported program type, the helpers it may call (only when asked: it loads many programs). */
  helpers?: Record<string, string[]>;
}

/**
 * Everything at once, for `tsbpf feature`.
 * @example
 * const report = featureReport();
 * console.log(report.kernel, report.isa.v4, report.mapTypes.RINGBUF);
 */
export function featureReport(options: { helpers?: boolean; kernelRelease?: string } = {}): FeatureReport {
  const programTypes: Record<string, boolean> = {};
  for (const [name, v] of Object.entries(ProgType)) if (v !== 0) programTypes[name] = haveProgType(v);
  const mapTypes: Record<string, boolean | null> = {};
  const seen = new Set<number>();
  for (const [name, v] of Object.entries(MapType)) {
    if (v === 0 || seen.has(v) || name.endsWith('_DEPRECATED')) continue;
    seen.add(v);
    mapTypes[name] = haveMapType(v) ?? null;
  }
  const report: FeatureReport = {
    kernel: options.kernelRelease ?? '',
    isa: { v2: haveIsa(2), v3: haveIsa(3), v4: haveIsa(4) },
    programTypes,
    mapTypes,
    misc: {
      bpfLinks: haveBpfLinks(), bpfCookie: haveBpfCookie(), ringBuffer: haveRingBuf(), testRun: haveTestRun(),
      kprobes: dynamicPmuType('kprobe') !== undefined, uprobes: dynamicPmuType('uprobe') !== undefined,
    },
  };
  if (options.helpers) {
    report.helpers = {};
    for (const [name, v] of Object.entries(programTypes)) {
      if (!v || haveHelper(name as ProgTypeName, Helper.map_lookup_elem) === undefined) continue;
      report.helpers[name] = Object.entries(Helper).filter(([h, id]) => id !== 0 && h !== 'unspec' && haveHelper(name as ProgTypeName, id) === true).map(([h]) => h);
    }
  }
  return report;
}
