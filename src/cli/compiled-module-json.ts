/**
 * A compiled module as JSON text (bigints and byte arrays tagged), for the
 * build cache and for the compiler's start-up snapshot, which compiles in a
 * process of its own and hands the module back as text.
 */
import type { CompiledModule } from '../dsl/compiler/compile.js';

export function serializeModule(mod: CompiledModule): string {
  return JSON.stringify(mod, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('hex') } : v));
}

export function deserializeModule(text: string): CompiledModule {
  return JSON.parse(text, (_k, v) => {
    if (v && typeof v === 'object' && '$bigint' in v) return BigInt(v.$bigint);
    if (v && typeof v === 'object' && '$bytes' in v) return new Uint8Array(Buffer.from(v.$bytes, 'hex'));
    return v;
  }) as CompiledModule;
}
