import type { Thread } from '../thread.js';
import { continueChoice, type Strategy } from './strategy.js';

/**
 * The default: never preempt. Keeps running the current thread while it is runnable, else runs the
 * lowest id. This is what a non-preemptive kernel on one CPU does, and it is the cheapest schedule.
 */
export class RunToCompletion implements Strategy {
  pick(runnable: readonly Thread[], current: Thread | null): number {
    return continueChoice(runnable, current);
  }
}
