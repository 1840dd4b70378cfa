/**
 * `tsbpf probes` lists what `bpftrace -l` lists, line for line: every
 * tracepoint, each one's fields with -v, and a binary's functions for
 * uprobes. bpftrace on the same machine is the oracle.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { globRegExp, tracepointFields } from '../../src/cli/commands/probes.js';
import { resolveBinaryPath } from '../../src/kernel/link-uprobe.js';
import { tsbpf } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { commandRuns } from '../support/tools.js';

const bpftrace = (...args: string[]): string => {
  const r = spawnSync('bpftrace', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout;
};

describe('tsbpf probes', () => {
  it('globs and format fields', () => {
    expect(globRegExp('tracepoint:sys*:sys_enter_open?t').test('tracepoint:syscalls:sys_enter_openat')).to.equal(true);
    expect(globRegExp('a.b').test('axb')).to.equal(false);
    const format = 'name: x\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:__data_loc char[] name;\toffset:32;\tsize:4;\tsigned:0;\n';
    expect(tracepointFields(format)).to.deep.equal([
      { type: 'char[16]', name: 'comm' },
      { type: 'const char *', name: 'filename' },
      { type: '__data_loc char[]', name: 'name' },
    ]);
  });

  describe('against bpftrace -l', function () {
    before(function () {
      needKernel(this); // tracefs is root's
      if (!commandRuns('bpftrace', '--version')) this.skip();
    });

    it('every tracepoint, and with -v every field, as bpftrace -l / -lv', () => {
      const all = tsbpf('probes');
      expect(all.status, all.stderr).to.equal(0);
      expect(all.stdout).to.equal(bpftrace('-l', 'tracepoint:*'));
      for (const pattern of ['tracepoint:sched:*', 'tracepoint:syscalls:sys_enter_open*']) {
        const r = tsbpf('probes', '-v', pattern);
        expect(r.stdout, pattern).to.equal(bpftrace('-lv', pattern));
      }
      // Without the kind, a pattern matches tracepoints: GROUP:NAME or a name alone.
      expect(tsbpf('probes', 'sched:sched_switch').stdout).to.equal('tracepoint:sched:sched_switch\n');
      expect(tsbpf('probes', 'sched_switch').stdout).to.equal('tracepoint:sched:sched_switch\n');
    });

    it("a binary's functions, by path or library name, as bpftrace -l 'uprobe:...'", function () {
      if (!existsSync('/bin/bash')) this.skip();
      expect(tsbpf('probes', 'uprobe:/bin/bash:read*').stdout).to.equal(bpftrace('-l', 'uprobe:/bin/bash:read*'));
      const libc = resolveBinaryPath('libc.so.6');
      const ours = tsbpf('probes', 'uprobe:libc.so.6:mall*').stdout.replaceAll('uprobe:libc.so.6:', `uprobe:${libc}:`);
      // bpftrace also reads separate debug files (libc6-dbg) for static functions; the symbols in the binary itself are the same.
      const theirs = bpftrace('-l', `uprobe:${libc}:mall*`).trim().split('\n');
      expect(ours.trim().split('\n')).to.include(`uprobe:${libc}:malloc`);
      expect(theirs).to.include.members(ours.trim().split('\n'));
    });

    it('--json: one object per probe, fields with -v', () => {
      const r = tsbpf('probes', '-v', '--json', 'tracepoint:syscalls:sys_enter_openat');
      expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l))).to.deep.equal([{
        probe: 'tracepoint:syscalls:sys_enter_openat',
        fields: [{ type: 'int', name: '__syscall_nr' }, { type: 'int', name: 'dfd' }, { type: 'const char *', name: 'filename' }, { type: 'int', name: 'flags' }, { type: 'umode_t', name: 'mode' }],
      }]);
    });

    it('kinds it does not list, and a binary it cannot read, are one line', () => {
      expect(tsbpf('probes', 'kprobe:vfs_*')).to.deep.include({ status: 2, stderr: "error: 'kprobe' probes are not listed; tsbpf probes lists tracepoint: and uprobe:BINARY\n" });
      const r = tsbpf('probes', 'uprobe:/nonexistent/bin:*');
      expect(r.status).to.equal(1);
      expect(r.stderr.split('\n')).to.have.length(2);
    });
  });
});
