/**
 * Shrinking a failing schedule to fewer preemptions.
 *
 * A failing schedule found by a random or PCT search usually carries many irrelevant preemptions.
 * shrink() rewrites the schedule as switch rules keyed by where they happen in the thread being
 * left, "after thread c's k-th step, run x" (the CHESS view of a schedule), so that dropping one
 * rule leaves every other rule meaning the same thing. For each preemption in turn it drops the
 * rule - the current thread continues - and keeps the change if the run still fails the same way
 * with fewer preemptions; passes repeat until none helps. Every candidate is a real run, and the
 * result's replay string reproduces it with ReplayStrategy.
 */

import type { RunResult } from './executor.js';
import { decodeReplay } from './replay.js';
import { continueChoice, indexOfThread, type Strategy } from './strategy/strategy.js';
import type { Thread } from './thread.js';

function keyOf(current: Thread | null): string {
  return current === null ? 'start' : `${current.id}:${current.steps}`;
}

/**
 * Follows a replay (by index) or switch rules (by key), falling back to the non-preempting choice,
 * and records the run as rules.
 */
class Follower implements Strategy {
  private pos = 0;
  /** Every decision that was not the default, as key -> thread id. */
  readonly rules = new Map<string, number>();
  /** Keys of the decisions that were preemptions. */
  readonly preemptions: string[] = [];

  constructor(
    private readonly replay: readonly number[] | null,
    private readonly want: ReadonlyMap<string, number>,
  ) {}

  beginExecution(): void {
    this.pos = 0;
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    const i = this.pos++;
    const key = keyOf(current);
    let pick = -1;
    if (this.replay !== null) {
      const w = this.replay[i];
      if (w !== undefined && w < runnable.length) pick = w;
    } else {
      const id = this.want.get(key);
      for (let k = 0; id !== undefined && k < runnable.length && pick < 0; k++)
        if (runnable[k]!.id === id) pick = k;
    }
    const dflt = continueChoice(runnable, current);
    if (pick < 0) pick = dflt;
    if (pick !== dflt) this.rules.set(key, runnable[pick]!.id);
    if (indexOfThread(runnable, current) >= 0 && pick !== dflt) this.preemptions.push(key);
    return pick;
  }
}

/** The smallest failing schedule shrink() found. */
export interface ShrinkResult {
  /** Replay string of the shrunk schedule, for ReplayStrategy. */
  replay: string;
  /** The run of that schedule, failing like the original. */
  result: RunResult;
  /** Runs made while shrinking. */
  runs: number;
}

/** Default: still fails with the same status and, for 'failed', the same first message line. */
export function sameFailure(candidate: RunResult, original: RunResult): boolean {
  if (candidate.status !== original.status || candidate.status === 'done') return false;
  if (candidate.status !== 'failed') return true;
  return firstLine(candidate.failure?.message) === firstLine(original.failure?.message);
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n', 1)[0]!;
}

/**
 * `runFn` must build a fresh scenario and run it with the given strategy on one Executor.
 * Throws if `replay` does not fail.
 */
export function shrink(
  replay: string,
  runFn: (strategy: Strategy) => RunResult,
  same: (candidate: RunResult, original: RunResult) => boolean = sameFailure,
): ShrinkResult {
  let best = new Follower(decodeReplay(replay), new Map());
  const original = runFn(best);
  let bestResult = original;
  let runs = 1;
  if (original.status === 'done') throw new Error('shrink: the replay does not fail');
  for (let improved = true; improved; ) {
    improved = false;
    for (let k = 0; k < best.preemptions.length; k++) {
      const want = new Map(best.rules);
      want.delete(best.preemptions[k]!);
      const f = new Follower(null, want);
      const r = runFn(f);
      runs++;
      if (same(r, original) && r.preemptions < bestResult.preemptions) {
        best = f;
        bestResult = r;
        improved = true;
        k--; // the preemptions before this one are unchanged: look at this position again
      }
    }
  }
  return { replay: bestResult.replay, result: bestResult, runs };
}
