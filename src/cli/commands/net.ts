/** `tsbpf net [show] [dev NAME] [--json]`: BPF on the network of this namespace, like `bpftool net show`. */
import { parseArgs } from 'node:util';
import { netAttachments, type NetAttachment, type XdpAttachment } from '../../kernel/index.js';
import { CliError, printJson } from '../output.js';

export const help = `usage: tsbpf net [show|list] [dev NAME] [--json]

Lists the BPF programs on the network of this process's namespace, in the
layout of 'bpftool net show': XDP programs per interface with their mode
(driver, generic, offload), tc programs per interface (tcx ingress/egress
with their link, Linux 6.6+, then cls_bpf filters on the clsact hooks) and
the namespace's flow dissector. 'dev NAME' keeps one interface. Needs root.
Another namespace: ip netns exec NAME tsbpf net show.

options:
  --json    one JSON object per attachment, one per line:
            {"hook":"xdp","devname","ifindex","mode","id"}
            {"hook":"tc","devname","ifindex","kind","name","id"[,"link_id"]}
            {"hook":"flow_dissector","id"}
`;

/** An attachment as JSON: bpftool -j's field names, with the hook it sits on. */
function toJson(a: NetAttachment): Record<string, unknown> {
  if (a.hook !== 'tc' || a.linkId === undefined) return { ...a };
  const { linkId, ...rest } = a;
  return { ...rest, link_id: linkId };
}

/** bpftool's text: one line per interface for XDP (every mode of a multi-mode attachment on it), one per tc program. */
function text(all: NetAttachment[]): string {
  const xdp = new Map<number, XdpAttachment[]>();
  for (const a of all) if (a.hook === 'xdp') xdp.set(a.ifindex, [...(xdp.get(a.ifindex) ?? []), a]);
  const lines = ['xdp:'];
  for (const modes of xdp.values()) lines.push(`${modes[0]!.devname}(${modes[0]!.ifindex})${modes.map((m) => ` ${m.mode} id ${m.id}`).join('')}`);
  lines.push('', 'tc:');
  for (const a of all) if (a.hook === 'tc') lines.push(`${a.devname}(${a.ifindex}) ${a.kind}${a.name ? ` ${a.name}` : ''} id ${a.id}${a.linkId !== undefined ? ` link_id ${a.linkId}` : ''}`);
  lines.push('', 'flow_dissector:');
  // bpftool ends the section with one newline, with or without a program: "id N" has none of its own.
  const dissector = all.flatMap((a) => (a.hook === 'flow_dissector' ? [`id ${a.id}`] : [])).join('');
  return `${lines.join('\n')}\n${dissector}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const [sub = 'show', ...rest] = positionals;
  if (sub !== 'show' && sub !== 'list') throw new CliError(`unknown 'net' subcommand '${sub}' (try: show)`, 2);
  if (rest.length !== 0 && (rest.length !== 2 || rest[0] !== 'dev')) throw new CliError(`expected 'dev NAME', not '${rest.join(' ')}'`, 2);
  const all = netAttachments(rest[1]);
  if (values.json) for (const a of all) printJson(toJson(a));
  else process.stdout.write(text(all));
  return 0;
}
