import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../src/core/assert.js';
import { EventLog } from '../../src/core/eventlog.js';
import {
  DfsStrategy,
  decodeReplay,
  Executor,
  encodeReplay,
  Mutex,
  PctStrategy,
  RandomStrategy,
  ReplayStrategy,
  type RunResult,
  RunToCompletion,
  type Strategy,
  shrink,
} from '../../src/sched/index.js';

/**
 * Two threads increment a shared counter with a yield between load and store. Each step of a
 * thread is one of: [lock point], load (+ yield), store (+ unlock, exit).
 */
function lostUpdate(strategy: Strategy, withLock: boolean): { r: RunResult; counter: number } {
  const ex = new Executor({ strategy });
  const m = new Mutex('counter_lock');
  let counter = 0;
  for (const name of ['A', 'B']) {
    ex.spawn(
      name,
      (function* () {
        if (withLock) yield* m.lock();
        const v = counter;
        yield 'store counter';
        counter = v + 1;
        if (withLock) m.unlock();
      })(),
    );
  }
  return { r: ex.run(), counter };
}

describe('mutual exclusion under every strategy', () => {
  it('RunToCompletion never interleaves', () => {
    expect(lostUpdate(new RunToCompletion(), false).counter).toBe(2);
    expect(lostUpdate(new RunToCompletion(), true).counter).toBe(2);
  });

  it('RandomStrategy finds the lost update without the lock, never with it', () => {
    let lost = 0;
    for (let seed = 0; seed < 200; seed++) {
      const { r, counter } = lostUpdate(new RandomStrategy(seed), false);
      expect(r.status).toBe('done');
      if (counter !== 2) lost++;
      expect(lostUpdate(new RandomStrategy(seed), true).counter).toBe(2);
    }
    // the loss needs a switch right after the first load: probability 1/2 per run
    expect(lost).toBeGreaterThan(60);
    expect(lost).toBeLessThan(140);
  });

  it('one RandomStrategy over many executions gives different schedules', () => {
    const rs = new RandomStrategy(5);
    const replays = new Set<string>();
    for (let i = 0; i < 50; i++) replays.add(lostUpdate(rs, true).r.replay);
    expect(replays.size).toBeGreaterThan(5);
  });

  it('DfsStrategy: without the lock, 2 of 6 schedules are safe; bounded by preemptions', () => {
    // Schedules are interleavings of A1 A2 and B1 B2 (load, store): 6 in all. The loss happens
    // when both loads precede both stores: ABAB, ABBA, BAAB, BABA. Preemptions: AABB/BBAA 0,
    // ABBA/BAAB 1 (the switch after the first load), ABAB/BABA 2.
    const expected: Array<[number, number, number]> = [
      [0, 2, 0],
      [1, 4, 2],
      [2, 6, 4],
      [3, 6, 4],
    ];
    for (const [bound, schedules, losses] of expected) {
      const dfs = new DfsStrategy(bound);
      let lost = 0;
      while (dfs.nextExecution()) if (lostUpdate(dfs, false).counter !== 2) lost++;
      expect([bound, dfs.executions, lost]).toEqual([bound, schedules, losses]);
    }
  });

  it('DfsStrategy: with the lock, no schedule loses an update', () => {
    const dfs = new DfsStrategy(Number.POSITIVE_INFINITY);
    while (dfs.nextExecution()) {
      const { r, counter } = lostUpdate(dfs, true);
      expect(r.status).toBe('done');
      expect(counter).toBe(2);
    }
    // Steps: L (lock point), S (take the lock + load, or block), T (store + unlock + exit); a
    // blocked thread resumes holding the lock. With A first (B first is symmetric):
    //   A.L A.S A.T | B...                      A.L A.S B.L A.T | B...    A.L A.S B.L B.S(blocks) | ...
    //   A.L B.L B.S B.T | A...                  A.L B.L B.S A.S(blocks) | ...
    //   A.L B.L A.S A.T | B...                  A.L B.L A.S B.S(blocks) | ...
    // 7 schedules each, 14 in all.
    expect(dfs.executions).toBe(14);
  });

  it('PctStrategy: depth 1 never preempts, depth 2 finds the lost update', () => {
    const pct1 = new PctStrategy(3, 1);
    for (let i = 0; i < 50; i++) expect(lostUpdate(pct1, false).counter).toBe(2);
    const pct2 = new PctStrategy(3, 2);
    let lost = 0;
    for (let i = 0; i < 50; i++) if (lostUpdate(pct2, false).counter !== 2) lost++;
    expect(lost).toBeGreaterThan(0);
    const pct3 = new PctStrategy(3, 3);
    for (let i = 0; i < 50; i++) expect(lostUpdate(pct3, true).counter).toBe(2);
  });
});

