/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY: one output ring per CPU, written by
 * bpf_perf_event_output; user space drains the records with their CPU.
 */
import { KeylessMap } from './keyless-map.js';
import { Errno, type MapSpec, checkSpec } from './maps.js';

export interface PerfRecord {
  cpu: number;
  data: Uint8Array;
}

export class PerfEventArrayMap extends KeylessMap {
  readonly type: string = 'perf_event_array';
  readonly keySize = 4;
  readonly valueSize = 4;
  readonly maxEntries: number;
  private records: PerfRecord[] = [];

  /** maxEntries 0 means one entry per CPU, as libbpf sizes it. */
  constructor(spec: Omit<MapSpec, 'type' | 'keySize' | 'valueSize' | 'maxEntries'> & Partial<MapSpec>) {
    super();
    const maxEntries = spec.maxEntries || spec.cpus || 1;
    checkSpec({ type: 'perf_event_array', keySize: 4, valueSize: 4, ...spec, maxEntries }, { keySize: 4, valueSize: 4 });
    this.maxEntries = maxEntries;
  }

  /** Appends a record for `index` (a CPU); 0 or -E2BIG. */
  output(index: number, data: Uint8Array): number {
    if (index >= this.maxEntries) return -Errno.E2BIG;
    this.records.push({ cpu: index, data: data.slice() });
    return 0;
  }

  /** The records written so far, oldest first; they leave the map. */
  drain(): PerfRecord[] {
    const out = this.records;
    this.records = [];
    return out;
  }
}
