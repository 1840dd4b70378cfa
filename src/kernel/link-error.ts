/** Typed errors of attaching programs: a code, the target, and a hint. */

export type LinkErrorCode =
  | 'ENOTSUP' // the operation does not exist for this kind of attachment
  | 'ENOKPROBES' // the kernel was built without CONFIG_KPROBES
  | 'ENOTRACEPOINT' // no such tracepoint in tracefs
  | 'ENOIFACE' // no such network interface
  | 'ENOBINARY' // the file to probe does not exist
  | 'ENOSYM' // the symbol is not in the file
  | 'ENOCGROUP' // the cgroup path does not exist
  | 'ENOITER' // no bpf_iter target of that name
  | 'EBADARG' // an argument out of range
  | 'EACCES' // the caller may not read what attaching needs (tracefs, a file)
  | 'ETOOMANY' // the hook holds as many programs as the kernel allows
  | 'EATTACH'; // the kernel refused the attachment (see cause)

/**
 * Attaching failed: a code saying why (no such tracepoint, interface, symbol ...), the target, and a hint on what to do.
 * @example
 * try { attachTracepoint(prog, 'nosuch/event'); } catch (e) { if (e instanceof LinkError) console.error(e.code, e.hint); }   // ENOTRACEPOINT
 */
export class LinkError extends Error {
  override readonly name = 'LinkError';
  constructor(
    readonly code: LinkErrorCode,
    message: string,
    /** What was being attached to (tracepoint, interface, path ...). */
    readonly target?: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}${hint ? ` (${hint})` : ''}`, options);
  }
}
