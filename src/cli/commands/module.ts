/**
 * `tsbpf module load|replace|unload|list|show|move`: thin clients of a
 * running engine's control socket (src/engine/protocol.ts).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_STATE_DIR, EngineClientError, request, socketPathOf } from '../../engine/client.js';
import type { ListResult, LoadResult, ModuleInfo } from '../../engine/protocol.js';
import type { MapContents } from '../../engine/show.js';
import { formatPretty } from '../../btf/values.js';
import { bold, CliError, dim, green, printJson, yellow } from '../output.js';

export const help = `usage: tsbpf module <verb> ... [--state-dir DIR] [--json]

Talks to a running engine (sudo tsbpf engine) over its control socket.

verbs:
  load FILE.bpf.ts|FILE.o [--name N] [--iface IF] [--cgroup PATH] [--set K=V]... [--before M | --after M]
            compile (in the engine, warm) or read the object, load it and attach every program;
            XDP and tcx programs go on --iface, placed before/after module M on shared hooks
  replace NAME FILE [--set K=V]...
            swap in a new version without disrupting traffic; maps whose name, type and layout
            are unchanged are carried over (their contents go on), the others are created new
  unload NAME
            detach every program and remove the module's pins
  list      modules: version, programs, hooks, maps, run count and run time (BPF_ENABLE_STATS)
  show NAME [--limit N]
            one module with every map's entries decoded by their types
  move NAME --before M | --after M
            reorder two modules on the hooks they share (XDP chain, tcx)

options:
  --state-dir DIR   where the engine's control.sock is (default ${DEFAULT_STATE_DIR}, or $TSBPF_STATE_DIR)
  --json            the engine's answer as JSON (list: one object per module per line)
`;

const sha = (h: string): string => h.slice(0, 12);

function settings(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const s of list) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new CliError(`--set wants NAME=VALUE, got '${s}'`, 2);
    out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

function printLoad(r: LoadResult, verb: 'loaded' | 'replaced'): void {
  const total = r.timings.prepareMs + r.timings.loadMs + r.timings.swapMs;
  process.stdout.write(`${green(verb)} ${bold(r.module)} v${r.version} (${sha(r.hash)}) in ${total.toFixed(0)} ms ${dim(`(prepare ${r.timings.prepareMs.toFixed(0)}, load ${r.timings.loadMs.toFixed(0)}, swap ${r.timings.swapMs.toFixed(0)})`)}\n`);
  for (const p of r.programs) process.stdout.write(`  program ${p.name}  ${p.hook}  id ${p.id}  ${dim(p.how)}\n`);
  for (const m of r.maps) {
    const what = m.outcome === 'carried' ? green('carried over') : verb === 'replaced' ? yellow(`created new${m.reason ? `: ${m.reason}` : ''}`) : 'created';
    process.stdout.write(`  map ${m.name}  ${what}\n`);
  }
}

function printList(r: ListResult): void {
  if (r.modules.length === 0) {
    process.stdout.write('no modules loaded\n');
    return;
  }
  const rows = [['NAME', 'VERSION', 'PROGRAMS', 'HOOKS', 'MAPS', 'RUNS', 'RUN TIME', 'LOADED']];
  for (const m of r.modules) {
    const counted = m.programs.filter((p) => p.runCount !== null);
    const runs = counted.length ? counted.reduce((n, p) => n + BigInt(p.runCount!), 0n).toString() : '-';
    const ns = counted.length ? Number(counted.reduce((n, p) => n + BigInt(p.runTimeNs!), 0n)) : undefined;
    rows.push([
      m.name, `v${m.version} ${sha(m.hash)}`, m.programs.map((p) => `${p.name}(${p.id})`).join(','), [...new Set(m.programs.map((p) => p.hook))].join(','),
      m.maps.map((x) => x.name).join(','), runs, ns === undefined ? '-' : `${(ns / 1e6).toFixed(3)} ms`, m.loadedAt.replace('T', ' ').replace(/\..*/, ''),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    const line = row.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd();
    process.stdout.write(`${i === 0 ? bold(line) : line}\n`);
  }
  for (const c of r.chains) if (c.mode === 'dispatcher') process.stdout.write(dim(`chain ${c.hook}: ${c.members.join(' → ')} (dispatcher ${c.dispatcherId}, link ${c.linkId})\n`));
}

