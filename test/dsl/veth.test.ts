/**
 * The examples on real traffic: compiled, loaded and attached the way
 * `tsbpf run` does it, on a veth pair whose peer sits in a fresh network
 * namespace; UDP datagrams sent from the namespace are counted or dropped.
 */
import { expect } from 'chai';
import { attachProgram } from '../../src/cli/dsl-attach.js';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel } from '../support/kernel.js';
import { dumpKernelMaps } from './support/harness.js';

const example = (name: string) => nodeCompileOptions(new URL(`../../examples/${name}.bpf.ts`, import.meta.url).pathname);
const le64 = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

describe('dsl examples on a veth pair', function () {
  let net: VethNetns | undefined;
  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
  });
  after(() => net?.destroy());

  it('the XDP example counts the UDP datagrams by protocol', () => {
    const mod = compile(example('xdp-proto-count'));
    const live = loadCompiledModule(mod);
    try {
      const a = attachProgram(mod.programs[0]!, live.programs.get('countProtocols')!, { iface: net!.host });
      try {
        net!.sendUdpFromNs(5, net!.hostIp, 40000 + Math.floor(Math.random() * 20000));
      } finally {
        a.close();
      }
      expect(dumpKernelMaps(mod, live.maps).packetsByProtocol).to.deep.equal({ '11000000': le64(5n) });
    } finally {
      live.close();
    }
  });

  it('the tc example drops datagrams to the configured port and counts them', () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const mod = compile(example('tc-drop-udp-port'));
    const live = loadCompiledModule(mod, { rodata: { port } });
    try {
      const a = attachProgram(mod.programs[0]!, live.programs.get('dropUdpPort')!, { iface: net!.host });
      try {
        net!.sendUdpFromNs(4, net!.hostIp, port);
        net!.sendUdpFromNs(3, net!.hostIp, port + 1);
      } finally {
        a.close();
      }
      expect(dumpKernelMaps(mod, live.maps).dropped).to.deep.equal({ '00000000': le64(4n) });
    } finally {
      live.close();
    }
  });
});
