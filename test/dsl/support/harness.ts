import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/**
 * Test support for DSL modules: compile a module from a string, run one of
 * its programs in the interpreter and in the kernel (BPF_PROG_TEST_RUN),
 * and dump maps in one comparable shape.
 */
import { nodeHost, dslRoot } from '../../../src/cli/dsl-host.js';
import { ModuleEvaluator } from '../../../src/dsl/eval/index.js';
import { applySetting, type GlobalSetting } from '../../../src/cli/global-settings.js';
import { loadCompiledModule, mapSpecOf, relocate } from '../../../src/cli/dsl-live.js';
import { isDumpable } from '../../../src/dsl/compiler/map-kinds.js';
import { sizeOf } from '../../../src/dsl/compiler/ctypes.js';
import { PerfBufferReader } from '../../../src/kernel/perf-reader.js';
import { MapOfMaps } from '../../../src/interp/map-of-maps.js';
import { PerfEventArrayMap } from '../../../src/interp/perf-event-array.js';
import { ProgArrayMap } from '../../../src/interp/prog-array.js';
import { u32KeyBytes } from '../../../src/interp/maps.js';
import { sumPerCpu } from '../../../src/cli/dsl-values.js';
import { encode } from '../../../src/asm/codec.js';
import { compile, type CompiledMap, type CompiledModule, type CompileHost } from '../../../src/dsl/compiler/compile.js';
import { writeObject } from '../../../src/dsl/compiler/object.js';
import { CompileError, type DslDiagnostic } from '../../../src/dsl/compiler/diagnostics.js';
import { createMap, type HelperTable, type InterpMap, RingBufMap, runSync, type SocketInfo, type TaskInfo } from '../../../src/interp/index.js';
import { BpfMap } from '../../../src/kernel/map.js';
import { RingBufReader } from '../../../src/kernel/ringbuf-reader.js';

export const MODULE_DIR = '/virtual/modules';

/** A host serving in-memory modules under MODULE_DIR and everything else from disk. */
export function memoryHost(files: Record<string, string>): CompileHost {
  return {
    readFile: (path) => (path.startsWith(`${MODULE_DIR}/`) ? files[path.slice(MODULE_DIR.length + 1)] : nodeHost.readFile(path)),
    tracepointFormat: nodeHost.tracepointFormat!,
  };
}

/** Compiles `source` as MODULE_DIR/m.bpf.ts (other files may be given too). */
export function compileSource(source: string, extra: Record<string, string> = {}): CompiledModule {
  return compile({ entry: `${MODULE_DIR}/m.bpf.ts`, host: memoryHost({ 'm.bpf.ts': source, ...extra }), dslRoot });
}

/**
 * The module's object (what `tsbpf build` writes) as a file for the
 * enclosing suite: written in a temporary directory before its tests,
 * removed after them. `path` is set once the suite runs.
 */
export function objectFileOf(source: string, name = 'm.o'): { path: string } {
  const file = { path: '' };
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-obj-'));
    file.path = join(dir, name);
    writeFileSync(file.path, writeObject(compileSource(source)));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  return file;
}

/** The diagnostics a module produces (empty when it compiles). */
export function diagnosticsOf(source: string, extra: Record<string, string> = {}): DslDiagnostic[] {
  try {
    compileSource(source, extra);
    return [];
  } catch (e) {
    if (e instanceof CompileError) return e.diagnostics;
    throw e;
  }
}

export type MapDump = Record<string, Record<string, string>>;

/** A map key or value as MapDump shows it: little-endian hex. */
export const le64 = (v: bigint) => Buffer.from(new BigUint64Array([BigInt.asUintN(64, v)]).buffer).toString('hex');
export const le32 = (v: number) => Buffer.from(new Uint32Array([v >>> 0]).buffer).toString('hex');

/** The dump of an `arrayMap<u64>` holding `values` by index (zero values are not dumped). */
export function outMap(values: Record<number, bigint>): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== 0n) o[le32(Number(k))] = le64(v);
  return o;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Non-zero entries of every key/value map (per-CPU values summed), keyed by hex. */
