/** bpf_trace_printk and bpf_snprintf: kernel-style formatting. */
import { formatBprintf, parseBprintfFormat } from '../asm/bprintf-format.js';
import { InterpError } from './errors.js';
import type { Helper, HelperContext } from './helpers.js';
import { Errno, helperResult } from './maps.js';

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

/** The kernel's limit on bpf_snprintf's arguments (MAX_BPRINTF_VARARGS). */
const MAX_BPRINTF_VARARGS = 12;

/** bpf_snprintf(str, str_size, fmt, data, data_len): formats u64 arguments into `str`; the length with its NUL, or -EINVAL. */
export const snprintf: Helper = (ctx, str, strSize, fmtAddr, data, dataLen) => {
  if (dataLen % 8n !== 0n || dataLen > BigInt(MAX_BPRINTF_VARARGS * 8) || (dataLen !== 0n && data === 0n)) return helperResult(-Errno.EINVAL);
  const fmt = ctx.memory.cString(fmtAddr, 4096, ctx.pc);
  const parsed = parseBprintfFormat(fmt);
  const count = Number(dataLen / 8n);
  if ('error' in parsed || parsed.specs.length > count) return helperResult(-Errno.EINVAL);
  const args = Array.from({ length: count }, (_, i) => ctx.memory.load(data + BigInt(i * 8), 8, ctx.pc));
  // The kernel copies a %s argument into a 512-byte buffer shared by all of them (MAX_BPRINTF_BUF).
  const text = new TextEncoder().encode(formatBprintf(fmt, args, (addr) => ctx.memory.cString(addr, 512, ctx.pc)));
  const size = Number(strSize);
  if (size > 0) {
    const out = ctx.memory.slice(str, size, ctx.pc, true);
    const n = Math.min(text.length, size - 1);
    out.set(text.subarray(0, n));
    out[n] = 0;
  }
  return BigInt(text.length + 1);
};
