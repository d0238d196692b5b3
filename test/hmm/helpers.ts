/**
 * Shared setup for the HMM mirroring tests: a machine with one process, a recording mirror, a
 * range with a small driver encoding, and hand-made CPU page-table states (device-private,
 * migration, swap and hwpoison entries) that the mm facade cannot produce by itself.
 */

import {
  HMM_PFN_DEVICE_PRIVATE,
  HMM_PFN_ERROR,
  HMM_PFN_NONE,
  HMM_PFN_SPECIAL,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  HmmMirror,
  type HmmMirrorOps,
  HmmRange,
  type HmmRangeInit,
  type HmmUpdate,
  hmmMirrorRegister,
  hmmRangeFault,
  hmmRangeRegister,
  hmmRangeSnapshot,
  hmmRangeUnregister,
} from '../../src/hmm/seed/index.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE, Simulator } from '../../src/index.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_USER,
  allocChargedPage,
  anonVmaPrepare,
  type DevFault,
  type DevPagemap,
  MEMORY_DEVICE_PRIVATE,
  MM_ANONPAGES,
  MM_SWAPENTS,
  type MmStruct,
  pageAddNewAnonRmap,
  pageRemoveRmap,
  pteHiOf,
  pteLoOf,
  ptePfn,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_HWPOISON,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  SWP_SWAPFILE,
  swpEntryLo,
  VM_FAULT_OOM,
  VM_WRITE,
  type Vma,
  vmPageProt,
} from '../../src/mm/index.js';
import type { Task } from '../../src/sched/index.js';

export const PAGE = 4096;
/** 2 MiB and 1 GiB aligned: a fresh PMD span starts here. */
export const BASE = 0x7e00_0000_0000;

// The driver encoding used by most tests: VALID=1, WRITE=2, DEVICE_PRIVATE=4, pfn above bit 6.
export const V = 1;
export const W = 2;
export const DP = 4;
export const ERROR = 8;
export const NONE = 0;
export const SPECIAL = 16;
export const PFN_SHIFT = 6;
export const FLAGS = [V, W, DP];
export const VALUES = [ERROR, NONE, SPECIAL];
/** A value no HMM output can take, to see which entries were left alone. */
export const MARK = 0x3f3f;

/** E(pfn) | cpu flags in the test encoding. */
export function E(pfn: number, cpu = 0): number {
  return pfn * 2 ** PFN_SHIFT + (V | cpu);
}

// sanity: the tables line up with hmm.h's enums
if (
  FLAGS[HMM_PFN_VALID] !== V ||
  FLAGS[HMM_PFN_WRITE] !== W ||
  FLAGS[HMM_PFN_DEVICE_PRIVATE] !== DP ||
  VALUES[HMM_PFN_ERROR] !== ERROR ||
  VALUES[HMM_PFN_NONE] !== NONE ||
  VALUES[HMM_PFN_SPECIAL] !== SPECIAL
) {
  throw new Error('test tables out of order');
}

export interface World {
  sim: Simulator;
  p: ReturnType<Simulator['createProcess']>;
  mm: MmStruct;
}

/** A machine and a process; `stepsMax` bounds each call (a livelock then fails fast with StepLimitError). */
export function world(ramPages = 8192, stepsMax?: number): World {
  const sim = new Simulator({ ramPages, stepsMax });
  const p = sim.createProcess();
  return { sim, p, mm: p.mm };
}

/** mmap at a fixed address. */
export function mapAt(
  w: World,
  addr: number,
  npages: number,
  prot = PROT_READ | PROT_WRITE,
  flags = MAP_PRIVATE | MAP_ANONYMOUS,
): number {
  return w.sim.run('mmap', w.p.task.mmapAt(addr, npages * PAGE, prot, flags | MAP_FIXED));
}

/** CPU store of one byte on each of the given pages. */
export function touch(w: World, addr: number, pages: number[]): void {
  for (const i of pages) w.p.write(addr + i * PAGE, new Uint8Array([i + 1]));
}

export function* withMmapRead<T>(mm: MmStruct, body: () => Task<T>): Task<T> {
  yield* mm.mmapSem.downRead();
  try {
    return yield* body();
  } finally {
    mm.mmapSem.upRead();
  }
}

