/**
 * Every error raised by src/elf: a code, a message, and where in the object
 * it was found (section name or index, byte offset).
 */
export interface ElfLocation {
  /** Section name, or `#<index>` when the name is unknown, or `header`. */
  section?: string;
  /** Byte offset: inside the section when `section` is set, else in the file. */
  offset?: number;
}

export class ElfError extends Error {
  override readonly name = 'ElfError';
  readonly section?: string;
  readonly offset?: number;
  constructor(
    readonly code: string,
    message: string,
    where: ElfLocation = {},
  ) {
    super(`${formatLocation(where)}${message}`);
    this.section = where.section;
    this.offset = where.offset;
  }
}

function formatLocation(where: ElfLocation): string {
  if (where.section === undefined && where.offset === undefined) return '';
  const parts: string[] = [];
  if (where.section !== undefined) parts.push(where.section === 'header' ? 'ELF header' : `section ${where.section}`);
  if (where.offset !== undefined) parts.push(`offset 0x${where.offset.toString(16)}`);
  return `${parts.join(', ')}: `;
}
