import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { COST_PROFILES, CostModel } from '../../src/device/cost.js';
import { DevicePageTable } from '../../src/device/device_pagetable.js';
import { DEVICE_TLB_WAYS, DeviceTlb, TLB_SINGLE_PAGE_FLUSH_CEILING } from '../../src/device/tlb.js';

describe('DeviceTlb', () => {
  it('hits only with the cached permission; a write to a read-only entry misses', () => {
    const tlb = new DeviceTlb(16);
    expect(tlb.lookup(5, false)).toBe(-1);
    tlb.fill(5, 99, false);
    expect(tlb.lookup(5, false)).toBe(99);
    expect(tlb.lookup(5, true)).toBe(-1);
    tlb.fill(5, 99, true);
    expect(tlb.lookup(5, true)).toBe(99);
    expect([tlb.hits, tlb.misses, tlb.size]).toEqual([2, 2, 1]);
  });

  it('evicts the least recently used way of a full set', () => {
    const tlb = new DeviceTlb(16); // 2 sets of 8 ways: even vpns share set 0
    for (let i = 0; i < DEVICE_TLB_WAYS; i++) tlb.fill(i * 2, 100 + i, false);
    expect(tlb.lookup(0, false)).toBe(100); // 0 is now the most recent
    tlb.fill(16, 200, false); // evicts vpn 2, the least recent
    expect(tlb.lookup(2, false)).toBe(-1);
    expect(tlb.lookup(0, false)).toBe(100);
    expect(tlb.lookup(16, false)).toBe(200);
    expect(tlb.size).toBe(8);
  });

  it('invalidates page by page up to the flush ceiling, and flushes everything above it', () => {
    const tlb = new DeviceTlb(64);
    for (let v = 0; v < 40; v++) tlb.fill(v, v + 1000, true);
    tlb.invalidateRange(0, 3);
    expect([tlb.invalidations, tlb.flushes, tlb.size]).toEqual([1, 0, 37]);
    expect(tlb.lookup(2, false)).toBe(-1);
    expect(tlb.lookup(3, false)).toBe(1003);
    tlb.invalidateRange(3, 3 + TLB_SINGLE_PAGE_FLUSH_CEILING + 1);
    expect([tlb.invalidations, tlb.flushes, tlb.size]).toEqual([1, 1, 0]);
    expect(tlb.cached()).toEqual([]);
  });

  it('an unused TLB (its arrays not yet allocated) misses, flushes and invalidates, then fills', () => {
    const tlb = new DeviceTlb(16);
    expect(tlb.cached()).toEqual([]);
    expect(tlb.invalidateRange(0, 4)).toBe(false);
    tlb.flush();
    expect(tlb.lookup(3, true)).toBe(-1);
    expect([tlb.hits, tlb.misses, tlb.invalidations, tlb.flushes, tlb.size]).toEqual([0, 1, 1, 1, 0]);
    tlb.fill(3, 7, true);
    tlb.fill(11, 8, false); // the same set as vpn 3: a second way
    expect(tlb.cached()).toEqual([
      { vpn: 3, pfn: 7, write: true },
      { vpn: 11, pfn: 8, write: false },
    ]);
    expect(tlb.lookup(3, true)).toBe(7);
  });

  it('rejects a size that is not a positive multiple of the ways, naming tlbEntries', () => {
    expect(() => new DeviceTlb(12)).toThrow(ArgumentError);
    expect(() => new DeviceTlb(0)).toThrow(/tlbEntries/);
  });
});

describe('CostModel', () => {
  it('charges the §7a terms exactly and advances the clock', () => {
    const c = new CostModel('pcie4-a100');
    c.faultBatch(3); // 20 + 3 * 0.5
    c.dmaTransfer(25_000); // 1.5 µs + 25,000 B at 25 GB/s = 1 µs
    c.migrateCall(4); // 2 + 4 * 0.25
    c.tlbInvalidate();
    c.cpuFault();
    c.record('cpu-fault', 1);
    expect(c.costs()).toEqual({
      total: 21.5 + 2.5 + 3 + 3 + 5,
      faultService: 21.5,
      dma: 2.5,
      migrateBookkeeping: 3,
      tlbInvalidate: 3,
      cpuFault: 5,
      ptWalk: 0,
      remoteAccess: 0,
    });
    expect(c.trace).toEqual([{ tUs: 35, kind: 'cpu-fault', pages: 1 }]);
  });

  it('profiles differ by link bandwidth; an unknown one is an ArgumentError naming costProfile', () => {
    expect(COST_PROFILES['pcie3-v100']!.linkGBps).toBe(12);
    expect(COST_PROFILES['pcie5-h100']!.linkGBps).toBe(50);
    const c = new CostModel('pcie3-v100');
    c.dmaTransfer(12_000);
    expect(c.costs().dma).toBe(2.5);
    expect(() => new CostModel('nvlink')).toThrow(/costProfile/);
  });

  it('a device access to system memory: 1 µs round trip plus its 128-byte lines at the link bandwidth', () => {
    const c = new CostModel('pcie4-a100');
    c.remoteAccess(1); // one line: 1 + 128 / 25,000 µs
    c.remoteAccess(4096); // 32 lines: 1 + 4096 / 25,000 µs
    c.remoteAccess(129); // two lines
    expect(c.costs().remoteAccess).toBeCloseTo(3 + (128 + 4096 + 256) / 25_000, 12);
    const gen3 = new CostModel('pcie3-v100');
    gen3.remoteAccess(1536); // 12 lines at 12 GB/s: 1 + 1536 / 12,000 µs = 1.128 µs
    expect(gen3.costs().remoteAccess).toBeCloseTo(1.128, 12);
    expect(gen3.nowUs).toBeCloseTo(1.128, 12);
  });
});

describe('DevicePageTable leaves', () => {
  it('a cleared table gives its leaves to the next tables, which read them empty', () => {
    const a = new DevicePageTable();
    for (let vpn = 0; vpn < 2048; vpn += 3) a.store(vpn, vpn + 7, vpn % 2 === 0);
    expect([a.size, a.pfnOf(3), a.isWritable(6)]).toEqual([683, 10, true]);
    a.clear();
    expect([a.size, a.pfnOf(3), a.erases]).toEqual([0, -1, 683]);
    // the next table (and the cleared one, refilled) start from the recycled leaves: nothing stale
    const b = new DevicePageTable();
    b.store(1, 5, false);
    a.store(513, 9, true);
    expect([b.size, b.pfnOf(1), b.pfnOf(0), b.pfnOf(3), b.pfnOf(2047)]).toEqual([1, 5, -1, -1, -1]);
    expect([a.size, a.pfnOf(513), a.pfnOf(516), a.isWritable(513)]).toEqual([1, 9, -1, true]);
    expect(b.mappings()).toEqual([{ vpn: 1, pfn: 5, write: false }]);
  });
});
