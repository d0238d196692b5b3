/**
 * Argument checks shared by the facade: each throws ArgumentError naming the argument, whatever
 * the value's type (a bigint, a symbol, an object without a prototype), and never a TypeError.
 */

import { ADDR_LIMIT, PAGE_SIZE } from '../core/addr.js';
import { ArgumentError, CALL_PAGES_MAX, describeValue } from '../core/errno.js';

export function checkInt(name: string, x: unknown, min: number, max: number): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw new ArgumentError(name, `expected an integer in ${min}..${max}, got ${describeValue(x)}`);
  }
}

export function checkAddr(name: string, x: unknown, aligned: boolean): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= ADDR_LIMIT) {
    throw new ArgumentError(name, `expected an address in 0..2^48, got ${describeValue(x)}`);
  }
  if (aligned && x % PAGE_SIZE !== 0)
    throw new ArgumentError(name, `0x${x.toString(16)} is not page aligned`);
}

export function checkLength(name: string, x: unknown, zeroOk: boolean): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || (!zeroOk && x === 0) || x >= ADDR_LIMIT) {
    throw new ArgumentError(
      name,
      `expected a ${zeroOk ? 'non-negative' : 'positive'} integer length, got ${describeValue(x)}`,
    );
  }
}

/**
 * A page count of one call that fills a host buffer per page (pagemap, walkPtes, snapshot):
 * 1..CALL_PAGES_MAX, so no call can ask for gigabytes of output.
 */
export function checkPages(name: string, x: unknown): asserts x is number {
  checkInt(name, x, 1, CALL_PAGES_MAX);
}

/** A byte length of one call that allocates it on the host (p.read, pread): at most CALL_PAGES_MAX pages. */
export function checkBufferLength(name: string, x: unknown): asserts x is number {
  checkLength(name, x, true);
  if (x > CALL_PAGES_MAX * PAGE_SIZE)
    throw new ArgumentError(
      name,
      `${x} bytes is more than one call may copy (${CALL_PAGES_MAX * PAGE_SIZE})`,
    );
}

/**
 * Flag bits: a non-negative safe integer with no bit outside `known` (< 2^31). The test is exact
 * above 2^32: `x & known` keeps the known bits of x's low word, and x minus them is every other
 * bit, high word included (a 32-bit `x & ~known` would drop it).
 */
export function checkFlags(name: string, x: unknown, known: number): asserts x is number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
    throw new ArgumentError(name, `expected a non-negative integer of flag bits, got ${describeValue(x)}`);
  const unknown = x - (x & known);
  if (unknown !== 0)
    throw new ArgumentError(name, `unknown bits 0x${unknown.toString(16)} in 0x${x.toString(16)}`);
}

export function checkBytes(name: string, x: unknown): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array))
    throw new ArgumentError(name, `expected a Uint8Array, got ${describeValue(x)}`);
}

export function checkBoolean(name: string, x: unknown): asserts x is boolean {
  if (typeof x !== 'boolean')
    throw new ArgumentError(name, `expected true or false, got ${describeValue(x)}`);
}

/**
 * An output buffer the caller passes: a `cls` of at least `length` elements (a shorter one would
 * silently lose results).
 */
export function checkOut<T extends { readonly length: number }>(
  name: string,
  x: unknown,
  cls: abstract new (...args: never[]) => T,
  length: number,
): asserts x is T {
  if (!(x instanceof cls)) throw new ArgumentError(name, `expected a ${cls.name}, got ${describeValue(x)}`);
  if (x.length < length) throw new ArgumentError(name, `needs ${length} elements, has ${x.length}`);
}

/**
 * An options bag: undefined (all defaults) or a plain object whose keys are all in `known`; an
 * unknown key is an ArgumentError naming it (a misspelt option would otherwise be ignored).
 */
export function checkOptions<T extends object>(
  name: string,
  x: unknown,
  known: readonly (keyof T & string)[],
): T {
  if (x === undefined) return {} as T;
  if (x === null || typeof x !== 'object' || Array.isArray(x))
    throw new ArgumentError(name, `expected an options object, got ${describeValue(x)}`);
  for (const key of Object.keys(x))
    if (!(known as readonly string[]).includes(key))
      throw new ArgumentError(key, `unknown option of ${name} (known: ${known.join(', ')})`);
  return x as T;
}

/**
 * A handle (Process, SimFile, DeviceFile, memcg...) of the class `cls` that `mine` says belongs
 * to this simulator: an object of another Simulator would read and write this one's memory.
 */
export function checkHandle<T>(
  name: string,
  x: unknown,
  cls: abstract new (...args: never[]) => T,
  mine: (x: T) => boolean,
): T {
  if (!(x instanceof cls)) throw new ArgumentError(name, `expected a ${cls.name}, got ${describeValue(x)}`);
  if (!mine(x)) throw new ArgumentError(name, `this ${cls.name} belongs to another Simulator`);
  return x;
}
