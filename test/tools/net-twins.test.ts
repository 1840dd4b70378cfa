/**
 * The packet tools of examples/tools against their C twins (bpf-tests/dsl-twins, built with
 * clang -O2): both objects are loaded side by side with the same map contents, the same
 * frames go through BPF_PROG_TEST_RUN in each, and the verdicts, the frames they leave and
 * every map afterwards must be equal. The frames come from a seeded generator: addresses in
 * and out of the tables, truncated headers, IP options, fragments, IPv6, VLAN and ARP.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { writeObject } from '../../src/dsl/compiler/object.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { type Collection, loadCollection } from '../../src/kernel/collection.js';
import { SyscallError } from '../../src/syscall/bpf.js';
import { MapType } from '../../src/syscall/layouts.generated.js';
import { onesComplementSum } from '../dsl/support/frames.js';
import { needKernel } from '../support/kernel.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A small seeded generator (mulberry32): the same frames on every run. */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

const ip4 = (s: string): number[] => s.split('.').map(Number);
const be16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface FrameChoices {
  sources: string[];
  destinations: string[];
  ports: number[];
  v6Sources: number[][];
}

/** One Ethernet frame: mostly IPv4 UDP/TCP to the tables' addresses and ports, with every kind of odd frame mixed in. */
function frame(pick: (n: number) => number, c: FrameChoices): Uint8Array {
  const one = <T>(xs: T[]): T => xs[pick(xs.length)]!;
  const macs = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
  const payload = Array.from({ length: pick(24) }, () => pick(256));
  const kind = pick(20);
  if (kind === 0) return Uint8Array.from([...macs, 0x08, 0x06, ...Array(28).fill(0)]); // ARP
  if (kind === 1 || kind === 2) {
    const l4 = [...be16(1000 + pick(60000)), ...be16(one(c.ports)), ...be16(8 + payload.length), 0, 0, ...payload];
    const v6 = [0x60, 0, 0, 0, ...be16(l4.length), 17, 64, ...one(c.v6Sources), ...Array(15).fill(0), 1];
    return Uint8Array.from([...macs, 0x86, 0xdd, ...v6, ...l4]);
  }
  const proto = kind < 11 ? 17 : kind < 17 ? 6 : 1;
  const sport = 1 + pick(65535);
  const dport = one(c.ports);
  const check = pick(4) === 0 ? 0 : pick(65536);
  const l4 = proto === 17 ? [...be16(sport), ...be16(dport), ...be16(8 + payload.length), ...be16(check)]
    : proto === 6 ? [...be16(sport), ...be16(dport), 0, 0, 0, pick(256), 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, ...be16(check), 0, 0]
    : [8, 0, 0, 0, 0, 1, 0, 1];
  const options = pick(12) === 0 ? [1, 1, 1, 0] : [];
  const frag = pick(12) === 0 ? be16(pick(2) ? 0x2000 : 0x0010) : [0x40, 0];
  const totLen = 20 + options.length + l4.length + payload.length;
  const ip = [0x45 + options.length / 4, 0, ...be16(totLen), ...be16(pick(65536)), ...frag, 1 + pick(255), proto, 0, 0, ...ip4(one(c.sources)), ...ip4(one(c.destinations)), ...options];
  const sum = ~onesComplementSum(Uint8Array.from(ip)) & 0xffff;
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  const vlan = pick(15) === 0 ? [0x81, 0x00, 0, 5] : [];
  const whole = Uint8Array.from([...macs, ...vlan, 0x08, 0x00, ...ip, ...l4, ...payload]);
  // Now and then a frame cut inside one of its headers.
  return pick(10) === 0 ? whole.subarray(0, 14 + pick(whole.length - 14)) : whole;
}

/** A map's contents as key → value hex, per-CPU values summed as u64 lanes (a test run lands on whichever CPU). */
function dump(c: Collection, name: string): Record<string, string> {
  const m = c.map(name);
  const out: Record<string, string> = {};
  for (const [k, v] of m.entries()) {
    if (!m.isPerCpu) {
      out[hex(k)] = hex(v);
      continue;
    }
    const sum = new BigUint64Array(m.valueSize / 8);
    for (let at = 0; at < v.byteLength; at += m.perCpuStride) {
      const lane = new BigUint64Array(v.slice(at, at + m.valueSize).buffer);
      lane.forEach((x, i) => (sum[i] = BigInt.asUintN(64, sum[i]! + x)));
    }
    out[hex(k)] = hex(new Uint8Array(sum.buffer));
  }
  return out;
}

/** What a test run gives: the verdict and the frame left, or the kernel's refusal (an skb test run refuses an IPv4 frame cut inside its header). */
function outcome(c: Collection, program: string, data: Uint8Array): { retval: number; frame: string } | { refused: string } {
  try {
    const r = c.program(program).testRun({ data });
    return { retval: r.retval, frame: hex(r.dataOut!) };
  } catch (e) {
    if (e instanceof SyscallError) return { refused: e.errnoName };
    throw e;
  }
}

interface TwinCase {
  tool: string;
  program: string;
  /** Map name → [key, value] byte lists, written into both objects before the run. */
  entries: Record<string, [number[], number[]][]>;
  choices: FrameChoices;
}

