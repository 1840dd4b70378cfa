import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readElf } from '../../src/elf/reader.js';
import { BtfBuilder, BtfError, parseBtf, toCHeader, type Btf } from '../../src/btf/index.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { commandRuns } from '../support/tools.js';
import { patience } from '../support/wait.js';

const run = promisify(execFile);
const VMLINUX = '/sys/kernel/btf/vmlinux';
const haveClang = commandRuns('clang', '--version');

/** Whether a type holds a va_list by value (its size differs between x86 and the BPF target). */
function holdsVaList(btf: Btf, id: number, seen = new Set<number>()): boolean {
  if (seen.has(id) || id === 0) return false;
  seen.add(id);
  const t = btf.type(id);
  if (t.kind === 'struct' && t.name === '__va_list_tag') return true;
  if (t.kind === 'struct' || t.kind === 'union') return t.members.some((m) => holdsVaList(btf, m.type, seen));
  if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'array') return holdsVaList(btf, t.type, seen);
  return false;
}

/** _Static_asserts that every uniquely named struct/union has BTF's size and member offsets, and enums their sizes and values. */
function layoutAsserts(btf: Btf): { text: string; count: number } {
  const counts = new Map<string, number>();
  for (let id = 1; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if ((t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64' || t.kind === 'fwd') && t.name)
      counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  }
  const lines: string[] = [];
  // Enumerators whose name is unique keep their value; uniquely named enums keep their size.
  const enumerators = new Map<string, number>();
  for (let id = 1; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind === 'enum' || t.kind === 'enum64') for (const v of t.values) enumerators.set(v.name, (enumerators.get(v.name) ?? 0) + 1);
  }
  for (let id = 1; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind !== 'enum' && t.kind !== 'enum64') continue;
    if (t.name && counts.get(t.name) === 1) lines.push(`_Static_assert(sizeof(enum ${t.name}) == ${t.size}, "sizeof enum ${t.name}");`);
    for (const v of t.values) {
      if (enumerators.get(v.name) !== 1) continue;
      const value = BigInt(v.value);
      const lit = value < 0n ? `(${value}LL)` : `${value}ULL`;
      lines.push(`_Static_assert((unsigned long long)${v.name} == (unsigned long long)${lit}, "${v.name}");`);
    }
  }
  for (let id = 1; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if ((t.kind !== 'struct' && t.kind !== 'union') || !t.name || counts.get(t.name) !== 1 || holdsVaList(btf, id)) continue;
    const T = `${t.kind} ${t.name}`;
    lines.push(`_Static_assert(sizeof(${T}) == ${t.size}, "sizeof ${T}");`);
    for (const m of t.members)
      if (m.name && !m.bitfieldSize)
        lines.push(`_Static_assert(__builtin_offsetof(${T}, ${m.name}) == ${m.bitOffset / 8}, "offsetof ${T}.${m.name}");`);
  }
  return { text: lines.join('\n'), count: lines.length };
}

