/**
 * The format strings of bpf_snprintf (and bpf_seq_printf, bpf_trace_vprintk), as the kernel's
 * bpf_bprintf_prepare accepts them: printable ASCII; conversions %d %i %u %x %X (with l or ll),
 * %s and %c, each with optional flags "0+- " and a width, no precision; %% for a percent sign.
 * The compiler checks a format with it and the interpreter formats with it, as the kernel does.
 */

export interface BprintfSpec {
  flags: string;
  width: number;
  /** 32 (no modifier) or 64 (l, ll) bits for integer conversions. */
  bits: 32 | 64;
  conv: 'd' | 'i' | 'u' | 'x' | 'X' | 's' | 'c';
}

/** The conversions of `fmt`, or why the kernel refuses it. */
export function parseBprintfFormat(fmt: string): { specs: BprintfSpec[] } | { error: string } {
  const specs: BprintfSpec[] = [];
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && !(c >= 0x09 && c <= 0x0d))) return { error: `character ${JSON.stringify(fmt[i])} at ${i} is not printable ASCII` };
    if (fmt[i] !== '%') continue;
    if (fmt[i + 1] === '%') {
      i++;
      continue;
    }
    const start = i++;
    let flags = '';
    while ('0+- '.includes(fmt[i] ?? 'x')) flags += fmt[i++];
    let width = 0;
    if (fmt[i] !== undefined && fmt[i]! >= '1' && fmt[i]! <= '9') {
      while (fmt[i] !== undefined && fmt[i]! >= '0' && fmt[i]! <= '9') width = width * 10 + Number(fmt[i++]);
    }
    const conv = fmt[i];
    if (conv === 's' || conv === 'c') {
      specs.push({ flags, width, bits: 64, conv });
      continue;
    }
    let bits: 32 | 64 = 32;
    if (fmt[i] === 'l') {
      bits = 64;
      i++;
      if (fmt[i] === 'l') i++;
    }
    const int = fmt[i];
    if (int !== 'd' && int !== 'i' && int !== 'u' && int !== 'x' && int !== 'X') {
      return { error: `'${fmt.slice(start, i + 1)}' at ${start} is not a conversion the kernel formats (%d %i %u %x %X with l or ll, %s, %c; flags 0+- and a width, no precision)` };
    }
    specs.push({ flags, width, bits, conv: int });
  }
  return { specs };
}

/** `fmt` formatted with `args` (u64 words) as the kernel does; `readString` reads a %s argument's NUL-terminated bytes. */
export function formatBprintf(fmt: string, args: readonly bigint[], readString: (addr: bigint) => string): string {
  const parsed = parseBprintfFormat(fmt);
  if ('error' in parsed) throw new Error(parsed.error);
  let next = 0;
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    if (fmt[i] !== '%') {
      out += fmt[i];
      continue;
    }
    if (fmt[i + 1] === '%') {
      out += '%';
      i++;
      continue;
    }
    // Skip to the conversion character (the spec was read by parseBprintfFormat).
    while (!'diuxXsc'.includes(fmt[i]!)) i++;
    const spec = parsed.specs[next]!;
    out += formatOne(spec, args[next++] ?? 0n, readString);
  }
  return out;
}

function formatOne(s: BprintfSpec, v: bigint, readString: (addr: bigint) => string): string {
  const left = s.flags.includes('-');
  const pad = (text: string, sign = ''): string => {
    const n = sign.length + text.length;
    if (n >= s.width) return sign + text;
    if (left) return sign + text + ' '.repeat(s.width - n);
    if (s.flags.includes('0') && s.conv !== 's' && s.conv !== 'c') return sign + '0'.repeat(s.width - n) + text;
    return ' '.repeat(s.width - n) + sign + text;
  };
  switch (s.conv) {
    case 's':
      return pad(readString(v));
    case 'c':
      return pad(String.fromCharCode(Number(v & 0xffn)));
    case 'd':
    case 'i': {
      const n = BigInt.asIntN(s.bits, v);
      const sign = n < 0n ? '-' : s.flags.includes('+') ? '+' : s.flags.includes(' ') ? ' ' : '';
      return pad((n < 0n ? -n : n).toString(), sign);
    }
    case 'u':
      return pad(BigInt.asUintN(s.bits, v).toString());
    case 'x':
      return pad(BigInt.asUintN(s.bits, v).toString(16));
    case 'X':
      return pad(BigInt.asUintN(s.bits, v).toString(16).toUpperCase());
  }
}
