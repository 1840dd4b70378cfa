/**
 * The kernel rejects a compiled program that reads raw memory through the
 * escape hatch; the error must point at that TypeScript line, and the
 * verifier's own log must quote the TypeScript source (line info in BTF).
 */
import { expect } from 'chai';
import { DslVerifierError, loadCompiledModule } from '../../src/cli/dsl-live.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, MODULE_DIR } from './support/harness.js';

const source = `import { xdp, bpf, u32 } from 'tsbpf/dsl';
export const p = xdp((ctx) => {
  const len = ctx.packet.length;
  if (len < 10) return 1;
  const word = bpf.unsafeLoad(0x1000, 8);
  return u32(word);
});
`;

describe('dsl: kernel rejection points at TypeScript', () => {
  it('reports the line and column of the rejected instruction, with a code frame', function () {
    needKernel(this);
    const mod = compileSource(source);
    let err: unknown;
    try {
      loadCompiledModule(mod).close();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DslVerifierError);
    const e = err as DslVerifierError;
    expect(e.source).to.include({ file: `${MODULE_DIR}/m.bpf.ts`, line: 5, column: 16 });
    expect(e.message).to.include(`${MODULE_DIR}/m.bpf.ts:5:16`);
    expect(e.message).to.include('const word = bpf.unsafeLoad(0x1000, 8);');
    expect(e.message).to.match(/\^/);
    // The verifier itself prints our TypeScript lines from the BTF line info.
    expect(e.verifier.log).to.include('; const word = bpf.unsafeLoad(0x1000, 8);');
    expect(e.verifier.log).to.match(/invalid mem access 'scalar'/);
  });
});
