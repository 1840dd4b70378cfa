/**
 * `tsbpf run x.o`: a BPF ELF object (as clang builds it) loaded with
 * libbpf's conventions, each program attached by its SEC() name as libbpf's
 * auto-attach does, ring-buffer records printed as hex, and at exit every
 * map decoded through the object's BTF (per-CPU values summed) and the
 * globals of .data/.bss as `@name: value`, as for a .bpf.ts module.
 */
import { readFileSync } from 'node:fs';
import type { Btf } from '../btf/index.js';
import { type BtfValue, decodeBtfValue, hex } from '../btf/values.js';
import { objectNameFromPath } from '../elf/map-types.js';
import type { MapSpec, ProgramSpec } from '../elf/object-spec.js';
import { parseObject } from '../elf/parse-object.js';
import { autoAttach } from '../kernel/auto-attach.js';
import { loadCollection } from '../kernel/collection.js';
import type { Link } from '../kernel/link.js';
import { type BpfMap, mapTypeName } from '../kernel/map.js';
import { RingBufReader } from '../kernel/ringbuf-reader.js';
import { VerifierError } from '../kernel/verifier-error.js';
import { failingSlot, type SourcePoint } from './dsl-errors.js';
import { DslVerifierError } from './dsl-live.js';
import { lowerName } from './kernel-format.js';
import { bold, CliError, dim, printJson } from './output.js';
import type { RunSession, SessionProgram } from './run-session.js';

const RINGBUF = 27;
const PERCPU = new Set([5, 6, 10]); // percpu hash, percpu array, lru percpu hash

export interface ObjectSessionOptions {
  set: Record<string, bigint | string>;
  logLevel?: number;
  /** Upper bound of the verifier log buffer (--log-size). */
  logSize?: number;
  iface?: string;
  cgroup?: string;
  json: boolean;
}

