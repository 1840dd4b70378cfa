/**
 * A user's program compiled against the published package (dist/*.d.ts via
 * package.json "exports"), as an npm user's project would: strict,
 * module/moduleResolution nodenext, `import { loadModule } from 'tsbpf'`.
 * It reads a struct-valued map and an event stream with full types and no
 * casts; `@ts-expect-error` lines prove the types are not `any`.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

const kernelModule = `
import { tracepoint, hashMap, perCpuArray, ringBuf, bpf, rodata, log2Hist, type CStr, type u32, type u64 } from 'tsbpf/dsl';
export interface Opened { pid: u32; flags: u32; comm: CStr<16>; path: CStr<64> }
export interface PerComm { opens: u64; lastFlags: u32; name: CStr<16> }
export const minPid = rodata<u32>(0);
export const byPid = hashMap<u32, PerComm>({ maxEntries: 1024 });
export const opens = ringBuf<Opened>({ size: 65536 });
export const flagBits = log2Hist<u32>();
export const totals = perCpuArray<u64>({ maxEntries: 1 });
export const onOpen = tracepoint('syscalls/sys_enter_openat', (ctx) => {
  if (bpf.pid() < minPid.get()) return 0;
  const e = opens.reserve();
  if (e === null) return 0;
  e.pid = bpf.pid();
  e.flags = ctx.flags;
  bpf.currentComm(e.comm);
  bpf.probeReadUserStr(e.path, ctx.filename);
  opens.submit(e);
  return 0;
});
`;

const userProgram = `
import { loadModule, type LiveModule } from 'tsbpf';
import * as opensnoop from './opensnoop.bpf.js';

export async function watch(limit: number): Promise<string[]> {
  await using live = await loadModule(opensnoop, { set: { minPid: 1 } });
  const lines: string[] = [];
  for await (const e of live.events.opens) {
    const pid: number = e.pid;
    const comm: string = e.comm;
    const path: string = e.path;
    lines.push(\`\${pid} \${comm} \${path} \${e.flags.toFixed(0)}\`);
    // @ts-expect-error events have no field 'filename'
    void e.filename;
    // @ts-expect-error a CStr decodes to a string, not a number
    const wrong: number = e.comm;
    void wrong;
    if (lines.length >= limit) break;
  }
  const stats = live.maps.byPid.get(1);
  if (stats !== undefined) {
    const opens: number = stats.opens;
    const name: string = stats.name;
    lines.push(\`\${name}: \${opens}, flags \${stats.lastFlags}\`);
  }
  for (const [pid, s] of live.maps.byPid) lines.push(\`\${pid.toFixed(0)} \${s.name.toUpperCase()}\`);
  live.maps.byPid.set(2, { opens: 1, lastFlags: 0, name: 'init' });
  // @ts-expect-error a struct value needs its fields' types
  live.maps.byPid.set(3, { opens: 'many', lastFlags: 0, name: 'x' });
  // @ts-expect-error keys are u32 numbers
  live.maps.byPid.get('one');
  // @ts-expect-error no such map
  void live.maps.nothing;
  for (const h of live.histograms.flagBits.read()) lines.push(\`\${h.key.toFixed(0)}: \${h.buckets.map((b) => b.label).join(' ')}\`);
  const perCpu: number[] | undefined = live.maps.totals.getPerCpu(0);
  const summed: number | undefined = live.maps.totals.get(0);
  lines.push(String(perCpu?.length), String(summed));
  // @ts-expect-error a hash map is not per-CPU
  live.maps.byPid.getPerCpu(1);
  live.programs.onOpen.detach();
  const threshold: number = live.globals.minPid;
  lines.push(String(threshold));
  return lines;
}

export type Live = LiveModule<typeof opensnoop>;
`;

describe('published types: a user program against the package', function () {

  it('type-checks loadModule with a struct-valued map and an event stream, strict and nodenext, no casts', function () {
    if (!existsSync(join(repo, 'dist/index.d.ts'))) this.skip(); // dist/ is built by npm install (the prepare script)
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-user-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(repo, join(dir, 'node_modules/tsbpf'));
      symlinkSync(join(repo, 'node_modules/@types'), join(dir, 'node_modules/@types'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-tool', type: 'module', private: true }));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: {
          strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'esnext.disposable'],
          types: ['node'], noEmit: true, exactOptionalPropertyTypes: true, skipLibCheck: true,
        },
        include: ['*.ts'],
      }));
      writeFileSync(join(dir, 'opensnoop.bpf.ts'), kernelModule);
      writeFileSync(join(dir, 'watch.ts'), userProgram);
      const tsc = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
      expect(tsc.stdout + tsc.stderr).to.equal('');
      expect(tsc.status).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
