/** bpf_trace_printk: kernel-style formatting of up to three arguments. */
import { InterpError } from './errors.js';
import type { Helper, HelperContext } from './helpers.js';

/** Formats a bpf_trace_printk format with its arguments (%d %i %u %x %X %c %s %p, l/ll modifiers, %%). */
export function formatTrace(ctx: HelperContext, fmt: string, args: readonly bigint[]): string {
  let next = 0;
  const take = (): bigint => {
    if (next >= args.length) throw new InterpError('E_HELPER', 'bpf_trace_printk: more than 3 conversions', ctx.pc);
    return args[next++]!;
  };
  return fmt.replace(/%(l{0,2})([diuxXcsp%])/g, (_all, length: string, conv: string) => {
    if (conv === '%') return '%';
    const bits = length === '' ? 32 : 64;
    const v = take();
    switch (conv) {
      case 'd':
      case 'i':
        return BigInt.asIntN(bits, v).toString();
      case 'u':
        return BigInt.asUintN(bits, v).toString();
      case 'x':
        return BigInt.asUintN(bits, v).toString(16);
      case 'X':
        return BigInt.asUintN(bits, v).toString(16).toUpperCase();
      case 'c':
        return String.fromCharCode(Number(v & 0xffn));
      case 's':
        return ctx.memory.cString(v, 256, ctx.pc);
      default:
        return `0x${BigInt.asUintN(64, v).toString(16)}`;
    }
  });
}

export const tracePrintk: Helper = (ctx, fmt, size, a1, a2, a3) => {
  const n = Number(size > 4096n ? 4096n : size);
  const text = ctx.memory.cString(fmt, n, ctx.pc);
  const line = formatTrace(ctx, text, [a1, a2, a3]);
  ctx.trace(line.endsWith('\n') ? line.slice(0, -1) : line);
  return BigInt(line.length);
};
