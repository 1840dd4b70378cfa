/**
 * The BTF string section: NUL-terminated UTF-8 strings addressed by byte
 * offset. Decoding is lazy and cached; lookups compare bytes so that a scan
 * for one name never decodes the others.
 */
import { BtfError } from './errors.js';

const decoder = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export class StringTable {
  private readonly cache = new Map<number, string>();

  /** `bytes` is exactly the string section. */
  constructor(
    readonly bytes: Uint8Array,
    /** Offset of the section inside the whole blob, for error positions. */
    private readonly sectionOffset: number,
    private readonly section = '.BTF',
  ) {}

  get length(): number {
    return this.bytes.length;
  }

  /** The string at `off`; throws BtfError if out of range or unterminated. */
  get(off: number): string {
    if (off === 0) return '';
    const hit = this.cache.get(off);
    if (hit !== undefined) return hit;
    const end = this.endOf(off);
    const b = this.bytes;
    let s: string;
    // Short ASCII names are the common case: avoid TextDecoder's call cost.
    let ascii = end - off <= 64;
    for (let i = off; ascii && i < end; i++) if (b[i]! >= 0x80) ascii = false;
    if (ascii) {
      s = '';
      for (let i = off; i < end; i++) s += String.fromCharCode(b[i]!);
    } else s = decoder.decode(b.subarray(off, end));
    this.cache.set(off, s);
    return s;
  }

  /** Index of the terminating NUL of the string at `off`. */
  endOf(off: number): number {
    const b = this.bytes;
    if (!Number.isInteger(off) || off < 0 || off >= b.length)
      throw new BtfError('BAD_STRING_OFFSET', `string offset ${off} outside the string section (${b.length} bytes)`, {
        section: this.section,
        offset: this.sectionOffset,
      });
    const end = b.indexOf(0, off);
    if (end < 0)
      throw new BtfError('UNTERMINATED_STRING', `string at offset ${off} is not NUL-terminated`, {
        section: this.section,
        offset: this.sectionOffset + off,
      });
    return end;
  }

  /** Whether the string at `off` equals `want` (bytes, no NUL); never throws. */
  equals(off: number, want: Uint8Array): boolean {
    const b = this.bytes;
    const n = want.length;
    if (off < 0 || off + n >= b.length) return false;
    for (let i = 0; i < n; i++) if (b[off + i] !== want[i]) return false;
    return b[off + n] === 0;
  }
}

/** Builds a string section, deduplicating strings. Offset 0 is always ''. */
export class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  /** `seed` is an existing string section kept verbatim (offsets preserved). */
  constructor(seed?: Uint8Array) {
    if (seed && seed.length > 0) {
      this.chunks.push(seed.slice());
      this.size = seed.length;
      let start = 0;
      for (let i = 0; i < seed.length; i++) {
        if (seed[i] !== 0) continue;
        const s = decoder.decode(seed.subarray(start, i));
        if (!this.offsets.has(s)) this.offsets.set(s, start);
        start = i + 1;
      }
      // A seed must end with NUL so that appended strings start cleanly.
      if (seed[seed.length - 1] !== 0) {
        this.chunks.push(new Uint8Array(1));
        this.size++;
      }
    }
    if (!this.offsets.has('')) this.add('');
  }

  add(s: string): number {
    const hit = this.offsets.get(s);
    if (hit !== undefined) return hit;
    const bytes = encoder.encode(s);
    const off = this.size;
    const chunk = new Uint8Array(bytes.length + 1);
    chunk.set(bytes);
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.offsets.set(s, off);
    return off;
  }

  get length(): number {
    return this.size;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
