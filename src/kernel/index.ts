/**
 * tsbpf: the runtime. Live kernel objects (maps, programs, links, readers),
 * pinning, object info, feature probes and enumeration.
 */
export { BpfMap, MapMemoryError, mapTypeName, type MapSpec, type MapTypeName, type BatchChunk } from './map.js';
export { Program, progTypeName, resolveProgType, resolveAttachType, type ProgramSpec, type ProgramBtf, type TestRunOptions, type TestRunResult, type ProgTypeName, type AttachTypeName } from './program.js';
export { VerifierError } from './verifier-error.js';
export { ObjectClosedError, OwnedFd } from './owned-fd.js';
export { mapInfoByFd, progInfoByFd, btfInfoByFd, linkInfoByFd, type MapInfo, type ProgInfo, type BtfInfo, type LinkInfoBase, type ProgInfoOptions } from './info.js';
export { allIds, nextId, fdById, type ObjectKind } from './ids.js';
export { pinFd, openPinnedFd, unpin } from './pin.js';
export { ensureBpffs, ensureTracefs, preparePinDir, PinPathError, bpffsContaining, isMounted, cgroup2Path, MountError, BPFFS_PATH, TRACEFS_PATH } from './fs-mounts.js';
export { possibleCpus, possibleCpuCount, onlineCpus, parseCpuList } from './cpus.js';
export * as codec from './codec.js';
export { SyscallError, MapType, ProgType, AttachType, LinkType, BpfCommand, UpdateFlags, MapFlags, ProgFlags, TestRunFlags, XdpAction } from '../syscall/index.js';
/** Helper ids by name (without `bpf_`): the assembler's table, which test/asm checks against the kernel's BTF. */
export { Helper as HelperId } from '../asm/helpers.js';
export { BtfObject, BtfLoadError } from './btf-object.js';
export { TypedMap } from './typed-map.js';
export { listPrograms, listMaps, listLinks, listBtf } from './enumerate.js';
export {
  MissingFeatureError, haveProgType, haveMapType, haveHelper, haveIsa, haveBpfLinks, haveBpfCookie, haveRingBuf, haveTestRun,
  requireProgType, requireMapType, requireHelper, featureReport, clearFeatureCache, type FeatureReport,
} from './features.js';
export { FdLink, type Link, type LinkKind, type ProgramLike } from './link.js';
export { LinkError, type LinkErrorCode } from './link-error.js';
export { readLinkInfo, PerfEventLinkType, type LinkInfo } from './link-info.js';
export { attachToPerfEvent, PerfEventLink, PerfEventIoctlLink, type PerfEventAttachOptions } from './link-perf-event.js';
export { attachTracepoint } from './link-tracepoint.js';
export { attachRawTracepoint } from './link-raw-tracepoint.js';
export { attachKprobe, attachKprobeMulti, kernelHasKprobes, type KprobeOptions } from './link-kprobe.js';
export { attachUprobe, attachUprobeMulti, resolveUprobeOffset, resolveBinaryPath, type UprobeTarget, type UprobeOptions } from './link-uprobe.js';
export { attachPerfEvent, PerfEventGroupLink, type PerfSampleOptions } from './link-perf-sample.js';
export { attachXdp, attachTcx, interfaceIndex, XdpMode, MprogFlags, type XdpOptions, type TcxOptions } from './link-netdev.js';
export { attachTc, attachTcNetlink, TcNetlinkLink, type TcOptions, type TcNetlinkOptions, type TcDirection } from './link-tc.js';
export { XdpNetlinkLink } from './link-xdp-netlink.js';
export { netAttachments, type NetAttachment, type NetDevice, type XdpAttachment, type TcAttachment, type FlowDissectorAttachment } from './net-attachments.js';
export { queryAttached, type AttachedPrograms } from './prog-query.js';
export { haveFeature, requireFeature, missingFeatureReason, describeFeature, kernelFeatures, type KernelFeature } from './feature-names.js';
export { attachCgroup, CgroupAttachPoint, type CgroupAttachName } from './link-cgroup.js';
export { attachNetns, type NetnsAttachPoint } from './link-netns.js';
export { attachSocketFilter } from './link-socket-filter.js';
export { attachIter, iterTargetBtfId, IterLink, type IterOptions } from './link-iter.js';
export { ElfSymbols, ElfSymbolError, type ElfFunctionSymbol } from './elf-symbols.js';
export { RingBufReader, type RingBufMapLike, type RawSampleCallback } from './ringbuf-reader.js';
export { PerfBufferReader, type PerfBufferRecord, type PerfReaderOptions, type PerfEventArrayLike } from './perf-reader.js';
export { linkFromFd, linkFromId, openPinnedLink } from './link-open.js';
export { attachTracing } from './link-tracing.js';
export { autoAttach, type AttachSpec, type AutoAttachOptions } from './auto-attach.js';
export { enableRunStats } from './stats.js';
export { loadCollection, loadObjectFile, Collection, LoadError, type LoadCollectionOptions } from './collection.js';
export { pinCollection, mapPinName } from './collection-pin.js';
export { StructOpsError, type StructOpsRegistration } from './struct-ops.js';
export { PinnedKindError, type PinnedKind } from './pin.js';
