/**
 * Bad input to the dev-VM script: each a clear message and a non-zero exit,
 * never a silent success. Fast: nothing here boots or downloads.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function vm(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'vm-images/vm.ts', ...args], {
    cwd: projectDir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vm: command-line bad input', function () {
  let cache: string;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'vm-cache-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('an unknown kernel name lists the known ones, exit 2', () => {
    const r = vm(['run', '--kernel', '4.19', '--cmd', 'true'], { TSBPF_VM_CACHE: cache });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/unknown kernel '4\.19': known kernels are 5\.10, 6\.1, 6\.12/);
  });

  it('a missing qemu is named with the package to install', () => {
    const r = vm(['run', '--kernel', '6.1', '--cmd', 'true'], { TSBPF_VM_CACHE: cache, TSBPF_VM_QEMU: '/nonexistent/qemu-system-x86_64' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("'/nonexistent/qemu-system-x86_64' is not installed").and.to.contain('apt-get install qemu-system-x86');
  });

  it('no network to fetch a kernel is a clear error', function () {
    if (spawnSync('apt-get', ['--version']).status !== 0) this.skip();
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    const r = vm(['kernels', '--kernel', '6.1'], { TSBPF_VM_CACHE: cache, TSBPF_VM_MIRROR: 'http://127.0.0.1:9/debian' });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/cannot fetch Debian's package lists for bookworm, bookworm-security \(kernel 6\.1\): no network/);
  });

  it('run without a command, an unknown subcommand and a bad timeout are usage errors', () => {
    const none = vm(['run', '--kernel', '6.1'], { TSBPF_VM_CACHE: cache });
    expect(none.status).to.equal(2);
    expect(none.stderr).to.contain('no command');
    const unknown = vm(['frobnicate'], { TSBPF_VM_CACHE: cache });
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.contain("unknown command 'frobnicate'");
    const timeout = vm(['run', '--timeout', 'soon', '--cmd', 'true'], { TSBPF_VM_CACHE: cache });
    expect(timeout.status).to.equal(2);
    expect(timeout.stderr).to.contain("--timeout must be a positive number, not 'soon'");
  });

  it('list shows the kernel table without touching the network', () => {
    const r = vm(['list'], { TSBPF_VM_CACHE: cache, TSBPF_VM_MIRROR: 'http://127.0.0.1:9/debian' });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^6\.1\s+linux-image-cloud-amd64 from bookworm, bookworm-security$/m);
    expect(r.stdout).to.match(/^6\.12\s+linux-image-cloud-amd64 from trixie, trixie-security$/m);
  });
});
