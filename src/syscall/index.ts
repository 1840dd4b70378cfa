/** The raw kernel interface. Thin: no policy. */
export * from './layouts.generated.js';
export * from './flags.js';
export { SyscallError, bpfSyscall, bpfSyscallRaw, syscallError, SYS_BPF } from './bpf.js';
export { Errno, errnoName } from './errno.js';
export { NativeBuffer, NativeAllocationError, nativeCopy, nativeCString } from './memory.js';
export { scratchAttr, writeName, readName } from './attr.js';
export { hintFor } from './hints.js';
export { closeFd } from './fd.js';
export { MappedMemory, mmapPointer, pageSize, Prot, MapFlags as MmapFlags } from './mman.js';
export {
  perfEventOpen, encodePerfEventAttr, ioctl, PerfType, PerfSwConfig, PerfSample, PerfAttrFlag, PerfRecord, PerfIoctl, PERF_ATTR_SIZE, type PerfEventAttr,
} from './perf-event.js';
export { epollCreate, epollCtl, epollWait, epollWaitAsync, EpollEventBuffer, EpollOp, EpollEvents, eventfdCreate, eventfdSignal, eventfdDrain } from './epoll.js';
export { socket, setsockoptInt, setsockoptBytes, getsockoptBytes, bindAddress, ifNameToIndex, bindInet4, recvNonBlocking, AddressFamily, SocketType, SocketOption, SOL_SOCKET } from './socket.js';
export { XdpSocketOption, XdpBindFlags, XdpMmapOffset, SOL_XDP, encodeUmemReg, encodeSockaddrXdp, decodeXdpMmapOffsets, XDP_MMAP_OFFSETS_SIZE, type UmemReg, type XdpRingOffsets, type XdpMmapOffsets } from './xdp-socket.js';
