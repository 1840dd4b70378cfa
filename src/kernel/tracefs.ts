/**
 * tracefs lookups for tracepoints: the event id perf_event_open wants, and
 * whether the kernel has kprobe/uprobe event support.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { ensureTracefs } from './fs-mounts.js';
import { LinkError } from './link-error.js';

/** The id of tracepoint `category/name` from tracefs, or undefined when it does not exist. */
export function tracepointId(category: string, name: string): number | undefined {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) return undefined;
  const events = `${ensureTracefs()}/events`;
  try {
    accessSync(events, constants.R_OK | constants.X_OK);
  } catch (err) {
    throw new LinkError('EACCES', `cannot read ${events}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, `${category}/${name}`, 'tracefs is readable by root only: run as root (or with CAP_PERFMON and a tracefs mounted with wider permissions)', { cause: err });
  }
  const path = `${events}/${category}/${name}/id`;
  if (!existsSync(path)) return undefined;
  const id = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  return Number.isFinite(id) ? id : undefined;
}

// A PMU's sysfs description does not change while we run: read it once per PMU.
const pmuTypes = new Map<string, number | undefined>();
const retprobeBits = new Map<string, number>();

/** Reads the PMU type number of a dynamic PMU (kprobe, uprobe) from sysfs, or undefined. */
export function dynamicPmuType(pmu: string): number | undefined {
  if (pmuTypes.has(pmu)) return pmuTypes.get(pmu);
  const path = `/sys/bus/event_source/devices/${pmu}/type`;
  const type = existsSync(path) ? Number.parseInt(readFileSync(path, 'utf8').trim(), 10) : undefined;
  pmuTypes.set(pmu, type);
  return type;
}

/** The config bit that makes a kprobe/uprobe PMU event a return probe ("config:0"). */
export function retprobeBit(pmu: string): number {
  let bit = retprobeBits.get(pmu);
  if (bit === undefined) {
    const path = `/sys/bus/event_source/devices/${pmu}/format/retprobe`;
    const m = existsSync(path) ? /config:(\d+)/.exec(readFileSync(path, 'utf8')) : null;
    bit = m ? Number(m[1]) : 0;
    retprobeBits.set(pmu, bit);
  }
  return bit;
}
