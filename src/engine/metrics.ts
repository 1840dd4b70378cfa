/**
 * Prometheus metrics (text exposition 0.0.4), the way cloudflare/ebpf_exporter
 * reads maps: a map a module declares as a metric becomes a family whose
 * labels are the key's fields and whose value is the map value (per-CPU
 * values summed). A module declares it in its BTF with decl tags on the map
 * variable, which the DSL writes for `metric: {...}` map options and a C
 * module writes with __attribute__((btf_decl_tag("tsbpf.metric.type=counter"))):
 *
 *   tsbpf.metric.type=counter|gauge|histogram   (required)
 *   tsbpf.metric.name=NAME        family name without the tsbpf_ prefix (default: the map's name in snake_case)
 *   tsbpf.metric.help=TEXT
 *   tsbpf.metric.labels=a,b       label names for the key's fields, in order (default: the fields' names; "key" for an integer key)
 *   tsbpf.metric.buckets=N        histogram: the key's last field is a log2 bucket index 0..N-1, bucket i counting values ≤ 2^i × multiplier;
 *                                 index N, when present, holds the sum (ebpf_exporter's convention)
 *   tsbpf.metric.multiplier=M     histogram bucket scale (default 1)
 *
 * Every module also gets tsbpf_module_info and, with BPF_ENABLE_STATS, run
 * counts and run time of each program it has on a hook.
 */
import { createServer, type Server } from 'node:http';
import type { Btf, BtfType } from '../btf/index.js';
import { skipModifiers } from '../btf/index.js';
import { decodeBtfValue } from '../btf/values.js';
import type { ObjectSpec } from '../elf/object-spec.js';
import type { Engine, LiveModule } from './engine.js';
import { readUint, readValue } from './show.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDecl {
  map: string;
  type: MetricType;
  /** Family name, with the tsbpf_ prefix (and _total for counters). */
  family: string;
  help: string;
  labels?: string[];
  buckets?: number;
  multiplier?: number;
}

export const METRIC_TAG = 'tsbpf.metric.';

export const snakeCase = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9_]/g, '_').toLowerCase();

/** The metric declarations of an object, from the decl tags on its map variables. */
export function metricDecls(spec: ObjectSpec): { decls: MetricDecl[]; problems: string[] } {
  const btf = spec.btf;
  const decls: MetricDecl[] = [];
  const problems: string[] = [];
  if (!btf) return { decls, problems };
  const tags = new Map<number, Map<string, string>>();
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== 'decl_tag' || t.componentIdx !== -1 || !t.name.startsWith(METRIC_TAG)) continue;
    const eq = t.name.indexOf('=');
    const key = t.name.slice(METRIC_TAG.length, eq < 0 ? undefined : eq);
    const forVar = tags.get(t.type) ?? new Map<string, string>();
    forVar.set(key, eq < 0 ? '' : t.name.slice(eq + 1));
    tags.set(t.type, forVar);
  }
  for (const [varId, kv] of tags) {
    const v = btf.type(varId);
    const map = spec.maps.find((m) => m.name === v.name);
    if (!map) {
      problems.push(`metric tags on '${v.name}', which is not a map`);
      continue;
    }
    const type = kv.get('type');
    if (type !== 'counter' && type !== 'gauge' && type !== 'histogram') {
      problems.push(`map ${map.name}: tsbpf.metric.type must be counter, gauge or histogram, got ${JSON.stringify(type)}`);
      continue;
    }
    const base = snakeCase(kv.get('name') ?? map.name).replace(/^tsbpf_/, '');
    const family = `tsbpf_${base}${type === 'counter' && !base.endsWith('_total') ? '_total' : ''}`;
    const buckets = kv.has('buckets') ? Number(kv.get('buckets')) : undefined;
    if (type === 'histogram' && !(Number.isInteger(buckets) && buckets! > 0 && buckets! <= 128)) {
      problems.push(`map ${map.name}: a histogram needs tsbpf.metric.buckets=N (1..128)`);
      continue;
    }
    const multiplier = kv.has('multiplier') ? Number(kv.get('multiplier')) : undefined;
    decls.push({
      map: map.name, type, family, help: kv.get('help') || `Map ${map.name} (${type})`,
      ...(kv.get('labels') ? { labels: kv.get('labels')!.split(',').map((x) => snakeCase(x.trim())) } : {}),
      ...(buckets !== undefined ? { buckets } : {}), ...(multiplier !== undefined && Number.isFinite(multiplier) ? { multiplier } : {}),
    });
  }
  return { decls, problems };
}

