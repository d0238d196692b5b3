/**
 * The dependency relation over memory objects (src/sched/dependency.ts): reads commute with reads,
 * adds with adds, a write with nothing it shares; whyDependent names the object; an rwsem's readers
 * commute with each other (rwsem.ts) and not with its writer, so DPOR runs one schedule where DFS
 * runs every interleaving.
 */

import { describe, expect, it } from 'vitest';
import { nameForFootprints, setRecorder, touchSync } from '../../src/sched/dependency.js';
import {
  DfsStrategy,
  DporStrategy,
  dependent,
  Executor,
  type Footprint,
  FootprintRecorder,
  MemKind,
  memObject,
  memWrite,
  namedWrite,
  objectName,
  RwSem,
  recordingMemory,
  SpinLock,
  type Strategy,
  whyDependent,
} from '../../src/sched/index.js';
import { Mutex } from '../../src/sched/mutex.js';

const x = memObject(MemKind.pte, 1, 0x100);
const y = memObject(MemKind.page, 7, 0);

function fp(parts: Partial<Footprint>): Footprint {
  return { memory: false, objects: [], ...parts };
}

describe('memory objects', () => {
  it('have stable ids and names', () => {
    expect(memObject(MemKind.pte, 1, 0x100)).toBe(x);
    expect(objectName(x)).toBe('pte 1:0x100');
    expect(objectName(y)).toBe('page 7');
    expect(objectName(memObject(MemKind.devpt, 0, 0x20))).toBe('devpt 0:0x20');
    expect(objectName(memObject(MemKind.notifier, 0, 0))).toBe('notifier');
  });

  it('reads commute, a write conflicts with a read or a write, adds commute only with adds', () => {
    expect(dependent(fp({ reads: [x] }), fp({ reads: [x] }))).toBe(false);
    expect(dependent(fp({ reads: [x] }), fp({ objects: [x] }))).toBe(true);
    expect(dependent(fp({ objects: [x] }), fp({ reads: [x] }))).toBe(true);
    expect(dependent(fp({ objects: [x] }), fp({ objects: [y] }))).toBe(false);
    expect(dependent(fp({ adds: [x] }), fp({ adds: [x] }))).toBe(false);
    expect(dependent(fp({ adds: [x] }), fp({ reads: [x] }))).toBe(true);
    expect(dependent(fp({ reads: [x] }), fp({ adds: [x] }))).toBe(true);
    expect(dependent(fp({ objects: [y] }), fp({ adds: [y] }))).toBe(true);
    // the catch-all conflicts only with itself
    expect(dependent(fp({ memory: true }), fp({ objects: [x] }))).toBe(false);
    expect(dependent(fp({ memory: true }), fp({ memory: true }))).toBe(true);
  });

  it('whyDependent names the shared object and how each step touched it', () => {
    expect(whyDependent(fp({ reads: [x] }), fp({ objects: [x] }))).toBe('pte 1:0x100 (read/write)');
    expect(whyDependent(fp({ adds: [y] }), fp({ reads: [y] }))).toBe('page 7 (add/read)');
    expect(whyDependent(fp({ memory: true }), fp({ memory: true }))).toBe('memory');
    expect(whyDependent(fp({ reads: [x] }), fp({ reads: [x] }))).toBeNull();
  });
});

/** Threads that each take `sem` for read (r) or write (w), step once holding it, and release it. */
function runAll(strategy: Strategy & { nextExecution(): boolean }, modes: ('r' | 'w')[]): number {
  let runs = 0;
  while (strategy.nextExecution()) {
    runs++;
    const sem = new RwSem('sem');
    const ex = new Executor({ strategy });
    for (const [i, m] of modes.entries()) {
      const body = function* () {
        if (m === 'r') yield* sem.downRead();
        else yield* sem.downWrite();
        yield 'held';
        if (m === 'r') sem.upRead();
        else sem.upWrite();
      };
      ex.spawn(`t${i}`, body());
    }
    expect(ex.run().status).toBe('done');
  }
  return runs;
}

