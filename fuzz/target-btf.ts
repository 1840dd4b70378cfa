/**
 * btf: raw BTF blobs, .BTF.ext with its .BTF, and BTF inside an ELF object.
 * Raw blobs are the .BTF of every seed object, mutated, or random type
 * graphs from the builder (loops through pointers, self-containing structs,
 * dangling ids, huge sizes), mutated or not; each goes through every entry
 * point (parse, validate, every type's size and alignment, raw/C/TypeScript
 * dumps, re-encode, sanitize, CO-RE resolution of every relocation kind).
 * A .BTF.ext is mutated against its valid .BTF. In an ELF, only the .BTF
 * and .BTF.ext bytes are mutated and the object parser reads them. Only
 * BtfError naming the section and an offset or type may come out (ElfError
 * and AsmError with their places from the object route).
 */
import {
  BtfBuilder, BtfError, CoreTarget, alignOf, encodeBtf, encodeBtfExt, parseBtf, parseBtfExt, resolveCoreRelo, sanitizeBtf, sizeOf, toCHeader, toRaw,
  toTypeScript, type CoreReloKind, type Btf, type NewType,
} from '../src/btf/index.js';
import { kernelBtfBytes } from '../src/elf/kernel-btf.js';
import { parseObject } from '../src/elf/parse-object.js';
import { readElf } from '../src/elf/reader.js';
import { EDGE_U32, mutateBytes, type Gen } from './random.js';
import { seedObjects } from './seeds.js';
import { checkObjectError } from './target-elf.js';
import { asBytes, FuzzFinding, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

const RELOS: Array<[CoreReloKind, string]> = [
  ['fieldByteOffset', '0:0'], ['fieldByteSize', '0:1'], ['fieldExists', '0:0:0'], ['fieldSigned', '0:0'], ['fieldLshiftU64', '0:2'],
  ['fieldRshiftU64', '0:0'], ['typeIdLocal', '0'], ['typeIdTarget', '0'], ['typeExists', '0'], ['typeSize', '0'],
  ['enumvalExists', '0'], ['enumvalValue', '1'], ['typeMatches', '0'],
];

const NONE = { func: false, funcGlobal: false, datasec: false, float: false, declTag: false, typeTag: false, enum64: false };

interface ObjectSeed {
  bytes: Uint8Array;
  btf: Uint8Array;
  ext?: Uint8Array;
  /** File offsets of .BTF and .BTF.ext, for mutating only them. */
  btfAt: [number, number];
  extAt?: [number, number];
}

let seeds: ObjectSeed[] | undefined;

function load(): ObjectSeed[] {
  if (seeds) return seeds;
  seeds = [];
  for (const { bytes } of seedObjects()) {
    const f = readElf(bytes);
    const btf = f.section('.BTF');
    if (!btf) continue;
    const ext = f.section('.BTF.ext');
    seeds.push({
      bytes, btf: new Uint8Array(btf.data), ext: ext && new Uint8Array(ext.data),
      btfAt: [btf.offset, btf.offset + btf.size], extAt: ext && [ext.offset, ext.offset + ext.size],
    });
  }
  return seeds;
}

/** A random type graph: every kind, ids that point anywhere (forwards, backwards, themselves, past the end). */
function randomBtf(g: Gen): Uint8Array {
  const b = new BtfBuilder({ littleEndian: g.int(8) !== 0 });
  const n = 1 + g.int(24);
  const id = () => (g.int(6) === 0 ? g.pick([0, n + 1, n + 100, 0xffffffff >>> 0, 0x7fffffff]) : g.int(n + 1));
  const name = () => g.pick(['', 'a', 'node', 'task_struct', 'x'.repeat(1 + g.int(300)), '__u32', 'int', 'u8', '1bad', 'a b', '.bss']);
  const size = () => (g.int(4) === 0 ? g.pick(EDGE_U32) : g.pick([0, 1, 2, 4, 8, 16, 24, 64]));
  const members = () => Array.from({ length: g.int(5) }, () => ({ name: name(), type: id(), bitOffset: g.int(4) ? g.int(8) * 8 : g.pick(EDGE_U32), bitfieldSize: g.int(4) ? 0 : g.int(256) }));
  for (let i = 0; i < n; i++) {
    let t: NewType;
    switch (g.int(17)) {
      case 0: t = { kind: 'int', name: name(), size: g.pick([1, 2, 4, 8, 16, 3, 0, 32]), signed: !!g.int(2), char: !g.int(4), bool: !g.int(6), bitOffset: g.int(4) ? 0 : g.int(130), bits: g.pick([8, 16, 32, 64, 1, 0, 128, 129]) }; break;
      case 1: t = { kind: 'ptr', name: '', type: id() }; break;
      case 2: t = { kind: 'typedef', name: name(), type: id() }; break;
      case 3: t = { kind: g.pick(['volatile', 'const', 'restrict'] as const), name: '', type: id() }; break;
      case 4: t = { kind: 'array', name: '', type: id(), indexType: id(), nelems: g.int(3) ? g.int(16) : g.pick(EDGE_U32) }; break;
      case 5: case 6: t = { kind: g.pick(['struct', 'union'] as const), name: name(), size: size(), members: members(), kindFlag: !g.int(4) }; break;
      case 7: t = { kind: 'enum', name: name(), size: g.pick([1, 2, 4, 8, 3]), signed: !!g.int(2), values: Array.from({ length: g.int(4) }, (_, k) => ({ name: `E${k}`, value: g.imm() })) }; break;
      case 8: t = { kind: 'enum64', name: name(), size: g.pick([8, 4]), signed: !!g.int(2), values: Array.from({ length: g.int(4) }, (_, k) => ({ name: `F${k}`, value: g.u64() })) }; break;
      case 9: t = { kind: 'fwd', name: name(), union: !!g.int(2) }; break;
      case 10: t = { kind: 'func', name: name(), type: id(), linkage: g.pick(['static', 'global', 'extern'] as const) }; break;
      case 11: t = { kind: 'func_proto', name: '', returnType: id(), params: Array.from({ length: g.int(4) }, () => ({ name: name(), type: id() })) }; break;
      case 12: t = { kind: 'var', name: name(), type: id(), linkage: g.pick(['static', 'global', 'extern'] as const) }; break;
      case 13: t = { kind: 'datasec', name: g.pick(['.data', '.bss', '.rodata', '.maps', '.kconfig', '.ksyms', '']), size: size(), vars: Array.from({ length: g.int(4) }, () => ({ type: id(), offset: g.int(4) ? g.int(64) : g.pick(EDGE_U32), size: size() })) }; break;
      case 14: t = { kind: 'float', name: name(), size: g.pick([2, 4, 8, 12, 16, 3]) }; break;
      case 15: t = { kind: 'decl_tag', name: name(), type: id(), componentIdx: g.int(3) ? -1 : g.int(6) - 1 }; break;
      default: t = { kind: 'type_tag', name: name(), type: id() };
    }
    b.add(t);
  }
  try {
    return b.encode();
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    // The builder refuses what BTF cannot encode (a kind_flag member offset past 24 bits): encode it without kind_flag.
    for (const t of b.types) if (t && (t.kind === 'struct' || t.kind === 'union')) t.kindFlag = false;
    return b.encode();
  }
}

/** Runs `fn`; any error must be a BtfError that names its section and an offset or type. */
function onlyBtfErrors(what: string, fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    const l = e.location;
    if (!l || typeof l.section !== 'string' || (l.offset === undefined && l.typeId === undefined)) throw new FuzzFinding(`${what}: BtfError naming no section and offset or type: ${e.message}`, { cause: e });
    return false;
  }
}

