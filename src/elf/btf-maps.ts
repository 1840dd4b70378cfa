/**
 * BTF-defined maps (the `.maps` section): each variable's struct type
 * describes the map through its members, as libbpf's bpf_helpers.h macros
 * encode them: `__uint(name, N)` is `int (*name)[N]`, `__type(name, T)` is
 * `T *name`, `__array(values, T)` is `T *values[]`.
 */
import { type Btf, type DatasecType, isAnyEnum, skipModsAndTypedefs, sizeOf } from '../btf/index.js';
import { ElfError } from './errors.js';
import {
  LIBBPF_PIN_BY_NAME, LIBBPF_PIN_NONE, MAP_TYPE_PERF_EVENT_ARRAY, MAP_TYPE_PROG_ARRAY, OBJ_NAME_MAX, isMapInMap,
} from './map-types.js';
import type { MapSpec } from './object-spec.js';

/** Where a map definition's `values` array starts, for initial values from relocations. */
export interface BtfMapDefinition {
  spec: MapSpec;
  /** Offset of the variable in `.maps`. */
  offset: number;
  size: number;
  /** Offset of the `values` member inside the variable, if present. */
  valuesOffset?: number;
}

/** Parses every variable of the `.maps` DATASEC (in DATASEC order). */
export function parseBtfMaps(btf: Btf, datasecId: number, symbolOffsets: Map<string, number>): BtfMapDefinition[] {
  const sec = btf.type(datasecId) as DatasecType;
  const out: BtfMapDefinition[] = [];
  for (const v of sec.vars) {
    const varType = btf.type(v.type);
    if (varType.kind !== 'var') throw mapError(`DATASEC .maps entry [${v.type}] is a ${varType.kind}, not a variable`, v.offset);
    const name = varType.name;
    const offset = symbolOffsets.get(name) ?? v.offset;
    const def = parseMapDefinition(btf, name, varType.type, offset);
    out.push({ spec: def.spec, offset, size: v.size || sizeOf(btf, varType.type), ...(def.valuesOffset !== undefined ? { valuesOffset: def.valuesOffset } : {}) });
  }
  return out;
}

function mapError(message: string, offset: number): ElfError {
  return new ElfError('E_MAP_DEFINITION', message, { section: '.maps', offset });
}

