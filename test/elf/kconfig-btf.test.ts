/** .kconfig values and the BTF handed to the kernel (pure parts of the loader). */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { BtfBuilder, parseBtf } from '../../src/btf/index.js';
import { collectExterns } from '../../src/elf/externs.js';
import { ElfError } from '../../src/elf/errors.js';
import { fillKconfig, kernelVersionCode, parseKernelConfig } from '../../src/elf/kconfig.js';
import { kernelBtfBytes, rebuiltKernelBtf } from '../../src/elf/kernel-btf.js';
import { objectNameFromPath } from '../../src/elf/map-types.js';
import type { ObjectSpec } from '../../src/elf/object-spec.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { bpfTestObjects, bpfTestsDir, readBpfTestObject } from './objects.js';

const spec = (file: string) => parseObject(readBpfTestObject(file), { name: objectNameFromPath(file) });

describe('elf: kconfig', () => {
  it('parses config text and kernel releases', () => {
    const c = parseKernelConfig('# comment\nCONFIG_A=y\nCONFIG_B="str"\n# CONFIG_C is not set\nCONFIG_HZ=250\n');
    expect([...c]).to.deep.equal([['CONFIG_A', 'y'], ['CONFIG_B', '"str"'], ['CONFIG_HZ', '250']]);
    expect(kernelVersionCode('6.18.44-fc-v669')).to.equal(0x6122c);
    expect(kernelVersionCode('5.4.300')).to.equal((5 << 16) + (4 << 8) + 255);
  });

  it('fills the .kconfig map value at libbpf offsets', () => {
    const s = spec('kconfig.bpf.o');
    const data = new Uint8Array(s.maps.find((m) => m.kind === 'kconfig')!.valueSize);
    fillKconfig(s, data, { config: parseKernelConfig('CONFIG_HZ=1000\nCONFIG_BPF_SYSCALL=y\nCONFIG_BPF_JIT=m\n'), release: '6.1.2' });
    const v = new DataView(data.buffer);
    expect(v.getUint32(0, true)).to.equal(2); // tristate m
    expect(v.getInt32(4, true)).to.equal(1000);
    expect(v.getUint32(8, true)).to.equal(0); // weak and missing
    expect(v.getUint32(12, true)).to.equal(0x60102);
    expect(v.getUint8(16)).to.equal(1);
  });

  it('a missing strong kconfig value, or one of the wrong shape, is a typed error', () => {
    const s = spec('kconfig.bpf.o');
    const data = new Uint8Array(64);
    expect(() => fillKconfig(s, data, { config: parseKernelConfig('CONFIG_BPF_SYSCALL=y\n'), release: '6.1' })).to.throw(ElfError, /CONFIG_HZ is not set/);
    expect(() => fillKconfig(s, data, { config: parseKernelConfig('CONFIG_HZ=abc\nCONFIG_BPF_SYSCALL=y\n'), release: '6.1' })).to.throw(ElfError, /not a number/);
    expect(() => fillKconfig(s, data, { config: parseKernelConfig('CONFIG_HZ=1\nCONFIG_BPF_SYSCALL=m\n'), release: '6.1' })).to.throw(ElfError, /not a boolean/);
  });
});