const escapeLabel = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** One key field: its label name and how to turn its bytes into a label value. */
interface KeyField {
  name: string;
  offset: number;
  size: number;
  text(bytes: Uint8Array): string;
}

function fieldText(btf: Btf, typeId: number): (bytes: Uint8Array) => string {
  // Network-order integers (be16/be32 typedefs, as the DSL and vmlinux.h name them) read as numbers in host order.
  let id = typeId;
  for (let i = 0; i < 8; i++) {
    const t: BtfType = btf.type(id);
    if (t.kind === 'typedef' && /^(__)?be(16|32)$/.test(t.name)) return (b) => readUint(b.slice().reverse(), b.length).toString();
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile') id = t.type;
    else break;
  }
  return (b) => {
    const v = decodeBtfValue(btf, typeId, b);
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? String(v) : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  };
}

function keyFields(spec: ObjectSpec, mapName: string, decl: MetricDecl): KeyField[] {
  const m = spec.maps.find((x) => x.name === mapName)!;
  const btf = spec.btf;
  const named = (i: number, fallback: string) => decl.labels?.[i] ?? snakeCase(fallback);
  if (!btf || !m.btfKeyTypeId) return [{ name: named(0, 'key'), offset: 0, size: m.keySize, text: (b) => readUint(b, b.length).toString() }];
  const kt = btf.type(skipModifiers(btf, m.btfKeyTypeId));
  let resolved = kt;
  while (resolved.kind === 'typedef') resolved = btf.type(skipModifiers(btf, resolved.type));
  if (resolved.kind === 'struct') {
    return resolved.members.map((mem, i) => {
      let size = 0;
      try {
        size = btfSize(btf, mem.type);
      } catch {
        size = 0;
      }
      return { name: named(i, mem.name || `field${i}`), offset: mem.bitOffset / 8, size, text: fieldText(btf, mem.type) };
    });
  }
  return [{ name: named(0, 'key'), offset: 0, size: m.keySize, text: fieldText(btf, m.btfKeyTypeId) }];
}

function btfSize(btf: Btf, id: number): number {
  const t = btf.type(skipModifiers(btf, id));
  if ('size' in t && typeof t.size === 'number') return t.size;
  if (t.kind === 'typedef') return btfSize(btf, t.type);
  if (t.kind === 'array') return t.nelems * btfSize(btf, t.type);
  if (t.kind === 'ptr') return 8;
  return 0;
}

interface Family {
  type: MetricType;
  help: string;
  lines: string[];
}

const labelText = (labels: Array<[string, string]>): string => (labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '');

