/**
 * The explorer on a driver the user writes (examples/explore-driver.ts, the worked example of
 * docs/explorer.md): the correct driver passes, each of its bugs is found, shrunk and replayed.
 */

import { describe, expect, it } from 'vitest';
import { tinyMirror } from '../../examples/explore-driver.js';
import { ExploreDrivers, explore, replay } from '../../src/index.js';

describe('tinymirror, a user-written driver', () => {
  const correct = tinyMirror();

  it("passes every scenario it supports, with 'seq', over every schedule with <= 2 preemptions", () => {
    const counts: Record<string, number> = {};
    for (const name of [
      'fault-vs-munmap',
      'fault-vs-mprotect',
      'fault-vs-dontneed',
      'fault-vs-oomreap',
      'fork-vs-devwrite',
      'exit-vs-devaccess',
    ]) {
      const r = explore(name, { driver: correct, protocol: 'seq' });
      expect(r.violation, name).toBeNull();
      expect(r.complete).toBe(true);
      expect(r.driver).toBe('tinymirror');
      counts[name] = r.schedulesExplored;
    }
    expect(counts).toEqual({
      'fault-vs-munmap': 57,
      'fault-vs-mprotect': 57,
      'fault-vs-dontneed': 57,
      'fault-vs-oomreap': 12,
      'fork-vs-devwrite': 141,
      'exit-vs-devaccess': 32,
    });
  });

  it("'no-valid-check' maps a freed page in fault-vs-dontneed, even with 'seq'", () => {
    const driver = tinyMirror({ bug: 'no-valid-check' });
    const r = explore('fault-vs-dontneed', { driver, protocol: 'seq' });
    const v = r.violation!;
    expect(v.checker).toBe('coherence');
    expect(v.message).toMatch(
      /^dev0 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, a page that is free \(PG_buddy\)/,
    );
    expect(v.preemptions).toBe(1);
    expect(v.replay).toMatch(/^hmmx3:fault-vs-dontneed:tinymirror:seq:1:0\.1\.0:\w+:\d+:hmm1:/);
    const again = replay(v.replay, { driver });
    expect(again.violation?.checker).toBe('coherence');
    expect(again.violation?.message).toBe(v.message);
  });

  it('registered by name in an ExploreDrivers, a bare replay string resolves in that registry only', () => {
    const drivers = new ExploreDrivers();
    drivers.register('tinymirror', tinyMirror({ bug: 'no-valid-check' }));
    const r = explore('fault-vs-dontneed', { driver: 'tinymirror', drivers, protocol: 'seq' });
    expect(r.driver).toBe('tinymirror');
    const v = r.violation!;
    expect(v.checker).toBe('coherence');
    expect(replay(v.replay, { drivers }).violation?.message).toBe(v.message);
    expect(() => replay(v.replay)).toThrow(/unknown driver 'tinymirror'/);
  });

  it("'valid-outside-lock' and 'no-lock-in-sync' break the locking rules, reported where they are broken", () => {
    const early = explore('fault-vs-munmap', { driver: tinyMirror({ bug: 'valid-outside-lock' }) });
    expect(early.violation?.checker).toBe('rules');
    expect(early.violation?.message).toMatch(
      /^dev0: hmm_range_valid\(\) called without the driver's update lock held \[dev0, step \d+, at '.*'\]$/,
    );
    const sync = explore('fault-vs-munmap', { driver: tinyMirror({ bug: 'no-lock-in-sync' }) });
    expect(sync.violation?.checker).toBe('rules');
    expect(sync.violation?.message).toMatch(
      /^dev0: device page-table write \(erase of vpn 0x[0-9a-f]+\) without the driver's update lock held \[munmap, step \d+, at '.*'\]$/,
    );
    expect(sync.violation?.preemptions).toBe(0);
  });

  it('a scenario needing a command the driver lacks is reported, not hidden', () => {
    const r = explore('fault-vs-migrate', { driver: correct, protocol: 'seq' });
    expect(r.violation?.checker).toBe('kernel');
    expect(r.violation?.message).toMatch(/the driver has no migrate command/);
  });
});
