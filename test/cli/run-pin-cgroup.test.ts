/**
 * `tsbpf run` honours `pinning: 'byName'` (the map outlives the run and the
 * next run counts on from it, as with libbpf; a pin of another layout is an
 * error, never replaced) and `--cgroup PATH` (a cgroup_skb program on a
 * cgroup of the test's own, counting exactly the datagrams a process in it
 * sends). Names carry the lane name "user2"; pins and cgroups are removed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfMap, cgroup2Path, ensureBpffs } from '../../src/kernel/index.js';
import { spawnRun, untilAttached } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { CHILD_DEADLINE, waitFor } from '../support/wait.js';
import { MARK, arch, markedGetpgid } from '../kernel/marked-calls.js';

const DSL = new URL('../../src/dsl/index.js', import.meta.url).pathname;

/** The JSON lines of a run's output. */
const lines = (stdout: string): Record<string, unknown>[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('tsbpf run: maps pinned by name, and --cgroup', function () {
  this.timeout(300000);
  let dir: string;
  before(function () {
    needKernel(this);
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-run-user2-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it("a pinning: 'byName' map outlives the run, the next run counts on from it, and a pin of another layout is refused", async function () {
    if (!arch) this.skip(); // marked calls know x86-64 and arm64
    const name = uniqueName('user2pin').replace(/[^a-z0-9]/g, '');
    const pin = `${ensureBpffs()}/${name}`;
    const module = (entries: number) => `import { tracepoint, arrayMap, type u64 } from '${DSL}';
export const ${name} = arrayMap<u64>({ maxEntries: ${entries}, pinning: 'byName' });
export const p = tracepoint('syscalls/sys_enter_getpgid', (ctx) => {
  if (ctx.pid === ${MARK}) ${name}.increment(0);
  return 0;
});
`;
    const file = join(dir, 'pinned.bpf.ts');
    const countAt = (): number => {
      using m = BpfMap.openPinned(pin);
      return Number(new DataView(m.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));
    };
    /** One run: `calls` marked calls while attached, then Ctrl-C; the value it printed at exit. */
    const runOnce = async (calls: number, expected: number): Promise<unknown> => {
      const run = spawnRun([file, '--json'], join(dir, 'cache'));
      await untilAttached(run);
      for (let i = 0; i < calls; i++) markedGetpgid();
      await waitFor(() => countAt() >= expected, `${expected} calls counted in the pinned map`);
      run.child.kill('SIGINT');
      expect(await run.exited, run.stderr).to.equal(0);
      return lines(run.stdout).find((l) => l.map === name && l.key === 0)?.value;
    };
    try {
      writeFileSync(file, module(1));
      expect(await runOnce(3, 3)).to.equal(3);
      expect(countAt(), 'the pin is still there after the run').to.equal(3);
      expect(await runOnce(4, 7)).to.equal(7);
      // Same name, another layout: an error naming the pin; the pinned map is left as it was.
      writeFileSync(file, module(2));
      const run = spawnRun([file, '--duration', '1'], join(dir, 'cache'));
      expect(await run.exited).to.equal(1);
      expect(run.stderr).to.include(`error: map ${name}: ${pin} is pinned with another layout (remove it to start afresh)`);
      expect(countAt()).to.equal(7);
    } finally {
      rmSync(pin, { force: true });
    }
  });

  it('--cgroup PATH attaches a cgroup_skb program there: it counts the datagrams a process in that cgroup sends, and only those', async function () {
    const root = cgroup2Path();
    needKernel(this, root ? null : 'no cgroup v2');
    const cgroup = join(root!, uniqueName('user2cg'));
    mkdirSync(cgroup);
    // A length no other packet of this test has: 20 (IPv4) + 8 (UDP) + 333.
    const PAYLOAD = 333;
    const SENT = 5;
    const file = join(dir, 'egress.bpf.ts');
    writeFileSync(file, `import { cgroupSkb, arrayMap, type u64 } from '${DSL}';
export const sent = arrayMap<u64>({ maxEntries: 1 });
export const p = cgroupSkb('egress', (ctx) => {
  if (ctx.len === ${20 + 8 + PAYLOAD}) sent.increment(0);
  return 1;
});
`);
    const sendFrom = (where: string): void => {
      // A shell moves itself into the cgroup, then becomes node sending the datagrams to a port nobody listens on.
      const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n===${SENT})return s.close();s.send(Buffer.alloc(${PAYLOAD}),9,'127.0.0.1',()=>{n++;go();});};go();`;
      const r = spawnSync('sh', ['-c', `echo $$ > '${where}/cgroup.procs' && exec '${process.execPath}' -e "$0"`, script], { encoding: 'utf8', timeout: CHILD_DEADLINE });
      expect(r.status, r.stderr).to.equal(0);
    };
    try {
      const run = spawnRun([file, '--cgroup', cgroup, '--json'], join(dir, 'cache'));
      await untilAttached(run);
      sendFrom(cgroup);
      sendFrom(root!); // the same datagrams from outside the cgroup: not counted
      run.child.kill('SIGINT');
      expect(await run.exited, run.stderr).to.equal(0);
      const out = lines(run.stdout);
      expect(out[0]).to.deep.equal({ attached: 'p', where: `cgroup egress on ${cgroup}` });
      expect(out.find((l) => l.map === 'sent')?.value).to.equal(SENT);
    } finally {
      rmdirSync(cgroup);
    }
  });
});
