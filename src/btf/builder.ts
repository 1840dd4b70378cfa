/**
 * Building BTF: add types (or copy them from a parsed Btf), deduplicate
 * strings, encode to the wire format. The DSL compiler emits its .BTF with
 * this, and the loader re-encodes sanitised BTF for older kernels.
 *
 * Copying a parsed blob with `BtfBuilder.from(btf)` keeps its string section
 * verbatim, so string offsets used by .BTF.ext records stay valid and an
 * unchanged blob encodes to identical bytes.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { BTF_HEADER_SIZE, BTF_KIND, BTF_MAGIC, BTF_MAX_VLEN, LINKAGE, extraRecordSize } from './kinds.js';
import { StringTableBuilder } from './strings.js';
import type { BtfType, DatasecVar, FuncParam, Member, StructType } from './types.js';

/** A type as added to the builder (`void` cannot be added: it is id 0). */
export type NewType = Exclude<BtfType, { kind: 'void' }>;

export interface BtfBuilderOptions {
  /** Build split BTF on top of this base (ids and string offsets continue it). */
  base?: Btf;
  /** Keep this string section verbatim at the start (offsets preserved). */
  strings?: Uint8Array;
  littleEndian?: boolean;
}

export class BtfBuilder {
  readonly types: Array<NewType | undefined> = [];
  readonly littleEndian: boolean;
  readonly base: Btf | undefined;
  private readonly strs: StringTableBuilder;

  constructor(options: BtfBuilderOptions = {}) {
    this.base = options.base;
    this.littleEndian = options.littleEndian ?? true;
    this.strs = new StringTableBuilder(options.strings);
  }

  /** A builder holding every own type of `btf`, with its strings verbatim. */
  static from(btf: Btf, options: { keepStrings?: boolean } = {}): BtfBuilder {
    const b = new BtfBuilder({
      base: btf.base,
      littleEndian: btf.littleEndian,
      strings: options.keepStrings === false ? undefined : btf.strings.bytes,
    });
    for (let id = btf.firstId; id < btf.typeCount; id++) b.add(structuredClone(btf.type(id)) as NewType);
    return b;
  }

  /** Id the next added type will get. */
  get nextId(): number {
    return (this.base ? this.base.typeCount : 1) + this.types.length;
  }

  /** Adds a type and returns its id. */
  add(t: NewType): number {
    const id = this.nextId;
    this.types.push(t);
    return id;
  }

  /** Reserves an id for a type defined later with `set` (for self-references). */
  reserve(): number {
    const id = this.nextId;
    this.types.push(undefined);
    return id;
  }

  set(id: number, t: NewType): void {
    const i = id - (this.base ? this.base.typeCount : 1);
    if (i < 0 || i >= this.types.length) throw new BtfError('BAD_TYPE_ID', `type id ${id} is not in this builder`);
    this.types[i] = t;
  }

  /** The type with id `id` added here. */
  get(id: number): NewType | undefined {
    return this.types[id - (this.base ? this.base.typeCount : 1)];
  }

  /** Adds a string (deduplicated) and returns its offset in the final BTF. */
  addString(s: string): number {
    if (s === '') return 0;
    return this.strs.add(s) + (this.base ? this.base.stringsLength : 0);
  }

  // Convenience constructors for the common kinds.
  int(name: string, size: number, signed = false): number {
    return this.add({ kind: 'int', name, size, signed, char: false, bool: false, bitOffset: 0, bits: size * 8 });
  }
  ptr(type: number): number {
    return this.add({ kind: 'ptr', name: '', type });
  }
  array(type: number, nelems: number, indexType: number): number {
    return this.add({ kind: 'array', name: '', type, indexType, nelems });
  }
  struct(name: string, size: number, members: Member[], kind: 'struct' | 'union' = 'struct'): number {
    return this.add({ kind, name, size, members });
  }
  typedef(name: string, type: number): number {
    return this.add({ kind: 'typedef', name, type });
  }
  funcProto(returnType: number, params: FuncParam[]): number {
    return this.add({ kind: 'func_proto', name: '', returnType, params });
  }
  func(name: string, proto: number, linkage: keyof typeof LINKAGE = 'global'): number {
    return this.add({ kind: 'func', name, type: proto, linkage });
  }
  variable(name: string, type: number, linkage: keyof typeof LINKAGE = 'global'): number {
    return this.add({ kind: 'var', name, type, linkage });
  }
  datasec(name: string, size: number, vars: DatasecVar[]): number {
    return this.add({ kind: 'datasec', name, size, vars });
  }

