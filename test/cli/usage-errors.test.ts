import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { tsbpf as tsbpfText } from '../support/cli.js';

const object = fileURLToPath(new URL('../../bpf-tests/maps.bpf.o', import.meta.url));

const tsbpf = (args: string[]) => tsbpfText(...args);

describe('cli: usage errors', function () {

  it('an unknown option is one line with status 2, without a stack', () => {
    for (const cmd of ['asm', 'disasm', 'load', 'feature']) {
      const r = tsbpf([cmd, '--bogus']);
      expect(r.status, `${cmd}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trimEnd().split('\n'), cmd).to.have.length(1);
      expect(r.stderr).to.match(/^error: Unknown option '--bogus'/);
    }
  });

  it('a missing or ambiguous option value is one line with status 2', () => {
    const missing = tsbpf(['asm', '-o']);
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/^error: Option '-o, --output <value>' argument missing/);
    const ambiguous = tsbpf(['btf', 'dump', '--root', '-x']);
    expect(ambiguous.status).to.equal(2);
    expect(ambiguous.stderr.trimEnd().split('\n')).to.have.length(1);
  });

  it('load rejects a --log-level the kernel does not know before loading anything', () => {
    for (const level of ['abc', '9', '0']) {
      const r = tsbpf(['load', object, '--log-level', level]);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`--log-level must be 1 or 2`);
    }
  });

  it('feature rejects an extra argument as a usage error', () => {
    const r = tsbpf(['feature', 'extra']);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal("error: unexpected argument 'extra'\n");
  });
});
