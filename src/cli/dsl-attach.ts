/**
 * Attaching every program of a compiled module the way its factory says:
 * XDP and tcx on an interface, socket filters on a packet socket, cgroup
 * skb on the root cgroup, tracepoints, raw tracepoints, k/uprobes and
 * perf events.
 */
import type { CompiledProgram } from '../dsl/compiler/compile.js';
import { cgroup2Path } from '../kernel/fs-mounts.js';
import { attachCgroup } from '../kernel/link-cgroup.js';
import { attachKprobe } from '../kernel/link-kprobe.js';
import { attachXdp } from '../kernel/link-netdev.js';
import { attachTc } from '../kernel/link-tc.js';
import { attachPerfEvent } from '../kernel/link-perf-sample.js';
import { attachRawTracepoint } from '../kernel/link-raw-tracepoint.js';
import { attachTracing } from '../kernel/link-tracing.js';
import { attachSocketFilter } from '../kernel/link-socket-filter.js';
import { attachTracepoint } from '../kernel/link-tracepoint.js';
import { attachUprobe } from '../kernel/link-uprobe.js';
import type { Program } from '../kernel/program.js';
import { closeFd } from '../syscall/fd.js';
import { socket } from '../syscall/socket.js';
import { CliError } from './output.js';

export interface Attached {
  program: string;
  where: string;
  close(): void;
}

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300;

export function attachProgram(p: CompiledProgram, prog: Program, options: { iface?: string; cgroup?: string }): Attached {
  const needIface = (): string => {
    if (!options.iface) throw new CliError(`program ${p.name} (${p.kind}) needs an interface: --iface NAME`, 2);
    return options.iface;
  };
  const done = (where: string, link: { close(): void }): Attached => ({ program: p.name, where, close: () => link.close() });
  switch (p.kind) {
    case 'xdp': {
      const iface = needIface();
      return done(`xdp on ${iface}`, attachXdp(prog, iface));
    }
    case 'tc': {
      const iface = needIface();
      const dir = p.target === 'egress' ? 'egress' : 'ingress';
      const link = attachTc(prog, iface, dir);
      return done(`${link.kind === 'tcx' ? 'tcx' : 'tc (cls_bpf)'} ${dir} on ${iface}`, link);
    }
    case 'socket_filter': {
      const fd = socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
      try {
        const link = attachSocketFilter(prog, fd);
        return { program: p.name, where: 'a packet socket (all interfaces)', close: () => { link.close(); closeFd(fd); } };
      } catch (e) {
        closeFd(fd);
        throw e;
      }
    }
    case 'cgroup_skb': {
      const root = options.cgroup ?? cgroup2Path();
      if (!root) throw new CliError('no cgroup2 mount for a cgroup skb program (give one: --cgroup PATH)', 1);
      return done(`cgroup ${p.target} on ${root}`, attachCgroup(prog, root, p.target === 'egress' ? 'egress' : 'ingress'));
    }
    case 'tracepoint': return done(`tracepoint ${p.target}`, attachTracepoint(prog, p.target!));
    case 'raw_tracepoint': return done(`raw tracepoint ${p.target}`, attachRawTracepoint(prog, p.target!));
    case 'kprobe':
    case 'kretprobe':
      return done(`${p.kind} ${p.target}`, attachKprobe(prog, p.target!, { retprobe: p.kind === 'kretprobe' }));
    case 'uprobe':
    case 'uretprobe':
      return done(`${p.kind} ${p.binary}:${p.target}`, attachUprobe(prog, { path: p.binary!, symbol: p.target! }, { retprobe: p.kind === 'uretprobe' }));
    case 'perf_event': return done('perf event (cpu-clock, every CPU)', attachPerfEvent(prog));
    case 'tp_btf':
    case 'fentry':
    case 'fexit':
    case 'fmod_ret':
    case 'lsm':
      return done(`${p.kind} ${p.target}`, attachTracing(prog, `${p.kind}/${p.target}`));
  }
}
