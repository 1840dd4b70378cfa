/**
 * Errors meant for the person running the dev VMs: a stable code (for tests
 * and scripts), a message that says what to do, and an exit status.
 */
export type VmErrorCode =
  | 'UNKNOWN_KERNEL'
  | 'NO_QEMU'
  | 'NO_TOOL'
  | 'FETCH_FAILED'
  | 'BAD_PACKAGE'
  | 'BAD_USAGE'
  | 'IMAGE_FAILED'
  | 'GUEST_TIMEOUT'
  | 'GUEST_NO_STATUS'
  | 'GUEST_FAILED'
  | 'BAD_RESULTS';

export class VmError extends Error {
  override readonly name = 'VmError';
  constructor(
    readonly code: VmErrorCode,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
