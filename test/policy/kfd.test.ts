import { describe, expect, it } from 'vitest';
import { type KfdPolicy, kfdMaxRangePages } from '../../src/policy/kfd.js';
import type { FaultBatchInfo } from '../../src/policy/policy.js';
import { parsePolicy } from '../../src/policy/policy.js';
import { policyStats } from '../../src/policy/stats.js';

const PAGE = 4096;
const MiB2 = 512 * PAGE;
/** One VMA [base - 3 pages, base + 700 pages), base 2 MiB aligned. */
const base = 64 * MiB2;
const vma = { start: base - 3 * PAGE, end: base + 700 * PAGE };

function batch(pages: number[], devicePages = 1 << 16): FaultBatchInfo {
  return {
    nowUs: 0,
    faults: pages.map((i) => ({ addr: base + i * PAGE, write: false })),
    devicePages,
    resident: () => false,
    vma: (addr) => (addr >= vma.start && addr < vma.end ? vma : null),
  };
}

describe('KFD SVM (kfd_svm.c)', () => {
  it('XNACK on: the 2^g-page aligned granule around the fault, within its 2 MiB unregistered range', () => {
    const k = parsePolicy('kfd:granularity=4') as KfdPolicy;
    const plan = k.onFaultBatch?.(batch([17, 515]));
    expect(plan?.migrate.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE])).toEqual([
      [16, 32],
      [512, 528],
    ]);
    // Granularity 9 (the default): the granule is the whole range, clipped to the VMA's end at 700.
    const d = parsePolicy('kfd') as KfdPolicy;
    expect(
      d.onFaultBatch?.(batch([600])).migrate.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE]),
    ).toEqual([[512, 700]]);
    // A fault below base is in the previous window, which the VMA starts 3 pages into.
    expect(
      d.onFaultBatch?.(batch([-1])).migrate.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE]),
    ).toEqual([[-3, 0]]);
  });

  it('a registered range is split into max_svm_range_pages pieces (VRAM/32, in [2 MiB, 1 GiB])', () => {
    expect([1024, 1 << 16, 1 << 20, 1 << 24].map(kfdMaxRangePages)).toEqual([512, 2048, 32_768, 262_144]);
    const k = parsePolicy('kfd') as KfdPolicy;
    k.setAttributes(base, base + 4096 * PAGE, { granularity: 12 });
    // 65,536 device pages: pieces of 2048; granule 2^12 clipped to the piece and the VMA.
    expect(
      k.onFaultBatch?.(batch([100])).migrate.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE]),
    ).toEqual([[0, 700]]);
  });

  it('XNACK off: each batch is a queue eviction, a 1 ms restore, and the ranges mapped whole in place', () => {
    const k = parsePolicy('kfd:xnack=off') as KfdPolicy;
    const plan = k.onFaultBatch?.(batch([1, 2, 600]));
    expect(plan?.stall?.us).toBe(1000);
    expect(plan?.migrate).toEqual([]);
    expect(plan?.map?.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE])).toEqual([
      [0, 512],
      [512, 700],
    ]);
    expect(policyStats(k).queueRestores).toBe(1);
  });

  it('XNACK off with the device preferred: the restore migrates the range', () => {
    const k = parsePolicy('kfd:xnack=off,restore_delay_usec=250') as KfdPolicy;
    k.setAttributes(base, base + 512 * PAGE, { preferredLoc: 'gpu' });
    const plan = k.onFaultBatch?.(batch([7]));
    expect(plan?.stall?.us).toBe(250);
    expect(plan?.migrate.map((m) => [(m.start - base) / PAGE, (m.end - base) / PAGE, m.reason])).toEqual([
      [0, 512, "restore: range's preferred location is the device"],
    ]);
  });
});
