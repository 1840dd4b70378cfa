/**
 * The kernel takes every module's BTF (BPF_BTF_LOAD). The loader falls back
 * to no BTF when it is refused (maps and programs still load), which once hid
 * a typedef named `Ptr<tcp_sock>`: no line info, no map types, and libbpf's
 * "BTF loading error" for every module with a kernel pointer in a map.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { buildModuleBtf } from '../../src/dsl/compiler/module-btf.js';
import { BtfObject } from '../../src/kernel/btf-object.js';
import { needKernel } from '../support/kernel.js';

const EXAMPLES = ['examples', 'examples/tools'].flatMap((d) => readdirSync(resolve(d)).filter((f) => f.endsWith('.bpf.ts')).map((f) => join(d, f)));

describe('dsl module BTF in the kernel', function () {
  this.timeout(120000);

  it('every example and tool has BTF the kernel accepts', function () {
    needKernel(this);
    const refused: string[] = [];
    for (const f of EXAMPLES) {
      try {
        BtfObject.load(buildModuleBtf(compile(nodeCompileOptions(resolve(f)))).builder.encode()).close();
      } catch (e) {
        refused.push(`${f}: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
      }
    }
    expect(refused).to.deep.equal([]);
  });
});
