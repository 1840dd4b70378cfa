/** `tsbpf link list|show|pin|update|detach`: the BPF links in the kernel, like `bpftool link`. */
import { parseArgs } from 'node:util';
import { AttachType, LinkError, SyscallError, allIds, linkFromId, openPinnedLink, type FdLink, type LinkInfo } from '../../kernel/index.js';
import { lowerName } from '../kernel-format.js';
import { CliError, bold, printJson } from '../output.js';
import { openProgram } from '../prog-run.js';

export const help = `usage: tsbpf link [list] [--json]
       tsbpf link show LINK [--json]
       tsbpf link pin LINK FILE
       tsbpf link update LINK id ID | pinned PATH | name NAME
       tsbpf link detach LINK
LINK is ID, id ID or pinned PATH.

Lists every BPF link in the kernel (needs root or CAP_BPF) with its type,
program and target (tracepoint, interface, cgroup, netns, file ...), shows
one link, pins one in bpffs (it then outlives the process that made it,
until the pin is removed with rm), swaps the program of one atomically
(BPF_LINK_UPDATE: xdp, tcx, cgroup, netns and iter links), or detaches one
from its hook (BPF_LINK_DETACH: xdp, tcx, cgroup, netns links; the link
object lives on, defunct, until its last fd or pin goes away).

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

/**
 * The link named by the first words (ID, id ID, pinned PATH), opened once
 * the words after it are as many as its subcommand takes (a usage error
 * before anything is opened otherwise); those words are returned.
 */
function openLink(words: string[], sub: string, after: { words: number; usage: string } = { words: 0, usage: '' }): { link: FdLink; rest: string[] } {
  const usage = (): CliError => new CliError(`usage: tsbpf link ${sub} LINK${after.usage ? ` ${after.usage}` : ''} (LINK: ID, id ID or pinned PATH)`, 2);
  const [first, second] = words;
  const width = first === 'id' || first === 'pinned' ? 2 : 1;
  if (words.length !== width + after.words || (width === 2 && !second)) throw usage();
  const rest = words.slice(width);
  if (first === 'pinned') return { link: openPinnedLink(second!), rest };
  const text = width === 2 ? second : first;
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0) throw new CliError(`link ${sub} needs a link id, got '${text ?? ''}'`, 2);
  try {
    return { link: linkFromId(id), rest };
  } catch (e) {
    if (e instanceof SyscallError && e.errnoName === 'ENOENT') throw new CliError(`no link with id ${id}`);
    throw e;
  }
}

function pin(words: string[]): number {
  const { link, rest } = openLink(words, 'pin', { words: 1, usage: 'FILE' });
  using _ = link;
  link.pin(rest[0]!);
  return 0;
}

function update(words: string[]): number {
  const { link, rest } = openLink(words, 'update', { words: 2, usage: 'id ID | pinned PATH | name NAME' });
  using _ = link;
  using prog = openProgram(rest[0], rest[1]);
  try {
    link.update(prog);
  } catch (e) {
    if (e instanceof LinkError) throw new CliError(`link ${link.info().id}: ${e.message}`);
    if (e instanceof SyscallError && e.errnoName === 'EINVAL') throw new CliError(`link ${link.info().id} refused program ${prog.info().id} (EINVAL): it must have the program type and attach type of the one it replaces`);
    throw e;
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const sub = positionals[0] ?? 'list';
  if (!['list', 'show', 'pin', 'update', 'detach'].includes(sub)) throw new CliError(`unknown 'link' subcommand '${sub}' (try: list, show, pin, update, detach)`, 2);
  if (sub === 'list' && positionals.length > 1) throw new CliError(`unexpected argument '${positionals.at(-1)}'`, 2);
  if (sub === 'pin') return pin(positionals.slice(1));
  if (sub === 'update') return update(positionals.slice(1));

  if (sub === 'detach') {
    const { link } = openLink(positionals.slice(1), sub);
    using _ = link;
    try {
      link.detach();
    } catch (e) {
      if (e instanceof SyscallError && (e.errnoName === 'EOPNOTSUPP' || e.errnoName === 'EINVAL')) throw new CliError(`link ${link.info().id} cannot be detached (its type has no detach; close its fds or remove its pin)`);
      throw e;
    }
    return 0;
  }

  let links: LinkInfo[];
  if (sub === 'show') {
    const { link } = openLink(positionals.slice(1), sub);
    using _ = link;
    links = [link.info()];
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
