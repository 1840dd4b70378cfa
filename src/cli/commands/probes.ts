/**
 * `tsbpf probes [PATTERN] [-v] [--json]`: what a module can attach to, as
 * `bpftrace -l` lists it: tracepoints (with -v their fields, from the
 * tracefs format a module's ctx is typed by) and a binary's functions for
 * uprobes (`uprobe:/bin/bash:read*`, `uprobe:libc.so.6:mall*`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ElfSymbols } from '../../kernel/elf-symbols.js';
import { ensureTracefs } from '../../kernel/fs-mounts.js';
import { resolveBinaryPath } from '../../kernel/link-uprobe.js';
import { CliError, escapeControl, printJson } from '../output.js';

export const help = `usage: tsbpf probes [PATTERN] [-v] [--json]

Lists probes as bpftrace -l does, one per line:
  tracepoint:GROUP:NAME         every tracepoint in tracefs
  uprobe:BINARY:FUNCTION        the functions of BINARY (a path, or a library
                                name such as libc.so.6), for uprobe()/SEC("uprobe/..."),
                                from its .symtab and .dynsym (not separate debug files)

PATTERN is a bpftrace-style glob: '*' matches any text, '?' one character.
'tracepoint:syscalls:sys_enter_open*', 'syscalls:*', '*openat*' (a pattern
without a kind matches tracepoints); uprobes need 'uprobe:BINARY[:GLOB]'.

options:
  -v, --verbose   with each tracepoint, its fields (type and name), as a
                  tracepoint program's ctx has them
  --json          one JSON object per probe: { probe, fields? }
`;

/** A bpftrace-style glob as a regular expression over the whole text. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

interface Probe {
  probe: string;
  fields?: Array<{ type: string; name: string }>;
}

/** A tracepoint's own fields (not the common_ ones), as `type name` from its format file. */
export function tracepointFields(format: string): Array<{ type: string; name: string }> {
  const out: Array<{ type: string; name: string }> = [];
  for (const m of format.matchAll(/^\s*field:([^;]*);\s*offset:/gm)) {
    const decl = m[1]!.trim();
    // The name is the last identifier, before any array suffix: "char comm[16]", "const char * filename".
    const named = /^(.*?)\s*\b(\w+)(\s*\[[^\]]*\])?$/.exec(decl);
    if (!named) continue;
    const [, type, name, array] = named;
    if (name!.startsWith('common_')) continue;
    out.push({ type: `${type!.trim()}${array ? array.replace(/\s+/g, '') : ''}`, name: name! });
  }
  return out;
}

function tracepoints(pattern: RegExp, verbose: boolean): Probe[] {
  const events = `${ensureTracefs()}/events`;
  const out: Probe[] = [];
  for (const group of readdirSync(events, { withFileTypes: true })) {
    // ftrace's own events (function, print, ...) are not tracepoints a program can attach to; bpftrace leaves them out too.
    if (!group.isDirectory() || group.name === 'ftrace') continue;
    let names: string[];
    try {
      names = readdirSync(`${events}/${group.name}`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      continue;
    }
    for (const name of names) {
      const probe = `tracepoint:${group.name}:${name}`;
      if (!pattern.test(probe)) continue;
      if (!verbose) {
        out.push({ probe });
        continue;
      }
      let format = '';
      try {
        format = readFileSync(`${events}/${group.name}/${name}/format`, 'utf8');
      } catch {
        // no format (some events are write-only): the name alone
      }
      out.push({ probe, fields: tracepointFields(format) });
    }
  }
  return out.sort((a, b) => (a.probe < b.probe ? -1 : a.probe > b.probe ? 1 : 0));
}

function uprobes(binary: string, glob: string): Probe[] {
  const path = resolveBinaryPath(binary);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const re = globRegExp(glob);
  const names = [...new ElfSymbols(bytes, path).functions().keys()].filter((n) => re.test(n)).sort();
  return names.map((n) => ({ probe: `uprobe:${binary}:${n}` }));
}

/** A field as C declares it (and bpftrace -lv prints it): "char prev_comm[16]". */
const declaration = (f: { type: string; name: string }): string => {
  const array = /^(.*?)(\[[^\]]*\])$/.exec(f.type);
  // A __data_loc field (dynamic length) keeps its [] with the type, as bpftrace prints it.
  return array && !f.type.startsWith('__data_loc') ? `${array[1]} ${f.name}${array[2]}` : `${f.type} ${f.name}`;
};

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { verbose: { type: 'boolean', short: 'v' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) throw new CliError('give at most one PATTERN', 2);
  const pattern = positionals[0] ?? '*';
  let probes: Probe[];
  const uprobe = /^u(?:ret)?probe:(.+?)(?::([^:/]*))?$/.exec(pattern);
  if (uprobe) probes = uprobes(uprobe[1]!, uprobe[2] ?? '*');
  else if (/^(tracepoint|t):/.test(pattern)) probes = tracepoints(globRegExp(pattern.replace(/^t:/, 'tracepoint:')), Boolean(values.verbose));
  else if (/^[a-z_]+probe:|^(kfunc|fentry|fexit|rawtracepoint|software|hardware):/.test(pattern)) {
    throw new CliError(`'${pattern.split(':')[0]}' probes are not listed; tsbpf probes lists tracepoint: and uprobe:BINARY`, 2);
  } else {
    // A pattern without a kind: GROUP:NAME or a name glob, over tracepoints.
    probes = tracepoints(globRegExp(pattern.includes(':') ? `tracepoint:${pattern}` : `tracepoint:*:${pattern}`), Boolean(values.verbose));
  }
  for (const p of probes) {
    if (values.json) printJson(p);
    else process.stdout.write(`${escapeControl(p.probe)}\n${(p.fields ?? []).map((f) => `    ${escapeControl(declaration(f))}\n`).join('')}`);
  }
  return 0;
}
