/**
 * Sharded and parallel DFS: the shards of a search, merged, give what one process gives (the same
 * violation and replay string, or the same schedule count and terminal states when clean), for
 * 2, 3 and 5 shards, and for random and PCT searches dealt by schedule; mergeShards refuses results that are not every shard of one search; and the
 * CLI's --shard/--merge and --jobs print the single-process result.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explore, mergeShards, parseShard } from '../../src/index.js';
import { hmmsimIn } from '../cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-shard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES: Array<[string, 'seed' | 'seq', number]> = [
  ['fault-vs-munmap', 'seq', 2],
  ['fault-vs-dontneed', 'seed', 2],
  ['fault-vs-migrate', 'seed', 2],
  ['fork-vs-devwrite', 'seq', 2],
  ['twofaults-vs-dontneed', 'seq', 1],
];

describe('sharded dfs', () => {
  for (const [scenario, protocol, preemptions] of CASES) {
    it(`${scenario} (${protocol}): 2, 3 and 5 shards merge into the single-process result`, () => {
      const one = explore(scenario, { protocol, preemptions });
      for (const count of [2, 3, 5]) {
        const parts = Array.from({ length: count }, (_, index) =>
          explore(scenario, { protocol, preemptions, shard: { index, count } }),
        );
        const m = mergeShards([...parts].reverse());
        expect(m.violation).toEqual(one.violation);
        if (one.violation === null) {
          expect(m.schedulesExplored).toBe(one.schedulesExplored);
          expect(m.terminalStates).toBe(one.terminalStates);
          expect(m.complete).toBe(true);
        }
        expect(m.shard).toBeUndefined();
      }
    });
  }

  it('refuses a missing or repeated shard, another search, and a strategy that does not shard', () => {
    const a = explore('fault-vs-munmap', { shard: { index: 0, count: 2 } });
    const b = explore('fault-vs-munmap', { shard: { index: 1, count: 2 } });
    const other = explore('fault-vs-munmap', { protocol: 'seq', shard: { index: 1, count: 2 } });
    expect(() => mergeShards([a])).toThrow(/missing shard\(s\) 1\/2/);
    expect(() => mergeShards([a, a, b])).toThrow(/shard 0\/2 given twice/);
    expect(() => mergeShards([a, other])).toThrow(/another search/);
    expect(() => mergeShards([a, explore('fault-vs-munmap')])).toThrow(/not a shard's/);
    expect(() => explore('fault-vs-munmap', { shard: { index: 2, count: 2 } })).toThrow(/shard/);
    expect(parseShard('3/8')).toEqual({ index: 3, count: 8 });
    expect(() => parseShard('8/8')).toThrow(/expected <index>\/<count>/);
  });
});

describe('sharded random and pct searches', () => {
  // [strategy, scenario, protocol, seed, the schedule a single process stops at (null: clean)]
  const RUNS: Array<['random' | 'pct', string, 'seed' | 'seq', number, number | null]> = [
    ['random', 'fault-vs-dontneed', 'seed', 5, 43],
    ['pct', 'fault-vs-dontneed', 'seed', 2, 69],
    ['random', 'fault-vs-munmap', 'seq', 1, null],
    ['pct', 'fault-vs-munmap', 'seq', 1, null],
  ];
  for (const [strategy, scenario, protocol, seed, stops] of RUNS) {
    it(`${strategy} on ${scenario} (${protocol}, seed ${seed}): 2 and 3 shards merge into the single-process result`, () => {
      const opts = { strategy, protocol, seed, schedules: 120 } as const;
      const one = explore(scenario, opts);
      expect(one.schedulesExplored).toBe(stops ?? 120);
      expect(one.violation?.checker ?? null).toBe(stops === null ? null : 'coherence');
      for (const count of [2, 3]) {
        const parts = Array.from({ length: count }, (_, index) =>
          explore(scenario, { ...opts, shard: { index, count } }),
        );
        const m = mergeShards([...parts].reverse());
        const { shard: _s, ...merged } = { ...m, schedulesPerSecond: 0 };
        expect(merged).toEqual({ ...one, schedulesPerSecond: 0 });
        // each shard ran its own schedules: j = index, index + count, ... (to its first violation)
        for (const p of parts) {
          const own = Math.ceil((120 - p.shard!.index) / count);
          const v = p.shard!.violationSubtree;
          expect(p.schedulesExplored).toBe(v === null ? own : Math.floor(v / count) + 1);
          if (v !== null) expect(v % count).toBe(p.shard!.index);
        }
      }
    });
  }

  it('with an allow rule the shards run every schedule and their distinct violations unite', () => {
    const opts = {
      strategy: 'random',
      protocol: 'seed',
      seed: 5,
      schedules: 60,
      allow: ['seed-race'],
    } as const;
    const one = explore('fault-vs-dontneed', opts);
    expect(one.violation).toBeNull();
    expect(one.violations.map((d) => [d.checker, d.allowed, d.firstSchedule])).toEqual([
      ['coherence', true, 43],
    ]);
    const parts = [0, 1, 2].map((index) =>
      explore('fault-vs-dontneed', { ...opts, shard: { index, count: 3 } }),
    );
    const m = mergeShards(parts);
    expect(m.violations).toEqual(one.violations);
    expect(m.schedulesExplored).toBe(60);
  });

  it("a random search's schedule j draws the same in any shard: the violating schedule replays alike", () => {
    const one = explore('fault-vs-dontneed', {
      strategy: 'random',
      protocol: 'seed',
      seed: 5,
      schedules: 120,
    });
    const j = one.schedulesExplored - 1;
    const owner = explore('fault-vs-dontneed', {
      strategy: 'random',
      protocol: 'seed',
      seed: 5,
      schedules: 120,
      shard: { index: j % 4, count: 4 },
    });
    expect(owner.shard?.violationSubtree).toBe(j);
    expect(owner.violation?.replay).toBe(one.violation?.replay);
  });
});

describe('hmmsim explore --shard / --merge / --jobs', () => {
  it('--shard i/n --json documents merge into the single-process violation', async () => {
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await hmmsimIn(['explore', 'fault-vs-migrate', '--shard', `${i}/3`, '--json']);
      const f = join(dir, `s${i}.json`);
      writeFileSync(f, r.stdout);
      files.push(f);
    }
    const one = await hmmsimIn(['explore', 'fault-vs-migrate', '--json']);
    const merged = await hmmsimIn(['explore', '--merge', ...files, '--json']);
    expect(merged.code).toBe(1);
    expect(JSON.parse(merged.stdout).violation).toEqual(JSON.parse(one.stdout).violation);
    const missing = await hmmsimIn(['explore', '--merge', files[0]!, files[1]!]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("hmmsim: error: --merge: invalid argument 'results': missing shard(s) 2/3\n");
  });

  it('--jobs 2 on worker threads prints the single-process result', async () => {
    const one = await hmmsimIn(['explore', 'fault-vs-munmap', '--protocol', 'seq', '--json']);
    const par = await hmmsimIn(['explore', 'fault-vs-munmap', '--protocol', 'seq', '--jobs', '2', '--json']);
    expect(par.code).toBe(0);
    const a = JSON.parse(one.stdout);
    const b = JSON.parse(par.stdout);
    expect([b.schedulesExplored, b.terminalStates, b.complete, b.violation]).toEqual([
      a.schedulesExplored,
      a.terminalStates,
      true,
      null,
    ]);
  }, 60_000);

  it('--jobs 2 splits a random search too, into the single-process violation', async () => {
    const args = ['explore', 'fault-vs-dontneed', '--strategy', 'random', '--seed', '5', '--json'];
    const one = JSON.parse((await hmmsimIn(args)).stdout);
    const par = await hmmsimIn([...args, '--jobs', '2']);
    expect(par.code).toBe(1);
    const b = JSON.parse(par.stdout);
    expect([b.schedulesExplored, b.violation]).toEqual([one.schedulesExplored, one.violation]);
  }, 60_000);

  it('--strategy dpor --preemptions unbounded reports every terminal state', async () => {
    const r = await hmmsimIn([
      'explore',
      'fault-vs-munmap',
      '--strategy',
      'dpor',
      '--preemptions',
      'unbounded',
      '--protocol',
      'seq',
    ]);
    expect(r.code).toBe(0);
    // 63 when memory was one object to dpor's dependency relation (src/explore/footprint_mem.ts)
    expect(r.stdout).toContain('18 schedules explored (all within the bound)');
    expect(r.stdout).toContain('2 distinct terminal states (every schedule ends in one of them)');
    expect(r.stdout).toContain(
      '0 of the schedules ended sleep-set blocked (each equivalent to one run before it)',
    );
  });
});