describe('btf: C header dump', function () {
  this.timeout(patience(300_000)); // clang builds every bpf-tests program: ~40 s at load 15 on 2 cores
  let dir: string;
  before(function () {
    if (!haveClang) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('reproduces the sizes and offsets of a clang-built object with awkward layouts', async function () {
    const btf = parseBtf(readElf(readFileSync(new URL('./fixtures/layouts.bpf.o', import.meta.url))).section('.BTF')!.data);
    const header = toCHeader(btf, { guard: 'LAYOUTS_H' });
    expect(header).to.include('__attribute__((packed))');
    expect(header).to.include('void (*handlers[3])(struct node *);');
    expect(header).to.include('typedef int (*callback_t)(void *, int, ...);');
    writeFileSync(join(dir, 'layouts.h'), header);
    const { text, count } = layoutAsserts(btf);
    expect(count).to.be.greaterThan(20);
    writeFileSync(join(dir, 'layouts.c'), `#include "layouts.h"\n${text}\n`);
    await run('clang', ['-target', 'bpf', '-fsyntax-only', '-Werror', join(dir, 'layouts.c')]);
  });

  describe('of /sys/kernel/btf/vmlinux', function () {
    let vmlinux: Btf;
    before(function () {
      if (!existsSync(VMLINUX)) this.skip();
      vmlinux = parseBtf(readFileSync(VMLINUX));
      const header = toCHeader(vmlinux);
      expect(header).to.match(/^#ifndef __VMLINUX_H__/);
      expect(header).to.include('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)');
      expect(header).to.include('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX');
      writeFileSync(join(dir, 'vmlinux.h'), header);
    });

    it('compiles a CO-RE program using task_struct with clang -target bpf -O2', async function () {
      writeFileSync(
        join(dir, 'prog.c'),
        `#include "vmlinux.h"\n` +
          `int get_pid(struct task_struct *t) { return t->pid + t->real_parent->tgid; }\n` +
          `int cpu_of(struct task_struct *t) { return t->thread_info.cpu; }\n`,
      );
      await run('clang', ['-target', 'bpf', '-O2', '-g', '-c', join(dir, 'prog.c'), '-o', join(dir, 'prog.o')]);
      // preserve_access_index is in effect: the object carries CO-RE relocations.
      const sections = readElf(readFileSync(join(dir, 'prog.o'))).sections.map((s) => s.name);
      expect(sections).to.include('.BTF.ext');
    });

    it('lays out every uniquely named struct and union as BTF says (sizeof and offsetof)', async function () {
      const { text, count } = layoutAsserts(vmlinux);
      expect(count).to.be.greaterThan(10000);
      writeFileSync(join(dir, 'asserts.c'), `#include "vmlinux.h"\n${text}\n`);
      await run('clang', ['-target', 'bpf', '-fsyntax-only', join(dir, 'asserts.c')], { maxBuffer: 1 << 26 });
    });

    it('builds every bpf-tests program in place of bpftool\'s header', async function () {
      const testsDir = new URL('../../bpf-tests/', import.meta.url).pathname;
      if (!existsSync(testsDir)) this.skip();
      const sources = readdirSync(testsDir).filter((f) => f.endsWith('.bpf.c'));
      // (negative/ holds objects meant to fail; only the top level is built here.)
      expect(sources.length).to.be.greaterThan(0);
      const arch = process.arch === 'arm64' ? 'arm64' : 'x86';
      // Two at a time: the machine has two cores.
      for (let i = 0; i < sources.length; i += 2)
        await Promise.all(
          sources.slice(i, i + 2).map((f) =>
            run('clang', ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${arch}`, '-I', testsDir, '-I', dir, '-Wall', '-Wno-unused-function',
              '-c', join(testsDir, f), '-o', join(dir, f.replace(/\.c$/, '.o'))]),
          ),
        );
    });

    it('objects built with it load into the kernel as the committed ones do (bpftool prog loadall)', async function () {
      needKernel(this);
      const testsDir = new URL('../../bpf-tests/', import.meta.url).pathname;
      const built = readdirSync(dir).filter((f) => f.endsWith('.bpf.o'));
      if (built.length === 0) this.skip();
      const loadall = async (obj: string): Promise<number> => {
        const pin = `/sys/fs/bpf/${uniqueName('tsbpfbtf')}`;
        try {
          await run('bpftool', ['prog', 'loadall', obj, pin]);
          return readdirSync(pin).length;
        } catch {
          return -1;
        } finally {
          rmSync(pin, { recursive: true, force: true });
        }
      };
      let compared = 0;
      for (const f of built) {
        // Objects bpftool cannot load as committed (e.g. optional '?' programs) prove nothing here.
        const reference = existsSync(join(testsDir, f)) ? await loadall(join(testsDir, f)) : -1;
        if (reference < 0) continue;
        expect(await loadall(join(dir, f)), f).to.equal(reference);
        compared++;
      }
      expect(compared).to.be.greaterThan(0);
    });

    it('limits the header to what --root types need, and that header compiles alone', async function () {
      const header = toCHeader(vmlinux, { roots: ['task_struct', 'xdp_md', 'bpf_map_type'] });
      expect(header).to.include('struct task_struct {');
      writeFileSync(join(dir, 'task.h'), header);
      writeFileSync(join(dir, 'task.c'), `#include "task.h"\nint f(struct task_struct *t, struct xdp_md *x) { return t->pid + x->data + BPF_MAP_TYPE_RINGBUF; }\n`);
      await run('clang', ['-target', 'bpf', '-O2', '-c', join(dir, 'task.c'), '-o', join(dir, 'task.o')]);
      expect(header.length).to.be.lessThan(toCHeader(vmlinux).length);
      const small = toCHeader(vmlinux, { roots: ['list_head'] });
      expect(small).to.include('struct list_head {');
      expect(small).not.to.include('struct task_struct {');
    });
  });
});

describe('btf: C header dump of malformed BTF', function () {
  it('a function prototype whose parameters are itself ends at once (found by npm run fuzz -- btf: was 2^64 steps)', function () {
    const b = new BtfBuilder();
    const u = b.reserve();
    const proto = b.reserve();
    b.set(u, { kind: 'union', name: 'task_struct', size: 0, members: [{ name: 'node', type: proto, bitOffset: 0, bitfieldSize: 0 }] });
    b.set(proto, { kind: 'func_proto', name: '', returnType: u, params: [{ name: 'a', type: proto }, { name: 'b', type: proto }, { name: 'c', type: proto }] });
    const btf = parseBtf(b.encode());
    const t0 = performance.now();
    expect(() => toCHeader(btf)).to.throw(BtfError, /nest too deeply/);
    expect(performance.now() - t0).to.be.lessThan(2000);
  });
});
