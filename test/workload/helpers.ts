/** Shared fixtures for the demo tests: a machine without devices and raw little-endian reads. */

import { expect } from 'vitest';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';

export const PG = 4096;

export function setup(ramPages = 8192): { sim: Simulator; p: Process } {
  const sim = new Simulator({ seed: 7, ramPages, devices: [] });
  return { sim, p: sim.createProcess() };
}

function view(p: Process, addr: number, n: number): DataView {
  const b = p.read(addr, n);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function u32At(p: Process, addr: number): number {
  return view(p, addr, 4).getUint32(0, true);
}

export function u64At(p: Process, addr: number): bigint {
  return view(p, addr, 8).getBigUint64(0, true);
}

export function ptrAt(p: Process, addr: number): number {
  return Number(u64At(p, addr));
}

/** Runs fn, expects it to throw an instance of cls, returns the error. */
// biome-ignore lint/suspicious/noExplicitAny: any constructor
export function thrown<T>(cls: abstract new (...args: any[]) => T, fn: () => unknown): T {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeInstanceOf(cls);
  return err as T;
}

/** Virtual page number of addr. */
export function vpn(addr: number): number {
  return Math.floor(addr / PG);
}
