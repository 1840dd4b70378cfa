/**
 * `tsbpf engine`: the long-running engine, in the foreground (for systemd or
 * a container). It re-adopts the modules pinned by an earlier engine, then
 * serves the control socket (and metrics with --metrics) until SIGTERM or
 * Ctrl-C. Stopping it leaves the modules running: they are pinned; the next
 * engine picks them up. `tsbpf module unload` is what removes a module.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeObject } from '../../dsl/compiler/object.js';
import { request, DEFAULT_STATE_DIR, socketPathOf } from '../../engine/client.js';
import { Engine } from '../../engine/engine.js';
import { serveMetrics } from '../../engine/metrics.js';
import { serve } from '../../engine/server.js';
import { bpffsContaining, ensureBpffs } from '../../kernel/fs-mounts.js';
import { compileCached } from '../dsl-cache.js';
import { CliError, errColor, printJson } from '../output.js';

export const help = `usage: tsbpf engine [--state-dir DIR] [--bpffs DIR] [--metrics [HOST:]PORT] [--no-stats] [--json]

Runs the IO module engine in the foreground. It keeps modules loaded by name,
replaces them without disrupting traffic, chains several on one hook, and
serves a root-only control socket that \`tsbpf module ...\` talks to
(protocol: docs/engine-protocol.md). Programs, maps and links are pinned
under BPFFS/tsbpf/<module>/, so modules outlive the engine: a restarted
engine re-adopts them, and removes whatever a change cut short left behind.

options:
  --state-dir DIR     state document, module objects, control.sock (default ${DEFAULT_STATE_DIR}, or $TSBPF_STATE_DIR)
  --bpffs DIR         bpffs directory to pin under (default /sys/fs/bpf; pins go to DIR/tsbpf)
  --metrics ADDR      serve Prometheus metrics on http://ADDR/metrics (e.g. :9435 or 127.0.0.1:9435)
  --no-stats          do not enable BPF_ENABLE_STATS (no per-program run counts and times)
  --json              events (ready, requests) as one JSON object per line on stdout
`;

export const VERSION = '0.1.0';

const WARMUP = `import { tracepoint } from 'tsbpf/dsl';
export const warm = tracepoint('syscalls/sys_enter_getpid', () => 0);
`;

/** Compiles a .bpf.ts file to an ELF object: the build cache first, else the in-process (warm) compiler. */
export async function compileToObject(entry: string): Promise<Uint8Array> {
  const { module } = await compileCached(entry, { snapshot: false });
  return writeObject(module);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' },
      bpffs: { type: 'string' },
      metrics: { type: 'string' },
      'no-stats': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length) throw new CliError(`tsbpf engine takes no arguments (got ${positionals.join(' ')})`, 2);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new CliError('the engine needs root (bpf(), bpffs, the control socket)', 1);
  const json = Boolean(values.json);
  const stateDir = values['state-dir'] ?? process.env.TSBPF_STATE_DIR ?? DEFAULT_STATE_DIR;
  const bpffs = values.bpffs ?? '/sys/fs/bpf';
  if (!bpffsContaining(bpffs)) ensureBpffs(bpffs);
  const pinRoot = join(bpffs, 'tsbpf');
  const socketPath = socketPathOf(stateDir);
  const say = (event: string, fields: Record<string, unknown>, text: string): void => {
    if (json) printJson({ event, ...fields });
    else process.stderr.write(`${errColor.dim(text)}\n`);
  };

  // One engine per state directory.
  try {
    const other = await request<{ pid: number }>(socketPath, 'ping', {}, { timeoutMs: 2000 });
    throw new CliError(`an engine (pid ${other.pid}) already serves ${socketPath}`, 1);
  } catch (e) {
    if (e instanceof CliError) throw e;
  }

  const { engine, report } = Engine.open({
    stateDir, pinRoot, compile: compileToObject, stats: !values['no-stats'],
    log: (line) => say('log', { message: line }, line),
  });
  say('adopted', { ...report }, `re-adopted ${report.modules.length} module(s)${report.modules.length ? `: ${report.modules.join(', ')}` : ''}${report.removedPins.length ? `; removed ${report.removedPins.length} pin(s) of an unfinished change` : ''}${report.repaired.length ? `; repaired: ${report.repaired.join('; ')}` : ''}`);
  for (const p of report.problems) say('problem', { message: p }, `problem: ${p}`);

  // Warm the compiler before saying ready, so that the first .bpf.ts load does not pay TypeScript's start-up.
  await (async () => {
    const dir = mkdtempSync(join(stateDir, 'warm-'));
    try {
      const file = join(dir, 'warm.bpf.ts');
      writeFileSync(file, WARMUP);
      const { compile } = await import('../../dsl/compiler/compile.js');
      const { nodeCompileOptions } = await import('../dsl-host.js');
      compile(nodeCompileOptions(file));
    } catch {
      // warming is best effort
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();

  const startedAt = Date.now();
  let metricsAddress: string | undefined;
  const metricsServer = values.metrics ? await serveMetrics(engine, values.metrics) : undefined;
  if (metricsServer) {
    const a = metricsServer.address();
    metricsAddress = typeof a === 'object' && a ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  }
  const server = await serve(engine, socketPath, { version: VERSION, startedAt, stateDir, pinRoot, ...(metricsAddress ? { metrics: metricsAddress } : {}) }, (line) => say('request', { message: line }, line));

  say('ready', { socket: socketPath, pinRoot, pid: process.pid, ...(metricsAddress ? { metrics: metricsAddress } : {}) }, `engine ready: ${socketPath}${metricsAddress ? `, metrics on http://${metricsAddress}/metrics` : ''}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.close();
  metricsServer?.close();
  rmSync(socketPath, { force: true });
  engine.close();
  say('stopped', {}, 'engine stopped; modules stay loaded (pinned)');
  return 0;
}
