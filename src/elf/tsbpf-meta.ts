/**
 * The `.tsbpf` section: what tsbpf needs from an object it wrote that the
 * libbpf of every Debian release must not see. libbpf 1.1 (Debian 12) knows
 * no `tcx/ingress` section and fails `bpftool prog loadall … pinmaps DIR` on
 * a map pinned by name (its pin path differs from DIR), so the compiler
 * writes portable definitions (SEC("tc"), no `pinning` member) and records
 * here the attach point and pinning that tsbpf's loader applies. libbpf
 * skips unrecognised non-executable sections.
 *
 * Text, one entry per line:
 *   program NAME section SECTION   (the libbpf section name that describes how it attaches, e.g. tcx/egress)
 *   map NAME pinning byName
 */
import { ElfError } from './errors.js';

export const TSBPF_META_SECTION = '.tsbpf';

export interface TsbpfMeta {
  /** Program name → the section name its kind and attach type come from. */
  programSections: Map<string, string>;
  /** Maps pinned by name (under the pin root) when tsbpf loads the object. */
  pinnedByName: Set<string>;
}

export function encodeTsbpfMeta(meta: TsbpfMeta): Uint8Array {
  const lines = [
    ...[...meta.programSections].map(([name, section]) => `program ${name} section ${section}`),
    ...[...meta.pinnedByName].map((name) => `map ${name} pinning byName`),
  ];
  return new TextEncoder().encode(lines.map((l) => `${l}\n`).join(''));
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const SECTION = /^[A-Za-z0-9_./:+?-]+$/;

export function decodeTsbpfMeta(bytes: Uint8Array): TsbpfMeta {
  const meta: TsbpfMeta = { programSections: new Map(), pinnedByName: new Set() };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ElfError('E_TSBPF_META', 'the .tsbpf section is not UTF-8 text', { section: TSBPF_META_SECTION, offset: 0 });
  }
  let offset = 0;
  for (const line of text.split('\n')) {
    const at = offset;
    offset += new TextEncoder().encode(line).length + 1;
    if (line.trim() === '') continue;
    const w = line.trim().split(/\s+/);
    if (w.length === 4 && w[0] === 'program' && NAME.test(w[1]!) && w[2] === 'section' && SECTION.test(w[3]!)) meta.programSections.set(w[1]!, w[3]!);
    else if (w.length === 4 && w[0] === 'map' && NAME.test(w[1]!) && w[2] === 'pinning' && w[3] === 'byName') meta.pinnedByName.add(w[1]!);
    else throw new ElfError('E_TSBPF_META', `unrecognised .tsbpf entry '${line.slice(0, 80)}'`, { section: TSBPF_META_SECTION, offset: at });
  }
  return meta;
}
