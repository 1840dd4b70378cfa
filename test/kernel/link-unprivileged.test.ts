import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { runAsNobody } from '../support/unprivileged.js';
import { needKernel } from '../support/kernel.js';
import { countAll } from './link-programs.js';

describe('kernel: attaching without privilege', function () {
  before(function () {
    needKernel(this);
  });

  it('as nobody, attaching a tracepoint or a perf event program is a typed error with a hint', function () {
    using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using tp = Program.load({ type: 'TRACEPOINT', instructions: countAll(map.fd) });
    using perf = Program.load({ type: 'PERF_EVENT', instructions: countAll(map.fd) });
    const script = fileURLToPath(new URL('./link-unprivileged-child.ts', import.meta.url));
    const r = runAsNobody(script, { stdio: ['ignore', 'pipe', 'pipe', tp.fd, perf.fd] }); // the programs become fds 3 and 4 in the child
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { what: string; uid: number; name: string; code: string; message: string });
    const tracepoint = lines.find((l) => l.what === 'tracepoint')!;
    const perfResult = lines.find((l) => l.what === 'perf')!;
    expect(tracepoint.uid).to.equal(65534);
    expect(tracepoint.name).to.be.oneOf(['LinkError', 'SyscallError']);
    expect(tracepoint.code).to.be.oneOf(['EACCES', 'EPERM']);
    expect(tracepoint.message).to.match(/root|CAP_PERFMON/);
    expect(perfResult.name).to.equal('SyscallError');
    expect(perfResult.code).to.be.oneOf(['EACCES', 'EPERM']);
    expect(perfResult.message).to.match(/perf_event_open.*CAP_PERFMON/);
  });
});
