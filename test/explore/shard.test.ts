/**
 * Sharded and parallel DFS: the shards of a search, merged, give what one process gives (the same
 * violation and replay string, or the same schedule count and terminal states when clean), for
 * 2, 3 and 5 shards; mergeShards refuses results that are not every shard of one search; and the
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
    // dpor shards a split search (test/explore/dpor-shard.test.ts); pct and random do not shard
    expect(() => explore('fault-vs-munmap', { strategy: 'pct', shard: { index: 0, count: 2 } })).toThrow(
      /only 'dfs' and 'dpor' searches shard/,
    );
    expect(() => explore('fault-vs-munmap', { shard: { index: 2, count: 2 } })).toThrow(/shard/);
    expect(parseShard('3/8')).toEqual({ index: 3, count: 8 });
    expect(() => parseShard('8/8')).toThrow(/expected <index>\/<count>/);
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
  });
});
