/**
 * A schedule that ends in the livelock guard (EXPLORE_STEPS_MAX steps) is reported with a bounded
 * interleaving: the rows around the failure, not all 200,000 (spreading them into Math.max blew the
 * stack: RangeError: Maximum call stack size exceeded).
 */

import { describe, expect, it } from 'vitest';
import { TRACE_WINDOW_ROWS } from '../../src/explore/tracewindow.js';
import { EXPLORE_STEPS_MAX, explore, type Scenario } from '../../src/index.js';

/** hmm.rst's "retry forever": a device thread that never stops asking. */
const retryForever: Scenario<null> = {
  name: 'retry-forever',
  description: 'one thread spins on a retry that never succeeds',
  setup: () => null,
  threads: () => [
    {
      name: 'spinner',
      body: (function* () {
        for (;;) yield 'retry';
      })(),
    },
  ],
};

describe('a livelock is rendered, not a crash', () => {
  it('reports the step limit with a bounded window around the end', () => {
    const r = explore(retryForever, { schedules: 1 });
    const v = r.violation!;
    expect(v.checker).toBe('kernel');
    expect(v.message).toBe(
      `livelock: no schedule end after ${EXPLORE_STEPS_MAX} steps (stepsMax ${EXPLORE_STEPS_MAX})`,
    );
    // The window, one line saying what was left out, and the verdict.
    expect(v.interleaving.length).toBe(TRACE_WINDOW_ROWS + 2);
    expect(v.interleaving[0]).toBe(
      `      … ${EXPLORE_STEPS_MAX - TRACE_WINDOW_ROWS} earlier steps not shown …`,
    );
    expect(v.interleaving[1]).toBe(
      `${String(EXPLORE_STEPS_MAX - TRACE_WINDOW_ROWS + 1).padStart(5)} spinner  retry`,
    );
    expect(v.interleaving.at(-2)).toBe(`${String(EXPLORE_STEPS_MAX).padStart(5)} spinner  retry`);
    expect(v.interleaving.at(-1)).toMatch(/^ {6}!! kernel: livelock: no schedule end after /);
  });
});
