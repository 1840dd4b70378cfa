/**
 * tsbpf: the runtime (live maps, programs, links, readers: ./kernel) and
 * typed handles on a module from user space (`loadModule`: ./module).
 */
export * from './kernel/index.js';
export * from './module/index.js';
