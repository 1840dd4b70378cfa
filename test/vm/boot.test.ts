/**
 * Real boots of the dev VMs (slow: tens of seconds each under software
 * emulation), so only with TSBPF_VM_TESTS=1. They need qemu and the kernels
 * (fetched on first use into vm-images/cache).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const enabled = process.env.TSBPF_VM_TESTS === '1';

function vm(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'vm-images/vm.ts', ...args], {
      cwd: projectDir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => done({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

describe('vm: real guest boots (TSBPF_VM_TESTS=1)', function () {
  this.timeout(600_000);
  before(function () {
    if (!enabled) this.skip();
  });

  for (const kernel of ['5.10', '6.1', '6.12']) {
    it(`kernel ${kernel}: the command runs as root in the project with BPF file systems mounted; its output and status come back`, async () => {
      const r = await vm(['run', '--kernel', kernel, '--cmd', 'uname -r; id -u; pwd; grep -c -E " (bpf|tracefs|cgroup2|debugfs) " /proc/mounts; npx tsbpf --version']);
      expect(r.status, r.stderr).to.equal(0);
      const lines = r.stdout.split('\n');
      expect(lines).to.include.members(['0', '/work/tsbpf', '4', 'tsbpf 0.1.0', 'TSBPF-VM-EXIT=0']);
      expect(lines.find((l) => l.startsWith(kernel))).to.match(/-cloud-amd64$/);
      expect(r.stderr).to.match(new RegExp(`kernel ${kernel.replace('.', '\\.')} .*exit status 0, command started [\\d.]+ s after qemu`));
    });
  }

  it('kernel 6.1: tsbpf run compiles, loads and attaches an example module; its events and maps come back', async () => {
    // Something to count: execs in the background while the module runs.
    const cmd = '(for i in $(seq 120); do sleep 0.5; /bin/true; done) & npx tsbpf run examples/execve-count.bpf.ts --duration 4';
    const r = await vm(['run', '--kernel', '6.1', '--cmd', cmd]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('attached onExecve to tracepoint syscalls/sys_enter_execve');
    expect(r.stdout).to.match(/execs \{ pid: \d+, comm: "sh", filename: "\/bin\/true" \}/);
    expect(r.stdout).to.match(/execsByName .*\n\s+"sh" → [1-9]\d*/);
    expect(r.stdout).not.to.contain('\x1b['); // not a terminal here: no colour from the guest
  });

    it('a command that fails in the guest fails the run with its exit status', async () => {
    const r = await vm(['run', '--kernel', '6.1', '--cmd', 'echo partial output; exit 7']);
    expect(r.status).to.equal(7);
    expect(r.stdout).to.contain('partial output');
    expect(r.stderr).to.contain('the command FAILED in the guest with exit status 7');
  });

  it('a guest that hangs is killed at the timeout and reported', async () => {
    const r = await vm(['run', '--kernel', '6.1', '--timeout', '40', '--cmd', 'echo started; sleep 3600']);
    expect(r.status).to.equal(124);
    expect(r.stderr).to.contain('did not finish within 40 s and was killed');
    expect(r.seconds).to.be.lessThan(600); // killed at its timeout, long before the hour the command would take (start-up under load adds seconds)
  });

  it('vm test prints the kernel × pass/fail/skip table from the guest reporter', async () => {
    // The pure parsing tests: they pass anywhere, so the counts are known.
    const r = await vm(['test', '--kernel', '6.12', '--tests', 'test/vm/parsing.test.ts']);
    expect(r.status, r.stderr).to.equal(0);
    const row = /^6\.12\s+6\.12\.\S+\s+(\d+)\s+0\s+0\s+[\d.]+\s+[\d.]+\s+ok$/m.exec(r.stdout);
    expect(row, r.stdout).not.to.equal(null);
    expect(Number(row![1])).to.be.greaterThan(20);
    expect(r.stdout).to.contain(`vm-test: ${row![1]} passed, 0 failed, 0 skipped`);
  });
});
