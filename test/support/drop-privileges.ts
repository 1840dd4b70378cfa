/**
 * Imported LAST by a child script that must run as user nobody: by the time
 * this module runs, every other import of the script is loaded, so the
 * script can drop to nobody and still have its code. setgroups, setgid and
 * setuid away from root also clear every capability (no SECBIT_KEEP_CAPS);
 * the check below makes sure of it.
 */
import { readFileSync } from 'node:fs';

const id = Number(process.env.TSBPF_TEST_DROP_TO ?? 65534);
if (process.getuid?.() === 0) {
  process.setgroups!([]);
  process.setgid!(id);
  process.setuid!(id);
}
const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
if (process.getuid?.() !== id || capEff === undefined || BigInt(`0x${capEff}`) !== 0n) {
  throw new Error(`could not drop to uid ${id} without capabilities (uid ${process.getuid?.()}, CapEff ${capEff})`);
}
