/**
 * Symbolizing stack addresses: kernel addresses against a kallsyms text
 * (the function at or below, with the offset and the module), a process's
 * against its mappings and ELF symbols (this test's own node binary).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ElfSymbols } from '../../src/kernel/elf-symbols.js';
import { KernelSymbolizer, ProcessSymbolizer } from '../../src/module/index.js';

describe('module: stack symbolization', () => {
  it('names a kernel address by the function at or below it in kallsyms, with its module', () => {
    const k = new KernelSymbolizer('ffffffff81000000 T _stext\nffffffff81000100 t do_syscall_64\nffffffff81000200 D some_data\nffffffffc0000000 t loop_queue_rq\t[loop]\n');
    expect(k.resolve(0xffffffff81000150n)).to.deep.equal({ address: 0xffffffff81000150n, symbol: 'do_syscall_64', offset: 0x50n });
    // Data symbols do not name code: the address stays with the function before.
    expect(k.resolve(0xffffffff81000210n).symbol).to.equal('do_syscall_64');
    expect(k.resolve(0xffffffffc0000010n)).to.deep.equal({ address: 0xffffffffc0000010n, symbol: 'loop_queue_rq', offset: 0x10n, module: 'loop' });
    expect(k.resolve(0x1000n)).to.deep.equal({ address: 0x1000n });
  });

  it('names an address of a running process through its mappings and the mapped file\'s symbols', () => {
    // The address where this process's node binary maps a function it has: file offset → mapping.
    const exe = readFileSync('/proc/self/exe');
    const fn = [...new ElfSymbols(new Uint8Array(exe)).functions().values()].find((f) => f.size > 16n);
    expect(fn, "a function of node").to.not.equal(undefined);
    const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\/.*)$/.exec(l)).filter((m) => m !== null);
    const exePath = readFileSync('/proc/self/cmdline', 'utf8').split('\0')[0]!;
    const m = maps.find((x) => BigInt(`0x${x![3]}`) <= fn!.fileOffset && fn!.fileOffset < BigInt(`0x${x![3]}`) + BigInt(`0x${x![2]}`) - BigInt(`0x${x![1]}`) && (x![4] === exePath || x![4]!.endsWith('/node')));
    expect(m, "its mapping").to.not.equal(undefined);
    const address = BigInt(`0x${m![1]}`) + fn!.fileOffset - BigInt(`0x${m![3]}`) + 4n;
    const frame = new ProcessSymbolizer(process.pid).resolve(address);
    expect(frame.symbol).to.equal(fn!.name);
    expect(frame.offset).to.equal(4n);
  });
});
