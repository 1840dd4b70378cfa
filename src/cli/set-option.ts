/** The `--set NAME=VALUE` option of `tsbpf load` and `tsbpf run`. */
import { CliError } from './output.js';

/**
 * Splits one `--set NAME=VALUE`: VALUE is an integer (0x.. allowed) or, when
 * `strings` is true, a "quoted string". Whether the value fits its variable
 * is checked where the variable is known.
 */
export function parseSetting(s: string, strings: true): [string, bigint | string];
export function parseSetting(s: string, strings: false): [string, bigint];
export function parseSetting(s: string, strings: boolean): [string, bigint | string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new CliError(`--set wants NAME=VALUE, got '${s}'`, 2);
  const name = s.slice(0, eq);
  const raw = s.slice(eq + 1);
  if (strings && /^".*"$/.test(raw)) return [name, raw.slice(1, -1)];
  // BigInt('') and BigInt(' ') are 0: an empty value must not set zero silently.
  if (raw.trim() === '') throw new CliError(`--set ${name}: no value given`, 2);
  try {
    return [name, BigInt(raw)];
  } catch {
    throw new CliError(`--set ${name}: '${raw}' is ${strings ? 'neither an integer nor a "string"' : 'not an integer'}`, 2);
  }
}

/**
 * `--set NAME=VALUE` for a compiled module's globals: an integer, or
 * integers separated by commas for an array (`--set ports=53,5353`);
 * NAME may be a path to a struct field (`--set cfg.limit=10`).
 */
export function parseGlobalSetting(s: string): [string, bigint | bigint[]] {
  const eq = s.indexOf('=');
  if (eq <= 0 || !s.slice(eq + 1).includes(',')) return parseSetting(s, false);
  const name = s.slice(0, eq);
  return [name, s.slice(eq + 1).split(',').map((part) => parseSetting(`${name}=${part.trim()}`, false)[1])];
}
