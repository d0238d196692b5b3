/**
 * Sharded and parallel DPOR (src/explore/dpor_shard.ts): the shards of a split search, merged, are
 * the one-process split run (`shard: { index: 0, count: 1 }`) field for field, violation or not,
 * whichever shard holds the violation; the split search finds what plain dpor finds (same checker,
 * same shrunk replay string) and ends in the same terminal states as dfs (the same hashes); merges
 * of different searches are refused; the CLI's --shard/--merge and --jobs print the same result.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DPOR_SPLIT_DEPTH,
  DPOR_SPLIT_DEPTH_UNBOUNDED,
  type ExploreOptions,
  type ExploreResult,
  explore,
  mergeShards,
} from '../../src/index.js';
import { hmmsimIn } from '../cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'hmmsim-dporshard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every shard of a split dpor search of `count` parts. */
function shards(scenario: string, opts: ExploreOptions, count: number): ExploreResult[] {
  return Array.from({ length: count }, (_, index) =>
    explore(scenario, { ...opts, strategy: 'dpor', shard: { index, count } }),
  );
}

/** A result without what differs by design: the shard report and the wall-clock rate. */
function fields(r: ExploreResult): object {
  const { shard: _shard, schedulesPerSecond: _rate, ...rest } = r;
  return rest;
}

describe('split dpor: merged shards equal the one-process split run', () => {
  it('clean (fault-vs-munmap, seq, bound 2): 8 units, 22 schedules; 2, 3 and 5 shards', () => {
    const opts: ExploreOptions = { protocol: 'seq', preemptions: 2 };
    const [one] = shards('fault-vs-munmap', opts, 1);
    expect([DPOR_SPLIT_DEPTH, DPOR_SPLIT_DEPTH_UNBOUNDED]).toEqual([3, 6]);
    expect(one!.shard!.dporSplit!.depth).toBe(3);
    expect(one!.shard!.dporSplit!.units).toBe(8);
    expect([one!.schedulesExplored, one!.terminalStates, one!.complete]).toEqual([22, 2, true]);
    for (const count of [2, 3, 5]) {
      const parts = shards('fault-vs-munmap', opts, count);
      // every shard walks all 8 units and runs only its own
      expect(parts.map((p) => p.shard!.dporSplit!.units)).toEqual(parts.map(() => 8));
      expect(mergeShards([...parts].reverse())).toEqual({
        ...fields(one!),
        schedulesPerSecond: 0,
      });
    }
  });

  it('a violation in several units (kernel-vs-munmap, no-tlb-flush): the lowest unit wins', () => {
    const opts: ExploreOptions = { driver: 'no-tlb-flush', protocol: 'seq' };
    const [one] = shards('kernel-vs-munmap', opts, 1);
    expect([one!.shard!.violationSubtree, one!.schedulesExplored]).toEqual([1, 23]);
    expect(one!.violations).toEqual([
      { ...one!.violations[0], schedules: 1, firstSchedule: 23, allowed: false },
    ]);
    for (const count of [2, 3, 5]) {
      const parts = shards('kernel-vs-munmap', opts, count);
      // each shard stops at its own first violating unit: shard i's is unit i (shard 0's is unit count)
      expect(parts.map((p) => p.shard!.violationSubtree)).toEqual(parts.map((_, i) => i || count));
      // the shard holding unit 1 reports the one-process violation and replay string
      expect(parts[1]!.violation).toEqual(one!.violation);
      expect(fields(mergeShards(parts))).toEqual(fields(one!));
    }
  });

  it('unbounded (fault-vs-munmap, seq): cut at depth 6, 26 schedules in 22 units against plain dpor 18', () => {
    const opts: ExploreOptions = { protocol: 'seq', preemptions: Number.POSITIVE_INFINITY };
    const plain = explore('fault-vs-munmap', { ...opts, strategy: 'dpor' });
    const [one] = shards('fault-vs-munmap', opts, 1);
    expect([plain.schedulesExplored, plain.terminalStates]).toEqual([18, 2]);
    // at depth 3: 19 schedules in 6 units; 32 in 8 when every unit started without sleep sets
    expect(one!.shard!.dporSplit!.depth).toBe(DPOR_SPLIT_DEPTH_UNBOUNDED);
    expect([one!.schedulesExplored, one!.shard!.dporSplit!.units]).toEqual([26, 22]);
    expect([one!.terminalStates, one!.complete]).toEqual([2, true]);
    expect(fields(mergeShards(shards('fault-vs-munmap', opts, 3)))).toEqual(fields(one!));
  });
});

