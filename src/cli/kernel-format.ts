/** Shared formatting of kernel objects for the prog/map/feature commands. */
import { readFileSync } from 'node:fs';

/** bpftool-style lower-case type name. */
export const lowerName = (name: string): string => name.toLowerCase();

let bootMs: number | undefined;
/** Wall-clock time of a boot-time timestamp in ns (program load_time). */
export function bootTimeToDate(ns: bigint): Date {
  // The boot time is fixed: read /proc/uptime once, not once per program listed.
  bootMs ??= Date.now() - Number.parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]!) * 1000;
  return new Date(bootMs + Number(ns / 1_000_000n));
}

/** "2026-11-24T15:02:41+0000"-like local timestamp, as bpftool prints. */
export function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+0000');
}
