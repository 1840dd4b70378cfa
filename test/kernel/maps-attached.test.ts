/**
 * Maps that only come alive when attached to something: cgroup local storage
 * (allocated by the kernel when a program using it is attached to a cgroup)
 * and XSKMAP (holds AF_XDP sockets). Each test drives real traffic and reads
 * the effect back from user space.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { Helper } from '../../src/asm/helpers.js';
import type { Instruction } from '../../src/asm/instruction.js';
import { attachCgroup } from '../../src/kernel/link-cgroup.js';
import { cgroup2Path } from '../../src/kernel/fs-mounts.js';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { op, R0, R1, R2, R3, R4, R5, R6 } from './link-programs.js';

const BPF_CGROUP_INET_EGRESS = 1;

/** The wire (big-endian) port as ldxh reads it on a little-endian machine. */
const portAsLoaded = (port: number): number => ((port & 0xff) << 8) | (port >> 8);

/**
 * cgroup_skb program: for each IPv4/UDP packet to `port` (skb data starts at
 * the IP header), adds 1 to the u64 in each storage map's slot for this
 * cgroup (bpf_get_local_storage never returns NULL). Returns 1 (allow).
 */
function countUdpInStorage(storageFds: number[], port: number): Instruction[] {
  const body: Instruction[] = [];
  for (const fd of storageFds) body.push(op.mapFd(R1, fd), op.mov(R2, 0), op.call(Helper.get_local_storage), op.mov(R1, 1), op.atomicAdd(R0, 0, R1));
  const tail = body.reduce((n, i) => n + (i.opcode === 0x18 ? 2 : 1), 0);
  return [
    op.movr(R6, R1),
    op.ldxw(R2, R6, 76), // data
    op.ldxw(R3, R6, 80), // data_end
    op.movr(R4, R2),
    op.add(R4, 20 + 8),
    op.jgtr(R4, R3, 4 + tail),
    op.ldxb(R5, R2, 9), // IP protocol
    op.jne(R5, 17, 2 + tail),
    op.ldxh(R5, R2, 20 + 2), // UDP destination port (no IP options from this sender)
    op.jne(R5, portAsLoaded(port), tail),
    ...body,
    op.mov(R0, 1),
    op.exit(),
  ];
}

/** Sends `count` UDP datagrams to 127.0.0.1:`port` from a node child moved into `cgroup` first. */
function sendUdpFromCgroup(cgroup: string, count: number, port: number): void {
  const script = `const s=require('dgram').createSocket('udp4');s.on('error',()=>{});let n=0;const go=()=>{if(n===${count})return s.close();s.send('tsbpf',${port},'127.0.0.1',()=>{n++;go();});};go();`;
  const r = spawnSync('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
}

/** struct bpf_cgroup_storage_key { __u64 cgroup_inode_id; __u32 attach_type; } (16 bytes with padding), or the 8-byte id-only key. */
function storageKey(cgroupId: bigint, attachType: number, size: 8 | 16): Uint8Array {
  const key = new Uint8Array(size);
  const v = new DataView(key.buffer);
  v.setBigUint64(0, cgroupId, true);
  if (size === 16) v.setUint32(8, attachType, true);
  return key;
}

/** The sum of a per-CPU u64 value over all possible CPUs. */
function sumPerCpu(map: BpfMap, value: Uint8Array): bigint {
  let total = 0n;
  for (let off = 0; off < value.byteLength; off += map.perCpuStride) total += u64(value, off);
  return total;
}

const u64 = (bytes: Uint8Array, offset = 0): bigint => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(offset, true);

describe('kernel: maps used by attached programs', function () {
  this.timeout(60000);

  describe('cgroup local storage', function () {
    let cgroup = '';
    let cgroupId = 0n;
    before(function () {
      needKernel(this);
      const root = cgroup2Path();
      needKernel(this, root ? null : 'no cgroup v2 hierarchy');
      cgroup = `${root}/${uniqueName('tsbst')}`;
      mkdirSync(cgroup);
      cgroupId = statSync(cgroup, { bigint: true }).ino;
    });
    after(function () {
      if (cgroup && existsSync(cgroup)) rmdirSync(cgroup);
    });

    for (const keySize of [16, 8] as const) {
      it(`CGROUP_STORAGE (${keySize}-byte key) and PERCPU_CGROUP_STORAGE count exactly the datagrams a process in the cgroup sends`, function () {
        needKernel(this);
        const port = 40000 + Math.floor(Math.random() * 20000);
        const sent = 7;
        using shared = BpfMap.create({ type: 'CGROUP_STORAGE', keySize, valueSize: 8, name: 'cg_shared' });
        using perCpu = BpfMap.create({ type: 'PERCPU_CGROUP_STORAGE', keySize, valueSize: 8, name: 'cg_percpu' });
        using prog = Program.load({ type: 'CGROUP_SKB', instructions: countUdpInStorage([shared.fd, perCpu.fd], port), expectedAttachType: 'CGROUP_INET_EGRESS', name: 'cg_storage' });
        const key = storageKey(cgroupId, BPF_CGROUP_INET_EGRESS, keySize);
        expect(shared.lookup(key), 'no storage before attach').to.equal(undefined);

        const link = attachCgroup(prog, cgroup, 'egress');
        try {
          expect(link.info().cgroupId).to.equal(cgroupId, 'the link names the cgroup whose inode id keys the storage');
          // Attaching allocates one zeroed slot per map, keyed by this cgroup.
          expect(u64(shared.lookup(key)!)).to.equal(0n);
          sendUdpFromCgroup(cgroup, sent, port);
          sendUdpFromCgroup(cgroup, 2, port + 1); // other port: not counted

          expect(u64(shared.lookup(key)!)).to.equal(BigInt(sent));
          expect(sumPerCpu(perCpu, perCpu.lookup(key)!)).to.equal(BigInt(sent), 'per-CPU slots sum to the count');

          for (const map of [shared, perCpu]) {
            const keys = [...map.keys()];
            expect(keys).to.have.length(1);
            expect(keys[0]).to.deep.equal(key);
            expect(map.nextKey()).to.deep.equal(key, 'get_next_key without a key returns the only key');
            expect(map.nextKey(key)).to.equal(undefined);
          }
          // User space may overwrite the slot; the program keeps counting from there.
          shared.update(key, new Uint8Array(new BigUint64Array([100n]).buffer));
          sendUdpFromCgroup(cgroup, 3, port);
          expect(u64(shared.lookup(key)!)).to.equal(103n);
        } finally {
          link.close();
        }
        // Since Linux 5.9 the storage belongs to the cgroup, not to the
        // attachment: it outlives the detach, and attaching again reuses it.
        sendUdpFromCgroup(cgroup, 2, port);
        expect(u64(shared.lookup(key)!)).to.equal(103n, 'not counted while detached, slot kept');
        using again = attachCgroup(prog, cgroup, 'egress');
        sendUdpFromCgroup(cgroup, 1, port);
        expect(u64(shared.lookup(key)!)).to.equal(104n);
        expect(sumPerCpu(perCpu, perCpu.lookup(key)!)).to.equal(BigInt(sent + 3 + 1));
        void again;
      });
    }
  });
});
