import { ArgumentError } from '../../core/errno.js';
import { Prng } from '../../core/prng.js';
import type { Thread } from '../thread.js';
import type { Strategy } from './strategy.js';

const UNSET = Number.NEGATIVE_INFINITY;

/**
 * Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS'10).
 *
 * Each execution gives every thread a random distinct priority when it first shows up and picks
 * depth-1 change points uniformly in [1, k]; at each decision the highest-priority runnable thread
 * runs, and at the i-th change point the thread that just ran drops to priority -i (below every
 * initial one). A bug of depth d (needing d ordering constraints) is then found with probability at
 * least 1/(n k^(d-1)) per execution.
 *
 * k is counted in decisions (steps with more than one runnable thread: the only ones this strategy
 * sees) and estimated as the most decisions any earlier execution made; the first execution, with
 * no estimate yet, has no change points unless `estimatedSteps` is given.
 */
export class PctStrategy implements Strategy {
  /** PCT bug depth d: the strategy places d-1 priority change points per run. */
  readonly depth: number;
  private readonly prng: Prng;
  /** Priority by thread id; UNSET until the thread first appears. */
  private readonly prio: number[] = [];
  private readonly changeAt: number[] = [];
  private decisions = 0;
  private estimate: number;
  private execs = 0;

  constructor(seed: number | string, depth = 3, opts: { estimatedSteps?: number } = {}) {
    if (!Number.isInteger(depth) || depth < 1)
      throw new ArgumentError('depth', `expected an integer >= 1, got ${depth}`);
    this.prng = new Prng(seed);
    this.depth = depth;
    this.estimate = opts.estimatedSteps ?? 0;
  }

  /** Executions begun so far. */
  get executions(): number {
    return this.execs;
  }

  /** Current estimate of decisions per execution (k). */
  get estimatedSteps(): number {
    return this.estimate;
  }

  beginExecution(): void {
    if (this.decisions > this.estimate) this.estimate = this.decisions;
    this.decisions = 0;
    this.prio.length = 0;
    this.changeAt.length = 0;
    for (let i = 1; i < this.depth; i++)
      this.changeAt.push(this.estimate > 0 ? this.prng.range(1, this.estimate) : 0);
    this.execs++;
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    const c = ++this.decisions;
    if (current !== null) {
      for (let j = 0; j < this.changeAt.length; j++) {
        if (this.changeAt[j] === c) {
          this.priorityOf(current);
          this.prio[current.id] = -(j + 1);
        }
      }
    }
    let best = 0;
    let bestPrio = UNSET;
    for (let i = 0; i < runnable.length; i++) {
      const p = this.priorityOf(runnable[i]!);
      if (p > bestPrio) {
        bestPrio = p;
        best = i;
      }
    }
    return best;
  }

  private priorityOf(t: Thread): number {
    const p = this.prio[t.id];
    if (p !== undefined && p !== UNSET) return p;
    while (this.prio.length <= t.id) this.prio.push(UNSET);
    let fresh: number;
    do fresh = this.prng.nextU32();
    while (this.prio.includes(fresh));
    this.prio[t.id] = fresh;
    return fresh;
  }
}
