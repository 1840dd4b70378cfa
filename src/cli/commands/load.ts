/**
 * `tsbpf load x.o [--pin DIR]`: what `bpftool prog loadall x.o DIR pinmaps
 * DIR/maps` does, through tsbpf's own loader.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { objectNameFromPath } from '../../elf/map-types.js';
import { parseObject } from '../../elf/parse-object.js';
import { loadCollection } from '../../kernel/collection.js';
import { type PinnedPaths, pinCollection, rollBackPins } from '../../kernel/collection-pin.js';
import { mapTypeName } from '../../kernel/map.js';
import { progTypeName } from '../../kernel/program.js';
import { lowerName } from '../kernel-format.js';
import { CliError, bold, dim, escapeControl, printJson } from '../output.js';
import { parseSetting } from '../set-option.js';

export const help = `usage: tsbpf load OBJECT.o [--pin DIR] [--pinmaps DIR] [--set NAME=VALUE]... [--json]

Loads every program and map of a BPF ELF object (as clang or tsbpf build
writes it) into the kernel, with libbpf's conventions: BTF-defined maps,
global data, kconfig and ksym externs, CO-RE relocations.

options:
  --pin DIR        pin programs as DIR/<program> and maps as DIR/maps/<map>
                   (like bpftool prog loadall OBJ DIR pinmaps DIR/maps)
  --pinmaps DIR    pin maps here instead of DIR/maps
  --pin-root DIR   where maps with pinning=LIBBPF_PIN_BY_NAME live (default /sys/fs/bpf)
  --set NAME=VAL   set a global variable (.rodata/.data/.bss) before loading;
                   VAL is an integer (0x.. allowed) or a "string"
  --log-level N    keep the verifier log (1 or 2) and print it
  --json           one JSON object per program and map

Without --pin the objects are released when the command exits. Pins live
in a bpffs: under /sys/fs/bpf it is mounted when missing, an existing empty
directory elsewhere gets one mounted on it (as bpftool does), and missing
directories are made inside bpffs only. When a pin fails, everything this
load pinned (programs, maps, maps pinned by name) is removed again.
`;

/** The kernel's log_level bits: 1 (verifier log), 2 (every instruction), 4 (statistics). */
function parseLogLevel(raw: string): number {
  const level = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(level >= 1 && level <= 7)) throw new CliError(`--log-level must be 1 or 2 (4 adds statistics; 1-7), not '${raw}'`, 2);
  return level;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      pin: { type: 'string' },
      pinmaps: { type: 'string' },
      'pin-root': { type: 'string' },
      set: { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) throw new CliError('tsbpf load wants exactly one object file', 2);
  const file = positionals[0]!;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const spec = parseObject(bytes, { name: objectNameFromPath(file) });
  const variables = Object.fromEntries((values.set ?? []).map((s) => parseSetting(s, true)));
  const logLevel = values['log-level'] !== undefined ? parseLogLevel(values['log-level']) : undefined;
  using c = loadCollection(spec, {
    variables, ...(values['pin-root'] ? { pinPath: values['pin-root'] } : {}), ...(logLevel ? { logLevel } : {}),
  });
  let pinned: PinnedPaths | undefined;
  try {
    pinned = values.pin ? pinCollection(c, values.pin, values.pinmaps) : undefined;
  } catch (e) {
    // All or nothing, as libbpf: the maps this load pinned by name go too.
    rollBackPins(c.pinnedByLoad, []);
    throw e;
  }
  for (const [name, p] of c.programs) {
    const info = p.info();
    if (values.json) {
      printJson({ kind: 'program', name, id: info.id, type: lowerName(progTypeName(info.type)), tag: info.tag, xlated_insns: info.xlatedProgLen / 8, ...(pinned ? { pinned: pinned.programs[name] } : {}) });
    } else {
      process.stdout.write(`${bold(`prog ${info.id}:`)} ${name} ${lowerName(progTypeName(info.type))} tag ${info.tag} ${info.xlatedProgLen / 8} insns${pinned ? ` ${dim(`pinned ${pinned.programs[name]}`)}` : ''}\n`);
      if (p.verifierLog) process.stdout.write(`${escapeControl(p.verifierLog)}\n`); // it quotes the object's source lines
    }
  }
  for (const m of spec.maps) {
    const map = c.map(m.name);
    const id = map.info().id;
    if (values.json) {
      printJson({ kind: 'map', name: m.name, id, type: lowerName(mapTypeName(map.type)), kernel_name: map.name, bytes_key: map.keySize, bytes_value: map.valueSize, max_entries: map.maxEntries, flags: map.flags, ...(pinned ? { pinned: pinned.maps[m.name] } : {}) });
    } else {
      process.stdout.write(`${bold(`map ${id}:`)} ${m.name} ${lowerName(mapTypeName(map.type))} key ${map.keySize}B value ${map.valueSize}B max_entries ${map.maxEntries}${pinned ? ` ${dim(`pinned ${pinned.maps[m.name]}`)}` : ''}\n`);
    }
  }
  return 0;
}