function mapSamples(mod: LiveModule, decl: MetricDecl, out: Family): void {
  const map = mod.maps.get(decl.map);
  if (!map) return;
  const fields = keyFields(mod.spec, decl.map, decl);
  const base: Array<[string, string]> = [['module', mod.record.name]];
  const isArray = map.type === 2 || map.type === 6;
  const entries: Array<{ labels: Array<[string, string]>; value: bigint; key: Uint8Array }> = [];
  const valueSize = Math.min(map.valueSize, 8);
  let key: Uint8Array | undefined;
  for (let n = 0; n < 100_000; n++) {
    key = map.nextKey(key);
    if (key === undefined) break;
    const v = readValue(map, key);
    if (!v) continue;
    const value = readUint(v, valueSize);
    if (isArray && value === 0n && decl.type !== 'gauge') continue; // every array slot exists: show the used ones
    const k = key;
    entries.push({ key: k, value, labels: fields.map((f) => [f.name, f.text(k.subarray(f.offset, f.offset + f.size))] as [string, string]) });
  }
  if (decl.type !== 'histogram') {
    for (const e of entries) out.lines.push(`${decl.family}${labelText([...base, ...e.labels])} ${e.value}`);
    return;
  }
  // Histograms: the last key field is the bucket; the others group the series.
  const groups = new Map<string, { labels: Array<[string, string]>; buckets: Map<number, bigint> }>();
  for (const e of entries) {
    const labels = e.labels.slice(0, -1);
    const id = JSON.stringify(labels);
    const g = groups.get(id) ?? { labels, buckets: new Map<number, bigint>() };
    const bucket = Number(e.labels[e.labels.length - 1]?.[1] ?? 0);
    g.buckets.set(bucket, (g.buckets.get(bucket) ?? 0n) + e.value);
    groups.set(id, g);
  }
  const mult = decl.multiplier ?? 1;
  for (const g of groups.values()) {
    let cumulative = 0n;
    for (let i = 0; i < decl.buckets!; i++) {
      cumulative += g.buckets.get(i) ?? 0n;
      out.lines.push(`${decl.family}_bucket${labelText([...base, ...g.labels, ['le', String(2 ** i * mult)]])} ${cumulative}`);
    }
    out.lines.push(`${decl.family}_bucket${labelText([...base, ...g.labels, ['le', '+Inf']])} ${cumulative}`);
    out.lines.push(`${decl.family}_sum${labelText([...base, ...g.labels])} ${Number(g.buckets.get(decl.buckets!) ?? 0n) * mult}`);
    out.lines.push(`${decl.family}_count${labelText([...base, ...g.labels])} ${cumulative}`);
  }
}

/** The whole exposition: declared map metrics of every module, module info and program statistics. */
export function exposition(engine: Engine): string {
  const families = new Map<string, Family>();
  const family = (name: string, type: MetricType, help: string): Family | undefined => {
    const f = families.get(name) ?? { type, help, lines: [] };
    if (f.type !== type) return undefined; // two modules disagree on a family's type: the first one keeps it
    families.set(name, f);
    return f;
  };
  const info = family('tsbpf_module_info', 'gauge', 'A module loaded in the engine (always 1), with its version and object hash.')!;
  const runs = family('tsbpf_program_runs_total', 'counter', 'Times a module program ran (BPF_ENABLE_STATS; absent for programs reached by tail call).')!;
  const runTime = family('tsbpf_program_run_seconds_total', 'counter', 'Time a module program spent running (BPF_ENABLE_STATS).')!;
  const listed = engine.list();
  for (const m of listed.modules) {
    info.lines.push(`tsbpf_module_info${labelText([['module', m.name], ['version', String(m.version)], ['hash', m.hash.slice(0, 16)]])} 1`);
    for (const p of m.programs) {
      if (p.runCount === null || p.runTimeNs === null) continue;
      const labels = labelText([['module', m.name], ['program', p.name], ['hook', p.hook]]);
      runs.lines.push(`tsbpf_program_runs_total${labels} ${p.runCount}`);
      runTime.lines.push(`tsbpf_program_run_seconds_total${labels} ${Number(p.runTimeNs) / 1e9}`);
    }
  }
  for (const mod of engine.modules.values()) {
    for (const decl of metricDecls(mod.spec).decls) {
      const f = family(decl.family, decl.type, decl.help);
      if (f) mapSamples(mod, decl, f);
    }
  }
  let text = '';
  for (const [name, f] of families) {
    if (f.lines.length === 0 && name !== 'tsbpf_module_info') continue;
    text += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n${f.lines.join('\n')}${f.lines.length ? '\n' : ''}`;
  }
  return text;
}

/** Parses "PORT", ":PORT", "HOST:PORT" or "[V6]:PORT". */
export function parseListenAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port < 65536)) throw new Error(`--metrics wants [HOST]:PORT, got '${addr}'`);
  const host = m[1] ?? (m[2] || undefined);
  return { ...(host ? { host } : {}), port };
}

export function serveMetrics(engine: Engine, addr: string): Promise<Server> {
  const { host, port } = parseListenAddress(addr);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('tsbpf engine: metrics are at /metrics\n');
      return;
    }
    engine.serial(() => exposition(engine)).then(
      (body) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
      (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
