import { decodeReplay } from '../replay.js';
import type { Thread } from '../thread.js';
import { continueChoice, type Strategy } from './strategy.js';

/** Options for ReplayStrategy. */
export interface ReplayOptions {
  /** When the choices run out, continue the current thread if runnable, else the lowest id. */
  allowIncomplete?: boolean;
}

/**
 * Replays a run from its replay string (RunResult.replay), decision by decision. Without
 * allowIncomplete, running out of choices or a choice outside the runnable list means the scenario
 * is not the one that was recorded, and pick() throws an Error saying the replay diverged.
 */
export class ReplayStrategy implements Strategy {
  /** The decoded decisions: indexes into the runnable list, one per multi-way choice. */
  readonly choices: readonly number[];
  private readonly allowIncomplete: boolean;
  private pos = 0;

  constructor(replay: string, opts: ReplayOptions = {}) {
    this.choices = decodeReplay(replay);
    this.allowIncomplete = opts.allowIncomplete ?? false;
  }

  /** Decisions replayed so far in this execution. */
  get consumed(): number {
    return this.pos;
  }

  /** True once every recorded choice has been used. */
  get exhausted(): boolean {
    return this.pos >= this.choices.length;
  }

  beginExecution(): void {
    this.pos = 0;
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    if (this.pos < this.choices.length) {
      const i = this.choices[this.pos++]!;
      if (i >= runnable.length) {
        throw new Error(
          `replay diverged at decision ${this.pos - 1}: the replay chooses index ${i} but only ` +
            `${runnable.length} threads are runnable (${runnable.map((t) => t.name).join(', ')})`,
        );
      }
      return i;
    }
    if (this.allowIncomplete) return continueChoice(runnable, current);
    throw new Error(
      `replay diverged: the replay string has ${this.choices.length} decisions but the run needs more ` +
        `(runnable: ${runnable.map((t) => t.name).join(', ')}); pass { allowIncomplete: true } to continue`,
    );
  }
}
