/**
 * syscount against bpftrace on the same workload: a shell of a name of the
 * test's own waits in read(2) while the tools and bpftrace attach, then
 * sends signal 0 to itself 100 times and to a pid that cannot exist 7
 * times (-ESRCH), and exits. Three instances of the tool filter on its pid:
 * counts by syscall, counts and latency (-L: a call counts only when its
 * entry was seen), and failed calls by process (-P -x). Each must give
 * what bpftrace counts on raw_syscalls, and kill exactly 107 calls.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syscallName } from '../../examples/tools/syscall-names.js';
import type { RunningCli } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, sleepsInRead, startBpftrace, startTool, stopBpftrace, stopTool, type Bpftrace } from './support.js';

/** A pid above PID_MAX_LIMIT: kill(MARK, 0) fails with ESRCH. */
const MARK = 0x4000_0000 + process.pid;

/** The rows of a syscount report: the first column(s) as one name, then COUNT and, with -L, TIME. */
function rowsOf(out: string): Array<{ name: string; count: number; time?: number }> {
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => /^(SYSCALL|PID\s+COMM)\s+COUNT/.test(l));
  expect(header, out).to.be.greaterThan(-1);
  return lines.slice(header + 1).filter((l) => l !== '').map((l) => {
    const m = /^(.+?)\s+(\d+)(?:\s+(\d+\.\d{3}))?$/.exec(l);
    expect(m, l).to.not.equal(null);
    return { name: m![1]!.trim().split(/\s+/).join(' '), count: Number(m![2]), ...(m![3] !== undefined ? { time: Number(m![3]) } : {}) };
  });
}

describe('tools: syscount (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-syscount-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts a process\'s syscalls by syscall (with -L latency) and its failed ones by process (-P -x), as bpftrace counts them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    if (process.arch !== 'x64') this.skip();
    const name = `sc${process.pid % 100000}`;
    const sh = join(dir, name);
    copyFileSync('/bin/sh', sh);
    const script = `read go; i=0; while [ $i -lt 100 ]; do kill -0 $$; i=$((i+1)); done; i=0; while [ $i -lt 7 ]; do kill -0 ${MARK} 2>/dev/null; i=$((i+1)); done`;
    const child = spawn(sh, ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    const pid = child.pid!;
    const cache = join(dir, 'cache');
    const tools: RunningCli[] = [];
    let bt: Bpftrace | undefined;
    let traced = '';
    try {
      // Nothing of the child's runs while the tracers attach: it waits for its input.
      expect(await eventually(60, () => sleepsInRead(pid)), 'the shell waits in read').to.equal(true);
      // The first compiles the module into the cache; the others then load it from there, together.
      tools.push(await startTool('syscount', ['-p', String(pid), '-T', '1000'], cache, /Ctrl\+C to quit\.\n/));
      tools.push(...(await Promise.all([
        startTool('syscount', ['-p', String(pid), '-T', '1000', '-L'], cache, /Ctrl\+C to quit\.\n/),
        startTool('syscount', ['-p', String(pid), '-P', '-x'], cache, /Ctrl\+C to quit\.\n/),
      ])));
      bt = await startBpftrace(
        `tracepoint:raw_syscalls:sys_enter /pid == ${pid}/ { @s[tid] = nsecs; }\n` +
        `tracepoint:raw_syscalls:sys_exit /pid == ${pid} && args->id >= 0/ {\n` +
        `  @n[args->id] = count();\n` +
        `  if (args->ret < 0) { @x = count(); }\n` +
        `  if (@s[tid] != 0) { @l[args->id] = count(); delete(@s[tid]); } }\n` +
        `END { clear(@s); }`,
      );
      child.stdin!.end('go\n');
      expect(await exited).to.equal(0);
    } finally {
      if (bt) traced = await stopBpftrace(bt);
      child.kill('SIGKILL');
      if (!bt) for (const t of tools) t.child.kill('SIGKILL');
    }
    const [byCall, withLatency, failed] = await Promise.all(tools.map(stopTool));

    const counted = (map: string) => new Map([...traced.matchAll(new RegExp(`^@${map}\\[(\\d+)\\]: (\\d+)$`, 'gm'))].map((m) => [syscallName(Number(m[1])), Number(m[2])]));
    const all = counted('n');
    expect(all.get('kill'), traced).to.equal(107);
    expect(all.get('read'), traced).to.be.greaterThan(0);

    const rows = rowsOf(byCall!);
    expect(byCall).to.match(/^SYSCALL\s+COUNT$/m);
    expect(new Map(rows.map((r) => [r.name, r.count]))).to.deep.equal(all);
    // Sorted by count, most first.
    expect(rows.map((r) => r.count)).to.deep.equal([...rows.map((r) => r.count)].sort((a, b) => b - a));

    // -L: the read the shell was in when the tracers attached has no entry, so it is not counted, by either.
    const latencyRows = rowsOf(withLatency!);
    expect(withLatency).to.match(/^SYSCALL\s+COUNT\s+TIME \(us\)$/m);
    expect(new Map(latencyRows.map((r) => [r.name, r.count]))).to.deep.equal(counted('l'));
    expect(latencyRows.find((r) => r.name === 'kill')?.count).to.equal(107);
    expect(latencyRows.every((r) => r.time !== undefined && r.time > 0), withLatency).to.equal(true);

    // -P -x: one row, the shell, with every failed call (the 7 kills and what else failed, as bpftrace saw).
    const failedCalls = Number(/^@x: (\d+)$/m.exec(traced)?.[1]);
    expect(failedCalls).to.be.at.least(7);
    expect(failed).to.match(/^PID\s+COMM\s+COUNT$/m);
    expect(rowsOf(failed!)).to.deep.equal([{ name: `${pid} ${name}`, count: failedCalls }]);
  });
});
