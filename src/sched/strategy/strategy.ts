/**
 * A scheduling strategy: which runnable thread takes the next step.
 *
 * The executor consults it only when more than one thread is runnable; `runnable` is sorted by
 * thread id and is only valid during the call (the executor reuses the array). `current` is the
 * thread that took the previous step (null before the first), whether or not it is still
 * runnable; choosing another thread while it is runnable is a preemption.
 */

import type { Footprint, FootprintRecorder } from '../dependency.js';
import type { Thread } from '../thread.js';

/** Chooses which runnable thread takes the next step (see the file comment). */
export interface Strategy {
  /** Called once per Executor, at its first run(): a new execution of the scenario begins. */
  beginExecution?(): void;
  /** Index into `runnable` of the thread to run next. */
  pick(runnable: readonly Thread[], current: Thread | null): number;
  /**
   * Set by a strategy that needs every step's footprint (dependency.ts): the executor records
   * footprints with it and calls stepped() after every step, forced ones included.
   */
  readonly recorder?: FootprintRecorder;
  /**
   * With `recorder`: true if the next step replays one whose footprint the strategy already has
   * (a prefix of an earlier execution), so the executor need not record its memory.
   */
  replaying?(): boolean;
  /** After every step when `recorder` is set: who ran, the runnable threads it was chosen from, what it touched. */
  stepped?(t: Thread, runnable: readonly Thread[], fp: Footprint): void;
}

/** Index of `t` in `runnable`, or -1. */
export function indexOfThread(runnable: readonly Thread[], t: Thread | null): number {
  if (t === null || t.state !== 'runnable') return -1;
  for (let i = 0; i < runnable.length; i++) if (runnable[i] === t) return i;
  return -1;
}

/** The choice that is never a preemption: continue `current` if runnable, else the lowest id. */
export function continueChoice(runnable: readonly Thread[], current: Thread | null): number {
  const i = indexOfThread(runnable, current);
  return Math.max(i, 0);
}
