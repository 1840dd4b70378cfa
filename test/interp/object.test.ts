// Clang-built objects from bpf-tests/, parsed by src/elf, run in the interpreter.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseObject } from '../../src/elf/index.js';
import {
  InterpError,
  InterpObject,
  type LpmTrieMap,
  type MapOfMaps,
  PerCpuArrayMap,
  type QueueMap,
  type RingBufMap,
  createMap,
  type ArrayMap,
} from '../../src/interp/index.js';

const object = (name: string, core: 'local' | 'error' = 'local') =>
  new InterpObject(parseObject(new Uint8Array(readFileSync(new URL(`../../bpf-tests/${name}.bpf.o`, import.meta.url))), { name }), { core });
const XDP = { ABORTED: 0n, DROP: 1n, PASS: 2n, TX: 3n } as const;

/** An Ethernet + IPv4 header with the given IP protocol. */
function ipv4Packet(protocol: number): Uint8Array {
  const p = new Uint8Array(64);
  p.set([0x08, 0x00], 12);
  p[14] = 0x45;
  p[14 + 9] = protocol;
  return p;
}

const u64At = (bytes: Uint8Array, offset: number) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);

describe('interp: clang-built objects', () => {
  it('net.bpf.o: xdp_count counts by IP protocol and drops UDP', () => {
    const obj = object('net');
    expect(obj.programType('xdp_count')?.toLowerCase()).to.equal('xdp');
    expect(obj.run('xdp_count', { xdp: { packet: ipv4Packet(17) } }).r0).to.equal(XDP.DROP);
    expect(obj.run('xdp_count', { xdp: { packet: ipv4Packet(17) } }).r0).to.equal(XDP.DROP);
    expect(obj.run('xdp_count', { xdp: { packet: ipv4Packet(6) } }).r0).to.equal(XDP.PASS);
    expect(obj.run('xdp_count', { xdp: { packet: new Uint8Array(10) } }).r0).to.equal(XDP.PASS);
    const byProto = obj.maps.get('by_proto') as ArrayMap;
    expect(u64At(byProto.storage, 17 * 8)).to.equal(2n);
    expect(u64At(byProto.storage, 6 * 8)).to.equal(1n);
  });

  it('net.bpf.o: tc and socket programs see a __sk_buff', () => {
    const obj = object('net');
    expect(obj.run('tc_drop_udp', { skb: { packet: ipv4Packet(17) } }).r0).to.equal(2n); // TC_ACT_SHOT
    expect(obj.run('tc_drop_udp', { skb: { packet: ipv4Packet(1) } }).r0).to.equal(0n);
    expect(obj.run('sock_len', { skb: { packet: new Uint8Array(99) } }).r0).to.equal(99n);
  });

  it('global_data.bpf.o: .data, .rodata and .bss are array maps with their initial contents', () => {
    const obj = object('global_data');
    expect(obj.run('use_globals', { ctx: new Uint8Array(8) }).r0).to.equal(3n);
    const bss = [...obj.maps.entries()].find(([name]) => name.endsWith('.bss'))![1] as ArrayMap;
    const data = [...obj.maps.entries()].find(([name]) => name === '.data')![1] as ArrayMap;
    expect(u64At(data.storage, 0)).to.equal(11n); // counter: 10 + 1
    expect(obj.run('xdp_reads_rodata', { xdp: { packet: new Uint8Array(14) } }).r0).to.equal(XDP.PASS);
    expect(bss.storage.some((b) => b !== 0)).to.equal(true);
  });

  it('subprogs.bpf.o: bpf-to-bpf calls', () => {
    const obj = object('subprogs');
    expect(obj.run('first').r0).to.equal(25n);
    expect(obj.run('second').r0).to.equal(5n);
    expect(obj.run('xdp_calls', { xdp: { packet: new Uint8Array(14) } }).r0).to.equal(XDP.PASS);
  });

  it('tailcall.bpf.o: tail calls through a prog array filled from its initial values', () => {
    const obj = object('tailcall');
    expect(obj.run('entry', { ctx: new Uint8Array(24) }).r0).to.equal(XDP.TX);
    const bss = [...obj.maps.entries()].find(([name]) => name.endsWith('.bss'))![1] as ArrayMap;
    expect(u64At(bss.storage, 0)).to.equal(7n);
  });

  it('maps.bpf.o: fill_maps writes every kind of map', () => {
    const obj = object('maps');
    expect(obj.maps.get('percpu_array')).to.be.instanceOf(PerCpuArrayMap);
    expect(obj.run('fill_maps', { skb: { packet: new Uint8Array(64) } }).r0).to.equal(1n); // the bloom filter saw its value
    const key7 = new Uint8Array([7, 0, 0, 0]);
    expect(u64At(obj.maps.get('hash_map')!.lookup(key7)!, 8)).to.equal(0x1122334455667788n);
    expect(u64At((obj.maps.get('array_map') as ArrayMap).storage, 3 * 8)).to.equal(12345n);
    const lpm = obj.maps.get('lpm') as LpmTrieMap;
    expect(lpm.lookup(new Uint8Array([32, 0, 0, 0, 10, 0, 1, 200]))![0]).to.equal(24);
    expect((obj.maps.get('queue') as QueueMap).size).to.equal(2);
    expect(Array.from((obj.maps.get('stack') as QueueMap).pop()!)).to.deep.equal([6, 0, 0, 0]);
    expect((obj.maps.get('events') as RingBufMap).drain().map((r) => Array.from(r))).to.deep.equal([[0xcd, 0xab, 0, 0]]);
    expect(obj.run('count_packets', { xdp: { packet: new Uint8Array(14) }, cpu: 0 }).r0).to.equal(XDP.PASS);
  });

  it('map_in_map.bpf.o: outer maps hold the inner maps named by their initial values', () => {
    const obj = object('map_in_map');
    expect(obj.run('write_inner').r0).to.equal(2n);
    (obj.maps.get('outer_hash') as MapOfMaps).set(new Uint8Array(4), createMap({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 4 }));
    expect(obj.run('write_inner').r0).to.equal(3n);
    const slot1 = new Uint8Array([1, 0, 0, 0]);
    expect(Array.from(obj.maps.get('inner_a')!.lookup(slot1)!)).to.deep.equal([111, 0, 0, 0]);
    expect(Array.from(obj.maps.get('inner_b')!.lookup(slot1)!)).to.deep.equal([222, 0, 0, 0]);
  });

  it('core.bpf.o: CO-RE relocations keep their compiled offsets, or are a typed error on request', () => {
    const name = object('core').programNames[0]!;
    expect(() => object('core').program(name)).to.not.throw();
    expect(() => object('core', 'error').program(name)).to.throw(InterpError, /need a kernel/);
    // bpf_get_current_task gives an address naming the run's task (task storage keys on it); the CO-RE
    // probe reads through it fault (-EFAULT, zeroed) as they would on a bad pointer: the program runs to its end.
    expect(object('core').run(name, { ctx: new Uint8Array(64) }).r0).to.equal(0n);
  });
});
