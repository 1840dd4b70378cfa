import { expect } from 'chai';
import { chooseAccel } from '../../vm-images/accel.js';
import { imagePackageFromShow, aptOptions, sourcesList } from '../../vm-images/apt.js';
import { VmError } from '../../vm-images/errors.js';
import { consoleTail, GuestTimeout, verdict } from '../../vm-images/guest-run.js';
import { runLayer, shQuote } from '../../vm-images/image.js';
import { findKernel, selectKernels } from '../../vm-images/kernels.js';
import { parseLdd } from '../../vm-images/libs.js';
import { isToolchainFile, packagesFromDpkgSearch } from '../../vm-images/toolchain.js';
import { modinfoDepends } from '../../vm-images/modules.js';
import { isRuntimeFile } from '../../vm-images/node-modules.js';
import { exitStatusFromConsole, parseControl } from '../../vm-images/protocol.js';
import { flakeRunResult } from '../../vm-images/vm.js';
import type { BootResult } from '../../vm-images/qemu.js';
import { qemuArgs } from '../../vm-images/qemu.js';
import { formatTable, outcomeOk, totalsLine } from '../../vm-images/results-table.js';
import { thrownBy } from '../support/thrown.js';

const vmError = (f: () => unknown): VmError => thrownBy(f, VmError, 'a VmError');

describe('vm: kernel table', () => {
  it('finds known kernels and lists the known ones for an unknown name', () => {
    expect(findKernel('6.1').suites).to.include('bookworm');
    expect(findKernel('5.10').suites).to.deep.equal(['bullseye', 'bullseye-security']);
    const e = vmError(() => findKernel('5.4'));
    expect(e.code).to.equal('UNKNOWN_KERNEL');
    expect(e.exitCode).to.equal(2);
    expect(e.message).to.match(/unknown kernel '5\.4'.*5\.10, 6\.1, 6\.12/);
  });

  it('selects lists in table order without duplicates; empty and "all" mean every kernel', () => {
    expect(selectKernels('6.12, 6.1,6.12,5.10').map((k) => k.name)).to.deep.equal(['5.10', '6.1', '6.12']);
    expect(selectKernels('').length).to.equal(selectKernels('all').length);
    expect(selectKernels(undefined).map((k) => k.name)).to.include.members(['6.1', '6.12']);
    expect(vmError(() => selectKernels('6.1,nope')).code).to.equal('UNKNOWN_KERNEL');
  });
});

