/**
 * `tsbpf prog dump xlated` of a compiled module shows the TypeScript lines
 * from its line info where bpftool prog dump xlated shows them, over the
 * same translated instructions; `jited ... file F` writes the bytes bpftool writes.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsbpf } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/xdp-proto-count.bpf.ts', import.meta.url));

describe('tsbpf prog dump against bpftool prog dump', function () {
  const pin = `/sys/fs/bpf/${uniqueName('usrpdump')}`;
  let dir: string;
  const bpftool = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8' });

  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-prog-dump-user-'));
    const built = tsbpf('build', EXAMPLE, '-o', join(dir, 'm.o'));
    expect(built.status, built.stderr).to.equal(0);
    const r = bpftool('prog', 'loadall', join(dir, 'm.o'), pin);
    expect(r.status, r.stderr).to.equal(0);
  });
  after(() => {
    rmSync(pin, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('xlated: the TypeScript lines at the same instructions as bpftool, then every instruction', () => {
    const ours = tsbpf('prog', 'dump', 'xlated', 'pinned', `${pin}/countProtocols`);
    expect(ours.status, ours.stderr).to.equal(0);
    const theirs = bpftool('prog', 'dump', 'xlated', 'pinned', `${pin}/countProtocols`).stdout;
    // Each source line paired with the pc of the instruction after it.
    const pairs = (text: string, strip: (l: string) => string) => {
      const out: string[] = [];
      let pending: string | undefined;
      for (const line of text.split('\n')) {
        if (line.startsWith('; ')) pending = strip(line);
        const pc = /^\s*(\d+): /.exec(line);
        if (pc && pending !== undefined) {
          out.push(`${pc[1]} ${pending}`);
          pending = undefined;
        }
      }
      return out;
    };
    const ourPairs = pairs(ours.stdout, (l) => l.replace(/ {2}@ .*$/, ''));
    expect(ourPairs).to.deep.equal(pairs(theirs, (l) => l));
    expect(ourPairs).to.include('2 ; const eth = ctx.packet.at(EthHdr, 0);');
    expect(ours.stdout).to.contain(`@ ${EXAMPLE}:11:15`);
    const count = (text: string) => text.split('\n').filter((l) => /^\s*\d+: /.test(l)).length;
    expect(count(ours.stdout)).to.equal(count(theirs));
    const json = tsbpf('prog', 'dump', 'xlated', 'pinned', `${pin}/countProtocols`, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(json[2]).to.deep.include({ pc: 2, insn: 'r3 = r2', src: 'const eth = ctx.packet.at(EthHdr, 0);', line: 11 });
  });

  it('jited file F: the JIT code, as long as bpftool says it is (Debian bpftool has no disassembler to compare more)', function () {
    const ours = join(dir, 'ours.bin');
    const r = tsbpf('prog', 'dump', 'jited', 'pinned', `${pin}/countProtocols`, 'file', ours);
    if (r.status !== 0 && /not JIT-compiled/.test(r.stderr)) this.skip();
    expect(r.status, r.stderr).to.equal(0);
    const shown = JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${pin}/countProtocols`).stdout) as { bytes_jited: number };
    expect(readFileSync(ours).length).to.equal(shown.bytes_jited).and.be.greaterThan(0);
    const hexLines = tsbpf('prog', 'dump', 'jited', 'pinned', `${pin}/countProtocols`).stdout.trim().split('\n');
    expect(hexLines[0]).to.match(/^0000: ([0-9a-f]{2} ){15}[0-9a-f]{2}$/);
    expect(hexLines).to.have.length(Math.ceil(shown.bytes_jited / 16));
  });
});