describe('rwsem readers commute', () => {
  it('three readers: one dpor schedule, every interleaving for dfs', () => {
    const dfs = runAll(new DfsStrategy(Number.POSITIVE_INFINITY), ['r', 'r', 'r']);
    const dpor = runAll(new DporStrategy({ precise: true }), ['r', 'r', 'r']);
    expect(dfs).toBe(1680);
    expect(dpor).toBe(1);
  });

  it('a writer among readers still orders them', () => {
    expect(runAll(new DporStrategy({ precise: true }), ['r', 'w'])).toBeGreaterThan(1);
  });
});

/**
 * Threads that each step, take `lock` and drop it in one step (writing `data` under it if given),
 * and step again: the schedules a strategy runs.
 */
function runSpin(strategy: Strategy & { nextExecution(): boolean }, byData: boolean, data: string[]): number {
  let runs = 0;
  while (strategy.nextExecution()) {
    runs++;
    const lock = new SpinLock('l');
    if (byData) lock.recordedByData();
    const ex = new Executor({ strategy });
    for (const [i, d] of data.entries()) {
      const body = function* () {
        yield 'before';
        lock.lock();
        if (d !== '') namedWrite(d);
        lock.unlock();
        yield 'after';
      };
      ex.spawn(`t${i}`, body());
    }
    expect(ex.run().status).toBe('done');
  }
  return runs;
}

describe('a spinlock recorded by the data it protects', () => {
  const dpor = () => new DporStrategy({ precise: true });

  it('is no access itself: two critical sections over different data commute', () => {
    expect(runSpin(dpor(), false, ['x', 'y'])).toBe(2);
    expect(runSpin(dpor(), true, ['x', 'y'])).toBe(1);
    expect(runSpin(new DfsStrategy(Number.POSITIVE_INFINITY), true, ['x', 'y'])).toBe(20);
  });

  it('the data written under it still orders two critical sections', () => {
    expect(runSpin(dpor(), true, ['x', 'x'])).toBe(2);
  });

  it('held across a yield it still fails the run (the reason it can be left out)', () => {
    const lock = new SpinLock('l').recordedByData();
    const ex = new Executor({ strategy: dpor() });
    ex.spawn(
      't',
      (function* () {
        lock.lock();
        yield 'inside';
        lock.unlock();
      })(),
    );
    const r = ex.run();
    expect(r.status).toBe('failed');
    expect(r.failure!.message).toMatch(/^BUG: sleeping function called from invalid context at inside\n/);
  });
});

describe("FootprintRecorder: one step's footprint", () => {
  const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((i) => memObject(MemKind.page, 900 + i, 0)) as [
    number,
    number,
    number,
    number,
    number,
  ];

  it('each object once, sorted; a read of a written object is the write, a counter added to and read a write', () => {
    const r = new FootprintRecorder(false, true);
    r.begin();
    r.read(e);
    r.add(e);
    r.read(b);
    r.write(a);
    r.read(a);
    r.read(b);
    r.add(c);
    r.add(c);
    r.add(d);
    r.write(a);
    expect(r.changes(a)).toBe(true);
    expect(r.changes(c)).toBe(true);
    expect(r.changes(b)).toBe(false);
    expect(r.end()).toEqual({ memory: false, objects: [a, e], reads: [b], adds: [c, d] });
  });

  it('the next step starts empty: nothing of the last one is in it, and a write-only step has no reads or adds', () => {
    const r = new FootprintRecorder(false, true);
    r.begin();
    r.write(d);
    r.read(b);
    r.add(c);
    r.end();
    r.begin();
    expect(r.changes(d)).toBe(false);
    r.write(c);
    r.write(b);
    r.write(c);
    expect(r.end()).toEqual({ memory: false, objects: [b, c] });
  });
});

