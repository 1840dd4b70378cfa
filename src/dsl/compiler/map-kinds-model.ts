/**
 * Map kinds beyond key/value maps, as the module model records them: LPM
 * trie keys, queues, bloom filters, perf event arrays, prog arrays, stack
 * trace maps, redirect maps and maps of maps.
 */
import { type CallExpression, Node, type TypeNode } from 'ts-morph';
import type { CompilerContext } from './context.js';
import { I32, INT_TYPES, sizeOf, STACK_LIMIT, typeName, U32, U64 } from './ctypes.js';
import type { MapInfo, ModuleModel } from './module-model.js';

/** BPF_F_NO_PREALLOC: LPM tries must be created with it. */
export const BPF_F_NO_PREALLOC = 1;
/** The kernel's default stack depth (PERF_MAX_STACK_DEPTH). */
export const DEFAULT_STACK_DEPTH = 127;

const LOCAL_STORAGE_FACTORY = { task_storage: 'taskStorage', sk_storage: 'skStorage', inode_storage: 'inodeStorage', cgrp_storage: 'cgroupStorage' } as const;

/** An LPM trie key: a struct whose first field is the prefix length (u32), then at most 256 bytes of data. */
export function lpmKey(cx: CompilerContext, info: MapInfo, kNode: TypeNode): void {
  info.flags = BPF_F_NO_PREALLOC;
  const k = info.key;
  const first = k?.kind === 'struct' ? k.fields[0] : undefined;
  if (!k || k.kind !== 'struct' || !first || first.name !== 'prefixLen' || first.type.kind !== 'int' || first.type.bits !== 32 || first.type.bigEndian || k.fields.length < 2) {
    cx.report(kNode, 'TSBPF_LPM_KEY', 'an LPM trie key is a struct whose first field is the prefix length (prefixLen: u32), followed by the data');
    return;
  }
  if (sizeOf(k) - 4 > 256) cx.report(kNode, 'TSBPF_LPM_KEY', `an LPM trie matches at most 256 bytes of data; ${typeName(k)} has ${sizeOf(k) - 4}`);
}

