/** Parses a tracepoint's format file (tracefs events/<g>/<n>/format) into its fields. */

export interface TracepointField {
  name: string;
  offset: number;
  size: number;
  signed: boolean;
  /** `type name[N]`: a fixed array of N elements of size/N bytes each. */
  length?: number;
  /** `char name[N]` (or `__data_loc char[]`): text. */
  char?: boolean;
  /** `T * name`: an address (a kernel pointer a module may declare as Ptr<T>). */
  pointer?: boolean;
  /** `__data_loc T[] name`: a u32 holding the data's offset in the record (low 16 bits) and its length (high 16). */
  dataLoc?: boolean;
}

export function parseTracepointFormat(text: string): Map<string, TracepointField> {
  const out = new Map<string, TracepointField>();
  for (const line of text.split('\n')) {
    const m = /field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/.exec(line);
    if (!m) continue;
    const full = m[1]!.trim();
    const decl = full.replace(/\[.*\]$/, '');
    const name = /([A-Za-z_]\w*)\s*$/.exec(decl)?.[1];
    if (!name) continue;
    const field: TracepointField = { name, offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' };
    const type = decl.slice(0, decl.length - name.length).trim();
    if (/^__data_loc\b/.test(type)) {
      field.dataLoc = true;
      if (/\bchar\s*\[\s*\]$/.test(type)) field.char = true;
    } else if (type.endsWith('*')) {
      field.pointer = true;
    } else {
      const len = /\[(\d+)\]$/.exec(full);
      if (len && Number(len[1]) > 0) {
        field.length = Number(len[1]);
        if (/(^|\s)(unsigned\s+|signed\s+)?char$/.test(type)) field.char = true;
      }
    }
    out.set(name, field);
  }
  return out;
}
