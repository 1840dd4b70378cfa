/**
 * .BTF.ext: per-section func_info, line_info and CO-RE relocation records.
 * String fields are offsets into the companion .BTF string section; parsing
 * resolves them to strings as well. `insnOff` is a byte offset into the
 * program section, as clang writes it (divide by 8 for an instruction index).
 */
import type { Btf } from './btf.js';
import type { BtfBuilder } from './builder.js';
import { BtfError } from './errors.js';
import { BTF_MAGIC } from './kinds.js';
import { FUNC_INFO_RECORD_SIZE as FUNC_INFO_SIZE, LINE_INFO_RECORD_SIZE as LINE_INFO_SIZE, packLineCol } from './prog-ext.js';

export interface FuncInfo {
  insnOff: number;
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  fileName: string;
  /** The source line's text. */
  line: string;
  lineNumber: number;
  column: number;
  fileNameOff?: number;
  lineOff?: number;
}

/** The 13 CO-RE relocation kinds (enum bpf_core_relo_kind). */
export const CORE_RELO_KIND = {
  fieldByteOffset: 0,
  fieldByteSize: 1,
  fieldExists: 2,
  fieldSigned: 3,
  fieldLshiftU64: 4,
  fieldRshiftU64: 5,
  typeIdLocal: 6,
  typeIdTarget: 7,
  typeExists: 8,
  typeSize: 9,
  enumvalExists: 10,
  enumvalValue: 11,
  typeMatches: 12,
} as const;
export type CoreReloKind = keyof typeof CORE_RELO_KIND;
export const CORE_RELO_KIND_NAMES: readonly CoreReloKind[] = Object.keys(CORE_RELO_KIND) as CoreReloKind[];

export interface CoreRelo {
  insnOff: number;
  /** The local (program's own BTF) root type. */
  typeId: number;
  /** Like "0:1:2". */
  accessString: string;
  kind: CoreReloKind;
  accessStrOff?: number;
}

export interface ExtSection<T> {
  /** ELF section the records apply to, e.g. "tracepoint/syscalls/sys_enter_getppid". */
  section: string;
  sectionOff?: number;
  records: T[];
}

export interface BtfExt {
  funcInfo: ExtSection<FuncInfo>[];
  lineInfo: ExtSection<LineInfo>[];
  coreRelos: ExtSection<CoreRelo>[];
}

const CORE_RELO_SIZE = 16;
const EXT_HEADER_MIN = 24;
const EXT_HEADER_CORE = 32;

/** Parses a .BTF.ext section; strings are resolved through `btf`. */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  const S = '.BTF.ext';
  if (bytes.length < 8) throw new BtfError('TRUNCATED', `${bytes.length} bytes is too short for a .BTF.ext header`, { section: S, offset: 0 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (v.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (v.getUint16(0, false) === BTF_MAGIC) le = false;
  else throw new BtfError('BAD_MAGIC', `bad magic 0x${v.getUint16(0, true).toString(16)}`, { section: S, offset: 0 });
  if (v.getUint8(2) !== 1) throw new BtfError('BAD_VERSION', `unsupported .BTF.ext version ${v.getUint8(2)}`, { section: S, offset: 2 });
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length)
    throw new BtfError('BAD_HEADER', `header length ${hdrLen} invalid for ${bytes.length} bytes`, { section: S, offset: 4 });
  const u32 = (o: number) => v.getUint32(o, le);
  const str = (off: number, at: number, what: string): string => {
    try {
      return btf.string(off);
    } catch {
      throw new BtfError('BAD_STRING_OFFSET', `${what} string offset ${off} is not in .BTF's strings`, { section: S, offset: at });
    }
  };

  function subsection<T>(name: string, hdrField: number, minRec: number, read: (o: number) => T): ExtSection<T>[] {
    const off = u32(hdrField);
    const len = u32(hdrField + 4);
    if (len === 0) return [];
    const start = hdrLen + off;
    const end = start + len;
    const where = `${S} ${name}`;
    if (off % 4 !== 0 || end > bytes.length || end < start)
      throw new BtfError('BAD_HEADER', `${name} [${off}, +${len}) outside the section`, { section: S, offset: hdrField });
    if (len < 4) throw new BtfError('TRUNCATED', `${name} has no record size`, { section: where, offset: start });
    const recSize = u32(start);
    if (recSize < minRec || recSize % 4 !== 0 || recSize > 1024)
      throw new BtfError('BAD_RECORD_SIZE', `${name} record size ${recSize} (need >= ${minRec}, multiple of 4)`, { section: where, offset: start });
    const out: ExtSection<T>[] = [];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError('TRUNCATED', `${name} section header truncated`, { section: where, offset: p });
      const secOff = u32(p);
      const count = u32(p + 4);
      const section = str(secOff, p, `${name} section name`);
      if (count === 0) throw new BtfError('BAD_COUNT', `${name} for '${section}' has no records`, { section: where, offset: p });
      if (count > (end - p - 8) / recSize)
        throw new BtfError('BAD_COUNT', `${name} for '${section}' claims ${count} records of ${recSize} bytes, past the end`, { section: where, offset: p });
      p += 8;
      const records: T[] = new Array(count);
      for (let i = 0; i < count; i++, p += recSize) records[i] = read(p);
      out.push({ section, sectionOff: secOff, records });
    }
    return out;
  }

  const funcInfo = subsection('func_info', 8, FUNC_INFO_SIZE, (o) => ({ insnOff: u32(o), typeId: u32(o + 4) }));
  const lineInfo = subsection('line_info', 16, LINE_INFO_SIZE, (o): LineInfo => {
    const fileNameOff = u32(o + 4);
    const lineOff = u32(o + 8);
    const col = u32(o + 12);
    return {
      insnOff: u32(o),
      fileName: str(fileNameOff, o + 4, 'line_info file name'),
      line: str(lineOff, o + 8, 'line_info line'),
      lineNumber: col >>> 10,
      column: col & 0x3ff,
      fileNameOff,
      lineOff,
    };
  });
  let coreRelos: ExtSection<CoreRelo>[] = [];
  if (hdrLen >= EXT_HEADER_CORE) {
    coreRelos = subsection('core_relo', 24, CORE_RELO_SIZE, (o): CoreRelo => {
      const accessStrOff = u32(o + 8);
      const kindNo = u32(o + 12);
      const kind = CORE_RELO_KIND_NAMES[kindNo];
      if (kind === undefined) throw new BtfError('BAD_RELO_KIND', `unknown CO-RE relocation kind ${kindNo}`, { section: `${S} core_relo`, offset: o + 12 });
      return { insnOff: u32(o), typeId: u32(o + 4), accessString: str(accessStrOff, o + 8, 'core_relo access'), kind, accessStrOff };
    });
  }
  return { funcInfo, lineInfo, coreRelos };
}