  /** Encodes header, types and strings into one BTF blob. */
  encode(): Uint8Array {
    const le = this.littleEndian;
    // Strings first: encoding types interns names.
    let typeLen = 0;
    for (let i = 0; i < this.types.length; i++) {
      const t = this.types[i];
      if (!t) throw new BtfError('UNSET_TYPE', `type [${i + (this.base ? this.base.typeCount : 1)}] was reserved but never set`);
      typeLen += 12 + extraRecordSize(BTF_KIND[t.kind], vlenOf(t));
    }
    const typeBytes = new Uint8Array(typeLen);
    const v = new DataView(typeBytes.buffer);
    let o = 0;
    const u32 = (x: number) => {
      v.setUint32(o, x >>> 0, le);
      o += 4;
    };
    const s = (x: string) => this.addString(x);
    for (let i = 0; i < this.types.length; i++) {
      const t = this.types[i]!;
      const id = i + (this.base ? this.base.typeCount : 1);
      const vlen = vlenOf(t);
      if (vlen > BTF_MAX_VLEN) throw new BtfError('VLEN_TOO_BIG', `${t.kind} '${t.name}' has ${vlen} entries (max ${BTF_MAX_VLEN})`, { section: '.BTF', typeId: id });
      const kflag = kindFlag(t);
      const info = (((kflag ? 1 : 0) << 31) | (BTF_KIND[t.kind] << 24) | (t.kind === 'func' ? LINKAGE[t.linkage] : vlen)) >>> 0;
      u32(s(t.name));
      u32(info);
      switch (t.kind) {
        case 'int':
          u32(t.size);
          u32((((t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0)) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff));
          break;
        case 'ptr':
        case 'typedef':
        case 'volatile':
        case 'const':
        case 'restrict':
        case 'type_tag':
        case 'func':
          u32(t.type);
          break;
        case 'array':
          u32(0);
          u32(t.type);
          u32(t.indexType);
          u32(t.nelems);
          break;
        case 'struct':
        case 'union':
          u32(t.size);
          for (const m of t.members) {
            u32(s(m.name));
            u32(m.type);
            if (kflag) {
              if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff)
                throw new BtfError('BAD_MEMBER', `member '${m.name}' offset/bitfield too large for kind_flag encoding`, { section: '.BTF', typeId: id });
              u32((m.bitfieldSize << 24) | m.bitOffset);
            } else u32(m.bitOffset);
          }
          break;
        case 'enum':
          u32(t.size);
          for (const e of t.values) {
            u32(s(e.name));
            u32(e.value);
          }
          break;
        case 'enum64':
          u32(t.size);
          for (const e of t.values) {
            const raw = BigInt.asUintN(64, e.value);
            u32(s(e.name));
            u32(Number(raw & 0xffffffffn));
            u32(Number(raw >> 32n));
          }
          break;
        case 'fwd':
          u32(0);
          break;
        case 'func_proto':
          u32(t.returnType);
          for (const p of t.params) {
            u32(s(p.name));
            u32(p.type);
          }
          break;
        case 'var':
          u32(t.type);
          u32(LINKAGE[t.linkage]);
          break;
        case 'datasec':
          u32(t.size);
          for (const d of t.vars) {
            u32(d.type);
            u32(d.offset);
            u32(d.size);
          }
          break;
        case 'float':
          u32(t.size);
          break;
        case 'decl_tag':
          u32(t.type);
          u32(t.componentIdx);
          break;
      }
    }
    const strBytes = this.strs.bytes();
    const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + strBytes.length);
    const h = new DataView(out.buffer);
    h.setUint16(0, BTF_MAGIC, le);
    h.setUint8(2, 1);
    h.setUint8(3, 0);
    h.setUint32(4, BTF_HEADER_SIZE, le);
    h.setUint32(8, 0, le);
    h.setUint32(12, typeLen, le);
    h.setUint32(16, typeLen, le);
    h.setUint32(20, strBytes.length, le);
    out.set(typeBytes, BTF_HEADER_SIZE);
    out.set(strBytes, BTF_HEADER_SIZE + typeLen);
    return out;
  }
}

function vlenOf(t: NewType): number {
  switch (t.kind) {
    case 'struct':
    case 'union':
      return t.members.length;
    case 'enum':
    case 'enum64':
      return t.values.length;
    case 'func_proto':
      return t.params.length;
    case 'datasec':
      return t.vars.length;
    default:
      return 0;
  }
}

function kindFlag(t: NewType): boolean {
  switch (t.kind) {
    case 'struct':
    case 'union':
      return t.kindFlag ?? (t as StructType).members.some((m) => m.bitfieldSize > 0);
    case 'enum':
    case 'enum64':
      return t.signed;
    case 'fwd':
      return t.union;
    case 'type_tag':
    case 'decl_tag':
      return t.attribute === true;
    default:
      return false;
  }
}

/** Encodes a parsed Btf again (strings kept verbatim). */
export function encodeBtf(btf: Btf): Uint8Array {
  return BtfBuilder.from(btf).encode();
}
