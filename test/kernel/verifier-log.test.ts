/**
 * Every verifier rejection is loaded again with a log, whatever its errno
 * (issue 13 item 8): E2BIG ("BPF program is too large"), EFAULT ("The
 * sequence of 8193 jumps is too complex") used to skip the retry and show
 * only the errno. Each path is driven through the real kernel: the error is
 * a VerifierError with the errno of the rejection, its log and, for a
 * compiled module, the TypeScript line.
 */
import { expect } from 'chai';
import { assemble } from '../../src/asm/index.js';
import { DslVerifierError, loadCompiledModule } from '../../src/cli/dsl-live.js';
import { Program } from '../../src/kernel/program.js';
import { VerifierError } from '../../src/kernel/verifier-error.js';
import { SyscallError } from '../../src/syscall/bpf.js';
import { Errno } from '../../src/syscall/errno.js';
import { compileSource, MODULE_DIR } from '../dsl/support/harness.js';
import { needKernel } from '../support/kernel.js';
import { skipBecause } from '../support/features.js';
import { kernelAtLeast } from './helpers.js';

const load = (src: string, opts: { maxLogSize?: number } = {}) =>
  Program.load({ type: 'SOCKET_FILTER', bytes: assemble(src, { syntax: 'llvm' }).bytes, ...opts }).close();

function rejection(fn: () => void): VerifierError {
  try {
    fn();
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(VerifierError);
    return e as VerifierError;
  }
  throw new Error('the program loaded');
}

describe('kernel: every verifier rejection shows its log', function () {
  beforeEach(function () {
    needKernel(this);
  });

  it('EACCES: reading an uninitialized register', () => {
    const e = rejection(() => load('exit'));
    expect(e.errno).to.equal(Errno.EACCES);
    expect(e.log).to.match(/R0 !read_ok/);
    expect(e.message).to.match(/verifier log, last \d+ of \d+ lines:/);
  });

  it('EINVAL: a jump out of the program', () => {
    const e = rejection(() => load('r0 = 0\nif r0 == 0 goto +5\nexit'));
    expect(e.errno).to.equal(Errno.EINVAL);
    expect(e.log).to.match(/jump out of range/);
  });

  it('E2BIG: the verifier processed more than 1M instructions', function () {
    const e = rejection(() => load('r1 = 0\nl1:\nr1 += 1\nif r1 < 100000000 goto l1\nr0 = 0\nexit', { maxLogSize: 256 << 20 }));
    expect(e.errno).to.equal(Errno.E2BIG);
    // 5.10's log of those 1M instructions is larger than 256 MiB, and before 6.4 a log that does not fit keeps its head, not the verdict.
    if (e.truncated && !kernelAtLeast(6, 4)) skipBecause(this, 'the verifier log does not fit in 256 MiB and this kernel truncates its end (rotating logs: Linux 6.4)');
    expect(e.log).to.match(/BPF program is too large\. Processed 1000001 insn/);
    expect(e.message).to.match(/more than 1M instructions/);
  });

  it('EFAULT: a sequence of more than 8192 jumps', () => {
    const body = Array.from({ length: 8300 }, (_, i) => `if r2 == ${i} goto +1\nr0 = ${i & 7}`).join('\n');
    const e = rejection(() => load(`r2 = *(u32 *)(r1 + 0)\n${body}\nr0 = 0\nexit`));
    // EFAULT on 6.1 and 6.18; Debian's 6.12 answers the same rejection with E2BIG. Either way the log is there.
    expect([Errno.EFAULT, Errno.E2BIG]).to.include(e.errno);
    expect(e.log).to.match(/The sequence of 8193 jumps is too complex/);
  });

  it('ENOSPC: a log that never fits is shown truncated, with the errno of the rejection', () => {
    const body = Array.from({ length: 200 }, (_, i) => `r1 = ${i}`).join('\n');
    const e = rejection(() => load(`${body}\nexit`, { maxLogSize: 1024 }));
    expect(e.errno).to.equal(Errno.EACCES);
    expect(e.truncated).to.equal(true);
    expect(e.log.length).to.be.greaterThan(0);
    expect(e.message).to.match(/verifier log \(truncated\)/);
  });

  it('with logLevel, a log that never fits still gives the verdict: an accepted program loads with the part of its log that fitted, a rejected one has its own errno', () => {
    const body = Array.from({ length: 200 }, (_, i) => `r1 = ${i}`).join('\n');
    const good = Program.load({ type: 'SOCKET_FILTER', bytes: assemble(`${body}\nr0 = 0\nexit`, { syntax: 'llvm' }).bytes, logLevel: 2, maxLogSize: 1024 });
    try {
      // The head before Linux 6.4, the tail (rotating logs) since.
      expect(good.verifierLog, 'the log that fitted').to.match(/^\d+: \(b7\) r1 = \d+/m);
    } finally {
      good.close();
    }
    const e = rejection(() => Program.load({ type: 'SOCKET_FILTER', bytes: assemble(`${body}\nexit`, { syntax: 'llvm' }).bytes, logLevel: 2, maxLogSize: 1024 }).close());
    expect(e.errno).to.equal(Errno.EACCES);
    expect(e.truncated).to.equal(true);
  });

  it('a load refused before verification (no log) stays a plain SyscallError with its hint', () => {
    // An unknown program type: the kernel refuses it before any verification.
    let err: unknown;
    try {
      Program.load({ type: 999, bytes: assemble('r0 = 0\nexit', { syntax: 'llvm' }).bytes }).close();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SyscallError);
    expect(err).to.not.be.instanceOf(VerifierError);
    expect((err as SyscallError).errno).to.equal(Errno.EINVAL);
  });

  it('a compiled module rejected with E2BIG points at its TypeScript line', () => {
    const ifs = Array.from({ length: 40 }, (_, i) => `  if ((t >> ${i}) & 1) a = u32(a * 3 + ${i});`).join('\n');
    const mod = compileSource(`import { tracepoint, bpf, u32, type u8, type FixedArray } from 'tsbpf/dsl';
export const p = tracepoint('syscalls/sys_enter_execve', () => {
  const t = bpf.ktimeNs();
  let a: u32 = 0;
${ifs}
  let buf!: FixedArray<u8, 64>;
  buf[a & 63] = 1;
  return u32(buf[(a >> 3) & 63]);
});
`);
    let err: unknown;
    try {
      loadCompiledModule(mod).close();
    } catch (e) {
      err = e;
    }
    expect(err, String(err)).to.be.instanceOf(DslVerifierError);
    const e = err as DslVerifierError;
    expect(e.verifier.errno).to.equal(Errno.E2BIG);
    expect(e.source?.file).to.equal(`${MODULE_DIR}/m.bpf.ts`);
    expect(e.source?.line).to.be.within(5, 47);
    expect(e.message).to.match(/BPF program is too large/);
  });
});
