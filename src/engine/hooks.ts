/**
 * Where each program of a module runs. XDP programs join their interface's
 * chain (xdp-chain.ts); tcx programs get a tcx link of their own, placed
 * before or after another module's with the kernel's multi-program
 * ordering; every other kind attaches the way its SEC() name says
 * (autoAttach). A hook the engine could not keep across its own restart
 * (socket filters need a socket it does not own; attachments without a
 * bpf_link cannot be pinned) is refused up front.
 */
import type { ProgramSpec } from '../elf/object-spec.js';
import { autoAttach } from '../kernel/auto-attach.js';
import { interfaceIndex } from '../kernel/link-netdev.js';
import type { Link, ProgramLike } from '../kernel/link.js';
import { EngineProtocolError } from './protocol.js';
import type { ModuleOptions } from './state.js';

export type HookPlan =
  | { kind: 'xdp'; hook: string; chain: string; iface: string; ifindex: number }
  | { kind: 'tcx'; hook: string; iface: string; ifindex: number; direction: 'ingress' | 'egress' }
  | { kind: 'link'; hook: string; attach(program: ProgramLike): Link };

/** The chain key of an interface's XDP hook: by index, which a rename does not change. */
export const xdpChainKey = (ifindex: number): string => `xdp@${ifindex}`;

function needIface(p: ProgramSpec, options: ModuleOptions): { iface: string; ifindex: number } {
  if (!options.iface) throw new EngineProtocolError('E_BAD_REQUEST', `program ${p.name} (${p.section}) needs an interface: --iface NAME`);
  try {
    return { iface: options.iface, ifindex: interfaceIndex(options.iface) };
  } catch (e) {
    throw new EngineProtocolError('E_ATTACH', `program ${p.name}: ${(e as Error).message} (in the engine's network namespace)`);
  }
}

export function planHook(p: ProgramSpec, options: ModuleOptions): HookPlan {
  switch (p.type) {
    case 'XDP': {
      if (p.attachType === 'XDP_DEVMAP' || p.attachType === 'XDP_CPUMAP') {
        throw new EngineProtocolError('E_UNSUPPORTED', `program ${p.name} (${p.section}) runs from a devmap/cpumap entry, not a hook the engine attaches`);
      }
      const { iface, ifindex } = needIface(p, options);
      return { kind: 'xdp', hook: `xdp:${iface}`, chain: xdpChainKey(ifindex), iface, ifindex };
    }
    case 'SCHED_CLS': {
      const { iface, ifindex } = needIface(p, options);
      const direction = p.attachType === 'TCX_EGRESS' || p.section.endsWith('/egress') || p.section.endsWith('egress') ? 'egress' : 'ingress';
      return { kind: 'tcx', hook: `tcx-${direction}:${iface}`, iface, ifindex, direction };
    }
    case 'SOCKET_FILTER':
      throw new EngineProtocolError('E_UNSUPPORTED', `program ${p.name} is a socket filter: it attaches to a socket its own process opens, not to a hook the engine keeps (use tsbpf run)`);
    default: {
      const spec = { section: p.section, type: p.type, ...(p.attachType ? { attachType: p.attachType } : {}), ...(p.attachTo !== undefined ? { attachTo: p.attachTo } : {}) };
      const cgroup = options.cgroup;
      const hook = p.type.startsWith('CGROUP') || p.type === 'SOCK_OPS' ? `${p.section}:${cgroup ?? 'root'}` : p.section;
      return { kind: 'link', hook, attach: (program) => autoAttach(program, spec, cgroup ? { cgroup } : {}) };
    }
  }
}
