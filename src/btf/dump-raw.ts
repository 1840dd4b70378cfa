/**
 * The one-line-per-type text form of `bpftool btf dump ... format raw`, so a
 * dump can be compared with bpftool's line for line.
 */
import type { Btf } from './btf.js';
import type { BtfType } from './types.js';

const q = (name: string) => `'${name || '(anon)'}'`;

export function rawTypeLines(btf: Btf, id: number, t: BtfType = btf.type(id)): string[] {
  const head = `[${id}] ${t.kind.toUpperCase()} ${q(t.name)}`;
  switch (t.kind) {
    case 'void':
      return [`[0] VOID`];
    case 'int': {
      const enc = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
      return [`${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`];
    }
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      return [`${head} type_id=${t.type}`];
    case 'array':
      return [`${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`];
    case 'struct':
    case 'union':
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map(
          (m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`,
        ),
      ];
    case 'enum':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((e) => `\t${q(e.name)} val=${e.value}`),
      ];
    case 'enum64':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((e) => `\t${q(e.name)} val=${e.value}${t.signed ? 'LL' : 'ULL'}`),
      ];
    case 'fwd':
      return [`${head} fwd_kind=${t.union ? 'union' : 'struct'}`];
    case 'func':
      return [`${head} type_id=${t.type} linkage=${t.linkage}`];
    case 'func_proto':
      return [`${head} ret_type_id=${t.returnType} vlen=${t.params.length}`, ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`)];
    case 'var':
      return [`${head} type_id=${t.type}, linkage=${t.linkage}`];
    case 'datasec':
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${safeKind(btf, v.type)} ${q(safeName(btf, v.type))})`),
      ];
    case 'float':
      return [`${head} size=${t.size}`];
    case 'decl_tag':
      return [`${head} type_id=${t.type} component_idx=${t.componentIdx}`];
  }
}

/** The kind of a DATASEC entry, as bpftool prints it: VAR, or FUNC for a kfunc in .ksyms. */
function safeKind(btf: Btf, id: number): string {
  try {
    return btf.type(id).kind.toUpperCase();
  } catch {
    return 'VAR';
  }
}

function safeName(btf: Btf, id: number): string {
  try {
    return btf.nameOf(id);
  } catch {
    return '';
  }
}

/** The whole raw dump (own types of `btf` only, as bpftool prints split BTF). */
export function toRaw(btf: Btf): string {
  const out: string[] = [];
  for (let id = btf.firstId; id < btf.typeCount; id++) out.push(...rawTypeLines(btf, id));
  return out.join('\n') + '\n';
}
