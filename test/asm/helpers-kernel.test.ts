import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { Helper, helperId, helperName } from '../../src/asm/helpers.js';
import { parseBtf, type EnumType } from '../../src/btf/index.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

// src/asm/helpers.ts is the one helper-id table (the kernel loader and
// feature probes use it too): it must agree with the running kernel.
describe('asm: helper ids against the kernel', () => {
  it("match the running kernel's enum bpf_func_id (names and numbers; the kernel may have newer ones)", function () {
    if (!existsSync(VMLINUX)) this.skip();
    const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)));
    const id = btf.findByName('bpf_func_id', 'enum');
    expect(id, 'enum bpf_func_id in vmlinux BTF').to.be.a('number');
    const kernel = new Map<string, number>();
    for (const v of (btf.type(id!) as EnumType).values) {
      if (v.name.startsWith('BPF_FUNC_') && v.name !== '__BPF_FUNC_MAX_ID') kernel.set(v.name.slice('BPF_FUNC_'.length), v.value);
    }
    expect(kernel.size).to.be.greaterThan(200);
    const ours = new Map<string, number>(Object.entries(Helper));
    for (const [name, value] of ours) expect(kernel.get(name), `bpf_${name}`).to.equal(value);
    // Everything the kernel numbers at or below our highest id we know too.
    const highest = Math.max(...ours.values());
    for (const [name, value] of kernel) if (value <= highest) expect(ours.get(name), `BPF_FUNC_${name}`).to.equal(value);
  });

  it('look up both ways', () => {
    expect(helperId('bpf_map_lookup_elem')).to.equal(1);
    expect(helperId('ringbuf_output')).to.equal(130);
    expect(helperId('no_such_helper')).to.equal(undefined);
    expect(helperName(Helper.cgrp_storage_delete)).to.equal('cgrp_storage_delete');
    expect(helperName(100000)).to.equal(undefined);
  });
});
