/**
 * The explorer on the built-in scenarios with the reference dmirror driver: every schedule with up
 * to two preemptions passes with the v5.5 sequence-count protocol; with the seed protocol the
 * scenarios whose invalidations hold mmap_sem for write pass, and the ones whose invalidations run
 * under mmap_sem for read (MADV_DONTNEED, migrate_vma) fail through §6 #3's race, with a shrunk
 * one-preemption interleaving whose replay string reproduces the same violation.
 */

import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import {
  correctDmirror,
  EXPLORE_PREEMPTIONS_MAX,
  EXPLORE_SCHEDULES_MAX,
  ExploreDrivers,
  explore,
  replay,
  SCENARIOS,
  scenarioByName,
} from '../../src/explore/index.js';

/** Every schedule with at most 2 preemptions (DfsStrategy(2)), per scenario and protocol. */
const DFS2_SCHEDULES: Record<string, { seed: number; seq: number }> = {
  'fault-vs-munmap': { seed: 30, seq: 30 },
  'fault-vs-mprotect': { seed: 30, seq: 30 },
  'fault-vs-dontneed': { seed: Number.NaN, seq: 32 },
  'fault-vs-migrate': { seed: Number.NaN, seq: 78 },
  'migrate-vs-cpufault': { seed: 72, seq: 72 },
  'fault-vs-oomreap': { seed: Number.NaN, seq: 7 },
  'fork-vs-devwrite': { seed: 77, seq: 79 },
  'exit-vs-devaccess': { seed: 20, seq: 20 },
};

describe('built-in scenarios', () => {
  it("are the issue's seven <a>-vs-<b> scenarios plus fault-vs-oomreap, each with a description", () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual(Object.keys(DFS2_SCHEDULES));
    for (const s of SCENARIOS) {
      expect(s.name).toMatch(/^[a-z0-9]+-vs-[a-z0-9]+$/);
      expect(s.description.length).toBeGreaterThan(40);
    }
  });
});

describe("protocol 'seq': the correct dmirror passes every scenario", () => {
  for (const sc of SCENARIOS) {
    it(`${sc.name}: 0 violations over all ${DFS2_SCHEDULES[sc.name]?.seq} schedules with <= 2 preemptions`, () => {
      const r = explore(sc, { protocol: 'seq', strategy: 'dfs', preemptions: 2 });
      expect(r.violation).toBeNull();
      expect(r.complete).toBe(true);
      expect(r.schedulesExplored).toBe(DFS2_SCHEDULES[sc.name]?.seq);
      expect(r).toMatchObject({ scenario: sc.name, driver: 'correct', protocol: 'seq', strategy: 'dfs' });
    });
  }
});

describe("protocol 'seed'", () => {
  for (const name of [
    'fault-vs-munmap',
    'fault-vs-mprotect',
    'fork-vs-devwrite',
    'migrate-vs-cpufault',
    'exit-vs-devaccess',
  ]) {
    it(`${name} passes (its invalidations hold mmap_sem for write, or no device fault races them)`, () => {
      const r = explore(name, { protocol: 'seed' });
      expect(r.violation).toBeNull();
      expect(r.complete).toBe(true);
      expect(r.schedulesExplored).toBe(DFS2_SCHEDULES[name]?.seed);
    });
  }

  it('fault-vs-dontneed fails: the device maps a page MADV_DONTNEED freed (§6 #3)', () => {
    const r = explore('fault-vs-dontneed', { protocol: 'seed', strategy: 'dfs', preemptions: 2 });
    expect(r.complete).toBe(false);
    expect(r.schedulesExplored).toBe(6);
    const v = r.violation!;
    expect(v.checker).toBe('coherence');
    expect(v.message).toMatch(
      /^dev0 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, a page that is free \(PG_buddy\)/,
    );
    // shrunk to the one preemption the race needs: the walk, then the whole MADV_DONTNEED, then the check
    expect(v.preemptions).toBe(1);
    const text = v.interleaving.join('\n');
    expect(v.interleaving.filter((l) => l.includes('── preemption:'))).toEqual([
      "      ── preemption: dev0 is switched out before 'mutex_lock dmirror.mutex'; dontneed runs ──",
    ]);
    expect(text).toMatch(/dev0 +hmm_vma_walk 0x7effffffe000/);
    expect(text).toMatch(
      /invalidate_range_start[\s\S]*invalidate_range_end[\s\S]*dev0 maps 0x7effffffe000 → pfn/,
    );
    expect(v.interleaving.at(-1)).toBe(`      !! coherence: ${v.message}`);

    expect(v.replay).toMatch(
      /^hmmx3:fault-vs-dontneed:correct:seed:1:0\.1\.0:coherence:\d+:hmm1:[A-Za-z0-9_-]+:[0-9a-f]{8}$/,
    );
    const again = replay(v.replay);
    expect(again.violation?.checker).toBe('coherence');
    expect(again.violation?.message).toBe(v.message);
    expect(again.violation?.interleaving).toEqual(v.interleaving);
  });

  it('fault-vs-dontneed: random and PCT search find it within 100 schedules and shrink it to 1 preemption', () => {
    for (const strategy of ['random', 'pct'] as const) {
      for (const seed of [1, 2, 3]) {
        const r = explore('fault-vs-dontneed', { protocol: 'seed', strategy, seed, schedules: 100 });
        expect(r.violation?.checker, `${strategy} seed ${seed}`).toBe('coherence');
        expect(r.schedulesExplored).toBeLessThanOrEqual(100);
        expect(r.violation?.preemptions).toBe(1);
        expect(replay(r.violation!.replay).violation?.message).toBe(r.violation?.message);
      }
    }
  });

  it('fault-vs-migrate and fault-vs-oomreap fail through the same race: migrate_vma and the OOM reaper also invalidate under mmap_sem for read', () => {
    for (const [name, schedules] of [
      ['fault-vs-migrate', 9],
      ['fault-vs-oomreap', 3],
    ] as const) {
      const r = explore(name, { protocol: 'seed' });
      expect(r.schedulesExplored, name).toBe(schedules);
      expect(r.violation?.checker).toBe('coherence');
      expect(r.violation?.message).toMatch(/a page that is free \(PG_buddy\)/);
      expect(r.violation?.preemptions).toBe(1);
    }
  });
});

