/**
 * The object spec: everything a BPF ELF object says, as plain data, before
 * anything touches a kernel. parseObject() makes it; the loader in
 * src/kernel turns it into live maps and programs.
 */
import type { Instruction } from '../asm/instruction.js';
import type { Btf, CoreRelo, FuncInfo, LineInfo } from '../btf/index.js';

/** What a map section variable (or a whole data section) is. */
export type MapKind = 'user' | 'data' | 'rodata' | 'bss' | 'kconfig' | 'struct_ops';

export interface MapInitialValue {
  /** Index (key) in the outer map or prog array. */
  index: number;
  /** The inner map's name (map-in-map)... */
  map?: string;
  /** ...or the program's name (prog array). */
  program?: string;
}

export interface MapSpec {
  /** Name in the object: the variable name, or the section name for data maps. */
  name: string;
  /** Name given to the kernel (libbpf's rules: data maps get an object-name prefix; at most 15 characters). */
  kernelName: string;
  kind: MapKind;
  /** Numeric uapi map type. */
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: 'none' | 'byName';
  /** Key and value types in the object's BTF (0 when unknown). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** The inner map definition of a map-in-map. */
  inner?: MapSpec;
  /** Initial values of a map-in-map or prog array. */
  initialValues: MapInitialValue[];
  /** Initial contents of a data map (value of key 0), `valueSize` bytes. */
  data?: Uint8Array;
  /** Frozen after its contents are written (.rodata, .kconfig). */
  freeze: boolean;
  /** ELF section it came from. */
  section: string;
  /** For STRUCT_OPS maps: the kernel struct implemented, its initial bytes (object layout) and programs by member. */
  structOps?: StructOpsSpec;
}

export interface StructOpsSpec {
  /** Kernel struct name, e.g. "tcp_congestion_ops". */
  typeName: string;
  /** The struct in the object's BTF. */
  localTypeId: number;
  /** The variable's bytes, in the object's layout. */
  data: Uint8Array;
  /** Function-pointer members and the programs they point to. */
  programs: { member: string; program: string }[];
}

/** A global variable in a data section, settable before load. */
export interface VariableSpec {
  name: string;
  /** Name (MapSpec.name) of the data map holding it. */
  map: string;
  offset: number;
  size: number;
  /** Its type in the object's BTF (0 when the object has no BTF for it). */
  btfTypeId: number;
  readonly: boolean;
}

export type ExternKind = 'kconfig' | 'ksym' | 'kfunc';

/** How a .kconfig value is stored. */
export type KconfigValueType = 'bool' | 'tristate' | 'char' | 'int' | 'char_array';

export interface ExternSpec {
  name: string;
  kind: ExternKind;
  weak: boolean;
  /** The extern's VAR or FUNC id in the object's BTF (0 without BTF). */
  btfId: number;
  /** ksym: typed (resolved through kernel BTF) or untyped (through kallsyms). */
  typed: boolean;
  /** kconfig: place and shape in the .kconfig map. */
  kconfig?: { offset: number; size: number; valueType: KconfigValueType; signed: boolean };
}

/**
 * A relocation still to be done when live objects exist. `insn` is the
 * index (in Instruction entries, not slots) in the linked program.
 */
export type LoadRelocation =
  /** lddw of a map: src = BPF_PSEUDO_MAP_FD, imm = the map's fd. */
  | { kind: 'map'; insn: number; map: string }
  /** lddw of an address in a map's value: src = BPF_PSEUDO_MAP_VALUE, imm = fd, next imm = offset. */
  | { kind: 'mapValue'; insn: number; map: string; offset: number }
  /** lddw of a kernel symbol (address, or BTF id for typed ksyms). */
  | { kind: 'ksym'; insn: number; extern: string }
  /** call of a kernel function (kfunc): src = BPF_PSEUDO_KFUNC_CALL, imm = BTF id. */
  | { kind: 'kfunc'; insn: number; extern: string }
  /** A CO-RE relocation of the instruction. */
  | { kind: 'core'; insn: number; relo: CoreRelo };

export interface ProgramSpec {
  /** Function name. */
  name: string;
  /** ELF section (the SEC() name). */
  section: string;
  /** Program type name (uapi enum bpf_prog_type without the prefix). */
  type: string;
  /** Expected attach type name, if the section implies one. */
  attachType?: string;
  /** The part of the section name after '/', for sections that name a target. */
  attachTo?: string;
  /** For fentry/fexit/lsm/iter/tp_btf: the kernel BTF name and kind to find attach_btf_id. */
  attachBtf?: { name: string; kind: 'func' | 'typedef' };
  sleepable: boolean;
  xdpFrags: boolean;
  /** False for SEC("?...") programs, which libbpf loads only when asked to. */
  autoload: boolean;
  /** The linked program: the function, then the subprograms it calls (libbpf's order). */
  instructions: Instruction[];
  relocations: LoadRelocation[];
  /** func_info / line_info with insnOff in instruction slots of the linked program. */
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  license: string;
  kernelVersion: number;
}

export interface ObjectSpec {
  /** Object name (file name up to the first dot), used for data map names. */
  name: string;
  license: string;
  kernelVersion: number;
  programs: ProgramSpec[];
  maps: MapSpec[];
  variables: VariableSpec[];
  externs: ExternSpec[];
  /** The object's BTF (undefined for objects without .BTF). */
  btf?: Btf;
  /** DATASEC sizes and variable offsets as the ELF says (for the BTF handed to the kernel). */
  dataSections: { name: string; size: number }[];
  symbolOffsets: Map<string, number>;
  /** Global functions with hidden visibility: their BTF FUNCs become static for the kernel, as libbpf does. */
  hiddenFunctions: string[];
}
