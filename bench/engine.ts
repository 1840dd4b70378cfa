/**
 * The engine (`tsbpf engine`), each figure against the way it is done
 * without one:
 *
 * - replace time, load to swapped (a new version compiled already, as a .o:
 *   maps carried, programs loaded, link updated), against unloading the
 *   module and loading the new version;
 * - packets a counting XDP module misses during 100 replaces of it under a
 *   steady UDP stream over a veth pair, against 100 unload + load cycles
 *   (target 0);
 * - the engine's resident memory when idle (warm compiler, no module),
 *   against a bare Node process;
 * - a warm `tsbpf module load` of a .bpf.ts (a text the build cache has not
 *   seen) against a cold `tsbpf run` of the same module until attached.
 *
 * `npx tsx bench/engine.ts` runs it alone; TSBPF_BENCH_RUNS sets the rounds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from '../src/engine/protocol.js';
import { VethNetns } from '../test/kernel/netns-fixture.js';
import { buildModule, CLI_BIN, counterModule, EngineProcess, UdpCounter, UdpStream, waitFor } from '../test/engine/fixture.js';
import { type BenchRow, median } from './row.js';

const RUNS = Number(process.env.TSBPF_BENCH_RUNS ?? 5);
const REPLACES = 100;

const EXEC_MODULE = (tag: string) => `import { bpf, type CStr, hashMap, tracepoint, type u64 } from 'tsbpf/dsl';
// ${tag}
export const execsByComm = hashMap<CStr<16>, u64>({ maxEntries: 1024 });
export const countExecve = tracepoint('syscalls/sys_enter_execve', () => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  execsByComm.increment(comm);
  return 0;
});
`;

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function packetsMissed(engine: EngineProcess, net: VethNetns, objects: string[], cycle: (i: number) => Promise<void>): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  await engine.call('load', { name: 'bench-count', file: objects[0], iface: net.host, set: { port } });
  const receiver = await UdpCounter.bind(net.hostIp, port);
  const stream = new UdpStream(net.ns, net.hostIp, port, 2000);
  try {
    await waitFor(() => receiver.received > 50, 20_000, 'traffic');
    for (let i = 0; i < REPLACES; i++) await cycle(i);
    const sent = await stream.stop();
    await waitFor(() => receiver.received >= sent, 20_000, 'the stream to arrive');
    const shown = await engine.call<{ contents: Array<{ name: string; entries: Array<{ value: number }> }> }>('show', { name: 'bench-count' });
    return sent - Number(shown.contents.find((c) => c.name === 'packets')!.entries[0]?.value ?? 0);
  } finally {
    receiver.close();
    stream.proc.kill();
    await engine.call('unload', { name: 'bench-count' }).catch(() => undefined);
  }
}

function coldRunToAttached(file: string, cacheDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(CLI_BIN, '../../../dist/cli/bin.js'), 'run', file, '--json'], { env: { ...process.env, TSBPF_CACHE_DIR: cacheDir, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('"attached"')) {
        const ms = performance.now() - t0;
        child.kill('SIGINT');
        child.once('exit', () => resolve(ms));
      }
    });
    child.once('exit', (code) => {
      if (!out.includes('"attached"')) reject(new Error(`tsbpf run exited ${code} before attaching`));
    });
  });
}

export async function benchEngine(): Promise<BenchRow[]> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('needs root');
  const rows: BenchRow[] = [];
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)']);
  const engine = new EngineProcess();
  const net = new VethNetns();
  try {
    await engine.start();
    await new Promise((r) => setTimeout(r, 1000));
    rows.push({ name: 'engine idle memory (RSS, warm compiler, no module)', ours: rssMb(engine.proc!.pid!), anchor: rssMb(bare.pid!), ratio: rssMb(engine.proc!.pid!) / rssMb(bare.pid!), unit: 'MiB', anchorName: 'bare node process' });

    const objects = ['A', 'B'].map((v) => buildModule(engine.dir, `bench${v}`, counterModule('xdp', 'bench_count', v as 'A' | 'B')).object);
    // Replace time, load to swapped, from the engine's own timings.
    const replaceMs: number[] = [];
    const reloadMs: number[] = [];
    await engine.call('load', { name: 'timing', file: objects[0], iface: net.host });
    for (let i = 0; i < RUNS * 4; i++) {
      const r = await engine.call<LoadResult>('replace', { name: 'timing', file: objects[(i + 1) % 2] });
      replaceMs.push(r.timings.loadMs + r.timings.swapMs);
      const t0 = performance.now();
      await engine.call('unload', { name: 'timing' });
      await engine.call('load', { name: 'timing', file: objects[i % 2], iface: net.host });
      reloadMs.push(performance.now() - t0);
    }
    await engine.call('unload', { name: 'timing' });
    const rep = median(replaceMs);
    const rel = median(reloadMs);
    rows.push({ name: 'replace an XDP module, load to swapped', ours: rep, anchor: rel, ratio: rep / rel, unit: 'ms', anchorName: 'module unload + load' });

    const lostReplacing = await packetsMissed(engine, net, objects, (i) => engine.call('replace', { name: 'bench-count', file: objects[(i + 1) % 2] }).then(() => undefined));
    const lostReloading = await packetsMissed(engine, net, objects, async (i) => {
      await engine.call('unload', { name: 'bench-count' });
      await engine.call('load', { name: 'bench-count', file: objects[(i + 1) % 2], iface: net.host });
    });
    rows.push({ name: `packets not counted during ${REPLACES} replaces`, ours: lostReplacing, anchor: lostReloading, ratio: lostReloading ? lostReplacing / lostReloading : lostReplacing, unit: 'packets', anchorName: `${REPLACES} unload + load`, target: '0' });

    // Warm module load of a .bpf.ts against a cold tsbpf run.
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-engine-'));
    const warm: number[] = [];
    const cold: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        const file = join(dir, `exec${i}.bpf.ts`);
        writeFileSync(file, EXEC_MODULE(`${Date.now()} ${i}`));
        const t0 = performance.now();
        await engine.call('load', { name: `warm${i}`, file });
        warm.push(performance.now() - t0);
        await engine.call('unload', { name: `warm${i}` });
        const coldFile = join(dir, `cold${i}.bpf.ts`);
        writeFileSync(coldFile, EXEC_MODULE(`cold ${Date.now()} ${i}`));
        const cache = join(dir, `cache${i}`);
        cold.push(await coldRunToAttached(coldFile, cache));
        rmSync(cache, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const w = median(warm);
    const c = median(cold);
    rows.push({ name: 'warm `module load` of a .bpf.ts (engine compiles)', ours: w, anchor: c, ratio: w / c, unit: 'ms', anchorName: 'cold `tsbpf run` to attached (dist)' });
  } finally {
    bare.kill();
    await engine.destroy();
    net.destroy();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchEngine()) process.stdout.write(`${JSON.stringify(r)}\n`);
}
