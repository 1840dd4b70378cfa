import { expect } from 'chai';
import { waitFor } from '../support/wait.js';
import { BpfMap, BtfObject, LinkType, Program, listBtf, listLinks, listMaps, listPrograms } from '../../src/kernel/index.js';
import { attachRawTracepoint } from '../../src/kernel/link-raw-tracepoint.js';
import { needKernel } from '../support/kernel.js';
import { kernelAtLeast, returnConst, smallBtf } from './helpers.js';

describe('kernel: enumeration', function () {
  before(function () {
    needKernel(this);
  });

  it('lists the programs, maps and BTF objects this test created, with their info', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 7, name: 'enum_map' });
    using p = Program.load({ type: 'XDP', instructions: returnConst(2), name: 'enum_prog' });
    using b = BtfObject.load(smallBtf().bytes);
    const maps = listMaps();
    const mine = maps.find((x) => x.id === m.id);
    expect(mine).to.include({ name: 'enum_map', maxEntries: 7, keySize: 4 });
    const progs = listPrograms();
    expect(progs.find((x) => x.id === p.id)).to.include({ name: 'enum_prog', type: 6 });
    const btfs = listBtf();
    // The kernel's own BTF as an object with a name, and BTF info's name and kernel_btf fields: Linux 5.11.
    if (kernelAtLeast(5, 11)) expect(btfs.find((x) => x.name === 'vmlinux' && x.kernelBtf)).to.not.equal(undefined);
    expect(btfs.find((x) => x.id === b.info().id)).to.include({ kernelBtf: false });
    // Ids come in increasing order, like bpftool's.
    const ids = maps.map((x) => x.id);
    expect(ids).to.deep.equal([...ids].sort((a, b2) => a - b2));
  });

  it('lists links with the program they hold', () => {
    using p = Program.load({ type: 'RAW_TRACEPOINT', instructions: returnConst(0), name: 'enum_rawtp' });
    using link = attachRawTracepoint(p, 'sys_enter');
    const progId = p.id;
    const mine = listLinks().filter((l) => l.progId === progId);
    expect(mine).to.have.length(1);
    expect(mine[0]!.type).to.equal(LinkType.RAW_TRACEPOINT);
    expect(link).to.not.equal(undefined);
  });

  it('objects closed before listing are gone', async () => {
    const m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'enum_gone' });
    const id = m.id;
    m.close();
    // The kernel frees maps asynchronously (RCU, then a work item); wait until it has.
    await waitFor(() => !listMaps().some((x) => x.id === id), `map ${id} to be freed`);
  });
});
