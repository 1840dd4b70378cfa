/** Parses a tracepoint's format file (tracefs events/<g>/<n>/format) into its fields. */

export interface TracepointField {
  name: string;
  offset: number;
  size: number;
  signed: boolean;
}

export function parseTracepointFormat(text: string): Map<string, TracepointField> {
  const out = new Map<string, TracepointField>();
  for (const line of text.split('\n')) {
    const m = /field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/.exec(line);
    if (!m) continue;
    const decl = m[1]!.trim().replace(/\[.*\]$/, '');
    const name = /([A-Za-z_]\w*)\s*$/.exec(decl)?.[1];
    if (!name) continue;
    out.set(name, { name, offset: Number(m[2]), size: Number(m[3]), signed: m[4] === '1' });
  }
  return out;
}
