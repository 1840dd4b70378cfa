/**
 * The engine: modules by name, each a set of maps, programs and links pinned
 * under <root>/<module>/, and the XDP chains several modules share. Every
 * change (load, replace, unload, move) runs alone and in three steps:
 *
 *   1. make:   compile or parse, load maps and programs, pin them under names
 *              carrying the change's generation; nothing running is touched;
 *   2. switch: swap programs on their hooks (BPF_LINK_UPDATE, a prog array
 *              slot, a new chain dispatcher, or attach-new for hooks that
 *              cannot swap), each with an undo;
 *   3. commit: write the state document (state.ts) naming the live pins, then
 *              unpin and close everything the old document had and the new
 *              one does not (old programs, replaced maps, old links: closing
 *              the last reference of a link detaches it).
 *
 * A failure in 1 or 2 undoes the switches and removes what 1 made: running
 * modules stay as they were. A crash anywhere is repaired on the next start
 * (adopt): links and slots are put back on the committed programs and every
 * pin the document does not name is removed.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ObjectSpec } from '../elf/object-spec.js';
import { type Collection, LoadError, loadCollection } from '../kernel/collection.js';
import { openPinnedLink } from '../kernel/link-open.js';
import { attachTcx, attachXdp, MprogFlags } from '../kernel/link-netdev.js';
import type { FdLink, Link } from '../kernel/link.js';
import { BpfMap, mapTypeName } from '../kernel/map.js';
import type { OwnedFd } from '../kernel/owned-fd.js';
import { unpin } from '../kernel/pin.js';
import { Program, progTypeName } from '../kernel/program.js';
import { enableRunStats } from '../kernel/stats.js';
import { VerifierError } from '../kernel/verifier-error.js';
import { ProgFlags } from '../kernel/index.js';
import { type HookPlan, planHook, xdpChainKey } from './hooks.js';
import { carriable, layoutDifference, mapLayout } from './map-layout.js';
import {
  arg, type ChainInfo, checkModuleName, EngineProtocolError, type ListResult, type LoadArgs, type LoadResult, type MapOutcome,
  type ModuleInfo, type ProgramOutcome,
} from './protocol.js';
import { applySettings, type CompileModule, type PreparedModule, parseSpec, prepareSource } from './source.js';
import {
  type ChainMember, type ChainRecord, type EngineState, emptyState, type ModuleRecord, type PinnedRecord, readState, referencedPins, writeState,
} from './state.js';
import { CHAIN_MAP, chainMemberSpec, dispatcherInstructions, MAX_CHAIN_LENGTH } from './xdp-chain.js';

export interface EngineOptions {
  /** Directory for the state document, stored objects and the control socket. */
  stateDir: string;
  /** bpffs directory holding the pins, <bpffs>/tsbpf. */
  pinRoot: string;
  /** Compiler for .bpf.ts modules (the CLI passes a warm, cached one). */
  compile?: CompileModule;
  /** Keep BPF_ENABLE_STATS on so programs have run counts and times (default true). */
  stats?: boolean;
  /** Progress and warnings, one line each. */
  log?: (line: string) => void;
}

/** What adopt() found on start. */
export interface AdoptReport {
  modules: string[];
  /** Pins under the root that no committed state named (a change cut short), now removed. */
  removedPins: string[];
  /** Links or chain slots put back on their committed program. */
  repaired: string[];
  problems: string[];
}

type Closable = { close(): void };

/** A module's live objects, by name. */
export interface LiveModule {
  record: ModuleRecord;
  readonly spec: ObjectSpec;
  readonly maps: Map<string, BpfMap>;
  programs: Map<string, Program>;
  links: Map<string, FdLink>;
}

interface LiveChain {
  record: ChainRecord;
  link: FdLink;
  dispatcher?: Program;
  progArray?: BpfMap;
}

const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};

/** bpffs forbids '.' in names. */
const pinName = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, '_');

const now = (): number => performance.now();

/** One change in the making: its generation, what it pinned, and how to undo its switches. */
class Change {
  readonly made = new Map<string, Closable>();
  readonly undo: Array<() => void> = [];
  constructor(readonly op: string, readonly generation: number, readonly draft: EngineState) {}

  pin<T extends Closable & { pin(path: string): void }>(object: T, path: string): T {
    mkdirSync(join(path, '..'), { recursive: true });
    try {
      object.pin(path);
    } catch (e) {
      throw new EngineProtocolError('E_LOAD', `cannot pin at ${path}: ${(e as Error).message}`);
    }
    this.made.set(path, object);
    return object;
  }
}

export class Engine {
  state: EngineState;
  readonly modules = new Map<string, LiveModule>();
  readonly chains = new Map<string, LiveChain>();
  /** Every live object by its pin path. */
  readonly #objects = new Map<string, Closable>();
  #queue: Promise<unknown> = Promise.resolve();
  #stats: OwnedFd | undefined;
  readonly #stateFile: string;
  readonly #log: (line: string) => void;

  private constructor(readonly options: EngineOptions) {
    this.#stateFile = join(options.stateDir, 'state.json');
    this.#log = options.log ?? (() => {});
    this.state = emptyState();
  }

