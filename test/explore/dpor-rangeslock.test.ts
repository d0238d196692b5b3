/**
 * hmm->ranges_lock to partial-order reduction (src/hmm/seed/footprint.ts): the spinlock is recorded
 * by the data it protects, not as one object per mm. Two devices' range registrations then commute
 * (one dpor schedule where dfs runs every interleaving); an invalidation against them does not; the
 * coverage check fails a step that changes the recorded HMM state behind the hooks, naming the
 * object; and no race is ever charged to the lock.
 */

import { describe, expect, it } from 'vitest';
import { hmmGet, hmmPut, mmHmm } from '../../src/hmm/seed/hmm.js';
import { hmmRangeRegister, hmmRangeUnregister } from '../../src/hmm/seed/range.js';
import { type Hmm, HmmRange } from '../../src/hmm/seed/types.js';
import {
  type ExploreDevice,
  explore,
  type Process,
  type Scenario,
  type ScenarioContext,
  scenarioByName,
  type Task,
} from '../../src/index.js';

const PAGE = 4096;

interface Two {
  p: Process;
  a: number;
  devs: ExploreDevice[];
}

/** Device d's mirror registers a one-page range over page d, then unregisters it. */
function* registerAndDrop(dev: ExploreDevice, a: number): Task {
  const range = new HmmRange({
    pfns: new Float64Array(1),
    flags: [1, 2, 4],
    values: [8, 16, 24],
    pfnShift: 3,
  });
  yield 'register';
  expect(hmmRangeRegister(range, dev.mirror!, a, a + PAGE, 12)).toBe(0);
  yield 'unregister';
  yield* hmmRangeUnregister(range);
}

/** Two devices register and drop ranges; with `munmap`, the CPU unmaps page 0 meanwhile. */
function registrations(munmap: boolean): Scenario<Two> {
  return {
    name: munmap ? 'registrations-vs-munmap' : 'registrations',
    description: 'two mirrors of one mm register a range each',
    setup(_sim, ctx: ScenarioContext) {
      const p = ctx.createProcess();
      const a = ctx.anonymous(p, 2);
      return { p, a, devs: [ctx.openDevice(0, p), ctx.openDevice(1, p)] };
    },
    threads: (s, ctx) => [
      { name: 'dev0', body: registerAndDrop(s.devs[0]!, s.a) },
      { name: 'dev1', body: registerAndDrop(s.devs[1]!, s.a + PAGE) },
      ...(munmap ? [{ name: 'munmap', body: ctx.cpu(s.p).munmap(s.a, PAGE) }] : []),
    ],
  };
}

const unbounded = { preemptions: Number.POSITIVE_INFINITY, protocol: 'seq' } as const;

describe('hmm->ranges_lock recorded by its data', () => {
  it("two devices' registrations commute: one dpor schedule, every interleaving under dfs", () => {
    const s = registrations(false);
    const dfs = explore(s, { ...unbounded, strategy: 'dfs' });
    const profile = new Map<string, number>();
    const dpor = explore(s, { ...unbounded, strategy: 'dpor', checkFootprints: true, raceProfile: profile });
    expect([dfs.complete, dfs.schedulesExplored, dfs.terminalStates]).toEqual([true, 20, 1]);
    expect([dpor.complete, dpor.schedulesExplored, dpor.terminalStates]).toEqual([true, 1, 1]);
    expect(profile.size).toBe(0);
  });

  it('an invalidation does not commute with them: dpor reverses it against both', () => {
    // every schedule: 9,240 under dfs (bench territory), the same single terminal state. 'seed'
    // reads each range's valid flag, which an invalidation clears: it races with the range objects;
    // under 'seq' the flag is dead and the sequence state alone orders them
    const expected = { seed: [36, 'hmm _ range open#1 (write/add)'], seq: [9, 'hmm _ inval (read/add)'] };
    for (const protocol of ['seed', 'seq'] as const) {
      const profile = new Map<string, number>();
      const dpor = explore(registrations(true), {
        ...unbounded,
        protocol,
        strategy: 'dpor',
        checkFootprints: true,
        raceProfile: profile,
      });
      const [n, key] = expected[protocol];
      expect([dpor.complete, dpor.schedulesExplored, dpor.terminalStates]).toEqual([true, n, 1]);
      expect([...profile.keys()]).toContain(key);
      expect([...profile.keys()].some((k) => k.includes('ranges_lock'))).toBe(false);
    }
  });

  it('no race on a built-in scenario is charged to the lock', () => {
    const profile = new Map<string, number>();
    explore('fault-vs-dontneed', { strategy: 'dpor', protocol: 'seq', raceProfile: profile });
    const keys = [...profile.keys()];
    expect(keys).toContain('hmm _ inval (read/add)');
    expect(keys.some((k) => k.includes('ranges_lock'))).toBe(false);
  });
});

const base = scenarioByName('fault-vs-munmap') as Scenario<unknown>;

/** fault-vs-munmap with a third thread that changes the mm's HMM state, through the API or behind it. */
function withHmmWriter(change: (hmm: Hmm) => void): Scenario<unknown> {
  return {
    ...base,
    name: 'fault-vs-munmap-hmm',
    threads(state, ctx) {
      const write = function* (): Task {
        yield 'write';
        change(mmHmm(ctx.processes[0]!.mm) as Hmm);
      };
      return [...base.threads(state, ctx), { name: 'writer', body: write() }];
    },
  };
}

describe('the coverage check on the HMM state', () => {
  const check = (change: (hmm: Hmm) => void) => () =>
    explore(withHmmWriter(change), { strategy: 'dpor', preemptions: 0, checkFootprints: true });

  it('fails a step that changed the invalidation count behind the hooks', () => {
    expect(
      check((hmm) => {
        hmm.notifiers++;
      }),
    ).toThrow('a step changed hmm 1 inval but its footprint does not write it');
  });

  it('fails a step that changed the reference count behind the hooks', () => {
    expect(
      check((hmm) => {
        hmm.kref++;
      }),
    ).toThrow('a step changed hmm 1 kref but its footprint does not write it');
  });

  it('fails a step that changed a mirror list behind the hooks', () => {
    expect(
      check((hmm) => {
        hmm.mirrors.reverse().push(hmm.mirrors[0]!);
      }),
    ).toThrow(/a step changed hmm 1 (mirrors|inval) but its footprint does not write it/);
  });

  it('passes a reference taken and dropped through hmmGet and hmmPut, a step each', () => {
    const s: Scenario<unknown> = {
      ...base,
      threads(state, ctx) {
        const ref = function* (): Task {
          yield 'get';
          hmmGet(mmHmm(ctx.processes[0]!.mm) as Hmm);
          yield 'put';
          hmmPut(mmHmm(ctx.processes[0]!.mm) as Hmm);
        };
        return [...base.threads(state, ctx), { name: 'ref', body: ref() }];
      },
    };
    const r = explore(s, { strategy: 'dpor', preemptions: 0, checkFootprints: true });
    expect(r.violation).toBeNull();
  });
});
