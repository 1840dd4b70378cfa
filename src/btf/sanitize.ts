/**
 * Rewriting BTF for kernels that lack newer kinds, as libbpf does before
 * BTF_LOAD: each unsupported kind becomes an older one with the same record
 * size, so type ids and string offsets (which .BTF.ext and instructions refer
 * to) stay valid. Only ENUM64 needs one extra type, appended at the end.
 */
import type { Btf } from './btf.js';
import { BtfBuilder, type NewType } from './builder.js';

/** What the target kernel's BTF loader accepts (kernel version that added it). */
export interface BtfFeatures {
  /** FUNC and FUNC_PROTO (5.0). */
  func: boolean;
  /** FUNC with global linkage (5.6). */
  funcGlobal: boolean;
  /** VAR and DATASEC (5.2). */
  datasec: boolean;
  /** FLOAT (5.13). */
  float: boolean;
  /** DECL_TAG (5.16). */
  declTag: boolean;
  /** TYPE_TAG (5.17). */
  typeTag: boolean;
  /** ENUM64 and signed enums (6.0). */
  enum64: boolean;
}

export const ALL_BTF_FEATURES: Readonly<BtfFeatures> = {
  func: true,
  funcGlobal: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
};

/** An 8-bit int standing in for VAR and DECL_TAG (same record size). */
const BYTE_INT = { kind: 'int', name: '', size: 1, signed: false, char: false, bool: false, bitOffset: 0, bits: 8 } as const;

export interface SanitizedBtf {
  bytes: Uint8Array;
  /** Whether anything was rewritten. */
  changed: boolean;
}

/** The own types of `btf`, rewritten for a kernel with `features`, encoded. */
export function sanitizeBtf(btf: Btf, features: BtfFeatures): SanitizedBtf {
  const b = BtfBuilder.from(btf);
  let changed = false;
  let placeholder = 0;
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    const t = b.get(id)!;
    let next: NewType | undefined;
    switch (t.kind) {
      case 'var':
        if (!features.datasec) next = { ...BYTE_INT, name: t.name };
        break;
      case 'datasec':
        if (!features.datasec)
          next = {
            kind: 'struct',
            name: t.name.replace(/[.?]/g, '_'),
            size: t.size,
            members: t.vars.map((v) => ({ name: btf.nameOf(v.type), type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 })),
            kindFlag: false,
          };
        break;
      case 'func_proto':
        if (!features.func)
          next = { kind: 'enum', name: '', size: 4, signed: false, values: t.params.map((p) => ({ name: p.name, value: p.type })) };
        break;
      case 'func':
        if (!features.func) next = { kind: 'typedef', name: t.name, type: t.type };
        else if (!features.funcGlobal && t.linkage !== 'static') next = { ...t, linkage: 'static' };
        break;
      case 'float':
        // An equally sized empty struct; anonymous, as C has no empty structs.
        if (!features.float) next = { kind: 'struct', name: '', size: t.size, members: [], kindFlag: false };
        break;
      case 'decl_tag':
        if (!features.declTag) next = { ...BYTE_INT };
        break;
      case 'type_tag':
        if (!features.typeTag) next = { kind: 'const', name: '', type: t.type };
        break;
      case 'enum64':
        if (!features.enum64) {
          // One shared member type for every rewritten ENUM64; appended ids don't move the ones being walked.
          if (placeholder === 0) placeholder = b.add({ ...BYTE_INT, name: 'enum64_placeholder' });
          next = {
            kind: 'union',
            name: t.name,
            size: t.size,
            members: t.values.map((v) => ({ name: v.name, type: placeholder, bitOffset: 0, bitfieldSize: 0 })),
            kindFlag: false,
          };
        }
        break;
      case 'enum':
        // Signed enums came with ENUM64.
        if (!features.enum64 && t.signed) next = { ...t, signed: false, values: t.values.map((v) => ({ ...v, value: v.value >>> 0 })) };
        break;
      default:
        break;
    }
    if (next) {
      b.set(id, next);
      changed = true;
    }
  }
  return { bytes: changed ? b.encode() : btf.bytes, changed };
}
