/**
 * The kernel cache: one folder per kernel name holding the downloaded .deb,
 * its unpacked tree and a kernel.json that says what is where. A kernel that
 * is already cached is used without touching the network.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { downloadPackage, resolveImagePackage } from './apt.js';
import { VmError } from './errors.js';
import type { KernelSpec } from './kernels.js';
import { kernelDir, writeFileAtomic } from './paths.js';
import { requireTool, runVisible } from './process.js';

export interface CachedKernel {
  name: string;
  packageName: string;
  packageVersion: string;
  /** `uname -r` inside the guest. */
  release: string;
  vmlinuz: string;
  /** The unpacked /lib/modules/<release> folder. */
  modulesDir: string;
  config: string;
}

const manifestPath = (name: string): string => join(kernelDir(name), 'kernel.json');

/** The cached kernel, or null when it has not been fetched (or its files went missing). */
export function cachedKernel(name: string): CachedKernel | null {
  const path = manifestPath(name);
  if (!existsSync(path)) return null;
  try {
    const k = JSON.parse(readFileSync(path, 'utf8')) as CachedKernel;
    return existsSync(k.vmlinuz) && existsSync(k.modulesDir) ? k : null;
  } catch {
    return null;
  }
}

/** Finds vmlinuz, config and the modules folder in an unpacked linux-image package. */
export function locateKernelFiles(root: string): { release: string; vmlinuz: string; config: string; modulesDir: string } {
  const bootDir = join(root, 'boot');
  const vmlinuz = existsSync(bootDir) ? readdirSync(bootDir).find((f) => f.startsWith('vmlinuz-')) : undefined;
  if (vmlinuz === undefined) throw new VmError('BAD_PACKAGE', `no boot/vmlinuz-* in the unpacked package at ${root}`);
  const release = vmlinuz.slice('vmlinuz-'.length);
  const modulesDir = [join(root, 'lib/modules', release), join(root, 'usr/lib/modules', release)].find((d) => existsSync(d));
  if (modulesDir === undefined) throw new VmError('BAD_PACKAGE', `no lib/modules/${release} in the unpacked package at ${root}`);
  return { release, vmlinuz: join(bootDir, vmlinuz), config: join(bootDir, `config-${release}`), modulesDir };
}

/**
 * Makes sure a kernel is downloaded and unpacked; returns where its files are.
 * The work happens in a folder of this process and is renamed into place, so
 * two runs fetching the same kernel at once do not trip over each other.
 */
export async function ensureKernel(spec: KernelSpec): Promise<CachedKernel> {
  const have = cachedKernel(spec.name);
  if (have) return have;
  const dpkgDeb = requireTool('dpkg-deb', 'dpkg');
  const dir = kernelDir(spec.name);
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  const pkg = await resolveImagePackage(spec);
  try {
    const debDir = join(work, 'deb');
    await downloadPackage(pkg.aptDir, pkg.name, pkg.version, debDir);
    const deb = readdirSync(debDir).find((f) => f.endsWith('.deb'));
    if (deb === undefined) throw new VmError('FETCH_FAILED', `apt-get download left no .deb for ${pkg.name} in ${debDir}`);
    const root = join(work, 'root');
    mkdirSync(root, { recursive: true });
    process.stderr.write(`vm: unpacking ${deb}\n`);
    const status = await runVisible(dpkgDeb, ['-x', join(debDir, deb), root]);
    if (status !== 0) throw new VmError('BAD_PACKAGE', `dpkg-deb -x ${deb} exited ${status}`);
    locateKernelFiles(root); // a package without a kernel fails here, before it replaces anything
    const raced = cachedKernel(spec.name);
    if (raced) return raced;
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(pkg.aptDir, { recursive: true, force: true });
  }
  const kernel: CachedKernel = { name: spec.name, packageName: pkg.name, packageVersion: pkg.version, ...locateKernelFiles(join(dir, 'root')) };
  writeFileAtomic(manifestPath(spec.name), `${JSON.stringify(kernel, null, 2)}\n`);
  return kernel;
}