/** Every entry point over one blob (also used by test/btf/fuzz.test.ts). */
export function exercise(bytes: Uint8Array): Outcome {
  let btf: Btf | undefined;
  if (!onlyBtfErrors('parse', () => (btf = parseBtf(bytes)))) return 'rejected';
  const b = btf!;
  let ok = onlyBtfErrors('validate', () => b.validate());
  let count = 0;
  ok = onlyBtfErrors('count', () => (count = b.typeCount)) && ok;
  for (let id = 0; id < count; id++) {
    ok = onlyBtfErrors('type', () => b.type(id)) && ok;
    onlyBtfErrors('sizeOf', () => sizeOf(b, id));
    onlyBtfErrors('alignOf', () => alignOf(b, id));
  }
  onlyBtfErrors('find', () => b.findByName('node', 'struct'));
  onlyBtfErrors('raw', () => toRaw(b));
  onlyBtfErrors('c', () => toCHeader(b));
  onlyBtfErrors('ts', () => toTypeScript(b));
  onlyBtfErrors('encode', () => parseBtf(encodeBtf(b)));
  onlyBtfErrors('sanitize', () => sanitizeBtf(b, NONE));
  const self = new CoreTarget(b);
  for (let id = 1; id < Math.min(count, 16); id++)
    for (const [kind, access] of RELOS) onlyBtfErrors(`core ${kind}`, () => resolveCoreRelo({ insnOff: 0, typeId: id, accessString: access, kind }, b, self));
  return ok ? 'ok' : 'rejected';
}