/** Fills `info` for the map kinds that are not key/value maps. */
export function mapOfKind(
  model: ModuleModel, info: MapInfo, call: CallExpression, typeArgs: TypeNode[], opts: Map<string, Node>,
  num: (key: string) => number | undefined,
): void {
  const cx = model.cx;
  const typeArg = (what: string): TypeNode => {
    const t = typeArgs[0];
    if (!t) return cx.fail(call, 'TSBPF_MAP_TYPE', `${what} needs its type argument`);
    return t;
  };
  info.maxEntries = num('maxEntries') ?? 1;
  switch (info.kind) {
    case 'queue':
    case 'stack':
    case 'bloom_filter': {
      const t = typeArg(info.kind === 'bloom_filter' ? 'bloomFilter<Value>' : `${info.kind}Map<Value>`);
      info.value = cx.ctypeOf(t);
      if (sizeOf(info.value) === 0) cx.report(t, 'TSBPF_MAP_TYPE', 'values must not be empty');
      if (sizeOf(info.value) > STACK_LIMIT) cx.report(t, 'TSBPF_SIZE', `${typeName(info.value)} is copied through the stack: at most ${STACK_LIMIT} bytes`);
      if (info.kind === 'bloom_filter') {
        const hashes = num('hashes') ?? 5;
        if (hashes > 15) cx.report(opts.get('hashes')!, 'TSBPF_MAP_OPTIONS', 'a bloom filter has 1…15 hash functions');
        info.mapExtra = hashes;
      }
      return;
    }
    case 'perf_event_array': {
      const t = typeArg('perfEventArray<Event>');
      info.event = cx.ctypeOf(t);
      // 0: one slot per possible CPU, filled in at load (as libbpf does).
      info.maxEntries = num('maxEntries') ?? 0;
      info.key = U32;
      info.value = U32;
      return;
    }
    case 'prog_array': {
      info.key = U32;
      info.value = U32;
      const list = opts.get('programs');
      if (list) {
        if (!Node.isArrayLiteralExpression(list)) {
          cx.report(list, 'TSBPF_MAP_OPTIONS', 'programs must be an array literal of the module\'s programs: [parseV4, parseV6]');
          return;
        }
        const decls: Array<{ decl: Node; node: Node }> = [];
        for (const e of list.getElements()) {
          const d = Node.isIdentifier(e) ? cx.declarationOf(e) : undefined;
          const f = d ? model.factoryOf(d) : undefined;
          if (!d || !f || model.isMapFactory(f.name) || f.name === 'rodata' || f.name === 'global') {
            cx.report(e, 'TSBPF_PROG_ARRAY', 'a prog array holds programs of this module, named by their const');
            continue;
          }
          decls.push({ decl: d, node: e });
        }
        info.programDecls = decls;
        if (!opts.get('maxEntries')) info.maxEntries = Math.max(1, decls.length);
        else if (decls.length > info.maxEntries) cx.report(list, 'TSBPF_PROG_ARRAY', `${decls.length} programs do not fit maxEntries ${info.maxEntries}`);
      }
      return;
    }
    case 'stack_trace': {
      const depth = num('depth') ?? DEFAULT_STACK_DEPTH;
      if (depth > DEFAULT_STACK_DEPTH) cx.report(opts.get('depth')!, 'TSBPF_MAP_OPTIONS', `a stack trace holds at most ${DEFAULT_STACK_DEPTH} frames`);
      info.key = U32;
      info.value = { kind: 'array', element: U64, length: depth };
      return;
    }
    case 'task_storage':
    case 'sk_storage':
    case 'inode_storage':
    case 'cgrp_storage': {
      // Local storage: an int key (the kernel checks its BTF), no entries of its own, never preallocated.
      const t = typeArg(`${LOCAL_STORAGE_FACTORY[info.kind]}<Value>`);
      info.value = cx.ctypeOf(t);
      if (sizeOf(info.value) === 0) cx.report(t, 'TSBPF_MAP_TYPE', 'values must not be empty');
      info.key = I32;
      info.maxEntries = 0;
      info.flags = BPF_F_NO_PREALLOC;
      return;
    }
    case 'devmap':
    case 'devmap_hash':
    case 'cpumap':
    case 'xskmap':
      info.key = U32;
      info.value = U32;
      return;
    case 'array_of_maps':
    case 'hash_of_maps': {
      const keyed = info.kind === 'hash_of_maps';
      info.key = keyed ? cx.ctypeOf(typeArg('hashOfMaps<Key, Inner>')) : U32;
      info.value = U32;
      const inner = opts.get('inner');
      const innerCall = inner && Node.isCallExpression(inner) ? inner : undefined;
      const ref = innerCall ? cx.dslRef(innerCall.getExpression()) : undefined;
      if (innerCall && ref?.module === 'index' && model.isMapFactory(ref.name)) {
        info.inner = model.mapFromCall(`${info.name}.inner`, ref.name, innerCall, info.decl);
      } else if (inner && Node.isIdentifier(inner)) {
        const d = cx.declarationOf(inner);
        const m = d ? model.mapOf(d) : undefined;
        if (m) info.inner = m;
      }
      if (!info.inner) cx.report(inner ?? call, 'TSBPF_MAP_OPTIONS', 'a map of maps needs its inner map: { inner: hashMap<K, V>({ maxEntries }) }');
      else if (info.inner.kind === 'array_of_maps' || info.inner.kind === 'hash_of_maps' || info.inner.kind === 'prog_array') {
        cx.report(inner!, 'TSBPF_MAP_OPTIONS', 'maps of maps nest one level: the inner map holds data');
      }
      return;
    }
    default:
      info.key = INT_TYPES.u32!;
  }
}