export function dumpKernelMaps(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>): MapDump {
  const out: MapDump = {};
  for (const spec of mod.maps) {
    if (spec.kind === 'array_of_maps') {
      const inner = maps.get(`${spec.name}[0]`);
      if (inner) out[`${spec.name}[0]`] = Object.fromEntries([...inner].filter(([, v]) => v.some((x) => x !== 0)).map(([k, v]) => [hex(k), hex(v)]));
      continue;
    }
    if (!isDumpable(spec.kind)) continue;
    const m = maps.get(spec.name)!;
    const entries: Record<string, string> = {};
    for (const [k, v] of m) {
      const value = m.isPerCpu ? sumPerCpu(m.splitPerCpu(v).map((p) => p.subarray(0, spec.valueSize)), spec.value) : v.slice(0, spec.valueSize);
      if (value.some((x) => x !== 0)) entries[hex(k)] = hex(value);
    }
    out[spec.name] = entries;
  }
  return out;
}

export interface RunOutcome {
  retval: number;
  maps: MapDump;
  /** Ring buffer events by map name, in order. */
  events: Record<string, string[]>;
  /** The packet after the program ran (packet programs). */
  packet?: string;
}

export type PacketKind = 'xdp' | 'skb';

/** Runs a packet program in the kernel with BPF_PROG_TEST_RUN. */
export function runKernel(mod: CompiledModule, program: string, packet: Uint8Array, options: { repeat?: number; rodata?: Record<string, GlobalSetting> } = {}): RunOutcome {
  const live = loadCompiledModule(mod, { only: [program], ...(options.rodata ? { rodata: options.rodata } : {}) });
  try {
    let retval = 0;
    let out: Uint8Array | undefined;
    for (let i = 0; i < (options.repeat ?? 1); i++) {
      const r = live.programs.get(program)!.testRun({ data: packet });
      retval = r.retval;
      out = r.dataOut;
    }
    return { retval, maps: dumpKernelMaps(mod, live.maps), events: {}, ...(out ? { packet: hex(out) } : {}) };
  } finally {
    live.close();
  }
}

/** The task the interpreter's bpf_get_current_* helpers report, unless a test says otherwise. */
const DEFAULT_TASK: Partial<TaskInfo> = { pid: 4242, tgid: 4242, uid: 0, gid: 0, comm: 'tsbpf-test' };

/** Interpreter-side maps of a module (per-CPU kinds are single-CPU here). */
export class InterpMaps {
  readonly byName = new Map<string, InterpMap>();
  readonly byFd = new Map<number, InterpMap>();
  readonly fds = new Map<string, number>();
  /** The module's ring buffers by name, drained into RunOutcome.events after each run. */
  readonly rings = new Map<string, RingBufMap>();

  constructor(readonly mod: CompiledModule, rodata: Record<string, GlobalSetting> = {}) {
    let fd = 100;
    for (const m of mod.maps) {
      const im = interpMapOf(m);
      if (im instanceof RingBufMap) this.rings.set(m.name, im);
      if (im instanceof PerfEventArrayMap) this.perf.set(m.name, im);
      // Slot 0 of an array of maps gets an inner map of the template's shape, as fillInnerMaps does in the kernel.
      if (im instanceof MapOfMaps && m.inner) {
        const inner = interpMapOf(m.inner);
        im.set(u32KeyBytes(0), inner);
        this.byName.set(`${m.name}[0]`, inner);
      }
      this.add(m.name, im, fd++);
    }
    for (const d of mod.data) {
      const im = createMap({ type: 'array', keySize: 4, valueSize: d.bytes.length, maxEntries: 1 });
      const bytes = d.bytes.slice();
      for (const [name, value] of Object.entries(rodata)) applySetting(d, bytes, name, value);
      im.update(new Uint8Array(4), bytes, 0n);
      this.add(d.name, im, fd++);
    }
    // Prog arrays hold the programs their declaration lists, as loadCompiledModule fills them.
    const fakeMaps = new Map<string, { fd: number }>([...this.fds].map(([n, f]) => [n, { fd: f }]));
    for (const m of mod.maps) {
      m.programs?.forEach((name, i) => {
        const p = mod.programs.find((x) => x.name === name)!;
        (this.byName.get(m.name) as ProgArrayMap).set(i, encode(relocate(p, fakeMaps as unknown as Map<string, BpfMap>)));
      });
    }
  }

