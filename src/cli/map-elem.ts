/**
 * `tsbpf map lookup|update|delete MAP key KEY [value VALUE] [any|noexist|exist]`,
 * as bpftool takes them, with typed keys and values: KEY and VALUE are either
 * bytes (bpftool's `1 0 0 0`, `0x01 0 0 0` or `hex 01 00 00 00`) or one
 * typed value written through the map's BTF (`5`, `'"bash"'`,
 * `'{"tid": 7, "tag": "marked"}'`). Output as bpftool prints it: decoded
 * through BTF, or `key: .. value: ..` in hex; `--json` is bpftool -j's
 * document ({ key, value } as hex byte strings, `formatted` when there is BTF).
 */
import { parseArgs } from 'node:util';
import type { Btf } from '../btf/index.js';
import { BtfValueError, encodeBtfValue } from '../btf/encode-values.js';
import { type BtfValue, decodeBtfValue, formatPretty, hex } from '../btf/values.js';
import type { BpfMap } from '../kernel/map.js';
import { UpdateFlags } from '../syscall/flags.js';
import { mapBtf, openMap } from './map-dump.js';
import { CliError, printJson, printJsonNumbers } from './output.js';

export const elemHelp = `  lookup    one entry:  tsbpf map lookup MAP key KEY [--json]
  update    set one:    tsbpf map update MAP key KEY value VALUE [any|noexist|exist]
  delete    remove one: tsbpf map delete MAP key KEY
            MAP is id ID | pinned PATH | name NAME. KEY and VALUE are bytes as
            bpftool takes them (1 0 0 0, 0x01 0 0 0, hex 01 00 00 00), or one
            value written through the map's BTF: 5, '"bash"', '{"pid": 1}'`;

/** Bytes from bpftool-style tokens, or one value through the BTF type; `size` bytes exactly. */
export function parseElement(tokens: string[], size: number, btf: Btf | undefined, typeId: number, what: 'key' | 'value'): Uint8Array {
  if (tokens.length === 0) throw new CliError(`give the ${what}: ${what} BYTES... or ${what} VALUE`, 2);
  const bytes = (list: string[], base: 10 | 16): Uint8Array => {
    const out = list.map((t) => {
      const n = base === 16 ? (/^[0-9a-f]{1,2}$/i.test(t) ? parseInt(t, 16) : NaN) : /^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(t) ? Number(t) : NaN;
      if (!(n >= 0 && n <= 255)) throw new CliError(`${what}: '${t}' is not a byte`, 2);
      return n;
    });
    if (out.length !== size) throw new CliError(`${what} is ${out.length} byte${out.length === 1 ? '' : 's'}, the map's ${what} is ${size}`, 2);
    return new Uint8Array(out);
  };
  if (tokens[0] === 'hex') return bytes(tokens.slice(1).flatMap((t) => t.match(/.{1,2}/g) ?? []), 16);
  if (tokens.length > 1 || (size === 1 && /^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(tokens[0]!))) return bytes(tokens, 10);
  // One token: a typed value.
  const text = tokens[0]!;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text; // a bare word: a string, an enum name or a number written as text
  }
  if (btf && typeId) {
    try {
      return encodeBtfValue(btf, typeId, value, what);
    } catch (e) {
      if (e instanceof BtfValueError) throw new CliError(e.message, 2);
      throw e;
    }
  }
  // No BTF: an integer of the whole size, little-endian.
  if (typeof value !== 'number' && !(typeof value === 'string' && /^-?\d+$|^0x[0-9a-f]+$/i.test(value))) {
    throw new CliError(`${what}: the map has no BTF, so give ${size} bytes (or an integer), not ${JSON.stringify(value)}`, 2);
  }
  let v = BigInt.asUintN(size * 8, BigInt(value as number | string));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

