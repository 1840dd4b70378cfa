/**
 * The mount table as /proc/self/mounts gives it, and where tracefs already
 * is. Without the syscall layer (no koffi): the compiler's start-up snapshot
 * reads tracepoint formats through it.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Where tracefs is mounted by convention (tracepoint ids, kprobe_events). */
export const TRACEFS_PATH = '/sys/kernel/tracing';

interface MountEntry {
  target: string;
  fstype: string;
}

export function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, target, fstype] = line.split(' ');
      return { target: (target ?? '').replace(/\\040/g, ' '), fstype: fstype ?? '' };
    });
}

/**
 * Whether a filesystem of `fstype` is mounted at `path`.
 * @example
 * isMounted('/sys/fs/bpf', 'bpf');   // true once bpffs is mounted there
 */
export function isMounted(path: string, fstype: string): boolean {
  return mounts().some((m) => m.target === path && m.fstype === fstype);
}

/**
 * Where tracefs is mounted now (at `path`, or debugfs's copy for the
 * conventional path), without mounting it; undefined when it is not.
 * @example
 * findTracefs();   // '/sys/kernel/tracing', or undefined before anyone mounted it
 */
export function findTracefs(path = TRACEFS_PATH): string | undefined {
  const table = mounts(); // read once for both places
  const at = (target: string) => table.some((m) => m.target === target && m.fstype === 'tracefs');
  if (at(path)) return path;
  const debugTracing = '/sys/kernel/debug/tracing';
  if (path === TRACEFS_PATH && existsSync(`${debugTracing}/events`) && at(debugTracing)) return debugTracing;
  return undefined;
}
