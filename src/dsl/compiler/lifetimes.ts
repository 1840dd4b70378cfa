/**
 * Lifetimes of references (docs/language.md, Lifetimes): a header ends at a
 * helper that moves the packet, a hash-map value at a delete or update that
 * may free it, an event at its submit or discard. The lowering marks where
 * each reference is made, used and released (marker labels in the IR); a
 * forward dataflow over the IR then finds uses a release may reach, on any
 * path, and reports each at the use with the line of the release.
 */
import type { Node } from 'ts-morph';
import { lineAndColumn } from './context.js';
import type { IrFunction, SpannedOp } from './ir.js';
import type { MapInfo } from './module-model.js';
import { successors } from './passes.js';

/** What a reference names. `key` is the lookup's key when it is a constant. */
export type Origin = { kind: 'header' } | { kind: 'event' } | { kind: 'value'; map: MapInfo; key: bigint | undefined };

/** What a call releases: every header, some events, or the values of a map whose key may be `key` ('any': all of them). */
export type Release =
  | { kind: 'headers' }
  | { kind: 'events'; ids: readonly number[] }
  | { kind: 'values'; map: MapInfo; key: bigint | 'any' | undefined };

type Mark =
  | { k: 'acquire'; id: number }
  | { k: 'use'; ids: readonly number[]; node: Node }
  | { k: 'release'; release: Release; why: string };

const PREFIX = '@life';

export interface UseAfterRelease {
  node: Node;
  message: string;
}

/** The references of one program and where they are made, used and released. */
export class Lifetimes {
  readonly #origins: Origin[] = [];
  readonly #marks = new Map<string, Mark>();

  constructor(private readonly emitLabel: (label: string) => void) {}

  /** A new reference made here (again, when the code runs in a loop). */
  acquire(origin: Origin): number {
    const id = this.#origins.push(origin) - 1;
    this.#mark({ k: 'acquire', id });
    return id;
  }

  use(ids: readonly number[] | undefined, node: Node): void {
    if (ids && ids.length > 0) this.#mark({ k: 'use', ids, node });
  }

  /** The origins of references (to acquire them again in a subprogram they are passed to). */
  originsOf(ids: readonly number[]): Origin[] {
    return ids.map((id) => this.#origins[id]!);
  }

  /** Every release marked so far (what a subprogram's caller must also release after calling it). */
  readonly releases: Release[] = [];

  /** `call` releases what `release` says; `what` names the call in messages (`events.submit()`). */
  release(release: Release, what: string, call: Node): void {
    if (release.kind === 'events' && release.ids.length === 0) return;
    this.releases.push(release);
    const { line } = lineAndColumn(call.getSourceFile(), call.getStart());
    this.#mark({ k: 'release', release, why: `${what} on line ${line}` });
  }

  #mark(m: Mark): void {
    const label = `${PREFIX}${this.#marks.size}`;
    this.#marks.set(label, m);
    this.emitLabel(label);
  }

  #releases(r: Release, id: number): boolean {
    const o = this.#origins[id]!;
    switch (r.kind) {
      case 'headers': return o.kind === 'header';
      case 'events': return o.kind === 'event' && r.ids.includes(id);
      case 'values': return o.kind === 'value' && o.map === r.map && (r.key === 'any' || r.key === undefined || o.key === undefined || o.key === r.key);
    }
  }

  /** Uses a release may reach, the first use of each reference; then the marks are taken out of the IR. */
  check(fn: IrFunction): UseAfterRelease[] {
    const ops = fn.ops;
    const found: UseAfterRelease[] = [];
    if (this.#marks.size > 0 && this.#origins.length > 0) {
      // released[i]: the references possibly released before op i, with the release that did it.
      const released: Array<Map<number, string> | undefined> = new Array(ops.length);
      const succ = successors(ops);
      const work: Array<[number, Map<number, string>]> = [[0, new Map()]];
      while (work.length) {
        const [i, incoming] = work.pop()!;
        let cur = released[i];
        let grew = !cur;
        if (!cur) cur = released[i] = new Map(incoming);
        else for (const [id, why] of incoming) if (!cur.has(id)) (cur.set(id, why), (grew = true));
        if (!grew) continue;
        const out = this.#transfer(ops[i]!, cur);
        for (const s of succ[i]!) work.push([s, out]);
      }
      const reported = new Set<number>();
      ops.forEach((op, i) => {
        const m = op.op === 'label' ? this.#marks.get(op.label) : undefined;
        if (m?.k !== 'use' || !released[i]) return;
        for (const id of m.ids) {
          const why = released[i]!.get(id);
          if (why === undefined || reported.has(id)) continue;
          reported.add(id);
          found.push({ node: m.node, message: `'${m.node.getText()}' is used after ${why} ${this.#afterwards(id)}` });
          break;
        }
      });
    }
    fn.ops = ops.filter((op) => !(op.op === 'label' && this.#marks.has(op.label)));
    return found;
  }

  #transfer(op: SpannedOp, cur: Map<number, string>): Map<number, string> {
    const m = op.op === 'label' ? this.#marks.get(op.label) : undefined;
    if (!m || m.k === 'use') return cur;
    const out = new Map(cur);
    if (m.k === 'acquire') out.delete(m.id);
    else this.#origins.forEach((_, id) => {
      if (!out.has(id) && this.#releases(m.release, id)) out.set(id, m.why);
    });
    return out;
  }

  #afterwards(id: number): string {
    switch (this.#origins[id]!.kind) {
      case 'header': return 'moved the packet: take the header again with ctx.packet.at() after the call (values read before it stay valid)';
      case 'event': return 'released it: an event is done once submitted or discarded';
      case 'value': return 'may have freed it: read what you need before, or look it up again';
    }
  }
}
