/**
 * Deterministic randomness for the fuzz targets: input i of a run with seed
 * S is a pure function of (S, i), so a crash is replayed from its numbers
 * alone, and a parent process can rebuild the input a child hung on.
 */
import { Gen, rng } from '../test/asm/random-instructions.js';

export { Gen };

/** The generator for input `index` of a run with `seed`. */
export function inputRandom(seed: number, index: number): Gen {
  // splitmix-style mixing so neighbouring indexes give unrelated streams.
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return new Gen(rng(h ^ (h >>> 16)));
}

/** Values that break length and offset arithmetic. */
export const EDGE_U32 = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Spots a mutation prefers (header fields and the like); the rest of the input is hit uniformly. */
export interface ByteMutationOptions {
  hotSpots?: readonly number[];
  /** Only mutate inside [start, end) (e.g. one section of an ELF file). */
  start?: number;
  end?: number;
  /** Upper bound on mutations (at least 1). */
  max?: number;
}

/**
 * Byte-level mutations of a real input: bit flips, random bytes, 16/32/64-bit
 * edge values (little and big endian), truncation, inserted and deleted runs,
 * a block copied over another place.
 */
export function mutateBytes(g: Gen, input: Uint8Array, options: ByteMutationOptions = {}): Uint8Array {
  let b = new Uint8Array(input);
  const count = 1 + g.int(options.max ?? 6);
  for (let n = 0; n < count && b.length > 0; n++) {
    const start = Math.min(options.start ?? 0, b.length - 1);
    const end = Math.min(options.end ?? b.length, b.length);
    const span = Math.max(1, end - start);
    const spots = options.hotSpots?.filter((x) => x >= start && x < end) ?? [];
    const at = spots.length && g.int(2) ? spots[g.int(spots.length)]! : start + g.int(span);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (g.int(10)) {
      case 0:
        b[at] ^= 1 << g.int(8);
        break;
      case 1:
        b[at] = g.int(256);
        break;
      case 2:
      case 3:
        if (at + 4 <= b.length) view.setUint32(at & ~3, g.int(3) ? g.pick(EDGE_U32) : (g.imm() >>> 0), g.int(4) !== 0);
        break;
      case 4:
        if (at + 2 <= b.length) view.setUint16(at, g.pick([0, 1, 0x7fff, 0x8000, 0xffff]), true);
        break;
      case 5:
        if (at + 8 <= b.length) view.setBigUint64(at & ~7, g.pick([0n, 0xffffffffffffffffn, 0x8000000000000000n, BigInt(b.length), 1n << 40n]), true);
        break;
      case 6:
        if (n === 0 || g.int(3) === 0) b = b.slice(0, at);
        break;
      case 7: {
        const len = 1 + g.int(16);
        const ins = new Uint8Array(len).map(() => g.int(256));
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at));
        out.set(ins, at);
        out.set(b.subarray(at), at + len);
        b = out;
        break;
      }
      case 8: {
        const stop = Math.min(b.length, at + 1 + g.int(32));
        const out = new Uint8Array(b.length - (stop - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(stop), at);
        b = out;
        break;
      }
      default: {
        const len = 1 + g.int(64);
        const from = g.int(b.length);
        b.copyWithin(at, from, Math.min(b.length, from + len));
      }
    }
  }
  return b;
}

/** Splits text into tokens (identifiers, numbers, strings, punctuation, whitespace runs) so mutations keep most of its shape. */
export function tokenize(text: string): string[] {
  return text.match(/\s+|0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:e\d+)?n?|[A-Za-z_$%][\w$]*|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`[^`]*`|\/\/[^\n]*|=>|===|!==|==|!=|<=|>=|<<=?|>>>?=?|&&|\|\||\?\?|\?\.|\+\+|--|[-+*/%&|^]=|\.\.\.|./gs) ?? [];
}

/**
 * Token-level mutations of source text: replace, delete, duplicate or swap
 * tokens; numbers to edge values; splice a run of tokens from another seed;
 * drop or repeat whole lines; an odd character in a random place.
 */
export function mutateText(g: Gen, text: string, dictionary: readonly string[], others: readonly string[] = []): string {
  let toks = tokenize(text);
  const count = 1 + g.int(4);
  for (let n = 0; n < count && toks.length > 0; n++) {
    const at = g.int(toks.length);
    switch (g.int(11)) {
      case 0:
        toks[at] = g.pick(dictionary);
        break;
      case 1:
        toks.splice(at, 1 + g.int(3));
        break;
      case 2:
        toks.splice(at, 0, ...toks.slice(at, at + 1 + g.int(8)));
        break;
      case 3: {
        const other = g.int(toks.length);
        [toks[at], toks[other]] = [toks[other]!, toks[at]!];
        break;
      }
      case 4: {
        const nums = toks.map((t, i) => (/^\d|^0x/.test(t) ? i : -1)).filter((i) => i >= 0);
        if (nums.length) toks[g.pick(nums)] = g.pick(['0', '1', '-1', '255', '256', '65535', '65536', '4294967295', '4294967296', '1e6', '9007199254740993', '0x7fffffff', '-2147483648', '18446744073709551615n', '1.5', 'NaN']);
        break;
      }
      case 5: {
        if (!others.length) break;
        const src = tokenize(g.pick(others));
        const from = g.int(src.length);
        toks.splice(at, 0, ...src.slice(from, from + 1 + g.int(40)));
        break;
      }
      case 6: {
        const lines = toks.join('').split('\n');
        const l = g.int(lines.length);
        if (g.int(2)) lines.splice(l, 1);
        else lines.splice(l, 0, lines[g.int(lines.length)]!);
        toks = tokenize(lines.join('\n'));
        break;
      }
      case 7:
        toks.splice(at, 0, g.pick(['\0', '\u00a0', '\ud800', '\\', '\x1b[31m', '@', '#', '`', "'", '"', '/*', '*/', '{', '}', '(', ')', '<', '>', ';', '\n']));
        break;
      case 8:
        toks[at] = g.pick(toks);
        break;
      case 9:
        toks = toks.slice(0, at);
        break;
      default:
        toks.splice(at, 0, g.pick(dictionary), ' ');
    }
  }
  return toks.join('');
}

/** Distinct non-space tokens of the seeds, for `mutateText`'s replacements. */
export function dictionaryOf(texts: readonly string[], extra: readonly string[] = []): string[] {
  const set = new Set<string>(extra);
  for (const t of texts) for (const tok of tokenize(t)) if (tok.trim() && tok.length < 40) set.add(tok);
  return [...set].sort();
}
