import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../src/core/assert.js';
import { EventLog } from '../../src/core/eventlog.js';
import {
  current,
  currentOrNull,
  DeadlockError,
  Executor,
  Mutex,
  msleep,
  NSEC_PER_MSEC,
  RandomStrategy,
  ReplayStrategy,
  type RunResult,
  StepLimitError,
  type Strategy,
  schedule,
  sleepNs,
  type Task,
  WaitQueue,
} from '../../src/sched/index.js';

function* steps(trace: string[], name: string, n: number): Task<number> {
  for (let i = 0; i < n; i++) {
    trace.push(`${name}${i}`);
    yield `${name} step ${i}`;
  }
  trace.push(`${name}-end`);
  return n;
}

describe('Executor basics', () => {
  it('runs threads to completion under RunToCompletion, lowest id first', () => {
    const ex = new Executor();
    const trace: string[] = [];
    const a = ex.spawn('A', steps(trace, 'a', 2));
    const b = ex.spawn('B', steps(trace, 'b', 1));
    const r = ex.run();
    expect(r.status).toBe('done');
    expect(trace).toEqual(['a0', 'a1', 'a-end', 'b0', 'b-end']);
    expect(a.state).toBe('done');
    expect(a.result).toBe(2);
    expect(b.result).toBe(1);
    expect([a.id, b.id]).toEqual([0, 1]);
    // A: 3 gen.next() calls, B: 2
    expect(r.steps).toBe(5);
    expect(r.preemptions).toBe(0);
    expect(r.failure).toBeNull();
    expect(r.deadlock).toBeNull();
  });

  it('current() is the running thread, and throws outside one', () => {
    const ex = new Executor();
    const seen: string[] = [];
    ex.spawn(
      'worker',
      (function* () {
        seen.push(current().name);
        yield 'x';
        seen.push(current().name);
      })(),
    );
    ex.run();
    expect(seen).toEqual(['worker', 'worker']);
    expect(currentOrNull()).toBeNull();
    expect(() => current()).toThrow(KernelBug);
    expect(() => current()).toThrow('current() called outside a running thread');
  });

  it('a running thread can spawn; the child runs in the same run()', () => {
    const ex = new Executor();
    const trace: string[] = [];
    ex.spawn(
      'parent',
      (function* () {
        const child = current().executor.spawn('child', steps(trace, 'c', 1));
        trace.push(`spawned ${child.id}`);
        yield 'after spawn';
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace).toEqual(['spawned 1', 'c0', 'c-end']);
  });

  it('spawn rejects a generator function that was not called', () => {
    const ex = new Executor();
    expect(() => ex.spawn('x', function* () {} as unknown as Task)).toThrow(/call the generator function/);
  });

  it('a throwing thread fails the run, named, with its error', () => {
    const ex = new Executor();
    const err = new Error('boom');
    ex.spawn('ok', steps([], 'o', 5));
    ex.spawn(
      'bad',
      (function* () {
        yield 'before';
        throw err;
      })(),
    );
    const r = ex.run();
    expect(r.status).toBe('failed');
    expect(r.failure).toEqual({ thread: 'bad', error: err, message: 'boom' });
    expect(ex.threads[1]!.state).toBe('failed');
    expect(ex.threads[1]!.error).toBe(err);
  });

  it('runTask returns the value, and rethrows a thread error', () => {
    const ex = new Executor();
    expect(ex.runTask('t', steps([], 't', 3))).toBe(3);
    // the same executor can run more tasks; time and steps carry on
    expect(ex.runTask('u', steps([], 'u', 1))).toBe(1);
    expect(ex.steps).toBe(4 + 2);
    const err = new RangeError('nope');
    expect(() =>
      ex.runTask(
        'v',
        (function* (): Task<number> {
          yield 'a';
          throw err;
        })(),
      ),
    ).toThrow(err);
  });

  it('step limit: status step-limit after exactly stepsMax steps; runTask throws StepLimitError', () => {
    const spin = function* (): Task {
      for (;;) yield* schedule('spin');
    };
    const ex = new Executor({ stepsMax: 100 });
    ex.spawn('spinner', spin());
    const r = ex.run();
    expect(r.status).toBe('step-limit');
    expect(r.steps).toBe(100);
    const ex2 = new Executor({ stepsMax: 50 });
    let e: unknown;
    try {
      ex2.runTask('spinner', spin());
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(StepLimitError);
    expect((e as StepLimitError).kind).toBe('LIVELOCK');
    expect((e as Error).message).toBe('step limit reached: 50 steps (stepsMax 50) while running spinner');
  });

  it('runTask throws DeadlockError with kind DEADLOCK', () => {
    const ex = new Executor();
    const wq = new WaitQueue('never');
    let e: unknown;
    try {
      ex.runTask(
        'stuck',
        wq.waitEvent(() => false),
      );
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(DeadlockError);
    expect((e as DeadlockError).kind).toBe('DEADLOCK');
    expect((e as Error).message).toContain('stuck is blocked');
    expect((e as Error).message).toContain('waiting for waitqueue never');
  });

  it('a daemon blocked forever does not make the run a deadlock', () => {
    const ex = new Executor();
    const wq = new WaitQueue('work');
    const daemon = ex.spawn(
      'kworker',
      wq.waitEvent(() => false),
      { daemon: true },
    );
    expect(ex.runTask('user', steps([], 'u', 2))).toBe(2);
    expect(daemon.state).toBe('blocked');
  });
});

describe('virtual time', () => {
  it('advances only when nobody can run, to the earliest timer', () => {
    const ex = new Executor();
    const trace: string[] = [];
    ex.spawn(
      'slow',
      (function* () {
        yield* msleep(5);
        trace.push(`slow woke at ${ex.nowNs}`);
      })(),
    );
    ex.spawn(
      'fast',
      (function* () {
        yield* sleepNs(2 * NSEC_PER_MSEC);
        trace.push(`fast woke at ${ex.nowNs}`);
      })(),
    );
    ex.spawn(
      'busy',
      (function* () {
        for (let i = 0; i < 3; i++) {
          trace.push(`busy at ${ex.nowNs}`);
          yield 'busy';
        }
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace).toEqual([
      'busy at 0',
      'busy at 0',
      'busy at 0',
      'fast woke at 2000000',
      'slow woke at 5000000',
    ]);
    expect(ex.nowNs).toBe(5_000_000);
  });

  it('timers due at the same instant wake together', () => {
    const ex = new Executor();
    const trace: string[] = [];
    for (const n of ['x', 'y']) {
      ex.spawn(
        n,
        (function* () {
          yield* msleep(1);
          trace.push(`${n}@${ex.nowNs}`);
        })(),
      );
    }
    ex.run();
    // both are runnable at 1 ms; RunToCompletion continues y, the last one to run
    expect(trace).toEqual(['y@1000000', 'x@1000000']);
  });

  it('rejects negative or non-finite durations', () => {
    const ex = new Executor();
    expect(() => ex.runTask('t', sleepNs(-1))).toThrow(/finite duration >= 0/);
    expect(() => ex.runTask('t', msleep(Number.NaN))).toThrow(/finite duration >= 0/);
  });
});

/** Three threads contending on a mutex with sleeps and yields: a scenario with many decisions. */
function busyScenario(strategy: Strategy, log?: EventLog): RunResult {
  const ex = new Executor({ strategy, log });
  const m = new Mutex('m');
  let shared = 0;
  for (let k = 0; k < 3; k++) {
    ex.spawn(
      `T${k}`,
      (function* () {
        for (let i = 0; i < 4; i++) {
          yield* m.lock();
          const v = shared;
          yield `load ${v}`;
          shared = v + 1;
          m.unlock();
          if (i === 2) yield* sleepNs(10 * (k + 1));
          yield 'loop';
        }
      })(),
    );
  }
  return ex.run();
}

describe('determinism and replay', () => {
  it('the same seed gives the same EventLog hash; another seed gives another', () => {
    const h = (seed: number) => {
      const log = new EventLog();
      busyScenario(new RandomStrategy(seed), log);
      return log.hash();
    };
    expect(h(7)).toBe(h(7));
    expect(h(42)).toBe(h(42));
    expect(h(7)).not.toBe(h(42));
  });

  it('the replay string reproduces the same hash and the same RunResult', () => {
    for (const seed of [1, 2, 3, 99]) {
      const log1 = new EventLog();
      const r1 = busyScenario(new RandomStrategy(seed), log1);
      expect(r1.status).toBe('done');
      expect(r1.replay).toMatch(/^hmm1:[A-Za-z0-9_-]+$/);
      expect(r1.preemptions).toBeGreaterThan(0);
      const log2 = new EventLog();
      const r2 = busyScenario(new ReplayStrategy(r1.replay), log2);
      expect(log2.hash()).toBe(log1.hash());
      expect(log2.count).toBe(log1.count);
      expect(r2).toEqual(r1);
      expect(r2.replay).toBe(r1.replay);
    }
  });

  it('records every step with thread name and point', () => {
    const log = new EventLog(100);
    const ex = new Executor({ log });
    ex.spawn('A', steps([], 'a', 2));
    ex.run();
    expect(log.events().map((e) => `${e.thread}:${e.text}`)).toEqual(['A:a step 0', 'A:a step 1', 'A:exit']);
  });
});