describe('vm: apt with a private configuration', () => {
  it('writes one signed source line per suite, honouring a mirror override', () => {
    const spec = findKernel('6.1');
    expect(sourcesList(spec, undefined)).to.equal(
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n' +
        'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main\n',
    );
    expect(sourcesList(spec, 'http://mirror.test/debian/')).to.contain('http://mirror.test/debian-security bookworm-security');
  });

  it('points all apt state at the private folder', () => {
    const opts = aptOptions('/cache/apt/6.1').filter((o) => o !== '-o');
    for (const key of ['Dir::Etc::sourcelist', 'Dir::State::Lists', 'Dir::State::status', 'Dir::Cache', 'Dir::Etc::sourceparts', 'Dir::Etc::preferences']) {
      expect(opts.find((o) => o.startsWith(`${key}=`))).to.match(/=\/cache\/apt\/6\.1\//);
    }
    expect(opts.join(' ')).not.to.contain('/var/lib/apt');
  });

  it('reads the image package from the meta-package Depends line', () => {
    const show = 'Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\nDescription: x\n';
    expect(imagePackageFromShow(show)).to.deep.equal({ name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' });
    expect(imagePackageFromShow('Depends: linux-image-6.12.118+deb13-cloud-amd64 (= 6.12.118-1), foo')).to.deep.equal({
      name: 'linux-image-6.12.118+deb13-cloud-amd64',
      version: '6.12.118-1',
    });
    expect(imagePackageFromShow('Package: x\nDepends: libc6\n')).to.equal(null);
    expect(imagePackageFromShow('')).to.equal(null);
  });
});

describe('vm: guest control port', () => {
  const summary = { passes: 3, failures: 1, pending: 2, durationMs: 10, tests: [] };

  it('parses ready, test summary and exit lines, with CRs and unrelated lines', () => {
    const text = `noise\r\nTSBPF-VM-READY uptime=4.52 kernel=6.1.0-56-cloud-amd64\r\n[  5.1] kernel says hi\nTSBPF-VM-MOCHA ${JSON.stringify(summary)}\r\nTSBPF-VM-EXIT=1 uptime=99.25\r\n`;
    const r = parseControl(text);
    expect(r).to.deep.equal({ readyUptime: 4.52, release: '6.1.0-56-cloud-amd64', exitStatus: 1, exitUptime: 99.25, tests: summary });
  });

  it('reports nothing for an empty or truncated port', () => {
    expect(parseControl('')).to.deep.equal({});
    expect(parseControl('TSBPF-VM-READY uptime=3').exitStatus).to.equal(undefined);
    expect(parseControl('TSBPF-VM-EXIT=abc').exitStatus).to.equal(undefined);
  });

  it('rejects a test summary that is not JSON or lacks its counts', () => {
    expect(vmError(() => parseControl('TSBPF-VM-MOCHA {"passes":1,')).code).to.equal('BAD_RESULTS');
    expect(vmError(() => parseControl('TSBPF-VM-MOCHA {"passes":1,"failures":0}')).code).to.equal('BAD_RESULTS');
    expect(vmError(() => parseControl('TSBPF-VM-MOCHA null')).code).to.equal('BAD_RESULTS');
    expect(vmError(() => parseControl('TSBPF-VM-MOCHA {"passes":-1,"failures":0,"pending":0,"tests":[]}')).code).to.equal('BAD_RESULTS');
  });

  it('collects vm-flake runs: each end line takes the summary before it, a crashed run has none', () => {
    const second = { ...summary, passes: 4, failures: 0 };
    const text = [
      `TSBPF-VM-MOCHA ${JSON.stringify(summary)}`, 'TSBPF-VM-RUN-END status=1',
      'TSBPF-VM-RUN-END status=134', // mocha died before its reporter wrote anything
      `TSBPF-VM-MOCHA ${JSON.stringify(second)}`, 'TSBPF-VM-RUN-END status=0', 'TSBPF-VM-EXIT=0',
    ].join('\r\n');
    const r = parseControl(text);
    expect(r.runs).to.deep.equal([{ status: 1, tests: summary }, { status: 134 }, { status: 0, tests: second }]);
    expect(r.tests).to.deep.equal(second);
    const results = [0, 1, 2, 3].map((i) => flakeRunResult(r.runs![i]));
    expect(results.map((x) => x.problem)).to.deep.equal([undefined, 'mocha exited 134 without a test summary', undefined, 'never ran (the guest stopped before it)']);
    const withTest = flakeRunResult({ status: 1, tests: { ...summary, tests: [{ title: 't', file: 'test/kernel/x.test.js', state: 'failed', durationMs: 1, error: 'boom' }] } });
    expect(withTest).to.deep.equal({ tests: [{ title: 't', file: 'test/kernel/x.test.ts', state: 'failed', error: 'boom' }] });
  });

  it('falls back to the last exit line on the console', () => {
    expect(exitStatusFromConsole('a\r\nTSBPF-VM-EXIT=0\r\nTSBPF-VM-EXIT=42\r\n')).to.equal(42);
    expect(exitStatusFromConsole('echo TSBPF-VM-EXIT=3 in a sentence')).to.equal(undefined);
  });
});

describe('vm: verdict of a boot', () => {
  const boot = (over: Partial<BootResult>): BootResult => ({
    timedOut: false,
    qemuStatus: 0,
    signal: null,
    console: 'line 1\r\nline 2\r\n',
    control: '',
    seconds: 5,
    qemuStderr: '',
    ...over,
  });

  it('returns the command status, zero or not', () => {
    expect(verdict('6.1', boot({}), { exitStatus: 0 }, 60)).to.equal(0);
    expect(verdict('6.1', boot({}), { exitStatus: 7 }, 60)).to.equal(7);
    expect(verdict('6.1', boot({ console: 'TSBPF-VM-EXIT=5\r\n' }), {}, 60)).to.equal(5);
  });

  it('a guest killed by the timeout is an error with exit status 124 and the console tail', () => {
    const e = vmError(() => verdict('6.12', boot({ timedOut: true, qemuStatus: null, signal: 'SIGTERM' }), {}, 30));
    expect(e.code).to.equal('GUEST_TIMEOUT');
    expect(e.exitCode).to.equal(124);
    expect(e.message).to.match(/6\.12 did not finish within 30 s.*never reached the command/s);
    expect(e.message).to.contain('  | line 2');
  });

  it('a flake guest killed at its deadline keeps the runs that finished before it (all five were lost at load 15)', () => {
    const summary = { passes: 1, failures: 0, pending: 0, durationMs: 2, tests: [{ title: 't', file: 'test/kernel/x.test.js', state: 'passed' as const, durationMs: 1 }] };
    const report = { runs: [{ status: 0, tests: summary }, { status: 0, tests: summary }] };
    const e = vmError(() => verdict('6.12', boot({ timedOut: true, qemuStatus: null, signal: 'SIGTERM' }), report, 30));
    expect(e).to.be.instanceOf(GuestTimeout);
    expect((e as GuestTimeout).report.runs).to.have.length(2);
    expect(flakeRunResult((e as GuestTimeout).report.runs![1]).tests).to.deep.equal([{ title: 't', file: 'test/kernel/x.test.ts', state: 'passed' }]);
  });

  it('a guest that ends without a status (panic, qemu error) is an error, never success', () => {
    const e = vmError(() => verdict('6.1', boot({ console: 'Kernel panic - not syncing\r\n', qemuStderr: 'qemu: boom' }), {}, 30));
    expect(e.code).to.equal('GUEST_NO_STATUS');
    expect(e.exitCode).not.to.equal(0);
    expect(e.message).to.contain('Kernel panic').and.to.contain('qemu said: qemu: boom');
  });

  it('keeps only the last console lines', () => {
    const text = Array.from({ length: 40 }, (_, i) => `l${i}`).join('\n');
    const tail = consoleTail(text, 3);
    expect(tail).to.equal('  | l37\n  | l38\n  | l39');
  });
});

describe('vm: results table', () => {
  it('prints kernel × pass/fail/skip and a closing totals line', () => {
    const outcomes = [
      { kernel: '6.1', release: '6.1.0-56-cloud-amd64', passes: 10, failures: 0, pending: 1, seconds: 95.2, bootSeconds: 6.1 },
      { kernel: '6.12', release: '6.12.118', passes: 9, failures: 1, pending: 1, seconds: 99, bootSeconds: 7 },
      { kernel: '6.6', seconds: 30, problem: 'GUEST_TIMEOUT' },
    ];
    const table = formatTable(outcomes).split('\n');
    expect(table[0]).to.match(/^kernel\s+release\s+pass\s+fail\s+skip\s+boot s\s+total s\s+result$/);
    expect(table[2]).to.match(/^6\.1\s+6\.1\.0-56-cloud-amd64\s+10\s+0\s+1\s+6\.1\s+95\.2\s+ok$/);
    expect(table[3]).to.match(/\s9\s+1\s+1\s.*FAIL$/);
    expect(table[4]).to.match(/^6\.6\s+\?\s+-\s+-\s+-\s+-\s+30\.0\s+FAIL: GUEST_TIMEOUT$/);
    expect(totalsLine(outcomes)).to.equal('vm-test: 19 passed, 2 failed, 2 skipped');
    expect(outcomes.map(outcomeOk)).to.deep.equal([true, false, false]);
  });

  it('a run with no counts is not ok', () => {
    expect(outcomeOk({ kernel: '6.1', seconds: 1 })).to.equal(false);
  });
});

describe('vm: image helpers', () => {
  it('reads shared libraries from ldd output (loader included, vDSO not)', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f)',
    ].join('\n');
    expect(parseLdd(out)).to.deep.equal(['/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(parseLdd('\tnot a dynamic executable')).to.deep.equal([]);
  });

  it("reads a module's dependencies from its modinfo strings", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(modinfoDepends(enc('\x7fELF....\0license=GPL\0depends=sch-ingress,nf_tables\0vermagic=6.1\0'))).to.deep.equal(['sch_ingress', 'nf_tables']);
    expect(modinfoDepends(enc('\0depends=\0name=veth\0'))).to.deep.equal([]);
    expect(modinfoDepends(enc('no modinfo here'))).to.deep.equal([]);
  });

  it('reads package names from dpkg -S output', () => {
    const out = [
      'libgcc-12-dev:amd64: /usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a',
      'gcc-12: /usr/bin/x86_64-linux-gnu-gcc-12',
      'diversion by dash from: /bin/sh',
      'libc6-dev:amd64, libc6-dev:i386: /usr/include/stdio.h',
      'dpkg-query: no path found matching pattern /nope',
    ].join('\n');
    expect(packagesFromDpkgSearch(out)).to.deep.equal(['gcc-12', 'libc6-dev', 'libgcc-12-dev']);
  });

  it('leaves docs and LTO out of the toolchain', () => {
    expect(isToolchainFile('/usr/lib/gcc/x86_64-linux-gnu/12/cc1')).to.equal(true);
    expect(isToolchainFile('/usr/include/stdio.h')).to.equal(true);
    expect(isToolchainFile('/usr/share/doc/gcc-12/copyright')).to.equal(false);
    expect(isToolchainFile('/usr/lib/gcc/x86_64-linux-gnu/12/lto1')).to.equal(false);
    expect(isToolchainFile('/usr/bin/x86_64-linux-gnu-lto-dump-12')).to.equal(false);
  });

  it('keeps only files node loads from node_modules', () => {
    expect(isRuntimeFile('dist/index.js')).to.equal(true);
    expect(isRuntimeFile('linux_x64/koffi.node')).to.equal(true);
    expect(isRuntimeFile('musl_x64/koffi.node')).to.equal(false);
    expect(isRuntimeFile('dist/index.js.map')).to.equal(false);
    expect(isRuntimeFile('index.d.ts')).to.equal(false);
    expect(isRuntimeFile('README.md')).to.equal(false);
  });

  it('quotes the command environment for the guest shell', () => {
    expect(shQuote("it's $HOME")).to.equal(`'it'\\''s $HOME'`);
    const layer = new TextDecoder().decode(runLayer({ mode: 'run', command: 'echo "$X"', env: { X: "a'b" } }));
    expect(layer).to.contain("export X='a'\\''b'").and.to.contain("export TSBPF_VM_MODE='run'").and.to.contain("export NODE_OPTIONS='--disable-wasm-trap-handler'").and.to.contain('echo "$X"\n');
    expect(vmError(() => runLayer({ mode: 'run', command: 'true', env: { 'BAD-NAME': '1' } })).code).to.equal('BAD_USAGE');
  });

  it('boots quietly on the serial console and never reboots', () => {
    const args = qemuArgs({ vmlinuz: '/k', initrd: '/i', controlFile: '/c', accel: 'tcg', timeoutSeconds: 1 });
    expect(args.join(' '), 'no AVX under TCG').to.contain('-cpu max,avx=off,avx2=off,fma=off,f16c=off');
    expect(args).to.include('-no-reboot');
    expect(args.join(' ')).to.contain('-serial stdio -serial file:/c').and.to.contain('panic=-1').and.to.contain('tcg');
    expect(qemuArgs({ vmlinuz: '/k', initrd: '/i', controlFile: '/c', accel: 'kvm', timeoutSeconds: 1 }).join(' ')).to.contain('-accel kvm');
    // a starved emulated boot must not panic in the IO-APIC timer check (seen on 6.1 under load 45)
    expect(args.join(' ')).to.contain('no_timer_check');
  });
});

describe('vm: accelerator choice', () => {
  const kernel = { name: '6.1', packageName: 'p', packageVersion: 'v', release: 'r', vmlinuz: '/nonexistent', modulesDir: '/nonexistent', config: '/nonexistent' };
  const saved = process.env.TSBPF_VM_ACCEL;
  afterEach(() => {
    if (saved === undefined) delete process.env.TSBPF_VM_ACCEL;
    else process.env.TSBPF_VM_ACCEL = saved;
  });

  it('TSBPF_VM_ACCEL forces kvm or tcg and refuses anything else', async () => {
    process.env.TSBPF_VM_ACCEL = 'tcg';
    expect(await chooseAccel(kernel)).to.equal('tcg');
    process.env.TSBPF_VM_ACCEL = 'kvm';
    expect(await chooseAccel(kernel)).to.equal('kvm');
    process.env.TSBPF_VM_ACCEL = 'hvf';
    const e = await chooseAccel(kernel).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).to.be.instanceOf(VmError);
    expect((e as VmError).code).to.equal('BAD_USAGE');
  });
});
