/**
 * The pseudo filesystems the runtime needs: bpffs for pins, tracefs for
 * tracepoint ids. Each is mounted at its usual place when missing (root
 * only); otherwise the error says how to do it by hand.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mount } from '../syscall/mount.js';

export const BPFFS_PATH = '/sys/fs/bpf';
export const TRACEFS_PATH = '/sys/kernel/tracing';

/** A needed filesystem is not mounted and could not be mounted. */
export class MountError extends Error {
  override readonly name = 'MountError';
  readonly code = 'E_MOUNT';
}

interface MountEntry {
  target: string;
  fstype: string;
}

function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, target, fstype] = line.split(' ');
      return { target: (target ?? '').replace(/\\040/g, ' '), fstype: fstype ?? '' };
    });
}

/** Whether a filesystem of `fstype` is mounted at `path`. */
export function isMounted(path: string, fstype: string): boolean {
  return mounts().some((m) => m.target === path && m.fstype === fstype);
}

/** The mount point of the bpffs that contains `path`, if any. */
export function bpffsContaining(path: string): string | undefined {
  let best: string | undefined;
  for (const m of mounts()) {
    if (m.fstype !== 'bpf') continue;
    if (path === m.target || path.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`)) {
      if (!best || m.target.length > best.length) best = m.target;
    }
  }
  return best;
}

function ensure(path: string, fstype: string, source: string, howTo: string): string {
  if (isMounted(path, fstype)) return path;
  try {
    mkdirSync(path, { recursive: true });
    mount(source, path, fstype, 0, fstype === 'bpf' ? 'mode=0700' : null);
  } catch (e) {
    if (isMounted(path, fstype)) return path; // someone else mounted it meanwhile
    throw new MountError(`${fstype} is not mounted at ${path} and mounting it failed (${(e as Error).message}); mount it with: ${howTo}`);
  }
  return path;
}

/** Makes sure bpffs is mounted at /sys/fs/bpf (or `path`); returns the path. */
export function ensureBpffs(path = BPFFS_PATH): string {
  return ensure(path, 'bpf', 'bpf', `sudo mount -t bpf bpf ${path}`);
}

// Every tracepoint lookup needs the tracefs mount point: find it once, not per call.
const tracefsFound = new Map<string, string>();

/** Makes sure tracefs is available; returns its mount point. */
export function ensureTracefs(path = TRACEFS_PATH): string {
  let found = tracefsFound.get(path);
  if (found === undefined) {
    found = findOrMountTracefs(path);
    tracefsFound.set(path, found);
  }
  return found;
}

function findOrMountTracefs(path: string): string {
  if (isMounted(path, 'tracefs')) return path;
  const debugTracing = '/sys/kernel/debug/tracing';
  if (path === TRACEFS_PATH && existsSync(`${debugTracing}/events`) && isMounted(debugTracing, 'tracefs')) return debugTracing;
  return ensure(path, 'tracefs', 'tracefs', `sudo mount -t tracefs tracefs ${path}`);
}

/** The cgroup v2 mount point (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified), if any. */
export function cgroup2Path(): string | undefined {
  return mounts().find((m) => m.fstype === 'cgroup2')?.target;
}
