/**
 * The pseudo filesystems the runtime needs: bpffs for pins, tracefs for
 * tracepoint ids. Each is mounted at its usual place when missing (root
 * only); otherwise the error says how to do it by hand.
 *
 * Directories are never made with a recursive mkdir here: on Node 20 it
 * loops forever when sysfs answers ENOENT (as /sys/fs/bpf does without a
 * bpffs mounted), and pins must not create directories outside bpffs.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { mount } from '../syscall/mount.js';
import { findTracefs, isMounted, mounts, TRACEFS_PATH } from './mount-table.js';

export { isMounted, TRACEFS_PATH };

/** Where bpffs is mounted by convention (pins live under it). */
export const BPFFS_PATH = '/sys/fs/bpf';

/**
 * A needed filesystem is not mounted and could not be mounted.
 * @example
 * try { ensureBpffs(); } catch (e) { if (e instanceof MountError) console.error(e.message); }   // e.g. not root
 */
export class MountError extends Error {
  override readonly name = 'MountError';
  readonly code = 'E_MOUNT';
}

/**
 * The mount point of the bpffs that contains `path`, if any.
 * @example
 * bpffsContaining('/sys/fs/bpf/a/b');   // '/sys/fs/bpf'
 * bpffsContaining('/tmp/x');            // undefined
 */
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
    // The mount point is a directory sysfs provides (or one level we may make); never a recursive mkdir.
    if (!isDirectory(path)) mkdirSync(path);
    mount(source, path, fstype, 0, fstype === 'bpf' ? 'mode=0700' : null);
  } catch (e) {
    if (isMounted(path, fstype)) return path; // someone else mounted it meanwhile
    throw new MountError(`${fstype} is not mounted at ${path} and mounting it failed (${(e as Error).message}); mount it with: ${howTo}`);
  }
  return path;
}

const isDirectory = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;

/**
 * A pin path that cannot be inside a bpffs.
 * @example
 * preparePinDir('/tmp/not-bpffs/x');   // PinPathError: not inside a bpffs (and no directory is made)
 */
export class PinPathError extends Error {
  override readonly name = 'PinPathError';
  readonly code = 'E_PIN_PATH';
}

/**
 * Makes `dir` a directory inside a mounted bpffs, as bpftool does before
 * pinning: under /sys/fs/bpf, bpffs is mounted there when missing; an
 * existing empty directory elsewhere gets a bpffs mounted on it; any other
 * path outside bpffs is a PinPathError (no directory is made outside
 * bpffs). Missing directories below the bpffs mount are made one level at
 * a time. Returns the directories it made, outermost first (for rollback).
 * @example
 * const made = preparePinDir('/sys/fs/bpf/mytool/maps');   // directories made, outermost first
 * for (const d of made.reverse()) rmdirSync(d);             // undo
 */
export function preparePinDir(dir: string): string[] {
  const path = resolve(dir);
  let root = bpffsContaining(path);
  if (root === undefined) {
    if (path === BPFFS_PATH || path.startsWith(`${BPFFS_PATH}/`)) {
      root = ensureBpffs();
    } else if (isDirectory(path) && readdirSync(path).length === 0) {
      root = ensure(path, 'bpf', 'bpf', `sudo mount -t bpf bpf ${path}`);
    } else {
      const why = isDirectory(path) ? 'is a directory with files in it, outside any bpffs' : 'does not exist and is not inside a bpffs';
      throw new PinPathError(`${dir} ${why}: pins live only in a bpffs; pin under ${BPFFS_PATH}, or give an empty directory (tsbpf mounts a bpffs on it), or mount one: sudo mount -t bpf bpf DIR`);
    }
  }
  const created: string[] = [];
  let at = root;
  for (const part of relative(root, path).split('/').filter(Boolean)) {
    at = join(at, part);
    if (isDirectory(at)) continue;
    mkdirSync(at); // EEXIST (a pinned object has this name) and the like surface as they are
    created.push(at);
  }
  return created;
}

/**
 * Makes sure bpffs is mounted at /sys/fs/bpf (or `path`); returns the path.
 * @example
 * const root = ensureBpffs();   // '/sys/fs/bpf', mounted first when it was not
 * map.pin(`${root}/counts`);
 */
export function ensureBpffs(path = BPFFS_PATH): string {
  return ensure(path, 'bpf', 'bpf', `sudo mount -t bpf bpf ${path}`);
}

// Every tracepoint lookup needs the tracefs mount point: find it once, not per call.
const tracefsFound = new Map<string, string>();

/**
 * Makes sure tracefs is available; returns its mount point.
 * @example
 * const tracing = ensureTracefs();   // '/sys/kernel/tracing' (or debugfs's copy)
 * readFileSync(`${tracing}/events/syscalls/sys_enter_openat/id`, 'utf8');
 */
export function ensureTracefs(path = TRACEFS_PATH): string {
  let found = tracefsFound.get(path);
  if (found === undefined) {
    found = findOrMountTracefs(path);
    tracefsFound.set(path, found);
  }
  return found;
}

function findOrMountTracefs(path: string): string {
  return findTracefs(path) ?? ensure(path, 'tracefs', 'tracefs', `sudo mount -t tracefs tracefs ${path}`);
}

/**
 * The cgroup v2 mount point (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified), if any.
 * @example
 * const root = cgroup2Path();   // '/sys/fs/cgroup' on most systems
 * if (root) attachCgroup(prog, `${root}/my.slice`, 'egress');
 */
export function cgroup2Path(): string | undefined {
  return mounts().find((m) => m.fstype === 'cgroup2')?.target;
}
