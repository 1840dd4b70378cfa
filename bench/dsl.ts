/**
 * DSL code quality and build time against clang -O2 on the ten twins in
 * bpf-tests/dsl-twins: instruction counts (ours / clang), instructions the
 * verifier processed, and a cold `tsbpf build` against clang compiling the
 * C twin (both as fresh processes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byteLength } from '../src/asm/codec.js';
import { nodeCompileOptions } from '../src/cli/dsl-host.js';
import { compile } from '../src/dsl/compiler/compile.js';
import { writeObject } from '../src/dsl/compiler/object.js';
import { parseObject } from '../src/elf/parse-object.js';
import { loadCollection } from '../src/kernel/collection.js';
import type { BenchRow } from './row.js';

const DIR = new URL('../bpf-tests/dsl-twins/', import.meta.url).pathname;
const ROOT = new URL('../', import.meta.url).pathname;
/** Tracing twins whose C side reads kernel structs with BPF_CORE_READ. */
const CORE_TWINS = ['task_ppid'];
/** Tools of examples/tools against their C twins in bpf-tests/dsl-twins: the program compared, by name in both objects. */
const TOOL_TWINS = [
  { tool: 'tcplife', program: 'onStateChange' },
  { tool: 'execguard', program: 'checkExec' },
  { tool: 'xdp-lb', program: 'lb' },
  { tool: 'xdp-lb', program: 'balanceUdp' },
  { tool: 'xdp-lb', program: 'balanceTcp' },
  { tool: 'profile', program: 'onSample' },
  { tool: 'runqlat', program: 'onWakeup' },
  { tool: 'runqlat', program: 'onWakeupNew' },
  { tool: 'runqlat', program: 'onSwitch' },
  { tool: 'tc-dnat', program: 'dnat' },
  { tool: 'xdp-firewall', program: 'firewall' },
  { tool: 'killsnoop', program: 'onKill' },
  { tool: 'killsnoop', program: 'onKillReturn' },
  { tool: 'exitsnoop', program: 'onExit' },
  { tool: 'oomkill', program: 'onMarkVictim' },
  { tool: 'bashreadline', program: 'onReadline' },
];
const TWINS = ['pass', 'proto_count', 'udp_drop', 'ttl_dec', 'flow_bytes', 'syn_count', 'vlan_id', 'mac_sum', 'port_class', 'len_hist'];

/** Instructions the verifier processed for one program of an object. */
function processed(object: Uint8Array, program: string): number | undefined {
  const coll = loadCollection(parseObject(object), { logLevel: 4 });
  try {
    const m = /processed (\d+) insns/.exec(coll.programs.get(program)?.verifierLog ?? '');
    return m ? Number(m[1]) : undefined;
  } finally {
    for (const p of coll.programs.values()) p.close();
    for (const m of coll.maps.values()) m.close();
  }
}

const slots = (object: Uint8Array, program: string): number => {
  const p = parseObject(object).programs.find((x) => x.name === program);
  if (!p) throw new Error(`no program ${program}`);
  return byteLength(p.instructions) / 8;
};

export async function benchDsl(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  let oursTotal = 0;
  let clangTotal = 0;
  let oursProcessed = 0;
  let clangProcessed = 0;
  const canLoad = typeof process.getuid === 'function' && process.getuid() === 0;
  for (const name of TWINS) {
    const ours = writeObject(compile(nodeCompileOptions(join(DIR, `${name}.bpf.ts`))));
    const clang = new Uint8Array(readFileSync(join(DIR, `${name}.bpf.o`)));
    const a = slots(ours, name);
    const b = slots(clang, name);
    oursTotal += a;
    clangTotal += b;
    rows.push({ name: `instructions ${name}`, ours: a, anchor: b, ratio: a / b, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
    if (canLoad) {
      const pa = processed(ours, name);
      const pb = processed(clang, name);
      if (pa !== undefined && pb !== undefined) {
        rows.push({ name: `verifier processed ${name}`, ours: pa, anchor: pb, ratio: pa / pb, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
        oursProcessed += pa;
        clangProcessed += pb;
      }
    }
  }
  rows.push({ name: 'instructions, all twins', ours: oursTotal, anchor: clangTotal, ratio: oursTotal / clangTotal, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
  if (clangProcessed > 0) {
    rows.push({ name: 'verifier processed, all twins', ours: oursProcessed, anchor: clangProcessed, ratio: oursProcessed / clangProcessed, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
  }

  // CO-RE twins (tracing): reads of kernel structs against clang's BPF_CORE_READ, by instruction count.
  for (const name of CORE_TWINS) {
    const ours = writeObject(compile(nodeCompileOptions(join(DIR, `${name}.bpf.ts`))));
    const clang = new Uint8Array(readFileSync(join(DIR, `${name}.bpf.o`)));
    const a = slots(ours, name);
    const b = slots(clang, name);
    rows.push({ name: `instructions ${name} (CO-RE)`, ours: a, anchor: b, ratio: a / b, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
  }

  // Tools: the program of examples/tools/X against the C twin's; verifier-processed where this kernel loads it (lsm needs trampolines).
  for (const t of TOOL_TWINS) {
    const ours = writeObject(compile(nodeCompileOptions(join(ROOT, 'examples/tools', `${t.tool}.bpf.ts`))));
    const clang = new Uint8Array(readFileSync(join(DIR, `${t.tool}.bpf.o`)));
    const a = slots(ours, t.program);
    const b = slots(clang, t.program);
    rows.push({ name: `instructions tool ${t.tool} ${t.program}`, ours: a, anchor: b, ratio: a / b, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
    if (!canLoad) continue;
    try {
      const pa = processed(ours, t.program);
      const pb = processed(clang, t.program);
      if (pa !== undefined && pb !== undefined) rows.push({ name: `verifier processed tool ${t.tool} ${t.program}`, ours: pa, anchor: pb, ratio: pa / pb, unit: 'insns', anchorName: 'clang -O2', target: '<= 1.0' });
    } catch {
      // This kernel cannot load the kind (lsm without BPF trampolines): instructions only.
    }
  }

  // Cold build: a fresh process each, no cache.
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-bench-dsl-'));
  try {
    const time = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
      const t0 = performance.now();
      const r = spawnSync(cmd, args, { cwd: ROOT, env, stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
      return performance.now() - t0;
    };
    const name = 'flow_bytes';
    const oursMs = time(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'build', join(DIR, `${name}.bpf.ts`), '-o', join(tmp, 'o.o'), '--no-cache'], { ...process.env, TSBPF_CACHE_DIR: tmp });
    execFileSync('clang', ['--version'], { stdio: 'ignore' });
    // The twins include vmlinux.h, which bpf-tests/Makefile writes from this kernel's BTF (not committed): made once, not timed.
    execFileSync('make', ['-s', '-C', join(DIR, '..'), 'build/vmlinux.h'], { stdio: 'ignore' });
    const clangMs = time('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${join(DIR, '..')}`, `-I${join(DIR, '../build')}`, '-c', join(DIR, `${name}.bpf.c`), '-o', join(tmp, 'c.o')]);
    rows.push({ name: `cold build ${name}`, ours: oursMs, anchor: clangMs, ratio: oursMs / clangMs, unit: 'ms', anchorName: 'clang -O2 -c', target: '<= 1.0' });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
