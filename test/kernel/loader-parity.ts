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
  /** Maps pinned under DIR/maps, by pin name. */
  maps: Record<string, LoadedMap>;
  /** Every map some program holds, by kernel name (maps pinned elsewhere, by name, included). */
  held: Record<string, LoadedMap>;
}

/** A load, or why it failed and what libbpf blamed (`prog 'x'`, `map 'y'`). */
export type Side = { loaded: Loaded } | { error: string; culprit?: string };

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
  const out: Loaded = { programs: {}, maps: {}, held: {} };
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
      out.held[m.name] = { name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags };
      return m.name;
    }).sort();
    const text = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', join(dir, f)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    out.programs[f] = { type: info.type, tag: info.tag, maps, xlated: normaliseXlated(text, mapNames) };
  }
  return out;
}

/** bpftool's libbpf lines that say what failed (not its strict-mode banner), or the error's whole message. */
const message = (e: unknown): string => {
  const err = e as { stderr?: Buffer | string; message?: string };
  const lines = err.stderr ? String(err.stderr).trim().split('\n').filter((l) => /^libbpf: .*(fail|error|invalid)/i.test(l)) : [];
  return lines.length ? lines.slice(0, 3).join(' | ') : String(err.message ?? e).replace(/\s*\n\s*/g, ' | ');
};

/** `pinMaps: false` for objects with maps pinned by name: libbpf will not pin those a second time under `pinmaps`. */
export function loadWithBpftool(object: string, dir: string, pinMaps = true): Side {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('bpftool', ['prog', 'loadall', object, dir, ...(pinMaps ? ['pinmaps', join(dir, 'maps')] : [])], { stdio: 'pipe' });
    return { loaded: readPinned(dir) };
  } catch (e) {
    const culprit = /libbpf: (prog|map) '([^']+)'/.exec(String((e as { stderr?: unknown }).stderr ?? ''));
    return { error: message(e), culprit: culprit ? `${culprit[1]} '${culprit[2]}'` : undefined };
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

/** What differs between libbpf's load and tsbpf's, one line each (empty: the same). `pinnedMaps: false`: compare only the maps programs hold. */
export function differences(a: Loaded, b: Loaded, pinnedMaps = true): string[] {
  const out: string[] = [];
  const names = (o: object) => Object.keys(o).sort().join(', ');
  if (names(a.programs) !== names(b.programs)) out.push(`programs: bpftool [${names(a.programs)}], tsbpf [${names(b.programs)}]`);
  if (pinnedMaps && names(a.maps) !== names(b.maps)) out.push(`maps: bpftool [${names(a.maps)}], tsbpf [${names(b.maps)}]`);
  for (const [name, m] of Object.entries(a.maps)) {
    const n = b.maps[name];
    if (n && JSON.stringify(n) !== JSON.stringify(m)) out.push(`map ${name}: bpftool ${JSON.stringify(m)}, tsbpf ${JSON.stringify(n)}`);
  }
  for (const [name, m] of Object.entries(a.held)) {
    const n = b.held[name];
    if (!n) out.push(`held map ${name}: no program holds it under tsbpf`);
    else if (JSON.stringify(n) !== JSON.stringify(m)) out.push(`held map ${name}: bpftool ${JSON.stringify(m)}, tsbpf ${JSON.stringify(n)}`);
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
  /** `culprit`: what libbpf blamed, and whether tsbpf's error names it too. */
  | { kind: 'both refuse'; bpftool: string; tsbpf: string; culprit?: string; sameCulprit?: boolean }
  | { kind: 'differ'; details: string[] };

/**
 * Loads OBJECT both ways under ROOT (removed afterwards) and compares.
 * `afterEach` runs after each loader (e.g. to remove maps it pinned by name).
 */
export async function compareLoaders(object: string, root: string, afterEach?: () => void): Promise<Verdict> {
  // With maps pinned by name (afterEach removes them) bpftool cannot pinmaps: the maps programs hold are compared.
  const pinMaps = afterEach === undefined;
  afterEach ??= () => {};
  try {
    const theirs = loadWithBpftool(object, join(root, 'bpftool'), pinMaps);
    afterEach();
    const ours = await loadWithTsbpf(object, join(root, 'tsbpf'));
    afterEach();
    if ('error' in theirs && 'error' in ours) {
      const name = theirs.culprit?.replace(/^\w+ /, '').replace(/'/g, '');
      return { kind: 'both refuse', bpftool: theirs.error, tsbpf: ours.error, culprit: theirs.culprit, sameCulprit: name ? ours.error.includes(name.slice(0, 15)) : undefined }; // the kernel's names are 15 characters
    }
    if ('error' in theirs) return { kind: 'differ', details: [`bpftool refused (${theirs.error}) but tsbpf loaded it`] };
    if ('error' in ours) return { kind: 'differ', details: [`tsbpf refused (${ours.error}) but bpftool loaded it`] };
    const details = differences(theirs.loaded, ours.loaded, pinMaps);
    if (details.length) return { kind: 'differ', details };
    const progs = Object.values(theirs.loaded.programs);
    return { kind: 'same', programs: progs.length, maps: Object.keys(theirs.loaded.held).length, instructions: progs.reduce((n, p) => n + p.xlated.filter((l) => /^\s*\d+:/.test(l)).length, 0) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
