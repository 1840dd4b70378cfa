import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BpfMap, BtfObject, ObjectClosedError, Program } from '../../src/kernel/index.js';
import { runAsNobody } from '../support/unprivileged.js';
import { needKernel } from '../support/kernel.js';
import { returnConst, smallBtf } from './helpers.js';

const fdCount = (): number => readdirSync('/proc/self/fd').length;

describe('kernel: object lifetime and privileges', function () {
  before(function () {
    needKernel(this);
  });

  it('opening and closing 10,000 maps, programs and BTF objects leaks no fds', () => {
    const before = fdCount();
    const btf = smallBtf().bytes;
    for (let i = 0; i < 10_000; i++) BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 }).close();
    for (let i = 0; i < 10_000; i++) {
      using p = Program.load({ type: 'XDP', instructions: returnConst(1) });
      expect(p.fd).to.be.greaterThan(2);
    }
    for (let i = 0; i < 1_000; i++) BtfObject.load(btf).close();
    expect(fdCount()).to.equal(before);
  });

  it('a failed load or create leaks no fd either', () => {
    const before = fdCount();
    for (let i = 0; i < 200; i++) {
      expect(() => Program.load({ type: 'XDP', instructions: [{ opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }] })).to.throw();
      expect(() => BpfMap.create({ type: 'HASH', keySize: 0, valueSize: 4, maxEntries: 1 })).to.throw();
    }
    expect(fdCount()).to.equal(before);
  });

  it('objects dropped without close() are closed by the FinalizationRegistry', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const before = fdCount();
    (() => {
      for (let i = 0; i < 100; i++) BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    })();
    expect(fdCount()).to.equal(before + 100);
    for (let i = 0; i < 100 && fdCount() > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    // At most `before`: other garbage from earlier tests (Node's own handles) may be collected too.
    expect(fdCount()).to.be.at.most(before);
  });

  it('using a closed program or map is an ObjectClosedError, close is idempotent', () => {
    const p = Program.load({ type: 'XDP', instructions: returnConst(1) });
    p.close();
    p.close();
    expect(() => p.testRun({ data: new Uint8Array(64) })).to.throw(ObjectClosedError, /program .* is closed/);
    expect(() => p.info()).to.throw(ObjectClosedError);
    const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 1 });
    m[Symbol.dispose]();
    expect(() => m.update(new Uint8Array(4), new Uint8Array(4))).to.throw(ObjectClosedError);
    expect(() => m.nextKey()).to.throw(ObjectClosedError);
    expect(() => [...m.lookupBatch()]).to.throw(ObjectClosedError);
  });

  it('without privilege, creating a map is a typed EPERM error with a hint', function () {
    const script = fileURLToPath(new URL('./unprivileged-child.ts', import.meta.url));
    const r = runAsNobody(script);
    expect(r.error, String(r.error)).to.equal(undefined);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { uid: number; name: string; code: string; message: string };
    expect(out.uid).to.equal(65534);
    expect(out.name).to.equal('SyscallError');
    expect(out.code).to.equal('EPERM');
    expect(out.message).to.match(/BPF_MAP_CREATE.*EPERM.*root or with CAP_BPF/);
  });
});