  /** Perf event arrays by name, drained into RunOutcome.events after each run. */
  readonly perf = new Map<string, PerfEventArrayMap>();

  add(name: string, m: InterpMap, fd: number): void {
    this.byName.set(name, m);
    this.byFd.set(fd, m);
    this.fds.set(name, fd);
  }

  dump(): MapDump {
    const out: MapDump = {};
    for (const spec of this.mod.maps) {
      if (spec.kind === 'array_of_maps') {
        const inner = this.byName.get(`${spec.name}[0]`)!;
        out[`${spec.name}[0]`] = Object.fromEntries([...inner.keys()].map((k) => [hex(k), hex(inner.lookup(k)!)]).filter(([, v]) => /[^0]/.test(v!)));
        continue;
      }
      if (!isDumpable(spec.kind)) continue;
      const m = this.byName.get(spec.name)!;
      const entries: Record<string, string> = {};
      for (const k of m.keys()) {
        const v = m.lookup(k)!;
        if (v.some((x) => x !== 0)) entries[hex(k)] = hex(v);
      }
      out[spec.name] = entries;
    }
    return out;
  }
}

/** Runs a program in the interpreter: packet programs get xdp_md/__sk_buff, others a raw context. */
export function runInterp(
  mod: CompiledModule,
  program: string,
  input: { packet?: Uint8Array; ctx?: Uint8Array; sk?: SocketInfo },
  options: { repeat?: number; task?: Partial<TaskInfo>; rodata?: Record<string, GlobalSetting>; maps?: InterpMaps; helpers?: HelperTable } = {},
): RunOutcome & { trace: string[] } {
  const p = mod.programs.find((x) => x.name === program);
  if (!p) throw new Error(`no program ${program}`);
  const maps = options.maps ?? new InterpMaps(mod, options.rodata);
  const fakeMaps = new Map<string, { fd: number }>([...maps.fds].map(([n, fd]) => [n, { fd }]));
  const bytes = encode(relocate(p, fakeMaps as unknown as Map<string, BpfMap>));
  const events: Record<string, string[]> = {};
  // Socket filters and cgroup skb programs see the packet from the network header, as in the kernel's test run.
  const l3 = p.kind === 'socket_filter' || p.kind === 'cgroup_skb';
  const packet = input.packet && l3 ? input.packet.slice(14) : input.packet?.slice();
  const task = { ...DEFAULT_TASK, ...options.task };
  let retval = 0;
  const trace: string[] = [];
  let after: Uint8Array | undefined = packet;
  for (let i = 0; i < (options.repeat ?? 1); i++) {
    const net = packet ? (p.kind === 'xdp' ? { xdp: { packet } } : { skb: { packet, ...(input.sk ? { sk: input.sk } : {}) } }) : {};
    const r = runSync(bytes, { ...net, ...(input.ctx ? { ctx: input.ctx } : {}), maps: maps.byFd, task, ...(options.helpers ? { helpers: options.helpers } : {}) });
    retval = Number(BigInt.asUintN(32, r.r0));
    trace.push(...r.trace);
    for (const [name, ring] of maps.rings) for (const e of ring.drain()) (events[name] ??= []).push(hex(e));
    for (const [name, perf] of maps.perf) for (const e of perf.drain()) (events[name] ??= []).push(hex(e.data));
    // bpf_xdp_adjust_head/tail give the run a new packet array.
    if (packet && r.packet) after = r.packet;
  }
  return { retval, maps: maps.dump(), events, trace, ...(after && !l3 ? { packet: hex(after) } : {}) };
}

// ------------------------------------------------------------ packets

export function ipv4(bytes: number[] | string): number[] {
  return typeof bytes === 'string' ? bytes.split('.').map(Number) : bytes;
}

