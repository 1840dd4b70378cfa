/** The few uapi `enum bpf_map_type` values and map flags the object spec reasons about. */
export const MAP_TYPE_ARRAY = 2;
export const MAP_TYPE_PROG_ARRAY = 3;
export const MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const MAP_TYPE_ARRAY_OF_MAPS = 12;
export const MAP_TYPE_HASH_OF_MAPS = 13;

export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

export const isMapInMap = (type: number): boolean => type === MAP_TYPE_ARRAY_OF_MAPS || type === MAP_TYPE_HASH_OF_MAPS;

/** libbpf's pinning values in BTF map definitions. */
export const LIBBPF_PIN_NONE = 0;
export const LIBBPF_PIN_BY_NAME = 1;

/** Longest object name the kernel keeps (BPF_OBJ_NAME_LEN - 1). */
export const OBJ_NAME_MAX = 15;

/**
 * The kernel name of a data-section map, as libbpf makes it: a prefix of
 * the object name, then the section name ("myobj.rodata"); custom sections
 * with a second dot (".data.foo") keep their own name.
 */
export function internalMapName(objectName: string, section: string): string {
  const sfxLen = Math.min(Math.max(7, section.length), OBJ_NAME_MAX);
  const pfxLen = section.indexOf('.', 1) >= 0 ? 0 : Math.min(OBJ_NAME_MAX - sfxLen, objectName.length);
  const name = `${objectName.slice(0, pfxLen)}${section.slice(0, sfxLen)}`.slice(0, OBJ_NAME_MAX);
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** The object name libbpf derives from a file path: the base name up to its first dot. */
export function objectNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return dot >= 0 ? base.slice(0, dot) : base;
}