it("the same scenario passes with 'seq', and with 10,000 PCT schedules", () => {
  expect(explore('fault-vs-dontneed', { protocol: 'seq' }).violation).toBeNull();
  const r = explore('fault-vs-dontneed', { protocol: 'seq', strategy: 'pct', schedules: 10_000, seed: 7 });
  expect(r.violation).toBeNull();
  expect(r.schedulesExplored).toBe(10_000);
});

describe('explore options', () => {
  it('explore rejects bad options', () => {
    const sc = scenarioByName('fault-vs-munmap')!;
    expect(() => explore(sc, { strategy: 'bfs' as never })).toThrow(/strategy/);
    expect(() => explore(sc, { preemptions: -1 })).toThrow(/preemptions/);
    expect(() => explore('nope')).toThrow(/unknown scenario 'nope'; built-in: fault-vs-munmap/);
    // every list is named, today's API and the lifecycle scenarios too
    expect(() => explore('nope')).toThrow(/, exclusive-migrate-cpuwrite, .*, kvm-fault-vs-munmap$/);
  });

  it('every numeric option has an upper limit: a typed ArgumentError naming it, before any schedule runs', () => {
    const sc = scenarioByName('fault-vs-munmap')!;
    const bad = (o: object, name: string, got: string) => {
      let err: unknown;
      try {
        explore(sc, o);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).toBeInstanceOf(ArgumentError);
      expect((err as ArgumentError).argument).toBe(name);
      expect((err as Error).message).toContain(got);
    };
    bad(
      { strategy: 'pct', preemptions: 2 ** 53 },
      'preemptions',
      `0..${EXPLORE_PREEMPTIONS_MAX}, got 9007199254740992`,
    );
    bad({ strategy: 'dfs', preemptions: EXPLORE_PREEMPTIONS_MAX + 1 }, 'preemptions', 'got 65');
    bad({ preemptions: 1.5 }, 'preemptions', 'got 1.5');
    bad({ schedules: EXPLORE_SCHEDULES_MAX + 1 }, 'schedules', `0..${EXPLORE_SCHEDULES_MAX}, got 1000000001`);
    bad({ schedules: Number.POSITIVE_INFINITY }, 'schedules', 'got Infinity');
    bad({ schedules: Number.NaN }, 'schedules', 'got NaN');
    bad({ strategy: 'random', seed: -1 }, 'seed', 'got -1');
    bad({ seed: '7' }, 'seed', 'got string');
    bad({ onSchedule: 3 }, 'onSchedule', 'expected a function, got number');
    expect(() => explore(sc, null as never)).toThrow(/invalid argument 'opts': expected an object, got null/);
    // at the limit: accepted
    expect(
      explore(sc, { strategy: 'pct', preemptions: EXPLORE_PREEMPTIONS_MAX, schedules: 3 }).schedulesExplored,
    ).toBe(3);
  });

  it("ExploreDrivers.register refuses the built-in names: 'correct' stays the reference driver", () => {
    const drivers = new ExploreDrivers();
    for (const name of ['correct', 'no-lock-in-sync']) {
      expect(() => drivers.register(name, correctDmirror)).toThrow(ArgumentError);
      expect(() => drivers.register(name, correctDmirror)).toThrow(
        `invalid argument 'name': '${name}' is a built-in driver and cannot be replaced; register yours under another name`,
      );
    }
    expect(drivers.byName('correct')).toBe(correctDmirror);
    expect(() => drivers.register('mine', null as never)).toThrow(/invalid argument 'factory'/);
    expect(() => drivers.register(42 as never, correctDmirror)).toThrow(/invalid argument 'name'/);
  });
});

// its speed is bench/'s explore-fault-vs-munmap (budget 200 schedules/s)
it('5,000 random schedules of fault-vs-munmap; schedulesPerSecond from the clock it is given', () => {
  const r = explore('fault-vs-munmap', { strategy: 'random', schedules: 5000 });
  expect(r.violation).toBeNull();
  expect(r.schedulesExplored).toBe(5000);
  expect(r.schedulesPerSecond).toBe(0); // no clock given: the library reads none
  let ms = 0;
  const clock = () => {
    ms += 250; // read once before the schedules and once after: 250 ms apart
    return ms;
  };
  expect(explore('fault-vs-munmap', { strategy: 'random', schedules: 50, clock }).schedulesPerSecond).toBe(
    200,
  );
});
