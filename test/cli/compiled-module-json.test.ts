/**
 * The build cache and the compiler's start-up snapshot hand modules around
 * as text: a module read back must write the same object, byte for byte,
 * including the CO-RE part (kernel structs that point at each other, which
 * once made every CO-RE module fail to serialize).
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deserializeModule, serializeModule } from '../../src/cli/compiled-module-json.js';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { writeObject } from '../../src/dsl/compiler/object.js';

const EXAMPLES = ['examples', 'examples/tools'].flatMap((d) => readdirSync(resolve(d)).filter((f) => f.endsWith('.bpf.ts')).map((f) => join(d, f)));

describe('cli: compiled modules as JSON text (build cache, compiler snapshot)', function () {
  this.timeout(120000);

  it('every example, CO-RE tools included, writes the same object after a round trip', () => {
    expect(EXAMPLES.filter((f) => f.startsWith('examples/tools/')).length).to.be.greaterThan(10);
    let withCore = 0;
    for (const f of EXAMPLES) {
      const mod = compile(nodeCompileOptions(resolve(f)));
      if (mod.kernel) withCore++;
      const back = deserializeModule(serializeModule(mod));
      expect(Buffer.from(writeObject(back)).equals(Buffer.from(writeObject(mod))), f).to.equal(true);
    }
    expect(withCore, 'modules with CO-RE relocations').to.be.greaterThan(3);
  });
});
