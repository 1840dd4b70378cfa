/**
 * A tp_btf sys_enter program run on the test thread's getpgid calls: in the
 * interpreter (the same thread id as its task, (regs, id) as the context)
 * and in the kernel (attached while the thread makes marked getpgid calls,
 * which nothing else on it makes: test/kernel/marked-calls.ts). The module
 * reads `tid` and `nr` (the getpgid number) from rodata.
 */
import { expect } from 'chai';
import { loadCompiledModule } from '../../../src/cli/dsl-live.js';
import type { CompiledModule } from '../../../src/dsl/compiler/compile.js';
import { attachTracing } from '../../../src/kernel/link-tracing.js';
import { arch, markedGetpgid } from '../../kernel/marked-calls.js';
import { needKernel } from '../../support/kernel.js';
import { dumpKernelMaps, InterpMaps, type MapDump, runInterp } from './harness.js';

export const GETPGID = arch?.getpgid ?? 121;
const rodata = () => ({ tid: process.pid, nr: GETPGID });

export function sysEnterInInterp(mod: CompiledModule, calls: number): MapDump {
  const maps = new InterpMaps(mod, rodata());
  const ctx = new Uint8Array(new BigUint64Array([0n, BigInt(GETPGID)]).buffer);
  for (let i = 0; i < calls; i++) runInterp(mod, 'p', { ctx }, { maps, task: { pid: process.pid, tgid: process.pid } });
  return maps.dump();
}

/** The kernel's maps after `calls` marked calls; skips without a kernel or on an architecture marked-calls does not know. */
export function sysEnterInKernel(ctx: Mocha.Context, mod: CompiledModule, calls: number): MapDump {
  needKernel(ctx);
  if (!arch) ctx.skip();
  const live = loadCompiledModule(mod, { rodata: rodata() });
  try {
    const link = attachTracing(live.programs.get('p')!, 'tp_btf/sys_enter');
    try {
      for (let i = 0; i < calls; i++) expect(markedGetpgid()).to.equal(-1);
    } finally {
      link.close();
    }
    return dumpKernelMaps(mod, live.maps);
  } finally {
    live.close();
  }
}
