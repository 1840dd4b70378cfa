/**
 * Which files of the user's cache directory may be trusted. The build cache's
 * key is computable by anyone, and `sudo -E` keeps a user's HOME or
 * TSBPF_CACHE_DIR, so root may be pointed at a place another user can write:
 * a directory is made 0700 and used only when it is the current user's, a
 * file only when it is the current user's and no one else can write it.
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';

/** Why a file or directory of the cache must not be trusted, or null when it may be. */
export function untrusted(st: { uid: number; mode: number }, what: string): string | null {
  const uid = process.getuid?.() ?? st.uid;
  if (st.uid !== uid) return `${what} is owned by uid ${st.uid}, not by the current user (uid ${uid})`;
  if (st.mode & 0o022) return `${what} is writable by ${st.mode & 0o020 ? 'group' : 'others'} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
  return null;
}

/**
 * Makes the cache directory (0700) or checks the existing one; returns why it
 * cannot be used, or null. A directory of ours that is merely too open is tightened.
 */
export function prepareCacheDir(dir: string): string | null {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `cache directory ${dir} is not a directory`;
  const uid = process.getuid?.() ?? st.uid;
  if (st.uid !== uid) return `cache directory ${dir} is owned by uid ${st.uid}, not by the current user (uid ${uid})`;
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return null;
}
