/**
 * What the loader needs to know about the running kernel: its BTF (vmlinux
 * and modules, parsed once per process), its config and release, and
 * kallsyms. Each source is read lazily and only when an object needs it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { type Btf, parseBtf } from '../btf/index.js';
import { parseKernelConfig } from '../elf/kconfig.js';
import { readBtfFile } from './btf-file.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

let vmlinux: Btf | undefined;
let modules: Btf[] | undefined;
const moduleNames = new WeakMap<Btf, string>();
let config: Map<string, string> | undefined;
let kallsyms: Map<string, bigint> | undefined;

/** The running kernel's BTF. */
export function kernelBtf(): Btf {
  vmlinux ??= parseBtf(readBtfFile(VMLINUX), { section: VMLINUX });
  return vmlinux;
}

/** BTF of every loaded module that has one, split on top of vmlinux. */
export function moduleBtfs(): Btf[] {
  if (modules) return modules;
  const base = kernelBtf();
  modules = [];
  let names: string[] = [];
  try {
    names = readdirSync('/sys/kernel/btf').filter((n) => n !== 'vmlinux').sort();
  } catch {
    // No BTF directory: no modules.
  }
  for (const n of names) {
    try {
      const m = parseBtf(readBtfFile(`/sys/kernel/btf/${n}`), { base, section: `/sys/kernel/btf/${n}` });
      moduleNames.set(m, n);
      modules.push(m);
    } catch {
      // A module whose BTF we cannot read is skipped, as libbpf does.
    }
  }
  return modules;
}

/** The module a module BTF (from moduleBtfs) belongs to. */
export const moduleNameOf = (btf: Btf): string | undefined => moduleNames.get(btf);

/** The running kernel's config, from /boot/config-$(uname -r) or else /proc/config.gz, in libbpf's order. */
export function kernelConfig(): Map<string, string> {
  if (config) return config;
  let text: string | undefined;
  if (existsSync(`/boot/config-${release()}`)) text = readFileSync(`/boot/config-${release()}`, 'utf8');
  else if (existsSync('/proc/config.gz')) text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  if (text === undefined) throw new Error('kernel config not found (neither /boot/config-$(uname -r) nor /proc/config.gz)');
  config = parseKernelConfig(text);
  return config;
}

export const kernelRelease = (): string => release();

/**
 * Each line of /proc/kallsyms text: `ADDRESS TYPE NAME` and, for a module's
 * symbol, a tab and `[MODULE]`.
 */
export function forEachKallsym(text: string, each: (address: bigint, type: string, name: string, module: string | undefined) => void): void {
  for (const line of text.split('\n')) {
    const sp1 = line.indexOf(' ');
    const sp2 = line.indexOf(' ', sp1 + 1);
    if (sp1 < 0 || sp2 !== sp1 + 2) continue;
    const tab = line.indexOf('\t', sp2 + 1);
    const name = tab < 0 ? line.slice(sp2 + 1) : line.slice(sp2 + 1, tab);
    const module = tab < 0 ? undefined : line.slice(tab + 1).replace(/^\[|\]$/g, '');
    each(BigInt(`0x${line.slice(0, sp1)}`), line[sp1 + 1]!, name, module);
  }
}

/** Address of a kernel symbol from /proc/kallsyms (0 when hidden by kptr_restrict). */
export function kallsymsAddress(name: string): bigint | undefined {
  if (!kallsyms) {
    const byName = new Map<string, bigint>();
    forEachKallsym(readFileSync('/proc/kallsyms', 'utf8'), (address, _type, sym) => {
      if (!byName.has(sym)) byName.set(sym, address);
    });
    kallsyms = byName;
  }
  return kallsyms.get(name);
}
