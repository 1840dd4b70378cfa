/**
 * Pinning a whole collection the way `bpftool prog loadall OBJ DIR pinmaps
 * DIR/maps` does: programs as DIR/<program name>, maps as DIR/maps/<map
 * name> (libbpf's map names, with '.' replaced since bpffs forbids it).
 * All or nothing, as libbpf: when one pin fails, the pins and directories
 * this call made are removed again.
 */
import { rmdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MapSpec } from '../elf/object-spec.js';
import type { Collection } from './collection.js';
import { preparePinDir } from './fs-mounts.js';
import { unpin } from './pin.js';

/**
 * The file name libbpf pins a map under.
 * @example
 * mapPinName(spec.maps[0]!);   // 'counts'; a data section's map name gets '_' for each '.' (bpffs forbids dots)
 */
export const mapPinName = (m: MapSpec): string => (m.kind === 'user' ? m.name : m.kernelName).replace(/\./g, '_');
export const programPinName = (name: string): string => name.replace(/\./g, '_');

export interface PinnedPaths {
  programs: Record<string, string>;
  maps: Record<string, string>;
}

/**
 * Pins every program of a collection under `dir` and every map under `mapsDir`, as `bpftool prog loadall OBJ DIR pinmaps DIR/maps` does; all or nothing.
 * @example
 * using c = loadObjectFile('counter.bpf.o');
 * const paths = pinCollection(c, '/sys/fs/bpf/counter');   // paths.maps.counts: '/sys/fs/bpf/counter/maps/counts'
 */
export function pinCollection(c: Collection, dir: string, mapsDir = join(dir, 'maps')): PinnedPaths {
  const made: string[] = [];
  const pinned: string[] = [];
  try {
    made.push(...preparePinDir(dir));
    made.push(...preparePinDir(mapsDir));
    const out: PinnedPaths = { programs: {}, maps: {} };
    for (const [name, p] of c.programs) {
      const path = join(dir, programPinName(name));
      p.pin(path);
      pinned.push(path);
      out.programs[name] = path;
    }
    for (const m of c.spec.maps) {
      const path = join(mapsDir, mapPinName(m));
      c.map(m.name).pin(path);
      pinned.push(path);
      out.maps[m.name] = path;
    }
    return out;
  } catch (e) {
    rollBackPins(pinned, made);
    throw e;
  }
}

/** Removes `pins`, then the (by then empty) directories in `made`, innermost first. */
export function rollBackPins(pins: readonly string[], made: readonly string[]): void {
  for (const path of [...pins].reverse()) unpin(path);
  for (const d of [...made].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Someone else put something there meanwhile: theirs to keep.
    }
  }
}