export function* withMmapWrite<T>(mm: MmStruct, body: () => T): Task<T> {
  yield* mm.mmapSem.downWrite();
  try {
    return body();
  } finally {
    mm.mmapSem.upWrite();
  }
}

export interface Recorder {
  log: string[];
  updates: HmmUpdate[];
}

/** A mirror whose callbacks log `name:sync [start,end) b=blockable` and `name:release`. */
export function recordingMirror(
  name: string,
  rec: Recorder,
  sync?: (m: HmmMirror, u: HmmUpdate) => ReturnType<HmmMirrorOps['syncCpuDevicePagetables']>,
): HmmMirror {
  return new HmmMirror({
    syncCpuDevicePagetables(m, u) {
      rec.log.push(`${name}:sync`);
      rec.updates.push(u);
      return sync ? sync(m, u) : 0;
    },
    release() {
      rec.log.push(`${name}:release`);
    },
  });
}

export function recorder(): Recorder {
  return { log: [], updates: [] };
}

export function registerMirror(w: World, mirror: HmmMirror): number {
  return w.sim.run(
    'hmm_mirror_register',
    withMmapWrite(w.mm, () => hmmMirrorRegister(mirror, w.mm)),
  );
}

export function newRange(npages: number, init: Partial<HmmRangeInit> = {}): HmmRange {
  return new HmmRange({
    pfns: new Float64Array(npages),
    flags: FLAGS,
    values: VALUES,
    pfnShift: PFN_SHIFT,
    ...init,
  });
}

export function registerRange(
  w: World,
  range: HmmRange,
  mirror: HmmMirror,
  start: number,
  end: number,
): number {
  return w.sim.run(
    'hmm_range_register',
    (function* () {
      yield 'hmm_range_register';
      return hmmRangeRegister(range, mirror, start, end, 12);
    })(),
  );
}

export function unregisterRange(w: World, range: HmmRange): void {
  w.sim.run('hmm_range_unregister', hmmRangeUnregister(range));
}

export function snapshot(w: World, range: HmmRange): number {
  return w.sim.run(
    'hmm_range_snapshot',
    withMmapRead(w.mm, () => hmmRangeSnapshot(range)),
  );
}

export function fault(w: World, range: HmmRange, block = true): number {
  return w.sim.run(
    'hmm_range_fault',
    withMmapRead(w.mm, () => hmmRangeFault(range, block)),
  );
}

/** A mirror plus a registered range of npages at addr. */
export function mirrorAndRange(
  w: World,
  addr: number,
  npages: number,
  init: Partial<HmmRangeInit> = {},
): { mirror: HmmMirror; range: HmmRange; rec: Recorder } {
  const rec = recorder();
  const mirror = recordingMirror('m', rec);
  if (registerMirror(w, mirror) !== 0) throw new Error('mirror register failed');
  const range = newRange(npages, init);
  const r = registerRange(w, range, mirror, addr, addr + npages * PAGE);
  if (r !== 0) throw new Error(`range register failed: ${r}`);
  return { mirror, range, rec };
}

/** pfns as a plain array for toEqual. */
export function out(range: HmmRange): number[] {
  return [...range.pfns];
}

// -- hand-made CPU page-table states ----------------------------------------------------------

export function slotOf(w: World, addr: number): number {
  return w.sim.kernel.pt.pteSlotAlloc(w.mm.pgd, addr);
}

export interface StubDevice {
  first: number;
  pgmap: DevPagemap;
  /** Addresses the CPU faulted on (migrate_to_ram calls), with their fault flags. */
  faults: Array<{ address: number; flags: number }>;
  freed: number[];
}

/**
 * A ZONE_DEVICE private region with a stub pgmap: its fault callback "migrates" the page back to a
 * new anonymous RAM page mapped like a write fault would (writable iff the VMA is).
 */
