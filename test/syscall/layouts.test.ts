import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { generateLayouts, OUTPUT } from '../../scripts/gen-syscall-layouts.js';
import { skipBecause } from '../support/features.js';
import { Attr, ATTR_SIZE, BpfCommand, MapType, ProgInfoLayout } from '../../src/syscall/layouts.generated.js';

describe('syscall layouts (generated from BTF)', () => {
  it('are current for the running kernel', function () {
    const committed = readFileSync(OUTPUT, 'utf8');
    const generatedOn = /^\/\/ Kernel: (.*)$/m.exec(committed)?.[1];
    // The file describes one kernel's uapi: compare only on a kernel of the same version (another build of it has the same uapi).
    const version = (r: string | undefined) => /^\d+\.\d+\.\d+/.exec(r ?? '')?.[0];
    if (!existsSync('/sys/kernel/btf/vmlinux')) skipBecause(this, 'this kernel has no BTF at /sys/kernel/btf/vmlinux');
    if (version(generatedOn) !== version(release())) skipBecause(this, `the file was generated on ${generatedOn}, this is ${release()}`);
    const fresh = generateLayouts(new Uint8Array(readFileSync('/sys/kernel/btf/vmlinux')), generatedOn!);
    expect(fresh === committed, 'src/syscall/layouts.generated.ts is stale: run npx tsx scripts/gen-syscall-layouts.ts').to.equal(true);
  });

  it('match the long-stable uapi offsets', () => {
    expect(Attr.mapElem).to.include({ map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24 });
    expect(Attr.progLoad).to.include({ prog_type: 0, insn_cnt: 4, insns: 8, license: 16, log_level: 24, log_size: 28, log_buf: 32, prog_name: 48, expected_attach_type: 68 });
    expect(Attr.test).to.include({ prog_fd: 0, retval: 4, data_size_in: 8, data_in: 16, repeat: 32, duration: 36 });
    expect(Attr.batch).to.include({ in_batch: 0, out_batch: 8, keys: 16, values: 24, count: 32, map_fd: 36 });
    expect(ProgInfoLayout).to.include({ type: 0, id: 4, tag: 8, xlated_prog_insns: 32, name: 64 });
    expect(ATTR_SIZE).to.be.greaterThanOrEqual(120);
    expect(BpfCommand.MAP_CREATE).to.equal(0);
    expect(BpfCommand.PROG_TEST_RUN).to.equal(10);
    expect(MapType.RINGBUF).to.equal(27);
  });
});
