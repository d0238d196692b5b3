/**
 * issue 17: every machine the explorer builds is seeded with the run's seed (it used to be 1 for
 * all), and the replay string records that seed, so a replay rebuilds the exact machine: a
 * scenario whose setup draws from `sim.prng` replays the same draws.
 */

import { describe, expect, it } from 'vitest';
import { crc32Hex } from '../../src/core/crc32.js';
import { Prng } from '../../src/core/prng.js';
import {
  explore,
  formatReplay,
  parseReplay,
  ReplayError,
  replay,
  type Scenario,
  type ScenarioContext,
} from '../../src/explore/index.js';

interface Drawn {
  a: number;
  draw: number;
}

/** Every machine seed a run of `seeded` saw, in order. */
const seen: number[] = [];

/**
 * One device read of a written page; the setup draws 0..3 from the machine's PRNG and the check
 * fails on a 0, so whether the run finds a violation depends on the machine's seed alone.
 */
const seeded: Scenario<Drawn> = {
  name: 'seeded-draw',
  description: 'a device read; the outcome is a draw from the machine PRNG',
  setup(sim, ctx: ScenarioContext): Drawn {
    seen.push(sim.seed);
    const p = ctx.createProcess();
    const a = ctx.anonymous(p, 1);
    ctx.openDevice(0, p);
    return { a, draw: sim.prng.below(4) };
  },
  threads: (s, ctx) => [{ name: 'dev0', body: ctx.dev(ctx.devices[0]!).read(s.a, 1) }],
  check: (s, ctx) => (s.draw === 0 ? `machine seed ${ctx.sim.seed} drew 0` : null),
};

describe("the explorer's machines take the run's seed", () => {
  it('the draws the scenario depends on: seed 4 draws 0, seeds 1 and 2 do not', () => {
    expect([1, 2, 4].map((s) => new Prng(s).below(4))).toEqual([2, 1, 0]);
  });

  it('every machine of a run is built with its seed, for every strategy', () => {
    for (const strategy of ['dfs', 'random', 'pct'] as const) {
      seen.length = 0;
      const r = explore(seeded, { seed: 2, strategy, schedules: 3 });
      expect(r.violation).toBeNull();
      expect(r.schedulesExplored).toBe(strategy === 'dfs' ? 1 : 3);
      expect(new Set(seen)).toEqual(new Set([2]));
    }
  });

  it('a violation only the seed causes is found with it, recorded in the string, and replayed exactly', () => {
    seen.length = 0;
    const r = explore(seeded, { seed: 4 });
    expect(r.seed).toBe(4);
    expect(r.violation?.checker).toBe('integrity');
    expect(r.violation?.message).toBe('seeded-draw: machine seed 4 drew 0');
    const s = r.violation?.replay as string;
    expect(s).toMatch(
      /^hmmx3:seeded-draw:correct:seed:4:0\.1\.0:integrity:\d+:hmm1:[A-Za-z0-9_-]*:[0-9a-f]{8}$/,
    );
    expect(parseReplay(s).seed).toBe(4);
    expect(new Set(seen)).toEqual(new Set([4]));

    seen.length = 0;
    const again = replay(s, { scenarios: [seeded] });
    expect(again.seed).toBe(4);
    expect(again.violation?.message).toBe(r.violation?.message);
    expect(again.violation?.replay).toBe(s);
    expect(again.interleaving).toEqual(r.violation?.interleaving);
    expect(new Set(seen)).toEqual(new Set([4]));
  });

  it('the same run under another seed is clean, and the string with its seed edited does not replay', () => {
    expect(explore(seeded, { seed: 1 }).violation).toBeNull();
    const s = explore(seeded, { seed: 4 }).violation?.replay as string;
    const edited = formatReplay({ ...parseReplay(s), seed: 1 });
    expect(() => replay(edited, { scenarios: [seeded] })).toThrow(ReplayError);
    expect(() => replay(edited, { scenarios: [seeded] })).toThrow(
      /the string recorded a integrity violation, the replay ended in no violation/,
    );
  });

  it("an 'hmmx2:' string, recorded before the seed field, replays on seed-1 machines", () => {
    const parts = { ...parseReplay(explore(seeded, { seed: 4 }).violation?.replay), seed: 1 };
    // the same schedule written in the old format: no seed field, so seed 1, which draws 2: clean
    const body = `hmmx2:${parts.scenario}:${parts.driver}:${parts.protocol}:${parts.version}:none:${parts.decisions}:${parts.schedule}`;
    const v2 = `${body}:${crc32Hex(body)}`;
    seen.length = 0;
    const r = replay(v2, { scenarios: [seeded] });
    expect(r.seed).toBe(1);
    expect(r.violation).toBeNull();
    expect(new Set(seen)).toEqual(new Set([1]));
  });
});
