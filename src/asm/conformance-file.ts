/**
 * Reader for bpf_conformance test files (`*.data`): sections introduced by a
 * `-- name` line. See ../shared/conformance/README.md for the format.
 */
import { AsmError } from './errors.js';

export interface ConformanceTest {
  /**
   * The `-- asm` section, padded with empty lines in front so that line
   * numbers in it are line numbers of the whole file (errors then point
   * into the .data file).
   */
  asm?: string;
  /** The `-- raw` section: one little-endian 64-bit slot per entry. */
  raw?: bigint[];
  /** The `-- mem` section: input memory (r1 points at it, r2 is its length). */
  mem?: Uint8Array;
  /** The `-- result` section: expected r0, as an unsigned 64-bit value. */
  result?: bigint;
  /** The `-- error` section, if any. */
  error?: string;
}

/** Parses a conformance `.data` file. Malformed sections raise AsmError with file:line:col. */
export function parseConformanceFile(text: string, file?: string): ConformanceTest {
  const lines = text.split(/\r?\n/);
  const sections = new Map<string, { start: number; lines: string[] }>();
  let current: { start: number; lines: string[] } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const header = /^--\s*(.*?)\s*$/.exec(line);
    if (header) {
      current = { start: i + 1, lines: [] };
      sections.set(header[1]!.toLowerCase(), current);
      continue;
    }
    current?.lines.push(line);
  }

  const pos = (lineIndex: number, column: number) => ({ file, line: lineIndex + 1, column });
  const stripComment = (s: string) => {
    const hash = s.indexOf('#');
    return hash >= 0 ? s.slice(0, hash) : s;
  };
  const out: ConformanceTest = {};

  const asm = sections.get('asm');
  if (asm) out.asm = '\n'.repeat(asm.start) + asm.lines.join('\n');

  const raw = sections.get('raw');
  if (raw) {
    out.raw = [];
    raw.lines.forEach((line, k) => {
      const body = stripComment(line).trim();
      if (body === '') return;
      if (!/^(0x[0-9a-f]{1,16}|\d+)$/i.test(body)) {
        throw new AsmError('E_SYNTAX', `expected a 64-bit slot in hex, got '${body}'`, pos(raw.start + k, line.indexOf(body) + 1));
      }
      const v = BigInt(body);
      if (v >= 1n << 64n) throw new AsmError('E_IMM_RANGE', `slot ${body} does not fit in 64 bits`, pos(raw.start + k, line.indexOf(body) + 1));
      out.raw!.push(v);
    });
  }

  const mem = sections.get('mem');
  if (mem) {
    const bytes: number[] = [];
    mem.lines.forEach((line, k) => {
      for (const m of stripComment(line).matchAll(/\S+/g)) {
        if (!/^[0-9a-f]{2}$/i.test(m[0])) {
          throw new AsmError('E_SYNTAX', `expected a hex byte, got '${m[0]}'`, pos(mem.start + k, m.index + 1));
        }
        bytes.push(parseInt(m[0], 16));
      }
    });
    out.mem = Uint8Array.from(bytes);
  }

  const result = sections.get('result');
  if (result) {
    let last: { text: string; index: number; column: number } | undefined;
    result.lines.forEach((line, k) => {
      const body = stripComment(line).trim();
      if (body !== '') last = { text: body, index: result.start + k, column: line.indexOf(body) + 1 };
    });
    if (last) out.result = parseResult(last.text, pos(last.index, last.column));
  }

  const error = sections.get('error');
  if (error) out.error = error.lines.map(stripComment).join('\n').trim();
  return out;
}

function parseResult(text: string, position: { file?: string; line: number; column: number }): bigint {
  const hex = text.includes('0x');
  const m = hex ? /^(-?)0x([0-9a-f]+)$/i.exec(text) : /^(-?)(\d+)$/.exec(text);
  if (!m) throw new AsmError('E_SYNTAX', `expected a ${hex ? 'hex' : 'decimal'} result, got '${text}'`, position);
  const v = BigInt(hex ? `0x${m[2]}` : m[2]!);
  if (v >= 1n << 64n) throw new AsmError('E_IMM_RANGE', `result ${text} does not fit in 64 bits`, position);
  return BigInt.asUintN(64, m[1] === '-' ? -v : v);
}

/** Little-endian bytes of `-- raw` slots. */
export function rawSlotsToBytes(slots: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  const view = new DataView(out.buffer);
  slots.forEach((s, i) => view.setBigUint64(i * 8, s, true));
  return out;
}

/** Parses `--mem`-style hex text ("00 11 2233", spaces optional between bytes). */
export function parseHexBytes(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad) throw new AsmError('E_SYNTAX', `'${bad[0]}' is not a hex digit`);
  if (digits.length % 2 !== 0) throw new AsmError('E_SYNTAX', `odd number of hex digits (${digits.length})`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}