/** A decoded BTF value as compact text: { pid: 1, comm: "bash" }. */
export function formatBtfValue(v: BtfValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatBtfValue).join(', ')}]`;
  return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${formatBtfValue(x)}`).join(', ')} }`;
}

/** Adds the per-CPU copies of a value as little-endian integers of the value's size (1, 2, 4 or 8 bytes); other sizes take CPU 0. */
function sumCopies(copies: Uint8Array[], size: number): Uint8Array {
  if (![1, 2, 4, 8].includes(size)) return copies[0]!.subarray(0, size);
  let sum = 0n;
  for (const c of copies) for (let i = size - 1, v = 0n; i >= 0; i--) (v = (v << 8n) | BigInt(c[i]!)), i === 0 && (sum += v);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((sum >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function openObjectSession(path: string, options: ObjectSessionOptions): RunSession {
  const bytes = new Uint8Array(readFileSync(path));
  const spec = parseObject(bytes, { name: objectNameFromPath(path) });
  let collection;
  try {
    collection = loadCollection(spec, {
      variables: options.set,
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
      ...(options.logSize ? { maxLogSize: options.logSize } : {}),
    });
  } catch (e) {
    if (!(e instanceof VerifierError)) throw e;
    // Point at the C line, as a module's rejection points at its TypeScript line.
    const p = spec.programs.find((x) => x.name.slice(0, 15) === e.program);
    throw new DslVerifierError(p?.name ?? e.program, e, p ? sourceOfObjectFailure(p, e.log) : undefined);
  }
  const btf = spec.btf;
  const decode = (typeId: number, b: Uint8Array): BtfValue => (btf && typeId ? decodeBtfValue(btf as Btf, typeId, b) : hex(b));

  const programs: SessionProgram[] = [];
  for (const p of spec.programs) {
    const prog = collection.programs.get(p.name);
    if (!prog) continue; // not autoloaded (SEC("?..."))
    let link: Link | undefined;
    programs.push({
      name: p.name,
      declaredAt: `${path}: SEC("${p.section}")`,
      attach() {
        link = autoAttach(prog, p, { ...(options.iface !== undefined ? { iface: options.iface } : {}), ...(options.cgroup !== undefined ? { cgroup: options.cgroup } : {}) });
        return describeAttach(p.section, options);
      },
      detach() {
        link?.close();
        link = undefined;
      },
    });
  }
  if (programs.length === 0) throw new CliError(`${path}: no programs to attach`);

  const userMaps = spec.maps.filter((m) => m.kind === 'user' && m.type !== RINGBUF);
  const rings = spec.maps
    .filter((m) => m.type === RINGBUF)
    .map((m) => ({
      name: m.name,
      reader: new RingBufReader(collection.map(m.name)),
      print: (b: Uint8Array) => (options.json ? printJson({ event: m.name, value: hex(b) }) : process.stdout.write(`${dim(m.name)} ${hex(b)}\n`)),
    }));

  const entriesOf = (m: MapSpec, map: BpfMap): Array<[BtfValue, BtfValue]> => {
    const out: Array<[BtfValue, BtfValue]> = [];
    for (const [k, v] of map) {
      const value = PERCPU.has(map.type) ? sumCopies(map.splitPerCpu(v), m.valueSize) : v.subarray(0, m.valueSize);
      if (!value.some((x) => x !== 0)) continue;
      out.push([decode(m.btfKeyTypeId, k), decode(m.btfValueTypeId, value)]);
    }
    return out;
  };

  return {
    programs,
    rings,
    printAll(json) {
      for (const m of userMaps) {
        const map = collection.maps.get(m.name);
        if (!map || [22, 23, 30, 31].includes(m.type)) continue; // queue, stack, bloom filter, user ringbuf: no keys to walk
        const entries = entriesOf(m, map);
        if (json) {
          for (const [key, value] of entries) printJson({ map: m.name, key, value });
          continue;
        }
        process.stdout.write(`${bold(m.name)} ${dim(`(${lowerName(mapTypeName(m.type))}, ${entries.length} non-zero entr${entries.length === 1 ? 'y' : 'ies'})`)}\n`);
        for (const [k, v] of entries) process.stdout.write(`  ${formatBtfValue(k)} → ${formatBtfValue(v)}\n`);
      }
      // Globals: .data/.bss as they are now, .rodata as set (libbpf's variables, offsets as laid out at load).
      const key = new Uint8Array(4);
      const sections = new Map<string, Uint8Array | undefined>();
      for (const v of spec.variables) {
        if (!sections.has(v.map)) sections.set(v.map, collection.maps.get(v.map)?.lookup(key));
        const value = sections.get(v.map);
        if (!value || v.name.startsWith('.')) continue;
        const decoded = decode(v.btfTypeId, value.subarray(v.offset, v.offset + v.size));
        if (json) printJson({ global: v.name, value: decoded });
        else process.stdout.write(`@${v.name}: ${formatBtfValue(decoded)}\n`);
      }
    },
    clear() {
      for (const m of userMaps) {
        const map = collection.maps.get(m.name);
        if (!map || [22, 23, 30, 31].includes(m.type)) continue;
        const keys = [...map].map(([k]) => k);
        const isArray = [2, 6].includes(m.type);
        for (const k of keys) {
          if (isArray) map.update(k, new Uint8Array(map.userValueSize));
          else map.delete(k);
        }
      }
    },
    lost: () => new Map(),
    verifierLogs: () => [...collection.programs].map(([name, p]) => [name, p.verifierLog ?? '']),
    close() {
      for (const r of rings) r.reader.close();
      collection.close();
    },
  };
}

/** Where a program attached, from its section and the options, in run's words. */
function describeAttach(section: string, options: ObjectSessionOptions): string {
  const [kind, ...rest] = section.split('/');
  const target = rest.join('/');
  if (kind === 'xdp' || kind!.startsWith('tc')) return `${section} on ${options.iface}`;
  if (kind!.startsWith('cgroup')) return `${section} on ${options.cgroup ?? 'the cgroup v2 root'}`;
  if (kind === 'tp' || kind === 'tracepoint') return `tracepoint ${target}`;
  return section;
}

/** The source line (from the object's line info) of the instruction the verifier stopped at. */
function sourceOfObjectFailure(p: ProgramSpec, log: string): SourcePoint | undefined {
  const slot = failingSlot(log);
  if (slot === undefined) return undefined;
  let best: ProgramSpec['lineInfo'][number] | undefined;
  for (const l of p.lineInfo) if (l.insnOff <= slot && (!best || l.insnOff >= best.insnOff)) best = l;
  return best && { file: best.fileName, line: best.lineNumber, column: best.column, text: best.line };
}
