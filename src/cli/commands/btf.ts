/**
 * `tsbpf btf dump`: BTF from the running kernel, a raw BTF file or a BPF ELF
 * object, as a vmlinux.h-style C header, TypeScript declarations for the
 * module language, or bpftool's raw text.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBtf, rawTypeLines, toCHeader, toRaw, toTypeScript, type Btf } from '../../btf/index.js';
import { readElf } from '../../elf/reader.js';
import { CliError, printJson } from '../output.js';

export const help = `usage: tsbpf btf dump [FILE | --kernel] [--format raw|c|ts] [--root NAME]... [--follow-pointers] [--base FILE] [--json]

Prints BTF type information.

  FILE           raw BTF (e.g. /sys/kernel/btf/vmlinux or a module's file there)
                 or a BPF ELF object (its .BTF section); default: --kernel
  --kernel       the running kernel's BTF, /sys/kernel/btf/vmlinux
  --format F     raw  one type per line, as 'bpftool btf dump ... format raw' (default)
                 c    a vmlinux.h-style header that clang accepts (CO-RE ready)
                 ts   TypeScript declarations for CO-RE access from tsbpf modules
  --root NAME    c, ts: only this type and what it needs; raw: only types of
                 this name (repeatable)
  --follow-pointers
                 ts with --root: also declare what pointers point to (else
                 Ptr<unknown>, naming the C type in a comment)
  --base FILE    base BTF for split BTF; module BTF under /sys/kernel/btf/ uses
                 vmlinux automatically
  --json         with --format raw: one JSON object per type
`;

const VMLINUX = '/sys/kernel/btf/vmlinux';
const isElf = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** The .BTF of a file: raw BTF as is, or an ELF object's .BTF section. */
async function btfBytes(path: string): Promise<Uint8Array> {
  const bytes = await readBytes(path);
  if (!isElf(bytes)) return bytes;
  const section = readElf(bytes).section('.BTF');
  if (!section) throw new CliError(`${path}: ELF object has no .BTF section (build with clang -g)`);
  return section.data;
}

async function openBtf(path: string, basePath: string | undefined): Promise<Btf> {
  const inSysfs = dirname(path) === '/sys/kernel/btf' && basename(path) !== 'vmlinux';
  const baseFile = basePath ?? (inSysfs && existsSync(VMLINUX) ? VMLINUX : undefined);
  const base = baseFile ? parseBtf(await btfBytes(baseFile), { section: `${baseFile} .BTF` }) : undefined;
  return parseBtf(await btfBytes(path), { base, section: `${path} .BTF` });
}

function* range(from: number, to: number): Iterable<number> {
  for (let i = from; i < to; i++) yield i;
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kernel: { type: 'boolean' },
      format: { type: 'string', default: 'raw' },
      root: { type: 'string', multiple: true },
      base: { type: 'string' },
      'follow-pointers': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const [sub, ...files] = positionals;
  if (sub !== 'dump') throw new CliError(`expected 'dump'\n\n${help}`, 2);
  if (files.length > 1 || (files.length === 1 && values.kernel)) throw new CliError(`give one FILE or --kernel\n\n${help}`, 2);
  const path = files[0] ?? VMLINUX;
  const format = values.format!;
  if (!['raw', 'c', 'ts'].includes(format)) throw new CliError(`unknown format '${format}' (raw, c or ts)`, 2);
  if (values.json && format !== 'raw') throw new CliError('--json goes with --format raw', 2);
  const btf = await openBtf(path, values.base);
  const roots = values.root ?? [];
  for (const r of roots) if (btf.findByName(r) === undefined) throw new CliError(`no type named '${r}' in ${path}`);
  if (format === 'c') await write(toCHeader(btf, { roots }));
  else if (format === 'ts') await write(toTypeScript(btf, { roots, followPointers: values['follow-pointers'] === true }));
  else {
    // With --root, raw output lists just the named types.
    const ids = roots.length ? roots.flatMap((r) => btf.findAllByName(r)) : undefined;
    if (values.json) for (const id of ids ?? range(btf.firstId, btf.typeCount)) printJson({ id, ...btf.type(id) });
    else if (ids) await write(ids.map((id) => rawTypeLines(btf, id).join('\n')).join('\n') + '\n');
    else await write(toRaw(btf));
  }
  return 0;
}

