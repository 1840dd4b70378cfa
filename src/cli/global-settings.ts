/**
 * Setting a compiled module's globals before load: `--set name=value`
 * (`tsbpf run`, `loadModule(mod, { set })`). An integer global takes an
 * integer; an array global a list (`--set ports=53,5353`, the elements not
 * given are 0); a struct global its fields by path (`--set cfg.limit=10`)
 * or as an object (`set: { cfg: { limit: 10 } }`). A value that does not
 * fit its type is refused, never truncated.
 */
import type { CompiledDataSection } from '../dsl/compiler/compile.js';
import { type CType, sizeOf, typeName } from '../dsl/compiler/ctypes.js';
import { integerMisfit } from '../elf/variables.js';
import { CliError } from './output.js';

export type GlobalSetting = bigint | number | readonly GlobalSetting[] | { readonly [field: string]: GlobalSetting };

/** Writes one setting into a data section's bytes; false when the section has no variable of that name. */
export function applySetting(section: CompiledDataSection, bytes: Uint8Array, name: string, value: GlobalSetting): boolean {
  const [root, ...path] = name.split('.');
  const v = section.variables.find((x) => x.name === root);
  if (!v) return false;
  let t: CType = v.type;
  let at = v.offset;
  for (const field of path) {
    const f = t.kind === 'struct' ? t.fields.find((x) => x.name === field) : undefined;
    if (!f) throw new CliError(`--set ${name}: ${t.kind === 'struct' ? `${t.name} has no field ${field} (has: ${t.fields.map((x) => x.name).join(', ')})` : `${typeName(t)} has no fields`}`, 2);
    t = f.type;
    at += f.offset;
  }
  // A whole array or struct is replaced: what the value does not give is 0.
  if (t.kind !== 'int' && path.length === 0) bytes.fill(0, at, at + sizeOf(t));
  encode(t, value, bytes, at, name);
  return true;
}

function encode(t: CType, value: GlobalSetting, out: Uint8Array, at: number, where: string): void {
  if (t.kind === 'int') {
    if (typeof value !== 'bigint' && typeof value !== 'number') throw new CliError(`--set ${where}: ${typeName(t)} takes an integer`, 2);
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new CliError(`--set ${where}: ${value} is not an integer`, 2);
    const n = BigInt(value);
    const misfit = integerMisfit(n, t.bits / 8, t.signed, t.name === 'bool');
    if (misfit) throw new CliError(`--set ${where}: ${misfit}`, 2);
    const size = t.bits / 8;
    const u = BigInt.asUintN(t.bits, n);
    for (let i = 0; i < size; i++) out[at + i] = Number((u >> BigInt(8 * (t.bigEndian ? size - 1 - i : i))) & 0xffn);
    return;
  }
  if (t.kind === 'array') {
    const items: readonly GlobalSetting[] = Array.isArray(value) ? value : [value as GlobalSetting];
    if (items.length > t.length) throw new CliError(`--set ${where}: ${items.length} values, ${typeName(t)} holds ${t.length}`, 2);
    const size = sizeOf(t.element);
    items.forEach((x, i) => encode(t.element, x, out, at + i * size, `${where}[${i}]`));
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw new CliError(`--set ${where}: ${t.name} is a struct: set its fields (--set ${where}.${t.fields[0]?.name ?? 'field'}=…)`, 2);
  for (const [field, x] of Object.entries(value as Record<string, GlobalSetting>)) {
    const f = t.fields.find((y) => y.name === field);
    if (!f) throw new CliError(`--set ${where}: ${t.name} has no field ${field} (has: ${t.fields.map((y) => y.name).join(', ')})`, 2);
    encode(f.type, x, out, at + f.offset, `${where}.${field}`);
  }
}
