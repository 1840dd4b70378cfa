/** Catching the typed error a call must throw. */
import { expect } from 'chai';

/** The error `fn` throws, checked to be an `ErrorClass`; the test fails when `fn` returns or throws something else. */
export function thrownBy<E extends Error>(fn: () => unknown, ErrorClass: abstract new (...args: never[]) => E, expected = 'an error'): E {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ErrorClass);
    return e as E;
  }
  throw new Error(`expected ${expected}`);
}
