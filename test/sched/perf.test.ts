/**
 * Throughput of the hot loop. Budgets are loose (CI machines vary); the numbers measured on the
 * development machine (Node 20) are in the comments.
 */
import { describe, expect, it } from 'vitest';
import {
  DfsStrategy,
  Executor,
  Mutex,
  RandomStrategy,
  type Strategy,
  type Task,
} from '../../src/sched/index.js';

function* spin(n: number): Task {
  for (let i = 0; i < n; i++) yield 'pte';
}

/** 3 threads x ~100 steps, a mutex every 10 steps: ~330 steps, ~300 decisions. */
function scenario(strategy: Strategy): void {
  const ex = new Executor({ strategy });
  const m = new Mutex('ptl');
  let shared = 0;
  for (let k = 0; k < 3; k++) {
    ex.spawn(
      `T${k}`,
      (function* () {
        for (let i = 0; i < 10; i++) {
          yield* m.lock();
          shared++;
          m.unlock();
          for (let j = 0; j < 9; j++) yield 'page';
        }
      })(),
    );
  }
  const r = ex.run();
  if (r.status !== 'done' || shared !== 30) throw new Error('scenario broke');
}

describe('performance', () => {
  it('1e6 yields of a single thread', () => {
    const ex = new Executor();
    ex.spawn('t', spin(1e6));
    const t0 = performance.now();
    const r = ex.run();
    const ms = performance.now() - t0;
    expect(r.steps).toBe(1e6 + 1);
    // measured (Node 20, dev container): 45-100 ms, i.e. 1e7-2.2e7 yields/s
    console.log(`1e6 yields: ${ms.toFixed(1)} ms (${((1e6 / ms) * 1000).toExponential(2)} yields/s)`);
    expect(ms).toBeLessThan(1500);
  });

  it('explorer throughput: schedules/s of a ~330-step scenario', () => {
    const rs = new RandomStrategy(1);
    for (let i = 0; i < 200; i++) scenario(rs); // warm up
    const n = 3000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) scenario(rs);
    const ms = performance.now() - t0;
    const rate = (n / ms) * 1000;
    // measured: 10,000-16,000 schedules/s with RandomStrategy, 17,000-23,000 with DfsStrategy(2)
    console.log(`RandomStrategy: ${rate.toFixed(0)} schedules/s`);
    expect(rate).toBeGreaterThan(1000);

    const dfs = new DfsStrategy(2);
    const t1 = performance.now();
    let runs = 0;
    while (runs < n && dfs.nextExecution()) {
      scenario(dfs);
      runs++;
    }
    const rate2 = (runs / (performance.now() - t1)) * 1000;
    console.log(`DfsStrategy(2): ${rate2.toFixed(0)} schedules/s`);
    expect(rate2).toBeGreaterThan(1000);
  });
});