/** Ethernet + IPv4 + UDP/TCP/ICMP packet with a payload. */
export function packet(opts: { proto?: 'udp' | 'tcp' | 'icmp' | number; src?: string; dst?: string; sport?: number; dport?: number; payload?: number[]; ethType?: number; ttl?: number; vlan?: number; tcpFlags?: number }): Uint8Array {
  const proto = opts.proto === undefined || opts.proto === 'udp' ? 17 : opts.proto === 'tcp' ? 6 : opts.proto === 'icmp' ? 1 : opts.proto;
  const payload = opts.payload ?? [1, 2, 3, 4];
  const l4 = proto === 17 ? [(opts.sport ?? 1234) >> 8, (opts.sport ?? 1234) & 0xff, (opts.dport ?? 53) >> 8, (opts.dport ?? 53) & 0xff, 0, 8 + payload.length, 0, 0]
    : proto === 6 ? [(opts.sport ?? 1234) >> 8, (opts.sport ?? 1234) & 0xff, (opts.dport ?? 80) >> 8, (opts.dport ?? 80) & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, opts.tcpFlags ?? 0x02, 0xff, 0xff, 0, 0, 0, 0]
    : proto === 1 ? [8, 0, 0, 0, 0, 1, 0, 1] : [];
  const totLen = 20 + l4.length + payload.length;
  const ip = [0x45, 0, totLen >> 8, totLen & 0xff, 0, 1, 0, 0, opts.ttl ?? 64, proto, 0, 0, ...ipv4(opts.src ?? '10.0.0.1'), ...ipv4(opts.dst ?? '10.0.0.2')];
  const ethType = opts.ethType ?? 0x0800;
  const vlan = opts.vlan !== undefined ? [0x81, 0x00, opts.vlan >> 8, opts.vlan & 0xff] : [];
  const eth = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ...vlan, ethType >> 8, ethType & 0xff];
  return Uint8Array.from([...eth, ...ip, ...l4, ...payload]);
}

export interface SequenceOutcome {
  retvals: number[];
  maps: MapDump;
  packets: string[];
  events: Record<string, string[]>;
}

/** A table case run as a packet sequence: what the module is, what it is fed and what must come out. */
export interface SequenceCase {
  name: string;
  /** Module text after the imports; the program under test is exported as `p`. */
  source: string;
  packets: Uint8Array[];
  retvals?: number[];
  /** Expected `out` map values by index (u64). */
  out?: Record<number, bigint>;
  /** Expected map contents, raw hex by key. */
  maps?: Record<string, Record<string, string>>;
  check?: (r: SequenceOutcome) => void;
}

/** Asserts a case's expectations on one engine's outcome (`who` names the engine in messages). */
export function expectOutcome(r: SequenceOutcome, c: SequenceCase, who: string): void {
  if (c.retvals) expect(r.retvals, `${who} return values`).to.deep.equal(c.retvals);
  if (c.out) expect(r.maps.out, `${who} out map`).to.deep.equal(outMap(c.out));
  if (c.maps) for (const [name, entries] of Object.entries(c.maps)) expect(r.maps[name], `${who} map ${name}`).to.deep.equal(entries);
  c.check?.(r);
}

/** Runs packets one after another through a program in the interpreter (maps persist). */
export function interpSequence(mod: CompiledModule, program: string, packets: Uint8Array[], rodata?: Record<string, GlobalSetting>, helpers?: HelperTable): SequenceOutcome {
  const maps = new InterpMaps(mod, rodata);
  const retvals: number[] = [];
  const outs: string[] = [];
  const events: Record<string, string[]> = {};
  for (const pkt of packets) {
    const r = runInterp(mod, program, { packet: pkt }, { maps, ...(helpers ? { helpers } : {}) });
    retvals.push(r.retval);
    if (r.packet) outs.push(r.packet);
    for (const [k, v] of Object.entries(r.events)) (events[k] ??= []).push(...v);
  }
  return { retvals, maps: maps.dump(), packets: outs, events };
}

/**
 * Runs packets one after another through a program with the reference
 * evaluator (tsbpf/eval): the same shape as interpSequence, so the two compare.
 */
