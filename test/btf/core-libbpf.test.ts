/**
 * CO-RE differential against libbpf: `bpftool -d prog loadall` logs, for
 * every relocation, the instruction it patched and the value it wrote (or
 * that it poisoned it). The same relocations resolved by tsbpf must agree,
 * relocation by relocation.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { readElf } from '../../src/elf/reader.js';
import { CoreTarget, parseBtf, parseBtfExt, resolveCoreRelo, type Btf } from '../../src/btf/index.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';

const run = promisify(execFile);
const VMLINUX = '/sys/kernel/btf/vmlinux';
const STT_FUNC = 2;

interface Patch {
  insn: number;
  value: bigint | 'poison';
}

/** libbpf's decisions per program, in relocation order. */
async function libbpfPatches(object: string): Promise<Map<string, Patch[]>> {
  const pin = `/sys/fs/bpf/${uniqueName('tsbpfcore')}`;
  let log: string;
  try {
    const r = await run('bpftool', ['-d', 'prog', 'loadall', object, pin], { maxBuffer: 1 << 26 });
    log = r.stderr + r.stdout;
  } catch (e) {
    // A poisoned reachable instruction makes the load fail; the relocations are logged before.
    log = String((e as { stderr?: string }).stderr ?? '');
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
  const out = new Map<string, Patch[]>();
  const add = (prog: string, p: Patch) => (out.get(prog) ?? out.set(prog, []).get(prog)!).push(p);
  for (const line of log.split('\n')) {
    let m = /prog '([^']+)': relo #\d+: patched insn #(\d+) \([^)]*\) (?:imm|off|imm64) (-?\d+) -> (-?\d+)/.exec(line);
    if (m) add(m[1]!, { insn: Number(m[2]), value: BigInt(m[4]!) });
    m = /prog '([^']+)': relo #\d+: substituting insn #(\d+) w\/ invalid insn/.exec(line);
    if (m) add(m[1]!, { insn: Number(m[2]), value: 'poison' });
  }
  return out;
}

/** tsbpf's decisions for the same programs (a program = a function symbol in a code section). */
function ourPatches(object: string, vmlinux: Btf): Map<string, Patch[]> {
  const elf = readElf(readFileSync(object));
  const btf = parseBtf(elf.section('.BTF')!.data);
  const ext = parseBtfExt(elf.section('.BTF.ext')!.data, btf);
  const target = new CoreTarget(vmlinux);
  const out = new Map<string, Patch[]>();
  for (const sec of ext.coreRelos) {
    const section = elf.section(sec.section)!;
    const funcs = elf.symbols.filter((s) => s.type === STT_FUNC && s.sectionIndex === section.index);
    for (const relo of sec.records) {
      const fn = funcs.find((f) => relo.insnOff >= Number(f.value) && relo.insnOff < Number(f.value + f.size))!;
      const r = resolveCoreRelo(relo, btf, target);
      const p: Patch = { insn: (relo.insnOff - Number(fn.value)) / 8, value: r.poison ? 'poison' : BigInt.asUintN(64, r.targetValue) };
      (out.get(fn.name) ?? out.set(fn.name, []).get(fn.name)!).push(p);
    }
  }
  return out;
}

/** Our fixtures, and every bpf-tests object that carries CO-RE relocations. */
function objectsWithCoreRelos(): string[] {
  const testsDir = new URL('../../bpf-tests/', import.meta.url).pathname;
  const candidates = [
    new URL('./fixtures/core_kinds.bpf.o', import.meta.url).pathname,
    new URL('./fixtures/core_nested.bpf.o', import.meta.url).pathname,
    ...(existsSync(testsDir) ? readdirSync(testsDir).filter((f) => f.endsWith('.bpf.o')).map((f) => testsDir + f) : []),
  ];
  return candidates.filter((path) => {
    const elf = readElf(readFileSync(path));
    const btf = elf.section('.BTF');
    const ext = elf.section('.BTF.ext');
    return btf && ext && parseBtfExt(ext.data, parseBtf(btf.data)).coreRelos.length > 0;
  });
}
const objects = objectsWithCoreRelos();

describe('btf: CO-RE decisions agree with libbpf', function () {
  let vmlinux: Btf;
  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    vmlinux = parseBtf(readFileSync(VMLINUX));
  });

  for (const object of objects)
    it(`${object.split('/').pop()}: every relocation patched to the same value (or poisoned) as libbpf`, async function () {
      if (!existsSync(object)) this.skip();
      const theirs = await libbpfPatches(object);
      const ours = ourPatches(object, vmlinux);
      expect(theirs.size, 'libbpf logged relocations').to.be.greaterThan(0);
      // libbpf only relocates programs (entry points); our map also has them keyed by symbol.
      for (const [prog, patches] of theirs) {
        const mine = ours.get(prog);
        expect(mine, `program ${prog}`).to.exist;
        expect(mine!.map((p) => `#${p.insn} ${p.value}`), `program ${prog}`).to.deep.equal(patches.map((p) => `#${p.insn} ${p.value}`));
      }
    });
});
