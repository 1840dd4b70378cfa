/**
 * Where the dev VMs keep things: everything downloaded or built lives under
 * the cache folder (git-ignored), which TSBPF_VM_CACHE can move (tests do).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const vmImagesDir = dirname(fileURLToPath(import.meta.url));
export const projectDir = resolve(vmImagesDir, '..');
export const guestDir = join(vmImagesDir, 'guest');

export const cacheDir = (): string => resolve(process.env.TSBPF_VM_CACHE ?? join(vmImagesDir, 'cache'));
export const kernelDir = (name: string): string => join(cacheDir(), 'kernels', name);
/** Per process: two fetches at once never share apt's (unlocked) state. */
export const aptDir = (name: string): string => join(cacheDir(), 'apt', `${name}-${process.pid}`);
export const imageDir = (): string => join(cacheDir(), 'image');
export const runsDir = (): string => join(cacheDir(), 'runs');

/** Writes through a temporary name and a rename, so a concurrent run never reads half a file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
