/**
 * Loader parity with libbpf: one object loaded by `bpftool prog loadall`
 * (libbpf) and by `tsbpf load --pin`, then compared: program names and
 * types, the maps each program holds, every map's name, type, sizes and
 * flags, and the kernel's translated instructions as `bpftool prog dump
 * xlated` prints them (map ids, helper addresses and kernel addresses
 * normalised). Used by the bpf-tests test and by scripts/loader-parity.ts
 * over a corpus of real-world objects.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run as load } from '../../src/cli/commands/load.js';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { quietly } from './loader-helpers.js';

export interface LoadedMap {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface LoadedProgram {
  type: number;
  tag: string;
  /** Names of the maps the program holds (bound .rodata included). */
  maps: string[];
  /** `bpftool prog dump xlated` lines, normalised. */
  xlated: string[];
}

export interface Loaded {
  programs: Record<string, LoadedProgram>;
  maps: Record<string, LoadedMap>;
}

export type Side = { loaded: Loaded } | { error: string };

/**
 * Rewrites what differs between two loads of the same object: map ids
 * (by map name), helper and kfunc call offsets, kernel addresses.
 */
export function normaliseXlated(text: string, mapNames: ReadonlyMap<number, string>): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .map((l) => l
      .replace(/map\[id:(\d+)\]/g, (_, id: string) => `map[${mapNames.get(Number(id)) ?? '?'}]`)
      .replace(/#-?\d+/g, '#')
      .replace(/0xffff[0-9a-f]{12}/g, 'KADDR'));
}

/** Reads the programs pinned under DIR and the maps pinned under DIR/maps. */
export function readPinned(dir: string): Loaded {
  const out: Loaded = { programs: {}, maps: {} };
  const mapNames = new Map<number, string>();
  for (const f of existsSync(join(dir, 'maps')) ? readdirSync(join(dir, 'maps')) : []) {
    using m = BpfMap.openPinned(join(dir, 'maps', f));
    out.maps[f] = { name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags };
  }
  for (const f of readdirSync(dir)) {
    if (f === 'maps') continue;
    using p = Program.openPinned(join(dir, f));
    const info = p.info();
    const maps = info.mapIds.map((id) => {
      using m = BpfMap.fromId(id);
      mapNames.set(id, m.name);
      return m.name;
    }).sort();
    const text = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', join(dir, f)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    out.programs[f] = { type: info.type, tag: info.tag, maps, xlated: normaliseXlated(text, mapNames) };
  }
  return out;
}

const message = (e: unknown): string => {
  const err = e as { stderr?: Buffer | string; message?: string };
  const stderr = err.stderr ? String(err.stderr).trim().split('\n').slice(-3).join(' | ') : '';
  return stderr || String(err.message ?? e).split('\n')[0]!;
};

export function loadWithBpftool(object: string, dir: string): Side {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('bpftool', ['prog', 'loadall', object, dir, 'pinmaps', join(dir, 'maps')], { stdio: 'pipe' });
    return { loaded: readPinned(dir) };
  } catch (e) {
    return { error: message(e) };
  }
}

export async function loadWithTsbpf(object: string, dir: string): Promise<Side> {
  try {
    await quietly(() => load(['--pin', dir, object]));
    return { loaded: readPinned(dir) };
  } catch (e) {
    return { error: message(e) };
  }
}

/** What differs between libbpf's load and tsbpf's, one line each (empty: the same). */
export function differences(a: Loaded, b: Loaded): string[] {
  const out: string[] = [];
  const names = (o: object) => Object.keys(o).sort().join(', ');
  if (names(a.programs) !== names(b.programs)) out.push(`programs: bpftool [${names(a.programs)}], tsbpf [${names(b.programs)}]`);
  if (names(a.maps) !== names(b.maps)) out.push(`maps: bpftool [${names(a.maps)}], tsbpf [${names(b.maps)}]`);
  for (const [name, m] of Object.entries(a.maps)) {
    const n = b.maps[name];
    if (n && JSON.stringify(n) !== JSON.stringify(m)) out.push(`map ${name}: bpftool ${JSON.stringify(m)}, tsbpf ${JSON.stringify(n)}`);
  }
  for (const [name, p] of Object.entries(a.programs)) {
    const q = b.programs[name];
    if (!q) continue;
    if (p.type !== q.type) out.push(`program ${name}: type ${p.type} vs ${q.type}`);
    if (p.maps.join() !== q.maps.join()) out.push(`program ${name}: maps [${p.maps.join(', ')}] vs [${q.maps.join(', ')}]`);
    const at = p.xlated.findIndex((l, i) => l !== q.xlated[i]);
    if (at >= 0 || p.xlated.length !== q.xlated.length) {
      const i = at >= 0 ? at : Math.min(p.xlated.length, q.xlated.length);
      out.push(`program ${name}: xlated differs at line ${i} of ${p.xlated.length}/${q.xlated.length}: bpftool '${p.xlated[i] ?? ''}', tsbpf '${q.xlated[i] ?? ''}'`);
    } else if (p.tag !== q.tag) {
      out.push(`program ${name}: same xlated text, tags ${p.tag} vs ${q.tag}`);
    }
  }
  return out;
}

export type Verdict =
  | { kind: 'same'; programs: number; maps: number; instructions: number }
  | { kind: 'both refuse'; bpftool: string; tsbpf: string }
  | { kind: 'differ'; details: string[] };

/** Loads OBJECT both ways under ROOT (removed afterwards) and compares. */
export async function compareLoaders(object: string, root: string): Promise<Verdict> {
  try {
    const theirs = loadWithBpftool(object, join(root, 'bpftool'));
    const ours = await loadWithTsbpf(object, join(root, 'tsbpf'));
    if ('error' in theirs && 'error' in ours) return { kind: 'both refuse', bpftool: theirs.error, tsbpf: ours.error };
    if ('error' in theirs) return { kind: 'differ', details: [`bpftool refused (${theirs.error}) but tsbpf loaded it`] };
    if ('error' in ours) return { kind: 'differ', details: [`tsbpf refused (${ours.error}) but bpftool loaded it`] };
    const details = differences(theirs.loaded, ours.loaded);
    if (details.length) return { kind: 'differ', details };
    const progs = Object.values(theirs.loaded.programs);
    return { kind: 'same', programs: progs.length, maps: Object.keys(theirs.loaded.maps).length, instructions: progs.reduce((n, p) => n + p.xlated.filter((l) => /^\s*\d+:/.test(l)).length, 0) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
