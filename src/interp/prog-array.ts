/**
 * BPF_MAP_TYPE_PROG_ARRAY: programs by index, the targets of bpf_tail_call.
 * User space fills it with `set`; programs cannot read it as data.
 */
import { Errno, type InterpMap, type MapSpec, checkSpec, u32Key, u32KeyBytes } from './maps.js';
import { type DecodedProgram, decodeProgram } from './program.js';

export class ProgArrayMap implements InterpMap {
  readonly type: string = 'prog_array';
  readonly keySize = 4;
  readonly valueSize = 4;
  readonly maxEntries: number;
  private readonly programs: (DecodedProgram | undefined)[];

  constructor(spec: Omit<MapSpec, 'type' | 'keySize' | 'valueSize'> & Partial<MapSpec>) {
    checkSpec({ type: 'prog_array', keySize: 4, valueSize: 4, ...spec }, { keySize: 4, valueSize: 4 });
    this.maxEntries = spec.maxEntries;
    this.programs = new Array<DecodedProgram | undefined>(this.maxEntries);
  }

  /** Puts a program (raw slots or decoded) at `index`, or clears it with undefined. */
  set(index: number, program: Uint8Array | DecodedProgram | undefined): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.maxEntries) throw new RangeError(`prog array index ${index} out of range 0..${this.maxEntries - 1}`);
    this.programs[index] = program instanceof Uint8Array ? decodeProgram(program) : program;
  }

  program(index: number): DecodedProgram | undefined {
    return index >= 0 && index < this.maxEntries ? this.programs[index] : undefined;
  }

  lookup(): Uint8Array | undefined {
    return undefined;
  }

  update(): number {
    return -Errno.EINVAL;
  }

  delete(key: Uint8Array): number {
    const i = u32Key(key);
    if (i >= this.maxEntries) return -Errno.E2BIG;
    if (this.programs[i] === undefined) return -Errno.ENOENT;
    this.programs[i] = undefined;
    return 0;
  }

  *keys(): Iterable<Uint8Array> {
    for (let i = 0; i < this.maxEntries; i++) if (this.programs[i]) yield u32KeyBytes(i);
  }
}
