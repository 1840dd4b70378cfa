/**
 * Kernel features by name, with the Linux release that brought each, so a
 * caller (or a test that skips) can say exactly what is missing: "this
 * kernel does not support tcx (Linux 6.6)". Every probe runs once per
 * process (features.ts caches). TSBPF_FEATURES_OFF=tcx,perf_link makes
 * tsbpf treat the named features as missing, which is how the fallbacks
 * (tc through netlink, perf-event ioctl attach, XDP through netlink) are
 * exercised on kernels that have the newer interface.
 */
import { haveBpfCookie, haveBpfLinks, haveFdArray, haveHashLookupAndDelete, haveHelper, haveInodeStorage, haveIsa, haveMapType, haveProgType, haveXdpFrags, MissingFeatureError, probeCached } from './features.js';
import { probeKprobeMulti, probePerfLink, probeTcx, probeUprobeMulti, probeXdpLink } from './link-features.js';

interface FeatureEntry {
  /** The first Linux release with it. */
  since: string;
  /** What it is, for messages. */
  what: string;
  probe(): boolean;
}

/** Kernel features by name, each with the Linux version that brought it, what it is and how it is probed (`haveFeature`, `requireFeature`, TSBPF_FEATURES_OFF). */
export const kernelFeatures = {
  bpf_link: { since: '5.7', what: 'BPF links (BPF_LINK_CREATE)', probe: haveBpfLinks },
  ringbuf: { since: '5.8', what: 'ring buffer maps (BPF_MAP_TYPE_RINGBUF)', probe: () => haveMapType('RINGBUF') === true },
  inode_storage: { since: '5.10', what: 'inode local storage (needs "bpf" among the active LSMs, lsm=...,bpf)', probe: haveInodeStorage },
  xdp_link: { since: '5.9', what: 'XDP through a bpf_link', probe: probeXdpLink },
  task_storage: { since: '5.11', what: 'task local storage maps', probe: () => haveMapType('TASK_STORAGE') === true },
  fd_array: { since: '5.14', what: 'maps by index into fd_array (BPF_PSEUDO_MAP_IDX)', probe: haveFdArray },
  hash_lookup_and_delete: { since: '5.14', what: 'lookup-and-delete on hash maps', probe: haveHashLookupAndDelete },
  syscall_prog: { since: '5.14', what: 'BPF_PROG_TYPE_SYSCALL programs (SEC("syscall"))', probe: () => haveProgType('SYSCALL') },
  perf_link: { since: '5.15', what: 'bpf_link on perf events (tracepoints, kprobes, uprobes)', probe: probePerfLink },
  bpf_cookie: { since: '5.15', what: 'bpf_get_attach_cookie', probe: haveBpfCookie },
  bloom_filter: { since: '5.16', what: 'bloom filter maps', probe: () => haveMapType('BLOOM_FILTER') === true },
  bpf_loop: { since: '5.17', what: 'the bpf_loop helper', probe: () => haveHelper('SOCKET_FILTER', 'loop') === true },
  xdp_frags: { since: '5.18', what: 'XDP programs for multi-buffer frames (SEC("xdp.frags"))', probe: haveXdpFrags },
  kprobe_multi: { since: '5.18', what: 'kprobe_multi links (also needs CONFIG_FPROBE)', probe: probeKprobeMulti },
  cgrp_storage: { since: '6.2', what: 'cgroup local storage maps (BPF_MAP_TYPE_CGRP_STORAGE)', probe: () => haveMapType('CGRP_STORAGE') === true },
  tcx: { since: '6.6', what: 'tcx (tc BPF links)', probe: probeTcx },
  uprobe_multi: { since: '6.6', what: 'uprobe_multi links', probe: probeUprobeMulti },
  isa_v4: { since: '6.6', what: 'eBPF ISA v4 (sign extension, bswap, sdiv, gotol)', probe: () => haveIsa(4) },
} satisfies Record<string, FeatureEntry>;

/** The name of a kernel feature (`bpf_link`, `tcx`, `ringbuf` ...). */
export type KernelFeature = keyof typeof kernelFeatures;

/** The features TSBPF_FEATURES_OFF names (comma or space separated); unknown names are ignored. */
export function featuresTurnedOff(env = process.env.TSBPF_FEATURES_OFF): Set<string> {
  return new Set((env ?? '').split(/[\s,]+/).filter((n) => n !== ''));
}

/**
 * Whether this kernel has `feature` (and TSBPF_FEATURES_OFF does not name it).
 * @example
 * if (haveFeature('tcx')) attachTcx(prog, 'eth0', 'ingress');
 */
export function haveFeature(feature: KernelFeature): boolean {
  if (featuresTurnedOff().has(feature)) return false;
  return probeCached(`feature:${feature}`, () => kernelFeatures[feature].probe()) === true;
}

/**
 * "tcx (tc BPF links, Linux 6.6)": a feature as messages and skip reasons name it.
 * @example
 * describeFeature('tcx');   // what it is and the Linux version that brought it
 */
export function describeFeature(feature: KernelFeature): string {
  const f = kernelFeatures[feature];
  return `${feature} (${f.what}, Linux ${f.since})`;
}

/**
 * Why `feature` cannot be used here, or null when it can.
 * @example
 * missingFeatureReason('ringbuf');   // null, or why not ('needs Linux 5.8 ...')
 */
export function missingFeatureReason(feature: KernelFeature): string | null {
  if (haveFeature(feature)) return null;
  const off = featuresTurnedOff().has(feature);
  return `${off ? 'TSBPF_FEATURES_OFF turns off' : 'this kernel lacks'} ${describeFeature(feature)}`;
}

/**
 * Throws MissingFeatureError naming the feature and its release when it is missing.
 * @example
 * requireFeature('uprobe_multi');   // MissingFeatureError: which Linux version has it
 */
export function requireFeature(feature: KernelFeature): void {
  if (haveFeature(feature)) return;
  const f = kernelFeatures[feature];
  const off = featuresTurnedOff().has(feature);
  throw new MissingFeatureError(`${feature} (${f.what})`, off ? 'turned off by TSBPF_FEATURES_OFF' : `Linux ${f.since} or later`);
}
