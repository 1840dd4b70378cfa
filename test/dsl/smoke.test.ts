import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';
import { compileSource, interpSequence, kernelSequence, packet } from './support/harness.js';

const counter = `
import { xdp, perCpuArray, XdpAction, htons, type u64 } from 'tsbpf/dsl';
import { EthHdr, IpHdr, ETH_P_IP } from 'tsbpf/dsl/net';

export const byProto = perCpuArray<u64>({ maxEntries: 256 });

export const countProtocols = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  byProto.increment(ip.protocol);
  return XdpAction.PASS;
});
`;

describe('dsl smoke', () => {
  it('xdp protocol counter: interp and kernel agree', function () {
    needKernel(this);
    const mod = compileSource(counter);
    const pkts = [packet({ proto: 'udp' }), packet({ proto: 'tcp' }), packet({ proto: 'udp' }), packet({ proto: 'icmp' })];
    const a = interpSequence(mod, 'countProtocols', pkts);
    const b = kernelSequence(mod, 'countProtocols', pkts);
    expect(a.retvals).to.deep.equal([2, 2, 2, 2]);
    expect(a.maps).to.deep.equal({ byProto: { '01000000': '0100000000000000', '06000000': '0100000000000000', '11000000': '0200000000000000' } });
    expect(b).to.deep.equal(a);
  });
});