function printShow(r: ModuleInfo & { contents: MapContents[] }): void {
  process.stdout.write(`${bold(r.name)} v${r.version} ${sha(r.hash)}  ${dim(r.source)}\n`);
  process.stdout.write(`  loaded ${r.loadedAt}${r.replacedAt ? `, replaced ${r.replacedAt}` : ''}\n`);
  for (const p of r.programs) {
    process.stdout.write(`  program ${p.name} (${p.type}, id ${p.id}) on ${p.hook}${p.linkId ? ` link ${p.linkId}` : ''}${p.runCount !== null ? `  runs ${p.runCount}, ${(Number(p.runTimeNs) / 1e6).toFixed(3)} ms` : ''}\n`);
  }
  for (const c of r.contents) {
    const m = r.maps.find((x) => x.name === c.name);
    process.stdout.write(`${bold(c.name)} ${dim(`(${m?.type.toLowerCase() ?? 'map'}, id ${m?.id}, ${c.entries.length}${c.truncated ? '+' : ''} entr${c.entries.length === 1 ? 'y' : 'ies'})`)}\n`);
    if (c.note) process.stdout.write(`  ${dim(c.note)}\n`);
    for (const e of c.entries) process.stdout.write(`  ${e.key === undefined ? '' : `${formatPretty(e.key).replace(/\n\s*/g, ' ')} → `}${formatPretty(e.value).replace(/\n\s*/g, ' ')}\n`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' }, iface: { type: 'string' }, cgroup: { type: 'string' }, set: { type: 'string', multiple: true },
      before: { type: 'string' }, after: { type: 'string' }, limit: { type: 'string' }, 'state-dir': { type: 'string' }, json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const socket = socketPathOf(values['state-dir'] ?? process.env.TSBPF_STATE_DIR ?? DEFAULT_STATE_DIR);
  const json = Boolean(values.json);
  const want = (n: number, usage: string): void => {
    if (positionals.length !== n) throw new CliError(`usage: tsbpf module ${usage}`, 2);
  };
  const call = async <T>(v: Parameters<typeof request>[1], args: Record<string, unknown>): Promise<T> => {
    try {
      return await request<T>(socket, v, args);
    } catch (e) {
      if (e instanceof EngineClientError) {
        throw new CliError(`${e.code !== 'E_COMPILE' ? `${e.code}: ` : ''}${e.message}${e.details?.length ? `\n${e.details.join('\n')}` : ''}`, 1);
      }
      throw e;
    }
  };
  const set = settings(values.set);
  switch (verb) {
    case 'load': {
      want(1, 'load FILE [--name N] [--iface IF] [--cgroup PATH] [--set K=V]... [--before M | --after M]');
      const r = await call<LoadResult>('load', {
        file: resolve(positionals[0]!), ...(values.name ? { name: values.name } : {}), ...(values.iface ? { iface: values.iface } : {}),
        ...(values.cgroup ? { cgroup: resolve(values.cgroup) } : {}), ...(set ? { set } : {}),
        ...(values.before ? { before: values.before } : {}), ...(values.after ? { after: values.after } : {}),
      });
      if (json) printJson(r);
      else printLoad(r, 'loaded');
      return 0;
    }
    case 'replace': {
      want(2, 'replace NAME FILE [--set K=V]...');
      const r = await call<LoadResult>('replace', { name: positionals[0], file: resolve(positionals[1]!), ...(set ? { set } : {}) });
      if (json) printJson(r);
      else printLoad(r, 'replaced');
      return 0;
    }
    case 'unload': {
      want(1, 'unload NAME');
      const r = await call<{ module: string; removed: string[] }>('unload', { name: positionals[0] });
      if (json) printJson(r);
      else process.stdout.write(`unloaded ${r.module} ${dim(`(${r.removed.length} pins removed)`)}\n`);
      return 0;
    }
    case 'list': {
      want(0, 'list [--json]');
      const r = await call<ListResult>('list', {});
      if (json) for (const m of r.modules) printJson(m);
      else printList(r);
      return 0;
    }
    case 'show': {
      want(1, 'show NAME [--limit N] [--json]');
      const r = await call<ModuleInfo & { contents: MapContents[] }>('show', { name: positionals[0], ...(values.limit ? { limit: Number(values.limit) } : {}) });
      if (json) printJson(r);
      else printShow(r);
      return 0;
    }
    case 'move': {
      want(1, 'move NAME --before M | --after M');
      const r = await call<{ module: string; programs: LoadResult['programs'] }>('move', { name: positionals[0], ...(values.before ? { before: values.before } : {}), ...(values.after ? { after: values.after } : {}) });
      if (json) printJson(r);
      else {
        process.stdout.write(`moved ${r.module}\n`);
        for (const p of r.programs) process.stdout.write(`  program ${p.name}  ${p.hook}  id ${p.id}  ${dim(p.how)}\n`);
      }
      return 0;
    }
    default:
      throw new CliError(`unknown verb '${verb ?? ''}': use load, replace, unload, list, show or move (tsbpf module --help)`, 2);
  }
}
