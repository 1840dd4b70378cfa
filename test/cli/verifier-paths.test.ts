/**
 * Every way the kernel's verifier rejects a compiled module, through
 * `tsbpf run` as a user meets it: the errno, the verifier's own log (the
 * whole of it with --log-level) and the TypeScript line the failing
 * instruction came from, with a code frame. One module per path: EACCES,
 * EINVAL, E2BIG, EFAULT, and ENOSPC (a log too big for --log-size).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsbpf } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';

const DSL = new URL('../../src/dsl/index.js', import.meta.url).pathname;

/** `full`: run with --log-level 1 (the whole log printed; not for the two whose logs run to megabytes). */
const modules: Record<string, { text: string; line: number; log: RegExp; full: boolean; args?: string[] }> = {
  EACCES: {
    text: `import { tracepoint, bpf } from '${DSL}';
export const p = tracepoint('syscalls/sys_enter_getppid', () => {
  return bpf.unsafeLoad(64, 4) > 0 ? 1 : 0;
});
`,
    line: 3,
    log: /invalid mem access/,
    full: true,
  },
  EINVAL: {
    text: `import { cgroupSkb } from '${DSL}';
export const p = cgroupSkb('ingress', (ctx) => {
  return ctx.len > 100 ? 1 : 7;
});
`,
    line: 3,
    log: /At program exit the register R0 has .* should have been in \[0, 1\]/,
    full: true,
  },
  E2BIG: {
    text: `import { tracepoint, bpf, u32, type u8, type FixedArray } from '${DSL}';
export const p = tracepoint('syscalls/sys_enter_getppid', () => {
  const t = bpf.ktimeNs();
  let a: u32 = 0;
${Array.from({ length: 40 }, (_, i) => `  if ((t >> ${i}) & 1) a = u32(a * 3 + ${i});`).join('\n')}
  let buf!: FixedArray<u8, 64>;
  buf[a & 63] = 1;
  return u32(buf[(a >> 3) & 63]);
});
`,
    line: 0, // somewhere in the 40 branches: checked as a range below
    log: /BPF program is too large/,
    full: false,
  },
  EFAULT: {
    text: `import { tracepoint, bpf, range, type u32 } from '${DSL}';
export const p = tracepoint('syscalls/sys_enter_getppid', () => {
  const t = bpf.ktimeNs();
  let a: u32 = 0;
  for (const i of range(9000)) {
    if ((t >> (i & 63)) & 1) a = a + 1;
  }
  return a;
});
`,
    line: 6,
    log: /The sequence of 8193 jumps is too complex/,
    full: false,
  },
  ENOSPC: {
    text: `import { tracepoint, bpf, u32 } from '${DSL}';
export const p = tracepoint('syscalls/sys_enter_getppid', () => {
  const t = bpf.ktimeNs();
  let a: u32 = 0;
${Array.from({ length: 30 }, (_, i) => `  if ((t >> ${i}) & 1) a = u32(a + ${i});`).join('\n')}
  return bpf.unsafeLoad(u32(a) + 64, 4) > 0 ? 1 : 0;
});
`,
    line: 35,
    log: /invalid mem access/,
    full: false,
    args: ['--log-size', '4096'],
  },
};

describe('tsbpf run: every verifier rejection shows the log and the TypeScript line', function () {
  this.timeout(180000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-reject-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [errno, m] of Object.entries(modules)) {
    it(`${errno}`, function () {
      needKernel(this);
      const file = join(dir, `${errno.toLowerCase()}.bpf.ts`);
      writeFileSync(file, m.text);
      const r = tsbpf('run', file, '--duration', '1', '--no-cache', ...(m.full ? ['--log-level', '1'] : []), ...(m.args ?? []));
      expect(r.status, r.stderr).to.equal(1);
      const errLine = r.stderr.split('\n').find((l) => l.startsWith('error: '));
      const at = new RegExp(`^error: ${file.replace(/[.]/g, '\\.')}:(\\d+):\\d+: the kernel rejected program p \\((\\w+)\\)$`).exec(errLine ?? '');
      expect(at, r.stderr).to.not.equal(null);
      // A log that did not fit keeps the errno of the rejection itself.
      expect(at![2]).to.equal(errno === 'ENOSPC' ? 'EACCES' : errno);
      const line = Number(at![1]);
      if (m.line) expect(line, r.stderr).to.equal(m.line);
      else expect(line).to.be.within(5, 47);
      // The code frame quotes that line of the module.
      const frame = m.text.split('\n')[line - 1]!;
      expect(r.stderr).to.include(`${line} | ${frame}`);
      // The verifier's own words, in the summary and (with --log-level) in the full log before it.
      expect(r.stderr).to.match(m.log);
      if (m.full) expect(r.stderr).to.match(/verifier log of p:\n[^]*\n0: [^]*\nerror: /);
      if (errno === 'ENOSPC') expect(r.stderr).to.include('truncated: it did not fit the log buffer, ENOSPC');
    });
  }

  it('a clang object: the log, the C line with a code frame, and --log-size honoured (a log that does not fit keeps the verdict)', function () {
    needKernel(this);
    const object = new URL('../../bpf-tests/negative/verifier_reject.bpf.o', import.meta.url).pathname;
    for (const args of [[], ['--log-level', '1', '--log-size', '256']]) {
      const r = tsbpf('run', object, '--duration', '1', ...args);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr, args.join(' ')).to.include('error: ./negative/verifier_reject.bpf.c:10:9: the kernel rejected program reads_scalar (EACCES)\n10 | \treturn p[3];\n');
      if (!args.length) expect(r.stderr).to.match(/R1 invalid mem access 'scalar'/); // a cut log keeps its head before Linux 6.4
      if (args.length) expect(r.stderr).to.match(/^verifier log of reads_scalar:\n/m).and.include('truncated: it did not fit the log buffer, ENOSPC');
    }
  });
});