/** A .BTF.ext over its valid .BTF: parse, re-encode, every CO-RE record. */
export function exerciseExt(btfBytes: Uint8Array, extBytes: Uint8Array): Outcome {
  const b = parseBtf(btfBytes); // the seed's own, valid
  let ext: ReturnType<typeof parseBtfExt> | undefined;
  if (!onlyBtfErrors('ext', () => (ext = parseBtfExt(extBytes, b)))) return 'rejected';
  onlyBtfErrors('ext encode', () => parseBtfExt(encodeBtfExt(ext!), b));
  const target = new CoreTarget(b);
  for (const sec of ext!.coreRelos) for (const r of sec.records) onlyBtfErrors('core', () => resolveCoreRelo(r, b, target));
  return 'ok';
}

/** .BTF.ext inputs carry their .BTF: [u32 length of .BTF][.BTF][.BTF.ext]. */
function packExt(btf: Uint8Array, ext: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + btf.length + ext.length);
  new DataView(out.buffer).setUint32(0, btf.length, true);
  out.set(btf, 4);
  out.set(ext, 4 + btf.length);
  return out;
}

function generate(g: Gen): FuzzInput {
  const all = load();
  const seed = g.pick(all);
  switch (g.int(8)) {
    case 0: case 1: return { variant: 'btf', data: mutateBytes(g, seed.btf, { hotSpots: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40], max: 4 }) };
    case 2: { const r = randomBtf(g); return { variant: 'btf', data: g.int(3) ? r : mutateBytes(g, r, { max: 3 }) }; }
    case 3: case 4: {
      const withExt = all.filter((s) => s.ext);
      const s = withExt.length ? g.pick(withExt) : seed;
      if (!s.ext) break;
      return { variant: 'btfext', data: packExt(s.btf, mutateBytes(g, s.ext, { hotSpots: [0, 4, 8, 12, 16, 20, 24, 28, 32], max: 4 })) };
    }
    default: {
      const inExt = seed.extAt && g.int(3) === 0;
      const [start, end] = inExt ? seed.extAt! : seed.btfAt;
      return { variant: 'o', data: mutateBytes(g, seed.bytes, { start, end, hotSpots: [start, start + 4, start + 8, start + 12, start + 16, start + 20, start + 24, start + 28], max: 4 }) };
    }
  }
  return { variant: 'btf', data: randomBtf(g) };
}

function execute(input: FuzzInput): Outcome {
  const bytes = asBytes(input.data);
  if (input.variant === 'btf') return exercise(bytes);
  if (input.variant === 'btfext') {
    const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
    return exerciseExt(bytes.subarray(4, 4 + n), bytes.subarray(4 + n));
  }
  try {
    kernelBtfBytes(parseObject(bytes, { name: 'fuzz' }));
    return 'ok';
  } catch (e) {
    checkObjectError(e);
    return 'rejected';
  }
}

export const btfTarget: FuzzTarget = { name: 'btf', timeoutMs: 5000, chunk: 25_000, generate, execute };