function parseMapDefinition(btf: Btf, name: string, typeId: number, offset: number, inner = false): { spec: MapSpec; valuesOffset?: number } {
  const structId = skipModsAndTypedefs(btf, typeId);
  const st = btf.type(structId);
  if (st.kind !== 'struct') throw mapError(`map '${name}': definition is a ${st.kind}, not a struct`, offset);
  const spec: MapSpec = {
    name, kernelName: name.slice(0, OBJ_NAME_MAX), kind: 'user', type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0,
    numaNode: 0, mapExtra: 0n, pinning: 'none', btfKeyTypeId: 0, btfValueTypeId: 0, initialValues: [], freeze: false, section: '.maps',
  };
  let valuesOffset: number | undefined;
  const uint = (member: string, memberType: number): number => {
    const ptr = btf.type(skipModsAndTypedefs(btf, memberType));
    // __ulong(name, val) of newer libbpf: an anonymous enum whose one value is val.
    if (isAnyEnum(ptr) && ptr.values.length === 1) return Number(ptr.values[0]!.value);
    if (ptr.kind !== 'ptr') throw mapError(`map '${name}': '${member}' is not __uint() (a pointer to an array)`, offset);
    const arr = btf.type(skipModsAndTypedefs(btf, ptr.type));
    if (arr.kind !== 'array') throw mapError(`map '${name}': '${member}' is not __uint() (a pointer to an array)`, offset);
    return arr.nelems;
  };
  const typeRef = (member: string, memberType: number): number => {
    const ptr = btf.type(skipModsAndTypedefs(btf, memberType));
    if (ptr.kind !== 'ptr') throw mapError(`map '${name}': '${member}' is not __type() (a pointer)`, offset);
    return ptr.type;
  };
  const ulong = (member: string, memberType: number): bigint => {
    const t = btf.type(skipModsAndTypedefs(btf, memberType));
    if (isAnyEnum(t) && t.values.length === 1) return BigInt.asUintN(64, BigInt(t.values[0]!.value));
    return BigInt(uint(member, memberType));
  };
  let keySize = -1;
  let valueSize = -1;
  for (const m of st.members) {
    switch (m.name) {
      case 'type': spec.type = uint(m.name, m.type); break;
      case 'max_entries': spec.maxEntries = uint(m.name, m.type); break;
      case 'map_flags': spec.flags = uint(m.name, m.type); break;
      case 'numa_node': spec.numaNode = uint(m.name, m.type); break;
      case 'map_extra': spec.mapExtra = ulong(m.name, m.type); break;
      case 'key_size': keySize = checkSize(name, 'key_size', uint(m.name, m.type), keySize, offset); break;
      case 'value_size': valueSize = checkSize(name, 'value_size', uint(m.name, m.type), valueSize, offset); break;
      case 'key': {
        const id = typeRef(m.name, m.type);
        keySize = checkSize(name, 'key', sizeOf(btf, id), keySize, offset);
        spec.btfKeyTypeId = id;
        break;
      }
      case 'value': {
        const id = typeRef(m.name, m.type);
        valueSize = checkSize(name, 'value', sizeOf(btf, id), valueSize, offset);
        spec.btfValueTypeId = id;
        break;
      }
      case 'pinning': {
        const p = uint(m.name, m.type);
        if (inner) throw mapError(`map '${name}': inner maps cannot be pinned`, offset);
        if (p !== LIBBPF_PIN_NONE && p !== LIBBPF_PIN_BY_NAME) throw mapError(`map '${name}': unknown pinning value ${p}`, offset);
        spec.pinning = p === LIBBPF_PIN_BY_NAME ? 'byName' : 'none';
        break;
      }
      case 'values': {
        if (inner) throw mapError(`map '${name}': an inner map cannot have values`, offset);
        // `T *values[]`: an array of pointers to the inner definition or to a function prototype.
        const arr = btf.type(skipModsAndTypedefs(btf, m.type));
        if (arr.kind !== 'array' || arr.nelems !== 0) throw mapError(`map '${name}': 'values' must be a flexible array of pointers`, offset);
        const ptr = btf.type(skipModsAndTypedefs(btf, arr.type));
        if (ptr.kind !== 'ptr') throw mapError(`map '${name}': 'values' must be an array of pointers`, offset);
        valuesOffset = m.bitOffset / 8;
        const target = btf.type(skipModsAndTypedefs(btf, ptr.type));
        if (target.kind === 'struct') {
          spec.inner = parseMapDefinition(btf, `${name}.inner`, ptr.type, offset, true).spec;
        } else if (target.kind !== 'func_proto') {
          throw mapError(`map '${name}': 'values' points to a ${target.kind}, not a map definition or a program`, offset);
        }
        break;
      }
      default:
        throw mapError(`map '${name}': unknown field '${m.name}'`, offset);
    }
  }
  if (spec.type === 0) throw mapError(`map '${name}': no map type`, offset);
  if (isMapInMap(spec.type) || spec.type === MAP_TYPE_PROG_ARRAY) {
    if (isMapInMap(spec.type) && !spec.inner) throw mapError(`map '${name}': a map-in-map needs an inner map definition ('values')`, offset);
    if (valueSize >= 0 && valueSize !== 4) throw mapError(`map '${name}': value size of a map-in-map or prog array must be 4`, offset);
    valueSize = 4;
  }
  if (spec.type === MAP_TYPE_PERF_EVENT_ARRAY) {
    if (keySize < 0) keySize = 4;
    if (valueSize < 0) valueSize = 4;
  }
  spec.keySize = Math.max(0, keySize);
  spec.valueSize = Math.max(0, valueSize);
  return valuesOffset !== undefined ? { spec, valuesOffset } : { spec };
}

function checkSize(map: string, what: string, size: number, previous: number, offset: number): number {
  if (previous >= 0 && previous !== size) throw mapError(`map '${map}': ${what} size ${size} conflicts with ${previous}`, offset);
  return size;
}
