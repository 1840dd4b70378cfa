/**
 * Where the dev VMs keep things: everything downloaded or built lives under
 * the cache folder (git-ignored), which TSBPF_VM_CACHE can move (tests do).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const vmImagesDir = dirname(fileURLToPath(import.meta.url));
export const projectDir = resolve(vmImagesDir, '..');
export const guestDir = join(vmImagesDir, 'guest');

export const cacheDir = (): string => resolve(process.env.TSBPF_VM_CACHE ?? join(vmImagesDir, 'cache'));
export const kernelDir = (name: string): string => join(cacheDir(), 'kernels', name);
export const aptDir = (name: string): string => join(cacheDir(), 'apt', name);
export const imageDir = (): string => join(cacheDir(), 'image');
export const runsDir = (): string => join(cacheDir(), 'runs');
