/**
 * The C library, loaded once through koffi. Prototypes are fixed-arity
 * (not variadic) so that koffi can prepare each call once: calling glibc's
 * variadic syscall(2) through a fixed prototype is safe on x86-64 and arm64
 * because the integer arguments travel in the same registers either way.
 */
import koffi from 'koffi';

export const libc = koffi.load('libc.so.6');

/** syscall(nr, a, b, c) with a pointer as the second argument (bpf's attr). */
export const syscallPtr3 = libc.func('long syscall(long nr, long a1, void *a2, unsigned long a3)');
/**
 * syscall(nr, a, b, c) with integer arguments only: the fastest form for
 * hot paths, passing a NativeBuffer's `addressNumber` instead of koffi's
 * pointer object (measured ~100 ns less per call under load).
 */
export const syscall4 = libc.func('long syscall(long nr, long a1, long a2, long a3)');
/** syscall with up to six integer arguments. */
export const syscall6 = libc.func('long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)');

/** errno of the last failed call made through koffi on this thread. */
export const lastErrno = (): number => koffi.errno();

export { koffi };
