/**
 * Today's test_hmm SNAPSHOT (dmirror_snapshot / dmirror_mkentry, v6.19) through
 * sim.openDevice(n, p, { api: 'modern' }): the exact HMM_DMIRROR_PROT_* byte of every CPU state.
 *
 * Device pages come from MIGRATE_TO_DEV; dmirrorMkentry's unit test uses a hand-made region.
 */

import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../../src/core/addr.js';
import type { TestHmmDmirror } from '../../../src/drivers/test_hmm/dmirror.js';
import { DMIRROR_RANGE_BATCH } from '../../../src/drivers/test_hmm/fault.js';
import { dmirrorMkentry } from '../../../src/drivers/test_hmm/snapshot.js';
import { HMM_PFN_ERROR, HMM_PFN_VALID, HMM_PFN_WRITE } from '../../../src/hmm/modern/index.js';
import {
  type DevPagemap,
  MADV_HUGEPAGE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGETLB,
  MAP_PRIVATE,
  MEMORY_DEVICE_PRIVATE,
  mmItreeSubscriptions,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/mm/index.js';
import type { Process } from '../../../src/sim/process.js';
import { Simulator } from '../../../src/sim/simulator.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const BASE = 0x7e00_0000_0000;

function machine(opts: { hugetlbPages?: number } = {}) {
  const sim = new Simulator({
    ramPages: 2048,
    kernel: 'v6.19',
    devices: [
      { memoryPages: 16 },
      { memoryPages: 16 },
      { memoryPages: 16, kind: 'coherent' },
      { memoryPages: 16, kind: 'coherent' },
    ],
    ...opts,
  });
  const p = sim.createProcess();
  return { sim, p };
}

/** A ZONE_DEVICE region of `type` owned by modern device n; returns its first pfn. */
function deviceRegion(sim: Simulator, n: number, type: number): number {
  const pgmap: DevPagemap = {
    type,
    owner: sim.modernDevice(n),
    pfnFirst: 0,
    pfnLast: 0,
    pageFree() {},
    // biome-ignore lint/correctness/useYield: a snapshot never faults device pages
    *fault() {
      throw new Error('a snapshot must not fault a device page');
    },
  };
  return sim.kernel.mem.store.addDeviceRegion(4, pgmap);
}

/** hmm-tests.c `snapshot` up to the migrations: pages 0..4 in their states, 5 and 6 still none. */
function selftestLayout(p: Process): number {
  const a = p.mmap(7 * PAGE_SIZE, PROT_NONE, ANON);
  p.munmap(a + PAGE_SIZE, PAGE_SIZE);
  p.mprotect(a + 2 * PAGE_SIZE, PAGE_SIZE, PROT_READ);
  expect(p.read(a + 2 * PAGE_SIZE, 4)).toEqual(new Uint8Array(4));
  p.mprotect(a + 3 * PAGE_SIZE, PAGE_SIZE, RW);
  p.write(a + 3 * PAGE_SIZE, Uint8Array.of(3));
  p.mprotect(a + 3 * PAGE_SIZE, PAGE_SIZE, PROT_READ);
  p.mprotect(a + 4 * PAGE_SIZE, 3 * PAGE_SIZE, RW);
  p.write(a + 4 * PAGE_SIZE, Uint8Array.of(3));
  return a;
}

describe('HMM_DMIRROR_SNAPSHOT', () => {
  it('selftest `snapshot`, private devices: FF FF 11 01 02 22 00, cpages 7', () => {
    const { sim, p } = machine();
    const a = selftestLayout(p);
    const fd0 = sim.openDevice(0, p, { api: 'modern' });
    const fd1 = sim.openDevice(1, p, { api: 'modern' });
    expect(fd0.migrate(a + 5 * PAGE_SIZE, 1).cpages).toBe(1);
    expect(fd1.migrate(a + 6 * PAGE_SIZE, 1).cpages).toBe(1);
    const r = fd0.snapshot(a, 7);
    expect(r.cpages).toBe(7);
    expect([...r.prot]).toEqual([0xff, 0xff, 0x11, 0x01, 0x02, 0x22, 0x00]);
    // dev1's page was neither reported to dev0 nor migrated back by the snapshot
    expect(p.pte(a + 6 * PAGE_SIZE).kind).toBe('device-private');
  });

  it('selftest `snapshot`, coherent devices: FF FF 11 01 02 42 52 (coherent pages are ordinary PTEs)', () => {
    const { sim, p } = machine();
    const a = selftestLayout(p);
    const fd2 = sim.openDevice(2, p, { api: 'modern' });
    const fd3 = sim.openDevice(3, p, { api: 'modern' });
    expect(fd2.migrate(a + 5 * PAGE_SIZE, 1).cpages).toBe(1);
    expect(fd3.migrate(a + 6 * PAGE_SIZE, 1).cpages).toBe(1);
    const r = fd2.snapshot(a, 7);
    expect(r.cpages).toBe(7);
    expect([...r.prot]).toEqual([0xff, 0xff, 0x11, 0x01, 0x02, 0x42, 0x52]);
  });

  it('never faults: unpopulated pages read NONE and stay unpopulated; the batch notifiers are removed', () => {
    const { sim, p } = machine();
    const n = 2 * DMIRROR_RANGE_BATCH + 5;
    const a = p.mmap(n * PAGE_SIZE, RW, ANON);
    p.write(a + PAGE_SIZE, Uint8Array.of(1));
    const fd = sim.openDevice(0, p, { api: 'modern' });
    const pgfaults = sim.kernel.counters.get('pgfault');
    const r = fd.snapshot(a, n);
    expect(r.cpages).toBe(n);
    expect([...r.prot]).toEqual(Array.from({ length: n }, (_, i) => (i === 1 ? 0x02 : 0x00)));
    expect(sim.kernel.counters.get('pgfault')).toBe(pgfaults);
    expect(p.pte(a).kind).toBe('none');
    expect(mmItreeSubscriptions(p.mm)?.itree.overlapping(0, 2 ** 47).length).toBe(1);
  });

  it('a THP: WRITE | PMD (0x06); the huge zero page: READ | PMD (0x05), since is_zero_pfn knows only the 4 KiB one', () => {
    const { sim, p } = machine();
    const a = sim.run('mmap', p.task.mmapAt(BASE, 1024 * PAGE_SIZE, RW, ANON | MAP_FIXED));
    p.madvise(a, 1024 * PAGE_SIZE, MADV_HUGEPAGE);
    p.write(a, Uint8Array.of(1));
    p.read(a + 512 * PAGE_SIZE, 1);
    const fd = sim.openDevice(0, p, { api: 'modern' });
    const r = fd.snapshot(a + 510 * PAGE_SIZE, 4);
    expect([...r.prot]).toEqual([0x06, 0x06, 0x05, 0x05]);
  });

  it('selftest `compound` (hugetlb): every byte WRITE | PMD, then READ | PMD after mprotect(READ)', () => {
    const { sim, p } = machine({ hugetlbPages: 1 });
    const a = sim.run('mmap', p.task.mmapAt(BASE, 512 * PAGE_SIZE, RW, ANON | MAP_HUGETLB | MAP_FIXED));
    p.write(a, Uint8Array.of(1));
    const fd = sim.openDevice(0, p, { api: 'modern' });
    expect([...fd.snapshot(a, 512).prot].every((b) => b === 0x06)).toBe(true);
    p.mprotect(a, 512 * PAGE_SIZE, PROT_READ);
    expect([...fd.snapshot(a, 512).prot].every((b) => b === 0x05)).toBe(true);
  });

  it('selftest `mixedmap`: a private VM_MIXEDMAP page reads READ (0x01)', () => {
    const { sim, p } = machine();
    const m = p.mmapSpecial(PAGE_SIZE, RW, 'mixedmap');
    const fd = sim.openDevice(0, p, { api: 'modern' });
    const r = fd.snapshot(m, 1);
    expect([r.cpages, r.prot[0]]).toEqual([1, 0x01]);
  });

  it('dmirror_mkentry: ERROR wins; no VALID is NONE; a foreign private page would be REMOTE', () => {
    const { sim, p } = machine();
    const fd = sim.openDevice(0, p, { api: 'modern' });
    const d = fd.driver as TestHmmDmirror;
    const other = deviceRegion(sim, 1, MEMORY_DEVICE_PRIVATE);
    expect(dmirrorMkentry(d, HMM_PFN_ERROR + HMM_PFN_VALID)).toBe(0xff);
    expect(dmirrorMkentry(d, 42 + HMM_PFN_WRITE)).toBe(0x00);
    expect(dmirrorMkentry(d, other + HMM_PFN_VALID)).toBe(0x31);
    expect(dmirrorMkentry(d, 42 + HMM_PFN_VALID + 18 * 2 ** 42)).toBe(0x09);
  });
});
