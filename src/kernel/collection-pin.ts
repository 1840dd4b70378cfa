/**
 * Pinning a whole collection the way `bpftool prog loadall OBJ DIR pinmaps
 * DIR/maps` does: programs as DIR/<program name>, maps as DIR/maps/<map
 * name> (libbpf's map names, with '.' replaced since bpffs forbids it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MapSpec } from '../elf/object-spec.js';
import type { Collection } from './collection.js';

/** The file name libbpf pins a map under. */
export const mapPinName = (m: MapSpec): string => (m.kind === 'user' ? m.name : m.kernelName).replace(/\./g, '_');
export const programPinName = (name: string): string => name.replace(/\./g, '_');

export interface PinnedPaths {
  programs: Record<string, string>;
  maps: Record<string, string>;
}

export function pinCollection(c: Collection, dir: string, mapsDir = join(dir, 'maps')): PinnedPaths {
  mkdirSync(dir, { recursive: true });
  mkdirSync(mapsDir, { recursive: true });
  const out: PinnedPaths = { programs: {}, maps: {} };
  for (const [name, p] of c.programs) {
    const path = join(dir, programPinName(name));
    p.pin(path);
    out.programs[name] = path;
  }
  for (const m of c.spec.maps) {
    const path = join(mapsDir, mapPinName(m));
    c.map(m.name).pin(path);
    out.maps[m.name] = path;
  }
  return out;
}
