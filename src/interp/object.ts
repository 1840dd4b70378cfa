/**
 * Running a whole BPF object in the interpreter: maps made in memory, data
 * sections as array maps with their initial contents, map relocations
 * applied, prog arrays filled from their initial values.
 *
 * The input is typed structurally (a subset of src/elf's ObjectSpec), since
 * src/interp may only depend on src/asm: `new InterpObject(parseObject(bytes))`.
 */
import { encode } from '../asm/codec.js';
import { type Instruction, wideLoad } from '../asm/instruction.js';
import { LDDW, PseudoLoad } from '../asm/opcodes.js';
import { InterpError } from './errors.js';
import { type RunOptions, type RunResult, execute } from './machine.js';
import { createMap, mapKinds } from './map-kinds.js';
import { MapOfMaps } from './map-of-maps.js';
import { Errno, type InterpMap, type MapSpec, u32KeyBytes } from './maps.js';
import { ProgArrayMap } from './prog-array.js';
import { type DecodedProgram, decodeProgram } from './program.js';

export interface ObjectMapInput {
  name: string;
  /** uapi map type number or the kind's name ('hash', 'array'...). */
  type: number | string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Initial value of key 0 (global data sections). */
  data?: Uint8Array;
  /** Initial contents of a prog array: program names by index. */
  initialValues?: readonly { index: number; program?: string; map?: string }[];
}

export type ObjectRelocationInput =
  | { kind: 'map'; insn: number; map: string }
  | { kind: 'mapValue'; insn: number; map: string; offset: number }
  | { kind: string; insn: number };

export interface ObjectProgramInput {
  name: string;
  /** Program type name (xdp, sched_cls, socket_filter, ...). */
  type?: string;
  instructions: readonly Instruction[];
  relocations: readonly ObjectRelocationInput[];
}

export interface ObjectInput {
  maps: readonly ObjectMapInput[];
  programs: readonly ObjectProgramInput[];
}

/** uapi enum bpf_map_type numbers of the kinds the interpreter has. */
const MAP_TYPE_NAMES: Record<number, string> = {
  1: 'hash',
  2: 'array',
  3: 'prog_array',
  4: 'perf_event_array',
  5: 'percpu_hash',
  6: 'percpu_array',
  9: 'lru_hash',
  11: 'lpm_trie',
  12: 'array_of_maps',
  13: 'hash_of_maps',
  22: 'queue',
  23: 'stack',
  27: 'ringbuf',
  30: 'bloom_filter',
};

/** A map kind the interpreter lacks: present so the object loads, inert when used. */
export class UnsupportedMap implements InterpMap {
  constructor(
    readonly type: string,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {}
  lookup(): Uint8Array | undefined {
    return undefined;
  }
  update(): number {
    return -Errno.ENOTSUPP;
  }
  delete(): number {
    return -Errno.ENOTSUPP;
  }
  keys(): Iterable<Uint8Array> {
    return [];
  }
}

export class InterpObject {
  /** The maps by name, in the object's order. */
  readonly maps = new Map<string, InterpMap>();
  private readonly mapOrder: InterpMap[] = [];
  private readonly mapIndex = new Map<string, number>();
  private readonly specs = new Map<string, ObjectProgramInput>();
  private readonly decoded = new Map<string, DecodedProgram>();

  private readonly core: 'local' | 'error';

  /**
   * `cpus`: CPU count of per-CPU maps. `core`: what to do with CO-RE
   * relocations: 'local' (default) keeps the offsets the compiler wrote, as
   * if the kernel matched the object's own BTF; 'error' refuses them.
   */
  constructor(object: ObjectInput, options: { cpus?: number; core?: 'local' | 'error' } = {}) {
    this.core = options.core ?? 'local';
    for (const m of object.maps) {
      const type = typeof m.type === 'number' ? (MAP_TYPE_NAMES[m.type] ?? `type ${m.type}`) : m.type;
      const spec: MapSpec = { type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, cpus: options.cpus };
      const map = mapKinds[type] ? createMap(spec) : new UnsupportedMap(type, m.keySize, m.valueSize, m.maxEntries);
      if (m.data) map.lookup(new Uint8Array(map.keySize))?.set(m.data.subarray(0, map.valueSize));
      this.mapIndex.set(m.name, this.mapOrder.length);
      this.mapOrder.push(map);
      this.maps.set(m.name, map);
    }
    for (const p of object.programs) this.specs.set(p.name, p);
    for (const m of object.maps) {
      const map = this.maps.get(m.name);
      for (const v of m.initialValues ?? []) {
        if (map instanceof ProgArrayMap && v.program) map.set(v.index, this.program(v.program));
        if (map instanceof MapOfMaps && v.map) {
          const inner = this.maps.get(v.map);
          if (!inner) throw new InterpError('E_UNKNOWN_MAP', `${m.name}: initial value names map '${v.map}', which the object does not define`);
          map.set(u32KeyBytes(v.index), inner);
        }
      }
    }
  }

  /** Program names, in the object's order. */
  get programNames(): string[] {
    return [...this.specs.keys()];
  }

  programType(name: string): string | undefined {
    return this.specs.get(name)?.type;
  }

  /** The relocated, decoded program. Throws InterpError for relocations the interpreter cannot do (CO-RE, ksyms, kfuncs). */
  program(name: string): DecodedProgram {
    const cached = this.decoded.get(name);
    if (cached) return cached;
    const spec = this.specs.get(name);
    if (!spec) throw new RangeError(`no program '${name}' (have: ${this.programNames.join(', ')})`);
    const insns: Instruction[] = spec.instructions.map((i) => ({ ...i }));
    for (const r of spec.relocations) {
      const ins = insns[r.insn];
      if (!ins || (ins.opcode !== LDDW && (r.kind === 'map' || r.kind === 'mapValue'))) {
        throw new InterpError('E_DECODE', `${name}: ${r.kind} relocation of instruction ${r.insn}, which is not an lddw`);
      }
      if (r.kind === 'map' && 'map' in r) {
        insns[r.insn] = wideLoad(ins.dst, this.indexOf(r.map, name), PseudoLoad.MAP_FD);
      } else if (r.kind === 'mapValue' && 'offset' in r) {
        insns[r.insn] = wideLoad(ins.dst, BigInt(this.indexOf(r.map, name)) | (BigInt(r.offset) << 32n), PseudoLoad.MAP_VALUE);
      } else if (r.kind === 'core' && this.core === 'local') {
        // Keep the instruction as compiled: its offsets are those of the object's BTF.
      } else {
        throw new InterpError('E_UNSUPPORTED', `${name}: ${r.kind} relocations (instruction ${r.insn}) need a kernel; the interpreter cannot run this program`);
      }
    }
    const program = decodeProgram(encode(insns));
    this.decoded.set(name, program);
    return program;
  }

  /** Runs a program with the object's maps. */
  run(name: string, options: Omit<RunOptions, 'maps'> = {}): RunResult {
    return execute(this.program(name), { ...options, maps: this.mapOrder });
  }

  private indexOf(map: string, program: string): number {
    const i = this.mapIndex.get(map);
    if (i === undefined) throw new InterpError('E_UNKNOWN_MAP', `${program}: relocation names map '${map}', which the object does not define`);
    return i;
  }
}
