/**
 * What the engine has committed, as one JSON document in the state
 * directory (state.json), written whole and renamed into place after every
 * change, so that a crash leaves either the old or the new document. The
 * kernel objects themselves are pinned in bpffs; the document says which
 * pins are live. On start the engine re-adopts exactly those and removes
 * every other pin under its root (what a crashed change left behind).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const STATE_FORMAT = 1;

/** A kernel object pinned in bpffs; the id checks that the pin still holds the object that was pinned. */
export interface PinnedRecord {
  pin: string;
  id: number;
}

export interface MapRecord extends PinnedRecord {
  /** Canonical key/value layout (map-layout.ts), compared when a new version arrives. */
  layout: string;
}

export interface ProgramRecord extends PinnedRecord {
  /** Where the program runs: xdp:IFACE, tcx-ingress:IFACE, tracepoint:GROUP/NAME, ... */
  hook: string;
  /** The program's own bpf_link (every hook but a chained XDP interface, whose link is the chain's). */
  link?: PinnedRecord;
}

export interface ModuleOptions {
  iface?: string;
  cgroup?: string;
  set?: Record<string, string | number>;
}

export interface ModuleRecord {
  name: string;
  version: number;
  /** sha256 of the object the module was loaded from. */
  hash: string;
  /** The file given to load/replace (or "inline"). */
  source: string;
  /** The object, kept in the state directory (objects/...) for chain rebuilds, `module show` and restarts. */
  object: string;
  options: ModuleOptions;
  loadedAt: string;
  replacedAt?: string;
  maps: Record<string, MapRecord>;
  programs: Record<string, ProgramRecord>;
}

export interface ChainMember {
  module: string;
  program: string;
}

/** The XDP hook of one interface, shared by the modules in `members`, in order. */
export interface ChainRecord {
  hook: string;
  iface: string;
  ifindex: number;
  members: ChainMember[];
  link: PinnedRecord;
  /** With two or more members: the dispatcher attached to the link and the prog array it calls through. */
  dispatcher?: PinnedRecord;
  progArray?: PinnedRecord;
}

export interface EngineState {
  format: typeof STATE_FORMAT;
  /** Bumped by every committed change; pins made by a change carry it in their names. */
  generation: number;
  modules: Record<string, ModuleRecord>;
  chains: Record<string, ChainRecord>;
}

export const emptyState = (): EngineState => ({ format: STATE_FORMAT, generation: 0, modules: {}, chains: {} });

export class StateError extends Error {
  override readonly name = 'StateError';
}

export function readState(file: string): EngineState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw e;
  }
  let state: EngineState;
  try {
    state = JSON.parse(text) as EngineState;
  } catch (e) {
    throw new StateError(`${file}: not JSON (${(e as Error).message}); move it away to start with no modules`);
  }
  if (state?.format !== STATE_FORMAT || typeof state.generation !== 'number' || typeof state.modules !== 'object' || typeof state.chains !== 'object') {
    throw new StateError(`${file}: not a tsbpf engine state of format ${STATE_FORMAT}`);
  }
  return state;
}

/** Writes the document durably: a temporary file, fsync, rename over the old one, fsync of the directory. */
export function writeState(file: string, state: EngineState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file), `.state.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(state, null, 1)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Every pin path the state refers to. */
export function referencedPins(state: EngineState): Set<string> {
  const out = new Set<string>();
  for (const m of Object.values(state.modules)) {
    for (const r of Object.values(m.maps)) out.add(r.pin);
    for (const p of Object.values(m.programs)) {
      out.add(p.pin);
      if (p.link) out.add(p.link.pin);
    }
  }
  for (const c of Object.values(state.chains)) {
    out.add(c.link.pin);
    if (c.dispatcher) out.add(c.dispatcher.pin);
    if (c.progArray) out.add(c.progArray.pin);
  }
  return out;
}