const hexList = (b: Uint8Array): string[] => [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`);

interface Parsed {
  map: BpfMap;
  btf: Btf | undefined;
  keyTypeId: number;
  valueTypeId: number;
  key: Uint8Array;
  rest: string[];
  json: boolean;
}

function parse(argv: string[], verb: string): Parsed {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: false });
  const [how, what, keyword, ...rest] = positionals.map(String);
  if (keyword !== 'key') throw new CliError(`usage: tsbpf map ${verb} id ID | pinned PATH | name NAME key KEY${verb === 'update' ? ' value VALUE' : ''}`, 2);
  const map = openMap(how, what);
  const info = map.info();
  const btf = mapBtf(info);
  const end = rest.findIndex((t) => t === 'value' || ['any', 'noexist', 'exist'].includes(t));
  const keyTokens = end < 0 ? rest : rest.slice(0, end);
  const key = parseElement(keyTokens, map.keySize, btf, info.btfKeyTypeId, 'key');
  return { map, btf, keyTypeId: info.btfKeyTypeId, valueTypeId: info.btfValueTypeId, key, rest: end < 0 ? [] : rest.slice(end), json: Boolean(values.json) };
}

export async function lookup(argv: string[]): Promise<number> {
  const p = parse(argv, 'lookup');
  using map = p.map;
  const decode = (typeId: number, b: Uint8Array): BtfValue => (p.btf && typeId ? decodeBtfValue(p.btf, typeId, b) : hex(b));
  const value: Uint8Array | Uint8Array[] | undefined = map.isPerCpu ? map.lookupPerCpu(p.key)?.map((v) => v.subarray(0, map.valueSize)) : map.lookup(p.key);
  if (value === undefined) {
    // Nothing on stdout (not a bare null: --json output is objects); the error goes to stderr.
    throw new CliError(`key ${hex(p.key)}: not found`);
  }
  const values = Array.isArray(value) ? value : [value];
  if (p.json) {
    printJsonNumbers({
      key: hexList(p.key),
      ...(Array.isArray(value) ? { values: values.map((v, cpu) => ({ cpu, value: hexList(v) })) } : { value: hexList(values[0]!) }),
      ...(p.btf ? { formatted: { key: decode(p.keyTypeId, p.key), ...(Array.isArray(value) ? { values: values.map((v, cpu) => ({ cpu, value: decode(p.valueTypeId, v) })) } : { value: decode(p.valueTypeId, values[0]!) }) } } : {}),
    });
  } else if (p.btf) {
    const entry = Array.isArray(value) ? { key: decode(p.keyTypeId, p.key), values: values.map((v, cpu) => ({ cpu, value: decode(p.valueTypeId, v) })) } : { key: decode(p.keyTypeId, p.key), value: decode(p.valueTypeId, values[0]!) };
    process.stdout.write(`${formatPretty(entry)}\n`);
  } else if (Array.isArray(value)) {
    process.stdout.write(`key: ${hex(p.key)}\n${values.map((v, cpu) => `value (CPU ${String(cpu).padStart(2, '0')}): ${hex(v)}`).join('\n')}\n`);
  } else {
    process.stdout.write(`key: ${hex(p.key)}  value: ${hex(values[0]!)}\n`);
  }
  return 0;
}

export async function update(argv: string[]): Promise<number> {
  const p = parse(argv, 'update');
  using map = p.map;
  const [keyword, ...rest] = p.rest;
  if (keyword !== 'value') throw new CliError('give the value: value BYTES... or value VALUE', 2);
  const flagWord = ['any', 'noexist', 'exist'].includes(rest.at(-1) ?? '') ? rest.pop()! : 'any';
  const value = parseElement(rest, map.valueSize, p.btf, p.valueTypeId, 'value');
  const flags = { any: UpdateFlags.ANY, noexist: UpdateFlags.NOEXIST, exist: UpdateFlags.EXIST }[flagWord as 'any'];
  // A per-CPU map takes the same value on every CPU, as bpftool does with one value.
  if (map.isPerCpu) map.updatePerCpu(p.key, Array.from({ length: map.userValueSize / map.perCpuStride }, () => value), flags);
  else map.update(p.key, value, flags);
  return 0;
}

export async function remove(argv: string[]): Promise<number> {
  const p = parse(argv, 'delete');
  using map = p.map;
  if (p.rest.length) throw new CliError(`unexpected '${p.rest[0]}' after the key`, 2);
  if (!map.delete(p.key)) throw new CliError(`key ${hex(p.key)}: not found`);
  return 0;
}
