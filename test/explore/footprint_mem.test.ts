/**
 * The explorer's memory footprints (src/explore/footprint_mem.ts) and their coverage check: in check
 * mode a step that changes a memory object its footprint does not write fails with a FootprintError
 * naming the object; the same change made through the watched arrays passes; and a race profile
 * names the objects that still make steps dependent; the watching stops when the threads are done.
 */

import { types } from 'node:util';
import { describe, expect, it } from 'vitest';
import { explore, type Scenario, scenarioByName } from '../../src/index.js';

const base = scenarioByName('fault-vs-munmap') as Scenario<unknown>;

/** fault-vs-munmap with a third thread that sets page->index of free page 60, one way or another. */
function withWriter(how: 'watched' | 'behind'): Scenario<unknown> {
  return {
    ...base,
    name: `fault-vs-munmap+${how}`,
    threads(state, ctx) {
      const store = ctx.sim.kernel.mem.store;
      const write = function* () {
        yield 'write';
        // subarray hands out the array itself: a write through it is one the step does not record
        if (how === 'behind') store.index.subarray(0)[60] = 5;
        else store.index[60] = 5;
      };
      return [...base.threads(state, ctx), { name: 'writer', body: write() }];
    },
  };
}

describe('the coverage check', () => {
  it('fails a step that changed a page behind the recorder, naming the page', () => {
    expect(() =>
      explore(withWriter('behind'), { strategy: 'dpor', preemptions: 0, checkFootprints: true }),
    ).toThrow('a step changed page 60 but its footprint does not write it');
  });

  it('passes the same write made through the watched array', () => {
    const r = explore(withWriter('watched'), { strategy: 'dpor', preemptions: 0, checkFootprints: true });
    expect(r.violation).toBeNull();
  });
});

describe('the race profile', () => {
  it('counts the races by the object that made them', () => {
    const profile = new Map<string, number>();
    const r = explore('fault-vs-munmap', { strategy: 'dpor', protocol: 'seq', raceProfile: profile });
    expect(r.schedulesExplored).toBe(20);
    expect([...profile.keys()]).toContain('rwsem mmap_sem _ (write/write)');
    expect([...profile.values()].every((n) => n > 0)).toBe(true);
    expect(() =>
      explore('fault-vs-munmap', { strategy: 'dpor', raceProfile: {} as Map<string, number> }),
    ).toThrow(/raceProfile/);
  });
});

describe('watching the memory', () => {
  /** fault-vs-munmap noting, in a step and at the end check, whether the state is watched. */
  function observed(): { scenario: Scenario<unknown>; seen: string[] } {
    const seen: string[] = [];
    const watchedNow = (ctx: Parameters<NonNullable<Scenario<unknown>['check']>>[1]) => {
      const k = ctx.sim.kernel;
      const dpt = ctx.devices[0]!.pt;
      return [
        types.isProxy(k.pt.lo),
        types.isProxy(k.mem.store.flags),
        Object.hasOwn(dpt, 'lookup'),
        Object.hasOwn(k.mem, 'allocPage'),
      ].join();
    };
    const scenario: Scenario<unknown> = {
      ...base,
      name: 'fault-vs-munmap+observed',
      threads(state, ctx) {
        const look = function* () {
          yield 'look';
          seen.push(`step ${watchedNow(ctx)}`);
        };
        return [...base.threads(state, ctx), { name: 'look', body: look() }];
      },
      check(_state, ctx) {
        seen.push(`end ${watchedNow(ctx)}`);
        return null;
      },
    };
    return { scenario, seen };
  }

  it('watches the arrays and methods while the threads run, and stops before the end checks', () => {
    const { scenario, seen } = observed();
    const r = explore(scenario, { strategy: 'dpor', preemptions: 0, schedules: 1 });
    expect(r.violation).toBeNull();
    expect(seen).toEqual(['step true,true,true,true', 'end false,false,false,false']);
  });

  it('between steps the checkers read the plain arrays', () => {
    const between: boolean[] = [];
    const scenario: Scenario<unknown> = {
      ...base,
      name: 'fault-vs-munmap+between',
      threads(state, ctx) {
        // the explorer asks the shadow for a pending report after every step, first of its checks
        const shadow = ctx.shadow;
        const take = shadow.takePending.bind(shadow);
        shadow.takePending = () => {
          between.push(types.isProxy(ctx.sim.kernel.pt.lo) || types.isProxy(ctx.sim.kernel.mem.store.flags));
          return take();
        };
        return base.threads(state, ctx);
      },
    };
    explore(scenario, { strategy: 'dpor', preemptions: 0, schedules: 1 });
    expect(between.length).toBeGreaterThan(5);
    expect(between.every((p) => !p)).toBe(true);
  });

  /** fault-vs-munmap with a thread that grows the page-table pool in one step, and frees what it took. */
  function withGrowth(seen: string[]): Scenario<unknown> {
    return {
      ...base,
      name: 'fault-vs-munmap+grow',
      threads(state, ctx) {
        const pool = ctx.sim.kernel.pt;
        const grow = function* () {
          yield 'grow';
          const before = pool.lo.length;
          const tables: number[] = [];
          while (pool.lo.length === before) tables.push(pool.allocTable(1));
          seen.push(`${types.isProxy(pool.lo)} ${pool.lo.length > before}`);
          for (const t of tables) pool.freeTable(t);
        };
        return [...base.threads(state, ctx), { name: 'grow', body: grow() }];
      },
    };
  }

  it('a page-table pool grown within a step is watched for the rest of the step', () => {
    const seen: string[] = [];
    const r = explore(withGrowth(seen), {
      strategy: 'dpor',
      preemptions: 0,
      schedules: 1,
      checkFootprints: true,
    });
    expect(r.violation).toBeNull();
    expect(seen).toEqual(['true true']);
  });

  it('growing copies the entries without reading them: the growth races with no page-table entry', () => {
    const profile = new Map<string, number>();
    const opts = { strategy: 'dpor', protocol: 'seq', preemptions: Number.POSITIVE_INFINITY } as const;
    const r = explore(withGrowth([]), { ...opts, raceProfile: profile });
    expect(r.schedulesExplored).toBe(36);
    expect(profile.get('ptused _ (write/write)')).toBe(18);
    expect([...profile.keys()].filter((k) => /^(pte|pmd|upper|ptslot) /.test(k))).toEqual([]);
  });

  it('an array replaced within a step some other way fails the run: the rest of the step went unrecorded', () => {
    const scenario: Scenario<unknown> = {
      ...base,
      name: 'fault-vs-munmap+replace',
      threads(state, ctx) {
        const store = ctx.sim.kernel.mem.store;
        const replace = function* () {
          yield 'replace';
          store.flags = store.flags.slice();
        };
        return [...base.threads(state, ctx), { name: 'replace', body: replace() }];
      },
    };
    expect(() => explore(scenario, { strategy: 'dpor', preemptions: 0, schedules: 1 })).toThrow(
      'footprint_mem: flags was replaced within a step, unwatched',
    );
  });

  it('watches nothing when the strategy records no memory footprints', () => {
    const { scenario, seen } = observed();
    explore(scenario, { strategy: 'dfs', preemptions: 0, schedules: 1 });
    expect(seen).toEqual(['step false,false,false,false', 'end false,false,false,false']);
  });
});
