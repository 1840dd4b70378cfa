/**
 * The kernels the dev VMs can boot: Debian's cloud-amd64 flavour (boots in
 * seconds under software emulation). To add one, add a row: the suites its
 * package comes from and the meta-package that depends on the newest image.
 */
import { VmError } from './errors.js';

export interface KernelSpec {
  /** The name users type: `make vm-run KERNEL=6.1`. */
  name: string;
  /** Debian suites searched, with a private apt configuration, for the package. */
  suites: string[];
  /** A meta-package whose Depends names the real linux-image package. */
  metaPackage: string;
}

const DEBIAN = 'http://deb.debian.org/debian';
const SECURITY = 'http://deb.debian.org/debian-security';

export const archives: Record<string, string> = {
  bullseye: DEBIAN,
  'bullseye-updates': DEBIAN,
  'bullseye-security': SECURITY,
  bookworm: DEBIAN,
  'bookworm-updates': DEBIAN,
  'bookworm-backports': DEBIAN,
  'bookworm-security': SECURITY,
  trixie: DEBIAN,
  'trixie-updates': DEBIAN,
  'trixie-security': SECURITY,
  'trixie-backports': DEBIAN,
};

export const kernels: readonly KernelSpec[] = [
  { name: '5.10', suites: ['bullseye', 'bullseye-security'], metaPackage: 'linux-image-cloud-amd64' },
  { name: '6.1', suites: ['bookworm', 'bookworm-security'], metaPackage: 'linux-image-cloud-amd64' },
  { name: '6.12', suites: ['trixie', 'trixie-security'], metaPackage: 'linux-image-cloud-amd64' },
];

export const kernelNames = (): string[] => kernels.map((k) => k.name);

/** One kernel by name; an unknown name lists the known ones. */
export function findKernel(name: string): KernelSpec {
  const k = kernels.find((s) => s.name === name);
  if (!k) {
    throw new VmError(
      'UNKNOWN_KERNEL',
      `unknown kernel '${name}': known kernels are ${kernelNames().join(', ')} (add one in vm-images/kernels.ts)`,
      2,
    );
  }
  return k;
}

/** "6.1,6.12", "all" or "" (all) → the specs, in table order, without duplicates. */
export function selectKernels(list: string | undefined): KernelSpec[] {
  const text = (list ?? '').trim();
  if (text === '' || text === 'all') return [...kernels];
  const names = text.split(/[\s,]+/).filter((n) => n !== '');
  const picked = new Set(names.map((n) => findKernel(n)));
  return kernels.filter((k) => picked.has(k));
}
