import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { runSweep } from '../../src/sweep/index.js';

/** One remote one-byte access (a sweep's page visit) on pcie4-a100: 1 µs + one 128 B line at 25 GB/s. */
const VISIT_US = 1 + 128 / 25_000;

describe('a stream sweep at 0.5x oversubscription with the remote-access term', () => {
  const policies = ['none', 'page', 'uvm', 'kfd', 'block:4'];
  const run = (iterations: number) =>
    runSweep({
      workload: 'stream',
      footprint: 64 * PAGE_SIZE,
      oversubscription: [0.5],
      policies,
      threads: 4,
      iterations,
    }).points;
  const one = run(1);
  const three = run(3);

  it('none is no longer the cheapest: kfd < uvm < block:4 < none < page', () => {
    const order = [...three].sort((x, y) => x.simulatedUs - y.simulatedUs).map((p) => p.policy);
    expect(order).toEqual(['kfd', 'uvm', 'block:4', 'none', 'page']);
  });

  it('none pays one remote access per page visit and iteration; the migrating policies pay once', () => {
    const none1 = one[0]!;
    const none3 = three[0]!;
    expect([none1.counters.remoteAccesses, none3.counters.remoteAccesses]).toEqual([63, 189]);
    expect(none3.costs.remoteAccess).toBeCloseTo(189 * VISIT_US, 3);
    expect(none3.simulatedUs - none1.simulatedUs).toBeCloseTo(126 * VISIT_US, 2);
    for (let i = 1; i < policies.length; i++) {
      expect(three[i]!.costs.remoteAccess).toBe(0);
      expect(three[i]!.simulatedUs).toBe(one[i]!.simulatedUs);
    }
  });
});
