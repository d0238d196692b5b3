/** Argument checks shared by the facade: each throws ArgumentError naming the argument. */

import { ADDR_LIMIT, PAGE_SIZE } from '../core/addr.js';
import { ArgumentError } from '../core/errno.js';

export function checkInt(name: string, x: number, min: number, max: number): void {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
    throw new ArgumentError(name, `expected an integer in ${min}..${max}, got ${String(x)}`);
  }
}

export function checkAddr(name: string, x: number, aligned: boolean): void {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= ADDR_LIMIT) {
    throw new ArgumentError(name, `expected an address in 0..2^48, got ${String(x)}`);
  }
  if (aligned && x % PAGE_SIZE !== 0)
    throw new ArgumentError(name, `0x${x.toString(16)} is not page aligned`);
}

export function checkLength(name: string, x: number, zeroOk: boolean): void {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || (!zeroOk && x === 0) || x >= ADDR_LIMIT) {
    throw new ArgumentError(
      name,
      `expected a ${zeroOk ? 'non-negative' : 'positive'} integer length, got ${String(x)}`,
    );
  }
}

export function checkFlags(name: string, x: number, known: number): void {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || (x & ~known) !== 0) {
    throw new ArgumentError(
      name,
      `unknown bits 0x${((x | 0) & ~known).toString(16)} in 0x${(x | 0).toString(16)}`,
    );
  }
}

export function checkBytes(name: string, x: unknown): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array)) throw new ArgumentError(name, 'expected a Uint8Array');
}
