/**
 * The hot loop at scale: a million yields, and thousands of schedules of a locking scenario. Their
 * speed is measured in bench/ against budgets (bench/budgets.ts: sched-yields, explore-random,
 * explore-dfs); here, only what they compute.
 */
import { describe, expect, it } from 'vitest';
import { lockScenario } from '../../bench/budgets.js';
import { DfsStrategy, Executor, RandomStrategy, type Task } from '../../src/sched/index.js';

function* spin(n: number): Task {
  for (let i = 0; i < n; i++) yield 'pte';
}

describe('the hot loop at scale', () => {
  it('1e6 yields of a single thread', () => {
    const ex = new Executor();
    ex.spawn('t', spin(1e6));
    const r = ex.run();
    expect(r.steps).toBe(1e6 + 1);
  });

  it('explorer: a ~330-step scenario under 3,200 random and up to 3,000 DFS schedules', () => {
    // lockScenario throws unless every thread finished and the mutex kept the 30 increments whole
    const rs = new RandomStrategy(1);
    for (let i = 0; i < 3200; i++) lockScenario(rs);
    const dfs = new DfsStrategy(2);
    let runs = 0;
    while (runs < 3000 && dfs.nextExecution()) {
      lockScenario(dfs);
      runs++;
    }
  });
});
