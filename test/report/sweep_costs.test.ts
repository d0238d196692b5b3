import { parseHTML } from 'linkedom';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { renderSweepReport } from '../../src/report/sweep.js';
import { runSweep } from '../../src/sweep/index.js';

describe('the sweep report: simulated time by cost term', () => {
  const record = runSweep({
    workload: 'stream',
    footprint: 64 * PAGE_SIZE,
    oversubscription: [1],
    policies: ['none', 'page'],
    iterations: 2,
    threads: 2,
  });
  const { document } = parseHTML(renderSweepReport(record));
  const tables = [...document.querySelectorAll('table')];
  const costs = tables.at(-1)!;
  const cells = (row: { querySelectorAll(s: string): Iterable<{ textContent: string | null }> }) =>
    [...row.querySelectorAll('th, td')].map((c) => c.textContent);

  it('one column per term, remoteAccess last; one row per point with its µs', () => {
    expect(cells(costs.querySelector('thead tr')!)).toEqual([
      'policy',
      'oversub.',
      'faultService µs',
      'dma µs',
      'migrateBookkeeping µs',
      'tlbInvalidate µs',
      'cpuFault µs',
      'ptWalk µs',
      'remoteAccess µs',
    ]);
    const rows = [...costs.querySelectorAll('tbody tr')].map(cells);
    // none: 63 pages, 2 iterations, every visit remote: 126 x (1 µs + 128 B / 25 GB/s) = 126.645 µs.
    expect(record.points[0]!.counters.remoteAccesses).toBe(126);
    expect(rows[0]!.slice(0, 2)).toEqual(['none', '1']);
    expect(rows[0]!.at(-1)).toBe('126.645');
    expect(rows[1]!.slice(0, 2)).toEqual(['page', '1']);
    expect(rows[1]!.at(-1)).toBe('0');
  });
});
