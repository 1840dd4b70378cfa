/**
 * A minimal BTF reader for the layout generator: enough to find named
 * structs, unions and enums and walk their members with bit offsets. It is
 * deliberately independent of src/btf so that the generated syscall layouts
 * do not depend on the code they help to test.
 */

export interface MiniMember {
  name: string;
  type: number;
  bitOffset: number;
  bitSize: number;
}

export interface MiniType {
  id: number;
  kind: number;
  name: string;
  size: number;
  /** Referenced type for PTR/TYPEDEF/CONST/VOLATILE/ARRAY element. */
  type: number;
  members: MiniMember[];
  enumerators: Array<{ name: string; value: bigint }>;
  arrayLength: number;
}

export const Kind = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16,
  DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export class MiniBtf {
  readonly types: MiniType[] = [];
  readonly #byName = new Map<string, MiniType[]>();

  constructor(bytes: Uint8Array) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint16(0, true) !== 0xeb9f) throw new Error('not little-endian BTF');
    const hdrLen = dv.getUint32(4, true);
    const typeOff = hdrLen + dv.getUint32(8, true);
    const typeLen = dv.getUint32(12, true);
    const strOff = hdrLen + dv.getUint32(16, true);
    const strLen = dv.getUint32(20, true);
    const decoder = new TextDecoder();
    const str = (off: number): string => {
      if (off >= strLen) throw new Error(`BTF string offset ${off} out of range`);
      let end = strOff + off;
      while (end < strOff + strLen && bytes[end] !== 0) end++;
      return decoder.decode(bytes.subarray(strOff + off, end));
    };
    this.types.push({ id: 0, kind: 0, name: 'void', size: 0, type: 0, members: [], enumerators: [], arrayLength: 0 });
    let at = typeOff;
    const end = typeOff + typeLen;
    while (at < end) {
      const nameOff = dv.getUint32(at, true);
      const info = dv.getUint32(at + 4, true);
      const sizeOrType = dv.getUint32(at + 8, true);
      at += 12;
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const kflag = info >>> 31;
      const t: MiniType = { id: this.types.length, kind, name: str(nameOff), size: sizeOrType, type: sizeOrType, members: [], enumerators: [], arrayLength: 0 };
      switch (kind) {
        case Kind.INT: case Kind.VAR: case Kind.DECL_TAG: at += 4; break;
        case Kind.ARRAY:
          t.type = dv.getUint32(at, true);
          t.arrayLength = dv.getUint32(at + 8, true);
          at += 12;
          break;
        case Kind.STRUCT: case Kind.UNION:
          for (let i = 0; i < vlen; i++, at += 12) {
            const off = dv.getUint32(at + 8, true);
            t.members.push({
              name: str(dv.getUint32(at, true)),
              type: dv.getUint32(at + 4, true),
              bitOffset: kflag ? off & 0xffffff : off,
              bitSize: kflag ? off >>> 24 : 0,
            });
          }
          break;
        case Kind.ENUM:
          for (let i = 0; i < vlen; i++, at += 8) {
            t.enumerators.push({ name: str(dv.getUint32(at, true)), value: BigInt(kflag ? dv.getInt32(at + 4, true) : dv.getUint32(at + 4, true)) });
          }
          break;
        case Kind.ENUM64:
          for (let i = 0; i < vlen; i++, at += 12) {
            const v = (BigInt(dv.getUint32(at + 8, true)) << 32n) | BigInt(dv.getUint32(at + 4, true));
            t.enumerators.push({ name: str(dv.getUint32(at, true)), value: kflag ? BigInt.asIntN(64, v) : v });
          }
          break;
        case Kind.FUNC_PROTO: at += 8 * vlen; break;
        case Kind.DATASEC: at += 12 * vlen; break;
        default: break;
      }
      this.types.push(t);
      if (t.name) {
        const list = this.#byName.get(t.name) ?? [];
        list.push(t);
        this.#byName.set(t.name, list);
      }
    }
  }

  find(name: string, kind: number): MiniType {
    const t = this.#byName.get(name)?.find((x) => x.kind === kind);
    if (!t) throw new Error(`BTF has no ${name} of kind ${kind}`);
    return t;
  }

  /** Follows typedefs and qualifiers. */
  resolve(id: number): MiniType {
    let t = this.types[id]!;
    while (t.kind === Kind.TYPEDEF || t.kind === Kind.CONST || t.kind === Kind.VOLATILE || t.kind === Kind.RESTRICT || t.kind === Kind.TYPE_TAG) {
      t = this.types[t.type]!;
    }
    return t;
  }

  sizeOf(id: number): number {
    const t = this.resolve(id);
    if (t.kind === Kind.ARRAY) return t.arrayLength * this.sizeOf(t.type);
    if (t.kind === Kind.PTR) return 8;
    return t.size;
  }
}