/**
 * Encodes .BTF.ext. With a builder, every string is interned into its string
 * section (the DSL compiler's way); without, the records' stored offsets are
 * written as they are (a parsed section round-trips).
 */
export function encodeBtfExt(ext: BtfExt, builder?: BtfBuilder, littleEndian = true): Uint8Array {
  const strOff = (s: string, stored: number | undefined, what: string): number => {
    if (builder) return builder.addString(s);
    if (stored === undefined) throw new BtfError('NO_STRING_OFFSET', `${what} '${s}' has no string offset and no builder was given`, { section: '.BTF.ext' });
    return stored;
  };
  const parts: Array<{ recSize: number; words: number[] }> = [];
  const pack = <T>(secs: ExtSection<T>[], recSize: number, what: string, rec: (r: T) => number[]) => {
    const words: number[] = [];
    if (secs.length === 0) return { recSize, words };
    words.push(recSize);
    for (const s of secs) {
      words.push(strOff(s.section, s.sectionOff, `${what} section name`), s.records.length);
      for (const r of s.records) words.push(...rec(r));
    }
    return { recSize, words };
  };
  parts.push(pack(ext.funcInfo, FUNC_INFO_SIZE, 'func_info', (r) => [r.insnOff, r.typeId]));
  parts.push(
    pack(ext.lineInfo, LINE_INFO_SIZE, 'line_info', (r) => [
      r.insnOff,
      strOff(r.fileName, r.fileNameOff, 'line_info file name'),
      strOff(r.line, r.lineOff, 'line_info line'),
      packLineCol(r.lineNumber, r.column),
    ]),
  );
  parts.push(
    pack(ext.coreRelos, CORE_RELO_SIZE, 'core_relo', (r) => [
      r.insnOff,
      r.typeId,
      strOff(r.accessString, r.accessStrOff, 'core_relo access string'),
      CORE_RELO_KIND[r.kind],
    ]),
  );
  const total = EXT_HEADER_CORE + parts.reduce((n, p) => n + p.words.length * 4, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint16(0, BTF_MAGIC, littleEndian);
  v.setUint8(2, 1);
  v.setUint32(4, EXT_HEADER_CORE, littleEndian);
  let off = 0;
  let p = EXT_HEADER_CORE;
  parts.forEach((part, i) => {
    const len = part.words.length * 4;
    v.setUint32(8 + i * 8, off, littleEndian);
    v.setUint32(12 + i * 8, len, littleEndian);
    for (const w of part.words) {
      v.setUint32(p, w >>> 0, littleEndian);
      p += 4;
    }
    off += len;
  });
  return out;
}