  /** Opens the engine on its state directory and pin root, re-adopting what a previous engine left. */
  static open(options: EngineOptions): { engine: Engine; report: AdoptReport } {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(options.stateDir, 'objects'), { recursive: true, mode: 0o700 });
    mkdirSync(options.pinRoot, { recursive: true });
    const engine = new Engine(options);
    if (options.stats !== false) {
      try {
        engine.#stats = enableRunStats();
      } catch (e) {
        engine.#log(`warning: BPF_ENABLE_STATS failed (${(e as Error).message}); programs show no run counts`);
      }
    }
    const report = engine.#adopt();
    return { engine, report };
  }

  /** Runs `fn` after every change before it: one change at a time. */
  serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  // ------------------------------------------------------------------ adopt

  #adopt(): AdoptReport {
    const report: AdoptReport = { modules: [], removedPins: [], repaired: [], problems: [] };
    this.state = readState(this.#stateFile);
    for (const record of Object.values(this.state.modules)) {
      try {
        this.modules.set(record.name, this.#openModule(record));
        report.modules.push(record.name);
      } catch (e) {
        report.problems.push(`module ${record.name}: ${(e as Error).message}`);
      }
    }
    for (const [key, record] of Object.entries(this.state.chains)) {
      try {
        this.chains.set(key, this.#openChain(record));
      } catch (e) {
        report.problems.push(`chain ${record.hook}: ${(e as Error).message}`);
      }
    }
    // Put every link and slot back on its committed program (a crash between switch and commit).
    for (const mod of this.modules.values()) {
      for (const [name, link] of mod.links) {
        const prog = mod.programs.get(name);
        if (prog && this.#repairLink(link, prog)) report.repaired.push(`${mod.record.name}/${name}: link ${link.info().id} back on program ${prog.id}`);
      }
    }
    for (const chain of this.chains.values()) {
      const root = chain.dispatcher ?? this.#memberProgram(chain.record.members[0]!);
      if (root && this.#repairLink(chain.link, root)) report.repaired.push(`${chain.record.hook}: link back on program ${root.id}`);
      if (chain.progArray) {
        chain.record.members.forEach((m, i) => {
          const prog = this.#memberProgram(m);
          if (!prog) return;
          const slot = chain.progArray!.lookup(u32(i));
          const id = slot ? new DataView(slot.buffer, slot.byteOffset).getUint32(0, true) : 0;
          if (id !== prog.id) {
            chain.progArray!.update(u32(i), u32(prog.fd));
            report.repaired.push(`${chain.record.hook}: slot ${i} back on ${m.module}/${m.program}`);
          }
        });
      }
    }
    report.removedPins = this.#removeUnreferencedPins(referencedPins(this.state));
    this.#removeUnreferencedObjects();
    for (const r of report.removedPins) this.#log(`removed ${r} (left by a change that did not complete)`);
    return report;
  }

  #repairLink(link: FdLink, prog: Program): boolean {
    const info = link.info();
    if (info.progId === prog.id) return false;
    link.update(prog);
    return true;
  }

  #open<T extends Closable>(record: PinnedRecord, open: (path: string) => T & { id?: number; info?: () => { id: number } }, what: string): T {
    let obj: T & { id?: number; info?: () => { id: number } };
    try {
      obj = open(record.pin);
    } catch (e) {
      throw new Error(`${what} pinned at ${record.pin} is gone (${(e as Error).message})`);
    }
    const id = obj.id ?? obj.info?.().id;
    if (id !== record.id) {
      obj.close();
      throw new Error(`${what} at ${record.pin} is object ${id}, not the committed ${record.id}`);
    }
    this.#objects.set(record.pin, obj);
    return obj;
  }

  #openModule(record: ModuleRecord): LiveModule {
    const spec = parseSpec(new Uint8Array(readFileSync(join(this.options.stateDir, record.object))), record.source);
    applySettings(spec, record.options.set);
    const mod: LiveModule = { record, spec, maps: new Map(), programs: new Map(), links: new Map() };
    for (const [name, r] of Object.entries(record.maps)) mod.maps.set(name, this.#open(r, (p) => BpfMap.openPinned(p), `map ${name}`));
    for (const [name, r] of Object.entries(record.programs)) {
      mod.programs.set(name, this.#open(r, (p) => Program.openPinned(p), `program ${name}`));
      if (r.link) mod.links.set(name, this.#open(r.link, (p) => openPinnedLink(p), `link of ${name}`));
    }
    return mod;
  }

  #openChain(record: ChainRecord): LiveChain {
    return {
      record,
      link: this.#open(record.link, (p) => openPinnedLink(p), 'XDP link'),
      ...(record.dispatcher ? { dispatcher: this.#open(record.dispatcher, (p) => Program.openPinned(p), 'dispatcher') } : {}),
      ...(record.progArray ? { progArray: this.#open(record.progArray, (p) => BpfMap.openPinned(p), 'chain prog array') } : {}),
    };
  }

  #memberProgram(m: ChainMember | undefined): Program | undefined {
    return m ? this.modules.get(m.module)?.programs.get(m.program) : undefined;
  }

  /** Unpins everything under the root that `keep` does not name; returns the removed paths. */
  #removeUnreferencedPins(keep: Set<string>): string[] {
    const removed: string[] = [];
    const walk = (dir: string): void => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names) {
        const path = join(dir, n);
        let isDir = false;
        try {
          isDir = statSync(path).isDirectory();
        } catch {
          continue;
        }
        if (isDir) {
          walk(path);
          try {
            rmdirSync(path); // only when empty
          } catch {
            // still holds live pins
          }
        } else if (!keep.has(path)) {
          this.#release(path, this.#objects.get(path) ?? this.#openLeftover(path));
          removed.push(path);
        }
      }
    };
    walk(this.options.pinRoot);
    return removed;
  }

  /** A pinned link a crashed change left: opened so that it can be detached, not just unpinned. */
  #openLeftover(path: string): Closable | undefined {
    if (!basename(path).startsWith('link-')) return undefined;
    try {
      return openPinnedLink(path);
    } catch {
      return undefined;
    }
  }

  /** Stored objects of module versions that are gone. */
  #removeUnreferencedObjects(): void {
    const keep = new Set(Object.values(this.state.modules).map((m) => basename(m.object)));
    const dir = join(this.options.stateDir, 'objects');
    for (const f of readdirSync(dir)) if (!keep.has(f)) rmSync(join(dir, f), { force: true });
  }

  // ----------------------------------------------------------------- change

  #begin(op: string): Change {
    return new Change(op, this.state.generation + 1, structuredClone(this.state));
  }

  #commit(change: Change): void {
    change.draft.generation = change.generation;
    failpoint(`${change.op}:switch`);
    writeState(this.#stateFile, change.draft);
    failpoint(`${change.op}:commit`);
    const before = referencedPins(this.state);
    this.state = change.draft;
    for (const [path, obj] of change.made) this.#objects.set(path, obj);
    for (const m of this.modules.values()) m.record = this.state.modules[m.record.name] ?? m.record;
    const keep = referencedPins(this.state);
    // Old links first: a tracepoint's old link goes after its new one is live.
    const gone = [...before].filter((p) => !keep.has(p)).sort((a, b) => Number(basename(b).startsWith('link')) - Number(basename(a).startsWith('link')));
    for (const path of gone) this.#release(path, this.#objects.get(path));
    // Objects made by the change but not named by the new state (a collection's unused programs).
    for (const [path, obj] of change.made) if (!keep.has(path)) this.#release(path, obj);
    this.#removeUnreferencedPins(keep);
    this.#removeUnreferencedObjects();
  }

  /**
   * Drops an object and its pin. A link is detached first (BPF_LINK_DETACH,
   * where its kind has it): the kernel frees a link whose last reference was
   * a pin asynchronously, and the hook must be free when this returns.
   */
  #release(path: string, obj: Closable | undefined): void {
    unpin(path);
    this.#objects.delete(path);
    if (!obj) return;
    try {
      if ('detach' in obj && typeof obj.detach === 'function') (obj as FdLink).detach();
    } catch {
      // not detachable (perf-event links): closing the last fd detaches it
    }
    try {
      obj.close();
    } catch {
      // already closed
    }
  }

  #abort(change: Change): void {
    for (const u of change.undo.reverse()) {
      try {
        u();
      } catch (e) {
        this.#log(`warning: undo failed: ${(e as Error).message}`);
      }
    }
    for (const [path, obj] of change.made) this.#release(path, obj);
    // The live view goes back to the committed state.
    for (const name of [...this.modules.keys()]) {
      if (!this.state.modules[name]) this.modules.delete(name);
      else this.#reopen(name);
    }
    this.#removeUnreferencedPins(referencedPins(this.state));
    this.#removeUnreferencedObjects();
  }

  #path(change: Change, dir: string, kind: string, name: string): string {
    return join(this.options.pinRoot, dir, `${kind}-${pinName(name)}-g${change.generation}`);
  }

  // ------------------------------------------------------------------- load

  async load(args: LoadArgs): Promise<LoadResult> {
    const t0 = now();
    const name = checkModuleName(args.name ?? defaultName(args.file), args.name === undefined ? 'the name taken from the file (give --name)' : 'name');
    if (args.before !== undefined && args.after !== undefined) throw new EngineProtocolError('E_BAD_REQUEST', 'give at most one of before and after');
    const prepared = await prepareSource(args, this.options.compile);
    return this.serial(() => {
      if (this.modules.has(name)) throw new EngineProtocolError('E_EXISTS', `module ${name} is already loaded (replace it, or unload it first)`);
      for (const other of [args.before, args.after]) {
        if (other !== undefined && !this.modules.has(other)) throw new EngineProtocolError('E_NO_MODULE', `no module ${other} to place ${name} next to`);
      }
      const options = { ...(args.iface ? { iface: args.iface } : {}), ...(args.cgroup ? { cgroup: args.cgroup } : {}), ...(args.set ? { set: args.set } : {}) };
      applySettings(prepared.spec, args.set);
      const plans = this.#plan(prepared.spec, options);
      const t1 = now();
      const change = this.#begin('load');
      try {
        const record: ModuleRecord = {
          name, version: 1, hash: prepared.hash, source: prepared.source, object: this.#storeObject(change, name, prepared),
          options, loadedAt: new Date().toISOString(), maps: {}, programs: {},
        };
        change.draft.modules[name] = record;
        const mod = this.#make(change, record, prepared.spec, new Map());
        const t2 = now();
        const programs = this.#attachNew(change, mod, plans, [...plans.keys()], { before: args.before, after: args.after });
        const t3 = now();
        this.#commit(change);
        return {
          module: name, version: 1, hash: prepared.hash, programs,
          maps: Object.keys(record.maps).map((m) => ({ name: m, outcome: 'new' as const })),
          timings: { prepareMs: t1 - t0, loadMs: t2 - t1, swapMs: t3 - t2 },
        };
      } catch (e) {
        this.#abort(change);
        throw asProtocolError(e);
      }
    });
  }

  #plan(spec: ObjectSpec, options: ModuleRecord['options']): Map<string, HookPlan> {
    const plans = new Map<string, HookPlan>();
    for (const p of spec.programs) if (p.autoload) plans.set(p.name, planHook(p, options));
    if (plans.size === 0) throw new EngineProtocolError('E_SOURCE', 'the module has no programs to attach');
    return plans;
  }

  #storeObject(change: Change, name: string, prepared: PreparedModule): string {
    const rel = join('objects', `${name}-g${change.generation}.o`);
    writeFileSync(join(this.options.stateDir, rel), prepared.bytes, { mode: 0o600 });
    return rel;
  }

  /**
   * Step 1 for one module version: creates its maps (reusing `carry`), loads
   * every program, pins maps and programs, and makes it the live module.
   */
  #make(change: Change, record: ModuleRecord, spec: ObjectSpec, carry: Map<string, BpfMap>): LiveModule {
    let coll: Collection;
    try {
      coll = loadCollection(spec, { replaceMaps: carry });
    } catch (e) {
      throw asProtocolError(e, 'E_LOAD');
    }
    const mod: LiveModule = { record, spec, maps: new Map(), programs: new Map(), links: new Map() };
    try {
      for (const m of spec.maps) {
        const live = coll.maps.get(m.name);
        if (!live) continue;
        const old = carry.get(m.name);
        if (old) {
          live.close(); // the carried map keeps its pin and its record
          mod.maps.set(m.name, old);
          continue;
        }
        const path = this.#path(change, record.name, 'map', m.name);
        change.pin(live, path);
        record.maps[m.name] = { pin: path, id: live.id, layout: mapLayout(spec, m) };
        mod.maps.set(m.name, live);
      }
      for (const [name, prog] of coll.programs) {
        const path = this.#path(change, record.name, 'prog', name);
        change.pin(prog, path);
        mod.programs.set(name, prog);
      }
    } finally {
      coll.btf?.close();
    }
    this.modules.set(record.name, mod);
    change.undo.push(() => this.modules.delete(record.name));
    failpoint(`${change.op}:make`);
    return mod;
  }

  /** Records a program of `mod` as what runs on its hook. */
  #setProgram(change: Change, mod: LiveModule, name: string, hook: string, prog: Program, link?: { link: FdLink; pin: string }): void {
    const path = [...change.made].find(([, o]) => o === prog)?.[0] ?? this.#pinOf(prog);
    if (!path) throw new Error(`program ${name} is not pinned`);
    mod.programs.set(name, prog);
    if (link) mod.links.set(name, link.link);
    const rec = change.draft.modules[mod.record.name]!;
    const prev = rec.programs[name];
    rec.programs[name] = {
      pin: path, id: prog.id, hook,
      ...(link ? { link: { pin: link.pin, id: link.link.info().id } } : prev?.link && mod.links.has(name) ? { link: prev.link } : {}),
    };
  }

  #pinOf(obj: Closable): string | undefined {
    for (const [p, o] of this.#objects) if (o === obj) return p;
    return undefined;
  }

  /** Step 2 for programs that were not on a hook: attach them (XDP ones join their chain). */
  #attachNew(change: Change, mod: LiveModule, plans: Map<string, HookPlan>, names: string[], place: { before?: string | undefined; after?: string | undefined }): ProgramOutcome[] {
    const out: ProgramOutcome[] = [];
    const chains = new Map<string, { plan: Extract<HookPlan, { kind: 'xdp' }>; add: string[] }>();
    for (const name of names) {
      const plan = plans.get(name)!;
      const prog = mod.programs.get(name)!;
      if (plan.kind === 'xdp') {
        const c = chains.get(plan.chain) ?? { plan, add: [] };
        c.add.push(name);
        chains.set(plan.chain, c);
        continue;
      }
      let link: Link;
      let how = 'attach';
      try {
        if (plan.kind === 'tcx') {
          const rel = this.#tcxNeighbour(plan.hook, place);
          link = attachTcx(prog, plan.ifindex, plan.direction, rel ? { flags: rel.flags, relativeFd: rel.fd } : {});
          if (rel) how = `attach ${place.before !== undefined ? 'before' : 'after'} ${place.before ?? place.after}`;
        } else {
          link = plan.attach(prog);
        }
      } catch (e) {
        throw asProtocolError(e, 'E_ATTACH');
      }
      change.undo.push(() => link.close());
      const path = this.#path(change, mod.record.name, 'link', name);
      try {
        change.pin(link as FdLink, path);
      } catch (e) {
        link.close();
        throw new EngineProtocolError('E_UNSUPPORTED', `program ${name} on ${plan.hook}: the attachment cannot be pinned, so it could not outlive the engine (${(e as Error).message})`);
      }
      this.#setProgram(change, mod, name, plan.hook, prog, { link: link as FdLink, pin: path });
      out.push({ name, hook: plan.hook, id: prog.id, how });
    }
    for (const [key, { plan, add }] of chains) {
      const current = change.draft.chains[key]?.members ?? [];
      const members = [...current];
      const anchor = place.before ?? place.after;
      let at = members.length;
      if (anchor !== undefined) {
        const i = place.before !== undefined ? members.findIndex((m) => m.module === anchor) : members.map((m) => m.module).lastIndexOf(anchor) + 1;
        if (i >= 0 && !(place.after !== undefined && i === 0)) at = i;
        else throw new EngineProtocolError('E_BAD_REQUEST', `module ${anchor} has no XDP program on ${plan.iface} to place ${mod.record.name} next to`);
      }
      members.splice(at, 0, ...add.map((program) => ({ module: mod.record.name, program })));
      out.push(...this.#buildChain(change, key, plan.iface, plan.ifindex, members, mod));
    }
    return out;
  }

  #tcxNeighbour(hook: string, place: { before?: string | undefined; after?: string | undefined }): { fd: number; flags: number } | undefined {
    const other = place.before ?? place.after;
    if (other === undefined) return undefined;
    const mod = this.modules.get(other);
    const entry = mod && Object.entries(mod.record.programs).find(([, r]) => r.hook === hook);
    const link = entry && mod.links.get(entry[0]);
    if (!link) throw new EngineProtocolError('E_BAD_REQUEST', `module ${other} has no program on ${hook} to place this one next to`);
    return { fd: link.fd, flags: (place.before !== undefined ? MprogFlags.BEFORE : MprogFlags.AFTER) | MprogFlags.LINK };
  }

  /**
   * Makes an interface's XDP hook run `members` in order: none detaches it,
   * one runs that program directly, more run through a new dispatcher and
   * prog array. The interface's link moves to the new program atomically.
   */
  #buildChain(change: Change, key: string, iface: string, ifindex: number, members: ChainMember[], fresh?: LiveModule): ProgramOutcome[] {
    if (members.length > MAX_CHAIN_LENGTH) throw new EngineProtocolError('E_BAD_REQUEST', `an XDP chain holds at most ${MAX_CHAIN_LENGTH} programs`);
    const old = this.chains.get(key);
    const oldRoot = old ? old.dispatcher ?? this.#memberProgram(old.record.members[0]) : undefined;
    if (members.length === 0) {
      delete change.draft.chains[key];
      change.undo.push(() => old && this.chains.set(key, old));
      this.chains.delete(key);
      return [];
    }
    const dir = `_chain-xdp-${ifindex}`;
    const out: ProgramOutcome[] = [];
    const hook = `xdp:${iface}`;
    let root: Program;
    let dispatcher: Program | undefined;
    let progArray: BpfMap | undefined;
    const how = old ? 'chain-rebuild' : 'attach';
    if (members.length === 1) {
      const m = members[0]!;
      const mod = this.modules.get(m.module)!;
      // A program loaded by this change runs as it is; one already in a chain is loaded again unwrapped.
      root = mod === fresh && change.made.has(this.#path(change, m.module, 'prog', m.program)) ? mod.programs.get(m.program)! : this.#instance(change, mod, m.program);
      this.#setProgram(change, mod, m.program, hook, root);
      out.push({ name: m.program, hook, id: root.id, how });
    } else {
      progArray = change.pin(BpfMap.create({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: members.length, name: 'tsbpf_chain' }), join(this.options.pinRoot, dir, `array-g${change.generation}`));
      const frags = new Set(members.map((m) => Boolean(this.modules.get(m.module)!.spec.programs.find((p) => p.name === m.program)?.xdpFrags)));
      if (frags.size > 1) throw new EngineProtocolError('E_UNSUPPORTED', `one XDP chain cannot mix xdp.frags programs with plain ones (${members.map((m) => `${m.module}/${m.program}`).join(', ')})`);
      const xdpFrags = frags.has(true);
      members.forEach((m, i) => {
        const mod = this.modules.get(m.module)!;
        const inst = this.#instance(change, mod, m.program, { array: progArray!, index: i, length: members.length });
        progArray!.update(u32(i), u32(inst.fd));
        this.#setProgram(change, mod, m.program, hook, inst);
        out.push({ name: m.program, hook, id: inst.id, how: `${how} (slot ${i})` });
      });
      try {
        dispatcher = Program.load({
          type: 'XDP', expectedAttachType: 'XDP', name: 'tsbpf_dispatch', license: 'GPL', instructions: dispatcherInstructions(progArray.fd),
          ...(xdpFrags ? { flags: ProgFlags.XDP_HAS_FRAGS } : {}),
        });
      } catch (e) {
        throw asProtocolError(e, 'E_LOAD');
      }
      change.pin(dispatcher, join(this.options.pinRoot, dir, `dispatcher-g${change.generation}`));
      root = dispatcher;
    }
    let link: FdLink;
    let linkPin: string;
    if (old) {
      link = old.link;
      linkPin = old.record.link.pin;
      try {
        link.update(root);
      } catch (e) {
        throw asProtocolError(e, 'E_ATTACH');
      }
      if (oldRoot) change.undo.push(() => link.update(oldRoot));
    } else {
      try {
        link = attachXdp(root, ifindex);
      } catch (e) {
        throw asProtocolError(e, 'E_ATTACH');
      }
      change.undo.push(() => link.close());
      linkPin = join(this.options.pinRoot, dir, `link-g${change.generation}`);
      change.pin(link, linkPin);
    }
    const record: ChainRecord = {
      hook, iface, ifindex, members, link: { pin: linkPin, id: link.info().id },
      ...(dispatcher ? { dispatcher: { pin: join(this.options.pinRoot, dir, `dispatcher-g${change.generation}`), id: dispatcher.id } } : {}),
      ...(progArray ? { progArray: { pin: join(this.options.pinRoot, dir, `array-g${change.generation}`), id: progArray.id } } : {}),
    };
    change.draft.chains[key] = record;
    const live: LiveChain = { record, link, ...(dispatcher ? { dispatcher } : {}), ...(progArray ? { progArray } : {}) };
    change.undo.push(() => (old ? this.chains.set(key, old) : this.chains.delete(key)));
    this.chains.set(key, live);
    return out;
  }

  /** Loads program `name` of a module again with the module's live maps, as a chain member when `chain` is given. */
  #instance(change: Change, mod: LiveModule, name: string, chain?: { array: BpfMap; index: number; length: number }): Program {
    const spec = chain ? chainMemberSpec(mod.spec, name, chain.index, chain.length) : mod.spec;
    const replaceMaps = new Map(mod.maps);
    if (chain) replaceMaps.set(CHAIN_MAP, chain.array);
    let coll: Collection;
    try {
      coll = loadCollection(spec, { replaceMaps, autoload: Object.fromEntries(spec.programs.map((p) => [p.name, p.name === name])) });
    } catch (e) {
      throw asProtocolError(e, 'E_LOAD');
    }
    for (const m of coll.maps.values()) m.close();
    coll.btf?.close();
    const prog = coll.programs.get(name)!;
    return change.pin(prog, this.#path(change, mod.record.name, chain ? `slot${chain.index}` : 'prog', name));
  }

  // ---------------------------------------------------------------- replace

  async replace(args: { name: string; file?: string; object?: string; set?: Record<string, string | number> }): Promise<LoadResult> {
    const t0 = now();
    checkModuleName(args.name);
    const prepared = await prepareSource(args, this.options.compile);
    return this.serial(() => {
      const mod = this.modules.get(args.name);
      if (!mod) throw new EngineProtocolError('E_NO_MODULE', `no module ${args.name}`);
      const old = mod.record;
      const options = { ...old.options, ...(args.set ? { set: args.set } : {}) };
      applySettings(prepared.spec, options.set);
      const plans = this.#plan(prepared.spec, options);
      // Maps whose name, type and layout are unchanged go on; others are made new.
      const carry = new Map<string, BpfMap>();
      const maps: MapOutcome[] = [];
      for (const m of prepared.spec.maps) {
        const before = old.maps[m.name];
        const layout = mapLayout(prepared.spec, m);
        if (!before) maps.push({ name: m.name, outcome: 'new', reason: 'not in the running version' });
        else if (!carriable(m)) maps.push({ name: m.name, outcome: 'new', reason: 'read-only data is frozen with the new version\'s values' });
        else if (before.layout !== layout) maps.push({ name: m.name, outcome: 'new', reason: layoutDifference(before.layout, layout) });
        else {
          carry.set(m.name, mod.maps.get(m.name)!);
          maps.push({ name: m.name, outcome: 'carried' });
        }
      }
      const t1 = now();
      const change = this.#begin('replace');
      try {
        const record: ModuleRecord = {
          ...old, version: old.version + 1, hash: prepared.hash, source: prepared.source, object: this.#storeObject(change, old.name, prepared),
          options, replacedAt: new Date().toISOString(),
          maps: Object.fromEntries([...carry.keys()].map((n) => [n, old.maps[n]!])), programs: {},
        };
        change.draft.modules[old.name] = record;
        change.undo.push(() => this.modules.set(old.name, mod));
        const next = this.#make(change, record, prepared.spec, carry);
        const t2 = now();
        const programs: ProgramOutcome[] = [];
        const fresh: string[] = [];
        const chainsTouched = new Map<string, Extract<HookPlan, { kind: 'xdp' }>>();
        for (const [name, plan] of plans) {
          const prev = old.programs[name];
          const prog = next.programs.get(name)!;
          if (!prev || prev.hook !== plan.hook) {
            if (plan.kind === 'xdp') chainsTouched.set(plan.chain, plan);
            else fresh.push(name);
            continue;
          }
          if (plan.kind === 'xdp') {
            const chain = this.chains.get(plan.chain)!;
            const index = chain.record.members.findIndex((m) => m.module === old.name && m.program === name);
            if (chain.progArray) {
              // A chain member: a new member program at the same slot, swapped in the prog array.
              const inst = this.#instance(change, next, name, { array: chain.progArray, index, length: chain.record.members.length });
              const was = mod.programs.get(name)!;
              chain.progArray.update(u32(index), u32(inst.fd));
              change.undo.push(() => chain.progArray!.update(u32(index), u32(was.fd)));
              this.#setProgram(change, next, name, plan.hook, inst);
              programs.push({ name, hook: plan.hook, id: inst.id, how: `chain-slot ${index}` });
            } else {
              const was = mod.programs.get(name)!;
              chain.link.update(prog);
              change.undo.push(() => chain.link.update(was));
              this.#setProgram(change, next, name, plan.hook, prog);
              programs.push({ name, hook: plan.hook, id: prog.id, how: 'link-update' });
            }
            continue;
          }
          const link = mod.links.get(name)!;
          if (plan.kind === 'tcx') {
            const was = mod.programs.get(name)!;
            link.update(prog);
            change.undo.push(() => link.update(was));
            next.links.set(name, link);
            this.#setProgram(change, next, name, plan.hook, prog);
            change.draft.modules[old.name]!.programs[name]!.link = prev.link!;
            programs.push({ name, hook: plan.hook, id: prog.id, how: 'link-update' });
          } else {
            // Tracepoints and probes cannot swap: the new one is attached, the old one detached at commit.
            fresh.push(name);
          }
        }
        for (const o of this.#attachNew(change, next, plans, fresh, {})) programs.push({ ...o, how: o.how === 'attach' && old.programs[o.name] ? 'attach-new-detach-old' : o.how });
        // Chains that gain or lose programs of this module are rebuilt.
        for (const [name, prev] of Object.entries(old.programs)) {
          const plan = plans.get(name);
          if (prev.hook.startsWith('xdp:') && (!plan || plan.hook !== prev.hook)) {
            for (const [key, c] of this.chains) if (c.record.members.some((m) => m.module === old.name && m.program === name)) chainsTouched.set(key, { kind: 'xdp', hook: c.record.hook, chain: key, iface: c.record.iface, ifindex: c.record.ifindex });
          }
        }
        for (const [key, plan] of chainsTouched) {
          const members = (change.draft.chains[key]?.members ?? []).filter((m) => m.module !== old.name || plans.get(m.program)?.kind === 'xdp');
          for (const [name, p] of plans) if (p.kind === 'xdp' && p.chain === key && !members.some((m) => m.module === old.name && m.program === name)) members.push({ module: old.name, program: name });
          programs.push(...this.#buildChain(change, key, plan.iface, plan.ifindex, members, next));
        }
        const t3 = now();
        this.#commit(change);
        return { module: old.name, version: record.version, hash: prepared.hash, programs, maps, timings: { prepareMs: t1 - t0, loadMs: t2 - t1, swapMs: t3 - t2 } };
      } catch (e) {
        this.#abort(change);
        throw asProtocolError(e);
      }
    });
  }

  // ----------------------------------------------------------------- unload

  unload(name: string): Promise<{ module: string; removed: string[] }> {
    checkModuleName(name);
    return this.serial(() => {
      const mod = this.modules.get(name);
      if (!mod) throw new EngineProtocolError('E_NO_MODULE', `no module ${name}`);
      const change = this.#begin('unload');
      try {
        delete change.draft.modules[name];
        for (const [key, c] of this.chains) {
          if (!c.record.members.some((m) => m.module === name)) continue;
          this.#buildChain(change, key, c.record.iface, c.record.ifindex, c.record.members.filter((m) => m.module !== name));
        }
        const removed = [...referencedPins(this.state)].filter((p) => !referencedPins(change.draft).has(p));
        this.modules.delete(name);
        change.undo.push(() => this.modules.set(name, mod));
        this.#commit(change);
        return { module: name, removed };
      } catch (e) {
        this.#abort(change);
        throw asProtocolError(e);
      }
    });
  }

  // ------------------------------------------------------------------- move

  /** Moves a module before or after another on every hook they share (XDP chain order, tcx order). */
  move(args: { name: string; before?: string; after?: string }): Promise<{ module: string; programs: ProgramOutcome[] }> {
    checkModuleName(args.name);
    if ((args.before === undefined) === (args.after === undefined)) throw new EngineProtocolError('E_BAD_REQUEST', 'give exactly one of before and after');
    const anchor = (args.before ?? args.after)!;
    return this.serial(() => {
      const mod = this.modules.get(args.name);
      if (!mod) throw new EngineProtocolError('E_NO_MODULE', `no module ${args.name}`);
      if (!this.modules.has(anchor)) throw new EngineProtocolError('E_NO_MODULE', `no module ${anchor}`);
      if (anchor === args.name) throw new EngineProtocolError('E_BAD_REQUEST', 'a module cannot move next to itself');
      const change = this.#begin('move');
      try {
        const programs: ProgramOutcome[] = [];
        let shared = false;
        for (const [key, c] of this.chains) {
          const mine = c.record.members.filter((m) => m.module === args.name);
          if (!mine.length || !c.record.members.some((m) => m.module === anchor)) continue;
          shared = true;
          const rest = c.record.members.filter((m) => m.module !== args.name);
          const i = args.before !== undefined ? rest.findIndex((m) => m.module === anchor) : rest.map((m) => m.module).lastIndexOf(anchor) + 1;
          rest.splice(i, 0, ...mine);
          programs.push(...this.#buildChain(change, key, c.record.iface, c.record.ifindex, rest));
        }
        const plans = this.#plan(mod.spec, mod.record.options);
        const tcx = [...plans].filter(([, p]) => p.kind === 'tcx' && this.#tcxHas(anchor, p.hook));
        if (tcx.length) {
          shared = true;
          // tcx cannot move a link: a new instance is attached at the new place, then the old link is detached at commit.
          for (const [name] of tcx) {
            const inst = this.#instance(change, mod, name);
            mod.programs.set(name, inst);
          }
          programs.push(...this.#attachNew(change, mod, plans, tcx.map(([n]) => n), { before: args.before, after: args.after }).map((o) => ({ ...o, how: 'attach-new-detach-old' })));
        }
        if (!shared) throw new EngineProtocolError('E_BAD_REQUEST', `modules ${args.name} and ${anchor} share no XDP or tcx hook`);
        this.#commit(change);
        return { module: args.name, programs };
      } catch (e) {
        this.#abort(change);
        throw asProtocolError(e);
      }
    });
  }

  #tcxHas(module: string, hook: string): boolean {
    return Object.values(this.modules.get(module)?.record.programs ?? {}).some((r) => r.hook === hook);
  }

  /** Points a live module back at its committed record's programs and links (after a change that failed). */
  #reopen(name: string): void {
    const record = this.state.modules[name];
    const mod = this.modules.get(name);
    if (!record || !mod) return;
    mod.record = record;
    mod.programs = new Map();
    mod.links = new Map();
    for (const [p, r] of Object.entries(record.programs)) {
      const prog = this.#objects.get(r.pin) as Program | undefined;
      if (prog) mod.programs.set(p, prog);
      const link = r.link && (this.#objects.get(r.link.pin) as FdLink | undefined);
      if (link) mod.links.set(p, link);
    }
  }

  // ------------------------------------------------------------ list / show

  list(): ListResult {
    const modules = [...this.modules.values()].map((m) => this.#info(m));
    const chains: ChainInfo[] = [...this.chains.values()].map((c) => ({
      hook: c.record.hook, members: c.record.members.map((m) => `${m.module}/${m.program}`), mode: c.dispatcher ? 'dispatcher' : 'direct',
      linkId: c.record.link.id, ...(c.dispatcher ? { dispatcherId: c.record.dispatcher!.id } : {}), ...(c.progArray ? { progArrayId: c.record.progArray!.id } : {}),
    }));
    return { modules, chains };
  }

  module(name: string): LiveModule {
    checkModuleName(name);
    const mod = this.modules.get(name);
    if (!mod) throw new EngineProtocolError('E_NO_MODULE', `no module ${name}`);
    return mod;
  }

  #info(m: LiveModule): ModuleInfo {
    const r = m.record;
    const inDispatcher = (prog: string): boolean => [...this.chains.values()].some((c) => c.dispatcher && c.record.members.some((x) => x.module === r.name && x.program === prog));
    return {
      name: r.name, version: r.version, hash: r.hash, source: r.source, loadedAt: r.loadedAt, ...(r.replacedAt ? { replacedAt: r.replacedAt } : {}),
      programs: Object.entries(r.programs).map(([name, pr]) => {
        const info = m.programs.get(name)?.info();
        const counted = !inDispatcher(name) && this.#stats !== undefined;
        const chainLink = pr.hook.startsWith('xdp:') ? [...this.chains.values()].find((c) => c.record.members.some((x) => x.module === r.name && x.program === name))?.record.link.id : undefined;
        return {
          name, type: info ? progTypeName(info.type) : 'unknown', hook: pr.hook, id: pr.id,
          ...(pr.link ? { linkId: pr.link.id } : chainLink !== undefined ? { linkId: chainLink } : {}),
          runCount: counted && info ? info.runCount.toString() : null, runTimeNs: counted && info ? info.runTimeNs.toString() : null,
        };
      }),
      maps: Object.entries(r.maps).map(([name, mr]) => {
        const map = m.maps.get(name);
        return { name, type: map ? mapTypeName(map.type) : 'unknown', id: mr.id, keySize: map?.keySize ?? 0, valueSize: map?.valueSize ?? 0, maxEntries: map?.maxEntries ?? 0 };
      }),
    };
  }

  info(name: string): ModuleInfo {
    return this.#info(this.module(name));
  }

  /** Closes every fd; the pins keep the modules running. */
  close(): void {
    for (const o of this.#objects.values()) {
      try {
        o.close();
      } catch {
        // already closed
      }
    }
    this.#objects.clear();
    this.#stats?.close();
  }
}

/**
 * Crash injection for the tests of re-adoption: TSBPF_ENGINE_FAILPOINT=OP:STEP
 * (OP load, replace, unload or move; STEP make, switch or commit) kills the
 * engine with SIGKILL at that step, as a crash or `kill -9` would.
 */
function failpoint(name: string): void {
  if (process.env.TSBPF_ENGINE_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}

/** A module name from its file: "xdp-count.bpf.ts" → "xdp-count". */
function defaultName(file: string | undefined): string {
  if (!file) throw new EngineProtocolError('E_BAD_REQUEST', 'an inline object needs a name');
  return basename(file).split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** Errors of the layers below as protocol errors with a code saying which step failed. */
export function asProtocolError(e: unknown, fallback: 'E_LOAD' | 'E_ATTACH' | 'E_INTERNAL' = 'E_INTERNAL'): EngineProtocolError {
  if (e instanceof EngineProtocolError) return e;
  if (e instanceof VerifierError) return new EngineProtocolError('E_VERIFIER', `${e.message}\n${e.lastLines.slice(-12).join('\n')}`);
  if (e instanceof LoadError) {
    if (e.cause instanceof VerifierError) return new EngineProtocolError('E_VERIFIER', `${e.message}\n${e.cause.lastLines.slice(-12).join('\n')}`);
    return new EngineProtocolError('E_LOAD', e.message);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return new EngineProtocolError(fallback === 'E_INTERNAL' && err.name === 'LinkError' ? 'E_ATTACH' : fallback, err.message);
}

export { arg };