describe('footprint names of locks', () => {
  it('a lock named after it was touched is touched under its new name from then on; two of one name are one object', () => {
    const m = new Mutex('m.lock');
    const twin = new Mutex('m.lock');
    const r = new FootprintRecorder(false, true);
    const touched = (o: Mutex): string[] => {
      r.begin();
      touchSync(o, o.kind);
      return r.end().objects.map(objectName);
    };
    setRecorder(r);
    try {
      expect(touched(m)).toEqual(['mutex m.lock']);
      expect(touched(twin)).toEqual(['mutex m.lock']);
      nameForFootprints(m, 'm.lock dev7');
      expect(touched(m)).toEqual(['mutex m.lock dev7']);
      expect(touched(twin)).toEqual(['mutex m.lock']);
    } finally {
      setRecorder(null);
    }
  });
});

describe('a step watch', () => {
  it('is armed as each step starts and disarmed when it ends, before the step hook runs', () => {
    const strategy = new DporStrategy({ precise: true });
    const log: string[] = [];
    strategy.recorder.setStepWatch({ arm: () => log.push('arm'), disarm: () => log.push('disarm') });
    expect(strategy.nextExecution()).toBe(true);
    const ex = new Executor({ strategy, onStep: (_t, point) => log.push(`check ${point}`) });
    ex.spawn(
      't',
      (function* () {
        log.push('step 1');
        yield 'a';
        log.push('step 2');
      })(),
    );
    expect(ex.run().status).toBe('done');
    strategy.recorder.setStepWatch(null);
    expect(log).toEqual(['arm', 'step 1', 'disarm', 'check <start>', 'arm', 'step 2', 'disarm', 'check a']);
  });

  it('stays off in the steps an execution replays, and is told of the gap when armed again', () => {
    const strategy = new DporStrategy({ precise: true });
    let log: string[] = [];
    const runs: string[][] = [];
    strategy.recorder.setStepWatch({
      arm: (gap) => log.push(gap ? 'arm after a gap' : 'arm'),
      disarm: () => {},
    });
    while (strategy.nextExecution()) {
      log = [];
      const ex = new Executor({ strategy });
      for (const name of ['a', 'b'])
        ex.spawn(
          name,
          (function* () {
            for (const step of [1, 2]) {
              log.push(`${name}${step} ${recordingMemory() ? 'recorded' : 'replayed'}`);
              memWrite(MemKind.page, 1, 0);
              yield 'x';
            }
          })(),
        );
      expect(ex.run().status).toBe('done');
      runs.push(log);
    }
    strategy.recorder.setStepWatch(null);
    // the first execution records every step; each later one replays up to its new choice
    // (each thread takes three steps: two to its yields, one to its end)
    expect(runs[0]).toEqual([
      'arm',
      'a1 recorded',
      'arm',
      'a2 recorded',
      'arm',
      'arm',
      'b1 recorded',
      'arm',
      'b2 recorded',
      'arm',
    ]);
    expect(runs.slice(1)).toEqual([
      [
        'a1 replayed',
        'arm after a gap',
        'b1 recorded',
        'arm',
        'b2 recorded',
        'arm',
        'arm',
        'a2 recorded',
        'arm',
      ],
      ['a1 replayed', 'b1 replayed', 'arm after a gap', 'a2 recorded', 'arm', 'arm', 'b2 recorded', 'arm'],
      ['arm', 'b1 recorded', 'arm', 'b2 recorded', 'arm', 'arm', 'a1 recorded', 'arm', 'a2 recorded', 'arm'],
      [
        'b1 replayed',
        'arm after a gap',
        'a1 recorded',
        'arm',
        'a2 recorded',
        'arm',
        'arm',
        'b2 recorded',
        'arm',
      ],
      ['b1 replayed', 'a1 replayed', 'arm after a gap', 'b2 recorded', 'arm', 'arm', 'a2 recorded', 'arm'],
    ]);
  });
});
