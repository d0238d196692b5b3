/**
 * The starting states the built-in scenarios share (scenarios.ts, scenarios_lifecycle.ts,
 * scenarios_multi.ts), their byte patterns and their common check: one
 * process with 2 pages of private anonymous memory and device 0 open on it, and the same with
 * device 1 too.
 */

import { PAGE_SIZE } from '../core/addr.js';
import type { Process } from '../sim/process.js';
import type { ExploreDevice, ScenarioContext } from './scenario.js';

/** Pages of every built-in scenario's range. */
export const NPAGES = 2;
/** Bytes of every built-in scenario's range. */
export const LEN = NPAGES * PAGE_SIZE;

/** One process, its range at `a`, device 0 open on it. */
export interface OneDevice {
  /** The process. */
  p: Process;
  /** The start of its NPAGES range. */
  a: number;
  /** Device 0, opened with the driver under test. */
  dev: ExploreDevice;
}

/** OneDevice plus device 1 open on the same process. */
export interface TwoDevices extends OneDevice {
  /** Device 1, opened with the driver under test. */
  dev1: ExploreDevice;
}

/** A process with NPAGES of anonymous memory, the first `written` written by the CPU, and device 0 open. */
export function oneDevice(ctx: ScenarioContext, written: number = NPAGES): OneDevice {
  const p = ctx.createProcess();
  const a = ctx.anonymous(p, NPAGES, written);
  return { p, a, dev: ctx.openDevice(0, p) };
}

/** `s` (oneDevice's by default) with device 1 opened on its process too. */
export function twoDevices<S extends OneDevice>(ctx: ScenarioContext, s: S): S & { dev1: ExploreDevice };
export function twoDevices(ctx: ScenarioContext): TwoDevices;
export function twoDevices(ctx: ScenarioContext, s: OneDevice = oneDevice(ctx)): TwoDevices {
  return withState(s, { dev1: ctx.openDevice(1, s.p) });
}

/**
 * `s` with `more`'s fields added: how a scenario extends a setup's state. Not `{ ...s, ...more }`:
 * V8 (Node 20) takes 0.7–2 µs for a spread followed by more properties, and the explorer builds a
 * state per schedule; adding fields to the fresh object takes transitions V8 has cached.
 */
export function withState<S extends object, M extends object>(s: S, more: M): S & M {
  return Object.assign(s, more);
}

const patterns = new Map<number, Uint8Array>();

/** `length` bytes of `byte`, shared between schedules (never modified). */
export function pattern(byte: number, length = LEN): Uint8Array {
  const key = byte * 2 ** 32 + length;
  let b = patterns.get(key);
  if (b === undefined) {
    b = new Uint8Array(length).fill(byte);
    patterns.set(key, b);
  }
  return b;
}

/** The device's commands must all have succeeded: the pages stay mapped (only their contents go). */
export function deviceCommandsSucceeded(_s: unknown, ctx: ScenarioContext): string | null {
  const failed = ctx.failures.filter((f) => f.startsWith('dev'));
  return failed.length === 0 ? null : `a device command failed although the pages stay mapped: ${failed[0]}`;
}