describe('split dpor: sleep-set blocked schedules', () => {
  it('kernel-vs-munmap unbounded (seq): 9 of 42, per unit in each shard, summed by the merge', () => {
    const opts: ExploreOptions = { protocol: 'seq', preemptions: Number.POSITIVE_INFINITY };
    const [one] = shards('kernel-vs-munmap', opts, 1);
    expect([one!.schedulesExplored, one!.sleepBlocked, one!.terminalStates]).toEqual([42, 9, 2]);
    const split = one!.shard!.dporSplit!;
    expect(split.unitSleepBlocked.reduce((n, b) => n + b, 0)).toBe(9);
    expect(split.unitSleepBlocked.length).toBe(split.unitSchedules.length);
    for (const count of [2, 3]) {
      const parts = shards('kernel-vs-munmap', opts, count);
      expect(parts.reduce((n, p) => n + p.sleepBlocked, 0)).toBe(9);
      expect(mergeShards(parts)).toEqual({ ...fields(one!), schedulesPerSecond: 0 });
    }
  });
});

describe('split dpor finds what plain dpor and dfs find', () => {
  // [scenario, driver, protocol]: clean ones and broken variants, small enough for a unit test
  const CASES: Array<[string, string, 'seed' | 'seq']> = [
    ['fault-vs-dontneed', 'correct', 'seed'],
    ['fault-vs-migrate', 'correct', 'seed'],
    ['exit-vs-devaccess', 'correct', 'seq'],
    ['fault-vs-oomreap', 'correct', 'seq'],
    ['migrate-vs-cpufault', 'free-mapped-page', 'seq'],
    ['fault-vs-dontneed', 'ignore-ebusy', 'seq'],
    ['close-vs-cpuread', 'close-keeps-owner', 'seq'],
  ];
  it('the same checker and shrunk replay string, or the same terminal-state count', () => {
    for (const [scenario, driver, protocol] of CASES) {
      const plain = explore(scenario, { strategy: 'dpor', driver, protocol });
      const [split] = shards(scenario, { driver, protocol }, 1);
      expect([scenario, split!.violation?.checker, split!.violation?.replay]).toEqual([
        scenario,
        plain.violation?.checker,
        plain.violation?.replay,
      ]);
      if (plain.violation === null) expect(split!.terminalStates).toBe(plain.terminalStates);
    }
  });

  it('the same terminal-state hashes as dfs, bound 2 and unbounded (seq)', () => {
    for (const preemptions of [2, Number.POSITIVE_INFINITY])
      for (const scenario of ['exit-vs-devaccess', 'fault-vs-munmap', 'fault-vs-oomreap']) {
        const dfs = explore(scenario, { protocol: 'seq', preemptions, shard: { index: 0, count: 1 } });
        const [split] = shards(scenario, { protocol: 'seq', preemptions }, 1);
        expect(split!.shard!.terminalStateHashes).toEqual(dfs.shard!.terminalStateHashes);
        expect(split!.terminalStates).toBeGreaterThan(1);
        expect(split!.schedulesExplored).toBeLessThanOrEqual(dfs.schedulesExplored);
      }
  });
});

