/** CPU sets from sysfs: per-CPU map values have one slot per possible CPU. */
import { readFileSync } from 'node:fs';

/**
 * Parses a sysfs CPU list such as "0-3,5,7-8" into CPU numbers.
 * @example
 * parseCpuList('0-3,8');   // [0, 1, 2, 3, 8]
 */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list element '${part}' in '${text.trim()}'`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

let possible: number[] | undefined;
let online: number[] | undefined;

/**
 * CPUs the kernel may ever bring up (the size of per-CPU values).
 * @example
 * possibleCpus();   // [0, 1, 2, 3]
 */
export function possibleCpus(): number[] {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return possible;
}

/**
 * Number of slots in a per-CPU value: highest possible CPU + 1.
 * @example
 * const values = map.lookupPerCpu(key);   // possibleCpuCount() entries
 */
export function possibleCpuCount(): number {
  const cpus = possibleCpus();
  return cpus.length === 0 ? 1 : cpus[cpus.length - 1]! + 1;
}

/**
 * The CPUs online now (/sys/devices/system/cpu/online), read once per process.
 * @example
 * for (const cpu of onlineCpus()) console.log(cpu);
 */
export function onlineCpus(): number[] {
  online ??= parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  return online;
}
