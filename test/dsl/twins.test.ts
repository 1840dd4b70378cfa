/**
 * Programs written twice, in the DSL and in C (bpf-tests/dsl-twins, built
 * by clang -O2): on the same packets both give the same results and leave
 * the same maps.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { needKernel } from '../support/kernel.js';
import { dumpKernelMaps, kernelSequence, packet } from './support/harness.js';

export const TWINS_DIR = new URL('../../bpf-tests/dsl-twins/', import.meta.url).pathname;
export const TWINS = ['pass', 'proto_count', 'udp_drop', 'ttl_dec', 'flow_bytes', 'syn_count', 'vlan_id', 'mac_sum', 'port_class', 'len_hist'];

export const TWIN_PACKETS = [
  packet({ proto: 'udp', dport: 53 }),
  packet({ proto: 'udp', dport: 8080, payload: new Array(100).fill(7) }),
  packet({ proto: 'udp', dport: 50000 }),
  packet({ proto: 'tcp', tcpFlags: 0x02 }),
  packet({ proto: 'tcp', tcpFlags: 0x12, src: '192.168.1.1' }),
  packet({ proto: 'icmp', ttl: 1 }),
  packet({ vlan: 42 }),
  packet({ ethType: 0x0806 }),
  packet({ proto: 'udp', payload: new Array(300).fill(1) }),
];

describe('dsl twins: code size against clang -O2', () => {
  it('stays within 10% of clang in total instructions', () => {
    let ours = 0;
    let clang = 0;
    for (const name of TWINS) {
      ours += compile(nodeCompileOptions(join(TWINS_DIR, `${name}.bpf.ts`))).programs[0]!.instructions.reduce((n, i) => n + (i.imm64 !== undefined ? 2 : 1), 0);
      clang += parseObject(readFileSync(join(TWINS_DIR, `${name}.bpf.o`))).programs.find((p) => p.name === name)!.instructions.reduce((n, i) => n + (i.imm64 !== undefined ? 2 : 1), 0);
    }
    expect(ours / clang).to.be.at.most(1.1, `${ours} instructions against clang's ${clang}`);
  });
});

describe('dsl twins: DSL and clang -O2 agree', function () {
  for (const name of TWINS) {
    it(name, function () {
      needKernel(this);
      const mod = compile(nodeCompileOptions(join(TWINS_DIR, `${name}.bpf.ts`)));
      const ours = kernelSequence(mod, name, TWIN_PACKETS);
      const coll = loadCollection(parseObject(readFileSync(join(TWINS_DIR, `${name}.bpf.o`))));
      try {
        const prog = coll.programs.get(name)!;
        const retvals: number[] = [];
        const packets: string[] = [];
        for (const p of TWIN_PACKETS) {
          const r = prog.testRun({ data: p });
          retvals.push(r.retval);
          if (r.dataOut) packets.push(Buffer.from(r.dataOut).toString('hex'));
        }
        expect(retvals, 'return values').to.deep.equal(ours.retvals);
        expect(packets, 'packets after the program').to.deep.equal(ours.packets);
        expect(dumpKernelMaps(mod, coll.maps), 'maps').to.deep.equal(ours.maps);
      } finally {
        for (const p of coll.programs.values()) p.close();
        for (const m of coll.maps.values()) m.close();
      }
    });
  }
});
