import { expect } from 'chai';
import { SyscallError, syscallError } from '../../src/syscall/bpf.js';
import { Errno, errnoName } from '../../src/syscall/errno.js';
import { hintFor } from '../../src/syscall/hints.js';
import { parseCpuList } from '../../src/kernel/cpus.js';

describe('syscall: errors and hints', () => {
  it('a SyscallError carries the command, errno name as code, and a hint', () => {
    const e = syscallError('BPF_MAP_CREATE (HASH)', Errno.EPERM);
    expect(e).to.be.instanceOf(SyscallError);
    expect(e.code).to.equal('EPERM');
    expect(e.errno).to.equal(1);
    // The EPERM hint depends on who asks: privileges for a user, the kernel's own refusal for root.
    const asRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;
    expect(e.message).to.match(asRoot ? /^BPF_MAP_CREATE \(HASH\): EPERM \(not permitted although running as root: kernel lockdown/ : /^BPF_MAP_CREATE \(HASH\): EPERM \(not permitted: run as root or with CAP_BPF/);
  });

  it('hints say what each errno usually means', () => {
    expect(hintFor('BPF_PROG_LOAD', Errno.EACCES)).to.match(/verifier rejected/);
    expect(hintFor('BPF_MAP_CREATE', Errno.E2BIG)).to.match(/too large/);
    expect(hintFor('BPF_MAP_CREATE', Errno.EINVAL)).to.match(/too old/);
    expect(hintFor('BPF_MAP_GET_FD_BY_ID', Errno.ENOENT)).to.match(/no such object/);
    expect(hintFor('BPF_MAP_LOOKUP_ELEM', Errno.ENOENT)).to.match(/no such element/);
    expect(hintFor('x', 12345)).to.equal(undefined);
    expect(errnoName(12345)).to.equal('errno 12345');
  });

  it('parses sysfs CPU lists', () => {
    expect(parseCpuList('0-3,5,7-8\n')).to.deep.equal([0, 1, 2, 3, 5, 7, 8]);
    expect(parseCpuList('0')).to.deep.equal([0]);
    expect(() => parseCpuList('0-a')).to.throw(/bad CPU list/);
  });
});
