/** Helpers of the public-API tests: what a call threw, and the argument an ArgumentError names. */

import { expect } from 'vitest';
import {
  ArgumentError,
  HmmError,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/index.js';

export const PG = 4096;
export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/** The error fn throws (a test failure if it returns). */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected a throw');
}

/** The argument named by the ArgumentError fn throws (a test failure for any other outcome). */
export function badArg(fn: () => unknown): string {
  const e = caught(fn);
  expect(e, String(e)).toBeInstanceOf(ArgumentError);
  return (e as ArgumentError).argument;
}

/** The errno code of the HmmError (not an ArgumentError) fn throws. */
export function errCode(fn: () => unknown): string {
  const e = caught(fn);
  expect(e, String(e)).toBeInstanceOf(HmmError);
  expect(e).not.toBeInstanceOf(ArgumentError);
  return (e as HmmError).code;
}
