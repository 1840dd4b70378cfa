/**
 * .kconfig values: parsing a kernel config (`CONFIG_X=y` lines, as in
 * /proc/config.gz) and writing each extern's value into the .kconfig map
 * the way libbpf does. Pure: the loader supplies the config text and the
 * kernel release.
 */
import { ElfError } from './errors.js';
import type { ExternSpec, ObjectSpec } from './object-spec.js';

/** CONFIG_* name → raw value text (`y`, `m`, `"str"`, `250`, `0x10`). "is not set" lines are left out. */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** KERNEL_VERSION(a, b, c) of a release string like "6.18.44-foo" (c clamped to 255, as the kernel does). */
export function kernelVersionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(255, Number(m[3] ?? 0));
}

export interface KconfigSources {
  config: Map<string, string>;
  /** `uname -r`. */
  release: string;
  /** Values of libbpf's LINUX_HAS_* pseudo options. */
  features?: Record<string, boolean>;
}

/** Writes every kconfig extern's value into `data` (the .kconfig map value). */
export function fillKconfig(spec: ObjectSpec, data: Uint8Array, sources: KconfigSources): void {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const ext of spec.externs) {
    if (ext.kind !== 'kconfig' || !ext.kconfig) continue;
    if (ext.name === 'LINUX_KERNEL_VERSION') {
      writeInt(view, ext, BigInt(kernelVersionCode(sources.release)));
      continue;
    }
    if (ext.name.startsWith('LINUX_HAS_')) {
      const v = sources.features?.[ext.name];
      if (v === undefined) {
        if (!ext.weak) throw new ElfError('E_KCONFIG', `unknown libbpf pseudo option ${ext.name}`, { section: '.kconfig' });
        continue;
      }
      writeInt(view, ext, v ? 1n : 0n);
      continue;
    }
    const raw = sources.config.get(ext.name);
    if (raw === undefined) {
      if (!ext.weak) throw new ElfError('E_KCONFIG', `${ext.name} is not set in the kernel config and the extern is not __weak`, { section: '.kconfig' });
      continue; // weak and missing: stays zero
    }
    writeValue(view, ext, raw);
  }
}

function writeValue(view: DataView, ext: ExternSpec, raw: string): void {
  const k = ext.kconfig!;
  const fail = (why: string): never => {
    throw new ElfError('E_KCONFIG', `${ext.name}=${raw}: ${why}`, { section: '.kconfig', offset: k.offset });
  };
  const tristate = raw === 'y' ? 1 : raw === 'm' ? 2 : raw === 'n' ? 0 : undefined;
  switch (k.valueType) {
    case 'bool':
      if (tristate === undefined || tristate === 2) fail('not a boolean');
      view.setUint8(k.offset, tristate!);
      return;
    case 'tristate':
      if (tristate === undefined) fail('not a tristate');
      view.setUint32(k.offset, tristate!, true);
      return;
    case 'char':
      if (tristate !== undefined) view.setUint8(k.offset, raw.charCodeAt(0));
      else fail('not a single character');
      return;
    case 'char_array': {
      if (!raw.startsWith('"') || !raw.endsWith('"')) fail('not a string');
      const bytes = new TextEncoder().encode(raw.slice(1, -1));
      const n = Math.min(bytes.length, k.size - 1);
      for (let i = 0; i < n; i++) view.setUint8(k.offset + i, bytes[i]!);
      return;
    }
    case 'int': {
      if (tristate !== undefined) {
        if (tristate === 2) fail('is a module, not a number');
        writeInt(view, ext, BigInt(tristate));
        return;
      }
      let v: bigint;
      try {
        v = BigInt(raw.trim());
      } catch {
        return fail('not a number');
      }
      const bits = BigInt(k.size * 8);
      const fits = k.signed ? v >= -(1n << (bits - 1n)) && v < 1n << (bits - 1n) : v >= 0n && v < 1n << bits;
      if (!fits) fail(`does not fit in ${k.size} bytes`);
      writeInt(view, ext, v);
    }
  }
}

function writeInt(view: DataView, ext: ExternSpec, v: bigint): void {
  const k = ext.kconfig!;
  const u = BigInt.asUintN(k.size * 8, v);
  for (let i = 0; i < k.size; i++) view.setUint8(k.offset + i, Number((u >> BigInt(8 * i)) & 0xffn));
}
