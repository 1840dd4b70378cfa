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
import { attachXdp } from '../../src/kernel/link-netdev.js';
import { SyscallError } from '../../src/syscall/bpf.js';
import { closeFd } from '../../src/syscall/fd.js';
import { UpdateFlags } from '../../src/syscall/flags.js';
import { MappedMemory, MapFlags as MmapFlags, Prot } from '../../src/syscall/mman.js';
import { AddressFamily, bindAddress, bindInet4, getsockoptBytes, ifNameToIndex, recvNonBlocking, setsockoptBytes, setsockoptInt, socket, SocketType } from '../../src/syscall/socket.js';
import {
  decodeXdpMmapOffsets, encodeSockaddrXdp, encodeUmemReg, SOL_XDP, XDP_MMAP_OFFSETS_SIZE, XdpBindFlags, XdpMmapOffset, XdpSocketOption, type XdpMmapOffsets,
} from '../../src/syscall/xdp-socket.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { waitFor, CHILD_DEADLINE } from '../support/wait.js';
import { op, R0, R1, R2, R3, R4, R5, R6 } from './link-programs.js';
import { VethNetns } from './netns-fixture.js';

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
  const r = spawnSync('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { encoding: 'utf8', timeout: CHILD_DEADLINE });
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

/**
 * XDP program: IPv4/UDP packets to `port` go to the AF_XDP socket at key 0
 * of `xskMapFd` (bpf_redirect_map with XDP_PASS as the fallback when the
 * slot is empty); everything else passes.
 */
function redirectUdpToXsk(xskMapFd: number, port: number): Instruction[] {
  const XDP_PASS = 2;
  return [
    op.ldxw(R2, R1, 0), // data
    op.ldxw(R3, R1, 4), // data_end
    op.movr(R4, R2),
    op.add(R4, 14 + 20 + 8),
    op.jgtr(R4, R3, 12),
    op.ldxh(R5, R2, 12), // ethertype
    op.jne(R5, 0x0008, 10), // 0x0800 as loaded
    op.ldxb(R5, R2, 14 + 9),
    op.jne(R5, 17, 8),
    op.ldxh(R5, R2, 14 + 20 + 2),
    op.jne(R5, portAsLoaded(port), 6),
    op.mapFd(R1, xskMapFd), // 2 slots
    op.mov(R2, 0),
    op.mov(R3, XDP_PASS),
    op.call(Helper.redirect_map),
    op.exit(),
    op.mov(R0, XDP_PASS),
    op.exit(),
  ];
}

const u64 = (bytes: Uint8Array, offset = 0): bigint => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(offset, true);

describe('kernel: maps used by attached programs', function () {

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

  describe('XSKMAP with an AF_XDP socket', function () {
    const RING = 64; // entries in each ring (power of two)
    const FRAME = 2048;
    let net: VethNetns | undefined;
    before(function () {
      needKernel(this);
      net = VethNetns.orSkip(this);
    });
    after(function () {
      net?.destroy();
    });

    /** An AF_XDP socket with a UMEM, fill and RX rings mapped, bound in copy mode to queue 0 of `ifname`. */
    function openXsk(ifname: string): { fd: number; umem: MappedMemory; fill: MappedMemory; rx: MappedMemory; offsets: XdpMmapOffsets; close(): void } {
      const fd = socket(AddressFamily.XDP, SocketType.RAW, 0);
      const mapped: MappedMemory[] = [];
      try {
        const umem = MappedMemory.anonymous(RING * FRAME);
        mapped.push(umem);
        setsockoptBytes(fd, SOL_XDP, XdpSocketOption.UMEM_REG, encodeUmemReg({ address: umem.address, length: umem.length, chunkSize: FRAME }), 'XDP_UMEM_REG');
        setsockoptInt(fd, SOL_XDP, XdpSocketOption.UMEM_FILL_RING, RING, 'XDP_UMEM_FILL_RING');
        setsockoptInt(fd, SOL_XDP, XdpSocketOption.UMEM_COMPLETION_RING, RING, 'XDP_UMEM_COMPLETION_RING');
        setsockoptInt(fd, SOL_XDP, XdpSocketOption.RX_RING, RING, 'XDP_RX_RING');
        const raw = new Uint8Array(XDP_MMAP_OFFSETS_SIZE);
        expect(getsockoptBytes(fd, SOL_XDP, XdpSocketOption.MMAP_OFFSETS, raw, 'XDP_MMAP_OFFSETS')).to.equal(XDP_MMAP_OFFSETS_SIZE);
        const offsets = decodeXdpMmapOffsets(raw);
        const shared = MmapFlags.SHARED;
        const fill = new MappedMemory(offsets.fill.desc + RING * 8, Prot.READ | Prot.WRITE, shared, fd, XdpMmapOffset.FILL_RING, 'mmap fill ring');
        mapped.push(fill);
        const rx = new MappedMemory(offsets.rx.desc + RING * 16, Prot.READ | Prot.WRITE, shared, fd, XdpMmapOffset.RX_RING, 'mmap rx ring');
        mapped.push(rx);
        // Hand every frame to the kernel: fill ring entries are UMEM addresses.
        const fv = new DataView(fill.buffer);
        for (let i = 0; i < RING; i++) fv.setBigUint64(offsets.fill.desc + i * 8, BigInt(i * FRAME), true);
        fv.setUint32(offsets.fill.producer, RING, true);
        bindAddress(fd, encodeSockaddrXdp(ifNameToIndex(ifname), 0, XdpBindFlags.COPY), `bind AF_XDP to ${ifname} queue 0`);
        return { fd, umem, fill, rx, offsets, close: () => { closeFd(fd); for (const m of mapped) m.close(); } };
      } catch (err) {
        closeFd(fd);
        for (const m of mapped) m.close();
        throw err;
      }
    }

    it('packets an XDP program redirects through the XSKMAP arrive on the AF_XDP socket\'s RX ring; after delete they reach the stack', async function () {
      needKernel(this);
      const { host, hostIp } = net!;
      const port = 40000 + Math.floor(Math.random() * 20000);
      using xsks = BpfMap.create({ type: 'XSKMAP', keySize: 4, valueSize: 4, maxEntries: 4, name: 'xsks' });
      using prog = Program.load({ type: 'XDP', instructions: redirectUdpToXsk(xsks.fd, port), name: 'to_xsk' });
      const xsk = openXsk(host);
      const udp = socket(AddressFamily.INET, SocketType.DGRAM, 0);
      try {
        bindInet4(udp, hostIp, port);
        const drainUdp = (): number => {
          const buf = new Uint8Array(64);
          let n = 0;
          while (recvNonBlocking(udp, buf) >= 0) n++;
          return n;
        };
        const key0 = new Uint8Array(4);
        const fdValue = new Uint8Array(new Uint32Array([xsk.fd]).buffer);
        // Only AF_XDP sockets go into an XSKMAP.
        expect(() => xsks.update(key0, new Uint8Array(new Uint32Array([udp]).buffer))).to.throw(SyscallError).with.property('errnoName', 'EOPNOTSUPP');
        xsks.update(key0, fdValue);
        // Putting the same socket again is a no-op even with NOEXIST; EXIST on an empty slot and keys past max_entries fail.
        xsks.update(key0, fdValue, UpdateFlags.NOEXIST);
        expect(() => xsks.update(new Uint8Array([1, 0, 0, 0]), fdValue, UpdateFlags.EXIST)).to.throw(SyscallError).with.property('errnoName', 'ENOENT');
        expect(() => xsks.update(new Uint8Array([4, 0, 0, 0]), fdValue)).to.throw(SyscallError).with.property('errnoName', 'E2BIG');
        // The kernel does not hand socket pointers to user space.
        expect(() => xsks.lookup(key0)).to.throw(SyscallError).with.property('errnoName', 'EOPNOTSUPP');
        using link = attachXdp(prog, host, { mode: 'skb' });

        const sent = 5;
        net!.sendUdpFromNs(sent, hostIp, port);
        const rxv = new DataView(xsk.rx.buffer);
        const produced = (): number => rxv.getUint32(xsk.offsets.rx.producer, true);
        await waitFor(() => produced() >= sent, `${sent} frames on the RX ring`);
        expect(produced()).to.equal(sent);
        const umem = new Uint8Array(xsk.umem.buffer);
        for (let i = 0; i < sent; i++) {
          const addr = Number(rxv.getBigUint64(xsk.offsets.rx.desc + i * 16, true));
          const len = rxv.getUint32(xsk.offsets.rx.desc + i * 16 + 8, true);
          expect(len).to.equal(14 + 20 + 8 + 5, 'ethernet + IPv4 + UDP + "tsbpf"');
          const frame = umem.subarray(addr, addr + len);
          const fv = new DataView(frame.buffer, frame.byteOffset, len);
          expect(fv.getUint16(12, false)).to.equal(0x0800);
          expect(fv.getUint16(14 + 20 + 2, false)).to.equal(port);
          expect(new TextDecoder().decode(frame.subarray(42))).to.equal('tsbpf');
        }
        rxv.setUint32(xsk.offsets.rx.consumer, sent, true);
        expect(drainUdp()).to.equal(0, 'redirected packets bypass the stack');

        // An empty slot makes bpf_redirect_map fall back to XDP_PASS.
        expect(xsks.delete(key0)).to.equal(true);
        const more = 3;
        net!.sendUdpFromNs(more, hostIp, port);
        let received = 0;
        await waitFor(() => (received += drainUdp()) >= more, `${more} datagrams on the UDP socket`);
        expect(received).to.equal(more);
        expect(produced()).to.equal(sent, 'nothing more on the RX ring');
        void link;
      } finally {
        closeFd(udp);
        xsk.close();
      }
    });
  });
});