export function evalSequence(source: string, extra: Record<string, string>, program: string, packets: Uint8Array[], rodata?: Record<string, GlobalSetting>): SequenceOutcome {
  const ev = ModuleEvaluator.open({ entry: `${MODULE_DIR}/m.bpf.ts`, host: memoryHost({ 'm.bpf.ts': source, ...extra }), dslRoot });
  const state = ev.newState(rodata);
  const spec = ev.programs().find((p) => p.name === program);
  if (!spec) throw new Error(`no program ${program}`);
  // Socket filters and cgroup skb programs see the packet from the network header, as in the kernel's test run.
  const l3 = spec.kind === 'socket_filter' || spec.kind === 'cgroup_skb';
  const retvals: number[] = [];
  const outs: string[] = [];
  for (const pkt of packets) {
    const r = ev.run(program, { packet: l3 ? pkt.slice(14) : pkt, state });
    retvals.push(Number(BigInt.asUintN(32, r.r0)));
    if (r.packet && !l3) outs.push(hex(r.packet));
  }
  const maps: MapDump = {};
  const events: Record<string, string[]> = {};
  for (const m of ev.maps()) {
    if (m.kind === 'ringbuf') {
      const e = state.events(m.name).map(hex);
      if (e.length > 0) events[m.name] = e;
      continue;
    }
    const entries: Record<string, string> = {};
    for (const [k, v] of state.mapEntries(m.name)) if (v.some((x) => x !== 0)) entries[hex(k)] = hex(v);
    maps[m.name] = entries;
  }
  return { retvals, maps, packets: outs, events };
}

/** Runs packets one after another through a program in the kernel (BPF_PROG_TEST_RUN; maps persist). */
export function kernelSequence(mod: CompiledModule, program: string, packets: Uint8Array[], rodata?: Record<string, GlobalSetting>): SequenceOutcome {
  const live = loadCompiledModule(mod, { only: [program], ...(rodata ? { rodata } : {}) });
  try {
    const prog = live.programs.get(program)!;
    const l3 = mod.programs.find((p) => p.name === program)!.kind;
    const retvals: number[] = [];
    const outs: string[] = [];
    const events: Record<string, string[]> = {};
    const readers: Array<{ name: string; reader: { consume(f: (v: Uint8Array) => void): unknown; close(): void } }> = mod.maps.filter((m) => m.kind === 'ringbuf').map((m) => ({ name: m.name, reader: new RingBufReader(live.maps.get(m.name)!) }));
    for (const m of mod.maps.filter((x) => x.kind === 'perf_event_array')) {
      const reader = new PerfBufferReader(live.maps.get(m.name)!);
      readers.push({ name: m.name, reader: { consume: (f) => reader.consume((data) => f(data.subarray(0, sizeOf(m.event!)))), close: () => reader.close() } });
    }
    fillInnerMaps(mod, live.maps);
    try {
      for (const pkt of packets) {
        const r = prog.testRun({ data: pkt });
        retvals.push(r.retval);
        if (r.dataOut && l3 !== 'socket_filter' && l3 !== 'cgroup_skb') outs.push(hex(r.dataOut));
      }
      for (const { name, reader } of readers) reader.consume((v) => (events[name] ??= []).push(hex(v)));
    } finally {
      for (const { reader } of readers) reader.close();
    }
    return { retvals, maps: dumpKernelMaps(mod, live.maps), packets: outs, events };
  } finally {
    live.close();
  }
}

/** An interpreter map for a compiled one (per-CPU kinds as one CPU, histograms as hashes). */
function interpMapOf(m: CompiledMap): InterpMap {
  if (m.kind === 'ringbuf') return new RingBufMap({ maxEntries: m.maxEntries });
  const plain = m.kind === 'percpu_array' || m.kind === 'array' ? 'array' : m.kind === 'lru_hash' ? 'lru_hash' : isDumpable(m.kind) ? 'hash' : m.kind;
  return createMap({ type: m.kind === 'lpm_trie' ? 'lpm_trie' : plain, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries || 1 });
}

/** Slot 0 of each array of maps gets a new inner map (named `outer[0]` in `maps`), as a test's user space would. */
export function fillInnerMaps(mod: CompiledModule, maps: Map<string, BpfMap>): void {
  for (const m of mod.maps) {
    if (m.kind !== 'array_of_maps' || !m.inner || maps.has(`${m.name}[0]`)) continue;
    const inner = BpfMap.create(mapSpecOf(m.inner));
    maps.set(`${m.name}[0]`, inner);
    maps.get(m.name)!.update(new Uint8Array(4), new Uint8Array(new Uint32Array([inner.fd]).buffer));
  }
}
