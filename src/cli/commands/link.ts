/** `tsbpf link list|show|detach`: the BPF links in the kernel, like `bpftool link`. */
import { parseArgs } from 'node:util';
import { AttachType, SyscallError, allIds, linkFromId, type LinkInfo } from '../../kernel/index.js';
import { lowerName } from '../kernel-format.js';
import { CliError, bold, printJson } from '../output.js';

export const help = `usage: tsbpf link [list] [--json]
       tsbpf link show ID [--json]
       tsbpf link detach ID

Lists every BPF link in the kernel (needs root or CAP_BPF) with its type,
program and target (tracepoint, interface, cgroup, netns, file ...), shows
one link, or detaches one from its hook (BPF_LINK_DETACH: xdp, tcx, cgroup,
netns links; the link object lives on, defunct, until its last fd or pin
goes away).

options:
  --json    one JSON object per link, one per line
`;

const attachTypeNames = new Map<number, string>(Object.entries(AttachType).map(([k, v]) => [v, lowerName(k)]));

/** The fields of a link as JSON, named as `bpftool link list -j` names them where it has them. */
function toJson(l: LinkInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { id: l.id, type: lowerName(l.typeName), prog_id: l.progId };
  if (l.name !== undefined) out.name = l.name;
  if (l.attachType !== undefined) out.attach_type = attachTypeNames.get(l.attachType) ?? l.attachType;
  if (l.ifindex !== undefined) out.ifindex = l.ifindex;
  if (l.cgroupId !== undefined) out.cgroup_id = Number(l.cgroupId);
  if (l.netnsIno !== undefined) out.netns_ino = l.netnsIno;
  if (l.offset !== undefined) out.offset = l.offset;
  if (l.cookie !== undefined && l.cookie !== 0n) out.cookie = l.cookie.toString();
  return out;
}

function info(id: number): LinkInfo | undefined {
  try {
    using link = linkFromId(id);
    return link.info();
  } catch (e) {
    if (e instanceof SyscallError && e.errnoName === 'ENOENT') return undefined; // gone meanwhile
    throw e;
  }
}

function parseId(text: string | undefined, sub: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0) throw new CliError(`link ${sub} needs a link id, got '${text ?? ''}'`, 2);
  return id;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const sub = positionals[0] ?? 'list';
  if (!['list', 'show', 'detach'].includes(sub)) throw new CliError(`unknown 'link' subcommand '${sub}' (try: list, show, detach)`, 2);
  if (positionals.length > (sub === 'list' ? 1 : 2)) throw new CliError(`unexpected argument '${positionals.at(-1)}'`, 2);

  if (sub === 'detach') {
    const id = parseId(positionals[1], sub);
    try {
      using link = linkFromId(id);
      link.detach();
    } catch (e) {
      if (e instanceof SyscallError && e.errnoName === 'ENOENT') throw new CliError(`no link with id ${id}`);
      if (e instanceof SyscallError && (e.errnoName === 'EOPNOTSUPP' || e.errnoName === 'EINVAL')) throw new CliError(`link ${id} cannot be detached (its type has no detach; close its fds or remove its pin)`);
      throw e;
    }
    return 0;
  }

  let links: LinkInfo[];
  if (sub === 'show') {
    const id = parseId(positionals[1], sub);
    const one = info(id);
    if (!one) throw new CliError(`no link with id ${id}`);
    links = [one];
  } else {
    links = [];
    for (const id of allIds('LINK')) {
      const l = info(id);
      if (l) links.push(l);
    }
  }
  for (const l of links) {
    if (values.json) {
      printJson(toJson(l));
      continue;
    }
    const j = toJson(l);
    const details = Object.entries(j)
      .filter(([k]) => !['id', 'type', 'prog_id'].includes(k))
      .map(([k, v]) => `${k} ${String(v)}`)
      .join('  ');
    process.stdout.write(`${bold(`${l.id}:`)} ${j.type}  prog ${l.progId}\n`);
    if (details) process.stdout.write(`\t${details}\n`);
  }
  return 0;
}
