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

/** Reads the PMU type number of a dynamic PMU (kprobe, uprobe) from sysfs, or undefined. */
export function dynamicPmuType(pmu: string): number | undefined {
  const path = `/sys/bus/event_source/devices/${pmu}/type`;
  if (!existsSync(path)) return undefined;
  return Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
}

/** The config bit that makes a kprobe/uprobe PMU event a return probe ("config:0"). */
export function retprobeBit(pmu: string): number {
  const path = `/sys/bus/event_source/devices/${pmu}/format/retprobe`;
  if (!existsSync(path)) return 0;
  const m = /config:(\d+)/.exec(readFileSync(path, 'utf8'));
  return m ? Number(m[1]) : 0;
}