const CASES: TwinCase[] = [
  {
    tool: 'xdp-firewall',
    program: 'firewall',
    entries: {
      blocked4: [[[...le32(24), ...ip4('10.1.2.0')], Array(16).fill(0)], [[...le32(16), ...ip4('10.1.0.0')], Array(16).fill(0)], [[...le32(25), ...ip4('192.0.2.128')], Array(16).fill(0)]],
      blocked6: [[[...le32(32), 0x20, 0x01, 0x0d, 0xb8, ...Array(12).fill(0)], Array(16).fill(0)], [[...le32(48), 0x20, 0x01, 0x0d, 0xb8, 0, 1, ...Array(10).fill(0)], Array(16).fill(0)]],
    },
    choices: {
      sources: ['10.1.2.3', '10.1.200.9', '10.2.0.1', '192.0.2.200', '192.0.2.5', '203.0.113.9'],
      destinations: ['10.0.0.2'],
      ports: [53, 80],
      v6Sources: [[0x20, 0x01, 0x0d, 0xb8, 0, 1, ...Array(9).fill(0), 7], [0x20, 0x01, 0x0d, 0xb8, 0xff, ...Array(10).fill(0), 9], [0x20, 0x01, 0x0d, 0xb9, ...Array(11).fill(0), 1]],
    },
  },
  {
    tool: 'tc-dnat',
    program: 'dnat',
    entries: {
      services: [
        [[...ip4('198.51.100.10'), ...be16(53), 0, 0], [...ip4('10.0.1.7'), ...be16(5353), 0, 0, ...Array(8).fill(0)]],
        [[...ip4('198.51.100.11'), ...be16(8080), 0, 0], [...ip4('10.0.1.8'), ...be16(80), 0, 0, ...Array(8).fill(0)]],
      ],
    },
    choices: { sources: ['192.0.2.1', '192.0.2.77'], destinations: ['198.51.100.10', '198.51.100.11', '198.51.100.12'], ports: [53, 8080, 54], v6Sources: [[0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]] },
  },
  {
    tool: 'xdp-lb',
    program: 'lb',
    entries: {
      services: [
        [[...ip4('198.51.100.10'), ...be16(53), 17, 0], [...le32(0), ...le32(2)]],
        [[...ip4('198.51.100.10'), ...be16(80), 6, 0], [...le32(2), ...le32(1)]],
        [[...ip4('198.51.100.11'), ...be16(53), 17, 0], [...le32(3), ...le32(0)]],
        [[...ip4('198.51.100.11'), ...be16(80), 6, 0], [...le32(1020), ...le32(9)]],
      ],
      backends: [0, 1, 2].map((i) => [le32(i), [...ip4(`203.0.113.${i + 1}`), ...Array(20).fill(0)]]),
    },
    choices: { sources: ['192.0.2.1', '192.0.2.77', '192.0.2.200'], destinations: ['198.51.100.10', '198.51.100.11', '198.51.100.12'], ports: [53, 80, 54], v6Sources: [[0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]] },
  },
];

const FRAMES = 400;

describe('tools against their C twins: the same frames through BPF_PROG_TEST_RUN', function () {
  this.timeout(120000);

  for (const c of CASES) {
    it(`${c.tool}: ${FRAMES} generated frames give the same verdicts, frames and maps as clang's twin`, function () {
      needKernel(this);
      const ours = loadCollection(parseObject(writeObject(compile(nodeCompileOptions(join(ROOT, 'examples/tools', `${c.tool}.bpf.ts`))))));
      const twin = loadCollection(parseObject(new Uint8Array(readFileSync(join(ROOT, 'bpf-tests/dsl-twins', `${c.tool}.bpf.o`)))));
      try {
        for (const side of [ours, twin]) {
          for (const [map, kvs] of Object.entries(c.entries)) for (const [k, v] of kvs) side.map(map).update(Uint8Array.from(k), Uint8Array.from(v));
        }
        const pick = random(20261203);
        let changed = 0;
        for (let i = 0; i < FRAMES; i++) {
          const data = frame(pick, c.choices);
          const a = outcome(ours, c.program, data);
          const b = outcome(twin, c.program, data);
          expect(a, `frame ${i}: ${hex(data)}`).to.deep.equal(b);
          if ('frame' in a && a.frame !== hex(data)) changed++;
        }
        // The workload must reach the rewriting paths, not only the early returns.
        if (c.tool !== 'xdp-firewall') expect(changed, 'frames rewritten').to.be.greaterThan(20);
        for (const [name, m] of twin.maps) {
          if (m.type === MapType.PROG_ARRAY || name.startsWith('.') || name.endsWith('.rodata') || name.endsWith('.bss')) continue;
          expect(dump(ours, name), `map ${name}`).to.deep.equal(dump(twin, name));
        }
        if (c.tool === 'xdp-firewall') {
          const verdicts = dump(twin, 'verdicts');
          expect(Object.values(verdicts).every((v) => v !== '0000000000000000'), JSON.stringify(verdicts)).to.equal(true);
        }
      } finally {
        ours.close();
        twin.close();
      }
    });
  }
});