/** Two threads each with two yields: three steps each. */
function twoByTwo(strategy: Strategy, log: EventLog): RunResult {
  const ex = new Executor({ strategy, log });
  for (const name of ['A', 'B']) {
    ex.spawn(
      name,
      (function* () {
        yield `${name} 1`;
        yield `${name} 2`;
      })(),
    );
  }
  return ex.run();
}

describe('DfsStrategy', () => {
  it('counts the schedules of 2 threads x 3 steps by preemption bound', () => {
    // A schedule is a word of 3 A's and 3 B's: C(6,3) = 20 in all. With m blocks (maximal runs)
    // there are m-1 switches, all preemptions except the one after the thread that finishes
    // first, so m-2 preemptions. Words with m blocks: 2 * C(2, ceil(m/2)-1) * C(2, floor(m/2)-1)
    // = 2, 4, 8, 4, 2 for m = 2..6, i.e. 0..4 preemptions. Cumulative: 2, 6, 14, 18, 20.
    const cumulative = [2, 6, 14, 18, 20, 20];
    for (let bound = 0; bound < cumulative.length; bound++) {
      const dfs = new DfsStrategy(bound);
      const hashes = new Set<string>();
      let maxPre = 0;
      while (dfs.nextExecution()) {
        const log = new EventLog();
        const r = twoByTwo(dfs, log);
        expect(r.status).toBe('done');
        maxPre = Math.max(maxPre, r.preemptions);
        hashes.add(log.hash());
      }
      expect(dfs.executions).toBe(cumulative[bound]);
      // every schedule is a different one
      expect(hashes.size).toBe(cumulative[bound]);
      expect(maxPre).toBe(Math.min(bound, 4));
    }
  });

  it('with no bound, schedules by exact preemption count are 2, 4, 8, 4, 2', () => {
    const dfs = new DfsStrategy(Number.POSITIVE_INFINITY);
    const byPre = [0, 0, 0, 0, 0];
    while (dfs.nextExecution()) byPre[twoByTwo(dfs, new EventLog()).preemptions]!++;
    expect(byPre).toEqual([2, 4, 8, 4, 2]);
    // the first schedule is the non-preemptive one
  });

  it('each DFS schedule replays to the same log', () => {
    const dfs = new DfsStrategy(2);
    while (dfs.nextExecution()) {
      const log = new EventLog();
      const r = twoByTwo(dfs, log);
      const log2 = new EventLog();
      twoByTwo(new ReplayStrategy(r.replay), log2);
      expect(log2.hash()).toBe(log.hash());
    }
  });

  it('detects a nondeterministic scenario', () => {
    let round = 0;
    const dfs = new DfsStrategy(2);
    const explore = () => {
      while (dfs.nextExecution()) {
        round++;
        const ex = new Executor({ strategy: dfs });
        ex.spawn(
          'A',
          (function* () {
            yield 'a';
          })(),
        );
        ex.spawn(
          'B',
          (function* () {
            yield 'b';
          })(),
        );
        // a scenario that depends on something outside it
        if (round === 3)
          ex.spawn(
            'C',
            (function* () {
              yield 'c';
            })(),
          );
        ex.run();
      }
    };
    expect(explore).toThrow(/DfsStrategy: the scenario is nondeterministic: at decision 0 of execution 3/);
  });
});

/**
 * A use-after-free of depth 2: `user` checks the pointer, yields, then uses it; `freer` clears it.
 * It fails only if freer's last step falls between user's check and use - the user must run first
 * (one ordering constraint) and be preempted exactly after the check (a second one).
 */
function useAfterFree(strategy: Strategy): RunResult {
  const ex = new Executor({ strategy });
  let p: { v: number } | null = { v: 1 };
  ex.spawn(
    'user',
    (function* () {
      for (let i = 0; i < 8; i++) yield 'work';
      const seen = p;
      yield 'check';
      if (seen !== null && p === null) throw new KernelBug('BUG: use after free');
    })(),
  );
  ex.spawn(
    'freer',
    (function* () {
      for (let i = 0; i < 8; i++) yield 'work';
      p = null;
    })(),
  );
  return ex.run();
}

