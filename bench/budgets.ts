/**
 * Simulator operations measured against a wall-clock budget rather than a native baseline: the
 * timings that were once asserted in unit tests (test/report/report.test.ts, test/sched/perf.test.ts,
 * test/explore/explore.test.ts) and failed there on a loaded machine. A unit here is whatever the operation counts (an event
 * rendered, a yield, a schedule): the results' `pages` and `simNsPerPage` are units and ns per unit.
 * The budgets themselves are `budgetNsPerPage` in bench/registry.ts.
 */
import { explore } from '../src/explore/index.js';
import type { DemoReport, TimelineKind } from '../src/report/index.js';
import { renderReport } from '../src/report/index.js';
import {
  DfsStrategy,
  Executor,
  Mutex,
  RandomStrategy,
  type Strategy,
  type Task,
} from '../src/sched/index.js';
import type { SimOp, SimOpOptions } from './sim.js';
import { type Measurement, repeat, time } from './stats.js';

/** A report with `events` timeline events spread over four phases (the unit test's large input). */
function largeReport(events: number): DemoReport {
  const kinds: TimelineKind[] = ['device-fault', 'migrate-to-device', 'migrate-to-ram', 'eviction'];
  const timeline: DemoReport['timeline'] = [];
  for (let i = 0; i < events; i++)
    timeline.push({
      tUs: (i * 2000) / events,
      kind: kinds[i % kinds.length] as TimelineKind,
      pages: 1 + (i % 3),
    });
  const phases = ['build', 'device walk 1', 'cpu update', 'device walk 2'].map((name, i) => ({
    name,
    startUs: i * 500,
    endUs: (i + 1) * 500,
  }));
  return {
    title: 'bench: report of a large timeline',
    seed: 1,
    ok: true,
    config: { events },
    checks: [{ name: 'values', ok: true, detail: 'all read back' }],
    counters: { faults: events },
    costs: { fault: 1, total: 1 },
    costModel: { profile: 'none', terms: [] },
    phases,
    timeline,
    residency: [{ phase: 'build', region: 'heap', devicePages: 0, systemPages: 1, unmappedPages: 0 }],
  };
}

/** renderReport of a report with `events` timeline events: ns per event. */
export function reportRender(events: number, opts: SimOpOptions): Measurement {
  const data = largeReport(events);
  return repeat(events, opts, () => time(() => renderReport(data)));
}

function* spin(n: number): Task {
  for (let i = 0; i < n; i++) yield 'pte';
}

/** One thread yielding `yields` times through the executor's hot loop: ns per yield. */
export function schedYields(yields: number, opts: SimOpOptions): Measurement {
  return repeat(yields, opts, () => {
    const ex = new Executor();
    ex.spawn('t', spin(yields));
    return time(() => {
      const r = ex.run();
      if (r.steps !== yields + 1) throw new Error(`ran ${r.steps} steps, expected ${yields + 1}`);
    });
  });
}

/** 3 threads x ~100 steps, a mutex every 10 steps: ~330 steps, ~300 decisions. */
export function lockScenario(strategy: Strategy): void {
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

/** `schedules` schedules of the ~330-step lock scenario under RandomStrategy: ns per schedule. */
export function exploreRandom(schedules: number, opts: SimOpOptions): Measurement {
  const rs = new RandomStrategy(1);
  return repeat(schedules, opts, () =>
    time(() => {
      for (let i = 0; i < schedules; i++) lockScenario(rs);
    }),
  );
}

/** Up to `schedules` schedules of the lock scenario under DfsStrategy(2): ns per schedule. */
export function exploreDfs(schedules: number, opts: SimOpOptions): Measurement {
  return repeat(schedules, opts, () => {
    const dfs = new DfsStrategy(2);
    let runs = 0;
    const ns = time(() => {
      while (runs < schedules && dfs.nextExecution()) {
        lockScenario(dfs);
        runs++;
      }
    });
    return (ns / runs) * schedules; // per schedule, should the search end early
  });
}

/** explore() of fault-vs-munmap under `schedules` random schedules, checkers on: ns per schedule. */
export function exploreFaultVsMunmap(schedules: number, opts: SimOpOptions): Measurement {
  return repeat(schedules, opts, () =>
    time(() => {
      const r = explore('fault-vs-munmap', { strategy: 'random', schedules });
      if (r.violation !== null || r.schedulesExplored !== schedules) throw new Error('fault-vs-munmap broke');
    }),
  );
}

export const budgetOps: Readonly<Record<string, SimOp>> = {
  'report-render': reportRender,
  'sched-yields': schedYields,
  'explore-random': exploreRandom,
  'explore-dfs': exploreDfs,
  'explore-fault-vs-munmap': exploreFaultVsMunmap,
};