describe('merging split dpor shards', () => {
  it('refuses shards of another bound, count, strategy or depth, and a missing one', () => {
    const a = shards('fault-vs-oomreap', { protocol: 'seq' }, 2);
    const bound1 = shards('fault-vs-oomreap', { protocol: 'seq', preemptions: 1 }, 2);
    const three = shards('fault-vs-oomreap', { protocol: 'seq' }, 3);
    const dfs = explore('fault-vs-oomreap', { protocol: 'seq', shard: { index: 1, count: 2 } });
    expect(() => mergeShards([a[0]!, bound1[1]!])).toThrow(/shard 1\/2 is of another search/);
    expect(() => mergeShards([a[0]!, three[1]!])).toThrow(/another search/);
    expect(() => mergeShards([a[0]!, dfs])).toThrow(/another search: .*:dfs:/);
    const deeper = {
      ...a[1]!,
      shard: { ...a[1]!.shard!, dporSplit: { ...a[1]!.shard!.dporSplit!, depth: 4 } },
    };
    expect(() => mergeShards([a[0]!, deeper])).toThrow(/another search/);
    expect(() => mergeShards([a[1]!])).toThrow(/missing shard\(s\) 0\/2/);
    const damaged = {
      ...a[1]!,
      shard: { ...a[1]!.shard!, dporSplit: { ...a[1]!.shard!.dporSplit!, stateUnits: 'x' } },
    };
    expect(() => mergeShards([a[0]!, damaged as unknown as ExploreResult])).toThrow(
      /shard 1\/2 carries no split dpor counts/,
    );
    // a shard from before the sleep-set counts: refused, naming what it lacks
    const { unitSleepBlocked: _blocked, ...older } = a[1]!.shard!.dporSplit!;
    const old = { ...a[1]!, shard: { ...a[1]!.shard!, dporSplit: older } };
    expect(() => mergeShards([a[0]!, old as unknown as ExploreResult])).toThrow(/unitSleepBlocked/);
  });
});

describe('hmmsim explore --strategy dpor --shard / --merge / --jobs', () => {
  const base = ['explore', 'kernel-vs-munmap', '--strategy', 'dpor', '--driver', 'no-tlb-flush', '--json'];

  it('--shard i/n --json documents merge into the --jobs 1 result; mixed runs are refused', async () => {
    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await hmmsimIn([...base, '--shard', `${i}/3`]);
      expect(r.code).toBe(1);
      files.push(join(dir, `d${i}.json`));
      writeFileSync(files[i]!, r.stdout);
    }
    const one = await hmmsimIn([...base, '--jobs', '1']);
    const merged = await hmmsimIn(['explore', '--merge', ...files, '--json']);
    expect([one.code, merged.code]).toEqual([1, 1]);
    const m = JSON.parse(merged.stdout);
    const o = JSON.parse(one.stdout);
    expect({ ...m, schedulesPerSecond: 0 }).toEqual({ ...o, schedulesPerSecond: 0 });
    expect([m.schedulesExplored, m.violation.checker]).toEqual([23, 'coherence']);
    const other = join(dir, 'other.json');
    const doc = JSON.parse(readFileSync(files[2]!, 'utf8'));
    writeFileSync(other, JSON.stringify({ ...doc, preemptions: 1 }));
    const mixed = await hmmsimIn(['explore', '--merge', files[0]!, files[1]!, other]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(
      /^hmmsim: error: --merge: invalid argument 'results': shard 2\/3 is of another search/,
    );
    const text = await hmmsimIn([...base.filter((a) => a !== '--json'), '--shard', '1/3']);
    // shard 1 stops in unit 1, the second it meets
    expect(text.stdout).toContain('shard 1/3 of a split dpor search (2 units, cut at depth 3)');
    const bad = await hmmsimIn([...base, '--shard', '3/3']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/expected <index>\/<count>/)]);
  });

  it('--jobs 2 on worker threads prints what --jobs 1 prints', async () => {
    const args = ['explore', 'fault-vs-oomreap', '--strategy', 'dpor', '--protocol', 'seq', '--json'];
    const one = JSON.parse((await hmmsimIn([...args, '--jobs', '1'])).stdout);
    const two = JSON.parse((await hmmsimIn([...args, '--jobs', '2'])).stdout);
    expect({ ...two, schedulesPerSecond: 0 }).toEqual({ ...one, schedulesPerSecond: 0 });
    expect([one.schedulesExplored, one.terminalStates, one.complete]).toEqual([7, 2, true]);
  }, 60_000);
});