describe('PctStrategy', () => {
  const N = 300;
  const firstFailure = (strategy: Strategy): number => {
    for (let i = 0; i < N; i++) if (useAfterFree(strategy).status === 'failed') return i;
    return -1;
  };

  it('finds a depth-2 bug within N runs with depth 2, never with depth 1', () => {
    expect(firstFailure(new PctStrategy(1, 1))).toBe(-1);
    const found = firstFailure(new PctStrategy(1, 2));
    expect(found).toBeGreaterThanOrEqual(0);
    expect(found).toBeLessThan(N);
    // deterministic for the seed
    expect(firstFailure(new PctStrategy(1, 2))).toBe(found);
    // and for other seeds too
    for (const seed of [2, 3, 4]) expect(firstFailure(new PctStrategy(seed, 2))).toBeGreaterThanOrEqual(0);
  });

  it('the failing PCT run replays, and refines its estimate of k', () => {
    const pct = new PctStrategy(9, 2);
    let r: RunResult | null = null;
    for (let i = 0; i < N && r === null; i++) {
      const x = useAfterFree(pct);
      if (x.status === 'failed') r = x;
    }
    expect(r).not.toBeNull();
    expect(r!.failure!.thread).toBe('user');
    expect(r!.failure!.message).toBe('BUG: use after free');
    expect(pct.estimatedSteps).toBeGreaterThanOrEqual(9);
    const again = useAfterFree(new ReplayStrategy(r!.replay));
    expect(again).toEqual(r);
    expect(again.replay).toBe(r!.replay);
  });
});

describe('replay strings', () => {
  it('round-trip varints', () => {
    const xs = [0, 1, 2, 127, 128, 300, 16384, 2 ** 32 - 1];
    const s = encodeReplay(xs);
    expect(s.startsWith('hmm1:')).toBe(true);
    expect(decodeReplay(s)).toEqual(xs);
    expect(encodeReplay([])).toBe('hmm1:');
    expect(decodeReplay('hmm1:')).toEqual([]);
    // 0, 1, 0 -> bytes 00 01 00 -> base64url AAEA
    expect(encodeReplay([0, 1, 0])).toBe('hmm1:AAEA');
  });

  it('reject malformed strings', () => {
    expect(() => decodeReplay('AAEA')).toThrow(/must start|expected it to start with 'hmm1:'/);
    expect(() => decodeReplay('hmm1:A*')).toThrow(/not base64url/);
    expect(() => decodeReplay(`hmm1:${Buffer.from([0x80]).toString('base64url')}`)).toThrow(
      /truncated varint/,
    );
  });

  it('ReplayStrategy: an index out of range or running out means the replay diverged', () => {
    expect(() => twoByTwo(new ReplayStrategy(encodeReplay([5])), new EventLog())).toThrow(
      'replay diverged at decision 0: the replay chooses index 5 but only 2 threads are runnable (A, B)',
    );
    expect(() => twoByTwo(new ReplayStrategy(encodeReplay([1, 0])), new EventLog())).toThrow(
      /^replay diverged: the replay string has 2 decisions but the run needs more/,
    );
  });

  it('ReplayStrategy with allowIncomplete continues like RunToCompletion', () => {
    const log = new EventLog(20);
    const rs = new ReplayStrategy(encodeReplay([1]), { allowIncomplete: true });
    const r = twoByTwo(rs, log);
    expect(r.status).toBe('done');
    expect(rs.exhausted).toBe(true);
    expect(log.events().map((e) => e.text)).toEqual(['B 1', 'B 2', 'exit', 'A 1', 'A 2', 'exit']);
    expect(r.replay).toBe(encodeReplay([1, 1, 1]));
  });
});

describe('shrink', () => {
  /** The lost update with noise steps around it, failing in the thread that finishes last. */
  function noisy(strategy: Strategy): RunResult {
    const ex = new Executor({ strategy });
    let counter = 0;
    let finished = 0;
    for (const name of ['A', 'B', 'C']) {
      ex.spawn(
        name,
        (function* () {
          for (let i = 0; i < 4; i++) yield 'noise';
          const v = counter;
          yield 'store';
          counter = v + 1;
          for (let i = 0; i < 4; i++) yield 'noise';
          if (++finished === 3 && counter !== 3) throw new KernelBug('lost update');
        })(),
      );
    }
    return ex.run();
  }

  it('reduces a random failing schedule to the one preemption the bug needs', () => {
    let failing: RunResult | null = null;
    for (let seed = 0; failing === null; seed++) {
      const r = noisy(new RandomStrategy(seed));
      if (r.status === 'failed' && r.preemptions >= 5) failing = r;
    }
    const s = shrink(failing.replay, noisy);
    expect(s.result.status).toBe('failed');
    expect(s.result.failure!.message).toBe('lost update');
    expect(s.result.preemptions).toBe(1);
    const replayed = noisy(new ReplayStrategy(s.replay));
    expect(replayed).toEqual(s.result);
    expect(replayed.replay).toBe(s.result.replay);
  });

  it('refuses a replay that does not fail', () => {
    const r = noisy(new RunToCompletion());
    expect(() => shrink(r.replay, noisy)).toThrow('shrink: the replay does not fail');
  });
});
