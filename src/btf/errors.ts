/** Where in a BTF blob (or a .BTF.ext section) an error was found. */
export interface BtfLocation {
  /** '.BTF', '.BTF.ext', or a finer name like '.BTF.ext func_info'. */
  section: string;
  /** Byte offset from the start of the section. */
  offset?: number;
  /** The type id being decoded, when the error is about one type. */
  typeId?: number;
}

/**
 * Every error raised by src/btf: a stable code, a message and where. CO-RE
 * failures use `path` (e.g. `struct task_struct.pids[0].pid`) instead.
 */
export class BtfError extends Error {
  override readonly name = 'BtfError';
  constructor(
    readonly code: string,
    message: string,
    readonly location?: BtfLocation,
  ) {
    super(location ? `${formatLocation(location)}: ${message}` : message);
  }
}

export function formatLocation(l: BtfLocation): string {
  let s = l.section;
  if (l.offset !== undefined) s += `+0x${l.offset.toString(16)}`;
  if (l.typeId !== undefined) s += ` (type [${l.typeId}])`;
  return s;
}
