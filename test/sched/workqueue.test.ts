/** The ordered workqueue of src/sched/workqueue.ts: queue order, pending items, flush, determinism. */

import { describe, expect, it } from 'vitest';
import { Simulator } from '../../src/index.js';
import { type Task, Workqueue, WorkStruct } from '../../src/sched/index.js';

describe('Workqueue', () => {
  it('runs items in queue order on its worker, refuses a pending item, and flush waits for all', () => {
    const sim = new Simulator({ seed: 1 });
    const log: string[] = [];
    const wq = new Workqueue('dmirror_wq');
    const mk = (name: string): WorkStruct =>
      new WorkStruct(name, function* (w): Task {
        log.push(`start ${w.name}`);
        yield 'work body';
        log.push(`end ${w.name}`);
      });
    const a = mk('a');
    const b = mk('b');
    const result = sim.run(
      'driver',
      (function* () {
        const queued = [wq.queueWork(a), wq.queueWork(b), wq.queueWork(a)];
        expect(wq.queued).toBe(2);
        log.push('queued');
        yield* wq.flushWorkqueue();
        log.push('flushed');
        return queued;
      })(),
    );
    expect(result).toEqual([true, true, false]);
    expect(log).toEqual(['queued', 'start a', 'end a', 'start b', 'end b', 'flushed']);
    expect(a.pending).toBe(false);
    expect(wq.queued).toBe(0);
  });

  it('a flush with nothing queued returns at once; an item can be queued again after it ran', () => {
    const sim = new Simulator({ seed: 1 });
    const wq = new Workqueue('wq');
    let runs = 0;
    // biome-ignore lint/correctness/useYield: a work item that does not sleep
    const w = new WorkStruct('w', function* (): Task {
      runs++;
    });
    sim.run(
      'driver',
      (function* () {
        yield* wq.flushWorkqueue();
        wq.queueWork(w);
        yield* wq.flushWorkqueue();
        expect(wq.queueWork(w)).toBe(true);
        yield* wq.flushWorkqueue();
      })(),
    );
    expect(runs).toBe(2);
  });

  it('names a bad work function', () => {
    expect(() => new WorkStruct('x', null as never)).toThrow(/invalid argument 'func'/);
  });
});