describe('elf: BTF for the kernel', () => {
  const datasecs = (s: ObjectSpec) => {
    const btf = parseBtf(kernelBtfBytes(s)!);
    const out: Record<string, { size: number; vars: [string, number, number][] }> = {};
    for (const id of btf.ids()) {
      const t = btf.type(id);
      if (t.kind === 'datasec') out[t.name] = { size: t.size, vars: t.vars.map((v) => [btf.type(v.type).name, v.offset, v.size]) };
    }
    return { btf, out };
  };

  it('fixes DATASECs in place to the same bytes as through the BTF builder, for every clang-built object', () => {
    const objects = [...bpfTestObjects(), ...readdirSync(join(bpfTestsDir, 'corpus')).filter((f) => f.endsWith('.bpf.o')).map((f) => `corpus/${f}`)];
    let inPlace = 0;
    for (const f of objects) {
      const s = spec(f);
      if (!s.btf) continue;
      const fast = kernelBtfBytes(s)!;
      expect(Buffer.from(fast).equals(Buffer.from(rebuiltKernelBtf(s)!)), f).to.equal(true);
      const wasZero = [...s.btf.ids()].some((id) => { const t = s.btf!.type(id); return t.kind === 'datasec' && t.size === 0; });
      if (wasZero && s.externs.length === 0 && s.hiddenFunctions.length === 0) inPlace++;
    }
    expect(inPlace, 'objects whose DATASECs were patched in place').to.be.greaterThan(5);
  });

  it('gives DATASECs their section sizes and variables their symbol offsets, sorted', () => {
    const { out } = datasecs(spec('global_data.bpf.o'));
    expect(out['.bss']).to.deep.equal({ size: 24, vars: [['zeroed', 0, 16], ['result', 16, 8]] });
    expect(out['.rodata']!.size).to.equal(12);
    expect(out['.rodata']!.vars).to.deep.equal([['multiplier', 0, 4], ['greeting', 4, 8]]);
  });

  it('lays out .kconfig like its map and turns .ksyms entries into 4-byte variables', () => {
    const { out } = datasecs(spec('kconfig.bpf.o'));
    expect(out['.kconfig']!.size).to.equal(18);
    expect(out['.kconfig']!.vars.map((v) => [v[0], v[1]])).to.deep.equal([
      ['CONFIG_BPF_JIT', 0], ['CONFIG_HZ', 4], ['CONFIG_TSBPF_DOES_NOT_EXIST', 8], ['LINUX_KERNEL_VERSION', 12], ['CONFIG_BPF_SYSCALL', 16],
      ['LINUX_HAS_SYSCALL_WRAPPER', 17],
    ]);
    expect(out['.ksyms']).to.deep.equal({ size: 4, vars: [['schedule', 0, 4]] });
    const kf = datasecs(spec('kfunc.bpf.o'));
    expect(kf.out['.ksyms']).to.deep.equal({ size: 8, vars: [['dummy_ksym', 0, 4], ['dummy_ksym', 4, 4]] });
    const btf = kf.btf;
    for (const id of btf.ids()) {
      const t = btf.type(id);
      if (t.kind === 'var') expect(t.linkage, t.name).to.not.equal('extern');
      if (t.kind === 'func' && t.name === 'bpf_task_from_pid') expect(t.linkage).to.equal('global');
    }
  });

  it('makes hidden global functions static', () => {
    const { btf } = datasecs(spec('subprogs.bpf.o'));
    const id = btf.findByName('hidden_twice', 'func')!;
    expect(btf.type(id)).to.include({ linkage: 'static' });
    expect(btf.type(btf.findByName('global_add', 'func')!)).to.include({ linkage: 'global' });
    // __weak __hidden too, as libbpf (libbpf-bootstrap's usdt.bpf.o needs it).
    expect(btf.type(btf.findByName('weak_hidden_store', 'func')!)).to.include({ linkage: 'static' });
  });
});

describe('elf: kconfig externs from malformed BTF', () => {
  it('a .kconfig larger than any map value is a typed error, not a RangeError allocating it (found by npm run fuzz -- elf)', () => {
    const b = new BtfBuilder();
    const char = b.int('char', 1, true);
    const big = b.array(char, 0xffffffff, char);
    const v = b.variable('CONFIG_BIG', big, 'extern');
    b.datasec('.kconfig', 0, [{ type: v, offset: 0, size: 0 }]);
    const sym = { index: 1, name: 'CONFIG_BIG', value: 0n, size: 0n, type: 1, binding: 1, visibility: 0, other: 0, sectionIndex: 0 };
    expect(() => collectExterns([sym], parseBtf(b.encode()))).to.throw(ElfError, /CONFIG_BIG.*past/).with.property('section', '.kconfig');
  });
});
