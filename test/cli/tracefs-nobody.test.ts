import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { needKernel } from '../support/kernel.js';
import { runAsNobody } from '../support/unprivileged.js';

describe('cli: a tracepoint module compiled by a user who may not read tracefs', function () {
  this.timeout(60_000);
  before(function () {
    needKernel(this); // root, to become nobody
  });

  it('says that tracefs is root-only, not "is tracefs mounted?"', () => {
    const r = runAsNobody(fileURLToPath(new URL('./tracefs-nobody-child.ts', import.meta.url)));
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { uid: number; message: string };
    expect(out.uid).to.equal(65534);
    expect(out.message).to.match(/tracepoint sched\/sched_switch cannot be read: permission denied reading \/sys\/kernel\/(debug\/)?tracing\/events\/sched\/sched_switch\/format: tracefs is readable by root only/);
    expect(out.message).to.not.include('is tracefs mounted');
  });
});
