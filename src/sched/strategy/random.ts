import { Prng } from '../../core/prng.js';
import type { Thread } from '../thread.js';
import type { Strategy } from './strategy.js';

/**
 * Uniform choice among the runnable threads at every decision, from the project's Prng. One
 * instance used for several executions gives a different schedule each time, all fixed by the seed.
 */
export class RandomStrategy implements Strategy {
  private readonly prng: Prng;

  constructor(seed: number | string) {
    this.prng = new Prng(seed);
  }

  pick(runnable: readonly Thread[], _current: Thread | null): number {
    return this.prng.below(runnable.length);
  }
}
