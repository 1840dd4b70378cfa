/**
 * Flag bits from include/uapi/linux/bpf.h that are #defines or anonymous
 * enums (so not reachable by name in BTF): update flags, map creation flags,
 * program load flags, test-run flags, object open flags.
 */

/** Flags of BPF_MAP_UPDATE_ELEM / LOOKUP_ELEM (and batch elem_flags). */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2, F_LOCK: 4 } as const;

/** map_flags of BPF_MAP_CREATE. */
export const MapFlags = {
  NO_PREALLOC: 1 << 0,
  NO_COMMON_LRU: 1 << 1,
  NUMA_NODE: 1 << 2,
  RDONLY: 1 << 3,
  WRONLY: 1 << 4,
  STACK_BUILD_ID: 1 << 5,
  ZERO_SEED: 1 << 6,
  RDONLY_PROG: 1 << 7,
  WRONLY_PROG: 1 << 8,
  CLONE: 1 << 9,
  MMAPABLE: 1 << 10,
  PRESERVE_ELEMS: 1 << 11,
  INNER_MAP: 1 << 12,
  LINK: 1 << 13,
  PATH_FD: 1 << 14,
  VTYPE_BTF_OBJ_FD: 1 << 15,
  TOKEN_FD: 1 << 16,
  SEGV_ON_FAULT: 1 << 17,
  NO_USER_CONV: 1 << 18,
} as const;

/** prog_flags of BPF_PROG_LOAD. */
export const ProgFlags = {
  STRICT_ALIGNMENT: 1 << 0,
  ANY_ALIGNMENT: 1 << 1,
  TEST_RND_HI32: 1 << 2,
  TEST_STATE_FREQ: 1 << 3,
  SLEEPABLE: 1 << 4,
  XDP_HAS_FRAGS: 1 << 5,
  XDP_DEV_BOUND_ONLY: 1 << 6,
  TEST_REG_INVARIANTS: 1 << 7,
  TOKEN_FD: 1 << 16,
} as const;

/** flags of BPF_PROG_TEST_RUN. */
export const TestRunFlags = { RUN_ON_CPU: 1 << 0, XDP_LIVE_FRAMES: 1 << 1, SKB_CHECKSUM_COMPLETE: 1 << 2 } as const;

/** file_flags of BPF_OBJ_GET and open_flags of *_GET_FD_BY_ID. */
export const OpenFlags = { RDONLY: 1 << 3, WRONLY: 1 << 4 } as const;

/** attach_flags of BPF_PROG_ATTACH (cgroup). */
export const CgroupAttachFlags = { ALLOW_OVERRIDE: 1 << 0, ALLOW_MULTI: 1 << 1, REPLACE: 1 << 2 } as const;

/** XDP return codes. */
export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

/** Maximum length of object names (BPF_OBJ_NAME_LEN, including the NUL). */
export const OBJ_NAME_LEN = 16;
