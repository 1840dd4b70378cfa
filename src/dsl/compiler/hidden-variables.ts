/**
 * Names of the globals the compiler adds to a module for itself. Free of
 * ts-morph: the CLI reads them on a cached `tsbpf run` without loading TypeScript.
 */

/** The .data variable holding ring buffer `mapName`'s count of failed reserves/outputs (see ringbufDropCounter). */
export const ringbufDropsVariable = (mapName: string): string => `__tsbpf_ringbuf_drops_${mapName}`;
/** The .rodata string holding the `index`th distinct format string a module passes to bpf.snprintf (the kernel reads formats only from read-only maps). */
export const formatStringVariable = (index: number): string => `__tsbpf_fmt_${index}`;
/** Variables the compiler adds for itself (not the module's globals). */
export const isHiddenVariable = (name: string): boolean => name.startsWith('__tsbpf_');