export function stubDevice(w: World, npages = 16): StubDevice {
  const dev: StubDevice = { first: 0, pgmap: undefined as unknown as DevPagemap, faults: [], freed: [] };
  const pgmap: DevPagemap = {
    type: MEMORY_DEVICE_PRIVATE,
    pfnFirst: 0,
    pfnLast: 0,
    pageFree(pfn) {
      dev.freed.push(pfn);
    },
    *fault(vmf: DevFault) {
      const mm = vmf.mm as MmStruct;
      const vma = vmf.vma as Vma;
      dev.faults.push({ address: vmf.address, flags: vmf.flags });
      yield 'stub migrate_to_ram';
      const { pt, mem } = mm.kernel;
      const slot = pt.pteSlot(mm.pgd, vmf.address);
      anonVmaPrepare(mm, vma);
      const pfn = allocChargedPage(mm);
      if (pfn < 0) return VM_FAULT_OOM;
      const dpfn = ptePfn(pt.lo[slot] as number, pt.hi[slot] as number);
      const c = mm.mmCounter(dpfn);
      mm.rss[c] = (mm.rss[c] as number) - 1;
      pageRemoveRmap(mm, dpfn);
      pageAddNewAnonRmap(mm, pfn, vma, vmf.address);
      mm.rss[MM_ANONPAGES] = (mm.rss[MM_ANONPAGES] as number) + 1;
      const rw = vma.flags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
      pt.set(slot, pteLoOf(pfn, vmPageProt(vma.flags) | rw), pteHiOf(pfn));
      mem.putPage(dpfn);
      return 0;
    },
  };
  dev.pgmap = pgmap;
  dev.first = w.sim.kernel.mem.store.addDeviceRegion(npages, pgmap);
  return dev;
}

/** A device-private entry for device page `dpfn` at addr (as migrate_vma would leave it). */
export function setDevicePrivate(w: World, addr: number, dpfn: number, write: boolean): void {
  const { mem } = w.sim.kernel;
  w.sim.kernel.pt.set(
    slotOf(w, addr),
    swpEntryLo(write ? SWP_DEVICE_WRITE : SWP_DEVICE_READ, dpfn),
    pteHiOf(dpfn),
  );
  mem.getPage(dpfn);
  mem.store.mapcount[dpfn] = (mem.store.mapcount[dpfn] as number) + 1;
  const c = w.mm.mmCounter(dpfn);
  w.mm.rss[c] = (w.mm.rss[c] as number) + 1;
}

/** A swapped-out page at addr (the model cannot swap; the entry only stands for that state). */
export function setSwapEntry(w: World, addr: number, offset = 77): void {
  w.sim.kernel.pt.set(slotOf(w, addr), swpEntryLo(SWP_SWAPFILE, offset), pteHiOf(offset));
  w.mm.rss[MM_SWAPENTS] = (w.mm.rss[MM_SWAPENTS] as number) + 1;
}

export function setHwpoison(w: World, addr: number, pfn = 5): void {
  w.sim.kernel.pt.set(slotOf(w, addr), swpEntryLo(SWP_HWPOISON, pfn), pteHiOf(pfn));
}

/**
 * Starts a migration of the page mapped at addr the way try_to_unmap does: lock the page and
 * replace its PTE with a migration entry. Returns the pfn; finishMigration puts it back.
 */
export function startMigration(w: World, addr: number): number {
  const { pt, mem } = w.sim.kernel;
  const slot = slotOf(w, addr);
  const lo = pt.lo[slot] as number;
  const pfn = ptePfn(lo, pt.hi[slot] as number);
  if (!mem.trylockPage(pfn)) throw new Error('page already locked');
  const type = lo & _PAGE_RW ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ;
  pt.set(slot, swpEntryLo(type, pfn), pteHiOf(pfn));
  pageRemoveRmap(w.mm, pfn);
  return pfn;
}

/** remove_migration_ptes + unlock_page: the old page comes back, writable if it was. */
export function finishMigration(w: World, addr: number, pfn: number, write: boolean): void {
  const { pt, mem } = w.sim.kernel;
  const flags = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | (write ? _PAGE_RW | _PAGE_DIRTY : 0);
  pt.set(slotOf(w, addr), pteLoOf(pfn, flags), pteHiOf(pfn));
  mem.store.mapcount[pfn] = (mem.store.mapcount[pfn] as number) + 1;
  mem.unlockPage(pfn);
}
