/**
 * DporStrategy on small programs whose steps declare their footprints (declareStep): it runs one
 * schedule per equivalence class and ends in exactly the terminal states an exhaustive DFS ends
 * in; bounded, it covers every terminal state DFS reaches within the bound; the dependency relation
 * and the footprint check (a declared step that touches a lock it did not declare fails).
 */

import { describe, expect, it } from 'vitest';
import {
  DfsStrategy,
  DporStrategy,
  declareStep,
  dependent,
  Executor,
  FootprintError,
  FootprintRecorder,
  Mutex,
  type Strategy,
} from '../../src/sched/index.js';

type Op = ['r' | 'w' | 'lock' | 'unlock', string];

/** Threads of ops on shared variables (each access a declared step) and mutexes. */
function build(progs: Op[][]) {
  const mem = new Map<string, number>();
  const locks = new Map<string, Mutex>();
  const seen: string[][] = progs.map(() => []);
  const bodies = progs.map((ops, ti) =>
    (function* () {
      for (const [op, x] of ops) {
        if (op === 'lock') {
          if (!locks.has(x)) locks.set(x, new Mutex(x));
          yield* locks.get(x)!.lock();
        } else if (op === 'unlock') {
          locks.get(x)!.unlock();
        } else {
          yield `${op} ${x}`;
          declareStep([`var ${x}`], 'test');
          if (op === 'r') seen[ti]!.push(`${x}=${mem.get(x) ?? 0}`);
          else mem.set(x, ti + 1);
        }
      }
    })(),
  );
  return { bodies, final: () => JSON.stringify([[...mem].sort(), seen]) };
}

function exhaust(progs: Op[][], s: Strategy & { nextExecution(): boolean }) {
  const finals = new Set<string>();
  let n = 0;
  while (s.nextExecution()) {
    n++;
    const b = build(progs);
    const ex = new Executor({ strategy: s });
    for (const [i, body] of b.bodies.entries()) ex.spawn(`t${i}`, body);
    expect(ex.run().status).toBe('done');
    finals.add(b.final());
  }
  return { n, finals: [...finals].sort() };
}

/** [name, program, dfs schedules (unbounded), dpor schedules, terminal states]. */
const CASES: Array<[string, Op[][], number, number, number]> = [
  ['two writers', [[['w', 'x']], [['w', 'x']]], 6, 4, 2],
  [
    'crossed writes',
    [
      [
        ['w', 'x'],
        ['w', 'y'],
      ],
      [
        ['w', 'y'],
        ['w', 'x'],
      ],
    ],
    20,
    6,
    3,
  ],
  [
    'disjoint threads',
    [
      [
        ['w', 'a'],
        ['w', 'b'],
        ['w', 'c'],
      ],
      [
        ['w', 'd'],
        ['w', 'e'],
      ],
      [
        ['w', 'f'],
        ['r', 'g'],
      ],
    ],
    4200,
    6,
    1,
  ],
  [
    'store buffering, 3 threads',
    [
      [
        ['w', 'x'],
        ['r', 'y'],
      ],
      [
        ['w', 'y'],
        ['r', 'x'],
      ],
      [
        ['w', 'z'],
        ['r', 'x'],
      ],
    ],
    1680,
    55,
    6,
  ],
  [
    'a mutex',
    [
      [
        ['lock', 'm'],
        ['w', 'x'],
        ['unlock', 'm'],
      ],
      [
        ['lock', 'm'],
        ['r', 'x'],
        ['unlock', 'm'],
      ],
      [['w', 'y']],
    ],
    440,
    70,
    2,
  ],
];

describe('DporStrategy', () => {
  for (const [name, progs, nDfs, nDpor, states] of CASES) {
    it(`${name}: ${nDpor} schedules instead of ${nDfs}, the same ${states} terminal states`, () => {
      const dfs = exhaust(progs, new DfsStrategy(64));
      const dpor = exhaust(progs, new DporStrategy());
      expect(dfs.n).toBe(nDfs);
      expect(dpor.n).toBe(nDpor);
      expect(dpor.finals).toEqual(dfs.finals);
      expect(dfs.finals.length).toBe(states);
    });

    it(`${name}: bounded (0..2 preemptions) it reaches every state DFS reaches`, () => {
      for (const k of [0, 1, 2]) {
        const dfs = exhaust(progs, new DfsStrategy(k));
        const dpor = exhaust(progs, new DporStrategy({ preemptions: k }));
        expect(dpor.n).toBeLessThanOrEqual(dfs.n);
        expect(dpor.finals).toEqual(expect.arrayContaining(dfs.finals));
      }
    });
  }

  it('rejects a negative bound', () => {
    expect(() => new DporStrategy({ preemptions: -1 })).toThrow(/preemptions/);
  });
});

describe('the dependency relation', () => {
  it('memory conflicts with memory; objects conflict when shared', () => {
    const mem = { memory: true, objects: [] };
    expect(dependent(mem, mem)).toBe(true);
    expect(dependent({ memory: false, objects: [1, 5] }, { memory: true, objects: [2, 6] })).toBe(false);
    expect(dependent({ memory: false, objects: [1, 5] }, { memory: false, objects: [2, 5] })).toBe(true);
    expect(dependent({ memory: false, objects: [] }, mem)).toBe(false);
  });

  it('records a step that queued on a taken mutex as touching only that mutex', () => {
    const fps: string[] = [];
    const rec = new FootprintRecorder();
    const m = new Mutex('m');
    // a until it holds m, then b
    const s: Strategy = {
      recorder: rec,
      pick: (runnable) => runnable.findIndex((t) => t.name === (m.isLocked() ? 'b' : 'a')),
      stepped: (t, _r, fp) => fps.push(`${t.name}:${fp.memory ? 'memory' : 'only'}:${fp.objects.length}`),
    };
    const ex = new Executor({ strategy: s });
    ex.spawn(
      'a',
      (function* () {
        yield* m.lock();
        yield 'hold';
        m.unlock();
      })(),
    );
    ex.spawn(
      'b',
      (function* () {
        yield* m.lock();
        m.unlock();
      })(),
    );
    expect(ex.run().status).toBe('done');
    // a: start, lock (takes it), hold (unlocks: wakes b); b: start, lock (queues: declared), woken step
    expect(fps).toEqual(['a:memory:0', 'a:memory:1', 'b:memory:0', 'b:only:1', 'a:memory:2', 'b:memory:2']);
  });

  it('the check catches a step that touches a lock it did not declare', () => {
    const m = new Mutex('undeclared');
    const dpor = new DporStrategy({ check: true });
    expect(dpor.nextExecution()).toBe(true);
    const ex = new Executor({ strategy: dpor });
    ex.spawn(
      'liar',
      (function* () {
        yield 'access x';
        declareStep(['var x'], 'the test driver');
        m.trylock();
      })(),
    );
    const r = ex.run();
    expect(r.status).toBe('failed');
    expect(r.failure?.error).toBeInstanceOf(FootprintError);
    expect(r.failure?.message).toBe(
      'step declared by the test driver as touching only var x touched mutex undeclared',
    );
  });
});
